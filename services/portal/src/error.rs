//! Everything that can go wrong in the portal service: the outcomes every
//! service shares (the kit's [`Error`], which also maps them to a gRPC
//! status), plus the refusals only the portal knows ([`PortalRefusal`]):
//! who may not, who is not logged in, who is locked out.

use std::time::Duration;

use docket_kit::{error::DomainError, kv::KvError};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The kit's error with the portal's own refusals.
pub type Error = docket_kit::Error<PortalRefusal>;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What only the portal refuses.
#[derive(Debug, thiserror::Error)]
pub enum PortalRefusal {
    #[error("{0}")]
    PermissionDenied(String),
    /// No valid session, or wrong credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many failed logins for this email.
    #[error("too many failed logins; try again in {} minutes", retry_after.as_secs().div_ceil(60))]
    LockedOut { retry_after: Duration },
    /// A fault of ours, logged where it becomes a status.
    #[error("{0}")]
    Internal(String),
}

impl DomainError for PortalRefusal {
    fn to_status(&self) -> Status {
        match self {
            PortalRefusal::PermissionDenied(message) => Status::permission_denied(message),
            PortalRefusal::Unauthenticated(message) => Status::unauthenticated(message),
            PortalRefusal::LockedOut { retry_after } => {
                let mut details = ErrorDetails::new();
                details.set_retry_info(Some(*retry_after));
                Status::with_error_details(Code::ResourceExhausted, self.to_string(), details)
            }
            PortalRefusal::Internal(message) => {
                tracing::error!(%message, "portal: internal error");
                Status::internal("internal error (logged on the server)")
            }
        }
    }
}

impl From<PortalRefusal> for Error {
    fn from(refusal: PortalRefusal) -> Self {
        Error::Domain(refusal)
    }
}

pub fn permission_denied(message: impl Into<String>) -> Error {
    PortalRefusal::PermissionDenied(message.into()).into()
}

pub fn unauthenticated(message: impl Into<String>) -> Error {
    PortalRefusal::Unauthenticated(message.into()).into()
}

pub fn locked_out(retry_after: Duration) -> Error {
    PortalRefusal::LockedOut { retry_after }.into()
}

pub fn internal(message: impl Into<String>) -> Error {
    PortalRefusal::Internal(message.into()).into()
}

/// The session store did not answer. (A `From<KvError>` impl for the kit's
/// error cannot live here: both types are the kit's.)
pub fn session_store(err: KvError) -> Error {
    tracing::warn!(error = %err, "session store unavailable");
    Error::Unavailable("the session store is unavailable; retry later".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_out_is_resource_exhausted_with_retry_info() {
        let status = Status::from(locked_out(Duration::from_secs(125)));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "too many failed logins; try again in 3 minutes");
        let retry = status.get_error_details().retry_info().and_then(|r| r.retry_delay);
        assert_eq!(retry, Some(Duration::from_secs(125)));
    }

    #[test]
    fn the_portal_refusals_keep_their_codes() {
        assert_eq!(Status::from(permission_denied("no")).code(), Code::PermissionDenied);
        assert_eq!(Status::from(unauthenticated("who?")).code(), Code::Unauthenticated);
        let internal = Status::from(internal("a secret detail"));
        assert_eq!(internal.code(), Code::Internal);
        assert!(!internal.message().contains("secret"));
        let kv = Status::from(session_store(KvError::Unavailable("down".into())));
        assert_eq!((kv.code(), kv.message()), (Code::Unavailable, "the session store is unavailable; retry later"));
    }
}
