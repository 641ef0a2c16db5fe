//! Everything that can go wrong in the portal service, and the one place it
//! becomes a gRPC status.

use std::time::Duration;

use docket_kit::error::{FieldViolations, invalid_argument};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; nothing was written.
    #[error("invalid request")]
    Invalid(FieldViolations),
    /// Missing, or not the caller's to see (the two answer alike).
    #[error("{0}")]
    NotFound(String),
    /// The etag sent is not the record's current one.
    #[error("{0}")]
    Stale(String),
    /// The record is not in a state that allows this.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// No valid session, or wrong credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many failed logins for this email.
    #[error("too many failed logins; try again in {} minutes", retry_after.as_secs().div_ceil(60))]
    LockedOut { retry_after: Duration },
    /// A slug or other unique value is taken.
    #[error("{message}")]
    AlreadyExists { field: String, message: String },
    /// The session store or the case service cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of ours, logged where it happened.
    #[error("{0}")]
    Internal(String),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::Invalid(FieldViolations::single(field, description))
    }
}

impl From<FieldViolations> for Error {
    fn from(violations: FieldViolations) -> Self {
        Error::Invalid(violations)
    }
}

impl From<docket_kit::kv::KvError> for Error {
    fn from(err: docket_kit::kv::KvError) -> Self {
        tracing::warn!(error = %err, "session store unavailable");
        Error::Unavailable("the session store is unavailable; retry later".to_owned())
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(violations) => invalid_argument(&violations),
            Error::NotFound(message) => Status::not_found(message),
            Error::Stale(message) => Status::aborted(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Unauthenticated(message) => Status::unauthenticated(message),
            Error::LockedOut { retry_after } => {
                let message = Error::LockedOut { retry_after }.to_string();
                let mut details = ErrorDetails::new();
                details.set_retry_info(Some(retry_after));
                Status::with_error_details(Code::ResourceExhausted, message, details)
            }
            Error::AlreadyExists { field, message } => {
                let mut details = ErrorDetails::new();
                details.add_bad_request_violation(field, message.clone());
                Status::with_error_details(Code::AlreadyExists, message, details)
            }
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Internal(message) => {
                tracing::error!(%message, "portal: internal error");
                Status::internal("internal error (logged on the server)")
            }
            Error::Database(db) => docket_kit::error::database(&db),
        }
    }
}
