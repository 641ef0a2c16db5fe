//! The inbox of the portal service's consumer of contact changes (a portal
//! user's address follows its contact's).

use sea_orm_migration::prelude::*;

use crate::shared;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::create_inbox(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::drop_table(manager, "inbox").await
    }
}
