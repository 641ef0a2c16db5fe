//! A web form submission that names a known customer's address waits for
//! that address to confirm it: the submission keeps the digest of the
//! emailed link (never the link), the address it went to, until when it
//! works, and when it was followed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "form_submissions";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for mut column in [
            string_null("confirm_token_hash"),
            string("confirm_email").default("").take(),
            timestamp_with_time_zone_null("confirm_expires_at"),
            timestamp_with_time_zone_null("confirmed_at"),
        ] {
            manager.alter_table(Table::alter().table(Alias::new(TABLE)).add_column(&mut column).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("form_submissions_confirm_token_hash")
                    .table(Alias::new(TABLE))
                    .col("confirm_token_hash")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("form_submissions_confirm_token_hash").table(Alias::new(TABLE)).to_owned()).await?;
        for column in ["confirmed_at", "confirm_expires_at", "confirm_email", "confirm_token_hash"] {
            manager.alter_table(Table::alter().table(Alias::new(TABLE)).drop_column(Alias::new(column)).to_owned()).await?;
        }
        Ok(())
    }
}
