//! The mailer looks for pending deliveries many times a second, and the
//! delivery log keeps every email ever sent: a partial index of the pending
//! ones keeps that lookup (and the pending count of the metrics) as fast
//! with a million sent emails as with none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // PostgreSQL and SQLite both take a partial index in this form.
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX deliveries_pending ON deliveries (created_at) WHERE status = 'pending'")
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX deliveries_pending").await.map(drop)
    }
}
