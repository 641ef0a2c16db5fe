//! Input validation and the gRPC status it becomes.
//!
//! A service collects every problem of a request into [`FieldViolations`]
//! before it touches the database, so bad input writes nothing and the
//! caller learns about all bad fields at once, each by name
//! (tonic-types' `BadRequest` details).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

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
        let valid = match value.split_once('@') {
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
        };
        if !valid {
            self.add(field, format!("`{}` is not an email address", truncate(value, 64)));
        }
        value.to_lowercase()
    }
}

fn truncate(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}

/// INVALID_ARGUMENT with one `BadRequest` field violation per bad field.
pub fn invalid_argument(violations: &FieldViolations) -> Status {
    let mut details = ErrorDetails::new();
    let mut message = String::from("invalid request: ");
    for (i, (field, description)) in violations.iter().enumerate() {
        details.add_bad_request_violation(field, description);
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(field);
        message.push(' ');
        message.push_str(description);
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A database failure: logged with its cause, reported without internals.
/// A lost connection is UNAVAILABLE (worth retrying), anything else INTERNAL.
pub fn database(err: &sea_orm::DbErr) -> Status {
    use sea_orm::DbErr;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
            tracing::warn!(error = %err, "database unavailable");
            Status::unavailable("the database is unavailable; retry later")
        }
        _ => {
            tracing::error!(error = %err, "database error");
            Status::internal("internal error (logged on the server)")
        }
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
