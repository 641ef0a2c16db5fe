//! `docket.billing.v1.CaseSlaService`: where cases stand against their SLA.

use chrono::{DateTime, Utc};
use docket_kit::{auth::caller, error::FieldViolations, page, time};
use docket_proto::{
    billing::v1::{self as pb, case_sla_service_server::CaseSlaService},
    case::v1 as case_pb,
};
use tonic::{Request, Response, Status};

use super::priority_to_proto;
use crate::{
    clients::CaseClients,
    clocks::{self, Snapshot},
    domain::sla::{SlaPolicy, SlaState},
    error::Error,
    records::entities::case_clock,
    store::{
        Store,
        clocks::{ComplianceScope, DueCursor, SlaQueue, TargetCounts},
    },
};

pub struct CaseSlaApi {
    store: Store,
    clients: CaseClients,
}

impl CaseSlaApi {
    pub fn new(store: Store, clients: CaseClients) -> Self {
        Self { store, clients }
    }
}

fn state_to_proto(state: &SlaState) -> pb::SlaState {
    match state {
        SlaState::OnTrack { .. } => pb::SlaState::OnTrack,
        SlaState::AtRisk { .. } => pb::SlaState::AtRisk,
        SlaState::Breached { .. } => pb::SlaState::Breached,
        SlaState::Paused { .. } => pb::SlaState::Paused,
        SlaState::Met => pb::SlaState::Met,
        SlaState::MetLate => pb::SlaState::MetLate,
        SlaState::NoDeadline => pb::SlaState::NoTarget,
    }
}

/// How bad a state is, for the overall state of a case: the worst open target.
fn severity(state: pb::SlaState) -> u8 {
    match state {
        pb::SlaState::Breached => 6,
        pb::SlaState::AtRisk => 5,
        pb::SlaState::Paused => 4,
        pb::SlaState::OnTrack => 3,
        pb::SlaState::MetLate => 2,
        pb::SlaState::Met => 1,
        pb::SlaState::NoTarget | pb::SlaState::Unspecified => 0,
    }
}

fn status_of(key: &str) -> case_pb::CaseStatus {
    match key {
        "active_new" => case_pb::CaseStatus::ActiveNew,
        "active_assigned" => case_pb::CaseStatus::ActiveAssigned,
        "pending" => case_pb::CaseStatus::Pending,
        "closed_complete" => case_pb::CaseStatus::ClosedComplete,
        "closed_no_fault" => case_pb::CaseStatus::ClosedNoFault,
        _ => case_pb::CaseStatus::Unspecified,
    }
}

fn target_to_proto(
    kind: pb::SlaTargetKind,
    state: SlaState,
    policy: Option<&SlaPolicy>,
    warned: bool,
    breached: bool,
    met_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> pb::SlaTargetStatus {
    let business = |from: DateTime<Utc>, to: DateTime<Utc>| policy.map_or(0, |p| p.calendar.between(from, to).num_seconds());
    let (due, warning, left) = match state {
        SlaState::OnTrack { warn_at, due } | SlaState::AtRisk { warn_at, due } => (Some(due), Some(warn_at), business(now, due)),
        SlaState::Breached { due } => (Some(due), None, -business(due, now)),
        SlaState::Paused { left } => (None, None, left.num_seconds()),
        SlaState::Met | SlaState::MetLate | SlaState::NoDeadline => (None, None, 0),
    };
    pb::SlaTargetStatus {
        target: kind as i32,
        state: state_to_proto(&state) as i32,
        due_time: time::to_proto_opt(due),
        warning_time: time::to_proto_opt(warning),
        business_seconds_left: left,
        met_time: if matches!(state, SlaState::Met | SlaState::MetLate) { time::to_proto_opt(met_at) } else { None },
        warning_raised: warned,
        breach_raised: breached,
    }
}

fn clock_to_proto(row: &case_clock::Model, policy: Option<&SlaPolicy>, now: DateTime<Utc>) -> pb::CaseSla {
    let evaluation = clocks::evaluate(row, policy, now);
    // A row per target: its kind, its state, whether a warning and a breach were raised, when it was met.
    let [first_response, resolution] = [
        (
            pb::SlaTargetKind::FirstResponse,
            evaluation.first_response,
            row.first_response_warned,
            row.first_response_breached,
            row.first_response_at.or(row.closed_at),
        ),
        (pb::SlaTargetKind::Resolution, evaluation.resolution, row.resolution_warned, row.resolution_breached, row.closed_at),
    ]
    .map(|(kind, state, warned, breached, met_at)| target_to_proto(kind, state, policy, warned, breached, met_at, now));
    let overall = [first_response.state(), resolution.state()].into_iter().max_by_key(|s| severity(*s)).unwrap_or_default();
    pb::CaseSla {
        case_id: row.case_id.clone(),
        case_number: row.case_number.clone(),
        account_id: row.account_id.clone(),
        priority: priority_to_proto(clocks::priority_of(row.priority)) as i32,
        status: status_of(&row.status) as i32,
        contract_id: row.contract_id.clone().unwrap_or_default(),
        sla_policy_id: if policy.is_some() { row.sla_policy_id.clone().unwrap_or_default() } else { String::new() },
        first_response: Some(first_response),
        resolution: Some(resolution),
        overall: overall as i32,
        evaluated_at: Some(time::to_proto(now)),
    }
}

fn counts_to_proto(counts: TargetCounts) -> pb::TargetCompliance {
    let decided = counts.met + counts.missed;
    // Integer basis points, rounded down: 9999 never shows as 100 %.
    let met_basis_points = if decided == 0 { 10_000 } else { i32::try_from(counts.met * 10_000 / decided).unwrap_or(0) };
    pb::TargetCompliance { decided, met: counts.met, missed: counts.missed, open: counts.open, met_basis_points }
}

#[tonic::async_trait]
impl CaseSlaService for CaseSlaApi {
    async fn get_case_sla(&self, request: Request<pb::GetCaseSlaRequest>) -> Result<Response<pb::CaseSla>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let case_id = violations.id_text("case_id", &request.get_ref().case_id);
        violations.into_result()?;
        let now = time::now();
        let (row, policy) = match self.store.case_clock(&case_id).await? {
            Some(found) => found,
            None => {
                // Its events are still on the way: compute from the case itself.
                let case = self.clients.case("case_id", &case_id).await.map_err(|err| match err {
                    Error::Invalid(_) => Error::NotFound(format!("case {case_id} not found")),
                    other => other,
                })?;
                let snapshot = Snapshot::from_proto(&case).map_err(Error::Unavailable)?;
                self.store.provisional_clock(&snapshot, now).await?
            }
        };
        Ok(Response::new(clock_to_proto(&row, policy.as_ref(), now)))
    }

    async fn list_case_slas(
        &self,
        request: Request<pb::ListCaseSlasRequest>,
    ) -> Result<Response<pb::ListCaseSlasResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<DueCursor> = page::decode(&mut violations, &request.page_token);
        let (mut at_risk, mut breached) = (request.states.is_empty(), request.states.is_empty());
        for (i, raw) in request.states.iter().enumerate() {
            match pb::SlaState::try_from(*raw) {
                Ok(pb::SlaState::AtRisk) => at_risk = true,
                Ok(pb::SlaState::Breached) => breached = true,
                _ => violations.add(format!("states[{i}]"), "only AT_RISK and BREACHED can be listed"),
            }
        }
        let contract_id = violations.opt_id_text("contract_id", &request.contract_id);
        violations.into_result()?;
        let queue = match (at_risk, breached) {
            (true, false) => SlaQueue::AtRisk,
            (false, true) => SlaQueue::Breached,
            _ => SlaQueue::Both,
        };
        let now = time::now();
        let (rows, next) = self.store.list_case_slas(queue, contract_id.as_deref(), now, after, limit).await?;
        Ok(Response::new(pb::ListCaseSlasResponse {
            cases: rows.iter().map(|(row, policy)| clock_to_proto(row, policy.as_ref(), now)).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
        }))
    }

    async fn get_sla_compliance(
        &self,
        request: Request<pb::GetSlaComplianceRequest>,
    ) -> Result<Response<pb::SlaCompliance>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let contract_id = violations.opt_id_text("contract_id", &request.contract_id);
        let policy_id = violations.opt_id_text("sla_policy_id", &request.sla_policy_id);
        let scope = match (contract_id, policy_id) {
            (Some(id), None) => Some(ComplianceScope::Contract(id)),
            (None, Some(id)) => Some(ComplianceScope::Policy(id)),
            (Some(_), Some(_)) => {
                violations.add("sla_policy_id", "send contract_id or sla_policy_id, not both");
                None
            }
            (None, None) => {
                if violations.is_empty() {
                    violations.add("contract_id", "send contract_id or sla_policy_id");
                }
                None
            }
        };
        let mut bound = |field: &str, ts: Option<&prost_types::Timestamp>| match ts {
            None => {
                violations.add(field, "is required");
                None
            }
            Some(ts) => time::from_proto(ts).or_else(|| {
                violations.add(field, "is not a valid timestamp");
                None
            }),
        };
        let from = bound("period_start", request.period_start.as_ref());
        let to = bound("period_end", request.period_end.as_ref());
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            violations.add("period_end", "must be after period_start");
        }
        violations.into_result()?;
        // Refused above when missing: the placeholders are never used.
        let scope = scope.unwrap_or(ComplianceScope::Contract(String::new()));
        let (from, to) = (from.unwrap_or_default(), to.unwrap_or_default());
        let compliance = self.store.compliance(&scope, from, to).await?;
        Ok(Response::new(pb::SlaCompliance {
            cases: compliance.cases,
            first_response: Some(counts_to_proto(compliance.first_response)),
            resolution: Some(counts_to_proto(compliance.resolution)),
        }))
    }
}
