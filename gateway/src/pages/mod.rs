//! Server-rendered pages: the layout every page shares (product name,
//! business name and brand colours from `[gateway]`), the stylesheets the
//! gateway serves itself (no CDN, no request leaves the site), error pages,
//! and the home page. Templates are askama's, under `gateway/templates/`;
//! askama escapes every value for HTML unless a template says otherwise
//! (none does).

pub mod mail;

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

/// `/`: what this gateway offers (the portal pages replace it later).
pub async fn home(State(state): State<GatewayState>) -> impl IntoResponse {
    HomePage { brand: state.branding.clone() }
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
    pub fn response(state: &GatewayState, status: StatusCode, message: &str) -> Response {
        let page = ErrorPage {
            brand: state.branding.clone(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: message.to_owned(),
        };
        (status, page).into_response()
    }
}
