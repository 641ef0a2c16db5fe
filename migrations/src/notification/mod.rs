//! The `notification` schema: its inbox, settings, templates, opt-outs and
//! the delivery log.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_notification_schema;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000001_create_notification_schema::Migration)]
    }
}
