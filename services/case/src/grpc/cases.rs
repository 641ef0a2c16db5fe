//! `docket.case.v1.CaseService`: cases, their status verbs, activities,
//! history and the case type catalogue.

use docket_kit::mutation::{KeyLookUp, Once};
use docket_kit::{
    auth::caller,
    error::FieldViolations,
    page,
    request::{FieldMask, MaskField, RecordId, wanted},
    time,
};
use tonic::{Request, Response, Status};

use super::{actor, history, idempotency, reason};
use crate::{
    contracts::ContractChecks,
    domain::{
        AccountId, ActivityKind, CaseId, CaseStatus, Channel, ContactId, Direction, Priority, StaffId, TeamId, Visibility,
        commands::{
            CONTACTS_MAX, CaseContactRef, CaseField, CaseFields, CaseSender, CaseTypeField, LONG_TEXT_MAX, NAME_MAX, NewActivity,
            NewCase, SHORT_TEXT_MAX, SUBJECT_MAX, TAG_MAX, TAGS_MAX,
        },
        format_case_number, parse_case_number,
    },
    error::Error,
    records::CaseRecord,
    store::{ActivityCursor, CaseCursor, CaseFilter, CaseOrder, ReadFirst, StatusChangeCursor, Store},
    wire::{self, WireEnum},
};
use docket_proto::case::v1::{self as pb, case_service_server::CaseService, get_case_request::Lookup};

pub struct CaseApi {
    store: Store,
    contracts: ContractChecks,
}

impl CaseApi {
    pub fn new(store: Store, contracts: ContractChecks) -> Self {
        Self { store, contracts }
    }

    /// One page of a case's activities, oldest or newest first.
    async fn activity_page(
        &self,
        case_id: CaseId,
        public_only: bool,
        newest_first: bool,
        cursor: Option<ActivityCursor>,
        limit: u64,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        let (rows, next) = self.store.list_activities(case_id, public_only, newest_first, cursor, limit).await?;
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: rows.into_iter().map(wire::activity).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
        }))
    }

    /// Checks the case's service contract with the billing service and fills
    /// in both its id and number; a new case that names none gets the
    /// contract that covers it, if one does.
    async fn check_contract(
        &self,
        fields: &mut CaseFields,
        current: Option<&CaseRecord>,
        mask: &mut FieldMask<CaseField>,
    ) -> Result<(), Error> {
        let pick = |field: CaseField, new: &str, old: Option<&str>| -> String {
            match old {
                Some(old) if !mask.contains(field) => old.to_owned(),
                _ => new.to_owned(),
            }
        };
        let case = current.map(|c| &c.case);
        let account_id = pick(CaseField::AccountId, &fields.account_id.to_string(), case.map(|c| c.account_id.as_str()));
        let contract_id =
            pick(CaseField::ServiceContractId, &fields.service_contract_id, case.map(|c| c.service_contract_id.as_str()));
        let number = pick(
            CaseField::ServiceContractNumber,
            &fields.service_contract_number,
            case.map(|c| c.service_contract_number.as_str()),
        );
        let serial =
            pick(CaseField::AssetSerialNumber, &fields.asset_serial_number, case.map(|c| c.asset_serial_number.as_str()));
        let named = !contract_id.is_empty() || !number.is_empty();
        // An update that leaves the contract alone, or clears it, needs no check.
        if current.is_some() && !named {
            return Ok(());
        }
        if let Some(coverage) = self.contracts.cover(&account_id, &contract_id, &number, &serial).await? {
            fields.service_contract_id = coverage.contract_id;
            fields.service_contract_number = coverage.contract_number;
            mask.insert(CaseField::ServiceContractId);
            mask.insert(CaseField::ServiceContractNumber);
        }
        Ok(())
    }
}

impl CaseApi {
    /// Creates `new` once its contract is checked. A case from a sender is
    /// made in the unassigned account (its id kept in memory when `kept`,
    /// read otherwise); a retry of such a call is answered by the key's
    /// refusal, which is rare enough not to read the key first.
    async fn create(
        &self,
        mut new: NewCase,
        kept: bool,
        by: &crate::store::Actor<'_>,
        once: Once<'_>,
    ) -> Result<CaseRecord, Error> {
        let mut read_first = ReadFirst::default();
        if let Some(sender) = &new.sender {
            // Refused before the unassigned account may be made below.
            if let Some(id) = sender.contact_account_id {
                match self.store.get_account(id).await {
                    Ok(_) => {}
                    Err(Error::NotFound(_)) => {
                        return Err(Error::field("sender.contact_account_id", format!("no account has the id {id}")));
                    }
                    Err(err) => return Err(err),
                }
            }
            // Wherever the sender's contact lands, the case's account is the
            // unassigned one (see `Sender` in cases.proto).
            let unassigned = match kept {
                true => self.store.kept_unassigned_account_id(&sender.unassigned, by).await?,
                false => self.store.unassigned_account_id(&sender.unassigned, by).await?,
            };
            new.fields.account_id = AccountId::stored(&unassigned)?;
            read_first = ReadFirst { key: KeyLookUp::Done, unassigned_kept: kept };
        }
        self.check_contract(&mut new.fields, None, &mut FieldMask::all()).await?;
        self.store.create_case(new, read_first, by, once).await
    }
}

/// A catalogue key: lower-case letters, digits and `_`, 1 to 50 long.
fn type_key(violations: &mut FieldViolations, field: &str, value: &str) -> String {
    violations.key(field, value)
}

fn parse_contacts(violations: &mut FieldViolations, contacts: &[pb::CaseContact]) -> Vec<CaseContactRef> {
    if contacts.len() > CONTACTS_MAX {
        violations.add("case.contacts", format!("has {} contacts; the most allowed is {CONTACTS_MAX}", contacts.len()));
        return Vec::new();
    }
    let mut parsed: Vec<CaseContactRef> = Vec::new();
    for (i, link) in contacts.iter().enumerate() {
        let field = format!("case.contacts[{i}].contact_id");
        if let Some(id) = violations.required_id(&field, &link.contact_id).map(ContactId::from_uuid) {
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
fn parse_fields(violations: &mut FieldViolations, case: &pb::Case, mask: Option<&FieldMask<CaseField>>) -> CaseFields {
    let creating = mask.is_none();
    let text = |v: &mut FieldViolations, field: CaseField, value: &str, max: usize| {
        if wanted(mask, field) { v.optional_text(&format!("case.{}", field.path()), value, max) } else { String::new() }
    };
    CaseFields {
        subject: if wanted(mask, CaseField::Subject) {
            violations.required_text("case.subject", &case.subject, SUBJECT_MAX)
        } else {
            String::new()
        },
        description: text(violations, CaseField::Description, &case.description, LONG_TEXT_MAX),
        type_id: if wanted(mask, CaseField::TypeId) {
            type_key(violations, "case.type_id", &case.type_id)
        } else {
            String::new()
        },
        priority: match (wanted(mask, CaseField::Priority), case.priority) {
            (false, _) => Priority::Medium,
            (true, 0) if creating => Priority::Medium,
            (true, raw) => violations.enum_value("case.priority", raw, Priority::from_wire).unwrap_or(Priority::Medium),
        },
        channel: match (wanted(mask, CaseField::Channel), case.channel) {
            (false, _) => Channel::Api,
            (true, 0) if creating => Channel::Api,
            (true, raw) => violations.enum_value("case.channel", raw, Channel::from_wire).unwrap_or(Channel::Api),
        },
        account_id: if wanted(mask, CaseField::AccountId) {
            violations.id("case.account_id", &case.account_id)
        } else {
            AccountId::untouched()
        },
        contacts: if wanted(mask, CaseField::Contacts) { parse_contacts(violations, &case.contacts) } else { Vec::new() },
        team_id: if wanted(mask, CaseField::TeamId) { violations.opt_id("case.team_id", &case.team_id) } else { None },
        service_contract_id: if wanted(mask, CaseField::ServiceContractId) {
            violations
                .optional_id("case.service_contract_id", &case.service_contract_id)
                .map(|id| id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        },
        service_contract_number: text(violations, CaseField::ServiceContractNumber, &case.service_contract_number, 50),
        asset_description: text(violations, CaseField::AssetDescription, &case.asset_description, SHORT_TEXT_MAX),
        asset_serial_number: text(violations, CaseField::AssetSerialNumber, &case.asset_serial_number, 100),
        tags: if wanted(mask, CaseField::Tags) { parse_tags(violations, &case.tags) } else { Vec::new() },
    }
}

/// A case's sender (see `Sender` in cases.proto); the case names no account
/// or contacts of its own then.
fn parse_sender(violations: &mut FieldViolations, sender: &pb::Sender, case: &pb::Case) -> CaseSender {
    let person = super::contacts::parse_person(violations, "sender.", &sender.email, &sender.name, &sender.phone);
    let contact_account_id = violations.opt_id("sender.contact_account_id", &sender.contact_account_id);
    let unassigned =
        super::contacts::unassigned_account_name(violations, "sender.unassigned_account_name", &sender.unassigned_account_name);
    if !case.account_id.is_empty() {
        violations.add("case.account_id", "must be empty with a sender: the sender decides the case's account");
    }
    if !case.contacts.is_empty() {
        violations.add("case.contacts", "must be empty with a sender: the sender decides the case's contact");
    }
    CaseSender { person, contact_account_id, unassigned }
}

fn parse_activity(violations: &mut FieldViolations, activity: &pb::Activity) -> Option<NewActivity> {
    let case_id: CaseId = violations.id("activity.case_id", &activity.case_id);
    let kind = violations.enum_value("activity.kind", activity.kind, ActivityKind::from_wire)?;
    let visibility = match activity.visibility {
        0 => match kind {
            ActivityKind::Email => Visibility::Public,
            ActivityKind::Note | ActivityKind::Call => Visibility::Internal,
        },
        raw => violations.enum_value("activity.visibility", raw, Visibility::from_wire).unwrap_or(Visibility::Internal),
    };
    let body = match kind {
        ActivityKind::Note => violations.required_text("activity.body", &activity.body, LONG_TEXT_MAX),
        _ => violations.optional_text("activity.body", &activity.body, LONG_TEXT_MAX),
    };
    let mut new = NewActivity {
        case_id,
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
                violations.enum_value("activity.call.direction", call.direction, Direction::from_wire).unwrap_or(Direction::None);
            if !(0..=86_400).contains(&call.duration_seconds) {
                violations.add("activity.call.duration_seconds", "must be between 0 and 86400");
            }
            new.call_duration_seconds = call.duration_seconds;
        }
        ActivityKind::Email => {
            let email = activity.email.clone().unwrap_or_default();
            new.direction = violations
                .enum_value("activity.email.direction", email.direction, Direction::from_wire)
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

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn create_case(&self, request: Request<pb::CreateCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut case = request.case.clone().unwrap_or_default();
        let mut violations = FieldViolations::new();
        let sender = request.sender.as_ref().map(|sender| parse_sender(&mut violations, sender, &case));
        if sender.is_some() {
            // Read below, once the request is known to be good.
            case.account_id = uuid::Uuid::nil().to_string();
        }
        let fields = parse_fields(&mut violations, &case, None);
        let owner_id: Option<StaffId> = violations.opt_id("case.owner_id", &case.owner_id);
        let web_form_id = violations.optional_id("case.web_form_id", &case.web_form_id);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateCaseRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let once = Once { scope: "CreateCase", key: key.as_ref() };
        let new = NewCase { fields, owner_id, web_form_id, sender };
        let by = actor(&caller, "");
        let created = match (self.create(new.clone(), true, &by, once).await, &new.sender) {
            // The kept unassigned account is no longer the oldest of its
            // name: read it again (and make one when there is none).
            (Err(Error::Stale(_)), Some(sender)) => {
                self.store.forget_unassigned_account_id(&sender.unassigned);
                self.create(new, false, &by, once).await
            }
            (done, _) => done,
        }?;
        tracing::info!(case = %format_case_number(created.case.number), "case created");
        Ok(Response::new(self.store.case_cache().answer(created).await))
    }

    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Result<Response<pb::Case>, Status> {
        caller(&request)?;
        let found = match &request.get_ref().lookup {
            Some(Lookup::Id(id)) => {
                let mut violations = FieldViolations::new();
                let id: CaseId = violations.id("id", id);
                violations.into_result()?;
                if let Some(cached) = self.store.case_cache().get(&id.to_string()).await {
                    return Ok(Response::new(cached));
                }
                self.store.get_case(id).await?
            }
            Some(Lookup::CaseNumber(number)) => {
                let number = parse_case_number(number).ok_or_else(|| Error::field("case_number", "must look like C-000123"))?;
                self.store.get_case_by_number(number).await?
            }
            None => return Err(Error::field("lookup", "send either id or case_number").into()),
        };
        Ok(Response::new(self.store.case_cache().answer(found).await))
    }

    async fn list_cases(&self, request: Request<pb::ListCasesRequest>) -> Result<Response<pb::ListCasesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<CaseCursor> = page::decode(&mut violations, &request.page_token);
        let statuses = violations.enum_values("statuses", &request.statuses, CaseStatus::from_wire);
        let priorities = violations.enum_values("priorities", &request.priorities, Priority::from_wire);
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
            owner_id: violations.opt_id("owner_id", &request.owner_id),
            team_id: violations.opt_id("team_id", &request.team_id),
            account_id: violations.opt_id("account_id", &request.account_id),
            contact_id: violations.opt_id("contact_id", &request.contact_id),
            created_after,
            created_before,
            text: violations.optional_text("text", &request.text, SHORT_TEXT_MAX),
            unassigned_only: request.unassigned_only,
            tag: (!request.tag.is_empty()).then(|| violations.optional_text("tag", &request.tag, TAG_MAX).to_lowercase()),
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_cases(&filter, order, after, limit).await?;
        let total_size = if request.include_total_size { Some(self.store.count_cases(&filter).await?) } else { None };
        Ok(Response::new(pb::ListCasesResponse {
            cases: rows.into_iter().map(wire::case).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
            total_size,
        }))
    }

    async fn update_case(&self, request: Request<pb::UpdateCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case = request.case.unwrap_or_default();
        let mut target = violations.update_target("case", &case.id, &case.etag, request.update_mask.as_ref());
        let mut fields = parse_fields(&mut violations, &case, Some(&target.mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        if [CaseField::AccountId, CaseField::ServiceContractId, CaseField::ServiceContractNumber, CaseField::AssetSerialNumber]
            .into_iter()
            .any(|f| target.mask.contains(f))
        {
            let current = self.store.get_case(target.id).await?;
            self.check_contract(&mut fields, Some(&current), &mut target.mask).await?;
        }
        let updated = self.store.update_case(target, fields, &actor(&caller, &reason)).await?;
        Ok(Response::new(self.store.case_cache().answer(updated).await))
    }

    async fn assign_case(&self, request: Request<pb::AssignCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: CaseId = violations.id("id", &request.id);
        let owner: Option<StaffId> = violations.opt_id("owner_id", &request.owner_id);
        let team: Option<TeamId> = violations.opt_id("team_id", &request.team_id);
        let version = violations.etag("etag", &request.etag, false);
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        let updated = self.store.assign_case(id, version, owner, team, &actor(&caller, &reason)).await?;
        Ok(Response::new(self.store.case_cache().answer(updated).await))
    }

    async fn set_case_status(&self, request: Request<pb::SetCaseStatusRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: CaseId = violations.id("id", &request.id);
        // Refused when missing: the placeholder is never used.
        let status = violations.enum_value("status", request.status, CaseStatus::from_wire).unwrap_or(CaseStatus::New);
        let version = violations.etag("etag", &request.etag, false);
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        let updated = self.store.set_case_status(id, version, status, &actor(&caller, &reason)).await?;
        Ok(Response::new(self.store.case_cache().answer(updated).await))
    }

    async fn close_case(&self, request: Request<pb::CloseCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: CaseId = violations.id("id", &request.id);
        let status = violations.enum_value("status", request.status, CaseStatus::from_wire);
        if status.is_some_and(|s| !s.is_closed()) {
            violations.add("status", "must be CASE_STATUS_CLOSED_COMPLETE or CASE_STATUS_CLOSED_NO_FAULT");
        }
        let resolution = violations.required_text("resolution_summary", &request.resolution_summary, LONG_TEXT_MAX);
        let version = violations.etag("etag", &request.etag, false);
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        // Refused when missing: the placeholder is never used.
        let status = status.unwrap_or(CaseStatus::ClosedComplete);
        let updated = self.store.close_case(id, version, status, &resolution, &actor(&caller, &reason)).await?;
        Ok(Response::new(self.store.case_cache().answer(updated).await))
    }

    async fn reopen_case(&self, request: Request<pb::ReopenCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: CaseId = violations.id("id", &request.id);
        let reason = violations.required_text("reason", &request.reason, super::REASON_MAX);
        let version = violations.etag("etag", &request.etag, false);
        violations.into_result()?;
        let updated = self.store.reopen_case(id, version, &actor(&caller, &reason)).await?;
        Ok(Response::new(self.store.case_cache().answer(updated).await))
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
        violations.into_result()?;
        // Without a kind nothing else could be checked, so it was refused above.
        let Some(new) = new else { return Err(Error::field("activity.kind", "is required").into()) };
        let added = self.store.add_activity(new, caller.is_staff(), &actor(&caller, ""), key.as_ref()).await?;
        Ok(Response::new(wire::activity(added)))
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case_id: CaseId = violations.id("case_id", &request.case_id);
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<ActivityCursor> = page::decode(&mut violations, &request.page_token);
        violations.into_result()?;
        self.activity_page(case_id, request.public_only, false, after, limit).await
    }

    async fn list_recent_activities(
        &self,
        request: Request<pb::ListRecentActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case_id: CaseId = violations.id("case_id", &request.case_id);
        let limit = page::page_size(&mut violations, request.page_size);
        let mut before: Option<ActivityCursor> = page::decode(&mut violations, &request.page_token);
        if request.before_sequence < 0 {
            violations.add("before_sequence", "must not be negative");
        } else if request.before_sequence > 0 && before.as_ref().is_none_or(|c| c.newest_first) {
            // The nearer of the two bounds.
            let sequence = before.as_ref().map_or(request.before_sequence, |c| c.sequence.min(request.before_sequence));
            before = Some(ActivityCursor { sequence, newest_first: true });
        }
        violations.into_result()?;
        self.activity_page(case_id, request.public_only, true, before, limit).await
    }

    async fn list_case_history(
        &self,
        request: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(history(&self.store, &["case"], request.into_inner()).await?))
    }

    async fn list_case_status_changes(
        &self,
        request: Request<pb::ListCaseStatusChangesRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case_id: CaseId = violations.id("case_id", &request.case_id);
        let limit = page::page_size(&mut violations, request.page_size);
        let mut before: Option<StatusChangeCursor> = page::decode(&mut violations, &request.page_token);
        if let Some(id) = violations.optional_id("before_id", &request.before_id) {
            let id = id.to_string();
            // The nearer of the two bounds.
            let nearer = before.map_or(id.clone(), |c| c.before.min(id));
            before = Some(StatusChangeCursor { before: nearer });
        }
        violations.into_result()?;
        let (rows, next) = self.store.list_status_changes(case_id, before, limit).await?;
        Ok(Response::new(pb::ListHistoryResponse {
            entries: rows.into_iter().map(docket_kit::audit::to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
        }))
    }

    async fn list_case_types(
        &self,
        request: Request<pb::ListCaseTypesRequest>,
    ) -> Result<Response<pb::ListCaseTypesResponse>, Status> {
        caller(&request)?;
        let types = self.store.list_case_types(request.get_ref().include_inactive).await?;
        Ok(Response::new(pb::ListCaseTypesResponse { case_types: types.into_iter().map(wire::case_type).collect() }))
    }

    async fn create_case_type(&self, request: Request<pb::CreateCaseTypeRequest>) -> Result<Response<pb::CaseType>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let case_type = request.into_inner().case_type.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let id = type_key(&mut violations, "case_type.id", &case_type.id);
        let name = violations.required_text("case_type.name", &case_type.name, NAME_MAX);
        violations.into_result()?;
        Ok(Response::new(wire::case_type(self.store.create_case_type(&id, &name, &actor(&caller, "")).await?)))
    }

    async fn update_case_type(&self, request: Request<pb::UpdateCaseTypeRequest>) -> Result<Response<pb::CaseType>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let case_type = request.case_type.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let id = type_key(&mut violations, "case_type.id", &case_type.id);
        let mask: FieldMask<CaseTypeField> = violations.field_mask(request.update_mask.as_ref());
        let name = match mask.contains(CaseTypeField::Name) {
            true => violations.required_text("case_type.name", &case_type.name, NAME_MAX),
            false => String::new(),
        };
        violations.into_result()?;
        let updated = self.store.update_case_type(&id, &mask, &name, case_type.active, &actor(&caller, "")).await?;
        Ok(Response::new(wire::case_type(updated)))
    }
}
