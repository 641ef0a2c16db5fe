//! The `case` schema: accounts, contacts, staff directory, cases, activities,
//! audit trail, idempotency keys, escalation and assignment rules, and the outbox of its
//! events and the inbox of the SLA alerts it consumes.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_case_schema;
mod m20261123_000002_create_outbox;
mod m20261123_000003_create_escalation_rules;
mod m20261203_000004_audit_keys_not_labels;
mod m20261205_000005_case_numbers_from_a_sequence;
mod m20261205_000006_open_cases_index;
mod m20261205_000007_routing;
mod m20261205_000008_team_absence_policy;
mod m20261205_000009_report_days;
mod m20261205_000010_report_cases;
mod m20261205_000011_report_extremes_and_gaps;
mod m20261205_000012_assignment_rules_version;
mod m20261205_000013_reports_kept_by_inserts;
mod m20261207_000014_case_links;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_case_schema::Migration),
            Box::new(m20261123_000002_create_outbox::Migration),
            Box::new(m20261123_000003_create_escalation_rules::Migration),
            Box::new(m20261203_000004_audit_keys_not_labels::Migration),
            Box::new(m20261205_000005_case_numbers_from_a_sequence::Migration),
            Box::new(crate::shared::OutboxUnsentByPosition),
            Box::new(m20261205_000006_open_cases_index::Migration),
            Box::new(m20261205_000007_routing::Migration),
            Box::new(m20261205_000008_team_absence_policy::Migration),
            Box::new(m20261205_000009_report_days::Migration),
            Box::new(m20261205_000010_report_cases::Migration),
            Box::new(m20261205_000011_report_extremes_and_gaps::Migration),
            Box::new(m20261205_000012_assignment_rules_version::Migration),
            Box::new(m20261205_000013_reports_kept_by_inserts::Migration),
            Box::new(crate::shared::AuditCreationInOneRow),
            Box::new(m20261207_000014_case_links::Migration),
        ]
    }
}
