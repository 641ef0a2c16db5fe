//! The `knowledge` schema migrates up and down on both databases, with the
//! search index each needs (PostgreSQL: tsvector indexes of the whole text
//! and of its head, a trigram index of the vocabulary, with pg_trgm outside
//! the service's schema; SQLite: FTS5 tables).

use docket_kit::settings::DatabaseSettings;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::common::{Backend, check_postgres, postgres_url};

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

fn settings(backend: Backend, dir: &std::path::Path, prefix: &str) -> DatabaseSettings {
    match backend {
        Backend::Postgres => DatabaseSettings {
            url: postgres_url(),
            schema_prefix: prefix.to_owned(),
            max_connections: 2,
            connect_timeout_secs: 5,
            migrate_on_start: false,
        },
        Backend::Sqlite => DatabaseSettings {
            url: format!("sqlite://{}/{{service}}.db?mode=rwc", dir.display()),
            schema_prefix: String::new(),
            max_connections: 1,
            connect_timeout_secs: 5,
            migrate_on_start: false,
        },
    }
}

/// The tables (and, on SQLite, virtual tables) of the service's schema.
async fn tables(db: &DatabaseConnection, schema: &str) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            format!("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = '{schema}'")
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'".to_owned(),
    };
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let mut names: Vec<String> = rows.iter().map(|row| row.try_get::<String>("", "name").unwrap()).collect();
    names.sort();
    names
}

async fn up_down_up(backend: Backend) {
    if backend == Backend::Postgres {
        check_postgres().await;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("t{}_", &uuid::Uuid::now_v7().simple().to_string()[16..]);
    let settings = settings(backend, dir.path(), &prefix);
    let schema = format!("{prefix}knowledge");
    let db = docket_kit::db::connect(&settings, "knowledge").await.unwrap();

    docket_migrations::up(&db, "knowledge").await.unwrap();
    let created = tables(&db, &schema).await;
    for table in TABLES {
        assert!(created.iter().any(|t| t == table), "{table} missing from {created:?}");
    }
    assert!(created.iter().any(|t| t == "article_search_vocabulary"), "{created:?}");
    if backend == Backend::Sqlite {
        assert!(created.iter().any(|t| t == "article_search_words"), "{created:?}");
        assert!(created.iter().any(|t| t == "article_search_vocabulary_trigrams"), "{created:?}");
    } else {
        // The search column and indexes, and pg_trgm kept out of the schema
        // that a test or an uninstall drops.
        let sql = format!(
            "SELECT count(*) AS n FROM pg_indexes WHERE schemaname = '{schema}' \
             AND indexname IN ('article_search_document', 'article_search_head', 'article_search_languages', \
               'article_search_vocabulary_trigrams')"
        );
        let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 4);
        let sql = "SELECT count(*) AS n FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
                   WHERE e.extname = 'pg_trgm' AND n.nspname = 'public'";
        let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    }

    // A deflection event is written once per (session, kind, article).
    let sql = match backend {
        Backend::Postgres => {
            format!("SELECT count(*) AS n FROM pg_indexes WHERE schemaname = '{schema}' AND indexname = 'deflection_events_once'")
        }
        Backend::Sqlite => {
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'deflection_events_once'".to_owned()
        }
    };
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1, "the unique index of deflection events");

    let applied = docket_migrations::status(&db, "knowledge").await.unwrap().len();
    docket_migrations::down(&db, "knowledge", u32::try_from(applied).unwrap()).await.unwrap();
    let left = tables(&db, &schema).await;
    assert!(left.iter().all(|t| t == "seaql_migrations"), "left after down: {left:?}");
    docket_migrations::up(&db, "knowledge").await.unwrap();
    assert_eq!(tables(&db, &schema).await, created, "up after down makes the same tables");

    if backend == Backend::Postgres {
        docket_kit::db::drop_schema(&db, &schema).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knowledge_schema_migrates_up_and_down_on_postgres() {
    up_down_up(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knowledge_schema_migrates_up_and_down_on_sqlite() {
    up_down_up(Backend::Sqlite).await;
}
