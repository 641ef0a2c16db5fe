//! Bearer-token authentication as a tower layer, and the caller it yields.
//!
//! Every gRPC call except health and reflection must carry
//! `authorization: Bearer <token>`. The token's role decides what the call
//! may do; its actor is recorded on every change the call makes.

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

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Recorded as the author of changes: `staff:<id>` or `<role>:<token name>`.
    pub actor: String,
    pub role: Role,
    /// The staff user behind a staff token, if the token names one.
    pub staff_id: Option<String>,
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
    by_token: Arc<HashMap<String, Caller>>,
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
                (t.token.clone(), Caller { actor, role: t.role, staff_id: t.staff_id.clone() })
            })
            .collect();
        Self { by_token: Arc::new(by_token) }
    }

    /// Checks an `authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Caller, Status> {
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
        for (known, caller) in self.by_token.iter() {
            if constant_time_eq(known.as_bytes(), token.trim().as_bytes()) {
                found = Some(caller.clone());
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

/// Paths that answer without a token: probes and service discovery.
fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")
}

/// Tower layer that authenticates each call and stores its [`Caller`].
#[derive(Debug, Clone)]
pub struct AuthLayer {
    tokens: TokenTable,
}

impl AuthLayer {
    pub fn new(tokens: TokenTable) -> Self {
        Self { tokens }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, tokens: self.tokens.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    tokens: TokenTable,
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
        match self.tokens.authenticate(header) {
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
            TokenSettings { token: "agent-token-0123456789".into(), role: Role::Agent, staff_id: Some("s-1".into()) },
        );
        settings.tokens.insert(
            "erp".into(),
            TokenSettings { token: "service-token-0123456789".into(), role: Role::Service, staff_id: None },
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
    fn roles_decide_what_a_caller_may_do() {
        let caller = |role| Caller { actor: "x".into(), role, staff_id: None };
        assert!(caller(Role::Viewer).require_write().is_err());
        assert!(caller(Role::Agent).require_write().is_ok());
        assert!(caller(Role::Service).require_write().is_ok());
        assert!(caller(Role::Agent).require_admin().is_err());
        assert!(caller(Role::Admin).require_admin().is_ok());
    }
}
