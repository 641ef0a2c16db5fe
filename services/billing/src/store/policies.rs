//! SLA policies: targets per priority in a business-hours calendar.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use docket_kit::{
    audit::{Actor, Changes},
    mask_fields,
    mutation::{Edit, Once, Tx},
    request::{FieldMask, UpdateTarget},
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{Store, new_id};
use crate::{
    domain::{
        calendar::{Calendar, CalendarError, Interval},
        sla::{SlaPolicy, Targets},
    },
    error::{Error, Result},
    records::entities::sla_policy,
};

/// A policy as stored: validated values, JSON-encoded lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHours {
    /// 1 Monday .. 7 Sunday.
    pub weekday: u8,
    /// Minutes since local midnight.
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTarget {
    /// 1 Low .. 4 Critical.
    pub priority: u8,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFields {
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub working_hours: Vec<StoredHours>,
    pub holidays: Vec<String>,
    pub targets: Vec<StoredTarget>,
    pub pause_while_pending: bool,
    pub warn_at_percent: i32,
    pub is_default: bool,
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

pub fn hours_of(model: &sla_policy::Model) -> Vec<StoredHours> {
    serde_json::from_str(&model.working_hours).unwrap_or_default()
}

pub fn holidays_of(model: &sla_policy::Model) -> Vec<String> {
    serde_json::from_str(&model.holidays).unwrap_or_default()
}

pub fn targets_of(model: &sla_policy::Model) -> Vec<StoredTarget> {
    serde_json::from_str(&model.targets).unwrap_or_default()
}

mask_fields!(
    /// What UpdateSlaPolicy may change.
    pub enum PolicyField {
        Name,
        Description,
        TimeZone,
        WorkingHours,
        Holidays,
        Targets,
        PauseWhilePending,
        WarnAtPercent,
        IsDefault,
    }
);

docket_kit::record_ids!(PolicyId);

/// What UpdateSlaPolicy names: the policy, its etag, the fields.
pub type PolicyUpdate = UpdateTarget<PolicyId, PolicyField>;

fn apply(model: &mut sla_policy::Model, fields: &PolicyFields, mask: &FieldMask<PolicyField>) {
    for field in mask.iter() {
        match field {
            PolicyField::Name => model.name.clone_from(&fields.name),
            PolicyField::Description => model.description.clone_from(&fields.description),
            PolicyField::TimeZone => model.time_zone.clone_from(&fields.time_zone),
            PolicyField::WorkingHours => model.working_hours = json(&fields.working_hours),
            PolicyField::Holidays => model.holidays = json(&fields.holidays),
            PolicyField::Targets => model.targets = json(&fields.targets),
            PolicyField::PauseWhilePending => model.pause_while_pending = fields.pause_while_pending,
            PolicyField::WarnAtPercent => model.warn_at_percent = fields.warn_at_percent,
            PolicyField::IsDefault => model.is_default = fields.is_default,
        }
    }
}

/// The audit text of a policy's fields.
fn trail_of(model: &sla_policy::Model, changes: &mut Changes, old: Option<&sla_policy::Model>) {
    let blank = sla_policy::Model {
        name: String::new(),
        description: String::new(),
        time_zone: String::new(),
        working_hours: String::new(),
        holidays: String::new(),
        targets: String::new(),
        pause_while_pending: false,
        warn_at_percent: 0,
        is_default: false,
        ..model.clone()
    };
    let old = old.unwrap_or(&blank);
    changes.diff("name", &old.name, &model.name);
    changes.diff("description", &old.description, &model.description);
    changes.diff("time_zone", &old.time_zone, &model.time_zone);
    changes.diff("working_hours", &old.working_hours, &model.working_hours);
    changes.diff("holidays", &old.holidays, &model.holidays);
    changes.diff("targets", &old.targets, &model.targets);
    changes.diff("pause_while_pending", old.pause_while_pending, model.pause_while_pending);
    changes.diff("warn_at_percent", old.warn_at_percent, model.warn_at_percent);
    changes.diff("is_default", old.is_default, model.is_default);
}

impl Store {
    pub async fn create_policy(&self, fields: PolicyFields, by: &Actor<'_>, once: Once<'_>) -> Result<sla_policy::Model> {
        self.mutations
            .create(by, once, async |tx| {
                let mut model = sla_policy::Model {
                    id: new_id(),
                    name: String::new(),
                    description: String::new(),
                    time_zone: String::new(),
                    working_hours: "[]".into(),
                    holidays: "[]".into(),
                    targets: "[]".into(),
                    pause_while_pending: false,
                    warn_at_percent: 80,
                    is_default: false,
                    version: 1,
                    created_at: by.at,
                    updated_at: by.at,
                };
                apply(&mut model, &fields, &FieldMask::all());
                if model.is_default {
                    clear_default(&tx).await?;
                }
                let mut changes = Changes::new();
                changes.set("created", "", &model.name);
                trail_of(&model, &mut changes, None);
                Ok((model, changes, Vec::new()))
            })
            .await
    }

    pub async fn get_policy(&self, id: &str) -> Result<sla_policy::Model> {
        sla_policy::Entity::find_by_id(id.to_owned()).one(&self.db).await?.ok_or_else(|| Error::not_found("SLA policy", id))
    }

    /// The policy of cases without a contract, if one is marked default.
    pub async fn default_policy(&self, db: &impl sea_orm::ConnectionTrait) -> Result<Option<sla_policy::Model>> {
        Ok(sla_policy::Entity::find().filter(sla_policy::Column::IsDefault.eq(true)).one(db).await?)
    }

    /// Changes a policy. The SLA clocks of the open cases under it are
    /// recomputed by the scheduler (see `clocks::policy_changed`).
    pub async fn update_policy(&self, target: PolicyUpdate, fields: PolicyFields, by: &Actor<'_>) -> Result<sla_policy::Model> {
        let (fields, mask) = (&fields, &target.mask);
        self.mutations
            .update(
                by,
                &target.id.to_string(),
                Some(target.etag),
                |tx, current: sla_policy::Model| async move {
                    let mut after = current.clone();
                    apply(&mut after, fields, mask);
                    let mut changes = Changes::new();
                    trail_of(&after, &mut changes, Some(&current));
                    if changes.is_empty() {
                        return Ok(Edit { after, changes });
                    }
                    if after.is_default && !current.is_default {
                        clear_default(&tx).await?;
                    }
                    crate::clocks::policy_changed(&*tx, &current.id, by.at).await?;
                    Ok(Edit { after, changes })
                },
                |_, _, _| Vec::new(),
            )
            .await
    }

    pub async fn list_policies(&self, after: Option<(String, String)>, limit: u64) -> Result<Vec<sla_policy::Model>> {
        let mut query = sla_policy::Entity::find();
        if let Some((name, id)) = after {
            query = query.filter(
                Condition::any()
                    .add(sla_policy::Column::Name.gt(name.clone()))
                    .add(Condition::all().add(sla_policy::Column::Name.eq(name)).add(sla_policy::Column::Id.gt(id))),
            );
        }
        Ok(query
            .order_by_asc(sla_policy::Column::Name)
            .order_by_asc(sla_policy::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?)
    }
}

/// Another policy becomes the default: the old one stops being it.
async fn clear_default(tx: &Tx) -> Result<()> {
    let txn: &sea_orm::DatabaseTransaction = tx;
    let previous = sla_policy::Entity::find().filter(sla_policy::Column::IsDefault.eq(true)).all(txn).await?;
    for policy in previous {
        sla_policy::Entity::update_many()
            .col_expr(sla_policy::Column::IsDefault, Expr::value(false))
            .col_expr(sla_policy::Column::Version, Expr::col(sla_policy::Column::Version).add(1))
            .filter(sla_policy::Column::Id.eq(&policy.id))
            .exec(txn)
            .await?;
        let mut changes = Changes::new();
        changes.diff("is_default", true, false);
        tx.trail("sla_policy", &policy.id, &changes).await?;
        crate::clocks::policy_changed(txn, &policy.id, tx.by().at).await?;
    }
    Ok(())
}

/// A weekly calendar from stored hours and holidays.
pub fn calendar_of(hours: &[StoredHours], holidays: &[String], tz: Tz) -> Result<Calendar, CalendarError> {
    let mut weekly: [Vec<Interval>; 7] = Default::default();
    for h in hours {
        weekly[usize::from(h.weekday.clamp(1, 7) - 1)].push(Interval { start: h.start, end: h.end });
    }
    let holidays: BTreeSet<NaiveDate> = holidays.iter().filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).collect();
    Calendar::new(tz, weekly, holidays)
}

/// The stored policy as the domain's rules see it; `None` if it is
/// incomplete (it was validated when saved, so only a damaged row is).
pub fn policy_of(model: &sla_policy::Model) -> Option<SlaPolicy> {
    let tz: Tz = model.time_zone.parse().ok()?;
    let calendar = calendar_of(&hours_of(model), &holidays_of(model), tz).ok()?;
    let targets = targets_of(model);
    let target = |priority: u8| {
        targets.iter().find(|t| t.priority == priority).map(|t| Targets {
            first_response: Duration::minutes(t.first_response_minutes),
            resolution: Duration::minutes(t.resolution_minutes),
        })
    };
    Some(SlaPolicy {
        calendar,
        targets: [target(1)?, target(2)?, target(3)?, target(4)?],
        pause_while_pending: model.pause_while_pending,
        warn_at_percent: u8::try_from(model.warn_at_percent).unwrap_or(80),
    })
}
