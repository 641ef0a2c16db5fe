//! Changes of the settings, templates and opt-outs leave an audit trail
//! (`audit_entries`, as every service keeps it), and templates and opt-outs
//! get the version number every changed record carries, so a change is
//! written over the row it was made from. Rows already there start at 1.

use sea_orm_migration::{prelude::*, schema::*};

use crate::shared;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables that get a version.
const VERSIONED: [&str; 2] = ["templates", "contact_opt_outs"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::create_audit_entries(manager).await?;
        for table in VERSIONED {
            manager
                .alter_table(Table::alter().table(Alias::new(table)).add_column(big_integer("version").default(1)).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in VERSIONED {
            manager.alter_table(Table::alter().table(Alias::new(table)).drop_column(Alias::new("version")).to_owned()).await?;
        }
        shared::drop_table(manager, "audit_entries").await
    }
}
