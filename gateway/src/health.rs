//! Probes for Kubernetes: `/healthz` (liveness: the process serves HTTP)
//! and `/readyz` (readiness: every service behind the gateway answers its
//! gRPC health check with SERVING).

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use crate::GatewayState;

#[derive(Debug, Serialize)]
pub struct Liveness {
    status: &'static str,
}

/// `GET /healthz`: answers while the process serves.
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    upstreams: Vec<UpstreamHealth>,
}

#[derive(Debug, Serialize)]
pub struct UpstreamHealth {
    name: &'static str,
    serving: bool,
}

/// `GET /readyz`: 200 when every upstream is SERVING, else 503 naming the
/// ones that are not.
pub async fn ready(State(state): State<GatewayState>) -> (StatusCode, Json<Readiness>) {
    let timeout = state.settings.readiness_timeout();
    let checks = state
        .upstreams()
        .into_iter()
        .map(|upstream| async move { UpstreamHealth { name: upstream.name, serving: upstream.serving(timeout).await } });
    let upstreams = futures::future::join_all(checks).await;
    let all = upstreams.iter().all(|u| u.serving);
    if !all {
        tracing::warn!(?upstreams, "not ready");
    }
    let status = if all { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Readiness { status: if all { "ready" } else { "not_ready" }, upstreams }))
}
