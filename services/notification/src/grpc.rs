//! `docket.notification.v1.NotificationService`.

use docket_kit::{
    auth::caller,
    error::{FieldViolations, invalid_argument},
    page, time,
};
use docket_proto::notification::v1::{self as pb, notification_service_server::NotificationService};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use crate::{
    clients::CaseClients,
    domain::{ACCESS_EVENT_TYPES, EVENT_TYPES, NotifySettings, Template, template_variables, validate_template},
    inbound::{InboundSettings, IngestError, IngestOutcome, ingest},
    store::{self, DeliveryFilter, entities::delivery},
};

/// Largest raw email IngestEmail takes.
pub const MAX_EMAIL_BYTES: usize = 10 * 1024 * 1024;

pub struct NotificationApi {
    db: DatabaseConnection,
    clients: CaseClients,
    inbound: InboundSettings,
}

impl NotificationApi {
    pub fn new(db: DatabaseConnection, clients: CaseClients, inbound: InboundSettings) -> Self {
        Self { db, clients, inbound }
    }
}

fn db_error(err: sea_orm::DbErr) -> Status {
    docket_kit::error::database(&err)
}

fn settings_to_proto(value: NotifySettings, version: i64, updated: Option<chrono::DateTime<chrono::Utc>>) -> pb::Settings {
    pb::Settings {
        contact_event_types: value.contact_event_types,
        owner_event_types: value.owner_event_types,
        team_event_types: value.team_event_types,
        sender_address: value.sender_address,
        sender_name: value.sender_name,
        digest_window_seconds: value.digest_window_seconds,
        portal_base_url: value.portal_base_url,
        update_time: time::to_proto_opt(updated),
        etag: version.to_string(),
    }
}

fn event_types(violations: &mut FieldViolations, field: &str, types: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, event_type) in types.iter().enumerate() {
        if !EVENT_TYPES.contains(&event_type.as_str()) {
            violations.add(
                format!("{field}[{i}]"),
                format!(
                    "`{}` is not an event type; known: {}",
                    event_type.chars().take(64).collect::<String>(),
                    EVENT_TYPES.join(", ")
                ),
            );
        } else if !out.contains(event_type) {
            out.push(event_type.clone());
        }
    }
    out
}

fn status_key(status: i32) -> Option<&'static str> {
    match pb::DeliveryStatus::try_from(status).ok()? {
        pb::DeliveryStatus::Unspecified => None,
        pb::DeliveryStatus::Pending => Some(store::PENDING),
        pb::DeliveryStatus::Sent => Some(store::SENT),
        pb::DeliveryStatus::Failed => Some(store::FAILED),
        pb::DeliveryStatus::Merged => Some(store::MERGED),
    }
}

fn delivery_to_proto(row: delivery::Model) -> pb::Delivery {
    let status = match row.status.as_str() {
        store::PENDING => pb::DeliveryStatus::Pending,
        store::SENT => pb::DeliveryStatus::Sent,
        store::FAILED => pb::DeliveryStatus::Failed,
        store::MERGED => pb::DeliveryStatus::Merged,
        _ => pb::DeliveryStatus::Unspecified,
    };
    pb::Delivery {
        status: status as i32,
        create_time: Some(time::to_proto(row.created_at)),
        sent_time: time::to_proto_opt(row.sent_at),
        id: row.id,
        event_id: row.event_id,
        event_type: row.event_type,
        case_id: row.case_id,
        case_number: row.case_number,
        recipient: row.recipient,
        recipient_kind: row.recipient_kind,
        subject: row.subject,
        attempts: row.attempts,
        last_error: row.last_error,
        message_id: row.message_id,
    }
}

#[derive(Serialize, Deserialize)]
struct DeliveryCursor {
    at: i64,
    id: String,
}

fn template_to_proto(event_type: &str, template: Template, saved: Option<store::entities::template::Model>) -> pb::Template {
    pb::Template {
        event_type: event_type.to_owned(),
        subject: template.subject,
        body: template.body,
        customized: saved.is_some(),
        update_time: saved.map(|s| time::to_proto(s.updated_at)),
    }
}

/// Event types with a template: case events and the portal's access emails.
fn templated_event_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().chain(ACCESS_EVENT_TYPES).copied()
}

fn known_event_type(violations: &mut FieldViolations, field: &str, event_type: &str) {
    if !templated_event_types().any(|known| known == event_type) {
        violations.add(
            field,
            format!(
                "`{}` is not an event type; known: {}",
                event_type.chars().take(64).collect::<String>(),
                templated_event_types().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn get_settings(&self, request: Request<pb::GetSettingsRequest>) -> Result<Response<pb::Settings>, Status> {
        caller(&request)?;
        let (value, version, updated) = store::load_settings(&self.db).await.map_err(db_error)?;
        Ok(Response::new(settings_to_proto(value, version, updated)))
    }

    async fn update_settings(&self, request: Request<pb::UpdateSettingsRequest>) -> Result<Response<pb::Settings>, Status> {
        caller(&request)?.require_admin()?;
        let request = request.into_inner();
        let sent = request.settings.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        const FIELDS: &[&str] = &[
            "contact_event_types",
            "owner_event_types",
            "team_event_types",
            "sender_address",
            "sender_name",
            "digest_window_seconds",
            "portal_base_url",
        ];
        if paths.is_empty() {
            violations.add("update_mask", format!("name the fields to change; allowed: {}", FIELDS.join(", ")));
        }
        for path in &paths {
            if !FIELDS.contains(&path.as_str()) {
                violations.add(
                    "update_mask",
                    format!("`{}` cannot be changed; allowed: {}", path.chars().take(64).collect::<String>(), FIELDS.join(", ")),
                );
            }
        }
        let etag = sent.etag.trim().parse::<i64>().ok().filter(|v| *v >= 0);
        if etag.is_none() {
            violations.add("settings.etag", "is required: send the etag of the settings as you read them");
        }
        let (mut value, version, _) = store::load_settings(&self.db).await.map_err(db_error)?;
        let wants = |field: &str| paths.iter().any(|p| p == field);
        if wants("contact_event_types") {
            value.contact_event_types = event_types(&mut violations, "settings.contact_event_types", &sent.contact_event_types);
        }
        if wants("owner_event_types") {
            value.owner_event_types = event_types(&mut violations, "settings.owner_event_types", &sent.owner_event_types);
        }
        if wants("team_event_types") {
            value.team_event_types = event_types(&mut violations, "settings.team_event_types", &sent.team_event_types);
        }
        if wants("sender_address") {
            value.sender_address = violations.email("settings.sender_address", &sent.sender_address, true);
        }
        if wants("sender_name") {
            value.sender_name = violations.required_text("settings.sender_name", &sent.sender_name, 200);
        }
        if wants("digest_window_seconds") {
            if !(0..=86_400).contains(&sent.digest_window_seconds) {
                violations.add("settings.digest_window_seconds", "must be between 0 (off) and 86400");
            }
            value.digest_window_seconds = sent.digest_window_seconds;
        }
        if wants("portal_base_url") {
            let url = violations.required_text("settings.portal_base_url", &sent.portal_base_url, 500);
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                violations.add("settings.portal_base_url", "must start with http:// or https://");
            }
            value.portal_base_url = url;
        }
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let Some(etag) = etag else { return Err(Status::internal("validated etag missing")) };
        if etag != version {
            return Err(Status::aborted(format!(
                "the settings were changed since they were read (etag {etag}, now {version}); read them again"
            )));
        }
        let now = time::now();
        match store::save_settings(&self.db, &value, version, now).await.map_err(db_error)? {
            Some(new_version) => Ok(Response::new(settings_to_proto(value, new_version, Some(now)))),
            None => Err(Status::aborted("the settings were changed meanwhile; read them again")),
        }
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        caller(&request)?;
        let mut templates = Vec::new();
        for event_type in templated_event_types() {
            let (template, saved) = store::template(&self.db, event_type).await.map_err(db_error)?;
            templates.push(template_to_proto(event_type, template, saved));
        }
        Ok(Response::new(pb::ListTemplatesResponse { templates, variables: template_variables().into_iter().collect() }))
    }

    async fn update_template(&self, request: Request<pb::UpdateTemplateRequest>) -> Result<Response<pb::Template>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let sent = request.into_inner().template.unwrap_or_default();
        let mut violations = FieldViolations::new();
        known_event_type(&mut violations, "template.event_type", &sent.event_type);
        let subject = violations.required_text("template.subject", &sent.subject, 500);
        if sent.body.trim().is_empty() {
            violations.add("template.body", "is required");
        } else if sent.body.chars().count() > 50_000 {
            violations.add("template.body", "is longer than 50000 characters");
        }
        let template = Template { subject, body: sent.body.clone() };
        if violations.is_empty()
            && let Err(err) = validate_template(&sent.event_type, &template)
        {
            violations.add(err.field, format!("does not render: {}", err.message));
        }
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let saved =
            store::save_template(&self.db, &sent.event_type, &template, &caller.actor, time::now()).await.map_err(db_error)?;
        Ok(Response::new(template_to_proto(&sent.event_type, template, Some(saved))))
    }

    async fn reset_template(&self, request: Request<pb::ResetTemplateRequest>) -> Result<Response<pb::Template>, Status> {
        caller(&request)?.require_admin()?;
        let event_type = request.into_inner().event_type;
        let mut violations = FieldViolations::new();
        known_event_type(&mut violations, "event_type", &event_type);
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        store::reset_template(&self.db, &event_type).await.map_err(db_error)?;
        let (template, saved) = store::template(&self.db, &event_type).await.map_err(db_error)?;
        Ok(Response::new(template_to_proto(&event_type, template, saved)))
    }

    async fn set_contact_opt_out(
        &self,
        request: Request<pb::SetContactOptOutRequest>,
    ) -> Result<Response<pb::ContactOptOut>, Status> {
        caller(&request)?.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let contact_id = violations.required_id("contact_id", &request.contact_id);
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let contact_id = contact_id.map(|id| id.to_string()).unwrap_or_default();
        let lookup = docket_proto::case::v1::get_contact_request::Lookup::Id(contact_id.clone());
        self.clients
            .contacts
            .clone()
            .get_contact(docket_proto::case::v1::GetContactRequest { lookup: Some(lookup) })
            .await
            .map_err(|status| {
                if status.code() == tonic::Code::NotFound {
                    invalid_argument(&FieldViolations::single("contact_id", format!("no contact has the id {contact_id}")))
                } else {
                    Status::unavailable(format!("the case service cannot confirm the contact: {}", status.message()))
                }
            })?;
        let row = store::set_opt_out(&self.db, &contact_id, request.opted_out, time::now()).await.map_err(db_error)?;
        Ok(Response::new(pb::ContactOptOut {
            contact_id: row.contact_id,
            opted_out: row.opted_out,
            update_time: Some(time::to_proto(row.updated_at)),
        }))
    }

    async fn list_contact_opt_outs(
        &self,
        request: Request<pb::ListContactOptOutsRequest>,
    ) -> Result<Response<pb::ListContactOptOutsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<String> = page::decode(&mut violations, &request.page_token);
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let mut rows = store::list_opt_outs(&self.db, after, limit).await.map_err(db_error)?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| page::encode(&r.contact_id)).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListContactOptOutsResponse {
            opt_outs: rows
                .into_iter()
                .map(|r| pb::ContactOptOut {
                    contact_id: r.contact_id,
                    opted_out: r.opted_out,
                    update_time: Some(time::to_proto(r.updated_at)),
                })
                .collect(),
            next_page_token: next,
        }))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<DeliveryCursor> = page::decode(&mut violations, &request.page_token);
        let case_id = violations.optional_id("case_id", &request.case_id).map(|id| id.to_string());
        let recipient = (!request.recipient.trim().is_empty()).then(|| violations.email("recipient", &request.recipient, true));
        let status = match request.status {
            0 => None,
            raw => {
                let key = status_key(raw);
                if key.is_none() {
                    violations.add("status", format!("{raw} is not a known value"));
                }
                key
            }
        };
        let after = match after {
            Some(cursor) => match time::from_micros(cursor.at) {
                Some(at) => Some((at, cursor.id)),
                None => {
                    violations.add("page_token", "is not a page token returned by this list call");
                    None
                }
            },
            None => None,
        };
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let filter = DeliveryFilter { case_id, recipient, status };
        let mut rows = store::list_deliveries(&self.db, &filter, after, limit).await.map_err(db_error)?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| page::encode(&DeliveryCursor { at: r.created_at.timestamp_micros(), id: r.id.clone() }))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: rows.into_iter().map(delivery_to_proto).collect(),
            next_page_token: next,
        }))
    }

    async fn ingest_email(&self, request: Request<pb::IngestEmailRequest>) -> Result<Response<pb::IngestEmailResponse>, Status> {
        caller(&request)?.require_write()?;
        let raw = request.into_inner().raw_message;
        if raw.len() > MAX_EMAIL_BYTES {
            return Err(invalid_argument(&FieldViolations::single(
                "raw_message",
                format!("is larger than {MAX_EMAIL_BYTES} bytes"),
            )));
        }
        // Mail from our own sender address is a loop.
        let (settings, _, _) = store::load_settings(&self.db).await.map_err(db_error)?;
        let mut inbound = self.inbound.clone();
        inbound.own_addresses.push(settings.sender_address);
        let outcome = ingest(&raw, &self.clients, &inbound).await.map_err(|err| match err {
            IngestError::Malformed(message) => invalid_argument(&FieldViolations::single("raw_message", message)),
            IngestError::CaseService(status) => status,
        })?;
        use pb::ingest_email_response::Outcome;
        Ok(Response::new(match outcome {
            IngestOutcome::AddedToCase { case_id, case_number, activity_id } => pb::IngestEmailResponse {
                outcome: Outcome::AddedToCase as i32,
                case_id,
                case_number,
                activity_id,
                reason: String::new(),
            },
            IngestOutcome::CreatedCase { case_id, case_number } => pb::IngestEmailResponse {
                outcome: Outcome::CreatedCase as i32,
                case_id,
                case_number,
                activity_id: String::new(),
                reason: String::new(),
            },
            IngestOutcome::Ignored { reason } => {
                pb::IngestEmailResponse { outcome: Outcome::Ignored as i32, reason, ..Default::default() }
            }
        }))
    }
}
