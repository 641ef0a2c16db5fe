//! gRPC clients of the services the notification service calls, with its
//! service token: the case service (the kit's, see [`docket_kit::clients`]),
//! and the portal service for the secrets of the links it emails.

use docket_kit::{clients::connect, settings::InvalidSetting};
use docket_proto::portal::v1::{self as portal, portal_auth_service_client::PortalAuthServiceClient};
use tonic::{Code, Status};

pub use docket_kit::clients::{Authed, CaseClients};

/// The portal service, asked for a link's secret as its email is written.
#[derive(Clone)]
pub struct PortalLinks {
    auth: PortalAuthServiceClient<Authed>,
}

impl PortalLinks {
    /// Connects on first use.
    pub fn new(url: &str, token: &str) -> Result<Self, InvalidSetting> {
        Ok(Self { auth: PortalAuthServiceClient::new(connect("notification", "portal_service_url", url, token)?) })
    }

    /// A new secret for the link `link_id`, or `None` when the link no
    /// longer works (used, replaced, revoked, expired, unknown): then there
    /// is nothing to email.
    pub async fn issue_secret(&self, link_id: &str) -> Result<Option<portal::IssueLinkSecretResponse>, Status> {
        let request = portal::IssueLinkSecretRequest { link_id: link_id.to_owned() };
        match self.auth.clone().issue_link_secret(request).await {
            Ok(issued) => Ok(Some(issued.into_inner())),
            Err(status) if matches!(status.code(), Code::FailedPrecondition | Code::NotFound) => {
                tracing::info!(link = %link_id, reason = %status.message(), "a link event's link no longer works; no email");
                Ok(None)
            }
            Err(status) => Err(status),
        }
    }
}
