//! Deliveries are leased one by one, by a mailer that says it is alive: a
//! delivery names the mailer sending it (`leased_by`), and each mailer
//! notes in `mailer_instances` when it was last seen, so the leases of one
//! that died (a `kill -9`, a lost node) are taken over within seconds
//! instead of when they run out.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Alias::new("deliveries")).add_column(string_null("leased_by")).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mailer_instances")
                    .col(string("id").primary_key())
                    .col(timestamp_with_time_zone("seen_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("mailer_instances").to_owned()).await?;
        manager.alter_table(Table::alter().table(Alias::new("deliveries")).drop_column(Alias::new("leased_by")).to_owned()).await
    }
}
