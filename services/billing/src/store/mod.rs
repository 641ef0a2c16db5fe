//! The billing service's commands on its records. Every change goes through
//! the kit's mutation runner, so it writes its audit rows and its events in
//! its own transaction.

pub mod clocks;
pub mod contracts;
pub mod invoices;
pub mod policies;
pub mod timesheets;
pub mod work;

use docket_kit::{events::outbox::RelayWaker, mutation::Mutations};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

pub use self::{
    contracts::{ContractFields, ContractFilter, NewSubContract},
    policies::{PolicyFields, StoredHours, StoredTarget, holidays_of, hours_of, policy_of, targets_of},
};

/// The `source` of every event this service writes.
pub const SOURCE: &str = "billing";

/// The billing service's database. Cheap to clone.
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

    /// A store that wakes `relay` after each commit.
    pub fn with_relay(db: DatabaseConnection, relay: RelayWaker) -> Self {
        Self { mutations: Mutations::new(db.clone(), relay, SOURCE), db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// A new record id: UUID v7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Where a page of records in id order ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdCursor {
    pub id: String,
}

/// Cuts a page of `limit` rows from `rows` (read with `limit + 1`); the last
/// row kept when another page follows.
pub(crate) fn page_end<T>(rows: &mut Vec<T>, limit: u64) -> Option<&T> {
    if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last()
    } else {
        None
    }
}
