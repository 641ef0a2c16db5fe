//! Every emailed link gets an id that its event carries instead of its
//! secret: the notification service asks the portal service for the secret
//! (`IssueLinkSecret`) as it writes the email, so the secret is never on
//! the broker or in dead letters. Links made before have no id (their
//! events have long been sent).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, column, unique index).
const LINK_IDS: [(&str, &str, &str); 2] = [
    ("portal_tokens", "link_id", "portal_tokens_link_id"),
    ("form_submissions", "confirm_link_id", "form_submissions_confirm_link_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, index) in LINK_IDS {
            manager.alter_table(Table::alter().table(Alias::new(table)).add_column(string_null(column)).to_owned()).await?;
            manager.create_index(Index::create().name(index).table(Alias::new(table)).col(column).unique().to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, index) in LINK_IDS {
            manager.drop_index(Index::drop().name(index).table(Alias::new(table)).to_owned()).await?;
            manager.alter_table(Table::alter().table(Alias::new(table)).drop_column(Alias::new(column)).to_owned()).await?;
        }
        Ok(())
    }
}
