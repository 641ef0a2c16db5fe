//! Database connections. One code path for both backends: PostgreSQL with a
//! schema per service, or SQLite with a file per service.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::settings::DatabaseSettings;

/// Where one service's tables live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDatabase {
    /// Connection URL with `{service}` already replaced.
    pub url: String,
    /// PostgreSQL schema; `None` for SQLite.
    pub schema: Option<String>,
}

impl ServiceDatabase {
    pub fn for_service(settings: &DatabaseSettings, service: &str) -> Self {
        let url = settings.url.replace("{service}", service);
        let schema = (!url.starts_with("sqlite:")).then(|| format!("{}{service}", settings.schema_prefix));
        Self { url, schema }
    }

    pub fn is_sqlite(&self) -> bool {
        self.schema.is_none()
    }
}

/// How long a pooled connection may sit idle before it is pinged on checkout.
const PING_IDLE_AFTER: Duration = Duration::from_secs(5);

/// Connects, creating the service's schema (PostgreSQL) or file (SQLite) if
/// needed, with every pooled connection using that schema.
pub async fn connect(settings: &DatabaseSettings, service: &str) -> Result<DatabaseConnection, DbErr> {
    let target = ServiceDatabase::for_service(settings, service);
    if target.is_sqlite() {
        create_sqlite_parent_dir(&target.url);
    }
    let mut options = ConnectOptions::new(target.url.clone());
    options
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.connect_timeout_secs))
        // sqlx pings a connection on every checkout by default: a second round
        // trip for each one-query call. A connection in use within the last
        // seconds is known to be alive; one idle longer (a server restart, a
        // firewall's idle cut) is still pinged and replaced when dead.
        .test_before_acquire_if_idle_for(PING_IDLE_AFTER)
        .sqlx_logging(false);
    match &target.schema {
        Some(schema) => {
            options.max_connections(settings.max_connections).set_schema_search_path(schema.clone());
        }
        // SQLite allows one writer; one connection avoids SQLITE_BUSY when two
        // transactions both try to upgrade to a write lock.
        None => {
            options.max_connections(1).min_connections(1);
        }
    }
    let db = Database::connect(options).await?;
    match &target.schema {
        Some(schema) => {
            db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await?;
        }
        None => {
            db.execute_unprepared("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;").await?;
        }
    }
    Ok(db)
}

fn create_sqlite_parent_dir(url: &str) {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        // A failure shows up as a clear connect error right after.
        let _ = std::fs::create_dir_all(parent);
    }
}

/// The `n`th (from 1) bind parameter of hand-written SQL, as the backend
/// writes it: `$n` on PostgreSQL, `?` on SQLite.
pub fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// The VALUES of a multi-row insert: `rows` tuples of `columns` bind
/// parameters each, numbered on after the statement's first `before`.
pub fn tuples(backend: DbBackend, rows: usize, columns: usize, before: usize) -> String {
    (0..rows)
        .map(|row| {
            let tuple: Vec<String> = (1..=columns).map(|column| placeholder(backend, before + row * columns + column)).collect();
            format!("({})", tuple.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A cheap round trip, for health checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_string(backend, "SELECT 1")).await.map(|_| ())
}

/// Drops a PostgreSQL schema and everything in it (tests clean up with this).
pub async fn drop_schema(db: &DatabaseConnection, schema: &str) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
    }
    Ok(())
}
