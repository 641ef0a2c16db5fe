//! The audit trail keeps machine keys for statuses, priorities and channels
//! (`assigned`, `high`, `web_form`), not their display labels: rows written
//! before are rewritten, so readers never parse a label back.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (field, label, key) for every value the service ever wrote as a label.
const LABELS: &[(&str, &str, &str)] = &[
    ("status", "Active – New", "new"),
    ("status", "Active – Assigned", "assigned"),
    ("status", "Pending", "pending"),
    ("status", "Closed – Complete", "closed_complete"),
    ("status", "Closed – No Fault", "closed_no_fault"),
    ("priority", "Low", "low"),
    ("priority", "Medium", "medium"),
    ("priority", "High", "high"),
    ("priority", "Critical", "critical"),
    ("channel", "Phone", "phone"),
    ("channel", "Email", "email"),
    ("channel", "Web form", "web_form"),
    ("channel", "Portal", "portal"),
    ("channel", "API", "api"),
];

async fn rewrite(manager: &SchemaManager<'_>, from_label: bool) -> Result<(), DbErr> {
    for (field, label, key) in LABELS {
        let (from, to) = if from_label { (*label, *key) } else { (*key, *label) };
        for column in ["old_value", "new_value"] {
            let update = Query::update()
                .table("audit_entries")
                .value(Alias::new(column), to)
                .and_where(Expr::col(Alias::new("record_type")).eq("case"))
                .and_where(Expr::col(Alias::new("field")).eq(*field))
                .and_where(Expr::col(Alias::new(column)).eq(from))
                .to_owned();
            manager.exec_stmt(update).await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rewrite(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rewrite(manager, false).await
    }
}
