//! The JSON shapes of SLA clocks and compliance (the billing service's
//! `CaseSlaService`).

use chrono::{DateTime, Utc};
use docket_proto::billing::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{CasePriority, CaseStatus, reference, time};

wire_enum!(
    /// Where a case stands against an SLA target.
    SlaState => pb::SlaState { OnTrack, AtRisk, Breached, Paused, Met, MetLate, NoTarget }
);
wire_enum!(
    /// The SLA queues a list can show: `at_risk` (past the policy's warning
    /// share of a target) and `breached`.
    SlaQueueState => pb::SlaState { AtRisk, Breached }
);
wire_enum!(
    /// Which target of an SLA.
    SlaTargetKind => pb::SlaTargetKind { FirstResponse, Resolution }
);

/// One target of a case's SLA: first response or resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SlaTargetStatus {
    pub target: Option<SlaTargetKind>,
    pub state: Option<SlaState>,
    pub due_time: Option<DateTime<Utc>>,
    pub warning_time: Option<DateTime<Utc>>,
    /// Business time left until the deadline; negative once breached
    /// (business time since the deadline); 0 when met.
    pub business_seconds_left: i64,
    /// When it was met.
    pub met_time: Option<DateTime<Utc>>,
    /// Whether the warning and breach events have been raised.
    pub warning_raised: bool,
    pub breach_raised: bool,
}

impl From<pb::SlaTargetStatus> for SlaTargetStatus {
    fn from(t: pb::SlaTargetStatus) -> Self {
        Self {
            target: SlaTargetKind::from_proto(t.target),
            state: SlaState::from_proto(t.state),
            due_time: time(t.due_time),
            warning_time: time(t.warning_time),
            business_seconds_left: t.business_seconds_left,
            met_time: time(t.met_time),
            warning_raised: t.warning_raised,
            breach_raised: t.breach_raised,
        }
    }
}

/// Where a case stands against its first-response and resolution targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseSla {
    pub case_id: String,
    pub case_number: String,
    pub account_id: String,
    pub priority: Option<CasePriority>,
    pub status: Option<CaseStatus>,
    /// The contract whose policy applies; `null` when the default policy does.
    pub contract_id: Option<String>,
    /// `null` when no policy applies.
    pub sla_policy_id: Option<String>,
    pub first_response: Option<SlaTargetStatus>,
    pub resolution: Option<SlaTargetStatus>,
    /// The worse of the two open targets.
    pub overall: Option<SlaState>,
    pub evaluated_at: Option<DateTime<Utc>>,
}

impl From<pb::CaseSla> for CaseSla {
    fn from(s: pb::CaseSla) -> Self {
        Self {
            case_id: s.case_id,
            case_number: s.case_number,
            account_id: s.account_id,
            priority: CasePriority::from_proto(s.priority),
            status: CaseStatus::from_proto(s.status),
            contract_id: reference(s.contract_id),
            sla_policy_id: reference(s.sla_policy_id),
            first_response: s.first_response.map(Into::into),
            resolution: s.resolution.map(Into::into),
            overall: SlaState::from_proto(s.overall),
            evaluated_at: time(s.evaluated_at),
        }
    }
}

/// A page of open cases by SLA state, soonest due first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseSlaPage {
    pub cases: Vec<CaseSla>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    pub next_page_token: Option<String>,
}

/// Filters and paging of `GET /sla/cases`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseSlaQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// Any of these overall states now; absent: both queues.
    #[serde(default)]
    pub state: Vec<SlaQueueState>,
    /// Only cases under this contract.
    pub contract_id: Option<String>,
}

impl From<CaseSlaQuery> for pb::ListCaseSlasRequest {
    fn from(q: CaseSlaQuery) -> Self {
        Self {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            states: q.state.into_iter().map(SlaQueueState::to_proto).collect(),
            contract_id: q.contract_id.unwrap_or_default(),
        }
    }
}

/// What `GET /sla/compliance` counts: the cases of one contract or one SLA
/// policy opened in `[period_start, period_end)`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlaComplianceQuery {
    /// Exactly one of `contract_id` and `sla_policy_id`.
    pub contract_id: Option<String>,
    pub sla_policy_id: Option<String>,
    /// Required: cases opened at or after this time (RFC 3339).
    pub period_start: Option<DateTime<Utc>>,
    /// Required: cases opened before this time (RFC 3339).
    pub period_end: Option<DateTime<Utc>>,
}

impl From<SlaComplianceQuery> for pb::GetSlaComplianceRequest {
    fn from(q: SlaComplianceQuery) -> Self {
        Self {
            contract_id: q.contract_id.unwrap_or_default(),
            sla_policy_id: q.sla_policy_id.unwrap_or_default(),
            period_start: q.period_start.map(docket_kit::time::to_proto),
            period_end: q.period_end.map(docket_kit::time::to_proto),
        }
    }
}

/// How one target fared over the cases counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TargetCompliance {
    /// Cases whose target is decided: met, met late, or breached while open.
    pub decided: i64,
    pub met: i64,
    pub missed: i64,
    /// Still open and not yet breached.
    pub open: i64,
    /// `met / decided` in basis points (9500 = 95.00 %); 10000 when nothing was decided.
    pub met_basis_points: i32,
}

impl From<pb::TargetCompliance> for TargetCompliance {
    fn from(t: pb::TargetCompliance) -> Self {
        Self { decided: t.decided, met: t.met, missed: t.missed, open: t.open, met_basis_points: t.met_basis_points }
    }
}

/// The share of cases that met their targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlaCompliance {
    /// Cases opened in the period.
    pub cases: i64,
    pub first_response: Option<TargetCompliance>,
    pub resolution: Option<TargetCompliance>,
}

impl From<pb::SlaCompliance> for SlaCompliance {
    fn from(c: pb::SlaCompliance) -> Self {
        Self { cases: c.cases, first_response: c.first_response.map(Into::into), resolution: c.resolution.map(Into::into) }
    }
}
