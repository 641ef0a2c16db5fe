//! A deflection event is written once per (session, kind, article): a
//! reloaded page or a retried call must not count twice. A unique index
//! enforces it on both databases, also under concurrent calls; events
//! without an article (suggestions shown, a case opened) count as one
//! with the empty article, since NULLs never collide in a unique index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Nothing recorded events before this index (the service that
        // writes them comes with it), so no duplicates stand in its way.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX deflection_events_once \
                 ON deflection_events (session_id, kind, (COALESCE(article_id, '')))",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("deflection_events_once").table("deflection_events").to_owned()).await
    }
}
