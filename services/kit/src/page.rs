//! Cursor pagination: opaque page tokens and page sizes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::FieldViolations;

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;

/// The page size a list call asked for: 0 means the default; negative is an error.
pub fn page_size(violations: &mut FieldViolations, requested: i32) -> u64 {
    match requested {
        0 => DEFAULT_PAGE_SIZE,
        n if n < 0 => {
            violations.add("page_size", "must not be negative");
            DEFAULT_PAGE_SIZE
        }
        n => (n as u64).min(MAX_PAGE_SIZE),
    }
}

/// Encodes a cursor (the sort key of the last row returned) as a page token.
pub fn encode<T: Serialize>(cursor: &T) -> String {
    // Serializing plain structs to JSON cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

/// Decodes a page token; empty means the first page.
pub fn decode<T: DeserializeOwned>(violations: &mut FieldViolations, token: &str) -> Option<T> {
    if token.is_empty() {
        return None;
    }
    let decoded = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter(|value| !has_nul(value))
        .and_then(|value| serde_json::from_value(value).ok());
    if decoded.is_none() {
        violations.add("page_token", "is not a page token returned by this list call");
    }
    decoded
}

/// Whether a string in a decoded token holds a NUL: no row has one, and
/// PostgreSQL fails a query that compares with one, so it is a forged token.
fn has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Cursor {
        name: String,
        id: String,
    }

    #[test]
    fn a_token_round_trips_and_garbage_is_refused() {
        let cursor = Cursor { name: "Acme".into(), id: "42".into() };
        let mut v = FieldViolations::new();
        assert_eq!(decode::<Cursor>(&mut v, &encode(&cursor)), Some(cursor));
        assert_eq!(decode::<Cursor>(&mut v, ""), None);
        assert!(v.is_empty());
        assert_eq!(decode::<Cursor>(&mut v, "%%%"), None);
        assert_eq!(decode::<Cursor>(&mut v, &encode(&42)), None);
        assert_eq!(v.iter().filter(|(f, _)| *f == "page_token").count(), 2);
    }

    #[test]
    fn page_sizes_default_and_cap() {
        let mut v = FieldViolations::new();
        assert_eq!(page_size(&mut v, 0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(&mut v, 10_000), MAX_PAGE_SIZE);
        assert_eq!(page_size(&mut v, 7), 7);
        assert!(v.is_empty());
        page_size(&mut v, -1);
        assert!(!v.is_empty());
    }
}
