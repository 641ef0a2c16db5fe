//! The events this service writes to its outbox (`docket.events.v1`,
//! routing key = event type): pure mappings from records to events. The
//! mutation runner writes them in the transaction of the change they report.

use chrono::{DateTime, Utc};
use docket_kit::mutation::Event;
use docket_proto::events::v1 as ev;

use crate::records::entities::{form_submission, portal_user};

/// The `source` of every event this service writes.
pub const SOURCE: &str = "portal";

/// The events that name an emailed link. They carry its id, never its
/// secret (the notification service asks for that: `IssueLinkSecret`), and
/// the relay still wipes them from the outbox once published: nothing needs
/// them there, and they name a person's address.
pub const CARRYING_SECRETS: &[&str] =
    &["portal.invitation_created", "portal.password_reset_requested", "portal.submission_confirmation_requested"];

/// `portal.invitation_created`: the notification service emails the link.
pub fn invitation_created(user: &portal_user::Model, link_id: &str, expires_at: DateTime<Utc>) -> Event {
    let payload = ev::PortalInvitationCreated {
        contact_id: user.contact_id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        link_id: link_id.to_owned(),
        expire_time: Some(docket_kit::time::to_proto(expires_at)),
    };
    Event::new("portal.invitation_created", &user.contact_id, "docket.events.v1.PortalInvitationCreated", &payload)
}

/// `portal.password_reset_requested`: the notification service emails the link.
pub fn password_reset_requested(user: &portal_user::Model, link_id: &str, expires_at: DateTime<Utc>) -> Event {
    let payload = ev::PortalPasswordResetRequested {
        contact_id: user.contact_id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        link_id: link_id.to_owned(),
        expire_time: Some(docket_kit::time::to_proto(expires_at)),
    };
    Event::new("portal.password_reset_requested", &user.contact_id, "docket.events.v1.PortalPasswordResetRequested", &payload)
}

/// `portal.submission_confirmation_requested`: the notification service
/// emails the link to the address the submission named.
pub fn submission_confirmation_requested(
    submission: &form_submission::Model,
    name: &str,
    subject: &str,
    expires_at: DateTime<Utc>,
) -> Event {
    let payload = ev::PortalSubmissionConfirmationRequested {
        contact_id: submission.contact_id.clone(),
        email: submission.confirm_email.clone(),
        name: name.to_owned(),
        link_id: submission.confirm_link_id.clone().unwrap_or_default(),
        expire_time: Some(docket_kit::time::to_proto(expires_at)),
        case_id: submission.case_id.clone(),
        case_number: submission.case_number.clone(),
        subject: subject.to_owned(),
    };
    Event::new(
        "portal.submission_confirmation_requested",
        &submission.case_id,
        "docket.events.v1.PortalSubmissionConfirmationRequested",
        &payload,
    )
}
