//! Who is asking, and how often: the client address of a request and the
//! rate limits kept for it in `GatewayState::kv` (Redis, or memory under
//! `docket dev`), shared by every gateway replica.

use std::{net::SocketAddr, time::Duration};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

use crate::GatewayState;

/// The client's address: the peer of the connection, or the first
/// `X-Forwarded-For` entry when `gateway.trust_forwarded_for` says a proxy
/// in front sets it. `unknown` when neither is there (in-process tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl FromRequestParts<GatewayState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        if state.settings.trust_forwarded_for
            && let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .and_then(|v| v.parse::<std::net::IpAddr>().ok())
        {
            return Ok(ClientIp(first.to_string()));
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(ClientIp(peer.unwrap_or_else(|| "unknown".to_owned())))
    }
}

/// A limit was reached: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds, at least 1, for `Retry-After` and for people.
    pub fn seconds(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }
}

/// Counts one more event under `key` in a fixed window of `window`; refuses
/// once more than `limit` happened in it. When the store cannot be reached
/// the event is let through (and logged): an outage of Redis must not lock
/// every customer out; the portal service's own lock-out still holds.
pub async fn hit(state: &GatewayState, key: &str, limit: u32, window: Duration) -> Result<(), Limited> {
    match state.kv.incr_with_ttl(key, window).await {
        Ok(count) if count > u64::from(limit) => {
            let retry_after = state.kv.ttl(key).await.ok().flatten().unwrap_or(window);
            tracing::info!(key, count, limit, "rate limit reached");
            Err(Limited { retry_after })
        }
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::warn!(key, error = %err, "rate limit store unavailable; letting the request through");
            Ok(())
        }
    }
}
