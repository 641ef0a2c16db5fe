//! The case service's commands on its records. Every change goes through
//! the kit's mutation runner, so it writes its audit rows and its events in
//! its own transaction: nothing changes without a trail.

mod accounts;
mod activities;
mod cases;
mod contacts;
pub mod escalation;
mod history;
mod staff;

use docket_kit::{events::outbox::RelayWaker, mutation::Mutations};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr},
};

pub use self::{
    accounts::{AccountCursor, AccountFilter},
    activities::ActivityCursor,
    cases::{CaseCursor, CaseFilter, CaseOrder},
    contacts::{ContactCursor, ContactFilter},
    history::HistoryCursor,
    staff::{NameCursor, StaffFilter},
};
use crate::error::Result;

/// The case service's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Every change goes through here: etag, version, trail, outbox, commit.
    mutations: Mutations,
}

impl Store {
    /// A store whose events wait for the relay's next poll.
    pub fn new(db: DatabaseConnection) -> Self {
        Self::with_relay(db, RelayWaker::default())
    }

    /// A store that wakes `relay` after each commit that wrote events.
    pub fn with_relay(db: DatabaseConnection, relay: RelayWaker) -> Self {
        Self { mutations: Mutations::new(db.clone(), relay, crate::events::SOURCE), db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

pub use docket_kit::audit::Actor;

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
