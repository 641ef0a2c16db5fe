//! `/api/v1/cases/{case}/work-order.pdf`: a case's printable work order, as
//! the billing service renders it.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use docket_proto::billing::v1 as pb;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::ApiPath;
use crate::{GatewayState, problem::Problem, upstream::BillingClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new().routes(routes!(get_work_order))
}

/// A PDF document.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "application/pdf")]
#[allow(dead_code)]
pub struct Pdf(Vec<u8>);

/// The work order of a case as a PDF: case and customer, asset and serial
/// number, contract, booked hours, parts, signature lines. It shows the
/// case as it stands now.
#[utoipa::path(get, path = "/cases/{case}/work-order.pdf", tag = "work orders",
    params(("case" = String, Path, format = Uuid, description = "The case's id")),
    responses(
        (status = OK, description = "The work order", body = Pdf, content_type = "application/pdf",
            headers(("Content-Disposition" = String, description = "`inline; filename=\"work-order-<case number>.pdf\"`"))),
        (status = NOT_FOUND, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The work order cannot be printed (e.g. a part in an unknown currency)",
            body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_work_order(mut clients: BillingClients, ApiPath(case_id): ApiPath<String>) -> Result<Response, Problem> {
    let order = clients.work.get_work_order(pb::GetWorkOrderRequest { case_id }).await?.into_inner();
    let mut response = order.pdf.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&order.case_number)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `inline; filename="work-order-C-000123.pdf"`, with only the characters
/// a case number has (nothing that could break out of the quotes).
fn content_disposition(case_number: &str) -> String {
    let safe: String = case_number.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    format!("inline; filename=\"work-order-{safe}.pdf\"")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn the_file_name_carries_the_case_number_and_nothing_else() {
        assert_eq!(content_disposition("C-000123"), "inline; filename=\"work-order-C-000123.pdf\"");
        assert_eq!(content_disposition("C-1\"; x=\r\n"), "inline; filename=\"work-order-C-1x.pdf\"");
    }
}
