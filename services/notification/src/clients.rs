//! gRPC clients of the case service, as the notification service calls it:
//! with its service token, passing the current trace on.

use docket_proto::case::v1::{
    account_service_client::AccountServiceClient, case_service_client::CaseServiceClient,
    contact_service_client::ContactServiceClient, staff_service_client::StaffServiceClient,
};
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

/// Adds the service token and the W3C trace context to every call.
#[derive(Clone)]
pub struct ServiceAuth {
    bearer: MetadataValue<Ascii>,
}

impl Interceptor for ServiceAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let mut request = docket_kit::telemetry::propagate_trace(request)?;
        request.metadata_mut().insert("authorization", self.bearer.clone());
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, ServiceAuth>;

/// The case service's clients, sharing one lazily connected channel.
#[derive(Clone)]
pub struct CaseClients {
    pub cases: CaseServiceClient<Authed>,
    pub contacts: ContactServiceClient<Authed>,
    pub accounts: AccountServiceClient<Authed>,
    pub staff: StaffServiceClient<Authed>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("notification.case_service_url: {0}")]
    Url(String),
    #[error("notification.service_token: not a valid header value")]
    Token,
}

impl CaseClients {
    /// Clients of the case service at `url` (e.g. `http://127.0.0.1:50051`),
    /// authenticated with `token`. Connects on first use.
    pub fn new(url: &str, token: &str) -> Result<Self, ClientError> {
        let channel = Endpoint::from_shared(url.to_owned())
            .map_err(|err| ClientError::Url(err.to_string()))?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .connect_lazy();
        let bearer = format!("Bearer {token}").parse().map_err(|_| ClientError::Token)?;
        let auth = ServiceAuth { bearer };
        Ok(Self {
            cases: CaseServiceClient::with_interceptor(channel.clone(), auth.clone()),
            contacts: ContactServiceClient::with_interceptor(channel.clone(), auth.clone()),
            accounts: AccountServiceClient::with_interceptor(channel.clone(), auth.clone()),
            staff: StaffServiceClient::with_interceptor(channel, auth),
        })
    }
}
