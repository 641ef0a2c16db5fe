//! What the repeat-case report reads: one narrow row per case (when it was
//! made, as seconds since 1970, its account and asset serial number), kept
//! by the case service's consumer of its own `case.created`, indexed so
//! the case before each one of the same account or asset is one probe.

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
                    .table("report_cases")
                    .col(string("case_id").primary_key())
                    .col(big_integer("created_epoch"))
                    .col(string("account_id"))
                    // Empty: none.
                    .col(string("asset"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("report_cases_created", &["created_epoch"][..]),
            ("report_cases_account", &["account_id", "created_epoch"][..]),
            ("report_cases_asset", &["asset", "created_epoch"][..]),
        ] {
            manager.create_index(shared::index(name, "report_cases", cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::drop_table(manager, "report_cases").await
    }
}
