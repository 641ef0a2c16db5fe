//! The customer portal as JSON, `/portal/api/v1/...`, for scripts and apps
//! of a logged-in customer: the same session cookie and the same checks as
//! the pages (the portal service decides every read and write). Posts take
//! only `application/json`, which a page on another site cannot send
//! without the browser asking first (CORS), and the session cookie is
//! SameSite=Lax; together they stand in for the CSRF token of the pages.
//!
//! `GET /cases/{id}` answers the case with the newest page of its timeline
//! and `next_page_token`; `GET /cases/{id}?page_token=...` the next older
//! page (a token it did not give: 400). Comments are limited per session
//! and per case per minute (`gateway.comments_per_session_per_minute`,
//! `gateway.comments_per_case_per_minute`): over them, 429 with
//! `Retry-After`, and nothing is written.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use docket_proto::portal::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::{
    GatewayState,
    api::extract::{ApiJson, ApiQuery},
    limits,
    pages::{
        portal::{CaseListQuery, lookup, older_entries, priority_label, status_label},
        when,
    },
    problem::Problem,
    session::ApiVisitor,
    upstream::PortalClients,
};

pub fn routes() -> Router<GatewayState> {
    Router::new()
        .route("/portal/api/v1/cases", get(list_cases))
        .route("/portal/api/v1/cases/{case}", get(get_case))
        .route("/portal/api/v1/cases/{case}/comments", post(add_comment))
        .route("/portal/api/v1/cases/{case}/close", post(close_case))
}

/// A case as its customer sees it.
#[derive(Debug, Serialize)]
struct CaseJson {
    id: String,
    case_number: String,
    subject: String,
    description: String,
    type_name: String,
    status: &'static str,
    priority: &'static str,
    asset_serial_number: String,
    resolution_summary: String,
    create_time: String,
    update_time: String,
    mine: bool,
}

impl From<pb::PortalCase> for CaseJson {
    fn from(case: pb::PortalCase) -> Self {
        CaseJson {
            status: status_label(case.status),
            priority: priority_label(case.priority),
            create_time: when(case.create_time.as_ref()),
            update_time: when(case.update_time.as_ref()),
            id: case.id,
            case_number: case.case_number,
            subject: case.subject,
            description: case.description,
            type_name: case.type_name,
            asset_serial_number: case.asset_serial_number,
            resolution_summary: case.resolution_summary,
            mine: case.mine,
        }
    }
}

#[derive(Debug, Serialize)]
struct EntryJson {
    id: String,
    time: String,
    kind: &'static str,
    author_name: String,
    from_customer: bool,
    by_me: bool,
    body: String,
    email_subject: String,
}

impl From<pb::TimelineEntry> for EntryJson {
    fn from(entry: pb::TimelineEntry) -> Self {
        let kind = match pb::TimelineEntryKind::try_from(entry.kind).unwrap_or(pb::TimelineEntryKind::Unspecified) {
            pb::TimelineEntryKind::Comment => "comment",
            pb::TimelineEntryKind::Email => "email",
            pb::TimelineEntryKind::StatusChange => "status_change",
            pb::TimelineEntryKind::Unspecified => "other",
        };
        EntryJson {
            id: entry.id,
            time: when(entry.time.as_ref()),
            kind,
            author_name: entry.author_name,
            from_customer: entry.from_customer,
            by_me: entry.by_me,
            body: entry.body,
            email_subject: entry.email_subject,
        }
    }
}

#[derive(Debug, Serialize)]
struct CasePageJson {
    cases: Vec<CaseJson>,
    next_page_token: Option<String>,
}

async fn list_cases(
    State(state): State<GatewayState>,
    ApiVisitor(visitor): ApiVisitor,
    ApiQuery(query): ApiQuery<CaseListQuery>,
) -> Result<Json<CasePageJson>, Problem> {
    let mut clients = PortalClients::of(&state);
    let page = clients.cases.list_my_cases(query.request(&visitor.session_id, 50)).await?.into_inner();
    Ok(Json(CasePageJson {
        cases: page.cases.into_iter().map(Into::into).collect(),
        next_page_token: (!page.next_page_token.is_empty()).then_some(page.next_page_token),
    }))
}

#[derive(Debug, Serialize)]
struct CaseWithTimeline {
    case: CaseJson,
    /// The newest entries, or the page `page_token` asked for; oldest first.
    timeline: Vec<EntryJson>,
    /// The older entries: `?page_token=` this. Absent on the oldest page.
    next_page_token: Option<String>,
}

/// `GET /portal/api/v1/cases/{id}?page_token=...`
#[derive(Debug, Default, Deserialize)]
struct CaseQuery {
    /// The page of the timeline before the one that gave this
    /// `next_page_token`; absent: the newest entries.
    #[serde(default)]
    page_token: Option<String>,
}

/// A malformed id is no more a case than an unknown one: both are 404.
fn not_found_if_malformed(status: tonic::Status) -> Problem {
    if status.code() == tonic::Code::InvalidArgument { Problem::not_found("no such case") } else { Problem::from(status) }
}

async fn get_case(
    State(state): State<GatewayState>,
    ApiVisitor(visitor): ApiVisitor,
    Path(case): Path<String>,
    ApiQuery(query): ApiQuery<CaseQuery>,
) -> Result<Json<CaseWithTimeline>, Problem> {
    let mut clients = PortalClients::of(&state);
    let request = pb::GetMyCaseRequest { session_id: visitor.session_id.clone(), lookup: Some(lookup(&case)) };
    let found = clients.cases.get_my_case(request).await.map_err(not_found_if_malformed)?.into_inner();
    let case = found.case.unwrap_or_default();
    let (timeline, next) = match query.page_token {
        Some(token) => {
            let page = older_entries(&state, &visitor.session_id, &case.id, &token).await?;
            (page.entries, page.next_page_token)
        }
        None => (found.timeline, found.next_page_token),
    };
    Ok(Json(CaseWithTimeline {
        case: case.into(),
        timeline: timeline.into_iter().map(Into::into).collect(),
        next_page_token: (!next.is_empty()).then_some(next),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    body: String,
    #[serde(default)]
    idempotency_key: String,
}

async fn add_comment(
    State(state): State<GatewayState>,
    ApiVisitor(visitor): ApiVisitor,
    Path(case): Path<String>,
    ApiJson(comment): ApiJson<NewComment>,
) -> Result<Response, Problem> {
    if let Err(limited) = limits::comment(&state, &visitor.session_id, &case).await {
        return Ok(limited.problem_response("too many comments in a short time"));
    }
    let mut clients = PortalClients::of(&state);
    let request = pb::AddCommentRequest {
        session_id: visitor.session_id,
        case_id: case.clone(),
        body: comment.body,
        idempotency_key: comment.idempotency_key,
    };
    let entry = clients.cases.add_comment(request).await.map_err(|status| {
        // A case id that is not an id names no case.
        if status.code() == tonic::Code::InvalidArgument && status.message().contains("case_id") {
            Problem::not_found("no such case")
        } else {
            Problem::from(status)
        }
    })?;
    limits::comment_added(&state, &case).await;
    Ok((StatusCode::CREATED, Json(EntryJson::from(entry.into_inner()))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseRequest {
    resolution_summary: String,
}

async fn close_case(
    State(state): State<GatewayState>,
    ApiVisitor(visitor): ApiVisitor,
    Path(case): Path<String>,
    ApiJson(close): ApiJson<CloseRequest>,
) -> Result<Json<CaseJson>, Problem> {
    let mut clients = PortalClients::of(&state);
    let request =
        pb::CloseMyCaseRequest { session_id: visitor.session_id, case_id: case, resolution_summary: close.resolution_summary };
    let case = clients.cases.close_my_case(request).await.map_err(|status| {
        if status.code() == tonic::Code::InvalidArgument && status.message().contains("case_id") {
            Problem::not_found("no such case")
        } else {
            Problem::from(status)
        }
    })?;
    Ok(Json(case.into_inner().into()))
}
