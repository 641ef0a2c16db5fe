//! Storage of the billing service: sea-orm entities and one transaction per
//! command. Every change writes its audit rows and its events in the same
//! transaction.

pub mod clocks;
pub mod contracts;
pub mod entities;
pub mod invoices;
pub mod policies;
pub mod timesheets;
pub mod work;

use chrono::{DateTime, Utc};
use docket_kit::{
    audit::{Actor, Changes},
    events::{envelope, outbox, outbox::RelayWaker, pack},
    idempotency::{self, Idempotency},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};

pub use self::{
    contracts::{CONTRACT_FIELDS, ContractFields, ContractFilter, ContractRecord, NewSubContract},
    policies::{POLICY_FIELDS, PolicyFields, StoredHours, StoredTarget, holidays_of, hours_of, policy_of, targets_of},
};
use crate::error::{Error, Result};

/// The `source` of every event this service writes.
pub const SOURCE: &str = "billing";

/// The billing service's database. Cheap to clone.
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

    /// A store that wakes `relay` after each commit.
    pub fn with_relay(db: DatabaseConnection, relay: RelayWaker) -> Self {
        Self { db, relay }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Commits a command's transaction, then tells the relay there is news.
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> Result<()> {
        txn.commit().await?;
        self.relay.wake();
        Ok(())
    }
}

/// A new record id: UUID v7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

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

/// Writes an event to the outbox, in the transaction of its change.
pub(crate) async fn write_event(
    txn: &impl ConnectionTrait,
    event_type: &str,
    subject: &str,
    by: &Actor<'_>,
    payload_name: &str,
    payload: &impl prost::Message,
) -> Result<()> {
    let envelope = envelope(SOURCE, event_type, subject, by.actor, by.at, pack(payload_name, payload));
    outbox::append(txn, &envelope).await?;
    Ok(())
}

/// The record an earlier call with this key created, if any.
pub(crate) async fn find_idempotent(
    db: &impl ConnectionTrait,
    scope: &str,
    actor: &str,
    key: Option<&Idempotency>,
) -> Result<Option<String>> {
    match key {
        Some(key) => Ok(idempotency::find(db, scope, actor, key).await?),
        None => Ok(None),
    }
}

/// Remembers which record a key created; `Ok(false)` when a concurrent call
/// with the same key won (roll back and answer with its record).
pub(crate) async fn remember_idempotent(
    txn: &impl ConnectionTrait,
    scope: &str,
    actor: &str,
    key: Option<&Idempotency>,
    resource_id: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    match key {
        Some(key) => Ok(idempotency::remember(txn, scope, actor, key, resource_id, at).await?),
        None => Ok(true),
    }
}

pub(crate) fn stale(what: &str, id: &str, sent: i64, current: i64) -> Error {
    Error::Stale(format!("{what} {id} was changed since it was read (etag {sent}, now {current}); read it again and retry"))
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
