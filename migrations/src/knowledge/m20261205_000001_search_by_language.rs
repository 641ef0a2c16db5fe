//! Search by each article's language, ranked fast at the size of a real
//! help center, with typos corrected against the words articles use:
//!
//! - `language`: the text search configuration (Snowball stemmer) the row
//!   was indexed with, from the article's locale;
//! - `head`: the words of the title, tags and summary alone, small enough
//!   to stay in the row, with an index of its own: articles that hold a
//!   query in their head are found first, and candidates are ordered by it
//!   before the few best are ranked on their whole document; the long text
//!   (`body_text`, `document`) is moved out of the row (TOAST) as soon as
//!   a row passes 256 bytes, everything else is kept in it, so that reading
//!   hundreds of candidates reads few pages;
//! - an index of (category, audience): which categories hold an article
//!   a reader may read, for the help center's list of topics;
//! - `indexed_as`: the format a row was written in; rows of an older one
//!   (all of them, after this migration) are rewritten by the service when
//!   it starts, since the text is folded in Rust, not in SQL;
//! - `article_search_vocabulary`: every word of an article ever indexed,
//!   with how widely the article is read (`reach`: internal 0, customers 1,
//!   public 2) and its trigrams, to correct what a reader mistyped to the
//!   words of articles they may read; it replaces the trigrams of titles.
//!
//! On SQLite, the FTS5 index stems English words (`porter`) and is rebuilt
//! by the same rewrite; the vocabulary's trigrams are an FTS5 table that a
//! trigger fills.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE article_search \
                       ADD COLUMN language text NOT NULL DEFAULT 'simple', \
                       ADD COLUMN head tsvector NOT NULL DEFAULT ''::tsvector, \
                       ADD COLUMN indexed_as smallint NOT NULL DEFAULT 0, \
                       ALTER COLUMN article_id SET STORAGE MAIN, \
                       ALTER COLUMN slug SET STORAGE MAIN, \
                       ALTER COLUMN audience SET STORAGE MAIN, \
                       ALTER COLUMN locale SET STORAGE MAIN, \
                       ALTER COLUMN category_id SET STORAGE MAIN, \
                       ALTER COLUMN tags SET STORAGE MAIN, \
                       ALTER COLUMN title SET STORAGE MAIN, \
                       ALTER COLUMN summary SET STORAGE MAIN, \
                       ALTER COLUMN language SET STORAGE MAIN, \
                       ALTER COLUMN head SET STORAGE MAIN; \
                     ALTER TABLE article_search SET (toast_tuple_target = 256); \
                     CREATE INDEX article_search_head ON article_search USING gin (head); \
                     CREATE INDEX article_search_languages ON article_search (language); \
                     CREATE INDEX article_search_categories ON article_search (category_id, audience); \
                     DROP INDEX article_search_title_trigrams; \
                     CREATE TABLE article_search_vocabulary (word text NOT NULL, reach smallint NOT NULL, \
                       PRIMARY KEY (word, reach)); \
                     CREATE INDEX article_search_vocabulary_trigrams ON article_search_vocabulary \
                       USING gist (word public.gist_trgm_ops);",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "ALTER TABLE article_search ADD COLUMN indexed_as INTEGER NOT NULL DEFAULT 0; \
                     CREATE INDEX article_search_categories ON article_search (category_id, audience); \
                     DROP TABLE article_search_words; \
                     DROP TABLE article_search_trigrams; \
                     CREATE VIRTUAL TABLE article_search_words USING fts5(article_id UNINDEXED, title, tags, body, \
                       tokenize = 'porter unicode61 remove_diacritics 2'); \
                     CREATE TABLE article_search_vocabulary (word TEXT NOT NULL, reach INTEGER NOT NULL, \
                       PRIMARY KEY (word, reach)) WITHOUT ROWID; \
                     CREATE VIRTUAL TABLE article_search_vocabulary_trigrams \
                       USING fts5(word, reach UNINDEXED, tokenize = 'trigram'); \
                     CREATE TRIGGER article_search_vocabulary_added AFTER INSERT ON article_search_vocabulary \
                       BEGIN INSERT INTO article_search_vocabulary_trigrams (word, reach) VALUES (new.word, new.reach); END;",
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The rows were written in the new format and the older service
        // rewrites none of them: its search starts empty again.
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "DELETE FROM article_search; \
                     DROP TABLE article_search_vocabulary; \
                     DROP INDEX article_search_languages; \
                     DROP INDEX article_search_categories; \
                     DROP INDEX article_search_head; \
                     ALTER TABLE article_search DROP COLUMN language, DROP COLUMN head, DROP COLUMN indexed_as; \
                     ALTER TABLE article_search RESET (toast_tuple_target); \
                     CREATE INDEX article_search_title_trigrams ON article_search \
                       USING gin (title public.gin_trgm_ops);",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "DELETE FROM article_search; \
                     ALTER TABLE article_search DROP COLUMN indexed_as; \
                     DROP INDEX article_search_categories; \
                     DROP TRIGGER article_search_vocabulary_added; \
                     DROP TABLE article_search_vocabulary_trigrams; \
                     DROP TABLE article_search_vocabulary; \
                     DROP TABLE article_search_words; \
                     CREATE VIRTUAL TABLE article_search_words USING fts5(article_id UNINDEXED, title, tags, body, \
                       tokenize = 'unicode61 remove_diacritics 2'); \
                     CREATE VIRTUAL TABLE article_search_trigrams USING fts5(article_id UNINDEXED, title, \
                       tokenize = 'trigram');",
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
