//! The customer portal, `/portal/...`: server-rendered pages that work
//! without JavaScript. Every page and post calls the portal service with the
//! gateway's service token and the visitor's session id; the service decides
//! what the visitor may see and do (a case it may not see is "not found",
//! exactly like a case that does not exist). Every post carries a CSRF token.
//!
//! The links in portal emails land here: `/portal/invitation/{token}`,
//! `/portal/reset/{token}`, `/portal/cases/{case number}`.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use docket_proto::{
    case::v1::{CasePriority, CaseStatus},
    portal::v1::{self as pb, get_my_case_request::Lookup},
};
use serde::Deserialize;
use tonic::Code;

use super::{
    Branding, ErrorPage, FormErrors, PagePath,
    deflection::{self, Suggestion, Visit},
    status_page, when,
};
use crate::{
    GatewayState,
    csrf::{CsrfForm, CsrfToken},
    limits::{self, ClientIp},
    session::{self, Visitor},
    upstream::PortalClients,
};

pub fn routes() -> Router<GatewayState> {
    Router::new()
        .route("/portal", get(|| async { Redirect::to("/portal/cases") }))
        .route("/portal/login", get(login_page).post(login))
        .route("/portal/logout", post(logout))
        .route("/portal/invitation/{token}", get(invitation_page).post(accept_invitation))
        .route("/portal/reset", get(reset_request_page).post(request_reset))
        .route("/portal/reset/{token}", get(reset_page).post(reset_password))
        .route("/portal/password", get(change_password_page).post(change_password))
        .route("/portal/cases", get(my_cases).post(create_case))
        .route("/portal/cases/new", get(new_case_page))
        .route("/portal/cases/{case}", get(case_page))
        .route("/portal/cases/{case}/comments", post(add_comment))
        .route("/portal/cases/{case}/close", post(close_case))
        .route("/portal/cases/{case}/reopen", post(reopen_case))
}

/// Where a visitor goes after logging in: a portal page it asked for, never
/// another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with("/portal/")
                && !next.starts_with("//")
                && !next.contains(['\\', '\r', '\n'])
                && !next.starts_with("/portal/login") =>
        {
            next.to_owned()
        }
        _ => "/portal/cases".to_owned(),
    }
}

/// 303 See Other to `to` (after a post, the browser follows with GET).
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// What every portal page's layout needs (the help center's too).
pub(super) struct Chrome {
    pub brand: Arc<Branding>,
    pub visitor_name: Option<String>,
    pub csrf: String,
}

impl Chrome {
    pub(super) fn new(state: &GatewayState, visitor: Option<&Visitor>, csrf: &CsrfToken) -> Self {
        Self {
            brand: state.branding.clone(),
            visitor_name: visitor.map(|v| v.session.name.clone()),
            csrf: csrf.value().to_owned(),
        }
    }
}

pub fn status_label(status: i32) -> &'static str {
    match CaseStatus::try_from(status).unwrap_or(CaseStatus::Unspecified) {
        CaseStatus::ActiveNew => "New",
        CaseStatus::ActiveAssigned => "In progress",
        CaseStatus::Pending => "Waiting",
        CaseStatus::ClosedComplete => "Closed – resolved",
        CaseStatus::ClosedNoFault => "Closed – no fault found",
        CaseStatus::Unspecified => "",
    }
}

pub fn priority_label(priority: i32) -> &'static str {
    match CasePriority::try_from(priority).unwrap_or(CasePriority::Unspecified) {
        CasePriority::Low => "Low",
        CasePriority::Medium => "Medium",
        CasePriority::High => "High",
        CasePriority::Critical => "Critical",
        CasePriority::Unspecified => "",
    }
}

fn is_closed(status: i32) -> bool {
    status == CaseStatus::ClosedComplete as i32 || status == CaseStatus::ClosedNoFault as i32
}

// ---------------------------------------------------------------- logging in

#[derive(Template, WebTemplate)]
#[template(path = "portal_login.html")]
struct LoginPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

async fn login_page(
    State(state): State<GatewayState>,
    visitor: Option<Visitor>,
    csrf: CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Response {
    if visitor.is_some() {
        return see_other(&safe_next(query.next.as_deref()));
    }
    let notice = match query.done.as_deref() {
        Some("logout") => Some("You are logged out.".to_owned()),
        Some("reset") => Some("Your password is changed. Log in with the new one.".to_owned()),
        _ => None,
    };
    let page = LoginPage {
        brand: state.branding.clone(),
        visitor_name: None,
        csrf: csrf.value().to_owned(),
        email: String::new(),
        next: safe_next(query.next.as_deref()),
        error: None,
        notice,
    };
    (csrf, page).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<GatewayState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let refuse = |status: StatusCode, message: String| {
        let page = LoginPage {
            brand: state.branding.clone(),
            visitor_name: None,
            csrf: csrf.value().to_owned(),
            email: form.email.clone(),
            next: next.clone(),
            error: Some(message),
            notice: None,
        };
        (status, page).into_response()
    };
    let limit = state.settings.login_attempts_per_minute;
    if let Err(limited) = limits::hit(&state, &format!("login:{ip}"), limit, std::time::Duration::from_secs(60)).await {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many login attempts from your network. Try again in {} seconds.", limited.seconds()),
        );
        if let Ok(value) = HeaderValue::from_str(&limited.seconds().to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    if form.email.trim().is_empty() || form.password.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "Enter your email address and your password.".to_owned());
    }
    let mut clients = PortalClients::of(&state);
    let request = pb::LoginRequest {
        email: form.email.trim().to_owned(),
        password: form.password.clone(),
        client_ip: ip,
        device_token: session::device_token(&headers, &state).unwrap_or_default(),
    };
    match clients.auth.login(request).await {
        Ok(session) => {
            let mut response = see_other(&next);
            session::hand_out(response.headers_mut(), &state, &session.into_inner());
            response
        }
        Err(status) => match status.code() {
            Code::Unauthenticated => refuse(StatusCode::UNAUTHORIZED, "The email address or the password is wrong.".to_owned()),
            Code::InvalidArgument => refuse(StatusCode::BAD_REQUEST, status.message().to_owned()),
            Code::ResourceExhausted => {
                let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, status.message().to_owned());
                if let Some(value) = super::retry_after(&status) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Code::PermissionDenied => refuse(StatusCode::FORBIDDEN, status.message().to_owned()),
            _ => status_page(&state, &status),
        },
    }
}

async fn logout(State(state): State<GatewayState>, visitor: Option<Visitor>, CsrfForm(_): CsrfForm<Empty>) -> Response {
    if let Some(visitor) = visitor {
        let mut clients = PortalClients::of(&state);
        if let Err(status) = clients.auth.logout(pb::LogoutRequest { session_id: visitor.session_id }).await {
            return status_page(&state, &status);
        }
    }
    let mut response = see_other("/portal/login?done=logout");
    response.headers_mut().append(header::SET_COOKIE, session::clear_cookie(&state));
    response
}

/// A form with no fields of its own (only the CSRF token).
#[derive(Debug, Deserialize)]
struct Empty {}

// ------------------------------------------------- invitations and passwords

#[derive(Template, WebTemplate)]
#[template(path = "portal_set_password.html")]
struct SetPasswordPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    heading: String,
    intro: String,
    action: String,
    button: String,
    errors: FormErrors,
}

#[derive(Debug, Clone, Copy)]
enum LinkKind {
    Invitation,
    Reset,
}

impl LinkKind {
    fn purpose(self) -> pb::TokenPurpose {
        match self {
            LinkKind::Invitation => pb::TokenPurpose::Invitation,
            LinkKind::Reset => pb::TokenPurpose::PasswordReset,
        }
    }

    fn page(self, state: &GatewayState, csrf: &CsrfToken, token: &str, who: &pb::CheckTokenResponse) -> SetPasswordPage {
        let (heading, intro, path, button) = match self {
            LinkKind::Invitation => (
                "Welcome to the support portal",
                format!("Choose a password for {} ({}). You log in with this email address.", who.name, who.email),
                "invitation",
                "Set password and log in",
            ),
            LinkKind::Reset => (
                "Choose a new password",
                format!("Choose a new password for {}. Every device logged in with the old one is logged out.", who.email),
                "reset",
                "Change password",
            ),
        };
        SetPasswordPage {
            brand: state.branding.clone(),
            visitor_name: None,
            csrf: csrf.value().to_owned(),
            heading: heading.to_owned(),
            intro,
            action: format!("/portal/{path}/{}", form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()),
            button: button.to_owned(),
            errors: FormErrors::default(),
        }
    }
}

/// The token of a link: base64url, as the portal service makes them.
fn plausible_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 200 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn check_link(state: &GatewayState, kind: LinkKind, token: &str) -> Result<pb::CheckTokenResponse, Response> {
    let expired = || {
        let message = match kind {
            LinkKind::Invitation => {
                "This invitation link has expired, was replaced by a newer one, or was used already. \
                 Ask us for a new invitation, or reset your password if you have set one."
            }
            LinkKind::Reset => "This link has expired or was used already. Ask for a new one on the password reset page.",
        };
        ErrorPage::response(state, StatusCode::NOT_FOUND, message)
    };
    if !plausible_token(token) {
        return Err(expired());
    }
    let mut clients = PortalClients::of(state);
    let request = pb::CheckTokenRequest { token: token.to_owned(), purpose: kind.purpose() as i32 };
    match clients.auth.check_token(request).await {
        Ok(who) => Ok(who.into_inner()),
        Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => Err(expired()),
        Err(status) => Err(status_page(state, &status)),
    }
}

async fn link_page(state: GatewayState, csrf: CsrfToken, kind: LinkKind, token: String) -> Response {
    match check_link(&state, kind, &token).await {
        Ok(who) => {
            let page = kind.page(&state, &csrf, &token, &who);
            (csrf, page).into_response()
        }
        Err(response) => response,
    }
}

async fn invitation_page(State(state): State<GatewayState>, csrf: CsrfToken, PagePath(token): PagePath) -> Response {
    link_page(state, csrf, LinkKind::Invitation, token).await
}

async fn reset_page(State(state): State<GatewayState>, csrf: CsrfToken, PagePath(token): PagePath) -> Response {
    link_page(state, csrf, LinkKind::Reset, token).await
}

#[derive(Debug, Deserialize)]
struct NewPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

async fn set_password_from_link(
    state: GatewayState,
    ip: String,
    csrf: CsrfToken,
    kind: LinkKind,
    token: String,
    form: NewPasswordForm,
) -> Response {
    let who = match check_link(&state, kind, &token).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let refuse = |errors: FormErrors| {
        let mut page = kind.page(&state, &csrf, &token, &who);
        page.errors = errors;
        (StatusCode::BAD_REQUEST, page).into_response()
    };
    if form.password != form.password_again {
        return refuse(FormErrors::one("password_again", "The two passwords differ."));
    }
    let mut clients = PortalClients::of(&state);
    let result = match kind {
        LinkKind::Invitation => {
            let request = pb::AcceptInvitationRequest { token: token.clone(), password: form.password, client_ip: ip };
            clients.auth.accept_invitation(request).await.map(|session| Some(session.into_inner()))
        }
        LinkKind::Reset => {
            let request = pb::ResetPasswordRequest { token: token.clone(), password: form.password, client_ip: ip };
            clients.auth.reset_password(request).await.map(|_| None)
        }
    };
    match result {
        Ok(Some(session)) => {
            let mut response = see_other("/portal/cases");
            session::hand_out(response.headers_mut(), &state, &session);
            response
        }
        Ok(None) => {
            let mut response = see_other("/portal/login?done=reset");
            response.headers_mut().append(header::SET_COOKIE, session::clear_cookie(&state));
            response
        }
        Err(status) if status.code() == Code::InvalidArgument => refuse(FormErrors::from_status(&status)),
        Err(status) => status_page(&state, &status),
    }
}

async fn accept_invitation(
    State(state): State<GatewayState>,
    ClientIp(ip): ClientIp,
    csrf: CsrfToken,
    PagePath(token): PagePath,
    CsrfForm(form): CsrfForm<NewPasswordForm>,
) -> Response {
    set_password_from_link(state, ip, csrf, LinkKind::Invitation, token, form).await
}

async fn reset_password(
    State(state): State<GatewayState>,
    ClientIp(ip): ClientIp,
    csrf: CsrfToken,
    PagePath(token): PagePath,
    CsrfForm(form): CsrfForm<NewPasswordForm>,
) -> Response {
    set_password_from_link(state, ip, csrf, LinkKind::Reset, token, form).await
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_reset_request.html")]
struct ResetRequestPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    email: String,
    sent: bool,
    errors: FormErrors,
}

async fn reset_request_page(State(state): State<GatewayState>, csrf: CsrfToken) -> Response {
    let page = ResetRequestPage {
        brand: state.branding.clone(),
        visitor_name: None,
        csrf: csrf.value().to_owned(),
        email: String::new(),
        sent: false,
        errors: FormErrors::default(),
    };
    (csrf, page).into_response()
}

#[derive(Debug, Deserialize)]
struct ResetRequestForm {
    #[serde(default)]
    email: String,
}

async fn request_reset(
    State(state): State<GatewayState>,
    ClientIp(ip): ClientIp,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<ResetRequestForm>,
) -> Response {
    let mut page = ResetRequestPage {
        brand: state.branding.clone(),
        visitor_name: None,
        csrf: csrf.value().to_owned(),
        email: form.email.clone(),
        sent: false,
        errors: FormErrors::default(),
    };
    // Per client address, whatever emails it names: one sender cannot mail
    // reset links to a whole customer list.
    let limit = state.settings.reset_requests_per_minute;
    if let Err(limited) = limits::hit(&state, &format!("reset:{ip}"), limit, std::time::Duration::from_secs(60)).await {
        page.errors = FormErrors::one(
            "email",
            format!("Too many reset requests from your network. Try again in {} seconds.", limited.seconds()),
        );
        let mut response = (StatusCode::TOO_MANY_REQUESTS, page).into_response();
        if let Ok(value) = HeaderValue::from_str(&limited.seconds().to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let mut clients = PortalClients::of(&state);
    let request = pb::RequestPasswordResetRequest { email: form.email.trim().to_owned(), client_ip: ip };
    match clients.auth.request_password_reset(request).await {
        Ok(_) => {
            page.sent = true;
            page.into_response()
        }
        Err(status) if status.code() == Code::InvalidArgument => {
            page.errors = FormErrors::from_status(&status);
            (StatusCode::BAD_REQUEST, page).into_response()
        }
        Err(status) if status.code() == Code::ResourceExhausted => {
            page.errors = FormErrors::one("email", status.message());
            (StatusCode::TOO_MANY_REQUESTS, page).into_response()
        }
        Err(status) => status_page(&state, &status),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_change_password.html")]
struct ChangePasswordPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    errors: FormErrors,
    changed: bool,
}

async fn change_password_page(State(state): State<GatewayState>, visitor: Visitor, csrf: CsrfToken) -> Response {
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(&state, Some(&visitor), &csrf);
    let page = ChangePasswordPage { brand, visitor_name, csrf: token, errors: FormErrors::default(), changed: false };
    (csrf, page).into_response()
}

#[derive(Debug, Deserialize)]
struct ChangePasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

async fn change_password(
    State(state): State<GatewayState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<ChangePasswordForm>,
) -> Response {
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(&state, Some(&visitor), &csrf);
    let mut page = ChangePasswordPage { brand, visitor_name, csrf: token, errors: FormErrors::default(), changed: false };
    if form.new_password != form.new_password_again {
        page.errors = FormErrors::one("new_password_again", "The two new passwords differ.");
        return (StatusCode::BAD_REQUEST, page).into_response();
    }
    let mut clients = PortalClients::of(&state);
    let request = pb::ChangePasswordRequest {
        session_id: visitor.session_id.clone(),
        current_password: form.current_password,
        new_password: form.new_password,
        client_ip: ip,
    };
    match clients.auth.change_password(request).await {
        Ok(session) => {
            page.changed = true;
            let mut response = page.into_response();
            session::hand_out(response.headers_mut(), &state, &session.into_inner());
            response
        }
        Err(status) if matches!(status.code(), Code::InvalidArgument | Code::PermissionDenied) => {
            page.errors = FormErrors::from_status(&status);
            (StatusCode::BAD_REQUEST, page).into_response()
        }
        Err(status) if status.code() == Code::Unauthenticated && !status.message().contains("session") => {
            page.errors = FormErrors::one("current_password", "The current password is wrong.");
            (StatusCode::BAD_REQUEST, page).into_response()
        }
        Err(status) => status_page(&state, &status),
    }
}

// ------------------------------------------------------------------- cases

/// One row of the case list.
struct CaseRow {
    number: String,
    subject: String,
    status: &'static str,
    priority: &'static str,
    updated: String,
    mine: bool,
}

impl From<&pb::PortalCase> for CaseRow {
    fn from(case: &pb::PortalCase) -> Self {
        CaseRow {
            number: case.case_number.clone(),
            subject: case.subject.clone(),
            status: status_label(case.status),
            priority: priority_label(case.priority),
            updated: when(case.update_time.as_ref()),
            mine: case.mine,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_cases.html")]
struct CasesPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    manager: bool,
    state: String,
    text: String,
    scope: String,
    cases: Vec<CaseRow>,
    next_page: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CaseListQuery {
    /// `open`, `closed`, or all.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub text: String,
    /// `mine`, or everything the visitor may see.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub page_token: String,
}

impl CaseListQuery {
    pub fn request(&self, session_id: &str, page_size: i32) -> pb::ListMyCasesRequest {
        pb::ListMyCasesRequest {
            session_id: session_id.to_owned(),
            page_size,
            page_token: self.page_token.clone(),
            state: match self.state.as_str() {
                "open" => pb::CaseState::Open as i32,
                "closed" => pb::CaseState::Closed as i32,
                _ => pb::CaseState::Unspecified as i32,
            },
            text: self.text.trim().to_owned(),
            scope: if self.scope == "mine" { pb::CaseScope::Mine as i32 } else { pb::CaseScope::Unspecified as i32 },
        }
    }
}

async fn my_cases(
    State(state): State<GatewayState>,
    visitor: Visitor,
    csrf: CsrfToken,
    query: Result<Query<CaseListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return ErrorPage::response(&state, StatusCode::BAD_REQUEST, "The search could not be read. Start again from My cases.");
    };
    let mut clients = PortalClients::of(&state);
    let page = match clients.cases.list_my_cases(query.request(&visitor.session_id, 25)).await {
        Ok(page) => page.into_inner(),
        Err(status) => return status_page(&state, &status),
    };
    let next_page = (!page.next_page_token.is_empty()).then(|| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("state", &query.state)
            .append_pair("text", &query.text)
            .append_pair("scope", &query.scope)
            .append_pair("page_token", &page.next_page_token)
            .finish()
    });
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(&state, Some(&visitor), &csrf);
    let view = CasesPage {
        brand,
        visitor_name,
        csrf: token,
        manager: visitor.session.portal_manager,
        state: query.state,
        text: query.text,
        scope: query.scope,
        cases: page.cases.iter().map(CaseRow::from).collect(),
        next_page,
    };
    (csrf, view).into_response()
}

/// One entry of a case's public timeline.
struct EntryView {
    kind: &'static str,
    time: String,
    author: String,
    from_customer: bool,
    by_me: bool,
    heading: String,
    body: String,
}

impl From<&pb::TimelineEntry> for EntryView {
    fn from(entry: &pb::TimelineEntry) -> Self {
        let kind = pb::TimelineEntryKind::try_from(entry.kind).unwrap_or(pb::TimelineEntryKind::Unspecified);
        let (kind, heading) = match kind {
            pb::TimelineEntryKind::Comment => ("comment", "wrote".to_owned()),
            pb::TimelineEntryKind::Email => ("email", format!("emailed: {}", entry.email_subject)),
            pb::TimelineEntryKind::StatusChange => (
                "status",
                format!("changed the status from {} to {}", status_label(entry.old_status), status_label(entry.new_status)),
            ),
            pb::TimelineEntryKind::Unspecified => ("other", String::new()),
        };
        EntryView {
            kind,
            time: when(entry.time.as_ref()),
            author: if entry.by_me { "You".to_owned() } else { entry.author_name.clone() },
            from_customer: entry.from_customer,
            by_me: entry.by_me,
            heading,
            body: entry.body.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_case.html")]
struct CasePage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    id: String,
    number: String,
    subject: String,
    description: String,
    type_name: String,
    status: &'static str,
    priority: &'static str,
    serial_number: String,
    resolution: String,
    created: String,
    closed: Option<String>,
    reopen_until: Option<String>,
    /// The newest page of the timeline, or an older one (`paged`).
    timeline: Vec<EntryView>,
    /// The page token of the entries before these, for the "Older entries" link.
    older: Option<String>,
    /// An older page is shown: link back to the newest.
    paged: bool,
    errors: FormErrors,
    comment: String,
    /// The idempotency key of the comment form.
    comment_key: String,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CaseQuery {
    done: Option<String>,
    /// The page token of older timeline entries (the "Older entries" link).
    before: Option<String>,
}

/// Longest page token the case page passes on; longer is none we gave.
const PAGE_TOKEN_MAX: usize = 2_000;

/// An older page of the case's timeline, or the page the visitor gets when
/// the token is not one we gave (400, not 500).
pub async fn older_entries(
    state: &GatewayState,
    session_id: &str,
    case_id: &str,
    token: &str,
) -> Result<pb::ListMyCaseTimelineResponse, tonic::Status> {
    if token.is_empty() || token.len() > PAGE_TOKEN_MAX {
        use tonic_types::{ErrorDetails, StatusExt};
        let problem = "is not a page token returned by this list call";
        let details = ErrorDetails::with_bad_request_violation("page_token", problem);
        return Err(tonic::Status::with_error_details(Code::InvalidArgument, format!("page_token {problem}"), details));
    }
    let mut clients = PortalClients::of(state);
    let request = pb::ListMyCaseTimelineRequest {
        session_id: session_id.to_owned(),
        case_id: case_id.to_owned(),
        page_size: 0,
        page_token: token.to_owned(),
    };
    Ok(clients.cases.list_my_case_timeline(request).await?.into_inner())
}

/// How the portal service finds the case a path names.
pub fn lookup(case: &str) -> Lookup {
    if crate::is_case_number(case) { Lookup::CaseNumber(case.to_uppercase()) } else { Lookup::Id(case.to_owned()) }
}

async fn load_case(state: &GatewayState, visitor: &Visitor, case: &str) -> Result<pb::MyCase, Response> {
    if case.is_empty() || case.len() > 64 {
        return Err(status_page(state, &tonic::Status::not_found("no such case")));
    }
    let mut clients = PortalClients::of(state);
    let request = pb::GetMyCaseRequest { session_id: visitor.session_id.clone(), lookup: Some(lookup(case)) };
    match clients.cases.get_my_case(request).await {
        Ok(found) => Ok(found.into_inner()),
        // A malformed id is no more a case than an unknown one.
        Err(status) if status.code() == Code::InvalidArgument => {
            Err(status_page(state, &tonic::Status::not_found("no such case")))
        }
        Err(status) => Err(status_page(state, &status)),
    }
}

fn case_view(state: &GatewayState, visitor: &Visitor, csrf: &CsrfToken, found: pb::MyCase) -> CasePage {
    let case = found.case.unwrap_or_default();
    let Chrome { brand, visitor_name, csrf } = Chrome::new(state, Some(visitor), csrf);
    CasePage {
        brand,
        visitor_name,
        csrf,
        id: case.id.clone(),
        number: case.case_number.clone(),
        subject: case.subject.clone(),
        description: case.description.clone(),
        type_name: case.type_name.clone(),
        status: status_label(case.status),
        priority: priority_label(case.priority),
        serial_number: case.asset_serial_number.clone(),
        resolution: case.resolution_summary.clone(),
        created: when(case.create_time.as_ref()),
        closed: is_closed(case.status).then(|| when(case.closed_time.as_ref())),
        reopen_until: case.reopen_until.as_ref().map(|at| when(Some(at))),
        timeline: found.timeline.iter().map(EntryView::from).collect(),
        older: (!found.next_page_token.is_empty()).then_some(found.next_page_token),
        paged: false,
        errors: FormErrors::default(),
        comment: String::new(),
        comment_key: new_key(),
        notice: None,
    }
}

async fn case_page(
    State(state): State<GatewayState>,
    visitor: Visitor,
    csrf: CsrfToken,
    PagePath(case): PagePath,
    Query(query): Query<CaseQuery>,
) -> Response {
    let found = match load_case(&state, &visitor, &case).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut view = case_view(&state, &visitor, &csrf, found);
    if let Some(token) = query.before.as_deref() {
        match older_entries(&state, &visitor.session_id, &view.id, token).await {
            Ok(page) => {
                view.timeline = page.entries.iter().map(EntryView::from).collect();
                view.older = (!page.next_page_token.is_empty()).then_some(page.next_page_token);
                view.paged = true;
            }
            Err(status) if status.code() == Code::InvalidArgument => {
                return ErrorPage::response(
                    &state,
                    StatusCode::BAD_REQUEST,
                    "This link to older entries of the case is not valid. Open the case again to see its newest entries.",
                );
            }
            Err(status) => return status_page(&state, &status),
        }
    }
    view.notice = match query.done.as_deref() {
        Some("comment") => Some("Your comment is added. We will get back to you.".to_owned()),
        Some("close") => Some("The case is closed. Thank you!".to_owned()),
        Some("reopen") => Some("The case is open again.".to_owned()),
        Some("created") => Some(format!("Your case {} is open. We will get back to you.", view.number)),
        _ => None,
    };
    (csrf, view).into_response()
}

/// The case's id: the forms post to `/portal/cases/{id}/...` with the id the
/// page showed; a case number works as well.
async fn case_id(state: &GatewayState, visitor: &Visitor, case: &str) -> Result<String, Response> {
    if let Lookup::Id(id) = lookup(case) {
        return Ok(id);
    }
    let found = load_case(state, visitor, case).await?;
    Ok(found.case.map(|c| c.id).unwrap_or_default())
}

/// What the posts of the case page share: `call` asks the portal service
/// with the case's id; then back to the case page, which says `done`. Input
/// the service refuses shows the page again with the reasons and the
/// comment the visitor typed (`kept`).
async fn case_post<T>(
    state: &GatewayState,
    visitor: &Visitor,
    csrf: &CsrfToken,
    case: &str,
    done: &str,
    kept: String,
    call: impl AsyncFnOnce(PortalClients, String) -> Result<T, tonic::Status>,
) -> Response {
    let id = match case_id(state, visitor, case).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    match call(PortalClients::of(state), id.clone()).await {
        Ok(_) => see_other(&format!("/portal/cases/{id}?done={done}")),
        Err(status) if status.code() == Code::InvalidArgument => {
            case_again(state, visitor, csrf, &id, StatusCode::BAD_REQUEST, FormErrors::from_status(&status), kept).await
        }
        Err(status) => status_page(state, &status),
    }
}

/// The case page again, answering `code`, with `errors` and the comment
/// the visitor typed (`kept`).
async fn case_again(
    state: &GatewayState,
    visitor: &Visitor,
    csrf: &CsrfToken,
    id: &str,
    code: StatusCode,
    errors: FormErrors,
    kept: String,
) -> Response {
    let found = match load_case(state, visitor, id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut view = case_view(state, visitor, csrf, found);
    view.errors = errors;
    view.comment = kept;
    (code, view).into_response()
}

#[derive(Debug, Deserialize)]
struct CommentForm {
    #[serde(default)]
    body: String,
    /// Made when the page was rendered: a post sent twice adds one comment.
    #[serde(default)]
    idempotency_key: String,
}

async fn add_comment(
    State(state): State<GatewayState>,
    visitor: Visitor,
    csrf: CsrfToken,
    PagePath(case): PagePath,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Response {
    let session_id = visitor.session_id.clone();
    let kept = form.body.clone();
    let id = match case_id(&state, &visitor, &case).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    if let Err(limited) = limits::comment(&state, &session_id, &id).await {
        let reason = format!(
            "Too many comments in a short time. Your comment is kept below: send it again in {} seconds.",
            limited.seconds()
        );
        let mut response =
            case_again(&state, &visitor, &csrf, &id, StatusCode::TOO_MANY_REQUESTS, FormErrors::one("body", reason), kept).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS
            && let Ok(value) = HeaderValue::from_str(&limited.seconds().to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let counter = state.clone();
    case_post(&state, &visitor, &csrf, &id, "comment", kept, async move |mut clients, case_id| {
        let idempotency_key = form.idempotency_key.chars().take(100).collect();
        let request = pb::AddCommentRequest { session_id, case_id: case_id.clone(), body: form.body, idempotency_key };
        let added = clients.cases.add_comment(request).await?;
        limits::comment_added(&counter, &case_id).await;
        Ok(added)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct CloseForm {
    #[serde(default)]
    resolution_summary: String,
}

async fn close_case(
    State(state): State<GatewayState>,
    visitor: Visitor,
    csrf: CsrfToken,
    PagePath(case): PagePath,
    CsrfForm(form): CsrfForm<CloseForm>,
) -> Response {
    let session_id = visitor.session_id.clone();
    case_post(&state, &visitor, &csrf, &case, "close", String::new(), async move |mut clients, case_id| {
        let resolution_summary = form.resolution_summary;
        clients.cases.close_my_case(pb::CloseMyCaseRequest { session_id, case_id, resolution_summary }).await
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ReopenForm {
    #[serde(default)]
    reason: String,
}

async fn reopen_case(
    State(state): State<GatewayState>,
    visitor: Visitor,
    csrf: CsrfToken,
    PagePath(case): PagePath,
    CsrfForm(form): CsrfForm<ReopenForm>,
) -> Response {
    let session_id = visitor.session_id.clone();
    case_post(&state, &visitor, &csrf, &case, "reopen", String::new(), async move |mut clients, case_id| {
        clients.cases.reopen_my_case(pb::ReopenMyCaseRequest { session_id, case_id, reason: form.reason }).await
    })
    .await
}

// ---------------------------------------------------------------- new case

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_new_case.html")]
struct NewCasePage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    types: Vec<Choice>,
    priorities: Vec<Choice>,
    subject: String,
    description: String,
    serial_number: String,
    idempotency_key: String,
    errors: FormErrors,
    /// This visit of the page, for the suggestions and what comes of them.
    visit: Visit,
    suggestions: Vec<Suggestion>,
    /// The "search first" step was used (so "no suggestions" is news).
    searched: bool,
    /// Suggested articles open in this tab.
    new_tab: bool,
}

#[derive(Debug, Default, Deserialize)]
struct NewCaseForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    type_id: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    asset_serial_number: String,
    #[serde(default)]
    idempotency_key: String,
    /// The deflection visit (`deflection::Visit`), carried from the page.
    #[serde(default)]
    ds: String,
}

/// The new-case page's query: the "search first" step's text, and the
/// visit it belongs to.
#[derive(Debug, Default, Deserialize)]
struct NewCaseQuery {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    ds: String,
}

pub fn priority_from_name(name: &str) -> Option<CasePriority> {
    match name {
        "low" => Some(CasePriority::Low),
        "medium" => Some(CasePriority::Medium),
        "high" => Some(CasePriority::High),
        "critical" => Some(CasePriority::Critical),
        _ => None,
    }
}

fn priority_name(priority: i32) -> &'static str {
    match CasePriority::try_from(priority).unwrap_or(CasePriority::Unspecified) {
        CasePriority::Low => "low",
        CasePriority::Medium => "medium",
        CasePriority::High => "high",
        CasePriority::Critical => "critical",
        CasePriority::Unspecified => "",
    }
}

/// A random key for a form, so a post sent twice opens one case.
pub fn new_key() -> String {
    docket_kit::secret::token().unwrap_or_default()
}

async fn new_case_view(
    state: &GatewayState,
    visitor: &Visitor,
    csrf: &CsrfToken,
    form: NewCaseForm,
    errors: FormErrors,
    suggestions: Option<Vec<Suggestion>>,
) -> Result<NewCasePage, Response> {
    let visit = Visit::parse(&form.ds, deflection::PORTAL).unwrap_or_else(|| Visit::start(deflection::PORTAL));
    let mut clients = PortalClients::of(state);
    let options = match clients.cases.get_case_options(pb::GetCaseOptionsRequest { session_id: visitor.session_id.clone() }).await
    {
        Ok(options) => options.into_inner(),
        Err(status) => return Err(status_page(state, &status)),
    };
    let chosen_priority = if form.priority.is_empty() { "medium" } else { form.priority.as_str() };
    let Chrome { brand, visitor_name, csrf } = Chrome::new(state, Some(visitor), csrf);
    Ok(NewCasePage {
        brand,
        visitor_name,
        csrf,
        types: options
            .case_types
            .iter()
            .map(|t| Choice { value: t.id.clone(), label: t.name.clone(), selected: t.id == form.type_id })
            .collect(),
        priorities: options
            .priorities
            .iter()
            .map(|p| Choice {
                value: priority_name(*p).to_owned(),
                label: priority_label(*p).to_owned(),
                selected: priority_name(*p) == chosen_priority,
            })
            .collect(),
        subject: form.subject,
        description: form.description,
        serial_number: form.asset_serial_number,
        idempotency_key: if form.idempotency_key.is_empty() { new_key() } else { form.idempotency_key },
        errors,
        visit,
        searched: suggestions.is_some(),
        new_tab: false,
        suggestions: suggestions.unwrap_or_default(),
    })
}

/// `/portal/cases/new`: the case form, and above it a "search first" step
/// whose text (`?subject=`) brings suggestions and fills in the subject.
async fn new_case_page(
    State(state): State<GatewayState>,
    visitor: Visitor,
    csrf: CsrfToken,
    query: Result<Query<NewCaseQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let visit = Visit::parse(&query.ds, deflection::PORTAL).unwrap_or_else(|| Visit::start(deflection::PORTAL));
    let subject: String = query.subject.trim().chars().take(255).collect();
    let suggestions =
        if subject.is_empty() { None } else { Some(deflection::suggest(&state, Some(&visitor), &subject, &visit).await) };
    let form = NewCaseForm { subject, ds: visit.session, ..NewCaseForm::default() };
    match new_case_view(&state, &visitor, &csrf, form, FormErrors::default(), suggestions).await {
        Ok(page) => (csrf, page).into_response(),
        Err(response) => response,
    }
}

async fn create_case(
    State(state): State<GatewayState>,
    visitor: Visitor,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<NewCaseForm>,
) -> Response {
    let priority = if form.priority.is_empty() { Some(CasePriority::Unspecified) } else { priority_from_name(&form.priority) };
    let Some(priority) = priority else {
        let errors = FormErrors::one("priority", "Choose one of the priorities offered.");
        return match new_case_view(&state, &visitor, &csrf, form, errors, None).await {
            Ok(page) => (StatusCode::BAD_REQUEST, page).into_response(),
            Err(response) => response,
        };
    };
    let mut clients = PortalClients::of(&state);
    let request = pb::CreateMyCaseRequest {
        session_id: visitor.session_id.clone(),
        subject: form.subject.clone(),
        description: form.description.clone(),
        type_id: form.type_id.clone(),
        priority: priority as i32,
        asset_serial_number: form.asset_serial_number.trim().to_owned(),
        idempotency_key: form.idempotency_key.chars().take(100).collect(),
    };
    match clients.cases.create_my_case(request).await {
        Ok(case) => {
            if let Some(visit) = Visit::parse(&form.ds, deflection::PORTAL) {
                deflection::record(
                    &state,
                    Some(&visitor),
                    &visit,
                    docket_proto::knowledge::v1::DeflectionEventKind::CaseOpened,
                    "",
                );
            }
            see_other(&format!("/portal/cases/{}?done=created", case.into_inner().case_number))
        }
        Err(status) if status.code() == Code::InvalidArgument => {
            match new_case_view(&state, &visitor, &csrf, form, FormErrors::from_status(&status), None).await {
                Ok(page) => (StatusCode::BAD_REQUEST, page).into_response(),
                Err(response) => response,
            }
        }
        Err(status) => status_page(&state, &status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_login_a_visitor_goes_only_to_a_portal_page() {
        assert_eq!(safe_next(Some("/portal/cases/C-000001")), "/portal/cases/C-000001");
        for bad in ["https://evil.example/", "//evil.example/portal/", "/portal/\\evil", "/dev/mail", "/portal/login?next=x", ""]
        {
            assert_eq!(safe_next(Some(bad)), "/portal/cases", "{bad}");
        }
        assert_eq!(safe_next(None), "/portal/cases");
    }
}
