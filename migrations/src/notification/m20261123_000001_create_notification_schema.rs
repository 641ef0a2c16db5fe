use sea_orm_migration::{prelude::*, schema::*};

use crate::shared;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::create_inbox(manager).await?;
        manager
            .create_table(
                Table::create()
                    .table("settings")
                    .col(integer("id").primary_key())
                    // JSON arrays of event types.
                    .col(text("contact_event_types"))
                    .col(text("owner_event_types"))
                    .col(text("team_event_types"))
                    .col(string("sender_address"))
                    .col(string("sender_name"))
                    .col(integer("digest_window_seconds"))
                    .col(string("portal_base_url"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("templates")
                    .col(string("event_type").primary_key())
                    .col(text("subject"))
                    .col(text("body"))
                    .col(string("updated_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("contact_opt_outs")
                    .col(string("contact_id").primary_key())
                    .col(boolean("opted_out"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deliveries")
                    .col(string("id").primary_key())
                    .col(string("event_id"))
                    .col(string("event_type"))
                    .col(string("case_id"))
                    .col(string("case_number"))
                    .col(string("recipient"))
                    .col(string("recipient_name"))
                    .col(string("recipient_kind"))
                    .col(text("subject"))
                    .col(text("body"))
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(text("last_error"))
                    .col(string("message_id"))
                    .col(timestamp_with_time_zone("not_before"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("deliveries_due", &["status", "not_before"][..]),
            ("deliveries_case", &["case_id", "created_at"][..]),
            ("deliveries_recipient", &["recipient", "created_at"][..]),
        ] {
            manager.create_index(shared::index(name, "deliveries", cols)).await?;
        }
        manager
            .create_index(
                Index::create().name("deliveries_once").table("deliveries").col("event_id").col("recipient").unique().to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["deliveries", "contact_opt_outs", "templates", "settings", "inbox"] {
            shared::drop_table(manager, table).await?;
        }
        Ok(())
    }
}
