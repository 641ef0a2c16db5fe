//! `docket.billing.v1.SlaPolicyService`.

use docket_kit::mutation::Once;
use std::collections::BTreeSet;

use chrono::NaiveDate;
use chrono_tz::Tz;
use docket_kit::{
    auth::caller,
    error::{FieldViolations, invalid_argument},
    page,
    request::{FieldMask, wanted},
    time,
};
use docket_proto::{
    billing::v1::{self as pb, sla_policy_service_server::SlaPolicyService},
    case::v1::CasePriority,
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use super::{actor, priority_from_proto};
use crate::{
    domain::sla::{CaseClock, Priority, SlaState, first_response, resolution},
    records::entities::sla_policy,
    store::{
        PolicyFields, Store, StoredHours, StoredTarget, holidays_of, hours_of,
        policies::{PolicyField, calendar_of},
        policy_of, targets_of,
    },
};

pub struct SlaPolicyApi {
    store: Store,
}

impl SlaPolicyApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// "HH:MM" (00:00 to 24:00) as minutes since midnight.
fn clock_minutes(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 24 * 60).then_some(minutes)
}

fn clock_text(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Validates the fields a create sets (`mask: None`) or an update changes.
fn parse_fields(violations: &mut FieldViolations, policy: &pb::SlaPolicy, mask: Option<&FieldMask<PolicyField>>) -> PolicyFields {
    let mut fields = PolicyFields {
        name: String::new(),
        description: String::new(),
        time_zone: String::new(),
        working_hours: Vec::new(),
        holidays: Vec::new(),
        targets: Vec::new(),
        pause_while_pending: policy.pause_while_pending,
        warn_at_percent: policy.warn_at_percent,
        is_default: policy.is_default,
    };
    if wanted(mask, PolicyField::Name) {
        fields.name = violations.required_text("policy.name", &policy.name, 200);
    }
    if wanted(mask, PolicyField::Description) {
        fields.description = violations.optional_text("policy.description", &policy.description, 5_000);
    }
    if wanted(mask, PolicyField::TimeZone) {
        fields.time_zone = policy.time_zone.trim().to_owned();
        if fields.time_zone.parse::<Tz>().is_err() {
            violations.add(
                "policy.time_zone",
                format!(
                    "`{}` is not an IANA time zone, e.g. Europe/Berlin",
                    fields.time_zone.chars().take(64).collect::<String>()
                ),
            );
        }
    }
    if wanted(mask, PolicyField::WorkingHours) {
        if policy.working_hours.len() > 50 {
            violations.add("policy.working_hours", "has more than 50 intervals");
        }
        for (i, hours) in policy.working_hours.iter().enumerate().take(50) {
            let field = format!("policy.working_hours[{i}]");
            let start = clock_minutes(&hours.start);
            let end = clock_minutes(&hours.end);
            if !(1..=7).contains(&hours.weekday) {
                violations.add(format!("{field}.weekday"), "must be 1 (Monday) to 7 (Sunday)");
            }
            match (start, end) {
                (Some(start), Some(end)) if start < end => {
                    fields.working_hours.push(StoredHours { weekday: hours.weekday.clamp(1, 7) as u8, start, end })
                }
                (Some(_), Some(_)) => violations.add(field, "must start before it ends"),
                _ => violations.add(field, "start and end must be HH:MM between 00:00 and 24:00"),
            }
        }
        if violations.is_empty() && calendar_of(&fields.working_hours, &[], Tz::UTC).is_err() {
            violations.add("policy.working_hours", "intervals of one weekday overlap");
        }
    }
    if wanted(mask, PolicyField::Holidays) {
        if policy.holidays.len() > 1_000 {
            violations.add("policy.holidays", "has more than 1000 dates");
        }
        for (i, day) in policy.holidays.iter().enumerate().take(1_000) {
            match NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d") {
                Ok(date) => fields.holidays.push(date.to_string()),
                Err(_) => violations.add(format!("policy.holidays[{i}]"), "must be a date like 2026-12-25"),
            }
        }
        fields.holidays.sort();
        fields.holidays.dedup();
    }
    if wanted(mask, PolicyField::Targets) {
        let mut seen = BTreeSet::new();
        for (i, target) in policy.targets.iter().enumerate().take(4) {
            let field = format!("policy.targets[{i}]");
            let Some(priority) = priority_from_proto(target.priority) else {
                violations.add(format!("{field}.priority"), "must be LOW, MEDIUM, HIGH or CRITICAL");
                continue;
            };
            if !seen.insert(priority) {
                violations.add(format!("{field}.priority"), "is listed twice");
            }
            if target.first_response_minutes <= 0 || target.resolution_minutes <= 0 {
                violations.add(field.clone(), "targets must be at least one minute");
            } else if target.first_response_minutes > target.resolution_minutes {
                violations.add(field.clone(), "the first response cannot be due after the resolution");
            }
            fields.targets.push(StoredTarget {
                priority: priority as u8 + 1,
                first_response_minutes: i64::from(target.first_response_minutes),
                resolution_minutes: i64::from(target.resolution_minutes),
            });
        }
        if policy.targets.len() != 4 || seen.len() != 4 {
            violations.add("policy.targets", "needs exactly one target for each of the four priorities");
        }
        fields.targets.sort_by_key(|t| t.priority);
    }
    if wanted(mask, PolicyField::WarnAtPercent) && !(1..=99).contains(&policy.warn_at_percent) {
        violations.add("policy.warn_at_percent", "must be between 1 and 99");
    }
    fields
}

fn to_proto(model: sla_policy::Model) -> pb::SlaPolicy {
    let priorities = [CasePriority::Low, CasePriority::Medium, CasePriority::High, CasePriority::Critical];
    pb::SlaPolicy {
        working_hours: hours_of(&model)
            .into_iter()
            .map(|h| pb::WorkingHours { weekday: i32::from(h.weekday), start: clock_text(h.start), end: clock_text(h.end) })
            .collect(),
        holidays: holidays_of(&model),
        targets: targets_of(&model)
            .into_iter()
            .map(|t| pb::SlaTarget {
                priority: priorities[usize::from(t.priority.clamp(1, 4) - 1)] as i32,
                first_response_minutes: i32::try_from(t.first_response_minutes).unwrap_or(i32::MAX),
                resolution_minutes: i32::try_from(t.resolution_minutes).unwrap_or(i32::MAX),
            })
            .collect(),
        create_time: Some(time::to_proto(model.created_at)),
        update_time: Some(time::to_proto(model.updated_at)),
        etag: model.version.to_string(),
        id: model.id,
        name: model.name,
        description: model.description,
        time_zone: model.time_zone,
        pause_while_pending: model.pause_while_pending,
        warn_at_percent: model.warn_at_percent,
        is_default: model.is_default,
    }
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    name: String,
    id: String,
}

#[tonic::async_trait]
impl SlaPolicyService for SlaPolicyApi {
    async fn create_sla_policy(&self, request: Request<pb::CreateSlaPolicyRequest>) -> Result<Response<pb::SlaPolicy>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let fields = parse_fields(&mut violations, &request.policy.clone().unwrap_or_default(), None);
        let key = docket_kit::idempotency::from_request(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateSlaPolicyRequest { idempotency_key: String::new(), ..request.clone() },
        );
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let created =
            self.store.create_policy(fields, &actor(&caller, ""), Once { scope: "CreateSlaPolicy", key: key.as_ref() }).await?;
        Ok(Response::new(to_proto(created)))
    }

    async fn get_sla_policy(&self, request: Request<pb::GetSlaPolicyRequest>) -> Result<Response<pb::SlaPolicy>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id = violations.id_text("id", &request.get_ref().id);
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        Ok(Response::new(to_proto(self.store.get_policy(&id).await?)))
    }

    async fn update_sla_policy(&self, request: Request<pb::UpdateSlaPolicyRequest>) -> Result<Response<pb::SlaPolicy>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let policy = request.policy.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let target = violations.update_target("policy", &policy.id, &policy.etag, request.update_mask.as_ref());
        let fields = parse_fields(&mut violations, &policy, Some(&target.mask));
        violations.into_result()?;
        let updated = self.store.update_policy(target, fields, &actor(&caller, "")).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn list_sla_policies(
        &self,
        request: Request<pb::ListSlaPoliciesRequest>,
    ) -> Result<Response<pb::ListSlaPoliciesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<Cursor> = page::decode(&mut violations, &request.page_token);
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let mut rows = self.store.list_policies(after.map(|c| (c.name, c.id)), limit).await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| page::encode(&Cursor { name: r.name.clone(), id: r.id.clone() })).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListSlaPoliciesResponse {
            policies: rows.into_iter().map(to_proto).collect(),
            next_page_token: next,
        }))
    }

    async fn preview_deadlines(
        &self,
        request: Request<pb::PreviewDeadlinesRequest>,
    ) -> Result<Response<pb::PreviewDeadlinesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.id_text("policy_id", &request.policy_id);
        let priority = priority_from_proto(request.priority);
        if priority.is_none() {
            violations.add("priority", "must be LOW, MEDIUM, HIGH or CRITICAL");
        }
        let created_at = match request.created_at.as_ref() {
            Some(ts) => time::from_proto(ts).or_else(|| {
                violations.add("created_at", "is not a valid timestamp");
                None
            }),
            None => Some(time::now()),
        };
        violations.into_result()?;
        // Refused above when missing: the placeholders are never used.
        let (priority, created_at) = (priority.unwrap_or(Priority::Medium), created_at.unwrap_or_else(time::now));
        let model = self.store.get_policy(&id).await?;
        let policy = policy_of(&model).ok_or_else(|| Status::failed_precondition("the stored policy is incomplete"))?;
        let clock = CaseClock {
            priority,
            created_at,
            first_response_at: None,
            resolved_at: None,
            pending: Vec::new(),
            closed: Vec::new(),
        };
        let times = |state: SlaState| match state {
            SlaState::OnTrack { warn_at, due } | SlaState::AtRisk { warn_at, due } => {
                (Some(time::to_proto(due)), Some(time::to_proto(warn_at)))
            }
            SlaState::Breached { due } => (Some(time::to_proto(due)), None),
            _ => (None, None),
        };
        let (first_response_due, first_response_warning) = times(first_response(&policy, &clock, created_at));
        let (resolution_due, resolution_warning) = times(resolution(&policy, &clock, created_at));
        Ok(Response::new(pb::PreviewDeadlinesResponse {
            first_response_due,
            first_response_warning,
            resolution_due,
            resolution_warning,
        }))
    }
}
