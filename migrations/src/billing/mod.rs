//! The `billing` schema: SLA policies, service contracts and sub-contracts,
//! the SLA clocks of cases, booked hours, service parts, timesheets and invoices.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_sla_policies;
mod m20261123_000002_create_contracts;
mod m20261123_000003_create_case_clocks;
mod m20261123_000004_create_work;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_sla_policies::Migration),
            Box::new(m20261123_000002_create_contracts::Migration),
            Box::new(m20261123_000003_create_case_clocks::Migration),
            Box::new(m20261123_000004_create_work::Migration),
            Box::new(crate::shared::OutboxUnsentByPosition),
            Box::new(crate::shared::AuditCreationInOneRow),
        ]
    }
}
