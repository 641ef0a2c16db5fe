//! Reading the audit trail of one record, oldest first.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::{Store, accounts::page_end, entities::audit_entry};
use crate::error::Result;

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
        let mut query = audit_entry::Entity::find()
            .filter(audit_entry::Column::RecordId.eq(record_id))
            .filter(audit_entry::Column::RecordType.is_in(types.iter().copied()));
        if let Some(after) = after {
            query = query.filter(audit_entry::Column::Id.gt(after.id));
        }
        // Ids are UUID v7: they sort in the order the rows were written.
        let mut rows = query.order_by_asc(audit_entry::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| HistoryCursor { id: last.id.clone() });
        Ok((rows, next))
    }
}
