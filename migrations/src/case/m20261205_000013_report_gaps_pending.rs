//! Repeat-case gaps measured by a sweep rather than by the consumer that
//! keeps a case's row: the consumer inserts the row marked `gaps_pending`
//! (no lock, no neighbour lookup) and the case service's sweeper, or the
//! next repeat-case report, measures every pending row and the row after
//! it under one lock. Under a burst of one account's cases (the web
//! forms' unassigned account) the consumer's lanes no longer queue on
//! that account's lock. Rows kept before this migration are measured already.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("report_cases").add_column(boolean("gaps_pending").default(false)).to_owned())
            .await?;
        // Only the pending rows, few at any time: the sweep finds them here.
        // Written out so that the sweep's `WHERE gaps_pending` matches the
        // index's condition word for word (SQLite's planner asks that).
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX report_cases_gaps_pending ON report_cases (case_id) WHERE gaps_pending")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("report_cases_gaps_pending").table("report_cases").to_owned()).await?;
        manager.alter_table(Table::alter().table("report_cases").drop_column("gaps_pending").to_owned()).await
    }
}
