//! Reading the audit trail of the settings, a template or an opt-out,
//! oldest first.

use serde::{Deserialize, Serialize};

use super::{Store, entities::audit_entry};
use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryCursor {
    pub id: String,
}

impl Store {
    /// A page of the trail of the record `record_id` of kind `kind` (a
    /// record's `Record::KIND`).
    pub async fn list_history(
        &self,
        kind: &str,
        record_id: &str,
        after: Option<HistoryCursor>,
        limit: u64,
    ) -> Result<(Vec<audit_entry::Model>, Option<HistoryCursor>)> {
        let (rows, next) = docket_kit::audit::list(&self.db, &[kind], record_id, after.map(|c| c.id), limit).await?;
        Ok((rows, next.map(|id| HistoryCursor { id })))
    }
}
