//! SLA policies: targets per priority in a business-hours calendar.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use docket_kit::{
    audit::{Actor, Changes},
    error::is_unique_violation,
    idempotency::Idempotency,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{Store, entities::sla_policy, find_idempotent, new_id, remember_idempotent, stale, write_trail};
use crate::{
    domain::{
        calendar::{Calendar, CalendarError, Interval},
        sla::{SlaPolicy, Targets},
    },
    error::{Error, Result},
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

fn apply(model: &mut sla_policy::Model, fields: &PolicyFields, mask: &[&str]) {
    for field in mask {
        match *field {
            "name" => model.name.clone_from(&fields.name),
            "description" => model.description.clone_from(&fields.description),
            "time_zone" => model.time_zone.clone_from(&fields.time_zone),
            "working_hours" => model.working_hours = json(&fields.working_hours),
            "holidays" => model.holidays = json(&fields.holidays),
            "targets" => model.targets = json(&fields.targets),
            "pause_while_pending" => model.pause_while_pending = fields.pause_while_pending,
            "warn_at_percent" => model.warn_at_percent = fields.warn_at_percent,
            "is_default" => model.is_default = fields.is_default,
            _ => {}
        }
    }
}

pub const POLICY_FIELDS: &[&str] = &[
    "name",
    "description",
    "time_zone",
    "working_hours",
    "holidays",
    "targets",
    "pause_while_pending",
    "warn_at_percent",
    "is_default",
];

const SCOPE: &str = "CreateSlaPolicy";

fn name_taken(name: &str) -> Error {
    Error::AlreadyExists { field: "policy.name".into(), message: format!("an SLA policy named {name} already exists") }
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
    pub async fn create_policy(
        &self,
        fields: PolicyFields,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<sla_policy::Model> {
        if let Some(id) = find_idempotent(&self.db, SCOPE, by.actor, key).await? {
            return self.get_policy(&id).await;
        }
        let txn = self.db.begin().await?;
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
        apply(&mut model, &fields, POLICY_FIELDS);
        if model.is_default {
            clear_default(&txn, by).await?;
        }
        let model = match model.clone().into_active_model().reset_all().insert(&txn).await {
            Ok(model) => model,
            Err(err) if is_unique_violation(&err) => return Err(name_taken(&model.name)),
            Err(err) => return Err(err.into()),
        };
        let mut changes = Changes::new();
        changes.set("created", "", &model.name);
        trail_of(&model, &mut changes, None);
        write_trail(&txn, "sla_policy", &model.id, by, &changes).await?;
        if !remember_idempotent(&txn, SCOPE, by.actor, key, &model.id, by.at).await? {
            txn.rollback().await?;
            return Box::pin(self.create_policy(fields, by, key)).await;
        }
        self.commit(txn).await?;
        Ok(model)
    }

    pub async fn get_policy(&self, id: &str) -> Result<sla_policy::Model> {
        sla_policy::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("SLA policy {id} not found")))
    }

    /// The policy of cases without a contract, if one is marked default.
    pub async fn default_policy(&self, db: &impl sea_orm::ConnectionTrait) -> Result<Option<sla_policy::Model>> {
        Ok(sla_policy::Entity::find().filter(sla_policy::Column::IsDefault.eq(true)).one(db).await?)
    }

    /// Changes a policy. The SLA clocks of the open cases under it are
    /// recomputed by the scheduler (see `clocks::policy_changed`).
    pub async fn update_policy(
        &self,
        id: &str,
        etag: i64,
        fields: PolicyFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<sla_policy::Model> {
        let txn = self.db.begin().await?;
        let current = sla_policy::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("SLA policy {id} not found")))?;
        if current.version != etag {
            return Err(stale("SLA policy", id, etag, current.version));
        }
        let mut next = current.clone();
        apply(&mut next, &fields, mask);
        if next == current {
            return Ok(current);
        }
        if next.is_default && !current.is_default {
            clear_default(&txn, by).await?;
        }
        next.version += 1;
        next.updated_at = by.at;
        let updated = sla_policy::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(sla_policy::Column::Id.eq(id))
            .filter(sla_policy::Column::Version.eq(current.version))
            .exec(&txn)
            .await;
        match updated {
            Ok(result) if result.rows_affected == 1 => {}
            Ok(_) => return Err(Error::Stale(format!("SLA policy {id} was changed meanwhile; read it again and retry"))),
            Err(err) if is_unique_violation(&err) => return Err(name_taken(&next.name)),
            Err(err) => return Err(err.into()),
        }
        let mut changes = Changes::new();
        trail_of(&next, &mut changes, Some(&current));
        write_trail(&txn, "sla_policy", id, by, &changes).await?;
        crate::clocks::policy_changed(&txn, id, by.at).await?;
        self.commit(txn).await?;
        Ok(next)
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
async fn clear_default(txn: &sea_orm::DatabaseTransaction, by: &Actor<'_>) -> Result<()> {
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
        write_trail(txn, "sla_policy", &policy.id, by, &changes).await?;
        crate::clocks::policy_changed(txn, &policy.id, by.at).await?;
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
