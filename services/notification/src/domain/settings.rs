//! The admin's notification settings (the "Email & Settings" screen): which
//! case event types email whom, who the emails come from, the digest window, and
//! where links in emails lead.

use docket_kit::{mask_fields, request::FieldMask};

/// Event types a notification can be about.
pub const EVENT_TYPES: &[&str] = &{
    use docket_kit::events::CASE_LIFECYCLE;
    // The case's own events, "case.escalated", which reaches the staff an
    // escalation rule names whatever the settings say, and "case.routed",
    // which tells the owner an assignment rule chose.
    const MORE: [&str; 2] = ["case.escalated", "case.routed"];
    let mut all = [""; CASE_LIFECYCLE.len() + MORE.len()];
    let mut i = 0;
    while i < all.len() {
        all[i] = if i < CASE_LIFECYCLE.len() { CASE_LIFECYCLE[i] } else { MORE[i - CASE_LIFECYCLE.len()] };
        i += 1;
    }
    all
};

/// Events of the portal service that email one person a link: the portal
/// invitation, the password reset and the confirmation of a web form
/// submission. Not case events: no contact, owner or team rules apply, and
/// opting out of case emails does not stop them.
pub const ACCESS_EVENT_TYPES: &[&str] =
    &["portal.invitation_created", "portal.password_reset_requested", "portal.submission_confirmation_requested"];

/// Events of the knowledge service that email the staff who review
/// articles (see [`super::audience::reviews`]). Not case events either: the
/// contact, owner and team rules of the settings do not apply.
pub const REVIEW_EVENT_TYPES: &[&str] = &["article.submitted_for_review"];

/// Longest sender name, in characters.
pub const SENDER_NAME_MAX: usize = 200;
/// Longest portal address, in characters.
pub const PORTAL_URL_MAX: usize = 500;
/// The longest digest window: a day.
pub const DIGEST_WINDOW_MAX_SECONDS: i32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    pub contact_event_types: Vec<String>,
    pub owner_event_types: Vec<String>,
    pub team_event_types: Vec<String>,
    pub sender_address: String,
    pub sender_name: String,
    pub digest_window_seconds: i32,
    pub portal_base_url: String,
}

impl Default for NotifySettings {
    fn default() -> Self {
        let list = |types: &[&str]| types.iter().map(|t| (*t).to_owned()).collect();
        Self {
            contact_event_types: list(&["case.created", "case.closed", "case.reopened", "case.activity_added"]),
            owner_event_types: list(&["case.assigned", "case.routed", "case.activity_added"]),
            team_event_types: list(&["case.created"]),
            sender_address: "support@docket.localhost".to_owned(),
            sender_name: "Docket Support".to_owned(),
            digest_window_seconds: 0,
            portal_base_url: "http://127.0.0.1:8080/portal".to_owned(),
        }
    }
}

mask_fields!(
    /// A setting an update may change, by its mask path.
    pub enum SettingsField {
        ContactEventTypes,
        OwnerEventTypes,
        TeamEventTypes,
        SenderAddress,
        SenderName,
        DigestWindowSeconds,
        PortalBaseUrl,
    }
);

/// A validated change of the settings: the etag they were read at, the
/// fields it changes, and their new values (the others are placeholders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    /// 0 while the settings are still the built-in defaults.
    pub etag: i64,
    pub mask: FieldMask<SettingsField>,
    pub values: NotifySettings,
}

/// Whether a portal address is one a link can use.
pub fn is_web_address(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}
