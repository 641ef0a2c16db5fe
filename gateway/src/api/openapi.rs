//! The OpenAPI 3.1 document of the API. Routes and types describe
//! themselves (`#[utoipa::path]`, `ToSchema`); this module adds what holds
//! for every route: the bearer security scheme and the problem answers that
//! the gateway's own layers give (bad input, missing token, body limits,
//! upstream failures).

use utoipa::{
    OpenApi,
    openapi::{
        Content, RefOr, Response,
        schema::Ref,
        security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme},
    },
};

use super::model::{AccountTier, CaseOrder, CasePriority, CaseStatus, portal_users::PortalUserState, sla::SlaQueueState};
use crate::problem::{FieldError, PROBLEM_JSON, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Docket REST API",
        description = "A JSON mirror of Docket's case service for staff and scripts, with web forms, \
            portal users, SLA state and work orders. \
            Send `Authorization: Bearer <token>`; the token's role decides what a call may do and its \
            holder is recorded as the actor of every change. Errors are RFC 9457 problem details.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    // Enums used only by query parameters are not collected from the routes.
    components(schemas(
        Problem, FieldError, CaseOrder, CaseStatus, CasePriority, AccountTier, PortalUserState, SlaQueueState
    )),
    tags(
        (name = "cases", description = "Cases, their status machine, activities and audit trail"),
        (name = "accounts", description = "Customers"),
        (name = "contacts", description = "The people of an account"),
        (name = "forms", description = "Web form definitions (admin); their public pages open cases"),
        (name = "portal users", description = "Contacts with access to the customer portal: invitations, access, sessions"),
        (name = "sla", description = "Cases against their SLA targets: state, queues, compliance"),
        (name = "work orders", description = "Printable work orders of cases"),
    ),
)]
struct ApiDoc;

/// The document before the routes are added.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The problem answers any route may give, by status: (status, name, description).
const COMMON: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "Bad input: the `errors` list names each bad field; nothing was changed"),
    ("401", "Unauthorized", "No bearer token, or an unknown one"),
    ("403", "Forbidden", "The token's role may not do this"),
    ("500", "InternalError", "An internal error (logged on the server)"),
    ("503", "Unavailable", "A service behind the gateway is unavailable; retry later"),
    ("504", "Timeout", "The request took longer than the gateway waits"),
];

/// The problem answers of a route that reads a body.
const WITH_BODY: &[(&str, &str, &str)] = &[
    ("413", "PayloadTooLarge", "The body is larger than the gateway accepts"),
    ("415", "UnsupportedMediaType", "The body is not sent as `application/json`"),
];

/// Adds the security scheme, the shared problem responses, and a reference
/// to them from every operation that does not describe that status itself.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert("bearer".to_owned(), RefOr::T(SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer))));
    for (_, name, description) in COMMON.iter().chain(WITH_BODY) {
        let content = Content::new(Some(Ref::from_schema_name("Problem")));
        let mut response = Response::new(*description);
        response.content.insert(PROBLEM_JSON.to_owned(), RefOr::T(content));
        components.responses.insert((*name).to_owned(), RefOr::T(response));
    }
    doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);

    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete];
        for operation in operations {
            let Some(operation) = operation else { continue };
            let has_body = operation.request_body.is_some();
            let shared = COMMON.iter().chain(if has_body { WITH_BODY } else { &[] });
            for (status, name, _) in shared {
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
    }
}
