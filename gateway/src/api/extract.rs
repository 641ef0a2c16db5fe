//! Request extractors of the API whose every refusal is a problem+json:
//! axum's own `Json`, `Path` and `Query` wrapped, and the conditional and
//! idempotency headers.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// A JSON object body (`Content-Type: application/json`); refusals are
/// problems (415 wrong content type, 413 too large, 400 bad JSON, invalid
/// UTF-8, or a body that is not an object — serde would otherwise read `[]`
/// as a record with every field left out).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")));
        if !is_json {
            return Err(Problem::from(JsonRejection::MissingJsonContentType(Default::default())));
        }
        let body = Bytes::from_request(request, state).await?;
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') && !body.trim_ascii().is_empty() {
            let parses = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
            return Err(if parses {
                Problem::bad_request("the body must be a JSON object")
            } else {
                Problem::bad_request("the body is not valid JSON")
            });
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&body)?;
        Ok(ApiJson(value))
    }
}

/// Path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct ApiPath<T>(pub T);

/// Query parameters; a list repeats its parameter (`?status=a&status=b`).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum_extra::extract::Query), rejection(Problem))]
pub struct ApiQuery<T>(pub T);

/// The etag of `If-Match` (quotes and a weak `W/` prefix removed); `None`
/// when absent or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(pub Option<String>);

impl IfMatch {
    /// The etag, or 428 Precondition Required: an update must say which
    /// version it changes.
    pub fn required(self) -> Result<String, Problem> {
        self.0.ok_or_else(|| {
            Problem::new(
                StatusCode::PRECONDITION_REQUIRED,
                "precondition_required",
                "send the record's etag as read last in `If-Match`, so that a change made in between is not overwritten",
            )
        })
    }

    pub fn is_conditional(&self) -> bool {
        self.0.is_some()
    }

    pub fn etag(&self) -> String {
        self.0.clone().unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(http::header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().map_err(|_| Problem::bad_field("If-Match", "must be visible ASCII"))?.trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let etag = text.strip_prefix("W/").unwrap_or(text);
        let etag = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(etag);
        if etag.is_empty() || etag.contains(['"', ',']) {
            return Err(Problem::bad_field("If-Match", "must be one etag, as the ETag header gave it"));
        }
        Ok(IfMatch(Some(etag.to_owned())))
    }
}

/// The optional `Idempotency-Key` of a create: the same key returns the
/// first result and writes nothing twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("idempotency-key") {
            None => Ok(IdempotencyKey::default()),
            Some(value) => value
                .to_str()
                .map(|key| IdempotencyKey(key.trim().to_owned()))
                .map_err(|_| Problem::bad_field("Idempotency-Key", "must be visible ASCII")),
        }
    }
}

impl IdempotencyKey {
    /// A create's problem: a key used before with another request is 422
    /// Unprocessable Content (as the IETF's Idempotency-Key draft says), not
    /// a bad field of this request, which is well-formed.
    pub fn reused(problem: Problem) -> Problem {
        match problem.errors.as_slice() {
            [only] if problem.status == 400 && only.field == "idempotency_key" => {
                let mut reused = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", problem.detail.clone());
                reused.errors = problem.errors;
                reused
            }
            _ => problem,
        }
    }
}
