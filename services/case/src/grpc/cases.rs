//! `docket.case.v1.CaseService`: cases, their status verbs, activities,
//! history and the case type catalogue.

use docket_kit::{auth::caller, error::FieldViolations, page, time};
use tonic::{Request, Response, Status};

use super::{actor, history, idempotency, reason, wanted};
use crate::{
    domain::{
        ActivityKind, CaseStatus, Channel, Direction, Priority, Visibility,
        commands::{
            CONTACTS_MAX, CaseContactRef, CaseFields, LONG_TEXT_MAX, NAME_MAX, NewActivity, NewCase, SHORT_TEXT_MAX, SUBJECT_MAX,
            TAG_MAX, TAGS_MAX,
        },
        format_case_number, parse_case_number,
    },
    error::Error,
    store::{
        ActivityCursor, CASE_FIELDS, CaseCursor, CaseFilter, CaseOrder, CaseRecord, Store,
        entities::{case_activity, case_type},
        etag as etag_of,
    },
};
use docket_proto::case::v1::{self as pb, case_service_server::CaseService, get_case_request::Lookup};

use crate::contracts::ContractChecks;

pub struct CaseApi {
    store: Store,
    contracts: ContractChecks,
}

impl CaseApi {
    pub fn new(store: Store, contracts: ContractChecks) -> Self {
        Self { store, contracts }
    }

    /// Checks the case's service contract with the billing service and fills
    /// in both its id and number; a new case that names none gets the
    /// contract that covers it, if one does.
    async fn check_contract(
        &self,
        fields: &mut CaseFields,
        current: Option<&CaseRecord>,
        mask: &mut Vec<&'static str>,
    ) -> Result<(), Error> {
        let pick = |field: &str, new: &str, old: Option<&str>| -> String {
            match old {
                Some(old) if !mask.contains(&field) => old.to_owned(),
                _ => new.to_owned(),
            }
        };
        let case = current.map(|c| &c.case);
        let account_id = pick("account_id", &fields.account_id, case.map(|c| c.account_id.as_str()));
        let contract_id = pick("service_contract_id", &fields.service_contract_id, case.map(|c| c.service_contract_id.as_str()));
        let number =
            pick("service_contract_number", &fields.service_contract_number, case.map(|c| c.service_contract_number.as_str()));
        let serial = pick("asset_serial_number", &fields.asset_serial_number, case.map(|c| c.asset_serial_number.as_str()));
        let named = !contract_id.is_empty() || !number.is_empty();
        // An update that leaves the contract alone, or clears it, needs no check.
        if current.is_some() && !named {
            return Ok(());
        }
        if let Some(coverage) = self.contracts.cover(&account_id, &contract_id, &number, &serial).await? {
            fields.service_contract_id = coverage.contract_id;
            fields.service_contract_number = coverage.contract_number;
            for field in ["service_contract_id", "service_contract_number"] {
                if !mask.contains(&field) {
                    mask.push(field);
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn status_from_proto(raw: i32) -> Option<CaseStatus> {
    Some(match pb::CaseStatus::try_from(raw).ok()? {
        pb::CaseStatus::Unspecified => return None,
        pb::CaseStatus::ActiveNew => CaseStatus::New,
        pb::CaseStatus::ActiveAssigned => CaseStatus::Assigned,
        pb::CaseStatus::Pending => CaseStatus::Pending,
        pb::CaseStatus::ClosedComplete => CaseStatus::ClosedComplete,
        pb::CaseStatus::ClosedNoFault => CaseStatus::ClosedNoFault,
    })
}

pub fn status_to_proto(status: CaseStatus) -> pb::CaseStatus {
    match status {
        CaseStatus::New => pb::CaseStatus::ActiveNew,
        CaseStatus::Assigned => pb::CaseStatus::ActiveAssigned,
        CaseStatus::Pending => pb::CaseStatus::Pending,
        CaseStatus::ClosedComplete => pb::CaseStatus::ClosedComplete,
        CaseStatus::ClosedNoFault => pb::CaseStatus::ClosedNoFault,
    }
}

pub(super) fn priority_from_proto(raw: i32) -> Option<Priority> {
    Some(match pb::CasePriority::try_from(raw).ok()? {
        pb::CasePriority::Unspecified => return None,
        pb::CasePriority::Low => Priority::Low,
        pb::CasePriority::Medium => Priority::Medium,
        pb::CasePriority::High => Priority::High,
        pb::CasePriority::Critical => Priority::Critical,
    })
}

pub(super) fn priority_to_proto(rank: i16) -> pb::CasePriority {
    match Priority::from_rank(rank) {
        Some(Priority::Low) => pb::CasePriority::Low,
        Some(Priority::Medium) => pb::CasePriority::Medium,
        Some(Priority::High) => pb::CasePriority::High,
        Some(Priority::Critical) => pb::CasePriority::Critical,
        None => pb::CasePriority::Unspecified,
    }
}

fn channel_from_proto(raw: i32) -> Option<Channel> {
    Some(match pb::CaseChannel::try_from(raw).ok()? {
        pb::CaseChannel::Unspecified => return None,
        pb::CaseChannel::Phone => Channel::Phone,
        pb::CaseChannel::Email => Channel::Email,
        pb::CaseChannel::WebForm => Channel::WebForm,
        pb::CaseChannel::Portal => Channel::Portal,
        pb::CaseChannel::Api => Channel::Api,
    })
}

fn channel_to_proto(key: &str) -> pb::CaseChannel {
    match Channel::from_key(key) {
        Some(Channel::Phone) => pb::CaseChannel::Phone,
        Some(Channel::Email) => pb::CaseChannel::Email,
        Some(Channel::WebForm) => pb::CaseChannel::WebForm,
        Some(Channel::Portal) => pb::CaseChannel::Portal,
        Some(Channel::Api) => pb::CaseChannel::Api,
        None => pb::CaseChannel::Unspecified,
    }
}

fn direction_from_proto(raw: i32) -> Option<Direction> {
    Some(match pb::Direction::try_from(raw).ok()? {
        pb::Direction::Unspecified => return None,
        pb::Direction::Inbound => Direction::Inbound,
        pb::Direction::Outbound => Direction::Outbound,
    })
}

fn direction_to_proto(key: &str) -> pb::Direction {
    match Direction::from_key(key) {
        Some(Direction::Inbound) => pb::Direction::Inbound,
        Some(Direction::Outbound) => pb::Direction::Outbound,
        _ => pb::Direction::Unspecified,
    }
}

/// A catalogue key: lower-case letters, digits and `_`, 1 to 50 long.
fn type_key(violations: &mut FieldViolations, field: &str, value: &str) -> String {
    violations.key(field, value)
}

fn optional_id(violations: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    violations.optional_id(field, value).map(|id| id.to_string())
}

fn parse_contacts(violations: &mut FieldViolations, contacts: &[pb::CaseContact]) -> Vec<CaseContactRef> {
    if contacts.len() > CONTACTS_MAX {
        violations.add("case.contacts", format!("has {} contacts; the most allowed is {CONTACTS_MAX}", contacts.len()));
        return Vec::new();
    }
    let mut parsed: Vec<CaseContactRef> = Vec::new();
    for (i, link) in contacts.iter().enumerate() {
        let field = format!("case.contacts[{i}].contact_id");
        if let Some(id) = violations.required_id(&field, &link.contact_id) {
            let id = id.to_string();
            if parsed.iter().any(|p| p.contact_id == id) {
                violations.add(field, "is listed twice");
            } else {
                parsed.push(CaseContactRef { contact_id: id, primary: link.primary });
            }
        }
    }
    match parsed.iter().filter(|c| c.primary).count() {
        0 => {
            if let Some(first) = parsed.first_mut() {
                first.primary = true;
            }
        }
        1 => {}
        _ => violations.add("case.contacts", "only one contact can be primary"),
    }
    parsed
}

fn parse_tags(violations: &mut FieldViolations, tags: &[String]) -> Vec<String> {
    if tags.len() > TAGS_MAX {
        violations.add("case.tags", format!("has {} tags; the most allowed is {TAGS_MAX}", tags.len()));
        return Vec::new();
    }
    let mut parsed = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let tag = violations.required_text(&format!("case.tags[{i}]"), tag, TAG_MAX).to_lowercase();
        if !tag.is_empty() && !parsed.contains(&tag) {
            parsed.push(tag);
        }
    }
    parsed.sort();
    parsed
}

/// Validates what a create sets (`mask: None`) or an update changes.
fn parse_fields(violations: &mut FieldViolations, case: &pb::Case, mask: Option<&[&str]>) -> CaseFields {
    let creating = mask.is_none();
    let text = |v: &mut FieldViolations, field: &str, value: &str, max: usize| {
        if wanted(mask, field) { v.optional_text(&format!("case.{field}"), value, max) } else { String::new() }
    };
    CaseFields {
        subject: if wanted(mask, "subject") {
            violations.required_text("case.subject", &case.subject, SUBJECT_MAX)
        } else {
            String::new()
        },
        description: text(violations, "description", &case.description, LONG_TEXT_MAX),
        type_id: if wanted(mask, "type_id") { type_key(violations, "case.type_id", &case.type_id) } else { String::new() },
        priority: match (wanted(mask, "priority"), case.priority) {
            (false, _) => Priority::Medium,
            (true, 0) if creating => Priority::Medium,
            (true, raw) => violations.enum_value("case.priority", raw, priority_from_proto).unwrap_or(Priority::Medium),
        },
        channel: match (wanted(mask, "channel"), case.channel) {
            (false, _) => Channel::Api,
            (true, 0) if creating => Channel::Api,
            (true, raw) => violations.enum_value("case.channel", raw, channel_from_proto).unwrap_or(Channel::Api),
        },
        account_id: if wanted(mask, "account_id") {
            violations.required_id("case.account_id", &case.account_id).map(|id| id.to_string()).unwrap_or_default()
        } else {
            String::new()
        },
        contacts: if wanted(mask, "contacts") { parse_contacts(violations, &case.contacts) } else { Vec::new() },
        team_id: if wanted(mask, "team_id") { optional_id(violations, "case.team_id", &case.team_id) } else { None },
        service_contract_id: if wanted(mask, "service_contract_id") {
            optional_id(violations, "case.service_contract_id", &case.service_contract_id).unwrap_or_default()
        } else {
            String::new()
        },
        service_contract_number: text(violations, "service_contract_number", &case.service_contract_number, 50),
        asset_description: text(violations, "asset_description", &case.asset_description, SHORT_TEXT_MAX),
        asset_serial_number: text(violations, "asset_serial_number", &case.asset_serial_number, 100),
        tags: if wanted(mask, "tags") { parse_tags(violations, &case.tags) } else { Vec::new() },
    }
}

pub fn to_proto(record: CaseRecord) -> pb::Case {
    let status = record.status();
    let case = record.case;
    pb::Case {
        case_number: format_case_number(case.number),
        status: status_to_proto(status) as i32,
        priority: priority_to_proto(case.priority) as i32,
        channel: channel_to_proto(&case.channel) as i32,
        contacts: record.contacts.into_iter().map(|c| pb::CaseContact { contact_id: c.contact_id, primary: c.primary }).collect(),
        tags: record.tags,
        owner_id: case.owner_id.unwrap_or_default(),
        team_id: case.team_id.unwrap_or_default(),
        create_time: Some(time::to_proto(case.created_at)),
        update_time: Some(time::to_proto(case.updated_at)),
        first_response_time: time::to_proto_opt(case.first_response_at),
        resolved_time: time::to_proto_opt(case.resolved_at),
        closed_time: time::to_proto_opt(case.closed_at),
        etag: etag_of(case.version),
        id: case.id,
        subject: case.subject,
        description: case.description,
        type_id: case.type_id,
        account_id: case.account_id,
        service_contract_id: case.service_contract_id,
        service_contract_number: case.service_contract_number,
        asset_description: case.asset_description,
        asset_serial_number: case.asset_serial_number,
        resolution_summary: case.resolution_summary,
        created_by: case.created_by,
    }
}

pub fn activity_to_proto(model: case_activity::Model) -> pb::Activity {
    let kind = ActivityKind::from_key(&model.kind);
    pb::Activity {
        kind: match kind {
            Some(ActivityKind::Note) => pb::ActivityKind::Note,
            Some(ActivityKind::Call) => pb::ActivityKind::Call,
            Some(ActivityKind::Email) => pb::ActivityKind::Email,
            None => pb::ActivityKind::Unspecified,
        } as i32,
        visibility: match Visibility::from_key(&model.visibility) {
            Some(Visibility::Internal) => pb::Visibility::Internal,
            Some(Visibility::Public) => pb::Visibility::Public,
            None => pb::Visibility::Unspecified,
        } as i32,
        call: (kind == Some(ActivityKind::Call)).then(|| pb::CallDetail {
            direction: direction_to_proto(&model.direction) as i32,
            duration_seconds: model.call_duration_seconds,
        }),
        email: (kind == Some(ActivityKind::Email)).then(|| pb::EmailDetail {
            direction: direction_to_proto(&model.direction) as i32,
            from: model.email_from.clone(),
            to: model.email_to.lines().map(str::to_owned).collect(),
            subject: model.email_subject.clone(),
        }),
        create_time: Some(time::to_proto(model.created_at)),
        id: model.id,
        case_id: model.case_id,
        author: model.author,
        body: model.body,
        sequence: model.sequence,
    }
}

fn case_type_to_proto(model: case_type::Model) -> pb::CaseType {
    pb::CaseType { id: model.id, name: model.name, active: model.active }
}

fn parse_activity(violations: &mut FieldViolations, activity: &pb::Activity) -> Option<NewActivity> {
    let case_id = violations.required_id("activity.case_id", &activity.case_id);
    let kind = violations.enum_value("activity.kind", activity.kind, |raw| {
        Some(match pb::ActivityKind::try_from(raw).ok()? {
            pb::ActivityKind::Unspecified => return None,
            pb::ActivityKind::Note => ActivityKind::Note,
            pb::ActivityKind::Call => ActivityKind::Call,
            pb::ActivityKind::Email => ActivityKind::Email,
        })
    })?;
    let visibility = match activity.visibility {
        0 => match kind {
            ActivityKind::Email => Visibility::Public,
            ActivityKind::Note | ActivityKind::Call => Visibility::Internal,
        },
        raw => violations
            .enum_value("activity.visibility", raw, |raw| {
                Some(match pb::Visibility::try_from(raw).ok()? {
                    pb::Visibility::Unspecified => return None,
                    pb::Visibility::Internal => Visibility::Internal,
                    pb::Visibility::Public => Visibility::Public,
                })
            })
            .unwrap_or(Visibility::Internal),
    };
    let body = match kind {
        ActivityKind::Note => violations.required_text("activity.body", &activity.body, LONG_TEXT_MAX),
        _ => violations.optional_text("activity.body", &activity.body, LONG_TEXT_MAX),
    };
    let mut new = NewActivity {
        case_id: case_id.map(|id| id.to_string()).unwrap_or_default(),
        kind,
        visibility,
        body,
        direction: Direction::None,
        call_duration_seconds: 0,
        email_from: String::new(),
        email_to: Vec::new(),
        email_subject: String::new(),
    };
    if kind != ActivityKind::Call && activity.call.is_some() {
        violations.add("activity.call", "is only for calls");
    }
    if kind != ActivityKind::Email && activity.email.is_some() {
        violations.add("activity.email", "is only for emails");
    }
    match kind {
        ActivityKind::Note => {}
        ActivityKind::Call => {
            let call = activity.call.unwrap_or_default();
            new.direction =
                violations.enum_value("activity.call.direction", call.direction, direction_from_proto).unwrap_or(Direction::None);
            if !(0..=86_400).contains(&call.duration_seconds) {
                violations.add("activity.call.duration_seconds", "must be between 0 and 86400");
            }
            new.call_duration_seconds = call.duration_seconds;
        }
        ActivityKind::Email => {
            let email = activity.email.clone().unwrap_or_default();
            new.direction = violations
                .enum_value("activity.email.direction", email.direction, direction_from_proto)
                .unwrap_or(Direction::None);
            violations.email("activity.email.from", &email.from, true);
            new.email_from = email.from.trim().to_owned();
            if email.to.is_empty() {
                violations.add("activity.email.to", "needs at least one recipient");
            }
            if email.to.len() > 50 {
                violations.add("activity.email.to", "has more than 50 recipients");
            }
            for (i, to) in email.to.iter().enumerate().take(50) {
                violations.email(&format!("activity.email.to[{i}]"), to, true);
                new.email_to.push(to.trim().to_owned());
            }
            new.email_subject = violations.optional_text("activity.email.subject", &email.subject, SUBJECT_MAX);
        }
    }
    Some(new)
}

fn required_id(violations: &mut FieldViolations, field: &str, id: &str) -> String {
    violations.required_id(field, id).map(|id| id.to_string()).unwrap_or_default()
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn create_case(&self, request: Request<pb::CreateCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case = request.case.clone().unwrap_or_default();
        let fields = parse_fields(&mut violations, &case, None);
        let owner_id = optional_id(&mut violations, "case.owner_id", &case.owner_id);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateCaseRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result().map_err(Error::from)?;
        let mut fields = fields;
        self.check_contract(&mut fields, None, &mut CASE_FIELDS.to_vec()).await?;
        let created = self.store.create_case(NewCase { fields, owner_id }, &actor(&caller, ""), key.as_ref()).await?;
        tracing::info!(case = %format_case_number(created.case.number), "case created");
        Ok(Response::new(to_proto(created)))
    }

    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Result<Response<pb::Case>, Status> {
        caller(&request)?;
        let found = match &request.get_ref().lookup {
            Some(Lookup::Id(id)) => {
                let mut violations = FieldViolations::new();
                let id = required_id(&mut violations, "id", id);
                violations.into_result().map_err(Error::from)?;
                self.store.get_case(&id).await?
            }
            Some(Lookup::CaseNumber(number)) => {
                let number = parse_case_number(number).ok_or_else(|| Error::field("case_number", "must look like C-000123"))?;
                self.store.get_case_by_number(number).await?
            }
            None => return Err(Error::field("lookup", "send either id or case_number").into()),
        };
        Ok(Response::new(to_proto(found)))
    }

    async fn list_cases(&self, request: Request<pb::ListCasesRequest>) -> Result<Response<pb::ListCasesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<CaseCursor> = page::decode(&mut violations, &request.page_token);
        let statuses = violations.enum_values("statuses", &request.statuses, status_from_proto);
        let priorities = violations.enum_values("priorities", &request.priorities, priority_from_proto);
        let mut timestamp = |field: &str, ts: Option<&prost_types::Timestamp>| {
            ts.and_then(|ts| {
                let parsed = time::from_proto(ts);
                if parsed.is_none() {
                    violations.add(field, "is not a valid timestamp");
                }
                parsed
            })
        };
        let created_after = timestamp("created_after", request.created_after.as_ref());
        let created_before = timestamp("created_before", request.created_before.as_ref());
        let order = match pb::CaseOrder::try_from(request.order_by) {
            Ok(pb::CaseOrder::Unspecified | pb::CaseOrder::CreateTimeDesc) => CaseOrder::Newest,
            Ok(pb::CaseOrder::CreateTimeAsc) => CaseOrder::Oldest,
            Ok(pb::CaseOrder::UpdateTimeDesc) => CaseOrder::RecentlyUpdated,
            Ok(pb::CaseOrder::PriorityDesc) => CaseOrder::Priority,
            Err(_) => {
                violations.add("order_by", format!("{} is not a known value", request.order_by));
                CaseOrder::Newest
            }
        };
        // A token carries the sort key of its order; one that cannot be such a
        // key was not made by this call (and would fail the query).
        if let Some(cursor) = &after {
            let fits = match order {
                CaseOrder::Newest | CaseOrder::Oldest => true,
                CaseOrder::RecentlyUpdated => time::from_micros(cursor.key).is_some(),
                CaseOrder::Priority => i16::try_from(cursor.key).ok().and_then(Priority::from_rank).is_some(),
            };
            if !fits {
                violations.add("page_token", "is not a page token returned by this list call");
            }
        }
        let filter = CaseFilter {
            statuses,
            priorities,
            type_id: (!request.type_id.is_empty()).then(|| type_key(&mut violations, "type_id", &request.type_id)),
            owner_id: optional_id(&mut violations, "owner_id", &request.owner_id),
            team_id: optional_id(&mut violations, "team_id", &request.team_id),
            account_id: optional_id(&mut violations, "account_id", &request.account_id),
            contact_id: optional_id(&mut violations, "contact_id", &request.contact_id),
            created_after,
            created_before,
            text: violations.optional_text("text", &request.text, SHORT_TEXT_MAX),
            unassigned_only: request.unassigned_only,
            tag: (!request.tag.is_empty()).then(|| violations.optional_text("tag", &request.tag, TAG_MAX).to_lowercase()),
        };
        violations.into_result().map_err(Error::from)?;
        let (rows, next) = self.store.list_cases(&filter, order, after, limit).await?;
        Ok(Response::new(pb::ListCasesResponse {
            cases: rows.into_iter().map(to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
        }))
    }

    async fn update_case(&self, request: Request<pb::UpdateCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case = request.case.unwrap_or_default();
        let id = required_id(&mut violations, "case.id", &case.id);
        let version = violations.etag("case.etag", &case.etag, true);
        let mut mask = violations.update_mask(request.update_mask.as_ref(), CASE_FIELDS);
        let mut fields = parse_fields(&mut violations, &case, Some(&mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result().map_err(Error::from)?;
        let Some(version) = version else { return Err(Status::internal("validated fields missing")) };
        if ["account_id", "service_contract_id", "service_contract_number", "asset_serial_number"]
            .iter()
            .any(|f| mask.contains(f))
        {
            let current = self.store.get_case(&id).await?;
            self.check_contract(&mut fields, Some(&current), &mut mask).await?;
        }
        let updated = self.store.update_case(&id, version, fields, &mask, &actor(&caller, &reason)).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn assign_case(&self, request: Request<pb::AssignCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.id);
        let owner = optional_id(&mut violations, "owner_id", &request.owner_id);
        let team = optional_id(&mut violations, "team_id", &request.team_id);
        let version = violations.etag("etag", &request.etag, false);
        let reason = reason(&mut violations, &request.reason);
        violations.into_result().map_err(Error::from)?;
        let updated = self.store.assign_case(&id, version, owner, team, &actor(&caller, &reason)).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn set_case_status(&self, request: Request<pb::SetCaseStatusRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.id);
        let status = violations.enum_value("status", request.status, status_from_proto);
        let version = violations.etag("etag", &request.etag, false);
        let reason = reason(&mut violations, &request.reason);
        violations.into_result().map_err(Error::from)?;
        let Some(status) = status else { return Err(Status::internal("validated fields missing")) };
        let updated = self.store.set_case_status(&id, version, status, &actor(&caller, &reason)).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn close_case(&self, request: Request<pb::CloseCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.id);
        let status = violations.enum_value("status", request.status, status_from_proto);
        if status.is_some_and(|s| !s.is_closed()) {
            violations.add("status", "must be CASE_STATUS_CLOSED_COMPLETE or CASE_STATUS_CLOSED_NO_FAULT");
        }
        let resolution = violations.required_text("resolution_summary", &request.resolution_summary, LONG_TEXT_MAX);
        let version = violations.etag("etag", &request.etag, false);
        let reason = reason(&mut violations, &request.reason);
        violations.into_result().map_err(Error::from)?;
        let Some(status) = status else { return Err(Status::internal("validated fields missing")) };
        let updated = self.store.close_case(&id, version, status, &resolution, &actor(&caller, &reason)).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn reopen_case(&self, request: Request<pb::ReopenCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.id);
        let reason = violations.required_text("reason", &request.reason, super::REASON_MAX);
        let version = violations.etag("etag", &request.etag, false);
        violations.into_result().map_err(Error::from)?;
        let updated = self.store.reopen_case(&id, version, &actor(&caller, &reason)).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn add_activity(&self, request: Request<pb::AddActivityRequest>) -> Result<Response<pb::Activity>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let new = parse_activity(&mut violations, &request.activity.clone().unwrap_or_default());
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::AddActivityRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result().map_err(Error::from)?;
        let Some(new) = new else { return Err(Status::internal("validated fields missing")) };
        let added = self.store.add_activity(new, caller.is_staff(), &actor(&caller, ""), key.as_ref()).await?;
        Ok(Response::new(activity_to_proto(added)))
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case_id = required_id(&mut violations, "case_id", &request.case_id);
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<ActivityCursor> = page::decode(&mut violations, &request.page_token);
        violations.into_result().map_err(Error::from)?;
        let (rows, next) = self.store.list_activities(&case_id, request.public_only, after, limit).await?;
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: rows.into_iter().map(activity_to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
        }))
    }

    async fn list_case_history(
        &self,
        request: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(history(&self.store, &["case"], request.into_inner()).await?))
    }

    async fn list_case_types(
        &self,
        request: Request<pb::ListCaseTypesRequest>,
    ) -> Result<Response<pb::ListCaseTypesResponse>, Status> {
        caller(&request)?;
        let types = self.store.list_case_types(request.get_ref().include_inactive).await?;
        Ok(Response::new(pb::ListCaseTypesResponse { case_types: types.into_iter().map(case_type_to_proto).collect() }))
    }

    async fn create_case_type(&self, request: Request<pb::CreateCaseTypeRequest>) -> Result<Response<pb::CaseType>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let case_type = request.into_inner().case_type.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let id = type_key(&mut violations, "case_type.id", &case_type.id);
        let name = violations.required_text("case_type.name", &case_type.name, NAME_MAX);
        violations.into_result().map_err(Error::from)?;
        Ok(Response::new(case_type_to_proto(self.store.create_case_type(&id, &name, &actor(&caller, "")).await?)))
    }

    async fn update_case_type(&self, request: Request<pb::UpdateCaseTypeRequest>) -> Result<Response<pb::CaseType>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let case_type = request.case_type.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let id = type_key(&mut violations, "case_type.id", &case_type.id);
        let mask = violations.update_mask(request.update_mask.as_ref(), &["name", "active"]);
        let name = mask.contains(&"name").then(|| violations.required_text("case_type.name", &case_type.name, NAME_MAX));
        let active = mask.contains(&"active").then_some(case_type.active);
        violations.into_result().map_err(Error::from)?;
        let updated = self.store.update_case_type(&id, name.as_deref(), active, &actor(&caller, "")).await?;
        Ok(Response::new(case_type_to_proto(updated)))
    }
}
