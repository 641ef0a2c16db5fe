//! The append-only audit trail every service keeps of its own records: one
//! entry per changed field, written in the transaction of the change, with
//! who, when, old and new value, and why.
//!
//! A change's entries are a row each, except a creation's: it is one row
//! (its first entry, the rest packed into `fields`), because a new record
//! names most of its fields at once and a row each would cost a create more
//! than the record itself (issue 15). Reads unpack it ([`unpack`]): the
//! history calls show the same entries either way.

use chrono::{DateTime, Utc};
use docket_proto::case::v1::{AuditEntry, ListHistoryResponse};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};

use crate::{error::FieldViolations, page};

pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One changed field of one record (and a creation's further fields).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_entries")]
    pub struct Model {
        /// UUID v7: rows sort in the order they were written.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub record_type: String,
        pub record_id: String,
        pub actor: String,
        pub at: DateTimeUtc,
        pub field: String,
        pub old_value: String,
        pub new_value: String,
        pub reason: String,
        /// A creation's entries after the row's own, packed: a JSON array
        /// of `[field, old, new]`; empty in every other row.
        pub fields: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The changed fields of one command, old and new values as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes(Vec<FieldChange>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `field` when its value differs.
    pub fn diff(&mut self, field: &'static str, old: impl ToString, new: impl ToString) {
        let (old, new) = (old.to_string(), new.to_string());
        if old != new {
            self.0.push(FieldChange { field, old, new });
        }
    }

    /// Sets `slot` to `value`, recording the change when they differ: one
    /// masked field of an update.
    pub fn assign<T: Clone + std::fmt::Display>(&mut self, field: &'static str, slot: &mut T, value: &T) {
        self.diff(field, &*slot, value);
        slot.clone_from(value);
    }

    /// Records a field unconditionally (creation, an event like an added activity).
    pub fn set(&mut self, field: &'static str, old: impl ToString, new: impl ToString) {
        self.0.push(FieldChange { field, old: old.to_string(), new: new.to_string() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn fields(&self) -> impl Iterator<Item = &FieldChange> {
        self.0.iter()
    }

    pub fn touches(&self, field: &str) -> bool {
        self.0.iter().any(|c| c.field == field)
    }
}

/// Who changes what, when, and why: stamped on every audit row of a command.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub actor: &'a str,
    pub reason: &'a str,
    pub at: DateTime<Utc>,
}

/// The columns of a trail row, as hand-written inserts name them.
pub(crate) const INSERT: &str =
    "INSERT INTO audit_entries (id, record_type, record_id, actor, at, field, old_value, new_value, reason, fields)";
pub(crate) const COLUMNS: usize = 10;

/// The values of one trail row, [`COLUMNS`] of them.
fn row(record_type: &str, record_id: &str, by: &Actor<'_>, change: &FieldChange, packed: String) -> [Value; COLUMNS] {
    [
        uuid::Uuid::now_v7().to_string().into(),
        record_type.into(),
        record_id.into(),
        by.actor.into(),
        by.at.into(),
        change.field.into(),
        change.old.as_str().into(),
        change.new.as_str().into(),
        by.reason.into(),
        packed.into(),
    ]
}

/// The values of the trail rows of `changes`, a row per field.
fn row_values(record_type: &str, record_id: &str, by: &Actor<'_>, changes: &Changes) -> Vec<Value> {
    changes.fields().flat_map(|change| row(record_type, record_id, by, change, String::new())).collect()
}

/// The most entries a creation's row packs (see [`unpack`]); a creation
/// naming more fields is a row per field.
const MAX_PACKED: usize = 999;

/// The values of a creation's trail: one row, empty when `changes` is.
fn creation_values(record_type: &str, record_id: &str, by: &Actor<'_>, changes: &Changes) -> Vec<Value> {
    match changes.0.split_first() {
        Some((first, rest)) if rest.len() <= MAX_PACKED => row(record_type, record_id, by, first, pack(rest)).into(),
        _ => row_values(record_type, record_id, by, changes),
    }
}

/// A creation's further entries as `fields` holds them.
fn pack(rest: &[FieldChange]) -> String {
    if rest.is_empty() {
        return String::new();
    }
    let triples: Vec<[&str; 3]> = rest.iter().map(|c| [c.field, c.old.as_str(), c.new.as_str()]).collect();
    // A list of strings always serializes.
    serde_json::to_string(&triples).unwrap_or_default()
}

/// A trail row's entries: the row's own, then the ones packed into it, each
/// with its position in the row (0 for the row's own). A packed entry's id
/// is the row's with `.001`, `.002`, … after it: unique, and in the order
/// of the entries when ids are compared as text (so a creation packs at
/// most [`MAX_PACKED`]).
pub fn unpack(mut row: entity::Model) -> Vec<(u32, entity::Model)> {
    let packed = std::mem::take(&mut row.fields);
    let triples: Vec<[String; 3]> = if packed.is_empty() {
        Vec::new()
    } else {
        // Only `pack` writes the column; anything else shows as no entries.
        serde_json::from_str(&packed).unwrap_or_default()
    };
    let mut entries = Vec::with_capacity(1 + triples.len());
    for (part, [field, old_value, new_value]) in (1..).zip(triples) {
        let entry = entity::Model { id: format!("{}.{part:03}", row.id), field, old_value, new_value, ..row.clone() };
        entries.push((part, entry));
    }
    entries.insert(0, (0, row));
    entries
}

/// The trail rows of a change, a row per field, to insert with other rows.
pub(crate) fn new_rows(record_type: &str, record_id: &str, by: &Actor<'_>, changes: &Changes) -> crate::db::NewRows {
    crate::db::NewRows { values: row_values(record_type, record_id, by, changes), ..crate::db::NewRows::new(INSERT, COLUMNS, "") }
}

/// The trail row of a creation, to insert with other rows.
pub(crate) fn creation_rows(record_type: &str, record_id: &str, by: &Actor<'_>, changes: &Changes) -> crate::db::NewRows {
    crate::db::NewRows {
        values: creation_values(record_type, record_id, by, changes),
        ..crate::db::NewRows::new(INSERT, COLUMNS, "")
    }
}

/// Appends one audit row per changed field.
pub async fn write(
    txn: &impl ConnectionTrait,
    record_type: &str,
    record_id: &str,
    by: &Actor<'_>,
    changes: &Changes,
) -> Result<(), DbErr> {
    crate::db::insert_all(txn, None, vec![new_rows(record_type, record_id, by, changes)]).await
}

/// Inserts a record's row (`insert`, a plain `INSERT … VALUES`) unless a row
/// with its `key` (columns of a unique index) is already there; any other
/// conflict is an error. With the row, the creation's trail of
/// `changes` (not empty); `false`, and nothing written, when the row was there. On
/// PostgreSQL in one statement outside any transaction (the trail is
/// inserted only from the row's `RETURNING`), elsewhere in one transaction.
/// For records whose creation announces nothing: there is no outbox row.
pub async fn insert_new_with_trail(
    db: &DatabaseConnection,
    insert: Statement,
    key: &[&str],
    (record_type, record_id): (&str, &str),
    by: &Actor<'_>,
    changes: &Changes,
) -> Result<bool, DbErr> {
    assert!(!changes.is_empty(), "a new record's trail names at least its creation");
    let backend = db.get_database_backend();
    let mut values = insert.values.map(|values| values.0).unwrap_or_default();
    let on_conflict = format!("ON CONFLICT ({}) DO NOTHING", key.join(", "));
    if backend == DbBackend::Postgres {
        let trail = creation_values(record_type, record_id, by, changes);
        let sql = format!(
            "WITH inserted AS ({} {on_conflict} RETURNING 1) {INSERT} SELECT * FROM (VALUES {}) AS trail \
             WHERE EXISTS (SELECT 1 FROM inserted)",
            insert.sql,
            crate::db::tuples(backend, trail.len() / COLUMNS, COLUMNS, values.len())
        );
        values.extend(trail);
        let done = db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        return Ok(done.rows_affected() > 0);
    }
    let txn = db.begin().await?;
    let sql = format!("{} {on_conflict}", insert.sql);
    if txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected() == 0 {
        return Ok(false);
    }
    crate::db::insert_all(&txn, None, vec![creation_rows(record_type, record_id, by, changes)]).await?;
    txn.commit().await?;
    Ok(true)
}

/// A trail row as the API shows it (`docket.case.v1.AuditEntry`, which every
/// service's history calls answer with).
pub fn to_proto(row: entity::Model) -> AuditEntry {
    AuditEntry {
        id: row.id,
        record_type: row.record_type,
        record_id: row.record_id,
        actor: row.actor,
        time: Some(crate::time::to_proto(row.at)),
        field: row.field,
        old_value: row.old_value,
        new_value: row.new_value,
        reason: row.reason,
    }
}

/// One page of the trail of `record_id` (entries of the given record types),
/// oldest first, after the entry id `after`; the id of the last entry when
/// another page follows.
pub async fn list(
    db: &impl ConnectionTrait,
    types: &[&str],
    record_id: &str,
    after: Option<String>,
    limit: u64,
) -> Result<(Vec<entity::Model>, Option<String>), DbErr> {
    let mut query = entity::Entity::find()
        .filter(entity::Column::RecordId.eq(record_id))
        .filter(entity::Column::RecordType.is_in(types.iter().copied()));
    if let Some(after) = &after {
        // The rows after the entry, and the row it may be packed into
        // (`<row id>.<part>`): the rest of that row comes first.
        let row = after.split_once('.').map_or(after.as_str(), |(row, _)| row);
        query = query.filter(Condition::any().add(entity::Column::Id.gt(after.as_str())).add(entity::Column::Id.eq(row)));
    }
    // Every row holds at least one entry: the row resumed in, and one
    // more than the page, tell whether another page follows.
    let rows = query.order_by_asc(entity::Column::Id).limit(limit + 2).all(db).await?;
    // Entry ids compare as text in the entries' order.
    let mut entries: Vec<entity::Model> = rows
        .into_iter()
        .flat_map(unpack)
        .map(|(_, entry)| entry)
        .filter(|entry| after.as_ref().is_none_or(|after| entry.id > *after))
        .collect();
    let next = page::page_end(&mut entries, limit).map(|r| r.id.clone());
    Ok((entries, next))
}

/// The page of a record's trail that a ListXHistory call asks for.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    limit: u64,
    after: Option<String>,
}

/// Where a page of a trail ended: the id of its last row.
#[derive(Debug, Serialize, Deserialize)]
struct HistoryCursor {
    id: String,
}

impl HistoryPage {
    /// Reads a call's page size and token; bad ones go to `violations`.
    pub fn parse(violations: &mut FieldViolations, page_size: i32, page_token: &str) -> Self {
        let limit = page::page_size(violations, page_size);
        let after = page::decode::<HistoryCursor>(violations, page_token).map(|cursor| cursor.id);
        Self { limit, after }
    }
}

/// The answer of every history call: a page of the trail of `record_id`
/// (rows of the given record types), oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    types: &[&str],
    record_id: &str,
    page: HistoryPage,
) -> Result<ListHistoryResponse, DbErr> {
    let (rows, next) = list(db, types, record_id, page.after, page.limit).await?;
    Ok(ListHistoryResponse {
        entries: rows.into_iter().map(to_proto).collect(),
        next_page_token: next.map(|id| page::encode(&HistoryCursor { id })).unwrap_or_default(),
    })
}
