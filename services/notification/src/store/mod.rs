//! The notification schema and the commands on it: the admin's settings,
//! templates and contacts' opt-outs, each changed through the kit's
//! mutation runner (etag, version, one audit row per changed field, commit);
//! the delivery log the event handler writes and the mailer works off; and
//! the audit trail of those changes.
//!
//! The settings, a template and an opt-out exist before they are first
//! stored (as the defaults, at version 0), so their records load as that
//! and their first change inserts the row.

pub mod deliveries;
pub mod entities;
pub mod opt_outs;
pub mod settings;
pub mod templates;

use docket_kit::error::is_unique_violation;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, sea_query::SimpleExpr};

pub use self::entities::delivery::{FAILED, MERGED, PENDING, SENT};
pub use docket_kit::audit::Actor;

/// Names the service in the events its changes write (none so far).
const SOURCE: &str = "notification";

docket_kit::service_store!(
    /// The notification service's database, as the API changes and reads it.
    /// Cheap to clone.
    pub struct Store, source = SOURCE
);

/// Writes a record's row as it is after a change made at version
/// `expected`: inserted when `expected` is 0 (it was not stored yet), else
/// written over the row found by `key` if that is still at `expected`.
/// `false` when someone else changed (or first stored) it meanwhile.
async fn write_versioned<E>(
    txn: &DatabaseTransaction,
    row: E::ActiveModel,
    expected: i64,
    key: SimpleExpr,
    version: E::Column,
) -> Result<bool, DbErr>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    if expected == 0 {
        return match E::insert(row).exec_without_returning(txn).await {
            Ok(_) => Ok(true),
            Err(err) if is_unique_violation(&err) => Ok(false),
            Err(err) => Err(err),
        };
    }
    let updated = E::update_many().set(row).filter(key).filter(version.eq(expected)).exec(txn).await?;
    Ok(updated.rows_affected == 1)
}

pub(crate) use docket_kit::page::page_end;
