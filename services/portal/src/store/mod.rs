//! The portal service's commands on its records. Every change goes through
//! the kit's mutation runner, so it writes its audit rows and its events in
//! its own transaction: nothing changes without a trail.

mod forms;
mod users;

use docket_kit::{events::outbox::RelayWaker, mutation::Mutations, request::RecordId};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

pub use self::{
    forms::{FormCursor, Submitted},
    users::{ContactFacts, Invited, TokenPurpose, UserCursor, UserFilter},
};
use crate::{error::Result, records::entities::audit_entry};

/// The portal service's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Every change goes through here: etag, version, trail, outbox, commit.
    mutations: Mutations,
}

impl Store {
    /// A store that wakes `relay` after each commit.
    pub fn new(db: DatabaseConnection, relay: RelayWaker) -> Self {
        Self::with_relay(db, relay)
    }

    /// The same as [`Store::new`], named as the other services name it.
    pub fn with_relay(db: DatabaseConnection, relay: RelayWaker) -> Self {
        Self { mutations: Mutations::new(db.clone(), relay, crate::events::SOURCE), db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

pub use docket_kit::audit::{Actor, Changes as Trail};

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
        record_id: impl RecordId,
        after: Option<HistoryCursor>,
        limit: u64,
    ) -> Result<(Vec<audit_entry::Model>, Option<HistoryCursor>)> {
        let (rows, next) =
            docket_kit::audit::list(&self.db, &[record_type], &record_id.to_string(), after.map(|c| c.id), limit).await?;
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
