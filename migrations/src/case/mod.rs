//! The `case` schema: accounts, contacts, staff directory, cases, activities,
//! audit trail, idempotency keys.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_case_schema;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000001_create_case_schema::Migration)]
    }
}
