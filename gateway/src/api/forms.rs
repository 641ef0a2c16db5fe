//! `/api/v1/forms`: web form definitions, which admins manage (any role may
//! read them). Submitting a form is not part of the API: the public
//! `/f/{slug}` pages do that.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use docket_proto::portal::v1::{self as pb, get_web_form_request::Lookup};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    cases::history_request,
    created,
    extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey, IfMatch},
    model::{
        HistoryPage, PageQuery,
        forms::{DeleteQuery, WebForm, WebFormFields, WebFormPage, WebFormQuery},
        next_page,
    },
    with_etag,
};
use crate::{GatewayState, problem::Problem, upstream::PortalAdminClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(list_forms, create_form))
        .routes(routes!(get_form, update_form, delete_form))
        .routes(routes!(form_history))
}

/// A form is named by its id (a UUID) or its slug; a slug never parses as a UUID.
fn lookup(form: String) -> Lookup {
    if uuid::Uuid::try_parse(&form).is_ok() { Lookup::Id(form) } else { Lookup::Slug(form) }
}

/// The id of the form named by `form`: itself, or the id of the form with
/// that slug (one read more).
async fn form_id(clients: &mut PortalAdminClients, form: String) -> Result<String, Problem> {
    match lookup(form) {
        Lookup::Id(id) => Ok(id),
        slug => Ok(clients.forms.get_web_form(pb::GetWebFormRequest { lookup: Some(slug) }).await?.into_inner().id),
    }
}

/// Lists web forms by slug.
#[utoipa::path(get, path = "/forms", tag = "forms", params(WebFormQuery),
    responses((status = OK, description = "A page of web forms", body = WebFormPage)))]
async fn list_forms(
    mut clients: PortalAdminClients,
    ApiQuery(query): ApiQuery<WebFormQuery>,
) -> Result<Json<WebFormPage>, Problem> {
    let page = clients.forms.list_web_forms(pb::ListWebFormsRequest::from(query)).await?.into_inner();
    Ok(Json(WebFormPage {
        web_forms: page.web_forms.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// Defines a web form (admin). The same `Idempotency-Key` returns the first form.
#[utoipa::path(post, path = "/forms", tag = "forms", request_body = WebFormFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses(
        (status = CREATED, description = "The new form", body = WebForm,
            headers(("Location" = String, description = "The form's address"), ("ETag" = String))),
        (status = CONFLICT, description = "Another form has this slug", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_form(
    mut clients: PortalAdminClients,
    key: IdempotencyKey,
    ApiJson(fields): ApiJson<WebFormFields>,
) -> Result<Response, Problem> {
    let (form, _) = fields.into_proto();
    let request = pb::CreateWebFormRequest { web_form: Some(form), idempotency_key: key.0 };
    let form: WebForm =
        clients.forms.create_web_form(request).await.map_err(|s| IdempotencyKey::reused(s.into()))?.into_inner().into();
    let location = format!("{}/forms/{}", super::PREFIX, form.id);
    let etag = form.etag.clone();
    Ok(created(form, &location, &etag))
}

/// Reads one web form by its id or its slug.
#[utoipa::path(get, path = "/forms/{form}", tag = "forms",
    params(("form" = String, Path, description = "The form's id or its slug, e.g. warranty-claim")),
    responses(
        (status = OK, description = "The form", body = WebForm, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such form", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_form(mut clients: PortalAdminClients, ApiPath(form): ApiPath<String>) -> Result<Response, Problem> {
    let request = pb::GetWebFormRequest { lookup: Some(lookup(form)) };
    let form: WebForm = clients.forms.get_web_form(request).await?.into_inner().into();
    let etag = form.etag.clone();
    Ok(with_etag(StatusCode::OK, form, &etag))
}

/// Changes the fields present in the body (admin); absent fields are kept.
#[utoipa::path(patch, path = "/forms/{form}", tag = "forms", request_body = WebFormFields,
    params(
        ("form" = String, Path, description = "The form's id or its slug"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed form", body = WebForm, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such form", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another form has this slug", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The form changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_form(
    mut clients: PortalAdminClients,
    ApiPath(form): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<WebFormFields>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let reason = fields.reason.clone().unwrap_or_default();
    let (mut web_form, mask) = fields.into_proto();
    if mask.is_empty() {
        return Err(Problem::bad_request("the body names no field to change"));
    }
    web_form.id = form_id(&mut clients, form).await?;
    web_form.etag = etag;
    let request =
        pb::UpdateWebFormRequest { web_form: Some(web_form), update_mask: Some(prost_types::FieldMask { paths: mask }), reason };
    let form: WebForm =
        clients.forms.update_web_form(request).await.map_err(|s| Problem::from_status(&s, true))?.into_inner().into();
    let etag = form.etag.clone();
    Ok(with_etag(StatusCode::OK, form, &etag))
}

/// Deletes a web form (admin): its page stops answering. Cases it opened stay.
#[utoipa::path(delete, path = "/forms/{form}", tag = "forms",
    params(
        ("form" = String, Path, description = "The form's id or its slug"),
        ("If-Match" = String, Header, description = "The etag read last"),
        DeleteQuery,
    ),
    responses(
        (status = NO_CONTENT, description = "The form is gone"),
        (status = NOT_FOUND, description = "No such form", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The form changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_form(
    mut clients: PortalAdminClients,
    ApiPath(form): ApiPath<String>,
    if_match: IfMatch,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let id = form_id(&mut clients, form).await?;
    let request = pb::DeleteWebFormRequest { id, etag, reason: query.reason.unwrap_or_default() };
    clients.forms.delete_web_form(request).await.map_err(|s| Problem::from_status(&s, true))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A web form's audit trail, oldest first. By id it stays readable after
/// the form is deleted; an id that never was a form has an empty trail.
#[utoipa::path(get, path = "/forms/{form}/history", tag = "forms",
    params(("form" = String, Path, description = "The form's id, or the slug of a form that exists"), PageQuery),
    responses(
        (status = OK, description = "A page of the audit trail", body = HistoryPage),
        (status = NOT_FOUND, description = "No form has this slug", body = Problem, content_type = "application/problem+json"),
    ))]
async fn form_history(
    mut clients: PortalAdminClients,
    ApiPath(form): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<HistoryPage>, Problem> {
    let id = form_id(&mut clients, form).await?;
    Ok(Json(clients.forms.list_web_form_history(history_request(id, page)).await?.into_inner().into()))
}
