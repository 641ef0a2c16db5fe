//! Server-rendered pages: the layout every page shares (product name,
//! business name and brand colours from `[gateway]`), the stylesheets the
//! gateway serves itself (no CDN, no request leaves the site), error pages,
//! and the home page. Templates are askama's, under `gateway/templates/`;
//! askama escapes every value for HTML unless a template says otherwise
//! (none does).

pub mod deflection;
pub mod help;
pub mod mail;
pub mod portal;
pub mod web_forms;

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{GatewayState, config::GatewaySettings};

/// What the layout shows of the business running this installation.
#[derive(Debug, Clone)]
pub struct Branding {
    pub product_name: String,
    pub business_name: String,
    /// `#rrggbb`, checked at start.
    pub brand_color: String,
    pub brand_text_color: String,
    /// Whether `/dev/mail` exists (under `docket dev`), to link it.
    pub dev_mail: bool,
}

impl Branding {
    pub fn new(settings: &GatewaySettings, dev_mail: bool) -> Arc<Self> {
        Arc::new(Self {
            product_name: settings.product_name.clone(),
            business_name: settings.business_name.clone(),
            brand_color: settings.brand_color.clone(),
            brand_text_color: settings.brand_text_color.clone(),
            dev_mail,
        })
    }
}

/// The base stylesheet: layout, type, focus, forms.
const STYLESHEET: &str = include_str!("../../static/docket.css");

/// `/static/docket.css`.
pub async fn stylesheet() -> Response {
    css(STYLESHEET.to_owned())
}

/// `/static/brand.css`: the brand colours as CSS variables, so no page needs
/// an inline style (the CSP allows none).
pub async fn brand_stylesheet(State(state): State<GatewayState>) -> Response {
    let brand = &state.branding;
    css(format!(":root {{ --brand: {}; --brand-text: {}; }}\n", brand.brand_color, brand.brand_text_color))
}

/// The live suggestions of the new-case page ([`deflection`]).
const DEFLECTION_SCRIPT: &str = include_str!("../../static/deflect.js");

/// `/static/deflect.js`.
pub async fn deflection_script() -> Response {
    let mut response = DEFLECTION_SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

fn css(text: String) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    brand: Arc<Branding>,
}

/// `/`: what this gateway offers: the customer portal, the API, and under
/// `docket dev` the dev mailbox.
pub async fn home(State(state): State<GatewayState>) -> impl IntoResponse {
    HomePage { brand: state.branding.clone() }
}

/// The `Retry-After` of a refusal that says, in its RetryInfo, when to try
/// again (a lock-out, a limit).
pub fn retry_after(status: &tonic::Status) -> Option<axum::http::HeaderValue> {
    use tonic_types::StatusExt;
    let delay = status.get_details_retry_info()?.retry_delay?;
    axum::http::HeaderValue::from_str(&delay.as_secs().max(1).to_string()).ok()
}

/// The page for a service's refusal or failure that a form cannot show
/// next to its fields. Messages of refusals (not found, not allowed, a
/// state that forbids it) are the service's own, written for people;
/// failures show a fixed sentence and are logged.
pub fn status_page(state: &GatewayState, status: &tonic::Status) -> Response {
    use tonic::Code;
    let (http, message) = match status.code() {
        Code::NotFound => (StatusCode::NOT_FOUND, "There is nothing here, or it is not yours to see.".to_owned()),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, status.message().to_owned()),
        Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, status.message().to_owned()),
        Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => (StatusCode::CONFLICT, status.message().to_owned()),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, status.message().to_owned()),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "Your session has ended. Please log in again.".to_owned()),
        Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded => {
            tracing::warn!(code = ?status.code(), message = status.message(), "portal service unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "The service is unavailable right now. Please try again in a minute.".to_owned())
        }
        _ => {
            tracing::error!(code = ?status.code(), message = status.message(), "portal service failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.".to_owned())
        }
    };
    let mut response = ErrorPage::response(state, http, &message);
    if let Some(value) = retry_after(status) {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

/// The refusal of a form's input, shown above the form and next to each
/// field: the service names the fields of its request (`subject`), which are
/// the form's field names.
#[derive(Debug, Clone, Default)]
pub struct FormErrors(pub Vec<(String, String)>);

impl FormErrors {
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        Self(vec![(field.to_owned(), message.into())])
    }

    /// The field violations of an INVALID_ARGUMENT answer (or its message
    /// as a whole when it names none).
    pub fn from_status(status: &tonic::Status) -> Self {
        use tonic_types::StatusExt;
        let violations: Vec<(String, String)> = status
            .get_error_details()
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| (v.field.rsplit('.').next().unwrap_or(&v.field).to_owned(), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if violations.is_empty() { Self::one("", status.message()) } else { Self(violations) }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message about `field`, if there is one.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| name == field).map(|(_, message)| message.as_str())
    }
}

/// The one parameter of a page's path. A path that cannot be one (bytes
/// that are not UTF-8) names no page: 404, as a page.
#[derive(Debug, Clone)]
pub struct PagePath(pub String);

impl axum::extract::FromRequestParts<GatewayState> for PagePath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PagePath(value)),
            Err(_) => Err(ErrorPage::response(state, StatusCode::NOT_FOUND, "There is nothing at this address.")),
        }
    }
}

/// A time for people: `2026-11-24 10:00 UTC`.
pub fn when(time: Option<&prost_types::Timestamp>) -> String {
    time.and_then(docket_kit::time::from_proto).map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// An error shown as a page, for people using a browser.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    brand: Arc<Branding>,
    title: String,
    message: String,
}

impl ErrorPage {
    /// The page alone, for a caller that sets the status (and headers) itself.
    pub fn page(state: &GatewayState, title: &str, message: &str) -> Self {
        ErrorPage { brand: state.branding.clone(), title: title.to_owned(), message: message.to_owned() }
    }

    pub fn response(state: &GatewayState, status: StatusCode, message: &str) -> Response {
        let page = ErrorPage {
            brand: state.branding.clone(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: message.to_owned(),
        };
        (status, page).into_response()
    }
}
