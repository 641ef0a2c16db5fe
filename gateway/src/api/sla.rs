//! `/api/v1/cases/{case}/sla` and `/api/v1/sla/...`: where cases stand
//! against their SLA targets, the "at risk" and "breached" queues, and
//! compliance per contract or policy (the billing service's clocks).

use axum::Json;
use docket_proto::billing::v1 as pb;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    extract::{ApiPath, ApiQuery},
    model::{
        next_page,
        sla::{CaseSla, CaseSlaPage, CaseSlaQuery, SlaCompliance, SlaComplianceQuery},
    },
};
use crate::{GatewayState, problem::Problem, upstream::BillingClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new().routes(routes!(get_case_sla)).routes(routes!(list_case_slas)).routes(routes!(get_sla_compliance))
}

/// Where a case stands against its first-response and resolution targets, now.
#[utoipa::path(get, path = "/cases/{case}/sla", tag = "sla",
    params(("case" = String, Path, format = Uuid, description = "The case's id")),
    responses(
        (status = OK, description = "The case's SLA state", body = CaseSla),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_case_sla(mut clients: BillingClients, ApiPath(case_id): ApiPath<String>) -> Result<Json<CaseSla>, Problem> {
    Ok(Json(clients.slas.get_case_sla(pb::GetCaseSlaRequest { case_id }).await?.into_inner().into()))
}

/// Open cases at risk of breaching a target or past one, soonest due first.
#[utoipa::path(get, path = "/sla/cases", tag = "sla", params(CaseSlaQuery),
    responses((status = OK, description = "A page of cases with their SLA state", body = CaseSlaPage)))]
async fn list_case_slas(
    mut clients: BillingClients,
    ApiQuery(query): ApiQuery<CaseSlaQuery>,
) -> Result<Json<CaseSlaPage>, Problem> {
    let page = clients.slas.list_case_slas(pb::ListCaseSlasRequest::from(query)).await?.into_inner();
    Ok(Json(CaseSlaPage {
        cases: page.cases.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// The share of the cases of one contract or one SLA policy, opened in a
/// period, that met their first-response and resolution targets.
#[utoipa::path(get, path = "/sla/compliance", tag = "sla", params(SlaComplianceQuery),
    responses((status = OK, description = "Compliance over the period", body = SlaCompliance)))]
async fn get_sla_compliance(
    mut clients: BillingClients,
    ApiQuery(query): ApiQuery<SlaComplianceQuery>,
) -> Result<Json<SlaCompliance>, Problem> {
    Ok(Json(clients.slas.get_sla_compliance(pb::GetSlaComplianceRequest::from(query)).await?.into_inner().into()))
}
