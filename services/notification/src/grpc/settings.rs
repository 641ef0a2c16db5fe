//! GetSettings, UpdateSettings.

use docket_kit::{
    auth::caller,
    error::FieldViolations,
    mutation::etag,
    request::{FieldMask, MaskField, wanted},
    time,
};
use docket_proto::notification::v1 as pb;
use tonic::{Request, Response, Status};

use super::shared::{actor, reason};
use crate::{
    domain::settings::{
        DIGEST_WINDOW_MAX_SECONDS, EVENT_TYPES, NotifySettings, PORTAL_URL_MAX, SENDER_NAME_MAX, SettingsChange, SettingsField,
        is_web_address,
    },
    store::{Store, settings::SettingsRecord},
};

fn to_proto(record: SettingsRecord) -> pb::Settings {
    let value = record.settings;
    pb::Settings {
        contact_event_types: value.contact_event_types,
        owner_event_types: value.owner_event_types,
        team_event_types: value.team_event_types,
        sender_address: value.sender_address,
        sender_name: value.sender_name,
        digest_window_seconds: value.digest_window_seconds,
        portal_base_url: value.portal_base_url,
        update_time: time::to_proto_opt(record.updated_at),
        etag: etag(record.version),
    }
}

/// The etag sent back: as the kit reads etags, except that "0" (the
/// built-in defaults, never saved) is one too. Bad input parses as 0 and
/// is refused with the other violations.
fn settings_etag(violations: &mut FieldViolations, value: &str) -> i64 {
    if value.trim().trim_matches('"') == "0" {
        return 0;
    }
    violations.etag("settings.etag", value, true).unwrap_or_default()
}

/// A list of event types, each known, each once.
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

/// The values of the fields in `mask`; the others keep placeholders.
fn parse_values(violations: &mut FieldViolations, sent: &pb::Settings, mask: &FieldMask<SettingsField>) -> NotifySettings {
    let mask = Some(mask);
    let mut values = NotifySettings::default();
    let types = |v: &mut FieldViolations, field: SettingsField, sent: &[String]| {
        if wanted(mask, field) { event_types(v, &format!("settings.{}", field.path()), sent) } else { Vec::new() }
    };
    values.contact_event_types = types(violations, SettingsField::ContactEventTypes, &sent.contact_event_types);
    values.owner_event_types = types(violations, SettingsField::OwnerEventTypes, &sent.owner_event_types);
    values.team_event_types = types(violations, SettingsField::TeamEventTypes, &sent.team_event_types);
    if wanted(mask, SettingsField::SenderAddress) {
        values.sender_address = violations.email("settings.sender_address", &sent.sender_address, true);
    }
    if wanted(mask, SettingsField::SenderName) {
        values.sender_name = violations.required_text("settings.sender_name", &sent.sender_name, SENDER_NAME_MAX);
    }
    if wanted(mask, SettingsField::DigestWindowSeconds) {
        if !(0..=DIGEST_WINDOW_MAX_SECONDS).contains(&sent.digest_window_seconds) {
            violations.add("settings.digest_window_seconds", format!("must be between 0 (off) and {DIGEST_WINDOW_MAX_SECONDS}"));
        }
        values.digest_window_seconds = sent.digest_window_seconds;
    }
    if wanted(mask, SettingsField::PortalBaseUrl) {
        let url = violations.required_text("settings.portal_base_url", &sent.portal_base_url, PORTAL_URL_MAX);
        if !url.is_empty() && !is_web_address(&url) {
            violations.add("settings.portal_base_url", "must start with http:// or https://");
        }
        values.portal_base_url = url;
    }
    values
}

pub async fn get(store: &Store, request: Request<pb::GetSettingsRequest>) -> Result<Response<pb::Settings>, Status> {
    caller(&request)?;
    Ok(Response::new(to_proto(store.settings().await?)))
}

pub async fn update(store: &Store, request: Request<pb::UpdateSettingsRequest>) -> Result<Response<pb::Settings>, Status> {
    let caller = caller(&request)?;
    caller.require_admin()?;
    let request = request.into_inner();
    let sent = request.settings.unwrap_or_default();
    let mut violations = FieldViolations::new();
    let mask = violations.field_mask(request.update_mask.as_ref());
    let etag = settings_etag(&mut violations, &sent.etag);
    let values = parse_values(&mut violations, &sent, &mask);
    let reason = reason(&mut violations, &request.reason);
    violations.into_result()?;
    let saved = store.update_settings(SettingsChange { etag, mask, values }, &actor(&caller, &reason)).await?;
    Ok(Response::new(to_proto(saved)))
}
