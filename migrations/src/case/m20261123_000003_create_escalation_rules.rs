//! Escalation rules, and the inbox of the case service's consumer of SLA
//! alerts.

use sea_orm_migration::{prelude::*, schema::*};

use crate::shared;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("escalation_rules")
                    .col(string("id").primary_key())
                    .col(string("name").unique_key())
                    // sla_warning or sla_breached
                    .col(string("trigger"))
                    // first_response, resolution, or empty for either
                    .col(string("target"))
                    // JSON list of priority ranks, 1 Low .. 4 Critical; empty: all
                    .col(text("priorities"))
                    .col(boolean("raise_priority"))
                    .col(string_null("reassign_team_id"))
                    .col(string_null("reassign_owner_id"))
                    .col(boolean("notify_owner"))
                    // JSON list of staff ids
                    .col(text("notify_staff_ids"))
                    .col(boolean("active"))
                    .col(integer("position"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        shared::create_inbox(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::drop_table(manager, "inbox").await?;
        shared::drop_table(manager, "escalation_rules").await
    }
}
