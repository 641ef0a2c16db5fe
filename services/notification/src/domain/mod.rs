//! The notification service's rules, free of I/O and of wire types:
//! what the admin's settings hold and which event types they can name
//! ([`settings`]), who hears about an event ([`audience`]), and how an
//! email reads: templates, what they can use, and how they are checked
//! and rendered ([`templates`]).

pub mod audience;
pub mod authentication;
pub mod settings;
pub mod templates;

docket_kit::record_ids!(
    /// A contact of the case service (who may opt out of emails).
    ContactId
);
