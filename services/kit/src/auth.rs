//! Bearer-token authentication as a tower layer, and the caller it yields.
//!
//! Every gRPC call except health and reflection must carry
//! `authorization: Bearer <token>`. The token's role decides what the call
//! may do; its actor is recorded on every change the call makes.
//!
//! A `service` caller that works for a customer (the portal) adds
//! [`ON_BEHALF_OF`]` = contact:<uuid>`: the change is then recorded as the
//! contact's. Only service tokens configured with `acts_for_contacts` may
//! send it, and only to the calls a mounted service lists as made for
//! customers ([`crate::grpc::Mounted::contact_calls`]); anything else is
//! refused, so neither a staff token nor another system's token can pass
//! itself off as a customer.

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use serde::Deserialize;
use tonic::{Request, Status};
use tower::{Layer, Service};

use crate::settings::AuthSettings;

/// What a token may do. Viewers read; agents and services also write cases;
/// admins also manage the staff directory and catalogues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
    Viewer,
    Service,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
            Role::Service => "service",
        })
    }
}

/// Metadata a `service` caller sends to act for a customer: `contact:<uuid>`.
pub const ON_BEHALF_OF: &str = "x-docket-on-behalf-of";

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Recorded as the author of changes: `staff:<id>`, `<role>:<token name>`,
    /// or `contact:<id>` when a service acts for a customer.
    pub actor: String,
    pub role: Role,
    /// The staff user behind a staff token, if the token names one.
    pub staff_id: Option<String>,
    /// The service token's own actor when it acts on behalf of a contact.
    pub via: Option<String>,
}

impl Caller {
    /// Staff are people working cases; services are other systems.
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Agent | Role::Viewer)
    }

    pub fn require_write(&self) -> Result<(), Status> {
        match self.role {
            Role::Admin | Role::Agent | Role::Service => Ok(()),
            Role::Viewer => Err(Status::permission_denied("the viewer role may read but not change anything")),
        }
    }

    pub fn require_admin(&self) -> Result<(), Status> {
        match self.role {
            Role::Admin => Ok(()),
            other => Err(Status::permission_denied(format!("this needs the admin role; the caller is {other}"))),
        }
    }

    /// The contact this call acts for, when a service sent [`ON_BEHALF_OF`].
    pub fn contact_id(&self) -> Option<&str> {
        self.via.as_ref().and(self.actor.strip_prefix("contact:"))
    }

    /// Applies an [`ON_BEHALF_OF`] value: only a `service` caller may act for
    /// a contact, and only as `contact:<uuid>`.
    pub fn acting_for(self, on_behalf_of: Option<&str>) -> Result<Caller, Status> {
        let Some(value) = on_behalf_of else { return Ok(self) };
        if self.role != Role::Service {
            return Err(Status::permission_denied(format!(
                "only a service token may send {ON_BEHALF_OF}; the caller is {}",
                self.role
            )));
        }
        self.act_for(value)
    }

    fn act_for(self, value: &str) -> Result<Caller, Status> {
        let contact = value
            .trim()
            .strip_prefix("contact:")
            .and_then(|id| uuid::Uuid::try_parse(id).ok())
            .ok_or_else(|| Status::invalid_argument(format!("{ON_BEHALF_OF} must be `contact:<uuid>`")))?;
        Ok(Caller { actor: format!("contact:{contact}"), role: self.role, staff_id: None, via: Some(self.actor) })
    }
}

/// Marks an outgoing request as made for a contact (see [`ON_BEHALF_OF`]).
pub fn act_for_contact<T>(request: &mut Request<T>, contact_id: &str) -> Result<(), Status> {
    let value = format!("contact:{contact_id}")
        .parse()
        .map_err(|_| Status::invalid_argument(format!("`{contact_id}` cannot be sent as {ON_BEHALF_OF}")))?;
    request.metadata_mut().insert(ON_BEHALF_OF, value);
    Ok(())
}

/// The caller of a request, as placed there by [`AuthLayer`].
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no authenticated caller (is the auth layer installed?)"))
}

/// Token → caller, built once from configuration.
#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    by_token: Arc<HashMap<String, Known>>,
}

/// A configured token's caller, and whether it may act for contacts.
#[derive(Debug, Clone)]
struct Known {
    caller: Caller,
    acts_for_contacts: bool,
}

impl TokenTable {
    pub fn from_settings(settings: &AuthSettings) -> Self {
        let by_token = settings
            .tokens
            .iter()
            .map(|(name, t)| {
                let actor = match &t.staff_id {
                    Some(id) => format!("staff:{id}"),
                    None => format!("{}:{name}", t.role),
                };
                let caller = Caller { actor, role: t.role, staff_id: t.staff_id.clone(), via: None };
                (t.token.clone(), Known { caller, acts_for_contacts: t.acts_for_contacts })
            })
            .collect();
        Self { by_token: Arc::new(by_token) }
    }

    /// Checks an `authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Caller, Status> {
        self.find(header).map(|known| known.caller)
    }

    /// Checks an `authorization` header and an [`ON_BEHALF_OF`] value sent
    /// to `path` (`/package.Service/Method`): acting for a contact needs a
    /// token that `acts_for_contacts` and a call in `contact_calls`.
    pub fn authorize(
        &self,
        header: Option<&str>,
        on_behalf_of: Option<&str>,
        path: &str,
        contact_calls: &[&str],
    ) -> Result<Caller, Status> {
        let known = self.find(header)?;
        let Some(value) = on_behalf_of else { return Ok(known.caller) };
        if known.caller.role != Role::Service || !known.acts_for_contacts {
            return Err(Status::permission_denied(format!(
                "the token of {} may not act for contacts ({ON_BEHALF_OF}); only a service token with acts_for_contacts may",
                known.caller.actor
            )));
        }
        if !contact_calls.contains(&path) {
            return Err(Status::permission_denied(format!(
                "{path} is not a call made for a customer; send it without {ON_BEHALF_OF}"
            )));
        }
        known.caller.act_for(value)
    }

    fn find(&self, header: Option<&str>) -> Result<Known, Status> {
        let header = header.ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer <token>` metadata"))?;
        // The scheme is case-insensitive (RFC 7235); the token is not.
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or_else(|| Status::unauthenticated("the authorization metadata must be `Bearer <token>`"))?;
        // Compare against every token without stopping early, so timing does not
        // tell which prefix matched.
        let mut found = None;
        for (secret, known) in self.by_token.iter() {
            if constant_time_eq(secret.as_bytes(), token.trim().as_bytes()) {
                found = Some(known.clone());
            }
        }
        found.ok_or_else(|| Status::unauthenticated("unknown bearer token"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A client interceptor for calls to Docket services: sends an
/// `authorization` value (a service's own token, or the one a gateway's
/// caller sent) and the current W3C trace context.
#[derive(Debug, Clone)]
pub struct OutgoingAuth {
    authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl OutgoingAuth {
    /// Sends `Bearer <token>`; `None` when the token cannot be a header value.
    pub fn bearer(token: &str) -> Option<Self> {
        format!("Bearer {token}").parse().ok().map(|authorization| Self { authorization })
    }

    /// Sends an `authorization` value as it was received.
    pub fn passing_on(authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii>) -> Self {
        Self { authorization }
    }
}

impl tonic::service::Interceptor for OutgoingAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let mut request = crate::telemetry::propagate_trace(request)?;
        request.metadata_mut().insert("authorization", self.authorization.clone());
        Ok(request)
    }
}

/// Paths that answer without a token: probes and service discovery.
fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")
}

/// Tower layer that authenticates each call and stores its [`Caller`].
#[derive(Debug, Clone)]
pub struct AuthLayer {
    tokens: TokenTable,
    contact_calls: Arc<[&'static str]>,
}

impl AuthLayer {
    /// `contact_calls`: the methods (`/package.Service/Method`) a service
    /// token that `acts_for_contacts` may call for a contact.
    pub fn new(tokens: TokenTable, contact_calls: Vec<&'static str>) -> Self {
        Self { tokens, contact_calls: contact_calls.into() }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, tokens: self.tokens.clone(), contact_calls: self.contact_calls.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    tokens: TokenTable,
    contact_calls: Arc<[&'static str]>,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Either<S::Future, futures::future::Ready<Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if is_public(request.uri().path()) {
            return futures::future::Either::Left(self.inner.call(request));
        }
        let header = request.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        // A value that is not text is kept as "" so that it is refused, not ignored.
        let on_behalf_of = request.headers().get(ON_BEHALF_OF).map(|v| v.to_str().unwrap_or_default());
        match self.tokens.authorize(header, on_behalf_of, request.uri().path(), &self.contact_calls) {
            Ok(caller) => {
                tracing::Span::current().record("actor", caller.actor.as_str());
                request.extensions_mut().insert(caller);
                futures::future::Either::Left(self.inner.call(request))
            }
            Err(status) => futures::future::Either::Right(futures::future::ready(Ok(status.into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::TokenSettings;

    fn table() -> TokenTable {
        let mut settings = AuthSettings::default();
        settings.tokens.insert(
            "alex".into(),
            TokenSettings {
                token: "agent-token-0123456789".into(),
                role: Role::Agent,
                staff_id: Some("s-1".into()),
                acts_for_contacts: false,
            },
        );
        settings.tokens.insert(
            "erp".into(),
            TokenSettings {
                token: "service-token-0123456789".into(),
                role: Role::Service,
                staff_id: None,
                acts_for_contacts: false,
            },
        );
        settings.tokens.insert(
            "portal".into(),
            TokenSettings {
                token: "portal-token-0123456789".into(),
                role: Role::Service,
                staff_id: None,
                acts_for_contacts: true,
            },
        );
        TokenTable::from_settings(&settings)
    }

    #[test]
    fn a_known_token_becomes_its_caller() {
        let alex = table().authenticate(Some("Bearer agent-token-0123456789")).unwrap();
        assert_eq!(alex.actor, "staff:s-1");
        assert!(alex.is_staff());
        let erp = table().authenticate(Some("BEARER service-token-0123456789")).unwrap();
        assert_eq!(erp.actor, "service:erp");
        assert!(!erp.is_staff());
    }

    #[test]
    fn missing_malformed_and_unknown_tokens_are_unauthenticated() {
        for header in [None, Some(""), Some("agent-token-0123456789"), Some("Basic abc"), Some("Bearer nope")] {
            let err = table().authenticate(header).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{header:?}");
        }
    }

    #[test]
    fn only_a_service_acts_for_a_contact_and_only_as_a_contact() {
        let contact = uuid::Uuid::now_v7().to_string();
        let erp = table().authenticate(Some("Bearer service-token-0123456789")).unwrap();
        let acting = erp.clone().acting_for(Some(&format!("contact:{contact}"))).unwrap();
        assert_eq!(acting.actor, format!("contact:{contact}"));
        assert_eq!(acting.via.as_deref(), Some("service:erp"));
        assert_eq!(acting.contact_id(), Some(contact.as_str()));
        assert!(!acting.is_staff());
        assert_eq!(erp.clone().acting_for(None).unwrap(), erp);
        assert_eq!(erp.contact_id(), None);
        for bad in ["staff:1", "contact:", "contact:not-a-uuid", "admin"] {
            assert_eq!(erp.clone().acting_for(Some(bad)).unwrap_err().code(), tonic::Code::InvalidArgument, "{bad}");
        }
        let alex = table().authenticate(Some("Bearer agent-token-0123456789")).unwrap();
        let refused = alex.acting_for(Some(&format!("contact:{contact}"))).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn only_a_token_that_acts_for_contacts_does_so_and_only_on_calls_made_for_customers() {
        const CREATE: &str = "/docket.case.v1.CaseService/CreateCase";
        const CALLS: &[&str] = &[CREATE];
        let contact = format!("contact:{}", uuid::Uuid::now_v7());
        let tokens = table();
        let acting = tokens.authorize(Some("Bearer portal-token-0123456789"), Some(&contact), CREATE, CALLS).unwrap();
        assert_eq!(acting.actor, contact);
        assert_eq!(acting.via.as_deref(), Some("service:portal"));
        // Without the header, the same token is itself.
        let itself = tokens.authorize(Some("Bearer portal-token-0123456789"), None, "/x.Y/Z", CALLS).unwrap();
        assert_eq!(itself.actor, "service:portal");
        // Another call, another service's token, a staff token: refused.
        for (header, path) in [
            ("Bearer portal-token-0123456789", "/docket.case.v1.ContactService/UpdateContact"),
            ("Bearer service-token-0123456789", CREATE),
            ("Bearer agent-token-0123456789", CREATE),
        ] {
            let refused = tokens.authorize(Some(header), Some(&contact), path, CALLS).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{header} {path}");
        }
        let bad = tokens.authorize(Some("Bearer portal-token-0123456789"), Some("staff:1"), CREATE, CALLS).unwrap_err();
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        let unknown = tokens.authorize(Some("Bearer nope"), Some(&contact), CREATE, CALLS).unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn roles_decide_what_a_caller_may_do() {
        let caller = |role| Caller { actor: "x".into(), role, staff_id: None, via: None };
        assert!(caller(Role::Viewer).require_write().is_err());
        assert!(caller(Role::Agent).require_write().is_ok());
        assert!(caller(Role::Service).require_write().is_ok());
        assert!(caller(Role::Agent).require_admin().is_err());
        assert!(caller(Role::Admin).require_admin().is_ok());
    }
}
