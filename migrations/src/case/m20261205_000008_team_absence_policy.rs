//! What a team does with an absent agent's open cases: send them back
//! through the assignment rules (the default) or into the team's queue,
//! and whether pending cases stay with their owner.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [&str; 2] = ["requeue_on_absence", "keep_pending_on_absence"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            manager.alter_table(Table::alter().table("teams").add_column(boolean(column).default(false)).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            manager.alter_table(Table::alter().table("teams").drop_column(Alias::new(column)).to_owned()).await?;
        }
        Ok(())
    }
}
