//! Reading the delivery log, newest first. The event handler writes it (in
//! its consumer's transaction) and the mailer works it off.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::{Store, entities::delivery, page_end};
use crate::error::Result;

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub case_id: Option<String>,
    pub recipient: Option<String>,
    /// One of the stored statuses ([`super::PENDING`], ...).
    pub status: Option<&'static str>,
}

/// Where a page of the log ends: the last delivery's creation time (in
/// microseconds) and id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryCursor {
    pub at: i64,
    pub id: String,
}

impl Store {
    /// A page of the log after `after` (a creation time and id, as a
    /// cursor names them); the cursor of the last row when another follows.
    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        after: Option<(DateTime<Utc>, String)>,
        limit: u64,
    ) -> Result<(Vec<delivery::Model>, Option<DeliveryCursor>)> {
        let mut query = delivery::Entity::find();
        if let Some(case_id) = &filter.case_id {
            query = query.filter(delivery::Column::CaseId.eq(case_id.clone()));
        }
        if let Some(recipient) = &filter.recipient {
            query = query.filter(delivery::Column::Recipient.eq(recipient.to_lowercase()));
        }
        if let Some(status) = filter.status {
            query = query.filter(delivery::Column::Status.eq(status));
        }
        if let Some((at, id)) = after {
            query = query.filter(
                Condition::any()
                    .add(delivery::Column::CreatedAt.lt(at))
                    .add(Condition::all().add(delivery::Column::CreatedAt.eq(at)).add(delivery::Column::Id.lt(id))),
            );
        }
        let mut rows = query
            .order_by_desc(delivery::Column::CreatedAt)
            .order_by_desc(delivery::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let next =
            page_end(&mut rows, limit).map(|last| DeliveryCursor { at: last.created_at.timestamp_micros(), id: last.id.clone() });
        Ok((rows, next))
    }
}
