//! The services behind the gateway: one lazily connected gRPC channel per
//! service, and clients that carry the caller's own bearer token and the
//! current trace context into every call. The gateway decides nothing about
//! roles or actors: the services do, from the token the caller sent.

use std::time::Duration;

use axum::{extract::FromRequestParts, http::request::Parts};
use docket_kit::auth::OutgoingAuth;
use docket_proto::{
    billing::v1::{case_sla_service_client::CaseSlaServiceClient, work_service_client::WorkServiceClient},
    case::v1::{
        account_service_client::AccountServiceClient, assignment_rule_service_client::AssignmentRuleServiceClient,
        case_service_client::CaseServiceClient, contact_service_client::ContactServiceClient,
        report_service_client::ReportServiceClient,
    },
    knowledge::v1::{
        article_link_service_client::ArticleLinkServiceClient, article_service_client::ArticleServiceClient,
        attachment_service_client::AttachmentServiceClient, category_service_client::CategoryServiceClient,
        deflection_service_client::DeflectionServiceClient, draft_proposal_service_client::DraftProposalServiceClient,
    },
    portal::v1::{
        portal_access_service_client::PortalAccessServiceClient, portal_auth_service_client::PortalAuthServiceClient,
        portal_case_service_client::PortalCaseServiceClient, web_form_service_client::WebFormServiceClient,
    },
};
use tonic::{
    metadata::MetadataValue,
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use crate::{GatewayState, problem::Problem};

/// One service the gateway calls.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// For people and `/readyz`: `case`.
    pub name: &'static str,
    /// The gRPC service whose health decides readiness.
    pub health_service: &'static str,
    pub channel: Channel,
}

#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct UpstreamError {
    pub key: &'static str,
    pub message: String,
}

impl Upstream {
    /// A channel to `url` that connects on first use and reconnects after
    /// the service restarts.
    pub fn new(
        name: &'static str,
        health_service: &'static str,
        key: &'static str,
        url: &str,
        timeout: Duration,
    ) -> Result<Self, UpstreamError> {
        let channel = Endpoint::from_shared(url.to_owned())
            .map_err(|err| UpstreamError { key, message: err.to_string() })?
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Self { name, health_service, channel })
    }

    /// Whether the service answers its health check with SERVING within `timeout`.
    pub async fn serving(&self, timeout: Duration) -> bool {
        let mut client = HealthClient::new(self.channel.clone());
        let check = client.check(HealthCheckRequest { service: self.health_service.to_owned() });
        match tokio::time::timeout(timeout, check).await {
            Ok(Ok(answer)) => answer.into_inner().status == ServingStatus::Serving as i32,
            _ => false,
        }
    }
}

/// Clients that send the caller's `authorization` and the W3C trace context.
pub type Authed = InterceptedService<Channel, OutgoingAuth>;

/// The case service's clients for one request, as its caller.
pub struct CaseClients {
    pub cases: CaseServiceClient<Authed>,
    pub accounts: AccountServiceClient<Authed>,
    pub contacts: ContactServiceClient<Authed>,
    pub reports: ReportServiceClient<Authed>,
    pub assignment_rules: AssignmentRuleServiceClient<Authed>,
}

impl FromRequestParts<GatewayState> for CaseClients {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        let auth = caller_auth(parts)?;
        let channel = state.case.channel.clone();
        Ok(CaseClients {
            cases: CaseServiceClient::with_interceptor(channel.clone(), auth.clone()),
            accounts: AccountServiceClient::with_interceptor(channel.clone(), auth.clone()),
            contacts: ContactServiceClient::with_interceptor(channel.clone(), auth.clone()),
            reports: ReportServiceClient::with_interceptor(channel.clone(), auth.clone()),
            assignment_rules: AssignmentRuleServiceClient::with_interceptor(channel, auth),
        })
    }
}

/// The portal service as staff call it through the API, with the caller's
/// own token: web form definitions and portal users.
pub struct PortalAdminClients {
    pub forms: WebFormServiceClient<Authed>,
    pub access: PortalAccessServiceClient<Authed>,
}

impl FromRequestParts<GatewayState> for PortalAdminClients {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        let auth = caller_auth(parts)?;
        let channel = state.portal.channel.clone();
        Ok(PortalAdminClients {
            forms: WebFormServiceClient::with_interceptor(channel.clone(), auth.clone()),
            access: PortalAccessServiceClient::with_interceptor(channel, auth),
        })
    }
}

/// The billing service as staff call it through the API, with the caller's own token.
pub struct BillingClients {
    pub slas: CaseSlaServiceClient<Authed>,
    pub work: WorkServiceClient<Authed>,
}

impl FromRequestParts<GatewayState> for BillingClients {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        let auth = caller_auth(parts)?;
        let channel = state.billing.channel.clone();
        Ok(BillingClients {
            slas: CaseSlaServiceClient::with_interceptor(channel.clone(), auth.clone()),
            work: WorkServiceClient::with_interceptor(channel, auth),
        })
    }
}

/// The portal service as the portal pages and web forms call it: with the
/// gateway's own service token, on behalf of a visitor (whose session the
/// portal service checks on every call).
#[derive(Clone)]
pub struct PortalClients {
    pub auth: PortalAuthServiceClient<Authed>,
    pub cases: PortalCaseServiceClient<Authed>,
    pub forms: WebFormServiceClient<Authed>,
}

impl PortalClients {
    pub fn of(state: &GatewayState) -> Self {
        let channel = state.portal.channel.clone();
        let auth = state.service_auth.clone();
        PortalClients {
            auth: PortalAuthServiceClient::with_interceptor(channel.clone(), auth.clone()),
            cases: PortalCaseServiceClient::with_interceptor(channel.clone(), auth.clone()),
            forms: WebFormServiceClient::with_interceptor(channel, auth),
        }
    }
}

impl FromRequestParts<GatewayState> for PortalClients {
    type Rejection = Problem;

    async fn from_request_parts(_parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        Ok(PortalClients::of(state))
    }
}

/// Largest answer the gateway reads from the knowledge service: a file of
/// 10 MiB (its limit) and its envelope; tonic's default is 4 MiB.
const FILE_MESSAGE_MAX: usize = 11 * 1024 * 1024;

/// The knowledge service as staff call it through the API, with the caller's own token.
pub struct KnowledgeClients {
    pub articles: ArticleServiceClient<Authed>,
    pub categories: CategoryServiceClient<Authed>,
    pub attachments: AttachmentServiceClient<Authed>,
    pub links: ArticleLinkServiceClient<Authed>,
    pub proposals: DraftProposalServiceClient<Authed>,
    pub deflection: DeflectionServiceClient<Authed>,
}

impl FromRequestParts<GatewayState> for KnowledgeClients {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        let auth = caller_auth(parts)?;
        let channel = state.knowledge.channel.clone();
        Ok(KnowledgeClients {
            articles: ArticleServiceClient::with_interceptor(channel.clone(), auth.clone()),
            categories: CategoryServiceClient::with_interceptor(channel.clone(), auth.clone()),
            attachments: AttachmentServiceClient::with_interceptor(channel.clone(), auth.clone())
                .max_decoding_message_size(FILE_MESSAGE_MAX)
                .max_encoding_message_size(FILE_MESSAGE_MAX),
            links: ArticleLinkServiceClient::with_interceptor(channel.clone(), auth.clone()),
            proposals: DraftProposalServiceClient::with_interceptor(channel.clone(), auth.clone()),
            deflection: DeflectionServiceClient::with_interceptor(channel, auth),
        })
    }
}

/// The knowledge service as the help center calls it: with the gateway's
/// own service token, for an anonymous visitor (who reads `public`
/// articles), or for the contact of a portal session the portal service
/// has just checked (who also reads `customers` articles).
#[derive(Clone)]
pub struct ReaderClients {
    pub articles: ArticleServiceClient<Authed>,
    pub categories: CategoryServiceClient<Authed>,
    pub attachments: AttachmentServiceClient<Authed>,
    pub deflection: DeflectionServiceClient<Authed>,
    /// `x-docket-on-behalf-of` for the contact the calls are made for; `None`: anonymous.
    on_behalf_of: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl ReaderClients {
    pub fn of(state: &GatewayState, contact_id: Option<&str>) -> Self {
        let channel = state.knowledge.channel.clone();
        let auth = state.service_auth.clone();
        ReaderClients {
            articles: ArticleServiceClient::with_interceptor(channel.clone(), auth.clone()),
            categories: CategoryServiceClient::with_interceptor(channel.clone(), auth.clone()),
            attachments: AttachmentServiceClient::with_interceptor(channel.clone(), auth.clone())
                .max_decoding_message_size(FILE_MESSAGE_MAX),
            deflection: DeflectionServiceClient::with_interceptor(channel, auth),
            // A contact id is a UUID the portal service gave; one that could not be
            // sent would read as anonymous, the reader with the fewest rights.
            on_behalf_of: contact_id.filter(|id| !id.is_empty()).and_then(|id| format!("contact:{id}").parse().ok()),
        }
    }

    /// `message` as a request made for this reader.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(value) = &self.on_behalf_of {
            request.metadata_mut().insert(docket_kit::auth::ON_BEHALF_OF, value.clone());
        }
        request
    }
}

/// The request's `Authorization` header, passed on as it is: whether the
/// token is valid and what it may do is the service's decision. A request
/// without the header, or with one that cannot be gRPC metadata, cannot be
/// anyone's: it is refused here, before its input is looked at.
fn caller_auth(parts: &Parts) -> Result<OutgoingAuth, Problem> {
    let unauthenticated = |detail: &str| Problem::new(http::StatusCode::UNAUTHORIZED, "unauthenticated", detail);
    let value =
        parts.headers.get(http::header::AUTHORIZATION).ok_or_else(|| unauthenticated("send `Authorization: Bearer <token>`"))?;
    let bearer = MetadataValue::try_from(value.as_bytes())
        .map_err(|_| unauthenticated("the Authorization header must be `Bearer <token>` in visible ASCII"))?;
    Ok(OutgoingAuth::passing_on(bearer))
}
