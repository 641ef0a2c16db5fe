//! `docket.portal.v1.WebFormService`: admins define web forms; SubmitForm
//! turns a submission into a contact (found or created by email) and a case
//! with channel WEB_FORM.

use docket_kit::mutation::Once;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, PoisonError},
    time::Duration,
};

use docket_kit::{
    auth::caller,
    error::FieldViolations,
    mutation::Stamps,
    page,
    request::{FieldMask, wanted},
    secret,
};
use docket_proto::{
    case::v1 as cpb,
    portal::v1::{self as pb, web_form_service_server::WebFormService},
};
use tonic::{Code, Request, Response, Status};

use super::{ADDRESS_MAX, Portal, REASON_MAX, actor, case_service, history, priority_to_proto};
use crate::{
    domain::{
        WebFormId,
        commands::WebFormField,
        forms::{
            FieldKind, FieldTarget, FormDefinition, FormField, ORIGINS_MAX, check_fields, check_origin, check_slug,
            read_submission,
        },
    },
    error::{Error, Result, permission_denied},
    records::FormRecord,
    store::{ConfirmationLink, FormCursor, Store, Submitted, submission_id_reused},
};

pub struct WebFormApi {
    portal: Portal,
    forms: SubmittedForms,
}

impl WebFormApi {
    pub fn new(portal: Portal) -> Self {
        Self { portal, forms: SubmittedForms::default() }
    }
}

/// How long submissions go on using a form as read (issue 15: the read was
/// a sixth of a submission's statements). A change made through this
/// replica of the portal service applies to the next submission; one made
/// through another replica, within this time.
const FORM_KEPT_FOR: Duration = Duration::from_secs(1);

/// The forms submissions were made to lately, by slug.
#[derive(Default)]
struct SubmittedForms {
    kept: Mutex<KeptForms>,
}

#[derive(Default)]
struct KeptForms {
    by_slug: HashMap<String, (tokio::time::Instant, FormRecord)>,
    /// Counts the changes made here, so a read that began before one is
    /// not kept after it.
    changes: u64,
}

impl SubmittedForms {
    fn kept(&self) -> std::sync::MutexGuard<'_, KeptForms> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn get(&self, store: &Store, slug: &str) -> Result<FormRecord> {
        let changes = {
            let kept = self.kept();
            if let Some((read_at, form)) = kept.by_slug.get(slug)
                && read_at.elapsed() < FORM_KEPT_FOR
            {
                return Ok(form.clone());
            }
            kept.changes
        };
        let read_at = tokio::time::Instant::now();
        let form = store.get_form_by_slug(slug).await?;
        let mut kept = self.kept();
        if kept.changes == changes {
            kept.by_slug.retain(|_, (at, _)| at.elapsed() < FORM_KEPT_FOR);
            kept.by_slug.insert(slug.to_owned(), (read_at, form.clone()));
        }
        Ok(form)
    }

    /// A form changed here (any form: a new slug frees the old one).
    fn changed(&self) {
        let mut kept = self.kept();
        kept.by_slug.clear();
        kept.changes += 1;
    }
}

pub use docket_kit::clients::UNCONFIRMED_TAG;

/// How long the link that confirms such a submission works.
const CONFIRMATION_TTL: chrono::Duration = chrono::Duration::days(7);

/// The idempotency key of a call to the case service made for one submission.
fn submission_key(purpose: &str, form_id: &str, submission_id: &str) -> String {
    format!("{purpose}:{}", &secret::digest(&format!("{form_id}\n{submission_id}"))[..40])
}

/// What a form says after a submission when its admin wrote nothing.
const DEFAULT_SUCCESS: &str = "Thank you. We have received your request and will be in touch.";

fn kind_from_proto(raw: i32) -> Option<FieldKind> {
    Some(match pb::FormFieldKind::try_from(raw).ok()? {
        pb::FormFieldKind::Unspecified => return None,
        pb::FormFieldKind::Text => FieldKind::Text,
        pb::FormFieldKind::Textarea => FieldKind::Textarea,
        pb::FormFieldKind::Email => FieldKind::Email,
        pb::FormFieldKind::Select => FieldKind::Select,
    })
}

fn kind_to_proto(kind: FieldKind) -> pb::FormFieldKind {
    match kind {
        FieldKind::Text => pb::FormFieldKind::Text,
        FieldKind::Textarea => pb::FormFieldKind::Textarea,
        FieldKind::Email => pb::FormFieldKind::Email,
        FieldKind::Select => pb::FormFieldKind::Select,
    }
}

fn target_from_proto(raw: i32) -> Option<FieldTarget> {
    Some(match pb::FormFieldTarget::try_from(raw).ok()? {
        pb::FormFieldTarget::Unspecified => return None,
        pb::FormFieldTarget::Subject => FieldTarget::Subject,
        pb::FormFieldTarget::Description => FieldTarget::Description,
        pb::FormFieldTarget::AssetSerialNumber => FieldTarget::AssetSerialNumber,
        pb::FormFieldTarget::ContactName => FieldTarget::ContactName,
        pb::FormFieldTarget::ContactEmail => FieldTarget::ContactEmail,
        pb::FormFieldTarget::Phone => FieldTarget::Phone,
        pb::FormFieldTarget::AppendToDescription => FieldTarget::AppendToDescription,
    })
}

fn target_to_proto(target: FieldTarget) -> pb::FormFieldTarget {
    match target {
        FieldTarget::Subject => pb::FormFieldTarget::Subject,
        FieldTarget::Description => pb::FormFieldTarget::Description,
        FieldTarget::AssetSerialNumber => pb::FormFieldTarget::AssetSerialNumber,
        FieldTarget::ContactName => pb::FormFieldTarget::ContactName,
        FieldTarget::ContactEmail => pb::FormFieldTarget::ContactEmail,
        FieldTarget::Phone => pb::FormFieldTarget::Phone,
        FieldTarget::AppendToDescription => pb::FormFieldTarget::AppendToDescription,
    }
}

fn priority_name(raw: i32) -> Option<&'static str> {
    match cpb::CasePriority::try_from(raw).ok()? {
        cpb::CasePriority::Unspecified => None,
        cpb::CasePriority::Low => Some("low"),
        cpb::CasePriority::Medium => Some("medium"),
        cpb::CasePriority::High => Some("high"),
        cpb::CasePriority::Critical => Some("critical"),
    }
}

/// A field of the definition, its own values checked.
fn parse_field(violations: &mut FieldViolations, i: usize, field: &pb::FormField) -> Option<FormField> {
    let at = |part: &str| format!("web_form.fields[{i}].{part}");
    let label = violations.required_text(&at("label"), &field.label, 200);
    let help_text = violations.optional_text(&at("help_text"), &field.help_text, 500);
    let kind = kind_from_proto(field.kind);
    if kind.is_none() {
        violations.add(
            at("kind"),
            if field.kind == 0 { "is required".to_owned() } else { format!("{} is not a known value", field.kind) },
        );
    }
    let target = target_from_proto(field.target);
    if target.is_none() {
        violations.add(
            at("target"),
            if field.target == 0 { "is required".to_owned() } else { format!("{} is not a known value", field.target) },
        );
    }
    if field.max_length < 0 {
        violations.add(at("max_length"), "must not be negative");
    }
    let options: Vec<String> = field.options.iter().map(|o| o.trim().to_owned()).collect();
    Some(FormField {
        name: field.name.trim().to_owned(),
        label,
        kind: kind?,
        options,
        required: field.required,
        max_length: u32::try_from(field.max_length).unwrap_or(0),
        target: target?,
        help_text,
    })
}

/// Validates what a create sets (`mask: None`) or an update changes;
/// unmasked parts keep defaults and are not looked at.
fn parse_form(violations: &mut FieldViolations, form: &pb::WebForm, mask: Option<&FieldMask<WebFormField>>) -> FormDefinition {
    let wants = |field| wanted(mask, field);
    let mut out = FormDefinition {
        slug: String::new(),
        title: String::new(),
        intro: String::new(),
        fields: Vec::new(),
        case_type_id: String::new(),
        priority: "medium".to_owned(),
        team_id: None,
        account_id: None,
        allowed_origins: Vec::new(),
        success_message: String::new(),
        active: form.active,
    };
    if wants(WebFormField::Slug) {
        out.slug = check_slug(violations, "web_form.slug", &form.slug);
    }
    if wants(WebFormField::Title) {
        out.title = violations.required_text("web_form.title", &form.title, 200);
    }
    if wants(WebFormField::Intro) {
        out.intro = violations.optional_text("web_form.intro", &form.intro, 5_000);
    }
    if wants(WebFormField::Fields) {
        let mut all = true;
        for (i, field) in form.fields.iter().enumerate().take(crate::domain::forms::FIELDS_MAX + 1) {
            match parse_field(violations, i, field) {
                Some(parsed) => out.fields.push(parsed),
                None => all = false,
            }
        }
        if all {
            check_fields(violations, &out.fields);
        }
    }
    if wants(WebFormField::CaseTypeId) {
        let key = violations.required_text("web_form.case_type_id", &form.case_type_id, 50);
        if !key.is_empty() && !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            violations.add("web_form.case_type_id", "must be a case type key (a-z, 0-9 and _)");
        }
        out.case_type_id = key;
    }
    if wants(WebFormField::Priority) {
        match (form.priority, priority_name(form.priority)) {
            (0, _) if mask.is_none() => {}
            (_, Some(name)) => out.priority = name.to_owned(),
            (0, None) => violations.add("web_form.priority", "is required"),
            (raw, None) => violations.add("web_form.priority", format!("{raw} is not a known value")),
        }
    }
    if wants(WebFormField::TeamId) {
        out.team_id = violations.opt_id("web_form.team_id", &form.team_id);
    }
    if wants(WebFormField::AccountId) {
        out.account_id = violations.opt_id("web_form.account_id", &form.account_id);
    }
    if wants(WebFormField::AllowedOrigins) {
        if form.allowed_origins.len() > ORIGINS_MAX {
            violations.add(
                "web_form.allowed_origins",
                format!("has {} origins; the most allowed is {ORIGINS_MAX}", form.allowed_origins.len()),
            );
        }
        for (i, origin) in form.allowed_origins.iter().enumerate().take(ORIGINS_MAX) {
            let origin = check_origin(violations, &format!("web_form.allowed_origins[{i}]"), origin);
            if !out.allowed_origins.contains(&origin) {
                out.allowed_origins.push(origin);
            }
        }
    }
    if wants(WebFormField::SuccessMessage) {
        out.success_message = match violations.optional_text("web_form.success_message", &form.success_message, 2_000) {
            message if message.is_empty() => DEFAULT_SUCCESS.to_owned(),
            message => message,
        };
    }
    out
}

fn form_to_proto(record: FormRecord) -> pb::WebForm {
    let form = record.definition;
    let Stamps { create_time, update_time, etag } = Stamps::of(record.created_at, record.updated_at, record.version);
    pb::WebForm {
        id: record.id,
        slug: form.slug,
        title: form.title,
        intro: form.intro,
        fields: form
            .fields
            .into_iter()
            .map(|f| pb::FormField {
                name: f.name,
                label: f.label,
                kind: kind_to_proto(f.kind) as i32,
                options: f.options,
                required: f.required,
                max_length: i32::try_from(f.max_length).unwrap_or(i32::MAX),
                target: target_to_proto(f.target) as i32,
                help_text: f.help_text,
            })
            .collect(),
        case_type_id: form.case_type_id,
        priority: priority_to_proto(&form.priority) as i32,
        team_id: form.team_id.map(|id| id.to_string()).unwrap_or_default(),
        account_id: form.account_id.map(|id| id.to_string()).unwrap_or_default(),
        allowed_origins: form.allowed_origins,
        success_message: form.success_message,
        active: form.active,
        create_time,
        update_time,
        etag,
    }
}

impl Portal {
    /// Checks what a form refers to in the case service: an active case
    /// type, and the team and account, when named.
    async fn check_references(&self, form: &FormDefinition, mask: Option<&FieldMask<WebFormField>>) -> Result<()> {
        let wants = |field| wanted(mask, field);
        let mut violations = FieldViolations::new();
        if wants(WebFormField::CaseTypeId) && !self.case_types(false).await?.iter().any(|t| t.id == form.case_type_id && t.active)
        {
            violations.add("web_form.case_type_id", format!("no active case type has the id {}", form.case_type_id));
        }
        if wants(WebFormField::TeamId)
            && let Some(team) = form.team_id
        {
            match self.clients.staff.clone().get_team(cpb::GetTeamRequest { id: team.to_string() }).await {
                Ok(_) => {}
                Err(status) if status.code() == Code::NotFound => {
                    violations.add("web_form.team_id", format!("no team has the id {team}"))
                }
                Err(status) => return Err(case_service(status, &[])),
            }
        }
        if wants(WebFormField::AccountId)
            && let Some(account) = form.account_id
        {
            match self.clients.accounts.clone().get_account(cpb::GetAccountRequest { id: account.to_string() }).await {
                Ok(_) => {}
                Err(status) if status.code() == Code::NotFound => {
                    violations.add("web_form.account_id", format!("no account has the id {account}"))
                }
                Err(status) => return Err(case_service(status, &[])),
            }
        }
        Ok(violations.into_result()?)
    }
}

/// A stable digest of the submitted values, to tell a retry from a new submission.
fn values_hash(values: &BTreeMap<String, String>) -> String {
    secret::digest(&serde_json::to_string(values).unwrap_or_default())
}

#[tonic::async_trait]
impl WebFormService for WebFormApi {
    async fn create_web_form(&self, request: Request<pb::CreateWebFormRequest>) -> Result<Response<pb::WebForm>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let form = parse_form(&mut violations, &request.web_form.clone().unwrap_or_default(), None);
        let key = docket_kit::idempotency::from_request(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateWebFormRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        self.portal.check_references(&form, None).await?;
        let created = self
            .portal
            .store
            .create_form(form, &actor(&caller.actor, ""), Once { scope: "CreateWebForm", key: key.as_ref() })
            .await?;
        tracing::info!(form = %created.definition.slug, "web form created");
        Ok(Response::new(form_to_proto(created)))
    }

    async fn get_web_form(&self, request: Request<pb::GetWebFormRequest>) -> Result<Response<pb::WebForm>, Status> {
        caller(&request)?;
        let store = &self.portal.store;
        let mut violations = FieldViolations::new();
        let found = match &request.get_ref().lookup {
            Some(pb::get_web_form_request::Lookup::Id(id)) => {
                let id: WebFormId = violations.id("id", id);
                violations.into_result()?;
                store.get_form(id).await?
            }
            Some(pb::get_web_form_request::Lookup::Slug(slug)) => {
                let slug = check_slug(&mut violations, "slug", slug);
                violations.into_result()?;
                store.get_form_by_slug(&slug).await?
            }
            None => return Err(Error::field("lookup", "send either id or slug").into()),
        };
        Ok(Response::new(form_to_proto(found)))
    }

    async fn list_web_forms(
        &self,
        request: Request<pb::ListWebFormsRequest>,
    ) -> Result<Response<pb::ListWebFormsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<FormCursor> = page::decode(&mut violations, &request.page_token);
        violations.into_result()?;
        let (rows, next) = self.portal.store.list_forms(request.active_only, after, limit).await?;
        Ok(Response::new(pb::ListWebFormsResponse {
            web_forms: rows.into_iter().map(form_to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
        }))
    }

    async fn update_web_form(&self, request: Request<pb::UpdateWebFormRequest>) -> Result<Response<pb::WebForm>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let form = request.web_form.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let target = violations.update_target("web_form", &form.id, &form.etag, request.update_mask.as_ref());
        let new = parse_form(&mut violations, &form, Some(&target.mask));
        let reason = violations.optional_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        self.portal.check_references(&new, Some(&target.mask)).await?;
        let updated = self.portal.store.update_form(target, new, &actor(&caller.actor, &reason)).await;
        self.forms.changed();
        let updated = updated?;
        Ok(Response::new(form_to_proto(updated)))
    }

    async fn delete_web_form(
        &self,
        request: Request<pb::DeleteWebFormRequest>,
    ) -> Result<Response<pb::DeleteWebFormResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.id("id", &request.id);
        let etag = violations.etag("etag", &request.etag, true).unwrap_or_default();
        let reason = violations.optional_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        let deleted = self.portal.store.delete_form(id, etag, &actor(&caller.actor, &reason)).await;
        self.forms.changed();
        deleted?;
        Ok(Response::new(pb::DeleteWebFormResponse {}))
    }

    async fn submit_form(&self, request: Request<pb::SubmitFormRequest>) -> Result<Response<pb::SubmitFormResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let slug = check_slug(&mut violations, "slug", &request.slug);
        let submission_id = violations.required_text("submission_id", &request.submission_id, 200);
        let client_ip = violations.optional_text("client_ip", &request.client_ip, ADDRESS_MAX);
        let origin = violations.optional_text("origin", &request.origin, ADDRESS_MAX);
        if request.values.len() > 2 * crate::domain::forms::FIELDS_MAX {
            violations.add("values", format!("has {} values; no form has that many fields", request.values.len()));
        }
        violations.into_result()?;
        let portal = &self.portal;
        let record = self.forms.get(&portal.store, &slug).await?;
        let form = &record.definition;
        if !form.active {
            return Err(Error::Precondition(format!("the form {slug} is not accepting submissions")).into());
        }
        if !form.allows_origin(&origin) {
            return Err(permission_denied(format!("the form {slug} may not be used from {origin}")).into());
        }
        let values: BTreeMap<String, String> = request.values.into_iter().collect();
        let mut violations = FieldViolations::new();
        let submission = read_submission(&mut violations, &form.title, &form.fields, &values);
        violations.into_result()?;
        let request_hash = values_hash(&values);
        let answer = |done: Submitted| pb::SubmitFormResponse {
            case_number: done.case_number,
            success_message: form.success_message.clone(),
            awaiting_confirmation: done.awaiting_confirmation,
            web_form: Some(form_to_proto(record.clone())),
        };
        let subject = submission.subject.clone();
        let create = cpb::CreateCaseRequest {
            case: Some(cpb::Case {
                subject: submission.subject,
                description: submission.description,
                type_id: form.case_type_id.clone(),
                priority: priority_to_proto(&form.priority) as i32,
                channel: cpb::CaseChannel::WebForm as i32,
                team_id: form.team_id.map(|id| id.to_string()).unwrap_or_default(),
                web_form_id: record.id.clone(),
                asset_serial_number: submission.asset_serial_number,
                ..Default::default()
            }),
            // A retry after a lost answer gets the same case from the case service.
            idempotency_key: submission_key("web-form", &record.id, &submission_id),
            // The case service finds or creates the contact with the case,
            // and decides whether the case is the sender's own (see `Sender`).
            sender: Some(cpb::Sender {
                email: submission.email.clone(),
                name: submission.contact_name.clone(),
                phone: submission.phone.clone(),
                contact_account_id: form.account_id.map(|id| id.to_string()).unwrap_or_default(),
                unassigned_account_name: portal.unassigned_account_name.clone(),
            }),
        };
        // A retry is not looked for first: the key makes the case service
        // answer with the case it made (or refuse other values), and the
        // submission's row, once recorded, is not recorded again.
        let created = portal
            .clients
            .cases
            .clone()
            .create_case(create)
            .await
            .map_err(|status| {
                if docket_kit::idempotency::refused_as_reused(&status) {
                    submission_id_reused()
                } else {
                    case_service(status, &[])
                }
            })?
            .into_inner();
        let awaiting_confirmation = created.tags.iter().any(|tag| tag == UNCONFIRMED_TAG);
        let (contact_id, confirmation) = if awaiting_confirmation {
            // A retry of a held submission answers as recorded: it neither
            // counts against the address's links nor notes the case again.
            if let Some(done) = portal.store.find_submission(&record.id, &submission_id, &request_hash).await? {
                return Ok(Response::new(answer(done)));
            }
            let contact = portal
                .clients
                .contact_by_email(&submission.email)
                .await
                .map_err(|status| case_service(status, &[]))?
                .ok_or_else(|| Status::internal("the case service held the case for a sender it has no contact of"))?;
            // Past the address's hourly allowance, the case still waits, for an agent only.
            let send_link = portal.sessions.confirmation_allowed(&contact.email).await?;
            let how = if send_link {
                "until that address follows the link we emailed it"
            } else {
                "for an agent: that address has been sent as many confirmation links this hour as it may get, so no \
                 link went out"
            };
            let note = cpb::AddActivityRequest {
                activity: Some(cpb::Activity {
                    case_id: created.id.clone(),
                    kind: cpb::ActivityKind::Note as i32,
                    visibility: cpb::Visibility::Internal as i32,
                    body: format!(
                        "Sent through the web form \"{}\" naming {}, the address of an existing contact ({}). A web form \
                         proves nothing about an address, so this case waits here, outside their account, {how}. To \
                         accept it without that, set the case's account and contact and remove the tag \
                         {UNCONFIRMED_TAG}.",
                        form.title, submission.email, contact.name
                    ),
                    ..Default::default()
                }),
                idempotency_key: submission_key("web-form-held", &record.id, &submission_id),
            };
            portal.clients.cases.clone().add_activity(note).await.map_err(|status| case_service(status, &[]))?;
            let link = send_link.then(|| ConfirmationLink {
                email: contact.email.clone(),
                name: contact.name.clone(),
                subject,
                expires_at: docket_kit::time::now() + CONFIRMATION_TTL,
            });
            (contact.id, link)
        } else {
            (created.contacts.first().map(|c| c.contact_id.clone()).unwrap_or_default(), None)
        };
        let submitted = Submitted { contact_id, case_id: created.id, case_number: created.case_number, awaiting_confirmation };
        let by = actor(&caller.actor, "web form submission");
        let done = portal
            .store
            .record_submission(&record.id, &submission_id, &request_hash, submitted, confirmation, &client_ip, &origin, &by)
            .await?;
        tracing::info!(
            form = %slug,
            case = %done.case_number,
            awaiting_confirmation = done.awaiting_confirmation,
            "web form submission opened a case"
        );
        Ok(Response::new(answer(done)))
    }

    async fn confirm_submission(
        &self,
        request: Request<pb::ConfirmSubmissionRequest>,
    ) -> Result<Response<pb::ConfirmSubmissionResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let pb::ConfirmSubmissionRequest { token, validate_only } = request.into_inner();
        if token.is_empty() || token.len() > 200 {
            return Err(Error::field("token", "is not a confirmation link's token").into());
        }
        let portal = &self.portal;
        let submission = portal.store.submission_by_confirmation(&secret::digest(&token)).await?;
        let mut cases = portal.clients.cases.clone();
        let case = cases
            .get_case(cpb::GetCaseRequest { lookup: Some(cpb::get_case_request::Lookup::Id(submission.case_id.clone())) })
            .await
            .map_err(|status| case_service(status, &[]))?
            .into_inner();
        let answer = pb::ConfirmSubmissionResponse { case_number: case.case_number.clone(), subject: case.subject.clone() };
        if submission.confirmed_at.is_some() {
            return Ok(Response::new(answer));
        }
        let now = docket_kit::time::now();
        if submission.confirm_expires_at.is_none_or(|at| at <= now) {
            return Err(Error::Precondition(format!(
                "This link has expired. Your request {} is with our team, who will be in touch.",
                case.case_number
            ))
            .into());
        }
        let contact = portal
            .clients
            .contacts
            .clone()
            .get_contact(cpb::GetContactRequest {
                lookup: Some(cpb::get_contact_request::Lookup::Id(submission.contact_id.clone())),
            })
            .await
            .map_err(|status| case_service(status, &[]))?
            .into_inner();
        if !contact.email.eq_ignore_ascii_case(&submission.confirm_email) {
            return Err(Error::Precondition(format!(
                "This link went to an address that has changed since. Your request {} is with our team, who will be in touch.",
                case.case_number
            ))
            .into());
        }
        if validate_only {
            return Ok(Response::new(answer));
        }
        // An agent who already placed the case (and took the tag off) decided: keep theirs.
        if case.tags.iter().any(|tag| tag == UNCONFIRMED_TAG) {
            let update = cpb::UpdateCaseRequest {
                case: Some(cpb::Case {
                    id: case.id.clone(),
                    etag: case.etag.clone(),
                    account_id: contact.account_id.clone(),
                    contacts: vec![cpb::CaseContact { contact_id: contact.id.clone(), primary: true }],
                    tags: case.tags.iter().filter(|tag| *tag != UNCONFIRMED_TAG).cloned().collect(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["account_id".into(), "contacts".into(), "tags".into()] }),
                reason: format!("{} confirmed the web form submission", submission.confirm_email),
            };
            cases.update_case(update).await.map_err(|status| case_service(status, &[]))?;
        }
        portal.store.mark_confirmed(&submission, &actor(&caller.actor, "the address confirmed the submission")).await?;
        tracing::info!(case = %answer.case_number, "web form submission confirmed by its address");
        Ok(Response::new(answer))
    }

    async fn list_web_form_history(
        &self,
        request: Request<cpb::ListHistoryRequest>,
    ) -> Result<Response<cpb::ListHistoryResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(history::<WebFormId>(&self.portal.store, "web_form", request.into_inner()).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PRIORITY_NAMES;

    #[test]
    fn every_priority_name_maps_to_its_proto_and_back() {
        for name in PRIORITY_NAMES {
            assert_eq!(priority_name(priority_to_proto(name) as i32), Some(*name));
        }
    }
}
