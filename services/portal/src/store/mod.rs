//! Storage of the portal service: sea-orm entities and one transaction per
//! command. Every change writes its audit rows, and the events other
//! services need, in the same transaction.

pub mod entities;
mod forms;
mod users;

use docket_kit::{
    events::outbox::RelayWaker,
    idempotency::{self, Idempotency},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use serde::{Deserialize, Serialize};

use self::entities::audit_entry;
pub use self::{
    forms::{FORM_FIELDS, FormCursor, FormRecord, Submitted},
    users::{ContactFacts, Invited, TokenPurpose, UserCursor, UserFilter, state as user_state},
};
use crate::error::{Error, Result};

/// The portal service's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    relay: RelayWaker,
}

impl Store {
    /// A store that wakes `relay` after each commit that wrote events.
    pub fn new(db: DatabaseConnection, relay: RelayWaker) -> Self {
        Self { db, relay }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Commits a command's transaction, then tells the relay there is news.
    async fn commit(&self, txn: DatabaseTransaction) -> Result<()> {
        txn.commit().await?;
        self.relay.wake();
        Ok(())
    }
}

pub use docket_kit::audit::{Actor, Changes as Trail};

/// Appends one audit row per change.
async fn write_trail(
    txn: &impl ConnectionTrait,
    record_type: &str,
    record_id: &str,
    by: &Actor<'_>,
    trail: &Trail,
) -> Result<()> {
    Ok(docket_kit::audit::write(txn, record_type, record_id, by, trail).await?)
}

/// Where the last page of a history ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryCursor {
    pub id: String,
}

impl Store {
    /// The audit rows of one record, oldest first.
    pub async fn list_history(
        &self,
        record_type: &str,
        record_id: &str,
        after: Option<HistoryCursor>,
        limit: u64,
    ) -> Result<(Vec<audit_entry::Model>, Option<HistoryCursor>)> {
        let (rows, next) = docket_kit::audit::list(&self.db, &[record_type], record_id, after.map(|c| c.id), limit).await?;
        Ok((rows, next.map(|id| HistoryCursor { id })))
    }
}

/// Trims a `limit + 1` query to `limit` rows; the last row kept, if more follow.
fn page_end<T>(rows: &mut Vec<T>, limit: u64) -> Option<&T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
    } else {
        None
    }
}

/// A new record id: UUID v7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// An etag is the record's version number as text.
pub fn etag(version: i64) -> String {
    version.to_string()
}

fn stale(what: &str, id: &str, sent: i64, current: i64) -> Error {
    Error::Stale(format!("{what} {id} was changed since it was read (etag {sent}, now {current}); read it again and retry"))
}

/// The resource an earlier call with this key created, if any.
async fn find_idempotent(db: &impl ConnectionTrait, scope: &str, actor: &str, key: &Idempotency) -> Result<Option<String>> {
    idempotency::find(db, scope, actor, key).await.map_err(|err| match err {
        idempotency::IdempotencyError::Reused => {
            Error::field("idempotency_key", "was already used with a different request; use a new key for a new request")
        }
        idempotency::IdempotencyError::Database(db) => Error::Database(db),
    })
}
