//! Hears the case service's `contact.updated` so that a portal user's
//! address follows its contact's: reset and invitation links go only to
//! the address the contact has now, and a change of address ends the
//! sessions and links made while the old one was theirs.

use docket_kit::{
    audit::Actor,
    events::{
        consumer::{EventHandler, HandlerError, Prepared},
        unpack,
    },
};
use docket_proto::events::v1::{ContactChanged, Envelope};
use sea_orm::DatabaseTransaction;

use crate::store::follow_contact_address;

/// The events the portal service consumes.
pub const BINDINGS: &[&str] = &["contact.updated"];

/// Who makes the change, as the portal user's trail records it.
pub const ACTOR: &str = "system:contact-address";

pub struct AddressFollower;

#[async_trait::async_trait]
impl EventHandler for AddressFollower {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, _: Prepared) -> Result<(), HandlerError> {
        let changed: ContactChanged = unpack(event, "docket.events.v1.ContactChanged").map_err(HandlerError::permanent)?;
        let Some(contact) = changed.contact else {
            return Err(HandlerError::permanent(format!("{}: the event names no contact", event.r#type)));
        };
        if !changed.changes.iter().any(|change| change.field == "email") {
            return Ok(());
        }
        let reason = format!("the contact's address changed: {}", changed.reason);
        let by = Actor { actor: ACTOR, reason: &reason, at: docket_kit::time::now() };
        Ok(follow_contact_address(txn, &by, &contact.id, &contact.email).await?)
    }
}
