//! A case row keeps its contacts and tags (`links`, JSON) beside the link
//! tables, with the version it was written at (`links_version`), so that a
//! list of cases reads one table: with the links looked up per case, a
//! page of 50 cost PostgreSQL 100 index probes, most of a list's time
//! (issue 15). The link tables stay, for the contact and tag filters.
//!
//! Compatible with the release before it (which runs on beside this one
//! during a rolling upgrade): it leaves the new columns alone, so the rows
//! it writes have no `links`, or `links` of an older version, and readers
//! take the link tables for those.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every case's links from its link tables, contacts in their order and
/// tags in byte order (as the service sorts them), marked current.
const FILL_POSTGRES: &str = r#"UPDATE cases SET links_version = version, links = json_build_object(
    'contacts', COALESCE((SELECT json_agg(json_build_array(contact_id, is_primary) ORDER BY position)
                          FROM case_contacts WHERE case_id = cases.id), '[]'::json),
    'tags', COALESCE((SELECT json_agg(tag ORDER BY tag COLLATE "C") FROM case_tags WHERE case_id = cases.id), '[]'::json)
)::text"#;

/// The same for SQLite, whose aggregate takes its subquery's order.
const FILL_SQLITE: &str = "UPDATE cases SET links_version = version, links = json_object(
    'contacts', (SELECT json_group_array(json(link)) FROM (
        SELECT json_array(contact_id, CASE WHEN is_primary THEN json('true') ELSE json('false') END) AS link
        FROM case_contacts WHERE case_id = cases.id ORDER BY position)),
    'tags', (SELECT json_group_array(tag) FROM (SELECT tag FROM case_tags WHERE case_id = cases.id ORDER BY tag))
)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager.alter_table(Table::alter().table("cases").add_column(text_null("links")).to_owned()).await?;
        manager.alter_table(Table::alter().table("cases").add_column(big_integer_null("links_version")).to_owned()).await?;
        let fill = match manager.get_database_backend() {
            DbBackend::Postgres => FILL_POSTGRES,
            _ => FILL_SQLITE,
        };
        manager.get_connection().execute_unprepared(fill).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("cases").drop_column("links_version").to_owned()).await?;
        manager.alter_table(Table::alter().table("cases").drop_column("links").to_owned()).await
    }
}
