//! The events this service writes to its outbox, in the transaction of the
//! change they report (`docket.events.v1`, routing key = event type).

use chrono::{DateTime, Utc};
use docket_kit::events::{envelope, outbox, pack};
use docket_proto::events::v1 as ev;
use sea_orm::ConnectionTrait;

use crate::{
    error::Result,
    store::{Actor, entities::portal_user},
};

/// The `source` of every event this service writes.
pub const SOURCE: &str = "portal";

async fn write(
    txn: &impl ConnectionTrait,
    event_type: &str,
    subject: &str,
    by: &Actor<'_>,
    payload_name: &str,
    payload: &impl prost::Message,
) -> Result<()> {
    let envelope = envelope(SOURCE, event_type, subject, by.actor, by.at, pack(payload_name, payload));
    outbox::append(txn, &envelope).await?;
    Ok(())
}

/// `portal.invitation_created`: the notification service emails the link.
pub(crate) async fn invitation_created(
    txn: &impl ConnectionTrait,
    user: &portal_user::Model,
    token: &str,
    expires_at: DateTime<Utc>,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::PortalInvitationCreated {
        contact_id: user.contact_id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        token: token.to_owned(),
        expire_time: Some(docket_kit::time::to_proto(expires_at)),
    };
    write(txn, "portal.invitation_created", &user.contact_id, by, "docket.events.v1.PortalInvitationCreated", &payload).await
}

/// `portal.password_reset_requested`: the notification service emails the link.
pub(crate) async fn password_reset_requested(
    txn: &impl ConnectionTrait,
    user: &portal_user::Model,
    token: &str,
    expires_at: DateTime<Utc>,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::PortalPasswordResetRequested {
        contact_id: user.contact_id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        token: token.to_owned(),
        expire_time: Some(docket_kit::time::to_proto(expires_at)),
    };
    write(txn, "portal.password_reset_requested", &user.contact_id, by, "docket.events.v1.PortalPasswordResetRequested", &payload)
        .await
}
