//! Storage of the case service: sea-orm entities and one transaction per
//! command. Every change writes its audit rows in the same transaction, so
//! nothing changes without a trail.

pub mod entities;

mod accounts;
mod activities;
mod cases;
mod contacts;
pub mod escalation;
mod history;
mod staff;

use chrono::{DateTime, Utc};
use docket_kit::{
    events::outbox::RelayWaker,
    idempotency::{self, Idempotency},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr},
};

pub use self::{
    accounts::{ACCOUNT_FIELDS, AccountCursor, AccountFilter, model_money},
    activities::ActivityCursor,
    cases::{CASE_FIELDS, CaseCursor, CaseFilter, CaseOrder, CaseRecord},
    contacts::{CONTACT_FIELDS, ContactCursor, ContactFilter},
    history::HistoryCursor,
    staff::TeamRecord,
    staff::{NameCursor, STAFF_FIELDS, StaffFilter, TEAM_FIELDS},
};
use crate::{
    domain::Changes,
    error::{Error, Result},
};

/// The case service's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    relay: RelayWaker,
}

impl Store {
    /// A store whose events wait for the relay's next poll.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, relay: RelayWaker::default() }
    }

    /// A store that wakes `relay` after each commit that wrote events.
    pub fn with_relay(db: DatabaseConnection, relay: RelayWaker) -> Self {
        Self { db, relay }
    }

    /// Commits a command's transaction, then tells the relay there is news.
    pub(crate) async fn commit(&self, txn: sea_orm::DatabaseTransaction) -> Result<()> {
        txn.commit().await?;
        self.relay.wake();
        Ok(())
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// A new record id: UUID v7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub use docket_kit::audit::Actor;

/// Appends one audit row per changed field.
pub(crate) async fn write_trail(
    txn: &impl ConnectionTrait,
    record_type: &str,
    record_id: &str,
    by: &Actor<'_>,
    changes: &Changes,
) -> Result<()> {
    Ok(docket_kit::audit::write(txn, record_type, record_id, by, changes).await?)
}

/// The resource an earlier call with this key created, if any; a reused key
/// with a different request is refused.
pub(crate) async fn find_idempotent(
    db: &impl ConnectionTrait,
    scope: &str,
    actor: &str,
    idempotency: &Idempotency,
) -> Result<Option<String>> {
    idempotency::find(db, scope, actor, idempotency).await.map_err(|err| match err {
        idempotency::IdempotencyError::Reused => {
            Error::field("idempotency_key", "was already used with a different request; use a new key for a new request")
        }
        idempotency::IdempotencyError::Database(db) => Error::Database(db),
    })
}

/// Remembers which resource a key created; `Ok(false)` when a concurrent
/// call with the same key won.
pub(crate) async fn remember_idempotent(
    txn: &impl ConnectionTrait,
    scope: &str,
    actor: &str,
    idempotency: &Idempotency,
    resource_id: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    Ok(idempotency::remember(txn, scope, actor, idempotency, resource_id, at).await?)
}

/// An etag is the record's version number as text.
pub fn etag(version: i64) -> String {
    version.to_string()
}

pub(crate) fn stale(what: &str, id: &str, sent: i64, current: i64) -> Error {
    Error::Stale(format!("{what} {id} was changed since it was read (etag {sent}, now {current}); read it again and retry"))
}

/// Case-insensitive "contains" on a column, with LIKE wildcards in the
/// user's text taken literally.
pub(crate) fn contains_ci(column: impl sea_orm::ColumnTrait, text: &str) -> SimpleExpr {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// Whether a row with this id exists.
pub(crate) async fn exists<E>(db: &impl ConnectionTrait, column: E::Column, id: &str) -> Result<bool>
where
    E: EntityTrait,
{
    Ok(E::find().filter(column.eq(id)).one(db).await?.is_some())
}
