//! The `knowledge` schema: categories, articles (the working draft) and their
//! frozen published versions, the search index of what readers may find,
//! attachments stored once per digest, links to the cases an article helped
//! solve, readers' feedback, draft proposals from closed cases, deflection
//! events; the audit trail, idempotency keys, the outbox of its events and
//! the inbox of the case events it follows.

use sea_orm_migration::prelude::*;

mod m20261204_000001_create_knowledge_schema;
mod m20261204_000002_deflection_events_once;
mod m20261205_000001_search_by_language;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_create_knowledge_schema::Migration),
            Box::new(m20261204_000002_deflection_events_once::Migration),
            Box::new(m20261205_000001_search_by_language::Migration),
            Box::new(crate::shared::OutboxUnsentByPosition),
            Box::new(crate::shared::AuditCreationInOneRow),
        ]
    }
}
