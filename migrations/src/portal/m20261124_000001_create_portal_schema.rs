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
                    .table("portal_users")
                    .col(string("contact_id").primary_key())
                    .col(string("account_id"))
                    .col(string("email"))
                    .col(string("name"))
                    .col(boolean("portal_manager"))
                    .col(boolean("enabled"))
                    .col(text_null("password_hash"))
                    .col(big_integer("session_epoch"))
                    .col(timestamp_with_time_zone("invited_at"))
                    .col(timestamp_with_time_zone_null("activated_at"))
                    .col(timestamp_with_time_zone_null("last_login_at"))
                    .col(timestamp_with_time_zone_null("password_changed_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("portal_tokens")
                    .col(string("token_hash").primary_key())
                    .col(string("purpose"))
                    .col(string("contact_id"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("web_forms")
                    .col(string("id").primary_key())
                    .col(string("slug").unique_key())
                    .col(string("title"))
                    .col(text("intro"))
                    // JSON arrays.
                    .col(text("fields"))
                    .col(string("case_type_id"))
                    .col(string("priority"))
                    .col(string_null("team_id"))
                    .col(string_null("account_id"))
                    .col(text("allowed_origins"))
                    .col(text("success_message"))
                    .col(boolean("active"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("form_submissions")
                    .col(string("form_id"))
                    .col(string("submission_id"))
                    .col(string("request_hash"))
                    .col(string("contact_id"))
                    .col(string("case_id"))
                    .col(string("case_number"))
                    .col(string("client_ip"))
                    .col(string("origin"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("form_id").col("submission_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_entries")
                    .col(string("id").primary_key())
                    .col(string("record_type"))
                    .col(string("record_id"))
                    .col(string("actor"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string("field"))
                    .col(text("old_value"))
                    .col(text("new_value"))
                    .col(text("reason"))
                    .to_owned(),
            )
            .await?;
        for (name, table, cols) in [
            ("portal_users_account", "portal_users", &["account_id", "contact_id"][..]),
            ("portal_tokens_contact", "portal_tokens", &["contact_id", "purpose"][..]),
            ("audit_entries_record", "audit_entries", &["record_type", "record_id", "id"][..]),
        ] {
            manager.create_index(shared::index(name, table, cols)).await?;
        }
        shared::create_idempotency_keys(manager).await?;
        shared::create_outbox(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["outbox", "idempotency_keys", "audit_entries", "form_submissions", "web_forms", "portal_tokens", "portal_users"]
        {
            shared::drop_table(manager, table).await?;
        }
        Ok(())
    }
}
