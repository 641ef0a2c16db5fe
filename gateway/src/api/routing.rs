//! `/api/v1/routing`: the assignment rules that route new cases, and the
//! routing settings (the case service's `AssignmentRuleService`). Any staff
//! role reads them; admins change them.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use docket_proto::case::v1 as pb;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    created,
    extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey, IfMatch},
    model::routing::{
        AssignmentRule, AssignmentRuleFields, AssignmentRuleList, AssignmentRuleOrder, AssignmentRuleQuery, RoutingSettings,
        RoutingSettingsFields,
    },
    with_etag,
};
use crate::{GatewayState, problem::Problem, upstream::CaseClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, update_rule, delete_rule))
        .routes(routes!(reorder_rules))
        .routes(routes!(get_settings, update_settings))
}

/// The assignment rules, in the order they are tried.
#[utoipa::path(get, path = "/routing/rules", tag = "routing", params(AssignmentRuleQuery),
    responses((status = OK, description = "The rules", body = AssignmentRuleList)))]
async fn list_rules(
    mut clients: CaseClients,
    ApiQuery(query): ApiQuery<AssignmentRuleQuery>,
) -> Result<Json<AssignmentRuleList>, Problem> {
    let request = pb::ListAssignmentRulesRequest { include_inactive: query.include_inactive.unwrap_or_default() };
    Ok(Json(clients.assignment_rules.list_assignment_rules(request).await?.into_inner().into()))
}

/// Adds an assignment rule (admin). The same `Idempotency-Key` returns the first rule.
#[utoipa::path(post, path = "/routing/rules", tag = "routing", request_body = AssignmentRuleFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses(
        (status = CREATED, description = "The new rule", body = AssignmentRule,
            headers(("Location" = String, description = "The rule's address"), ("ETag" = String))),
        (status = CONFLICT, description = "Another rule has this name", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_rule(
    mut clients: CaseClients,
    key: IdempotencyKey,
    ApiJson(fields): ApiJson<AssignmentRuleFields>,
) -> Result<Response, Problem> {
    let (rule, _) = fields.into_proto();
    let request = pb::CreateAssignmentRuleRequest { rule: Some(rule), idempotency_key: key.0 };
    let rule: AssignmentRule = clients
        .assignment_rules
        .create_assignment_rule(request)
        .await
        .map_err(|s| IdempotencyKey::reused(s.into()))?
        .into_inner()
        .into();
    let location = format!("{}/routing/rules/{}", super::PREFIX, rule.id);
    let etag = rule.etag.clone();
    Ok(created(rule, &location, &etag))
}

/// Reads one assignment rule.
#[utoipa::path(get, path = "/routing/rules/{rule}", tag = "routing",
    params(("rule" = String, Path, format = Uuid, description = "The rule's id")),
    responses(
        (status = OK, description = "The rule", body = AssignmentRule, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such rule", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_rule(mut clients: CaseClients, ApiPath(id): ApiPath<String>) -> Result<Response, Problem> {
    let rule: AssignmentRule =
        clients.assignment_rules.get_assignment_rule(pb::GetAssignmentRuleRequest { id }).await?.into_inner().into();
    let etag = rule.etag.clone();
    Ok(with_etag(StatusCode::OK, rule, &etag))
}

/// Changes the fields present in the body (admin); absent fields are kept.
#[utoipa::path(patch, path = "/routing/rules/{rule}", tag = "routing", request_body = AssignmentRuleFields,
    params(
        ("rule" = String, Path, format = Uuid, description = "The rule's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed rule", body = AssignmentRule, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such rule", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another rule has this name", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The rule changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_rule(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<AssignmentRuleFields>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let (mut rule, mask) = fields.into_proto();
    if mask.is_empty() {
        return Err(Problem::bad_request("the body names no field to change"));
    }
    rule.id = id;
    rule.etag = etag;
    let request = pb::UpdateAssignmentRuleRequest { rule: Some(rule), update_mask: Some(prost_types::FieldMask { paths: mask }) };
    let rule: AssignmentRule = clients
        .assignment_rules
        .update_assignment_rule(request)
        .await
        .map_err(|s| Problem::from_status(&s, true))?
        .into_inner()
        .into();
    let etag = rule.etag.clone();
    Ok(with_etag(StatusCode::OK, rule, &etag))
}

/// Deletes an assignment rule (admin). Cases it routed keep their owners.
#[utoipa::path(delete, path = "/routing/rules/{rule}", tag = "routing",
    params(
        ("rule" = String, Path, format = Uuid, description = "The rule's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = NO_CONTENT, description = "The rule is gone"),
        (status = NOT_FOUND, description = "No such rule", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The rule changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_rule(mut clients: CaseClients, ApiPath(id): ApiPath<String>, if_match: IfMatch) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let request = pb::DeleteAssignmentRuleRequest { id, etag };
    clients.assignment_rules.delete_assignment_rule(request).await.map_err(|s| Problem::from_status(&s, true))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Puts the rules in a new order (admin): every rule's id, each once.
#[utoipa::path(put, path = "/routing/rules/order", tag = "routing", request_body = AssignmentRuleOrder,
    responses((status = OK, description = "The rules in their new order", body = AssignmentRuleList)))]
async fn reorder_rules(
    mut clients: CaseClients,
    ApiJson(order): ApiJson<AssignmentRuleOrder>,
) -> Result<Json<AssignmentRuleList>, Problem> {
    let request = pb::ReorderAssignmentRulesRequest { rule_ids: order.rule_ids };
    Ok(Json(clients.assignment_rules.reorder_assignment_rules(request).await?.into_inner().into()))
}

/// Where a case no rule matches waits.
#[utoipa::path(get, path = "/routing/settings", tag = "routing",
    responses((status = OK, description = "The routing settings", body = RoutingSettings)))]
async fn get_settings(mut clients: CaseClients) -> Result<Json<RoutingSettings>, Problem> {
    Ok(Json(clients.assignment_rules.get_routing_settings(pb::GetRoutingSettingsRequest {}).await?.into_inner().into()))
}

/// Sets the routing settings (admin).
#[utoipa::path(put, path = "/routing/settings", tag = "routing", request_body = RoutingSettingsFields,
    responses((status = OK, description = "The routing settings", body = RoutingSettings)))]
async fn update_settings(
    mut clients: CaseClients,
    ApiJson(fields): ApiJson<RoutingSettingsFields>,
) -> Result<Json<RoutingSettings>, Problem> {
    let settings = pb::RoutingSettings { default_team_id: fields.default_team_id.unwrap_or_default(), update_time: None };
    let request = pb::UpdateRoutingSettingsRequest { settings: Some(settings) };
    Ok(Json(clients.assignment_rules.update_routing_settings(request).await?.into_inner().into()))
}
