//! The SLA clock of every case: a projection of the case service's events
//! (each carries the whole case), kept in `case_clocks`, with the deadlines
//! of both targets and when the scheduler must look again.
//!
//! Events may arrive late, twice or out of order: the consumer's inbox drops
//! repeats, the status log is a set of (time, status) points kept in time
//! order, and the case's other fields come from the newest version seen.

use chrono::{DateTime, Utc};
use docket_kit::events::{
    consumer::{EventHandler, HandlerError, Prepared},
    unpack,
};
use docket_proto::{case::v1 as case_pb, events::v1 as ev, events::v1::Envelope};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect,
    sea_query::{Expr, LockType},
};

use crate::{
    domain::{
        sla::{self, CaseClock, Priority, SlaPolicy, SlaState},
        tracking::{self, Alert, ClockStatus, StatusPoint, TargetPlan},
    },
    records::entities::{case_clock, service_contract, sla_policy},
    store::policy_of,
};

/// The case events the clocks follow.
pub const BINDINGS: &[&str] = &docket_kit::events::CASE_LIFECYCLE;

/// Keeps the clocks from the case service's events.
pub struct ClockKeeper;

#[async_trait::async_trait]
impl EventHandler for ClockKeeper {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, _: Prepared) -> Result<(), HandlerError> {
        let case = match event.r#type.as_str() {
            "case.created" => unpack::<ev::CaseCreated>(event, "docket.events.v1.CaseCreated").map(|p| p.case),
            "case.updated" => unpack::<ev::CaseUpdated>(event, "docket.events.v1.CaseUpdated").map(|p| p.case),
            "case.assigned" => unpack::<ev::CaseAssigned>(event, "docket.events.v1.CaseAssigned").map(|p| p.case),
            "case.status_changed" => unpack::<ev::CaseStatusChanged>(event, "docket.events.v1.CaseStatusChanged").map(|p| p.case),
            "case.closed" => unpack::<ev::CaseClosed>(event, "docket.events.v1.CaseClosed").map(|p| p.case),
            "case.reopened" => unpack::<ev::CaseReopened>(event, "docket.events.v1.CaseReopened").map(|p| p.case),
            "case.activity_added" => unpack::<ev::CaseActivityAdded>(event, "docket.events.v1.CaseActivityAdded").map(|p| p.case),
            // Bound by pattern elsewhere; nothing the clocks need.
            _ => return Ok(()),
        };
        let case = case.map_err(HandlerError::permanent)?.ok_or_else(|| HandlerError::permanent("the event carries no case"))?;
        let snapshot = Snapshot::from_proto(&case).map_err(HandlerError::permanent)?;
        follow(txn, &snapshot, docket_kit::time::now()).await?;
        Ok(())
    }
}

/// What a case event tells the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub case_id: String,
    pub case_number: String,
    pub account_id: String,
    pub contract_id: Option<String>,
    pub priority: Priority,
    pub status: ClockStatus,
    pub status_key: &'static str,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

fn ts(value: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    value.and_then(docket_kit::time::from_proto)
}

impl Snapshot {
    pub fn from_proto(case: &case_pb::Case) -> Result<Self, String> {
        let priority = match case_pb::CasePriority::try_from(case.priority) {
            Ok(case_pb::CasePriority::Low) => Priority::Low,
            Ok(case_pb::CasePriority::Medium) => Priority::Medium,
            Ok(case_pb::CasePriority::High) => Priority::High,
            Ok(case_pb::CasePriority::Critical) => Priority::Critical,
            _ => return Err(format!("case {} has no known priority ({})", case.id, case.priority)),
        };
        let (status, status_key) = match case_pb::CaseStatus::try_from(case.status) {
            Ok(case_pb::CaseStatus::ActiveNew) => (ClockStatus::Active, "active_new"),
            Ok(case_pb::CaseStatus::ActiveAssigned) => (ClockStatus::Active, "active_assigned"),
            Ok(case_pb::CaseStatus::Pending) => (ClockStatus::Pending, "pending"),
            Ok(case_pb::CaseStatus::ClosedComplete) => (ClockStatus::Closed, "closed_complete"),
            Ok(case_pb::CaseStatus::ClosedNoFault) => (ClockStatus::Closed, "closed_no_fault"),
            _ => return Err(format!("case {} has no known status ({})", case.id, case.status)),
        };
        let created_at = ts(case.create_time.as_ref()).ok_or_else(|| format!("case {} has no create_time", case.id))?;
        Ok(Self {
            case_id: case.id.clone(),
            case_number: case.case_number.clone(),
            account_id: case.account_id.clone(),
            contract_id: (!case.service_contract_id.is_empty()).then(|| case.service_contract_id.clone()),
            priority,
            status,
            status_key,
            version: case.etag.parse().unwrap_or(0),
            created_at,
            updated_at: ts(case.update_time.as_ref()).unwrap_or(created_at),
            first_response_at: ts(case.first_response_time.as_ref()),
            closed_at: if status == ClockStatus::Closed { ts(case.closed_time.as_ref()) } else { None },
        })
    }
}

pub fn priority_rank(priority: Priority) -> i16 {
    priority as i16 + 1
}

pub fn priority_of(rank: i16) -> Priority {
    match rank {
        1 => Priority::Low,
        3 => Priority::High,
        4 => Priority::Critical,
        _ => Priority::Medium,
    }
}

pub fn status_log(row: &case_clock::Model) -> Vec<StatusPoint> {
    serde_json::from_str(&row.status_log).unwrap_or_default()
}

/// The domain's view of a clock row.
pub fn case_clock(row: &case_clock::Model) -> CaseClock {
    let (pending, closed) = tracking::spans(&status_log(row));
    CaseClock {
        priority: priority_of(row.priority),
        created_at: row.opened_at,
        // Closing a case ends its first-response clock too.
        first_response_at: row.first_response_at.or(row.closed_at),
        resolved_at: row.closed_at,
        pending,
        closed,
    }
}

/// Where both targets of a clock stand at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub first_response: SlaState,
    pub resolution: SlaState,
}

pub fn evaluate(row: &case_clock::Model, policy: Option<&SlaPolicy>, now: DateTime<Utc>) -> Evaluation {
    let Some(policy) = policy else {
        return Evaluation { first_response: SlaState::NoDeadline, resolution: SlaState::NoDeadline };
    };
    let clock = case_clock(row);
    Evaluation { first_response: sla::first_response(policy, &clock, now), resolution: sla::resolution(policy, &clock, now) }
}

/// The alerts a scheduler pass raises for one clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    pub target: Target,
    pub alert: Alert,
    pub due: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    FirstResponse,
    Resolution,
}

/// Brings a row's deadlines, flags, outcomes and next check up to date at
/// `now`. With `raise`, alerts that are due are marked raised and returned
/// (the scheduler writes their events in the same transaction); without,
/// they stay pending and the row is due for the scheduler now.
pub fn refresh(row: &mut case_clock::Model, policy: Option<&SlaPolicy>, now: DateTime<Utc>, raise: bool) -> Vec<Raised> {
    let evaluation = evaluate(row, policy, now);
    let first = tracking::plan(evaluation.first_response, row.first_response_warned, row.first_response_breached);
    let resolution = tracking::plan(evaluation.resolution, row.resolution_warned, row.resolution_breached);
    let mut raised = Vec::new();
    let mut checks: Vec<DateTime<Utc>> = Vec::new();
    for (target, plan) in [(Target::FirstResponse, &first), (Target::Resolution, &resolution)] {
        if let Some(at) = plan.next_check {
            checks.push(at);
        }
        if plan.alerts.is_empty() {
            continue;
        }
        if raise {
            raised.extend(plan.alerts.iter().map(|alert| Raised { target, alert: *alert, due: plan.due }));
        } else {
            checks.push(now);
        }
    }
    let keep =
        |plan: &TargetPlan, warned: bool, breached: bool| if raise { (plan.warned, plan.breached) } else { (warned, breached) };
    (row.first_response_warned, row.first_response_breached) =
        keep(&first, row.first_response_warned, row.first_response_breached);
    (row.resolution_warned, row.resolution_breached) = keep(&resolution, row.resolution_warned, row.resolution_breached);
    row.first_response_warn_at = first.warn_at;
    row.first_response_due = first.due.filter(|_| !matches!(evaluation.first_response, SlaState::Met | SlaState::MetLate));
    row.resolution_warn_at = resolution.warn_at;
    row.resolution_due = resolution.due;
    row.next_due_at = [row.first_response_due, row.resolution_due].into_iter().flatten().min();
    row.first_response_outcome = first.outcome.key().to_owned();
    row.resolution_outcome = resolution.outcome.key().to_owned();
    row.next_check_at = checks.into_iter().min();
    raised
}

/// The SLA policy of a clock: its contract's, else the default one.
pub async fn resolve_policy(db: &impl ConnectionTrait, contract_id: Option<&str>) -> Result<Option<sla_policy::Model>, DbErr> {
    if let Some(contract_id) = contract_id
        && let Some(contract) = service_contract::Entity::find_by_id(contract_id.to_owned()).one(db).await?
        && let Some(policy_id) = contract.sla_policy_id
        && let Some(policy) = sla_policy::Entity::find_by_id(policy_id).one(db).await?
    {
        return Ok(Some(policy));
    }
    sla_policy::Entity::find().filter(sla_policy::Column::IsDefault.eq(true)).one(db).await
}

async fn lock_clock(txn: &DatabaseTransaction, case_id: &str) -> Result<Option<case_clock::Model>, DbErr> {
    let mut query = case_clock::Entity::find_by_id(case_id.to_owned());
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock(LockType::Update);
    }
    query.one(txn).await
}

/// Applies one case event to its clock.
pub async fn follow(txn: &DatabaseTransaction, snapshot: &Snapshot, now: DateTime<Utc>) -> Result<(), DbErr> {
    let existing = lock_clock(txn, &snapshot.case_id).await?;
    let is_new = existing.is_none();
    let mut row = existing.unwrap_or_else(|| case_clock::Model {
        case_id: snapshot.case_id.clone(),
        case_number: snapshot.case_number.clone(),
        account_id: snapshot.account_id.clone(),
        contract_id: snapshot.contract_id.clone(),
        sla_policy_id: None,
        resolve_policy: true,
        priority: priority_rank(snapshot.priority),
        status: snapshot.status_key.to_owned(),
        case_version: 0,
        opened_at: snapshot.created_at,
        first_response_at: None,
        closed_at: None,
        status_log: "[]".to_owned(),
        first_response_warn_at: None,
        first_response_due: None,
        resolution_warn_at: None,
        resolution_due: None,
        next_due_at: None,
        first_response_warned: false,
        first_response_breached: false,
        resolution_warned: false,
        resolution_breached: false,
        first_response_outcome: "open".to_owned(),
        resolution_outcome: "open".to_owned(),
        next_check_at: None,
        updated_at: now,
    });
    let mut log = status_log(&row);
    if is_new || log.is_empty() {
        // Every case opens active; a case created already closed has its close point too.
        tracking::record(&mut log, StatusPoint { at: snapshot.created_at, status: ClockStatus::Active });
    }
    tracking::record(&mut log, StatusPoint { at: snapshot.updated_at, status: snapshot.status });
    row.status_log = serde_json::to_string(&log).unwrap_or_else(|_| "[]".to_owned());
    if snapshot.version >= row.case_version {
        if row.contract_id != snapshot.contract_id {
            row.resolve_policy = true;
        }
        row.case_version = snapshot.version;
        row.case_number.clone_from(&snapshot.case_number);
        row.account_id.clone_from(&snapshot.account_id);
        row.contract_id.clone_from(&snapshot.contract_id);
        row.priority = priority_rank(snapshot.priority);
        row.status = snapshot.status_key.to_owned();
        row.first_response_at = snapshot.first_response_at;
        row.closed_at = snapshot.closed_at;
    }
    let policy = if row.resolve_policy {
        let policy = resolve_policy(txn, row.contract_id.as_deref()).await?;
        row.sla_policy_id = policy.as_ref().map(|p| p.id.clone());
        row.resolve_policy = false;
        policy
    } else {
        match &row.sla_policy_id {
            Some(id) => sla_policy::Entity::find_by_id(id.clone()).one(txn).await?,
            None => None,
        }
    };
    refresh(&mut row, policy.as_ref().and_then(policy_of).as_ref(), now, false);
    row.updated_at = now;
    if is_new {
        row.into_active_model().reset_all().insert(txn).await?;
    } else {
        row.into_active_model().reset_all().update(txn).await?;
    }
    Ok(())
}

/// A policy changed: its clocks (and those without a policy, in case it
/// became the default) look their policy up again and are due for a check.
pub async fn policy_changed(txn: &impl ConnectionTrait, policy_id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    case_clock::Entity::update_many()
        .col_expr(case_clock::Column::ResolvePolicy, Expr::value(true))
        .col_expr(case_clock::Column::NextCheckAt, Expr::value(now))
        .filter(
            Condition::any().add(case_clock::Column::SlaPolicyId.eq(policy_id)).add(case_clock::Column::SlaPolicyId.is_null()),
        )
        .filter(case_clock::Column::ClosedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// A contract's policy changed: the clocks of its cases look it up again.
pub async fn contract_changed(txn: &impl ConnectionTrait, contract_id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    case_clock::Entity::update_many()
        .col_expr(case_clock::Column::ResolvePolicy, Expr::value(true))
        .col_expr(case_clock::Column::NextCheckAt, Expr::value(now))
        .filter(case_clock::Column::ContractId.eq(contract_id))
        .filter(case_clock::Column::ClosedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
