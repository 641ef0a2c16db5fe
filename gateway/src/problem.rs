//! Errors as RFC 9457 problem details (`application/problem+json`): the one
//! error shape of the gateway, whether the error came from a service (a gRPC
//! status), from parsing the request, or from the gateway itself. A problem
//! never carries a stack trace or an internal message: server-side causes
//! are logged, the caller reads a fixed sentence.

use axum::{
    extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tonic::Code;
use tonic_types::StatusExt;
use utoipa::ToSchema;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer (RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem; `about:blank` means
    /// the HTTP status says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A short summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// For scripts: a stable lower-case word (`invalid_argument`, `not_found`, ...).
    pub code: &'static str,
    /// One entry per bad field of the request, when the request was refused for its input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One bad field of a refused request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as named in the JSON body or the query (`subject`, `contacts[0].contact_id`, `page_token`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            errors: Vec::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_argument", detail)
    }

    /// 400 naming one bad field.
    pub fn bad_field(field: &str, message: &str) -> Self {
        let mut problem = Self::bad_request(format!("invalid request: {field} {message}"));
        problem.errors.push(FieldError { field: field.to_owned(), message: message.to_owned() });
        problem
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 500 without details; the cause must have been logged by the caller.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error (logged on the server)")
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The problem a service's gRPC status becomes. `conditional` says
    /// whether the request carried `If-Match`: a stale etag is then
    /// 412 Precondition Failed rather than 409 Conflict.
    pub fn from_status(status: &tonic::Status, conditional: bool) -> Self {
        let message = status.message();
        let (http, code) = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, "invalid_argument"),
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::AlreadyExists => (StatusCode::CONFLICT, "already_exists"),
            Code::Aborted if conditional => (StatusCode::PRECONDITION_FAILED, "stale_etag"),
            Code::Aborted => (StatusCode::CONFLICT, "aborted"),
            Code::FailedPrecondition => (StatusCode::CONFLICT, "failed_precondition"),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
            Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "unimplemented"),
            Code::Unavailable | Code::Cancelled => {
                tracing::warn!(code = ?status.code(), message, "upstream unavailable");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a service behind the gateway is unavailable; retry later",
                );
            }
            Code::DeadlineExceeded => {
                tracing::warn!(message, "upstream deadline exceeded");
                return Self::new(StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded", "a service took too long to answer");
            }
            Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => {
                tracing::error!(code = ?status.code(), message, "upstream error");
                return Self::internal();
            }
        };
        let mut problem = Self::new(http, code, message);
        if let Some(bad_request) = status.get_error_details().bad_request() {
            problem.errors = bad_request
                .field_violations
                .iter()
                .map(|v| FieldError { field: json_field(&v.field), message: v.description.clone() })
                .collect();
        }
        problem
    }
}

/// A service names fields of its request messages (`case.subject`); the
/// REST body is the record itself (`subject`).
fn json_field(field: &str) -> String {
    for prefix in [
        "case.",
        "account.",
        "contact.",
        "activity.",
        "web_form.",
        "portal_user.",
        "article.",
        "category.",
        "rule.",
        "settings.",
        "period.",
    ] {
        if let Some(rest) = field.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    field.to_owned()
}

impl From<tonic::Status> for Problem {
    fn from(status: tonic::Status) -> Self {
        Problem::from_status(&status, false)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with `Content-Type: application/json`",
            ),
            JsonRejection::JsonDataError(err) => {
                // serde names the path of the bad value: `subject: invalid type ...`.
                let text = err.body_text();
                let detail = text.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or(&text);
                json_data_problem(detail)
            }
            JsonRejection::JsonSyntaxError(err) => {
                let text = err.body_text();
                let detail = text.strip_prefix("Failed to parse the request body as JSON: ").unwrap_or(&text);
                Problem::bad_request(format!("the body is not valid JSON: {detail}"))
            }
            JsonRejection::BytesRejection(err) => Problem::from(err),
            other => Problem::bad_request(other.body_text()),
        }
    }
}

impl From<BytesRejection> for Problem {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is larger than allowed")
        } else {
            Problem::bad_request("the request body could not be read")
        }
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        tracing::debug!(%rejection, "path rejected");
        Problem::bad_request(format!("bad path: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        query_problem(&rejection.body_text())
    }
}

impl From<axum_extra::extract::QueryRejection> for Problem {
    fn from(rejection: axum_extra::extract::QueryRejection) -> Self {
        query_problem(&rejection.body_text())
    }
}

/// A JSON body that parsed but does not fit its type, named by field:
/// `subject: invalid type: ...`, `missing field `subject``, `unknown field `x``.
fn json_data_problem(detail: &str) -> Problem {
    let (path, message) = match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (Some(path), message),
        _ => (None, detail),
    };
    let named = |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_owned);
    let within = |field: String| match path {
        Some(path) if path != "." => format!("{path}.{field}"),
        _ => field,
    };
    if let Some(field) = named("missing field `") {
        return Problem::bad_field(&within(field), "is required");
    }
    if let Some(field) = named("unknown field `") {
        // The path already ends with the unknown field's name.
        let field = match path {
            Some(path) if path.ends_with(&field) => path.to_owned(),
            _ => within(field),
        };
        return Problem::bad_field(&field, "is not a field of this body");
    }
    match path {
        Some(path) if path != "." => Problem::bad_field(path, message),
        _ => Problem::bad_request(format!("the JSON body does not fit: {detail}")),
    }
}

/// `Failed to deserialize query string: status: unknown variant ...` names the field.
fn query_problem(text: &str) -> Problem {
    let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(text);
    match detail.split_once(": ") {
        // `status[1]` is the second `status` parameter: name the parameter.
        Some((field, message)) if !field.contains(' ') => Problem::bad_field(field.split('[').next().unwrap_or(field), message),
        _ => Problem::bad_request(format!("bad query string: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_become_http_statuses() {
        let cases = [
            (Code::InvalidArgument, false, 400),
            (Code::Unauthenticated, false, 401),
            (Code::PermissionDenied, false, 403),
            (Code::NotFound, false, 404),
            (Code::AlreadyExists, false, 409),
            (Code::Aborted, true, 412),
            (Code::Aborted, false, 409),
            (Code::FailedPrecondition, false, 409),
            (Code::ResourceExhausted, false, 429),
            (Code::Unavailable, false, 503),
            (Code::DeadlineExceeded, false, 504),
            (Code::Internal, false, 500),
            (Code::Unknown, false, 500),
        ];
        for (code, conditional, http) in cases {
            let problem = Problem::from_status(&tonic::Status::new(code, "secret internals"), conditional);
            assert_eq!(problem.status, http, "{code:?}");
            if http >= 500 {
                assert!(!problem.detail.contains("secret internals"), "{code:?} leaked its message");
            }
        }
    }

    #[test]
    fn field_violations_are_listed_under_their_json_names() {
        let mut v = docket_kit::error::FieldViolations::new();
        v.add("case.subject", "is required");
        v.add("page_token", "is not a page token");
        v.add("web_form.fields[0].label", "is required");
        v.add("portal_user.etag", "is required");
        let problem = Problem::from(docket_kit::error::invalid_argument(&v));
        assert_eq!(problem.status, 400);
        let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["subject", "page_token", "fields[0].label", "etag"]);
    }

    #[test]
    fn json_errors_name_their_field() {
        let named = |detail: &str| {
            let problem = json_data_problem(detail);
            assert_eq!(problem.status, 400);
            problem.errors.first().map(|e| e.field.clone()).unwrap_or_default()
        };
        assert_eq!(named("subject: invalid type: integer `5`, expected a string at line 1 column 13"), "subject");
        assert_eq!(named("missing field `status` at line 1 column 2"), "status");
        assert_eq!(named("unknown field `bogus`, expected one of `a`, `b` at line 1 column 8"), "bogus");
        assert_eq!(named("call.minutes: unknown field `minutes`, expected `direction` at line 1 column 30"), "call.minutes");
        assert_eq!(named("call: missing field `direction` at line 1 column 30"), "call.direction");
        assert_eq!(named("contacts[0].primary: invalid type: string \"yes\", expected a boolean"), "contacts[0].primary");
        assert_eq!(named("invalid type: sequence, expected struct CaseFields at line 1 column 0"), "");
    }

    #[test]
    fn a_problem_is_served_as_problem_json() {
        let response = Problem::from(tonic::Status::unauthenticated("unknown bearer token")).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
