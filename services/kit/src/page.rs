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
    let decoded = URL_SAFE_NO_PAD.decode(token).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if decoded.is_none() {
        violations.add("page_token", "is not a page token returned by this list call");
    }
    decoded
}
