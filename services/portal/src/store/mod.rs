//! The portal service's commands on its records. Every change goes through
//! the kit's mutation runner, so it writes its audit rows and its events in
//! its own transaction: nothing changes without a trail.

mod forms;
mod links;
mod users;

pub use self::{
    forms::{ConfirmationLink, FormCursor, Submitted, submission_id_reused},
    links::IssuedSecret,
    users::{ContactFacts, Invited, TokenPurpose, UserCursor, UserFilter, follow_contact_address},
};

docket_kit::service_store!(
    /// The portal service's database. Cheap to clone.
    pub struct Store, source = crate::events::SOURCE
);

pub use docket_kit::audit::{Actor, Changes as Trail};

pub(crate) use docket_kit::page::page_end;
