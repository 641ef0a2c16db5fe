//! A delivery keeps the W3C trace of the change that caused it, so that
//! sending the email joins that trace: one trace runs from the gateway
//! through the service, the outbox, the broker and the consumer to SMTP.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Alias::new("deliveries")).add_column(string("traceparent").default("")).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Alias::new("deliveries")).drop_column(Alias::new("traceparent")).to_owned())
            .await
    }
}
