//! Activities on a case: notes, calls and emails, in the order they happened.

use docket_kit::{
    audit,
    mutation::{Once, Record as _},
    request::RecordId,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{Actor, Store};
use crate::{
    domain::{
        ActivityId, CaseId, Changes,
        commands::{Idempotency, NewActivity},
        is_staff_reply,
    },
    error::{Error, Result},
    events,
    records::{
        CaseKey, CaseRecord,
        entities::{case, case_activity},
        load_case,
    },
};
use docket_kit::page::page_end;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityCursor {
    pub sequence: i64,
    /// The page was read newest first (absent in tokens of the oldest-first order).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub newest_first: bool,
}

/// Where a list of status changes, newest first, stopped: the id of the
/// last trail row returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusChangeCursor {
    pub before: String,
}

impl Store {
    /// Adds an activity. The first public reply by staff sets the case's
    /// first-response time.
    pub async fn add_activity(
        &self,
        new: NewActivity,
        by_staff: bool,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<case_activity::Model> {
        let case_id = new.case_id.to_string();
        self.mutations
            .run_once(
                by,
                Once { scope: "AddActivity", key: idempotency },
                async |tx| {
                    // Touching the case first locks its row until commit, so concurrent
                    // activities on one case get consecutive sequence numbers.
                    let touched = case::Entity::update_many()
                        .col_expr(case::Column::Version, Expr::col(case::Column::Version).add(1))
                        // The kept links stay current if they were (they are not touched).
                        .col_expr(
                            case::Column::LinksVersion,
                            Expr::cust("CASE WHEN links_version = version THEN version + 1 ELSE links_version END"),
                        )
                        .col_expr(case::Column::UpdatedAt, Expr::value(by.at))
                        .filter(case::Column::Id.eq(case_id.clone()))
                        .exec(&*tx)
                        .await?;
                    if touched.rows_affected == 0 {
                        return Err(Error::field("activity.case_id", format!("no case has the id {case_id}")));
                    }
                    let case = case::Entity::find_by_id(case_id.clone())
                        .one(&*tx)
                        .await?
                        .ok_or_else(|| Error::not_found("case", &case_id))?;
                    let last = case_activity::Entity::find()
                        .filter(case_activity::Column::CaseId.eq(case_id.clone()))
                        .order_by_desc(case_activity::Column::Sequence)
                        .one(&*tx)
                        .await?;
                    let activity = case_activity::Model {
                        id: ActivityId::generate().to_string(),
                        case_id: case_id.clone(),
                        sequence: last.map_or(1, |a| a.sequence + 1),
                        kind: new.kind.key().to_owned(),
                        visibility: new.visibility.key().to_owned(),
                        author: by.actor.to_owned(),
                        body: new.body.clone(),
                        direction: new.direction.key().to_owned(),
                        call_duration_seconds: new.call_duration_seconds,
                        email_from: new.email_from.clone(),
                        email_to: new.email_to.join("\n"),
                        email_subject: new.email_subject.clone(),
                        created_at: by.at,
                    }
                    .into_active_model()
                    .reset_all()
                    .insert(&*tx)
                    .await?;

                    let mut changes = Changes::new();
                    changes.set(
                        "activity_added",
                        "",
                        format!("{} {} #{}", new.visibility.key(), new.kind.key(), activity.sequence),
                    );
                    if case.first_response_at.is_none() && is_staff_reply(new.kind, new.visibility, new.direction, by_staff) {
                        case::Entity::update_many()
                            .col_expr(case::Column::FirstResponseAt, Expr::value(Some(by.at)))
                            .filter(case::Column::Id.eq(case.id.clone()))
                            .exec(&*tx)
                            .await?;
                        changes.set("first_response_time", "", by.at.to_rfc3339());
                    }
                    let record =
                        load_case(&*tx, CaseKey::Id(&case.id)).await?.ok_or_else(|| Error::not_found("case", &case.id))?;
                    tx.note_saved(CaseRecord::KIND, &record.case.id, record.case.version);
                    tx.record("case", &case.id, &changes, [events::activity_added(&record, &activity)]).await?;
                    Ok(activity)
                },
                |activity| &activity.id,
                |id| async move { self.get_activity(&id).await },
            )
            .await
    }

    pub async fn get_activity(&self, id: &str) -> Result<case_activity::Model> {
        case_activity::Entity::find_by_id(id.to_owned()).one(&self.db).await?.ok_or_else(|| Error::not_found("activity", id))
    }

    pub async fn list_activities(
        &self,
        case_id: CaseId,
        public_only: bool,
        newest_first: bool,
        after: Option<ActivityCursor>,
        limit: u64,
    ) -> Result<(Vec<case_activity::Model>, Option<ActivityCursor>)> {
        if case::Entity::find_by_id(case_id.to_string()).one(&self.db).await?.is_none() {
            return Err(Error::not_found("case", case_id));
        }
        let mut query = case_activity::Entity::find().filter(case_activity::Column::CaseId.eq(case_id.to_string()));
        if public_only {
            query = query.filter(case_activity::Column::Visibility.eq("public"));
        }
        if let Some(after) = after {
            if after.newest_first != newest_first {
                return Err(Error::field("page_token", "is not a page token returned by this list call"));
            }
            query = if newest_first {
                query.filter(case_activity::Column::Sequence.lt(after.sequence))
            } else {
                query.filter(case_activity::Column::Sequence.gt(after.sequence))
            };
        }
        query = if newest_first {
            query.order_by_desc(case_activity::Column::Sequence)
        } else {
            query.order_by_asc(case_activity::Column::Sequence)
        };
        let mut rows = query.limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| ActivityCursor { sequence: last.sequence, newest_first });
        Ok((rows, next))
    }

    /// A page of the case's status changes, newest first, before the trail
    /// row `before`: rows of its `status` field, without its creation (no
    /// old value). Read from the trail with that filter, so a page costs
    /// its own rows only, however long the rest of the trail is.
    pub async fn list_status_changes(
        &self,
        case_id: CaseId,
        before: Option<StatusChangeCursor>,
        limit: u64,
    ) -> Result<(Vec<audit::entity::Model>, Option<StatusChangeCursor>)> {
        if case::Entity::find_by_id(case_id.to_string()).one(&self.db).await?.is_none() {
            return Err(Error::not_found("case", case_id));
        }
        let mut query = audit::entity::Entity::find()
            .filter(audit::entity::Column::RecordType.eq("case"))
            .filter(audit::entity::Column::RecordId.eq(case_id.to_string()))
            .filter(audit::entity::Column::Field.eq("status"))
            .filter(audit::entity::Column::OldValue.ne(""));
        if let Some(before) = before {
            query = query.filter(audit::entity::Column::Id.lt(before.before));
        }
        let mut rows = query.order_by_desc(audit::entity::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| StatusChangeCursor { before: last.id.clone() });
        Ok((rows, next))
    }
}
