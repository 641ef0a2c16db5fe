//! Cursor pagination: opaque page tokens and page sizes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

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

/// Trims the look-ahead row of a `limit + 1` query; the last row kept
/// when another page follows.
pub fn page_end<T>(rows: &mut Vec<T>, limit: u64) -> Option<&T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
    } else {
        None
    }
}

/// Where a list in id order stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdCursor {
    pub id: String,
}

/// A page of `query` in the order of its `id` column, after `after`; the
/// cursor of the last row when another page follows. `key` reads a row's id.
pub async fn by_id<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    id: E::Column,
    after: Option<IdCursor>,
    limit: u64,
    key: impl Fn(&E::Model) -> &str,
) -> Result<(Vec<E::Model>, Option<IdCursor>), DbErr> {
    let query = match after {
        Some(after) => query.filter(id.gt(after.id)),
        None => query,
    };
    let mut rows = query.order_by_asc(id).limit(limit + 1).all(db).await?;
    let next = page_end(&mut rows, limit).map(|last| IdCursor { id: key(last).to_owned() });
    Ok((rows, next))
}

/// Where a list in name order (ties by id) stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCursor {
    pub name: String,
    pub id: String,
}

/// A page of `query` in the order of its `name` column, then `id`, after
/// `after`; the cursor of the last row when another page follows. `key`
/// reads a row's name and id.
pub async fn by_name<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    (name, id): (E::Column, E::Column),
    after: Option<NameCursor>,
    limit: u64,
    key: impl Fn(&E::Model) -> (&str, &str),
) -> Result<(Vec<E::Model>, Option<NameCursor>), DbErr> {
    let mut query = query;
    if let Some(after) = after {
        query = query.filter(
            Condition::any().add(name.gt(after.name.clone())).add(Condition::all().add(name.eq(after.name)).add(id.gt(after.id))),
        );
    }
    let mut rows = query.order_by_asc(name).order_by_asc(id).limit(limit + 1).all(db).await?;
    let next = page_end(&mut rows, limit).map(|last| {
        let (name, id) = key(last);
        NameCursor { name: name.to_owned(), id: id.to_owned() }
    });
    Ok((rows, next))
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
    fn page_end_keeps_the_limit_and_names_the_last_row_only_when_more_follow() {
        let mut rows = vec![1, 2, 3];
        assert_eq!(page_end(&mut rows, 2), Some(&2));
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(page_end(&mut rows, 2), None);
        assert_eq!(rows, vec![1, 2]);
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
