//! The REST API for staff and scripts, `/api/v1/...`: a JSON mirror of the
//! case service, plus what staff manage in the other services (web forms
//! and portal users in the portal service, SLA state and work orders in the
//! billing service, the knowledge base under `/kb`), and the case service's
//! reports under `/reports`, as JSON or CSV, and its assignment rules
//! under `/routing`. Every handler is one gRPC call made with the caller's own
//! bearer token, so roles and the actor of every change are decided by the
//! service. The OpenAPI document (`/api/v1/openapi.json`) is generated from
//! these handlers and types.

mod accounts;
mod cases;
pub mod extract;
mod forms;
mod kb;
pub mod model;
mod openapi;
mod portal_users;
mod reports;
mod routing;
mod sla;
mod work_orders;

use axum::{
    Json, Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;

use crate::GatewayState;

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";

/// The API's routes and its OpenAPI document, which is served at
/// `/api/v1/openapi.json`.
pub fn router() -> (Router<GatewayState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = OpenApiRouter::with_openapi(openapi::base())
        .merge(cases::routes())
        .merge(accounts::routes())
        .merge(forms::routes())
        .merge(portal_users::routes())
        .merge(sla::routes())
        .merge(reports::routes())
        .merge(routing::routes())
        .merge(work_orders::routes())
        .merge(kb::routes())
        .split_for_parts();
    openapi::complete(&mut doc);
    let served = openapi::constrained(&doc);
    let routes = routes.route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = served.clone();
            async move { Json(doc) }
        }),
    );
    (Router::new().nest(PREFIX, routes), doc)
}

/// A record as JSON with its etag also in the `ETag` header.
pub fn with_etag<T: Serialize>(status: StatusCode, record: T, etag: &str) -> Response {
    let mut response = (status, Json(record)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// 201 Created with `Location` and `ETag`.
pub fn created<T: Serialize>(record: T, location: &str, etag: &str) -> Response {
    let mut response = with_etag(StatusCode::CREATED, record, etag);
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
