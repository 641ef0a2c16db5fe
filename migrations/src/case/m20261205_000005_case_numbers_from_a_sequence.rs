//! On PostgreSQL, case numbers come from a sequence instead of the counter
//! row: `nextval` is not rolled back, so no create waits for another's
//! commit to learn its number (the row stayed locked for the whole
//! transaction, and every create queued behind it). Numbers stay unique and
//! increasing; a create that fails after taking one leaves a gap, which case
//! numbers may have (invoice numbers keep their gapless counter). The
//! sequence continues where the counter stopped. SQLite, whose writes are
//! one at a time anyway, keeps the counter row.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE SEQUENCE case_number_seq AS bigint MINVALUE 1; \
                     SELECT setval('case_number_seq', \
                       COALESCE((SELECT value FROM counters WHERE name = 'case_number'), 0) + 1, false); \
                     DELETE FROM counters WHERE name = 'case_number';",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "INSERT INTO counters (name, value) SELECT 'case_number', \
                       CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM case_number_seq; \
                     DROP SEQUENCE case_number_seq;",
                )
                .await?;
        }
        Ok(())
    }
}
