//! Reading the audit trail of one record, oldest first.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;
use crate::records::entities::audit_entry;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryCursor {
    pub id: String,
}

impl Store {
    /// The trail rows of `record_id` whose record type is one of `types`.
    pub async fn list_history(
        &self,
        types: &[&str],
        record_id: &str,
        after: Option<HistoryCursor>,
        limit: u64,
    ) -> Result<(Vec<audit_entry::Model>, Option<HistoryCursor>)> {
        let (rows, next) = docket_kit::audit::list(&self.db, types, record_id, after.map(|c| c.id), limit).await?;
        Ok((rows, next.map(|id| HistoryCursor { id })))
    }
}
