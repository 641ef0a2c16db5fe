//! The `notification` schema: its inbox, settings, templates, opt-outs, the
//! delivery log with its mailers' leases an index of what is pending and the trace of each, and the audit trail of the settings, templates and opt-outs.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_notification_schema;
mod m20261203_000002_create_audit_trail;
mod m20261204_000003_mailer_leases;
mod m20261205_000004_pending_deliveries;
mod m20261205_000005_delivery_traces;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_notification_schema::Migration),
            Box::new(m20261203_000002_create_audit_trail::Migration),
            Box::new(m20261204_000003_mailer_leases::Migration),
            Box::new(m20261205_000004_pending_deliveries::Migration),
            Box::new(m20261205_000005_delivery_traces::Migration),
            Box::new(crate::shared::AuditCreationInOneRow),
        ]
    }
}
