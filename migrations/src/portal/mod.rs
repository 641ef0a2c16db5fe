//! The `portal` schema: portal users, their one-time links (digests and link ids only),
//! web forms and their submissions (with the digest of a confirmation link), audit trail, idempotency keys, the
//! outbox of its events, and the inbox of the contact changes it follows.

use sea_orm_migration::prelude::*;

mod m20261124_000001_create_portal_schema;
mod m20261204_000002_create_inbox;
mod m20261204_000003_submission_confirmation;
mod m20261204_000004_link_ids;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_portal_schema::Migration),
            Box::new(m20261204_000002_create_inbox::Migration),
            Box::new(m20261204_000003_submission_confirmation::Migration),
            Box::new(m20261204_000004_link_ids::Migration),
            Box::new(crate::shared::OutboxUnsentByPosition),
            Box::new(crate::shared::AuditCreationInOneRow),
        ]
    }
}
