//! The open cases, indexed by what the queue reports count them by: a
//! partial index of only the open statuses, with the columns the reports
//! read (status, priority, team, owner, age), so counting a queue reads
//! this small index alone (an index-only scan) and never a closed case.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("cases_open")
                    .table("cases")
                    .col("status")
                    .col("priority")
                    .col("team_id")
                    .col("owner_id")
                    .col("created_at")
                    .and_where(Expr::col("status").is_in(["new", "assigned", "pending"]))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("cases_open").table("cases").to_owned()).await
    }
}
