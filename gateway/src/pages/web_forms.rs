//! Public web forms, `/f/{slug}`: a support form any website can show in an
//! iframe (`/f/{slug}/embed.js` writes one), whose submission becomes a case
//! through the portal service's SubmitForm.
//!
//! The form works in a third-party iframe, where browsers withhold cookies,
//! so instead of the CSRF cookie each rendered form carries a sealed token:
//! the form's slug, a submission id (a resubmission answers with the first
//! case), when it was issued and the embedding origin. Spam meets a honeypot
//! field, a per-address and a per-form rate limit and the body limit; each
//! refusal shows the form again with what was typed and says why, so a real
//! person is never dropped silently.

use std::{collections::HashMap, sync::Arc, time::Duration};

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use docket_proto::portal::v1::{self as pb, get_web_form_request::Lookup};
use serde::Deserialize;
use tonic::Code;

use super::{
    Branding, ErrorPage, FormErrors, PagePath,
    deflection::{self, Suggestion, Visit},
    status_page,
};
use crate::{
    GatewayState,
    csrf::{CsrfForm, CsrfToken},
    limits::{self, ClientIp},
    security::{FrameAncestors, is_origin},
    upstream::PortalClients,
};

pub fn routes() -> Router<GatewayState> {
    Router::new()
        .route("/f/{slug}", get(show).post(submit))
        .route("/f/{slug}/embed.js", get(embed_script))
        .route("/portal/confirm/{token}", get(confirm_page).post(confirm))
}

/// The form field that carries the sealed token (not a valid field name of
/// a form definition, so it cannot collide with one).
const TOKEN_FIELD: &str = "docket-token";
/// The honeypot: hidden from people, irresistible to form-filling bots.
const HONEYPOT_FIELD: &str = "docket-website";
/// The deflection visit the form belongs to (`deflection::Visit`).
const VISIT_FIELD: &str = "docket-visit";
/// What the seal is for.
const SEAL_PURPOSE: &str = "web-form";
/// How long a rendered form can be sent.
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What a rendered form's token says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FormTicket {
    slug: String,
    submission_id: String,
    issued_at: i64,
    /// The origin of the page embedding the form, or empty.
    origin: String,
}

impl FormTicket {
    fn new(slug: &str, origin: &str) -> Self {
        Self {
            slug: slug.to_owned(),
            submission_id: super::portal::new_key(),
            issued_at: chrono::Utc::now().timestamp(),
            origin: origin.to_owned(),
        }
    }

    fn seal(&self, state: &GatewayState) -> String {
        state.csrf.seal(SEAL_PURPOSE, &format!("{}|{}|{}|{}", self.slug, self.submission_id, self.issued_at, self.origin))
    }

    fn open(state: &GatewayState, sealed: &str) -> Option<Self> {
        let payload = state.csrf.open(SEAL_PURPOSE, sealed)?;
        let mut parts = payload.splitn(4, '|');
        Some(Self {
            slug: parts.next()?.to_owned(),
            submission_id: parts.next()?.to_owned(),
            issued_at: parts.next()?.parse().ok()?,
            origin: parts.next()?.to_owned(),
        })
    }

    fn is_fresh(&self) -> bool {
        let age = chrono::Utc::now().timestamp() - self.issued_at;
        (0..=TOKEN_LIFETIME.as_secs() as i64).contains(&age)
    }
}

/// One field as the page shows it.
struct FieldView {
    name: String,
    label: String,
    /// `text`, `textarea`, `email`, `select`.
    kind: &'static str,
    options: Vec<String>,
    required: bool,
    max_length: i32,
    help: String,
    value: String,
    error: Option<String>,
    /// The case's subject: articles are suggested as it is typed.
    suggest: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "web_form.html")]
struct FormPage {
    brand: Arc<Branding>,
    slug: String,
    title: String,
    intro: String,
    fields: Vec<FieldView>,
    token: String,
    errors: FormErrors,
    /// The field that holds the case's subject: suggestions follow it.
    subject_field: Option<String>,
    visit: Visit,
    /// The "search first" step was used, with this text, and found these.
    searched: bool,
    search_text: String,
    suggestions: Vec<Suggestion>,
    /// Suggested articles open in a new tab (the form may be in a frame).
    new_tab: bool,
    /// The embedding page's origin, kept through the "search first" step.
    origin: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "web_form_done.html")]
struct DonePage {
    brand: Arc<Branding>,
    title: String,
    case_number: String,
    message: String,
}

/// `/portal/confirm/{token}`: the owner of an address confirms a web form
/// submission that named it.
#[derive(Template, WebTemplate)]
#[template(path = "web_form_confirm.html")]
struct ConfirmPage {
    brand: Arc<Branding>,
    csrf: String,
    action: String,
    /// Whether this page answers the confirmation (or asks for it).
    confirmed: bool,
    case_number: String,
    subject: String,
}

/// A response a page of `form` gives: it may be framed by the form's sites.
fn framed(form: &pb::WebForm, status: StatusCode, page: impl IntoResponse) -> Response {
    let mut response = (status, page).into_response();
    response.extensions_mut().insert(FrameAncestors(form.allowed_origins.clone()));
    response
}

fn form_view(
    state: &GatewayState,
    form: &pb::WebForm,
    ticket: &FormTicket,
    values: &HashMap<String, String>,
    errors: FormErrors,
    visit: Visit,
) -> FormPage {
    let fields = form
        .fields
        .iter()
        .map(|field| FieldView {
            name: field.name.clone(),
            label: field.label.clone(),
            kind: match pb::FormFieldKind::try_from(field.kind).unwrap_or(pb::FormFieldKind::Text) {
                pb::FormFieldKind::Textarea => "textarea",
                pb::FormFieldKind::Email => "email",
                pb::FormFieldKind::Select => "select",
                pb::FormFieldKind::Text | pb::FormFieldKind::Unspecified => "text",
            },
            options: field.options.clone(),
            required: field.required,
            max_length: field.max_length,
            help: field.help_text.clone(),
            value: values.get(&field.name).cloned().unwrap_or_default(),
            error: errors.get(&field.name).map(str::to_owned),
            suggest: field.target == pb::FormFieldTarget::Subject as i32,
        })
        .collect();
    FormPage {
        brand: state.branding.clone(),
        slug: form.slug.clone(),
        title: form.title.clone(),
        intro: form.intro.clone(),
        fields,
        token: ticket.seal(state),
        errors,
        subject_field: subject_field(form),
        visit,
        searched: false,
        search_text: String::new(),
        suggestions: Vec::new(),
        new_tab: true,
        origin: ticket.origin.clone(),
    }
}

/// The name of the field that holds the case's subject, if the form has one.
fn subject_field(form: &pb::WebForm) -> Option<String> {
    form.fields.iter().find(|f| f.target == pb::FormFieldTarget::Subject as i32).map(|f| f.name.clone())
}

/// A slug as form definitions have them; anything else is not a form.
fn plausible_slug(slug: &str) -> bool {
    !slug.is_empty() && slug.len() <= 100 && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

async fn load_form(state: &GatewayState, slug: &str) -> Result<pb::WebForm, Response> {
    let missing = || ErrorPage::response(state, StatusCode::NOT_FOUND, "There is no form at this address.");
    if !plausible_slug(slug) {
        return Err(missing());
    }
    let mut clients = PortalClients::of(state);
    match clients.forms.get_web_form(pb::GetWebFormRequest { lookup: Some(Lookup::Slug(slug.to_owned())) }).await {
        Ok(form) => {
            let form = form.into_inner();
            if form.active {
                Ok(form)
            } else {
                Err(framed(
                    &form,
                    StatusCode::NOT_FOUND,
                    ErrorPage::page(state, "Form closed", "This form is not taking submissions."),
                ))
            }
        }
        Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => Err(missing()),
        Err(status) => Err(status_page(state, &status)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    /// The embedding page's origin, as embed.js passes it.
    #[serde(default)]
    origin: String,
    /// The deflection visit, when the form is opened again from an article.
    #[serde(default)]
    ds: String,
    /// The "search first" step's text.
    #[serde(default)]
    q: String,
}

/// The origin to remember for a submission: one the form allows, else none
/// (the browser's frame-ancestors check is what keeps other sites out).
fn embedding_origin(form: &pb::WebForm, origin: &str) -> String {
    if is_origin(origin) && form.allowed_origins.iter().any(|allowed| allowed == origin) {
        origin.to_owned()
    } else {
        String::new()
    }
}

/// `GET /f/{slug}`: the form, ready to fill in.
async fn show(
    State(state): State<GatewayState>,
    PagePath(slug): PagePath,
    query: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let form = match load_form(&state, &slug).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let origin = embedding_origin(&form, &query.origin);
    let ticket = FormTicket::new(&form.slug, &origin);
    let visit = Visit::parse(&query.ds, &form.slug).unwrap_or_else(|| Visit::start(&form.slug));
    let text: String = query.q.trim().chars().take(200).collect();
    // The "search first" step: suggestions for the text, which also fills in the subject.
    let mut values = HashMap::new();
    let mut suggestions = Vec::new();
    let searched = match subject_field(&form) {
        Some(field) if !text.is_empty() => {
            suggestions = deflection::suggest(&state, None, &text, &visit).await;
            values.insert(field, text.clone());
            true
        }
        _ => false,
    };
    let mut page = form_view(&state, &form, &ticket, &values, FormErrors::default(), visit);
    page.searched = searched;
    page.search_text = text;
    page.suggestions = suggestions;
    framed(&form, StatusCode::OK, page)
}

/// `POST /f/{slug}`: a submission. The portal service checks it against the
/// form it stores and answers with that form, so a taken submission costs
/// one call; the form is read here only to show a refusal on its own page.
async fn submit(
    State(state): State<GatewayState>,
    ClientIp(ip): ClientIp,
    PagePath(slug): PagePath,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if !plausible_slug(&slug) {
        return ErrorPage::response(&state, StatusCode::NOT_FOUND, "There is no form at this address.");
    }
    match take_submission(&state, ip, &slug, &headers, body).await {
        Ok(done) => done,
        Err(refusal) => refusal.show(&state, &slug).await,
    }
}

/// Why a submission was not taken, as the visitor is to see it.
enum Refusal {
    /// A page saying why; what was typed cannot be shown again.
    Page { status: StatusCode, message: String },
    /// The form again, as it was filled in, with what to correct.
    Again {
        ticket: FormTicket,
        status: StatusCode,
        errors: FormErrors,
        values: HashMap<String, String>,
        visit: Option<Visit>,
        retry_after: Option<u64>,
    },
    /// The service's own answer (the form is gone, the service is down).
    Answer(Response),
}

impl Refusal {
    fn page(status: StatusCode, message: &str) -> Self {
        Self::Page { status, message: message.to_owned() }
    }

    /// The refusal on the form's page, framed for the form's sites; a form
    /// that is gone or closed meanwhile says so instead.
    async fn show(self, state: &GatewayState, slug: &str) -> Response {
        if let Self::Answer(response) = self {
            return response;
        }
        let form = match load_form(state, slug).await {
            Ok(form) => form,
            Err(response) => return response,
        };
        match self {
            Self::Page { status, message } => framed(&form, status, ErrorPage::page(state, "The form was not sent", &message)),
            Self::Again { ticket, status, errors, values, visit, retry_after } => {
                let visit = visit.unwrap_or_else(|| Visit::start(&form.slug));
                let mut response = framed(&form, status, form_view(state, &form, &ticket, &values, errors, visit));
                if let Some(value) = retry_after.and_then(|seconds| HeaderValue::from_str(&seconds.to_string()).ok()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Self::Answer(response) => response,
        }
    }
}

/// Checks a submission and has the portal service take it: the answer page,
/// or why not.
async fn take_submission(
    state: &GatewayState,
    ip: String,
    slug: &str,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, Refusal> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Refusal::page(StatusCode::UNSUPPORTED_MEDIA_TYPE, "This address only takes the form's own posts."));
    }
    let unreadable = || Refusal::page(StatusCode::BAD_REQUEST, "The form could not be read. Reload the page and send it again.");
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Refusal::page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "What you sent is larger than this form takes. Shorten the longest text and send it again.",
            ));
        }
        Err(_) => return Err(unreadable()),
    };
    if crate::csrf::has_unreadable_text(&body) {
        return Err(unreadable());
    }
    let mut values = HashMap::new();
    let mut token = String::new();
    let mut honeypot = String::new();
    let mut visit = String::new();
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            TOKEN_FIELD => token = value.into_owned(),
            HONEYPOT_FIELD => honeypot = value.into_owned(),
            VISIT_FIELD => visit = value.into_owned(),
            _ => {
                values.insert(name.into_owned(), value.into_owned());
            }
        }
    }
    let visit = Visit::parse(&visit, slug);
    let Some(ticket) = FormTicket::open(state, &token).filter(|ticket| ticket.slug == slug && ticket.is_fresh()) else {
        tracing::info!(slug, has_token = !token.is_empty(), "web form post without a valid token");
        return Err(Refusal::Again {
            ticket: FormTicket::new(slug, ""),
            status: StatusCode::BAD_REQUEST,
            errors: FormErrors::one(
                "",
                "This form had expired or was not sent from its page. Check your entries and send it again.",
            ),
            values,
            visit,
            retry_after: None,
        });
    };
    if !honeypot.trim().is_empty() {
        tracing::info!(slug, %ip, "web form honeypot filled");
        return Err(Refusal::Again {
            ticket,
            status: StatusCode::BAD_REQUEST,
            errors: FormErrors::one(
                HONEYPOT_FIELD,
                "The field \"Leave this empty\" was filled in (sometimes a browser does that by itself). Empty it and send again.",
            ),
            values,
            visit,
            retry_after: None,
        });
    }
    let minute = Duration::from_secs(60);
    let (ip_key, form_key) = (format!("form:{slug}:{ip}"), format!("form:{slug}"));
    let limited = match limits::hit(state, &ip_key, state.settings.form_submissions_per_minute, minute).await {
        Err(limited) => Some(limited),
        Ok(()) => limits::hit(state, &form_key, state.settings.form_submissions_per_form_per_minute, minute).await.err(),
    };
    if let Some(limited) = limited {
        return Err(Refusal::Again {
            ticket,
            status: StatusCode::TOO_MANY_REQUESTS,
            errors: FormErrors::one(
                "",
                format!(
                    "This form is receiving too many submissions right now. Your entries are kept below: send them again in {} seconds.",
                    limited.seconds()
                ),
            ),
            values,
            visit,
            retry_after: Some(limited.seconds()),
        });
    }
    let mut clients = PortalClients::of(state);
    let request = pb::SubmitFormRequest {
        slug: slug.to_owned(),
        values: values.clone(),
        submission_id: ticket.submission_id.clone(),
        client_ip: ip,
        origin: ticket.origin.clone(),
    };
    let again =
        |ticket, status, errors| Refusal::Again { ticket, status, errors, values, visit: visit.clone(), retry_after: None };
    match clients.forms.submit_form(request).await {
        Ok(done) => {
            let done = done.into_inner();
            let Some(form) = done.web_form else {
                return Err(Refusal::Answer(status_page(
                    state,
                    &tonic::Status::internal("SubmitForm answered without its form"),
                )));
            };
            if let Some(visit) = &visit {
                deflection::record(state, None, visit, docket_proto::knowledge::v1::DeflectionEventKind::CaseOpened, "");
            }
            let page = DonePage {
                brand: state.branding.clone(),
                title: form.title.clone(),
                case_number: done.case_number,
                message: done.success_message,
            };
            Ok(framed(&form, StatusCode::OK, page))
        }
        Err(status) if status.code() == Code::InvalidArgument => {
            let errors = FormErrors::from_status(&status);
            if errors.get("submission_id").is_some() {
                // This page was sent before with other entries (back, edit,
                // send): a new ticket makes the next send a new request.
                let ticket = FormTicket::new(slug, &ticket.origin);
                let errors = FormErrors::one(
                    "",
                    "This form was already sent with different entries. Check them and send it again to make a new request.",
                );
                return Err(again(ticket, StatusCode::CONFLICT, errors));
            }
            Err(again(ticket, StatusCode::BAD_REQUEST, errors))
        }
        Err(status) if matches!(status.code(), Code::PermissionDenied | Code::FailedPrecondition) => {
            Err(Refusal::page(StatusCode::FORBIDDEN, status.message()))
        }
        Err(status) => {
            // The service could not take it: the entries stay on the page.
            let response = status_page(state, &status);
            if response.status().is_server_error() {
                return Err(again(
                    ticket,
                    response.status(),
                    FormErrors::one(
                        "",
                        "We could not take your submission just now. Your entries are kept: please send them again in a minute.",
                    ),
                ));
            }
            Err(Refusal::Answer(response))
        }
    }
}

/// `GET /f/{slug}/embed.js`: the one line a website adds where the form
/// should appear, `<script src=".../f/{slug}/embed.js" async></script>`,
/// puts the form there in an iframe.
async fn embed_script(State(state): State<GatewayState>, PagePath(slug): PagePath) -> Response {
    let form = match load_form(&state, &slug).await {
        Ok(form) => form,
        Err(page) => {
            // The slug is not echoed: it comes from whoever wrote the link,
            // and would be script text (`*/` ends the comment).
            let mut response = (page.status(), "/* Docket: there is no active form at this address. */\n").into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
            return response;
        }
    };
    let path = format!("/f/{}", form.slug);
    // The iframe comes from where the script came from. Values go in as
    // JSON strings: a title cannot break out of the script.
    let script = format!(
        "(function () {{\n  var script = document.currentScript;\n  var frame = document.createElement('iframe');\n  \
         frame.src = new URL(script.src).origin + {src} + '?origin=' + encodeURIComponent(window.location.origin);\n  \
         frame.title = {title};\n  frame.style.width = '100%';\n  frame.style.minHeight = '640px';\n  \
         frame.style.border = '0';\n  frame.setAttribute('loading', 'lazy');\n  \
         script.parentNode.insertBefore(frame, script.nextSibling);\n}})();\n",
        src = serde_json::to_string(&path).unwrap_or_default().replace('<', "\\u003c"),
        title = serde_json::to_string(&form.title).unwrap_or_default().replace('<', "\\u003c"),
    );
    let mut response = script.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    // Other sites load it with a plain <script> tag.
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    response
}

/// A link token as the portal service makes them (base64url).
fn plausible_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 200 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn dead_link(state: &GatewayState) -> Response {
    ErrorPage::response(
        state,
        StatusCode::NOT_FOUND,
        "This link does not work: it may be mistyped or cut short. If you sent us a request, our team has it.",
    )
}

/// `GET /portal/confirm/{token}`: names the request and asks before
/// confirming, so that a mail scanner opening links confirms nothing.
async fn confirm_page(State(state): State<GatewayState>, csrf: CsrfToken, PagePath(token): PagePath) -> Response {
    confirm_link(state, csrf, token, true).await
}

/// `POST /portal/confirm/{token}`: the case joins the contact's account.
async fn confirm(
    State(state): State<GatewayState>,
    csrf: CsrfToken,
    PagePath(token): PagePath,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Response {
    confirm_link(state, csrf, token, false).await
}

async fn confirm_link(state: GatewayState, csrf: CsrfToken, token: String, validate_only: bool) -> Response {
    if !plausible_token(&token) {
        return dead_link(&state);
    }
    let mut clients = PortalClients::of(&state);
    let request = pb::ConfirmSubmissionRequest { token: token.clone(), validate_only };
    match clients.forms.confirm_submission(request).await {
        Ok(done) => {
            let done = done.into_inner();
            let page = ConfirmPage {
                brand: state.branding.clone(),
                csrf: csrf.value().to_owned(),
                action: format!("/portal/confirm/{token}"),
                confirmed: !validate_only,
                case_number: done.case_number,
                subject: done.subject,
            };
            (csrf, page).into_response()
        }
        Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => dead_link(&state),
        Err(status) => status_page(&state, &status),
    }
}

/// A post that carries nothing but its CSRF token.
#[derive(Debug, Deserialize)]
struct NoFields {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ticket_opens_as_it_was_sealed_and_expires() {
        let state = crate::testing::state();
        let ticket = FormTicket::new("support", "https://shop.example");
        let sealed = ticket.seal(&state);
        let opened = FormTicket::open(&state, &sealed).expect("opens");
        assert_eq!(opened, ticket);
        assert!(opened.is_fresh());
        let old = FormTicket { issued_at: ticket.issued_at - 25 * 3600, ..ticket.clone() };
        assert!(!FormTicket::open(&state, &old.seal(&state)).unwrap().is_fresh());
        let future = FormTicket { issued_at: ticket.issued_at + 3600, ..ticket };
        assert!(!future.is_fresh());
        assert_eq!(FormTicket::open(&state, "garbage"), None);
    }

    #[test]
    fn only_slugs_that_forms_can_have_are_looked_up() {
        assert!(plausible_slug("support-2"));
        for bad in ["", "Support", "a/b", "a b", "../etc", &"a".repeat(101)] {
            assert!(!plausible_slug(bad), "{bad}");
        }
    }
}
