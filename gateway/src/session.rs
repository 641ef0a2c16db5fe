//! The portal session of a visitor: its secret id lives in an HttpOnly,
//! SameSite=Lax cookie (`__Host-` prefixed and `Secure` outside plain-HTTP
//! development); the session itself lives in the portal service, which
//! checks it on every call. Lax, not Strict: a customer who follows the link
//! in a notification email arrives logged in.

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use docket_proto::portal::v1 as pb;
use tonic::Code;

use crate::{GatewayState, problem::Problem, upstream::PortalClients};

/// The cookie's name under `gateway.cookie_secure`.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-docket-session" } else { "docket-session" }
}

/// The name of the cookie that marks a browser its user has logged in from
/// (the portal's device token): the lock-out that strangers' wrong
/// passwords can set off for an email does not apply to that browser.
pub fn device_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-docket-device" } else { "docket-device" }
}

/// How long a browser stays known: the portal service's device token lives
/// as long.
const DEVICE_MAX_AGE_SECS: i64 = 90 * 24 * 3600;

/// Hands `session` to the browser until it expires, and with it the
/// session's device token (kept past logout: it marks the browser, not the
/// session).
pub fn hand_out(headers: &mut HeaderMap, state: &GatewayState, session: &pb::Session) {
    let max_age =
        session.expire_time.as_ref().map(|at| at.seconds - chrono::Utc::now().timestamp()).filter(|secs| *secs > 0).unwrap_or(0);
    headers.append(header::SET_COOKIE, cookie(state, cookie_name(state.settings.cookie_secure), &session.session_id, max_age));
    if !session.device_token.is_empty() {
        let name = device_cookie_name(state.settings.cookie_secure);
        headers.append(header::SET_COOKIE, cookie(state, name, &session.device_token, DEVICE_MAX_AGE_SECS));
    }
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(state: &GatewayState) -> HeaderValue {
    cookie(state, cookie_name(state.settings.cookie_secure), "", 0)
}

fn cookie(state: &GatewayState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = state.settings.cookie_secure;
    // Session ids and device tokens are base64url; anything else never reaches a cookie.
    let value = if value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') { value } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}", if secure { "; Secure" } else { "" });
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("docket-session=; Max-Age=0"))
}

/// The value of cookie `name` the browser sent, if it looks like one of ours.
fn our_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
}

/// The session id the browser sent, if it looks like one.
pub fn session_id(headers: &HeaderMap, state: &GatewayState) -> Option<String> {
    our_cookie(headers, cookie_name(state.settings.cookie_secure))
}

/// The device token the browser sent, if any.
pub fn device_token(headers: &HeaderMap, state: &GatewayState) -> Option<String> {
    our_cookie(headers, device_cookie_name(state.settings.cookie_secure))
}

/// A logged-in portal user, checked with the portal service.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The secret session id, sent back to the portal service in each call.
    pub session_id: String,
    pub session: pb::Session,
}

/// Why there is no [`Visitor`]: no session, or the portal service could not say.
enum NoVisitor {
    LoggedOut,
    Failed(tonic::Status),
}

async fn visitor(parts: &Parts, state: &GatewayState) -> Result<Visitor, NoVisitor> {
    let Some(session_id) = session_id(&parts.headers, state) else {
        return Err(NoVisitor::LoggedOut);
    };
    let mut clients = PortalClients::of(state);
    match clients.auth.get_session(pb::GetSessionRequest { session_id: session_id.clone() }).await {
        Ok(session) => Ok(Visitor { session_id, session: session.into_inner() }),
        Err(status) if matches!(status.code(), Code::Unauthenticated | Code::InvalidArgument) => Err(NoVisitor::LoggedOut),
        Err(status) => Err(NoVisitor::Failed(status)),
    }
}

/// Pages: a visitor without a session goes to the login page, and comes
/// back here after logging in.
impl FromRequestParts<GatewayState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        match visitor(parts, state).await {
            Ok(visitor) => Ok(visitor),
            Err(NoVisitor::LoggedOut) => {
                let back = parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/portal/cases");
                let to = format!("/portal/login?next={}", form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>());
                let mut response = Redirect::to(&to).into_response();
                // A stale cookie goes.
                response.headers_mut().append(header::SET_COOKIE, clear_cookie(state));
                Err(response)
            }
            Err(NoVisitor::Failed(status)) => Err(crate::pages::status_page(state, &status)),
        }
    }
}

/// Pages that show something else to a visitor who is not logged in.
impl OptionalFromRequestParts<GatewayState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Option<Self>, Self::Rejection> {
        match visitor(parts, state).await {
            Ok(visitor) => Ok(Some(visitor)),
            Err(NoVisitor::LoggedOut) => Ok(None),
            Err(NoVisitor::Failed(status)) => Err(crate::pages::status_page(state, &status)),
        }
    }
}

/// The portal's JSON API: the same session, but a missing one is a 401 problem.
#[derive(Debug, Clone)]
pub struct ApiVisitor(pub Visitor);

impl FromRequestParts<GatewayState> for ApiVisitor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        match visitor(parts, state).await {
            Ok(visitor) => Ok(ApiVisitor(visitor)),
            Err(NoVisitor::LoggedOut) => {
                Err(Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in to the portal first (/portal/login)"))
            }
            Err(NoVisitor::Failed(status)) => Err(Problem::from(status)),
        }
    }
}
