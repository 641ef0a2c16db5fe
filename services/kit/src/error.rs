//! Input validation, the outcomes every service shares, and the one place
//! they become a gRPC status.
//!
//! A service collects every problem of a request into [`FieldViolations`]
//! before it touches the database, so bad input writes nothing and the
//! caller learns about all bad fields at once, each by name
//! (tonic-types' `BadRequest` details). [`Error`] is what a command can
//! answer; a service with refusals of its own (the portal's lock-out, say)
//! puts them in its [`DomainError`] and the kit maps both.

use std::{convert::Infallible, fmt};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

use crate::idempotency::IdempotencyError;

/// What a command can answer besides success. `D` holds a service's own
/// refusals; services without any use the default.
#[derive(Debug, thiserror::Error)]
pub enum Error<D: DomainError = Infallible> {
    /// Bad input; nothing was written.
    #[error("invalid request")]
    Invalid(FieldViolations),
    /// The record asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The etag sent is not the record's current one: someone changed it since.
    #[error("{0}")]
    Stale(String),
    /// The record's state does not allow this move; `allowed` says what it does allow.
    #[error("{message}")]
    IllegalMove { message: String, allowed: Vec<String> },
    /// The request is well-formed but the state of things refuses it (a contract
    /// expired, a balance too small).
    #[error("{0}")]
    Precondition(String),
    /// A value that must be unique is taken (e.g. a contact's email).
    #[error("{message}")]
    AlreadyExists { field: String, message: String },
    /// Another service or store this one depends on did not answer.
    #[error("{0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// A refusal only this service knows.
    #[error(transparent)]
    Domain(D),
}

/// A service's own refusals and the status each becomes.
pub trait DomainError: std::error::Error + Send + Sync + 'static {
    fn to_status(&self) -> Status;
}

impl DomainError for Infallible {
    fn to_status(&self) -> Status {
        match *self {}
    }
}

impl<D: DomainError> Error<D> {
    /// Bad input in one field.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::Invalid(FieldViolations::single(field, description))
    }

    /// The etag a caller sent (`sent`) is not the record's version (`current`).
    pub fn stale(what: &str, name: &str, sent: i64, current: i64) -> Self {
        Error::Stale(format!("{what} {name} was changed since it was read (etag {sent}, now {current}); read it again and retry"))
    }

    pub fn not_found(what: &str, name: impl fmt::Display) -> Self {
        Error::NotFound(format!("{what} {name} not found"))
    }
}

impl<D: DomainError> From<FieldViolations> for Error<D> {
    fn from(violations: FieldViolations) -> Self {
        Error::Invalid(violations)
    }
}

impl<D: DomainError> From<IdempotencyError> for Error<D> {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::Reused => {
                Error::field("idempotency_key", "was already used with a different request; use a new key for a new request")
            }
            IdempotencyError::Database(db) => Error::Database(db),
        }
    }
}

/// The one mapping of every service's errors to gRPC status codes.
impl<D: DomainError> From<Error<D>> for Status {
    fn from(err: Error<D>) -> Self {
        match err {
            Error::Invalid(violations) => invalid_argument(&violations),
            Error::NotFound(message) => Status::not_found(message),
            Error::Stale(message) => Status::aborted(message),
            Error::IllegalMove { message, allowed } => {
                let mut details = ErrorDetails::new();
                for to in &allowed {
                    details.add_precondition_failure_violation("ALLOWED_MOVE", to, "this move is allowed from here");
                }
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            Error::Precondition(message) => Status::failed_precondition(message),
            Error::AlreadyExists { field, message } => {
                let mut details = ErrorDetails::new();
                details.add_bad_request_violation(field, message.clone());
                Status::with_error_details(Code::AlreadyExists, message, details)
            }
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Database(db) => database(&db),
            Error::Domain(refusal) => refusal.to_status(),
        }
    }
}

/// Bad fields of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldViolations(Vec<(String, String)>);

impl FieldViolations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Self::new();
        v.add(field, description);
        v
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, d)| (f.as_str(), d.as_str()))
    }

    /// `Ok(())` when nothing was wrong.
    pub fn into_result(self) -> Result<(), FieldViolations> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Text that must be present (after trimming) and at most `max` characters.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, "is required");
        } else {
            self.max_len(field, value, max);
        }
        value.to_owned()
    }

    /// Text that may be empty, at most `max` characters.
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        self.max_len(field, value, max);
        value.to_owned()
    }

    fn max_len(&mut self, field: &str, value: &str, max: usize) {
        let len = value.chars().count();
        if len > max {
            self.add(field, format!("is {len} characters long; the most allowed is {max}"));
        }
        if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
            self.add(field, "contains control characters");
        }
    }

    /// A required id: a UUID.
    pub fn required_id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, "is required");
            return None;
        }
        self.optional_id(field, value)
    }

    /// An optional id: empty means none.
    pub fn optional_id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match Uuid::try_parse(value) {
            Ok(id) => Some(id),
            Err(_) => {
                self.add(field, format!("`{}` is not a valid id (a UUID)", truncate(value, 64)));
                None
            }
        }
    }

    /// An email address: one `@`, something on each side, no spaces; lower-cased.
    pub fn email(&mut self, field: &str, value: &str, required: bool) -> String {
        let value = value.trim();
        if value.is_empty() {
            if required {
                self.add(field, "is required");
            }
            return String::new();
        }
        self.max_len(field, value, 254);
        if !is_email_address(value) {
            self.add(field, format!("`{}` is not an email address", truncate(value, 64)));
        }
        value.to_lowercase()
    }

    /// A stable key chosen by people, e.g. `warranty_claim`: 1 to 50 of a-z, 0-9 and _.
    pub fn key(&mut self, field: &str, value: &str) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, "is required");
        } else if value.len() > 50 || !value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            self.add(field, "must be 1 to 50 of a-z, 0-9 and _ (e.g. warranty_claim)");
        }
        value.to_owned()
    }

    /// The paths of an update's field mask, each one of `allowed`; an empty
    /// mask is an error (an update must say what it changes).
    pub fn update_mask(&mut self, mask: Option<&prost_types::FieldMask>, allowed: &[&'static str]) -> Vec<&'static str> {
        let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
        if paths.is_empty() {
            self.add("update_mask", format!("name the fields to change; allowed: {}", allowed.join(", ")));
            return Vec::new();
        }
        let mut fields = Vec::new();
        for path in paths {
            match allowed.iter().find(|a| **a == path.as_str()) {
                Some(field) if !fields.contains(field) => fields.push(*field),
                Some(_) => {}
                None => self.add(
                    "update_mask",
                    format!("`{}` cannot be changed here; allowed: {}", truncate(path, 64), allowed.join(", ")),
                ),
            }
        }
        fields
    }

    /// An enum field sent as a number: unknown values are errors, and so is
    /// the unspecified value (0) unless it is allowed to mean "none".
    pub fn enum_value<T>(&mut self, field: &str, raw: i32, parse: impl Fn(i32) -> Option<T>) -> Option<T> {
        match parse(raw) {
            Some(value) => Some(value),
            None if raw == 0 => {
                self.add(field, "is required");
                None
            }
            None => {
                self.add(field, format!("{raw} is not a known value"));
                None
            }
        }
    }

    /// A repeated enum field (a list filter): each value parsed with
    /// [`enum_value`](Self::enum_value), a bad one named `field[i]`.
    pub fn enum_values<T>(&mut self, field: &str, raws: &[i32], parse: impl Fn(i32) -> Option<T>) -> Vec<T> {
        raws.iter().enumerate().filter_map(|(i, raw)| self.enum_value(&format!("{field}[{i}]"), *raw, &parse)).collect()
    }

    /// An etag sent back by a caller: the record's version as returned
    /// (quotes allowed, as HTTP sends them). Empty is an error when `required`.
    pub fn etag(&mut self, field: &str, value: &str, required: bool) -> Option<i64> {
        let value = value.trim().trim_matches('"');
        if value.is_empty() {
            if required {
                self.add(field, "is required: send the etag of the record as you read it");
            }
            return None;
        }
        let parsed = value.parse::<i64>().ok().filter(|v| *v > 0);
        if parsed.is_none() {
            self.add(field, "is not an etag returned by this service");
        }
        parsed
    }
}

/// Whether `value` has the shape of an email address as Docket takes one:
/// one `@`, something on each side, a dot inside the domain, no white space.
/// Its length and control characters are checked apart.
pub fn is_email_address(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

fn truncate(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}

/// So a gRPC handler can answer bad input with `violations.into_result()?`.
impl From<FieldViolations> for Status {
    fn from(violations: FieldViolations) -> Self {
        invalid_argument(&violations)
    }
}

/// The most field violations one refusal carries: the message and details
/// travel as HTTP/2 headers, and a request with dozens of bad fields would
/// otherwise pass the peer's header limit and arrive as a transport error.
pub const VIOLATIONS_SHOWN: usize = 20;

/// INVALID_ARGUMENT with one `BadRequest` field violation per bad field
/// (the first [`VIOLATIONS_SHOWN`]; the message says how many more).
pub fn invalid_argument(violations: &FieldViolations) -> Status {
    let mut details = ErrorDetails::new();
    let mut message = String::from("invalid request: ");
    let all: Vec<_> = violations.iter().collect();
    for (i, (field, description)) in all.iter().take(VIOLATIONS_SHOWN).enumerate() {
        let description: String = description.chars().take(300).collect();
        details.add_bad_request_violation(*field, description.as_str());
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(field);
        message.push(' ');
        message.push_str(&description);
    }
    if all.len() > VIOLATIONS_SHOWN {
        message.push_str(&format!("; and {} more", all.len() - VIOLATIONS_SHOWN));
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A database failure: logged with its cause, reported without internals.
/// A lost connection is UNAVAILABLE (worth retrying), anything else INTERNAL.
pub fn database(err: &sea_orm::DbErr) -> Status {
    if is_lost_connection(err) {
        tracing::warn!(error = %err, "database unavailable");
        Status::unavailable("the database is unavailable; retry later")
    } else {
        tracing::error!(error = %err, "database error");
        Status::internal("internal error (logged on the server)")
    }
}

/// No connection, or one that died under a statement (a server restart, a
/// cut): pooled connections in recent use are not pinged before each call
/// (see `db::connect`), so the call that finds a dead one fails this way.
pub fn is_lost_connection(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error as SqlxError};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(cause)) | DbErr::Exec(RuntimeErr::SqlxError(cause)) => {
            matches!(**cause, SqlxError::Io(_) | SqlxError::Tls(_) | SqlxError::PoolClosed | SqlxError::PoolTimedOut)
        }
        _ => false,
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// The name of the constraint an error broke, where the database gives it
/// (PostgreSQL does; SQLite does not).
pub fn violated_constraint(err: &sea_orm::DbErr) -> Option<&str> {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            err.as_database_error()?.constraint()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        let mut v = FieldViolations::new();
        assert_eq!(v.required_text("name", "  Acme  ", 10), "Acme");
        assert!(v.is_empty());
        v.required_text("subject", "   ", 10);
        v.optional_text("notes", &"x".repeat(11), 10);
        v.optional_text("title", "bell\u{7}", 10);
        let fields: Vec<_> = v.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["subject", "notes", "title"]);
    }

    #[test]
    fn a_list_of_enum_values_names_each_bad_one_by_its_index() {
        let parse = |raw: i32| (1..=3).contains(&raw).then_some(raw * 10);
        let mut v = FieldViolations::new();
        assert_eq!(v.enum_values("statuses", &[1, 3], parse), [10, 30]);
        assert!(v.is_empty());
        assert_eq!(v.enum_values("statuses", &[2, 0, 9], parse), [20]);
        let fields: Vec<_> = v.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["statuses[1]", "statuses[2]"]);
    }

    #[test]
    fn ids_must_be_uuids() {
        let mut v = FieldViolations::new();
        assert!(v.optional_id("owner_id", "").is_none());
        assert!(v.is_empty());
        let id = Uuid::now_v7();
        assert_eq!(v.required_id("id", &id.to_string()), Some(id));
        assert!(v.required_id("id", "").is_none());
        assert!(v.required_id("account_id", "not-a-uuid").is_none());
        assert_eq!(v.iter().map(|(f, _)| f).collect::<Vec<_>>(), ["id", "account_id"]);
    }

    #[test]
    fn emails_are_checked_and_lower_cased() {
        let mut v = FieldViolations::new();
        assert_eq!(v.email("email", "Petra@Acme.Example", true), "petra@acme.example");
        assert!(v.is_empty());
        for bad in ["petra", "@acme.example", "petra@", "petra@acme", "pe tra@acme.example", "a@b@c.example", "a@.example"] {
            let mut v = FieldViolations::new();
            v.email("email", bad, true);
            assert!(!v.is_empty(), "{bad} should be refused");
        }
    }

    #[test]
    fn every_violation_becomes_a_bad_request_detail() {
        let mut v = FieldViolations::new();
        v.add("case.subject", "is required");
        v.add("case.priority", "99 is not a known value");
        let status = invalid_argument(&v);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<_> = details.bad_request().unwrap().field_violations.iter().map(|f| f.field.clone()).collect();
        assert_eq!(fields, ["case.subject", "case.priority"]);
        assert!(status.message().contains("case.subject is required"));
    }
}
