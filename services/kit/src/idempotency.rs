//! Idempotent creates: the same key and request return the first result and
//! write nothing twice; the same key with another request is refused. Each
//! service keeps an `idempotency_keys` table in its schema.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use sha2::{Digest, Sha256};

use crate::error::{FieldViolations, is_unique_violation};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// The method, e.g. "CreateCase".
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub actor: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub request_hash: String,
        pub resource_id: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A create that may be a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// Hash of the request without its key.
    pub request_hash: String,
}

/// Longest idempotency key, in characters.
pub const KEY_MAX: usize = 200;

/// The idempotency of a create request: its key, and a hash of the request
/// with the key cleared (`request_without_key`). An empty key means none.
pub fn from_request<M: prost::Message>(
    violations: &mut FieldViolations,
    key: &str,
    request_without_key: &M,
) -> Option<Idempotency> {
    let key = violations.optional_text("idempotency_key", key, KEY_MAX);
    if key.is_empty() {
        return None;
    }
    let digest = Sha256::digest(request_without_key.encode_to_vec());
    Some(Idempotency { key, request_hash: digest.iter().map(|b| format!("{b:02x}")).collect() })
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key was used with a different request.
    #[error("idempotency_key was already used with a different request; use a new key for a new request")]
    Reused,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Whether a service refused a call's `idempotency_key` as used before with
/// another request ([`IdempotencyError::Reused`], as its caller receives it).
pub fn refused_as_reused(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    status.code() == tonic::Code::InvalidArgument
        && status
            .get_error_details()
            .bad_request()
            .is_some_and(|bad| bad.field_violations.iter().any(|violation| violation.field == "idempotency_key"))
}

/// The resource an earlier call with this key created, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    scope: &str,
    actor: &str,
    idempotency: &Idempotency,
) -> Result<Option<String>, IdempotencyError> {
    let found = entity::Entity::find_by_id((scope.to_owned(), actor.to_owned(), idempotency.key.clone())).one(db).await?;
    first_made(found.map(|row| (row.resource_id, row.request_hash)), idempotency)
}

/// What an earlier call with this key made, from its row as read
/// (`resource_id`, `request_hash`) by [`find`] or by a caller's own read.
pub fn first_made(row: Option<(String, String)>, idempotency: &Idempotency) -> Result<Option<String>, IdempotencyError> {
    match row {
        None => Ok(None),
        Some((resource_id, request_hash)) if request_hash == idempotency.request_hash => Ok(Some(resource_id)),
        Some(_) => Err(IdempotencyError::Reused),
    }
}

/// The row remembering which resource a key created, to insert with the
/// resource itself (one statement, see [`crate::db::insert_all`]): a key
/// taken meanwhile refuses the whole insert as a unique violation.
pub fn new_rows(scope: &str, actor: &str, idempotency: &Idempotency, resource_id: &str, at: DateTime<Utc>) -> crate::db::NewRows {
    let mut rows =
        crate::db::NewRows::new("INSERT INTO idempotency_keys (scope, actor, key, request_hash, resource_id, created_at)", 6, "");
    rows.push([
        scope.into(),
        actor.into(),
        idempotency.key.as_str().into(),
        idempotency.request_hash.as_str().into(),
        resource_id.into(),
        at.into(),
    ]);
    rows
}

/// Remembers which resource a key created, in the create's transaction.
/// `Ok(false)` when a concurrent call with the same key won: roll back and
/// return that one.
pub async fn remember(
    txn: &impl ConnectionTrait,
    scope: &str,
    actor: &str,
    idempotency: &Idempotency,
    resource_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = entity::ActiveModel {
        scope: Set(scope.to_owned()),
        actor: Set(actor.to_owned()),
        key: Set(idempotency.key.clone()),
        request_hash: Set(idempotency.request_hash.clone()),
        resource_id: Set(resource_id.to_owned()),
        created_at: Set(at),
    };
    match entity::Entity::insert(row).exec(txn).await {
        Ok(_) => Ok(true),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err),
    }
}
