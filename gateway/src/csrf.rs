//! CSRF protection for form posts: a signed double-submit token.
//!
//! The browser holds a random value in an HttpOnly, SameSite=Strict cookie
//! (`Secure` and `__Host-` prefixed outside plain-HTTP development); each
//! form carries `csrf_token` = HMAC-SHA256(secret key, cookie value and the
//! portal session cookie's value). A post is accepted only when its token is
//! the signature of its own cookie and its own session. A page on another
//! site can neither read the cookie nor sign one it planted, because it does
//! not know the key; and a cookie and token pair minted in one browser (the
//! attacker's own) is worth nothing beside another visitor's session.
//!
//! A page handler takes a [`CsrfToken`] (and returns it among its response
//! parts, which sets the cookie when it is new) and puts
//! [`CsrfToken::value`] into a hidden `csrf_token` field; the post handler
//! takes a [`CsrfForm<T>`] instead of `Form<T>`.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponseParts, Response, ResponseParts},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::{GatewayState, pages::ErrorPage};

/// The form field that carries the token.
pub const FIELD: &str = "csrf_token";

/// The signing key and cookie attributes, from `gateway.secret_key` and
/// `gateway.cookie_secure`.
#[derive(Clone)]
pub struct CsrfKey {
    key: Vec<u8>,
    secure: bool,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfKey").field("secure", &self.secure).finish_non_exhaustive()
    }
}

impl CsrfKey {
    pub fn new(secret: &str, secure: bool) -> Self {
        Self { key: secret.as_bytes().to_vec(), secure }
    }

    /// `__Host-` binds the cookie to this host and path `/`, but browsers
    /// accept it only with `Secure`.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure { "__Host-docket-csrf" } else { "docket-csrf" }
    }

    fn mac(&self, cookie: &str, session: Option<&str>) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(b"docket-csrf:");
        mac.update(cookie.as_bytes());
        // Neither value holds a '|' (both are base64url), so the pair is unambiguous.
        mac.update(b"|");
        mac.update(session.unwrap_or_default().as_bytes());
        mac
    }

    /// The token that forms of the browser holding `cookie` (and the
    /// portal `session` cookie, if any) must carry.
    pub fn sign(&self, cookie: &str, session: Option<&str>) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(cookie, session).finalize().into_bytes())
    }

    /// Whether `token` is the signature of `cookie` and `session` (compared
    /// in constant time).
    pub fn verify(&self, cookie: &str, session: Option<&str>, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(bytes) => self.mac(cookie, session).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// `payload` with a signature for `purpose` appended: a value a page
    /// hands out and takes back unchanged (a web form's submission token).
    pub fn seal(&self, purpose: &str, payload: &str) -> String {
        let encoded = URL_SAFE_NO_PAD.encode(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(self.purpose_mac(purpose, &encoded).finalize().into_bytes());
        format!("{encoded}.{signature}")
    }

    /// The payload of a value [`seal`](Self::seal) made for `purpose`, or
    /// `None` when it was not made so (or was changed).
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<String> {
        let (encoded, signature) = sealed.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.purpose_mac(purpose, encoded).verify_slice(&signature).ok()?;
        String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
    }

    fn purpose_mac(&self, purpose: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(b"docket-seal:");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(payload.as_bytes());
        mac
    }

    fn cookie(&self, value: String) -> Cookie<'static> {
        Cookie::build((self.cookie_name(), value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .build()
    }
}

/// A cookie value: 32 random bytes.
fn new_cookie_value() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A cookie value this gateway could have made (43 base64url characters).
fn is_well_formed(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The CSRF token for the forms of a page; sets the cookie when the browser
/// has none yet.
#[derive(Debug, Clone)]
pub struct CsrfToken {
    token: String,
    new_cookie: Option<Cookie<'static>>,
}

impl CsrfToken {
    /// Put this into the form's hidden `csrf_token` field.
    pub fn value(&self) -> &str {
        &self.token
    }
}

impl FromRequestParts<GatewayState> for CsrfToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        let key = &state.csrf;
        let jar = CookieJar::from_headers(&parts.headers);
        let session = crate::session::session_id(&parts.headers, state);
        if let Some(cookie) = jar.get(key.cookie_name()).filter(|c| is_well_formed(c.value())) {
            return Ok(CsrfToken { token: key.sign(cookie.value(), session.as_deref()), new_cookie: None });
        }
        let value = new_cookie_value().map_err(|err| {
            tracing::error!(error = %err, "no randomness for a CSRF cookie");
            ErrorPage::response(state, StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.")
        })?;
        Ok(CsrfToken { token: key.sign(&value, session.as_deref()), new_cookie: Some(key.cookie(value)) })
    }
}

impl IntoResponseParts for CsrfToken {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(cookie) = self.new_cookie
            && let Ok(value) = cookie.to_string().parse()
        {
            parts.headers_mut().append(header::SET_COOKIE, value);
        }
        Ok(parts)
    }
}

/// A URL-encoded form post whose `csrf_token` matches the browser's CSRF
/// cookie; anything else is refused with 403 before the handler runs.
/// (`T` must not deny unknown fields: the token is a field of the body.)
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<GatewayState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &GatewayState) -> Result<Self, Self::Rejection> {
        let refuse = |status: StatusCode, message: &str| ErrorPage::response(state, status, message);
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "This address only takes form posts."));
        }
        let jar = CookieJar::from_headers(request.headers());
        let cookie = jar.get(state.csrf.cookie_name()).map(|c| c.value().to_owned());
        let session = crate::session::session_id(request.headers(), state);
        let body = axum::body::Bytes::from_request(request, state).await.map_err(|err| {
            let status = err.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                refuse(status, "The form is larger than allowed.")
            } else {
                refuse(StatusCode::BAD_REQUEST, "The form could not be read.")
            }
        })?;
        let token = form_urlencoded::parse(&body).find(|(name, _)| name == FIELD).map(|(_, value)| value.into_owned());
        let valid = match (&cookie, &token) {
            (Some(cookie), Some(token)) => state.csrf.verify(cookie, session.as_deref(), token),
            _ => false,
        };
        if !valid {
            tracing::info!(has_cookie = cookie.is_some(), has_token = token.is_some(), "form post refused: CSRF check failed");
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "This form has expired or was sent from another site. Go back, reload the page and send it again.",
            ));
        }
        if has_unreadable_text(&body) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "The form contains characters that could not be read (not UTF-8 text). Go back, retype them and send it again.",
            ));
        }
        let form = serde_urlencoded::from_bytes(&body)
            .map_err(|err| refuse(StatusCode::BAD_REQUEST, &format!("The form could not be read: {err}")))?;
        Ok(CsrfForm(form))
    }
}

/// Whether a URL-encoded form body holds bytes that are not UTF-8, raw or
/// percent-encoded: decoding would silently turn them into U+FFFD.
pub fn has_unreadable_text(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_err()
        || form_urlencoded::parse(body).any(|(name, value)| name.contains('\u{FFFD}') || value.contains('\u{FFFD}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_signs_its_own_cookie_only() {
        let key = CsrfKey::new("0123456789abcdef0123456789abcdef", true);
        let cookie = new_cookie_value().unwrap();
        assert!(is_well_formed(&cookie));
        let token = key.sign(&cookie, None);
        assert!(key.verify(&cookie, None, &token));
        assert!(!key.verify(&new_cookie_value().unwrap(), None, &token));
        assert!(!key.verify(&cookie, None, "not-base64!"));
        assert!(!key.verify(&cookie, None, ""));
        let other_key = CsrfKey::new("another key of at least thirty-two chars", true);
        assert!(!other_key.verify(&cookie, None, &token));
    }

    #[test]
    fn a_token_is_bound_to_the_session_it_was_made_in() {
        let key = CsrfKey::new("0123456789abcdef0123456789abcdef", true);
        let cookie = new_cookie_value().unwrap();
        let token = key.sign(&cookie, Some("session-of-mallory"));
        assert!(key.verify(&cookie, Some("session-of-mallory"), &token));
        assert!(!key.verify(&cookie, Some("session-of-victim"), &token));
        assert!(!key.verify(&cookie, None, &token));
        assert!(!key.verify(&cookie, Some("session-of-mallory"), &key.sign(&cookie, None)));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_noticed_raw_or_percent_encoded() {
        assert!(!has_unreadable_text(b"body=Gr%C3%BC%C3%9Fe&x=1"));
        assert!(has_unreadable_text(b"body=%FF%FE"));
        assert!(has_unreadable_text(b"body=\xff"));
        assert!(has_unreadable_text(b"%C3=x"));
    }

    #[test]
    fn a_sealed_value_opens_only_unchanged_and_for_its_purpose() {
        let key = CsrfKey::new("0123456789abcdef0123456789abcdef", true);
        let sealed = key.seal("web-form", "support|abc|1700000000|");
        assert_eq!(key.open("web-form", &sealed).as_deref(), Some("support|abc|1700000000|"));
        assert_eq!(key.open("other", &sealed), None);
        let (payload, signature) = sealed.split_once('.').unwrap();
        let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode("sales|abc|1700000000|"));
        assert_eq!(key.open("web-form", &forged), None);
        assert_eq!(key.open("web-form", payload), None);
        assert_eq!(key.open("web-form", ""), None);
        assert_eq!(CsrfKey::new("another key of at least thirty-two chars", true).open("web-form", &sealed), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let secure = CsrfKey::new("0123456789abcdef0123456789abcdef", true).cookie("v".into()).to_string();
        assert!(secure.starts_with("__Host-docket-csrf=v"), "{secure}");
        for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(secure.contains(attribute), "{secure} lacks {attribute}");
        }
        let plain = CsrfKey::new("0123456789abcdef0123456789abcdef", false).cookie("v".into()).to_string();
        assert!(plain.starts_with("docket-csrf=v") && !plain.contains("Secure"), "{plain}");
    }
}

#[cfg(test)]
mod extractor_tests {
    use std::collections::HashMap;

    use axum::{Router, body::Body, http::Request, routing::get};
    use tower::ServiceExt;

    use super::*;
    use crate::testing::layered;

    async fn form_page(token: CsrfToken) -> (CsrfToken, String) {
        let value = token.value().to_owned();
        (token, value)
    }

    async fn submit(CsrfForm(form): CsrfForm<HashMap<String, String>>) -> String {
        format!("hello {}", form.get("name").cloned().unwrap_or_default())
    }

    fn router() -> Router {
        layered(Router::new().route("/form", get(form_page).post(submit)))
    }

    async fn send(request: Request<Body>) -> (StatusCode, HeaderMapLite, String) {
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let cookie = response.headers().get(header::SET_COOKIE).map(|v| v.to_str().unwrap().to_owned());
        let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 100_000).await.unwrap();
        (status, HeaderMapLite { cookie, content_type }, String::from_utf8_lossy(&body).into_owned())
    }

    struct HeaderMapLite {
        cookie: Option<String>,
        content_type: Option<String>,
    }

    fn post(cookie: Option<&str>, content_type: &str, body: String) -> Request<Body> {
        let mut request = Request::post("/form").header(header::CONTENT_TYPE, content_type);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::from(body)).unwrap()
    }

    /// The cookie (`name=value`) and token a browser gets from the form page.
    async fn visit() -> (String, String) {
        let (status, headers, token) = send(Request::get("/form").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let set_cookie = headers.cookie.expect("a new visitor gets a CSRF cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(set_cookie.contains(attribute), "{set_cookie} lacks {attribute}");
        }
        (set_cookie.split(';').next().unwrap().to_owned(), token)
    }

    const FORM: &str = "application/x-www-form-urlencoded";

    #[tokio::test]
    async fn a_form_post_with_the_token_of_its_cookie_is_accepted() {
        let (cookie, token) = visit().await;
        let (status, _, body) = send(post(Some(&cookie), FORM, format!("name=Petra&csrf_token={token}"))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "hello Petra"));
        // A browser that has the cookie keeps it and its token.
        let again = Request::get("/form").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
        let (_, headers, same_token) = send(again).await;
        assert!(headers.cookie.is_none());
        assert_eq!(same_token, token);
    }

    #[tokio::test]
    async fn a_form_post_without_a_matching_token_and_cookie_is_refused() {
        let (cookie, token) = visit().await;
        let (other_cookie, other_token) = visit().await;
        assert_ne!(token, other_token);
        let refused = [
            post(Some(&cookie), FORM, "name=Petra".to_owned()),
            post(None, FORM, format!("name=Petra&csrf_token={token}")),
            post(Some(&other_cookie), FORM, format!("name=Petra&csrf_token={token}")),
            post(Some(&cookie), FORM, format!("name=Petra&csrf_token={token}x")),
            post(Some(&cookie), FORM, "name=Petra&csrf_token=".to_owned()),
            // A cookie planted by another site: the attacker cannot sign it.
            post(Some("__Host-docket-csrf=planted"), FORM, "name=Petra&csrf_token=planted".to_owned()),
        ];
        for request in refused {
            let (status, headers, body) = send(request).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            assert!(headers.content_type.unwrap().starts_with("text/html"));
            assert!(body.contains("This form has expired or was sent from another site"), "{body}");
        }
        let (status, _, _) = send(post(Some(&cookie), "application/json", format!("{{\"csrf_token\":\"{token}\"}}"))).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (status, _, _) = send(post(Some(&cookie), FORM, format!("csrf_token={token}&name={}", "x".repeat(4096)))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
