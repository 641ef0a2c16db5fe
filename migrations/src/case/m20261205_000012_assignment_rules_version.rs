//! A version of the assignment rules (the `assignment_rules` counter) that
//! every write to `assignment_rules` moves, by trigger, so that a case
//! service replica can keep the rules in memory and know from one value it
//! reads with each create whether they changed anywhere since. A trigger,
//! not the service's code, so that no write to the rules (a future one
//! included) can leave a replica routing by rules that are gone.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::shared;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_EVENTS: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::add_counters(manager, &["assignment_rules"]).await?;
        let db = manager.get_connection();
        let bump = "UPDATE counters SET value = value + 1 WHERE name = 'assignment_rules'";
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION assignment_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN {bump}; RETURN NULL; END $$"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER assignment_rules_changed AFTER INSERT OR UPDATE OR DELETE ON assignment_rules \
                     FOR EACH STATEMENT EXECUTE FUNCTION assignment_rules_changed()",
                )
                .await?;
            }
            _ => {
                for event in SQLITE_EVENTS {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER assignment_rules_{} AFTER {event} ON assignment_rules BEGIN {bump}; END",
                        event.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER assignment_rules_changed ON assignment_rules").await?;
                db.execute_unprepared("DROP FUNCTION assignment_rules_changed()").await?;
            }
            _ => {
                for event in SQLITE_EVENTS {
                    db.execute_unprepared(&format!("DROP TRIGGER assignment_rules_{}", event.to_lowercase())).await?;
                }
            }
        }
        db.execute_unprepared("DELETE FROM counters WHERE name = 'assignment_rules'").await?;
        Ok(())
    }
}
