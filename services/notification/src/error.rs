//! Everything that can go wrong in the notification service: the outcomes
//! every service shares (the kit's [`Error`], and its one mapping to gRPC
//! status). The service refuses nothing beyond them: a template that does
//! not render is bad input, a stale etag is stale.

/// The kit's error; the notification service has no refusals of its own.
pub type Error = docket_kit::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;
