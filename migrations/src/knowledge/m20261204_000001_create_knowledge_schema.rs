use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

use crate::shared::{self, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "categories",
    "articles",
    "article_versions",
    "article_search",
    "attachments",
    "blobs",
    "article_case_links",
    "article_feedback",
    "draft_proposals",
    "deflection_events",
    "audit_entries",
    "idempotency_keys",
    "outbox",
    "inbox",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("categories")
                    .col(string("id").primary_key())
                    .col(string("slug").unique_key())
                    .col(string("name"))
                    .col(text("description"))
                    .col(string_null("parent_id"))
                    .col(integer("position"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        // The working copy of an article: the draft being edited. What readers
        // see is `article_versions` at `live_version`.
        manager
            .create_table(
                Table::create()
                    .table("articles")
                    .col(string("id").primary_key())
                    .col(string("slug").unique_key())
                    .col(string("title"))
                    .col(text("summary"))
                    .col(text("body_markdown"))
                    .col(string("locale"))
                    .col(string_null("category_id"))
                    // JSON arrays.
                    .col(text("tags"))
                    .col(text("related_article_ids"))
                    .col(string("audience"))
                    .col(string("owner_id"))
                    .col(string("state"))
                    // Whether the working copy differs from the live version.
                    .col(boolean("draft_pending"))
                    .col(integer_null("live_version"))
                    .col(integer("versions"))
                    .col(timestamp_with_time_zone_null("publish_at"))
                    .col(string_null("submitted_by"))
                    .col(big_integer("view_count"))
                    .col(big_integer("helpful_count"))
                    .col(big_integer("not_helpful_count"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("articles_by_state", "articles", &["state", "updated_at", "id"])).await?;
        manager.create_index(index("articles_scheduled", "articles", &["publish_at"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("article_versions")
                    .col(string("article_id"))
                    .col(integer("version"))
                    .col(string("title"))
                    .col(text("summary"))
                    .col(text("body_markdown"))
                    .col(text("body_html"))
                    .col(text("tags"))
                    .col(string("author_id"))
                    .col(string("published_by"))
                    .col(timestamp_with_time_zone("published_at"))
                    .primary_key(Index::create().col("article_id").col("version"))
                    .to_owned(),
            )
            .await?;
        // One row per live article, with what its audience may find.
        manager
            .create_table(
                Table::create()
                    .table("article_search")
                    .col(string("article_id").primary_key())
                    .col(string("slug"))
                    .col(string("audience"))
                    .col(string("locale"))
                    .col(string_null("category_id"))
                    .col(text("tags"))
                    .col(text("title"))
                    .col(text("summary"))
                    .col(text("body_text"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                // The extension belongs to the database, not to a service's schema
                // (dropping the schema must not drop it): it goes to
                // `public`, once, serialized by a lock since installs and
                // tests migrate side by side.
                db.execute_unprepared(
                    "SELECT pg_advisory_xact_lock(hashtext('docket.extensions')); \
                     CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;",
                )
                .await?;
                // Words (weighted title > tags > body, folded by the service
                // as queries are) in a GIN index; trigrams of the title
                // forgive typos.
                db.execute_unprepared(
                    "ALTER TABLE article_search ADD COLUMN document tsvector NOT NULL DEFAULT ''::tsvector; \
                     CREATE INDEX article_search_document ON article_search USING gin (document); \
                     CREATE INDEX article_search_title_trigrams ON article_search \
                     USING gin (title public.gin_trgm_ops);",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                // FTS5 over the same columns (diacritics folded), and a
                // trigram index of titles for typos.
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE article_search_words USING fts5(article_id UNINDEXED, title, tags, body, \
                     tokenize = 'unicode61 remove_diacritics 2'); \
                     CREATE VIRTUAL TABLE article_search_trigrams USING fts5(article_id UNINDEXED, title, \
                     tokenize = 'trigram');",
                )
                .await?;
            }
            _ => {}
        }
        manager
            .create_table(
                Table::create()
                    .table("blobs")
                    .col(string("digest").primary_key())
                    .col(big_integer("size"))
                    .col(blob("content"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("attachments")
                    .col(string("id").primary_key())
                    .col(string("article_id"))
                    .col(string("file_name"))
                    .col(string("content_type"))
                    .col(big_integer("size"))
                    .col(string("digest"))
                    .col(string("uploaded_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("attachments_by_article", "attachments", &["article_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("article_case_links")
                    .col(string("article_id"))
                    .col(string("case_id"))
                    .col(string("linked_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("article_id").col("case_id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("article_case_links_by_case", "article_case_links", &["case_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("article_feedback")
                    .col(string("id").primary_key())
                    .col(string("article_id"))
                    .col(boolean("helpful"))
                    .col(text("comment"))
                    .col(string("reader"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("article_feedback_by_article", "article_feedback", &["article_id", "created_at"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("draft_proposals")
                    .col(string("id").primary_key())
                    .col(string("case_id").unique_key())
                    .col(string("case_number"))
                    .col(string("title"))
                    .col(text("body_markdown"))
                    // JSON: [{kind, count}].
                    .col(text("redactions"))
                    .col(string_null("existing_article_id"))
                    .col(string("state"))
                    .col(string_null("article_id"))
                    .col(string_null("decided_by"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("draft_proposals_by_state", "draft_proposals", &["state", "created_at", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("deflection_events")
                    .col(string("id").primary_key())
                    .col(string("session_id"))
                    .col(string("kind"))
                    .col(string("source"))
                    .col(string_null("article_id"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("deflection_events_by_time", "deflection_events", &["occurred_at"])).await?;
        manager.create_index(index("deflection_events_by_session", "deflection_events", &["session_id", "kind"])).await?;
        shared::create_audit_entries(manager).await?;
        shared::create_idempotency_keys(manager).await?;
        shared::create_outbox(manager).await?;
        shared::create_inbox(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            let db = manager.get_connection();
            db.execute_unprepared("DROP TABLE IF EXISTS article_search_words; DROP TABLE IF EXISTS article_search_trigrams;")
                .await?;
        }
        for table in TABLES.iter().rev() {
            shared::drop_table(manager, table).await?;
        }
        Ok(())
    }
}
