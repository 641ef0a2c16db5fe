//! Validated commands: what the gRPC adapter hands the store once a request
//! has been parsed. Every value here has passed its checks.

use docket_kit::{mask_fields, request::UpdateTarget};

use super::{ContactId, WebFormId};

pub use docket_kit::idempotency::Idempotency;

mask_fields!(
    /// What UpdatePortalUser may change.
    pub enum UserField {
        Enabled,
        PortalManager,
    }
);

/// The values of UpdatePortalUser; only the masked ones are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFields {
    pub enabled: bool,
    pub portal_manager: bool,
}

mask_fields!(
    /// What UpdateWebForm may change.
    pub enum WebFormField {
        Slug,
        Title,
        Intro,
        Fields,
        CaseTypeId,
        Priority,
        TeamId,
        AccountId,
        AllowedOrigins,
        SuccessMessage,
        Active,
    }
);

pub type UserUpdate = UpdateTarget<ContactId, UserField>;
pub type WebFormUpdate = UpdateTarget<WebFormId, WebFormField>;
