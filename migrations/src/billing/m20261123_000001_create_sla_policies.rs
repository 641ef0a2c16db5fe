use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sla_policies")
                    .col(string("id").primary_key())
                    .col(string("name").unique_key())
                    .col(text("description"))
                    .col(string("time_zone"))
                    // JSON: [{weekday, start, end}] in minutes, ["2026-12-25"], [{priority, first_response_minutes, resolution_minutes}]
                    .col(text("working_hours"))
                    .col(text("holidays"))
                    .col(text("targets"))
                    .col(boolean("pause_while_pending"))
                    .col(integer("warn_at_percent"))
                    .col(boolean("is_default"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        crate::shared::create_idempotency_keys(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::shared::drop_table(manager, "idempotency_keys").await?;
        crate::shared::drop_table(manager, "sla_policies").await
    }
}
