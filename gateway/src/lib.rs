//! Docket's HTTP gateway: the edge people and scripts reach over HTTP.
//!
//! It holds no tables: every answer comes from a gRPC service behind it,
//! called with the caller's own credentials ([`upstream`]). What it owns is
//! the HTTP side:
//!
//! - [`api`]: the REST API (`/api/v1/...`) and its OpenAPI document;
//! - [`pages`]: server-rendered pages on one layout: the customer portal
//!   (`/portal/...`), public web forms (`/f/{slug}`), the help center
//!   (`/help/...`), and `/dev/mail`;
//! - [`portal_api`]: the customer portal as JSON (`/portal/api/v1/...`);
//! - [`session`]: the portal session cookie; [`limits`]: client addresses
//!   and rate limits;
//! - [`csrf`]: CSRF tokens for form posts;
//! - [`security`]: headers, time limit, panics, errors as problem details;
//! - [`health`]: `/healthz` and `/readyz` for Kubernetes;
//! - [`problem`]: RFC 9457 problem details, the one error shape.
//!
//! [`serve`] runs it; `docket serve gateway` and `docket dev` call that.

pub mod api;
pub mod config;
pub mod csrf;
pub mod health;
pub mod limits;
pub mod pages;
pub mod portal_api;
pub mod problem;
pub mod security;
pub mod session;
pub mod upstream;

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    middleware::{self, Next},
    response::Response,
    routing::get,
    serve::ListenerExt,
};
use docket_kit::{auth::OutgoingAuth, kv::KeyValue, settings::InvalidSetting};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::{
    config::GatewaySettings,
    csrf::CsrfKey,
    limits::ProxyTrust,
    pages::Branding,
    security::{AllowedHosts, HeaderPolicy},
    upstream::{Upstream, UpstreamError},
};

/// The name of this part of Docket, as `docket serve` knows it.
pub const SERVICE: &str = "gateway";

/// What the process running the gateway decides beyond `[gateway]`.
#[derive(Clone, Default)]
pub struct GatewayOptions {
    /// The dev mailbox folder: `/dev/mail` shows it. Only `docket dev` sets
    /// it; without it the page does not exist (404).
    pub dev_mailbox: Option<PathBuf>,
    /// Expiring keys for rate limits (`[kv]`: Redis, or memory under
    /// `docket dev`); without one, counters are kept in this process.
    pub kv: Option<Arc<dyn KeyValue>>,
}

impl std::fmt::Debug for GatewayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayOptions").field("dev_mailbox", &self.dev_mailbox).field("kv", &self.kv.is_some()).finish()
    }
}

/// Whether a path segment names a case by number (`C-000123`) rather than
/// by id (a UUID: hex digits, so never starting with `C-`).
pub fn is_case_number(text: &str) -> bool {
    text.starts_with(['C', 'c']) && text.contains('-') && text.len() < 20
}

/// What every handler can reach.
#[derive(Clone)]
pub struct GatewayState {
    pub settings: Arc<GatewaySettings>,
    /// The case service (accounts, contacts, cases).
    pub case: Upstream,
    /// The portal service (portal users, sessions, a customer's cases, web forms).
    pub portal: Upstream,
    /// The billing service (contracts, SLA state, work orders).
    pub billing: Upstream,
    /// The knowledge service (the help center, `/api/v1/kb`).
    pub knowledge: Upstream,
    /// The gateway's own token, for the portal service on a visitor's behalf.
    pub service_auth: OutgoingAuth,
    /// Rate limits and other expiring counters.
    pub kv: Arc<dyn KeyValue>,
    /// Whose word on the client address is taken (`limits::ClientIp`).
    pub proxies: Arc<ProxyTrust>,
    pub csrf: CsrfKey,
    pub branding: Arc<Branding>,
    pub dev_mailbox: Option<PathBuf>,
}

impl std::fmt::Debug for GatewayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayState")
            .field("case", &self.case)
            .field("portal", &self.portal)
            .field("billing", &self.billing)
            .field("knowledge", &self.knowledge)
            .finish()
    }
}

impl GatewayState {
    pub fn new(settings: &GatewaySettings, options: GatewayOptions) -> Result<Self, InvalidSetting> {
        settings.validate()?;
        settings.validate_for_serving()?;
        let upstream = |name, health, key, url: &str| {
            Upstream::new(name, health, key, url, settings.request_timeout())
                .map_err(|UpstreamError { key, message }| InvalidSetting::new(key, message))
        };
        let case = upstream("case", "docket.case.v1.CaseService", "gateway.case_service_url", &settings.case_service_url)?;
        let portal =
            upstream("portal", "docket.portal.v1.PortalAuthService", "gateway.portal_service_url", &settings.portal_service_url)?;
        let billing =
            upstream("billing", "docket.billing.v1.WorkService", "gateway.billing_service_url", &settings.billing_service_url)?;
        let knowledge = upstream(
            "knowledge",
            "docket.knowledge.v1.ArticleService",
            "gateway.knowledge_service_url",
            &settings.knowledge_service_url,
        )?;
        let service_auth = OutgoingAuth::bearer(&settings.service_token)
            .ok_or_else(|| InvalidSetting::new("gateway.service_token", "is not a valid header value"))?;
        let proxies =
            ProxyTrust::from_settings(settings).map_err(|message| InvalidSetting::new("gateway.trusted_proxies", message))?;
        let kv = options.kv.clone().unwrap_or_else(|| Arc::new(docket_kit::kv::MemoryKv::new("gateway:")));
        Ok(Self {
            settings: Arc::new(settings.clone()),
            case,
            portal,
            billing,
            knowledge,
            service_auth,
            kv,
            proxies: Arc::new(proxies),
            csrf: CsrfKey::new(&settings.secret_key, settings.cookie_secure),
            branding: Branding::new(settings, options.dev_mailbox.is_some()),
            dev_mailbox: options.dev_mailbox,
        })
    }

    /// Every service the gateway calls; `/readyz` checks them all.
    pub fn upstreams(&self) -> Vec<&Upstream> {
        vec![&self.case, &self.portal, &self.billing, &self.knowledge]
    }
}

/// The whole HTTP application: routes and the layers every response passes.
pub fn router(state: GatewayState) -> Router {
    let (api, _) = api::router();
    let mut routes = Router::new()
        .route("/", get(pages::home))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/static/docket.css", get(pages::stylesheet))
        .route("/static/brand.css", get(pages::brand_stylesheet))
        .route("/static/deflect.js", get(pages::deflection_script))
        .merge(pages::portal::routes())
        .merge(pages::web_forms::routes())
        .merge(pages::help::routes())
        .merge(portal_api::routes())
        .merge(api);
    if state.dev_mailbox.is_some() {
        routes = routes.route("/dev/mail", get(pages::mail::list)).route("/dev/mail/{name}", get(pages::mail::show));
    }
    let settings = state.settings.clone();
    with_layers(routes.with_state(state), &settings)
}

/// The layers every answer passes, around `routes`. Outermost last: a
/// request passes trace → headers → host check → problems → panics → time
/// limit → body limit → route.
fn with_layers(routes: Router, settings: &GatewaySettings) -> Router {
    let policy = Arc::new(HeaderPolicy { hsts: settings.is_https() });
    let limit = settings.request_timeout();
    // Checked in `GatewaySettings::validate`; no names means any host.
    let hosts = Arc::new(AllowedHosts::parse(&settings.allowed_hosts).unwrap_or_default());
    routes
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
        .layer(middleware::from_fn_with_state(limit, security::time_limit))
        .layer(CatchPanicLayer::custom(security::panic_response))
        .layer(middleware::from_fn(security::errors_as_problems))
        .layer(middleware::from_fn_with_state(hosts, security::allowed_hosts))
        .layer(middleware::from_fn_with_state(policy, security::security_headers))
        .layer(middleware::from_fn(trace_request))
}

/// Runs each request in a span that continues the caller's W3C trace (the
/// gRPC calls made inside carry it on: `docket_kit::auth::OutgoingAuth`),
/// and counts it by route and status for the metrics.
async fn trace_request(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<axum::extract::MatchedPath>().map(|matched| matched.as_str().to_owned());
    let span = docket_kit::telemetry::http_server_span(&request, route.as_deref());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    let route = route.as_deref().unwrap_or("unmatched");
    docket_kit::metrics::http_request(method.as_str(), route, status, started.elapsed().as_secs_f64());
    response
}

/// Serves the gateway on `listener` until `shutdown` resolves, then lets
/// requests in flight finish.
pub async fn serve(
    settings: &GatewaySettings,
    options: GatewayOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let state = GatewayState::new(settings, options)?;
    let address: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(address = ?address, "HTTP gateway listening");
    let listener = listener.tap_io(|tcp| {
        // Without it, small answers wait for delayed ACKs.
        let _ = tcp.set_nodelay(true);
    });
    // The peer address: `limits::ClientIp` starts from it to find the client.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// Why the gateway could not run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Setting(#[from] InvalidSetting),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
pub(crate) mod testing {
    //! A gateway state and layered routers for unit tests of layers and
    //! extractors; the upstream is never called.

    use super::*;

    pub fn settings() -> GatewaySettings {
        GatewaySettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            case_service_url: "http://127.0.0.1:1".to_owned(),
            portal_service_url: "http://127.0.0.1:1".to_owned(),
            billing_service_url: "http://127.0.0.1:1".to_owned(),
            knowledge_service_url: "http://127.0.0.1:1".to_owned(),
            service_token: "unit-test-service-token".to_owned(),
            product_name: "Docket".to_owned(),
            business_name: "Unit Test Ltd".to_owned(),
            brand_color: "#1f5fa8".to_owned(),
            brand_text_color: "#ffffff".to_owned(),
            public_base_url: "https://support.example.com".to_owned(),
            body_limit_bytes: 2048,
            request_timeout_secs: 1,
            readiness_timeout_ms: 100,
            secret_key: "unit-test-secret-key-0123456789abcdef".to_owned(),
            cookie_secure: true,
            login_attempts_per_minute: 10,
            reset_requests_per_minute: 5,
            form_submissions_per_minute: 5,
            form_submissions_per_form_per_minute: 120,
            comments_per_session_per_minute: 5,
            comments_per_case_per_minute: 20,
            trusted_proxy_hops: 0,
            trusted_proxies: String::new(),
            trust_forwarded_for: false,
            allowed_hosts: String::new(),
        }
    }

    pub fn state() -> GatewayState {
        GatewayState::new(&settings(), GatewayOptions::default()).expect("valid test settings")
    }

    /// `routes` with the gateway's layers, as [`router`] assembles them.
    pub fn layered(routes: Router<GatewayState>) -> Router {
        with_layers(routes.with_state(state()), &settings())
    }
}
