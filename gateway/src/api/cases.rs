//! `/api/v1/cases`: cases, their status verbs, activities and audit trail.
//! The problems every route can answer (400, 401, 403, 413, 415, 5xx) are
//! added to the document by [`super::openapi::complete`]; each route lists
//! the ones particular to it.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use docket_proto::case::v1::{self as pb, get_case_request::Lookup};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    created,
    extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey, IfMatch},
    model::{
        Activity, ActivityPage, ActivityQuery, AssignCase, Case, CaseFields, CasePage, CaseQuery, CloseCase, HistoryPage,
        NewActivity, PageQuery, ReopenCase, SetCaseStatus, next_page,
    },
    with_etag,
};
use crate::{GatewayState, problem::Problem, upstream::CaseClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(list_cases, create_case))
        .routes(routes!(get_case, update_case))
        .routes(routes!(assign_case))
        .routes(routes!(set_case_status))
        .routes(routes!(close_case))
        .routes(routes!(reopen_case))
        .routes(routes!(list_activities, add_activity))
        .routes(routes!(case_history))
}

/// Lists cases, filtered, newest first unless `order_by` says otherwise.
#[utoipa::path(get, path = "/cases", tag = "cases", params(CaseQuery),
    responses((status = OK, description = "A page of cases", body = CasePage)))]
async fn list_cases(mut clients: CaseClients, ApiQuery(query): ApiQuery<CaseQuery>) -> Result<Json<CasePage>, Problem> {
    let page = clients.cases.list_cases(pb::ListCasesRequest::from(query)).await?.into_inner();
    Ok(Json(CasePage {
        cases: page.cases.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
        total_size: page.total_size,
    }))
}

/// Opens a case. A case with an owner starts Active – Assigned, otherwise
/// Active – New. The same `Idempotency-Key` returns the first case.
#[utoipa::path(post, path = "/cases", tag = "cases", request_body = CaseFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses(
        (status = CREATED, description = "The new case", body = Case,
            headers(("Location" = String, description = "The case's address"), ("ETag" = String))),
        (status = CONFLICT, description = "A referenced record changed state", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_case(
    mut clients: CaseClients,
    key: IdempotencyKey,
    ApiJson(fields): ApiJson<CaseFields>,
) -> Result<Response, Problem> {
    let (case, _) = fields.into_proto();
    let request = pb::CreateCaseRequest { case: Some(case), idempotency_key: key.0, sender: None };
    let case: Case = clients.cases.create_case(request).await.map_err(|s| IdempotencyKey::reused(s.into()))?.into_inner().into();
    let location = format!("{}/cases/{}", super::PREFIX, case.id);
    let etag = case.etag.clone();
    Ok(created(case, &location, &etag))
}

/// Reads one case by its id or its number (`C-000123`).
#[utoipa::path(get, path = "/cases/{case}", tag = "cases",
    params(("case" = String, Path, description = "The case's id or its number, e.g. C-000123")),
    responses(
        (status = OK, description = "The case", body = Case, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_case(mut clients: CaseClients, ApiPath(case): ApiPath<String>) -> Result<Response, Problem> {
    let lookup = if crate::is_case_number(&case) { Lookup::CaseNumber(case) } else { Lookup::Id(case) };
    let case: Case = clients.cases.get_case(pb::GetCaseRequest { lookup: Some(lookup) }).await?.into_inner().into();
    let etag = case.etag.clone();
    Ok(with_etag(StatusCode::OK, case, &etag))
}

/// Changes the descriptive fields present in the body; absent fields are
/// kept. Status, owner and resolution have their own verbs.
#[utoipa::path(patch, path = "/cases/{case}", tag = "cases", request_body = CaseFields,
    params(
        ("case" = String, Path, format = Uuid, description = "The case's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed case", body = Case, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The case changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_case(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<CaseFields>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let reason = fields.reason.clone().unwrap_or_default();
    if fields.owner_id.is_some() {
        return Err(Problem::bad_field("owner_id", "is changed with POST /cases/{id}/assign"));
    }
    let (mut case, mask) = fields.into_proto();
    if mask.is_empty() {
        return Err(Problem::bad_request("the body names no field to change"));
    }
    case.id = id;
    case.etag = etag;
    let request = pb::UpdateCaseRequest { case: Some(case), update_mask: Some(prost_types::FieldMask { paths: mask }), reason };
    let case: Case = clients.cases.update_case(request).await.map_err(|s| Problem::from_status(&s, true))?.into_inner().into();
    let etag = case.etag.clone();
    Ok(with_etag(StatusCode::OK, case, &etag))
}

/// The answer of a status verb: the case, or the problem (a stale
/// `If-Match` is 412).
fn verb_answer(answer: Result<tonic::Response<pb::Case>, tonic::Status>, if_match: &IfMatch) -> Result<Response, Problem> {
    let case: Case = answer.map_err(|s| Problem::from_status(&s, if_match.is_conditional()))?.into_inner().into();
    let etag = case.etag.clone();
    Ok(with_etag(StatusCode::OK, case, &etag))
}

/// Sets or clears the owner (and optionally the team). Assigning a new case
/// makes it Active – Assigned; clearing the owner of an Assigned case
/// returns it to Active – New.
#[utoipa::path(post, path = "/cases/{case}/assign", tag = "cases", request_body = AssignCase,
    params(
        ("case" = String, Path, format = Uuid, description = "The case's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the case is still at this etag"),
    ),
    responses(
        (status = OK, description = "The case", body = Case, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such case, owner or team", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The move is not allowed from the case's status", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The case changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn assign_case(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<AssignCase>,
) -> Result<Response, Problem> {
    let request =
        pb::AssignCaseRequest { id, owner_id: body.owner_id, team_id: body.team_id, etag: if_match.etag(), reason: body.reason };
    verb_answer(clients.cases.assign_case(request).await, &if_match)
}

/// Moves a case between Active – Assigned and Pending.
#[utoipa::path(post, path = "/cases/{case}/status", tag = "cases", request_body = SetCaseStatus,
    params(
        ("case" = String, Path, format = Uuid, description = "The case's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the case is still at this etag"),
    ),
    responses(
        (status = OK, description = "The case", body = Case, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The move is not allowed; the detail names the allowed ones", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The case changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_case_status(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<SetCaseStatus>,
) -> Result<Response, Problem> {
    let request = pb::SetCaseStatusRequest { id, status: body.status.to_proto(), etag: if_match.etag(), reason: body.reason };
    verb_answer(clients.cases.set_case_status(request).await, &if_match)
}

/// Closes an active case with its resolution.
#[utoipa::path(post, path = "/cases/{case}/close", tag = "cases", request_body = CloseCase,
    params(
        ("case" = String, Path, format = Uuid, description = "The case's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the case is still at this etag"),
    ),
    responses(
        (status = OK, description = "The closed case", body = Case, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The case is closed already", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The case changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn close_case(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<CloseCase>,
) -> Result<Response, Problem> {
    let request = pb::CloseCaseRequest {
        id,
        status: body.status.to_proto(),
        resolution_summary: body.resolution_summary,
        etag: if_match.etag(),
        reason: body.reason,
    };
    verb_answer(clients.cases.close_case(request).await, &if_match)
}

/// Reopens a closed case: Active – Assigned, or Active – New if it never had an owner.
#[utoipa::path(post, path = "/cases/{case}/reopen", tag = "cases", request_body = ReopenCase,
    params(
        ("case" = String, Path, format = Uuid, description = "The case's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the case is still at this etag"),
    ),
    responses(
        (status = OK, description = "The reopened case", body = Case, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The case is not closed", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The case changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reopen_case(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ReopenCase>,
) -> Result<Response, Problem> {
    let request = pb::ReopenCaseRequest { id, reason: body.reason, etag: if_match.etag() };
    verb_answer(clients.cases.reopen_case(request).await, &if_match)
}

/// A case's activities in the order they happened.
#[utoipa::path(get, path = "/cases/{case}/activities", tag = "cases",
    params(("case" = String, Path, format = Uuid, description = "The case's id"), ActivityQuery),
    responses(
        (status = OK, description = "A page of activities", body = ActivityPage),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_activities(
    mut clients: CaseClients,
    ApiPath(case_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> Result<Json<ActivityPage>, Problem> {
    let request = pb::ListActivitiesRequest {
        case_id,
        page_size: query.page_size.unwrap_or_default(),
        page_token: query.page_token.unwrap_or_default(),
        public_only: query.public_only.unwrap_or_default(),
    };
    let page = clients.cases.list_activities(request).await?.into_inner();
    Ok(Json(ActivityPage {
        activities: page.activities.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// Adds a note, call or email to a case. The same `Idempotency-Key`
/// returns the first activity.
#[utoipa::path(post, path = "/cases/{case}/activities", tag = "cases", request_body = NewActivity,
    params(
        ("case" = String, Path, format = Uuid, description = "The case's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result"),
    ),
    responses(
        (status = CREATED, description = "The new activity", body = Activity),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_activity(
    mut clients: CaseClients,
    ApiPath(case_id): ApiPath<String>,
    key: IdempotencyKey,
    ApiJson(body): ApiJson<NewActivity>,
) -> Result<Response, Problem> {
    let request = pb::AddActivityRequest { activity: Some(body.into_proto(case_id)), idempotency_key: key.0 };
    let activity: Activity =
        clients.cases.add_activity(request).await.map_err(|s| IdempotencyKey::reused(missing_case(s)))?.into_inner().into();
    Ok((StatusCode::CREATED, Json(activity)).into_response())
}

/// The case service names a missing case of an activity as a bad
/// `case_id` field; the body has no such field, the case is the path's, and
/// every other route answers a missing case of the path with 404.
fn missing_case(status: tonic::Status) -> Problem {
    let problem = Problem::from(status);
    match problem.errors.as_slice() {
        [only] if problem.status == 400 && only.field == "case_id" && only.message.starts_with("no case has the id") => {
            Problem::not_found(only.message.clone())
        }
        _ => problem,
    }
}

/// A case's audit trail, oldest first: who changed which field when, from
/// what to what, and why.
#[utoipa::path(get, path = "/cases/{case}/history", tag = "cases",
    params(("case" = String, Path, format = Uuid, description = "The case's id"), PageQuery),
    responses(
        (status = OK, description = "A page of the audit trail", body = HistoryPage),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
async fn case_history(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<HistoryPage>, Problem> {
    let request = history_request(id, page);
    Ok(Json(clients.cases.list_case_history(request).await?.into_inner().into()))
}

/// The history request of any record.
pub fn history_request(id: String, page: PageQuery) -> pb::ListHistoryRequest {
    pb::ListHistoryRequest { id, page_size: page.page_size.unwrap_or_default(), page_token: page.page_token.unwrap_or_default() }
}
