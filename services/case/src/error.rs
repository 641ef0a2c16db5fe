//! Everything that can go wrong in the case service, and the one place it
//! becomes a gRPC status.

use docket_kit::error::{FieldViolations, invalid_argument};
use tonic::Status;

use crate::domain::status::IllegalMove;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; nothing was written.
    #[error("invalid request")]
    Invalid(FieldViolations),
    /// The record asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The etag sent is not the record's current one: someone changed it since.
    #[error("{0}")]
    Stale(String),
    /// The status machine refused the move.
    #[error(transparent)]
    IllegalMove(#[from] IllegalMove),
    /// A value that must be unique is taken (e.g. a contact's email).
    #[error("{message}")]
    AlreadyExists { field: String, message: String },
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

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(violations) => invalid_argument(&violations),
            Error::NotFound(message) => Status::not_found(message),
            Error::Stale(message) => Status::aborted(message),
            Error::IllegalMove(refused) => Status::failed_precondition(refused.to_string()),
            Error::AlreadyExists { field, message } => {
                let mut details = tonic_types::ErrorDetails::new();
                details.add_bad_request_violation(field, message.clone());
                <Status as tonic_types::StatusExt>::with_error_details(tonic::Code::AlreadyExists, message, details)
            }
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Database(db) => docket_kit::error::database(&db),
        }
    }
}
