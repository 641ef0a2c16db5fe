//! Everything that can go wrong in the billing service, and the one place it
//! becomes a gRPC status.

use docket_kit::{
    error::{FieldViolations, invalid_argument},
    idempotency::IdempotencyError,
};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; nothing was written.
    #[error("invalid request")]
    Invalid(FieldViolations),
    /// The record asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The etag sent is not the record's current one.
    #[error("{0}")]
    Stale(String),
    /// A value that must be unique is taken.
    #[error("{message}")]
    AlreadyExists { field: String, message: String },
    /// The record's state forbids the command: an illegal status move,
    /// billed items, a short prepaid balance.
    #[error("{0}")]
    Precondition(String),
    /// Another service this one depends on did not answer.
    #[error("{0}")]
    Unavailable(String),
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

impl From<IdempotencyError> for Error {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::Reused => {
                Error::field("idempotency_key", "was already used with a different request; use a new key for a new request")
            }
            IdempotencyError::Database(db) => Error::Database(db),
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(violations) => invalid_argument(&violations),
            Error::NotFound(message) => Status::not_found(message),
            Error::Stale(message) => Status::aborted(message),
            Error::AlreadyExists { field, message } => {
                let mut details = tonic_types::ErrorDetails::new();
                details.add_bad_request_violation(field, message.clone());
                <Status as tonic_types::StatusExt>::with_error_details(tonic::Code::AlreadyExists, message, details)
            }
            Error::Precondition(message) => Status::failed_precondition(message),
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Database(db) => docket_kit::error::database(&db),
        }
    }
}
