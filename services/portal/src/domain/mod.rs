//! The portal's rules, free of I/O: passwords, who sees which case, what a
//! customer may choose, web form definitions and submissions, and the
//! validated commands the gRPC adapter builds from requests.

pub mod access;
pub mod commands;
pub mod forms;
pub mod password;
pub mod timeline;

docket_kit::record_ids!(
    /// A contact of the case service; a portal user is keyed by it.
    ContactId,
    /// An account of the case service.
    AccountId,
    /// A team (queue) of the case service.
    TeamId,
    /// A case of the case service.
    CaseId,
    WebFormId,
    /// An emailed link (invitation, password reset, web-form confirmation).
    LinkId,
);
