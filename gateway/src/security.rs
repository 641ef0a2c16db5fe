//! What every response of the gateway gets, whatever route made it:
//! security headers (a strict Content-Security-Policy whose
//! `frame-ancestors` a route may widen), a time limit, a panic turned into a
//! plain 500, and errors without a body of their own (404 of an unknown
//! path, 405, 413 of the body limit) turned into problem details.

use std::{any::Any, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::problem::Problem;

/// The origins allowed to show a response in a frame (CSP
/// `frame-ancestors`). Without it a response may not be framed at all. A
/// route that is meant to be embedded (a web form) inserts it into its
/// response's extensions:
///
/// ```text
/// response.extensions_mut().insert(FrameAncestors(vec!["https://shop.example".into()]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameAncestors(pub Vec<String>);

impl FrameAncestors {
    /// The CSP source list: `'none'`, or the origins that are valid
    /// `scheme://host[:port]` sources (anything else is dropped, so a stored
    /// origin can never inject another directive).
    fn sources(&self) -> String {
        let valid: Vec<&str> = self.0.iter().map(String::as_str).filter(|origin| is_origin(origin)).collect();
        if valid.is_empty() { "'none'".to_owned() } else { valid.join(" ") }
    }
}

/// `https://host[:port]` or `http://host[:port]`, nothing else.
pub fn is_origin(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")) else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()))
}

/// The fixed part of the headers, decided once from the settings.
#[derive(Debug, Clone)]
pub struct HeaderPolicy {
    /// Send `Strict-Transport-Security` (the gateway is reached over HTTPS).
    pub hsts: bool,
}

/// Adds the security headers to every response; a header a handler set
/// itself is kept.
pub async fn security_headers(State(policy): State<Arc<HeaderPolicy>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let frame_ancestors = response.extensions().get::<FrameAncestors>().cloned().unwrap_or_default();
    let csp = format!(
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {}",
        frame_ancestors.sources()
    );
    let headers = response.headers_mut();
    set_default(headers, header::CONTENT_SECURITY_POLICY, &csp);
    set_default(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(headers, header::REFERRER_POLICY, "same-origin");
    set_default(headers, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set_default(headers, HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()");
    if frame_ancestors.0.is_empty() {
        // For browsers that predate frame-ancestors.
        set_default(headers, header::X_FRAME_OPTIONS, "DENY");
    }
    if policy.hsts {
        set_default(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    // Answers are per caller (tokens, CSRF tokens): no shared cache keeps them
    // unless a route says otherwise (static files).
    set_default(headers, header::CACHE_CONTROL, "no-store");
    response
}

fn set_default(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if !headers.contains_key(&name)
        && let Ok(value) = HeaderValue::from_str(value)
    {
        headers.insert(name, value);
    }
}

/// Answers 504 when a request takes longer than `limit`; the handler's
/// work (and its gRPC calls) is dropped.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?limit, "request timed out");
            Problem::new(StatusCode::GATEWAY_TIMEOUT, "timeout", "the request took longer than the gateway waits").into_response()
        }
    }
}

/// The answer to a handler that panicked: a plain 500, the panic in the log.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    Problem::internal().into_response()
}

/// The host names the gateway answers to (`gateway.allowed_hosts`; empty:
/// any). `docket dev` allows only loopback names: a web page whose own
/// name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own
/// name as `Host`, and gets no answer it could read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// Comma-separated names: `localhost`, `*.localhost` (any name under
    /// it), `127.0.0.1`, `[::1]`; no ports (any port is fine).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut names = Vec::new();
        for name in text.split(',').map(|name| name.trim().to_ascii_lowercase()).filter(|name| !name.is_empty()) {
            let bare = name.strip_prefix("*.").unwrap_or(&name);
            let valid = match bare.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
                Some(ipv6) => ipv6.parse::<std::net::Ipv6Addr>().is_ok(),
                None => !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
            };
            if !valid {
                return Err(format!(
                    "{name:?} is not a host name: write names without ports, e.g. localhost, *.localhost, 127.0.0.1, [::1]"
                ));
            }
            names.push(name);
        }
        Ok(Self(names))
    }

    /// Whether `authority` (a `Host` header: name and maybe a port) is allowed.
    fn allows(&self, authority: &str) -> bool {
        if authority.contains('@') {
            return false;
        }
        let Ok(authority) = authority.parse::<http::uri::Authority>() else {
            return false;
        };
        let host = authority.host().to_ascii_lowercase();
        self.0.iter().any(|name| match name.strip_prefix("*.") {
            Some(parent) => host.strip_suffix(parent).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => *name == host,
        })
    }
}

/// Refuses (421, plain text) a request whose `Host` (or absolute URI) names
/// a host that `gateway.allowed_hosts` does not list.
pub async fn allowed_hosts(State(hosts): State<Arc<AllowedHosts>>, request: Request, next: Next) -> Response {
    if hosts.0.is_empty() {
        return next.run(request).await;
    }
    let header = request.headers().get(header::HOST).map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let uri = request.uri().authority().map(|authority| authority.as_str());
    let claimed: Vec<&str> = header.into_iter().chain(uri).collect();
    if !claimed.is_empty() && claimed.iter().all(|authority| hosts.allows(authority)) {
        return next.run(request).await;
    }
    tracing::info!(host = ?claimed, "refused a request for a host not in gateway.allowed_hosts");
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))],
        "This server answers only to the host names it is set up for (gateway.allowed_hosts); open it as http://localhost or http://127.0.0.1.\n",
    )
        .into_response()
}

/// Gives an error answer that has no body of its own (axum's 404 and 405,
/// a plain-text rejection) the problem+json body its status calls for.
/// Problems, pages and JSON a handler made are kept as they are.
pub async fn errors_as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // axum answers its own errors with no body or a text/plain one.
    let has_own_body =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| !v.starts_with("text/plain"));
    if has_own_body {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "there is nothing at this address"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this address does not take this method; see the Allow header"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is larger than allowed"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "the request's content type is not accepted here"),
        _ if status.is_server_error() => ("internal", "internal error (logged on the server)"),
        _ => ("bad_request", "the request could not be handled"),
    };
    let problem = Problem::new(status, code, detail).into_response();
    let (problem_parts, body) = problem.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &problem_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowed_hosts_are_answered_on_any_port() {
        let hosts = AllowedHosts::parse("localhost, *.localhost, 127.0.0.1, [::1]").unwrap();
        for good in
            ["localhost", "LOCALHOST:8080", "127.0.0.1:8282", "[::1]:8080", "[::1]", "app.localhost:3000", "a.b.localhost"]
        {
            assert!(hosts.allows(good), "{good}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "evillocalhost",
            ".localhost",
            "127.0.0.2",
            "",
            "evil.example@localhost",
            "[::2]:8080",
        ] {
            assert!(!hosts.allows(bad), "{bad}");
        }
        for bad in ["localhost:8080", "http://localhost", "*", "[::1", "a b"] {
            assert!(AllowedHosts::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(AllowedHosts::parse(" , ").unwrap(), AllowedHosts::default());
    }

    #[test]
    fn only_plain_origins_reach_frame_ancestors() {
        assert_eq!(FrameAncestors::default().sources(), "'none'");
        let allowed = FrameAncestors(vec![
            "https://shop.example".into(),
            "http://localhost:3000".into(),
            "https://evil.example; script-src *".into(),
            "javascript:alert(1)".into(),
            "https://x.example/path".into(),
            "*".into(),
        ]);
        assert_eq!(allowed.sources(), "https://shop.example http://localhost:3000");
    }
}

#[cfg(test)]
mod layer_tests {
    use axum::{Router, body::Body, http::Request, routing::get};
    use tower::ServiceExt;

    use super::*;
    use crate::testing::layered;

    async fn call(router: Router, path: &str) -> Response {
        router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn embeddable() -> Response {
        let mut response = "a web form".into_response();
        response.extensions_mut().insert(FrameAncestors(vec!["https://shop.example".into()]));
        response
    }

    #[allow(clippy::unused_async)]
    async fn broken() -> &'static str {
        panic!("secret internal state: /src/handler.rs:12")
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    }

    fn router() -> Router {
        layered(Router::new().route("/form", get(embeddable)).route("/broken", get(broken)).route("/slow", get(slow)))
    }

    #[tokio::test]
    async fn a_route_may_allow_its_own_frame_ancestors() {
        let response = call(router(), "/form").await;
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.ends_with("frame-ancestors https://shop.example"), "{csp}");
        assert!(!response.headers().contains_key(header::X_FRAME_OPTIONS));
        // https:// in public_base_url: browsers are told to keep to HTTPS.
        assert!(response.headers().contains_key(header::STRICT_TRANSPORT_SECURITY));
    }

    #[tokio::test]
    async fn a_panic_becomes_a_plain_500_problem_with_the_headers() {
        let response = call(router(), "/broken").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], crate::problem::PROBLEM_JSON);
        assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("internal error") && !text.contains("secret") && !text.contains("src/"), "{text}");
    }

    #[tokio::test]
    async fn a_request_over_the_time_limit_is_answered_504() {
        let response = call(router(), "/slow").await;
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], crate::problem::PROBLEM_JSON);
    }
}
