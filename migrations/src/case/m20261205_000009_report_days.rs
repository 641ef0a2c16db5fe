//! What the period reports read: per day (UTC, as days since 1970-01-01),
//! per dimension (`all`, `type`, `channel`, `team`, `priority`, `owner`)
//! and key, the cases created, closed, reopened and assigned, the sums of
//! resolution and first-response seconds, and their histograms. Kept by
//! the case service's consumer of its own events, so a create never waits
//! on a shared counter row.

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
                    .table("report_days")
                    .col(string("dimension"))
                    .col(integer("day"))
                    .col(string("key"))
                    .col(big_integer("created").default(0))
                    .col(big_integer("closed").default(0))
                    .col(big_integer("reopened").default(0))
                    .col(big_integer("assigned").default(0))
                    .col(big_integer("resolved").default(0))
                    .col(big_integer("resolution_seconds").default(0))
                    .col(big_integer("first_responses").default(0))
                    .col(big_integer("first_response_seconds").default(0))
                    .primary_key(Index::create().col("dimension").col("day").col("key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("report_day_buckets")
                    .col(string("dimension"))
                    .col(integer("day"))
                    .col(string("key"))
                    // resolution or first_response
                    .col(string("metric"))
                    .col(small_integer("bucket"))
                    .col(big_integer("count").default(0))
                    .primary_key(Index::create().col("dimension").col("day").col("key").col("metric").col("bucket"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::drop_table(manager, "report_day_buckets").await?;
        shared::drop_table(manager, "report_days").await
    }
}
