//! Database connections. One code path for both backends: PostgreSQL with a
//! schema per service, or SQLite with a file per service.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, Value};

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

/// The most bind parameters a statement here is given: PostgreSQL's
/// protocol takes 65,535, SQLite (as sqlx bundles it) 32,766. Rows beyond
/// it are inserted by more statements.
pub const MAX_PARAMETERS: usize = 32_000;

/// How many bind parameters inserting all of `all` takes.
pub fn parameters(all: &[NewRows]) -> usize {
    all.iter().map(|rows| rows.values.len()).sum()
}

/// Rows to insert into one table, kept apart from their statement so that
/// rows for the same table can be inserted together (see [`NewRows::absorb`])
/// or folded into a bigger statement (the event consumer writes a handler's
/// rows with its inbox row in one statement).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRows {
    /// `INSERT INTO table (column, …)`.
    pub into: &'static str,
    pub columns: usize,
    /// Every row's values, one row after another.
    pub values: Vec<Value>,
    /// What follows the rows: an `ON CONFLICT` clause, or nothing.
    pub tail: &'static str,
}

impl NewRows {
    pub fn new(into: &'static str, columns: usize, tail: &'static str) -> Self {
        Self { into, columns, values: Vec::new(), tail }
    }

    /// Adds a row (`row` holds `columns` values).
    pub fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.columns, "a row of {}", self.into);
    }

    pub fn rows(&self) -> usize {
        self.values.len() / self.columns.max(1)
    }

    /// Takes `other`'s rows when they go to the same table the same way;
    /// gives `other` back otherwise.
    pub fn absorb(&mut self, other: NewRows) -> Result<(), NewRows> {
        if self.into == other.into && self.columns == other.columns && self.tail == other.tail {
            self.values.extend(other.values);
            Ok(())
        } else {
            Err(other)
        }
    }

    /// The plain `INSERT … VALUES … tail`.
    pub fn statement(self, backend: DbBackend) -> Statement {
        let sql = format!("{} VALUES {} {}", self.into, tuples(backend, self.rows(), self.columns, 0), self.tail);
        Statement::from_sql_and_values(backend, sql.trim_end(), self.values)
    }

    /// The same insert as part of a bigger statement whose first `before`
    /// parameters are taken, inserting only `when` (a condition) holds:
    /// `INSERT … SELECT * FROM (VALUES …) AS rows WHERE when tail`
    /// (PostgreSQL). Its values are to be appended to the statement's.
    pub fn select_when(&self, backend: DbBackend, before: usize, when: &str) -> String {
        format!(
            "{} SELECT * FROM (VALUES {}) AS rows WHERE {when} {}",
            self.into,
            tuples(backend, self.rows(), self.columns, before),
            self.tail
        )
    }

    /// Inserts them: one statement, or one per [`MAX_PARAMETERS`] values.
    pub async fn insert(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let per_statement = (MAX_PARAMETERS / self.columns.max(1)).max(1) * self.columns.max(1);
        if self.values.len() <= per_statement {
            if !self.values.is_empty() {
                db.execute_raw(self.statement(backend)).await?;
            }
            return Ok(());
        }
        for part in self.values.chunks(per_statement) {
            let part = NewRows { values: part.to_vec(), ..NewRows::new(self.into, self.columns, self.tail) };
            db.execute_raw(part.statement(backend)).await?;
        }
        Ok(())
    }
}

/// Inserts all of `all` at once: on PostgreSQL in one statement (atomic
/// without a transaction), elsewhere (or when they take more than
/// [`MAX_PARAMETERS`]) in one transaction.
pub async fn insert_at_once(db: &DatabaseConnection, all: Vec<NewRows>) -> Result<(), DbErr> {
    use sea_orm::TransactionTrait;

    let backend = db.get_database_backend();
    if parameters(&all) == 0 {
        return Ok(());
    }
    if fits_one_statement(backend, &[], &all) {
        return db.execute_raw(one_statement(backend, Vec::new(), all)).await.map(|_| ());
    }
    let txn = db.begin().await?;
    insert_all(&txn, None, all).await?;
    txn.commit().await
}

/// Runs `firsts` (plain inserts) and inserts all of `all` in `txn`: in one
/// round trip on PostgreSQL (a `WITH` of inserts; foreign keys between
/// them are checked at the statement's end), else one statement after
/// another.
pub async fn insert_all(
    txn: &impl ConnectionTrait,
    firsts: impl IntoIterator<Item = Statement>,
    all: Vec<NewRows>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let firsts: Vec<Statement> = firsts.into_iter().collect();
    if firsts.is_empty() && parameters(&all) == 0 {
        return Ok(());
    }
    if fits_one_statement(backend, &firsts, &all) {
        return txn.execute_raw(one_statement(backend, firsts, all)).await.map(|_| ());
    }
    for first in firsts {
        txn.execute_raw(first).await?;
    }
    for rows in all {
        rows.insert(txn).await?;
    }
    Ok(())
}

fn fits_one_statement(backend: DbBackend, firsts: &[Statement], all: &[NewRows]) -> bool {
    let firsts: usize = firsts.iter().filter_map(|first| first.values.as_ref()).map(|values| values.0.len()).sum();
    backend == DbBackend::Postgres && firsts + parameters(all) <= MAX_PARAMETERS
}

/// `firsts` and `all` as one PostgreSQL statement (see [`fits_one_statement`]).
fn one_statement(backend: DbBackend, firsts: Vec<Statement>, all: Vec<NewRows>) -> Statement {
    let mut inserts = Vec::with_capacity(all.len() + firsts.len());
    let mut values: Vec<Value> = Vec::new();
    for first in firsts {
        inserts.push(shift_placeholders(&first.sql, values.len()));
        values.extend(first.values.map(|values| values.0).unwrap_or_default());
    }
    for rows in all.into_iter().filter(|rows| !rows.values.is_empty()) {
        inserts.push(format!("{} VALUES {} {}", rows.into, tuples(backend, rows.rows(), rows.columns, values.len()), rows.tail));
        values.extend(rows.values);
    }
    let last = inserts.pop().unwrap_or_else(|| "SELECT 1".to_owned());
    let ahead: Vec<String> = inserts.into_iter().enumerate().map(|(n, insert)| format!("rows_{n} AS ({insert})")).collect();
    let sql = if ahead.is_empty() { last } else { format!("WITH {} {last}", ahead.join(", ")) };
    Statement::from_sql_and_values(backend, sql, values)
}

/// PostgreSQL `sql` with each bind parameter `$n` made `$(n + by)`: a
/// statement of its own folded into a bigger one after `by` parameters.
/// Quoted text and names are left alone.
fn shift_placeholders(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_owned();
    }
    let mut shifted = String::with_capacity(sql.len() + 16);
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        shifted.push(c);
        match quote {
            // A doubled quote inside closes and opens again: the same.
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' => {
                let mut digits = String::new();
                while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                    digits.push(digit);
                }
                match digits.parse::<usize>() {
                    Ok(n) => shifted.push_str(&(n + by).to_string()),
                    Err(_) => shifted.push_str(&digits),
                }
            }
            None => {}
        }
    }
    shifted
}

/// Puts rows for the same table together (in the order they came), so each
/// table takes one statement.
pub fn merge_rows(all: impl IntoIterator<Item = NewRows>) -> Vec<NewRows> {
    let mut merged: Vec<NewRows> = Vec::new();
    'rows: for mut rows in all {
        for kept in &mut merged {
            match kept.absorb(rows) {
                Ok(()) => continue 'rows,
                Err(back) => rows = back,
            }
        }
        merged.push(rows);
    }
    merged
}

/// Takes the advisory lock `key` until the transaction `txn` ends
/// (PostgreSQL; SQLite has one writer). The lock is this schema's:
/// deployments sharing a database in schemas of their own (tests, benches)
/// never wait on each other's. Its own statement, so that what follows reads
/// what the lock's holder before committed.
pub async fn lock_until_commit(txn: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || '.' || current_schema(), 0))",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
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

/// One pooled PostgreSQL connection held for a few statements that need no
/// transaction: each commits alone, and none pays a checkout of its own
/// (and a second checkout while one is held could wait on a busy pool).
pub struct Held(tokio::sync::Mutex<sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Postgres>>);

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

impl Held {
    /// A connection of `db`'s pool; `None` on SQLite (one writer: its
    /// transactions cost no round trip).
    pub async fn take(db: &DatabaseConnection) -> Result<Option<Self>, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let conn = db.get_postgres_connection_pool().acquire().await.map_err(|err| match err {
            sea_orm::sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
            sea_orm::sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed),
            err => DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err.into())),
        })?;
        Ok(Some(Self(tokio::sync::Mutex::new(conn))))
    }

    fn query(stmt: &Statement) -> sea_orm::sqlx::query::Query<'_, sea_orm::sqlx::Postgres, sea_query_sqlx::SqlxValues> {
        let values = stmt.values.clone().unwrap_or(sea_orm::sea_query::Values(Vec::new()));
        sea_orm::sqlx::query_with(sea_orm::sqlx::AssertSqlSafe(stmt.sql.as_str()), sea_query_sqlx::SqlxValues(values))
    }
}

fn query_err(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(sea_orm::RuntimeErr::SqlxError(err.into()))
}

#[async_trait::async_trait]
impl ConnectionTrait for Held {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        let mut conn = self.0.lock().await;
        Self::query(&stmt)
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(|err| DbErr::Exec(sea_orm::RuntimeErr::SqlxError(err.into())))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        use sea_orm::sqlx::Executor as _;
        let mut conn = self.0.lock().await;
        let sql = sea_orm::sqlx::AssertSqlSafe(sql.to_owned());
        (&mut **conn).execute(sql).await.map(Into::into).map_err(|err| DbErr::Exec(sea_orm::RuntimeErr::SqlxError(err.into())))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        let mut conn = self.0.lock().await;
        Self::query(&stmt).fetch_optional(&mut **conn).await.map(|row| row.map(Into::into)).map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        let mut conn = self.0.lock().await;
        Self::query(&stmt).fetch_all(&mut **conn).await.map(|rows| rows.into_iter().map(Into::into).collect()).map_err(query_err)
    }
}

#[cfg(test)]
mod tests {
    use super::shift_placeholders;

    #[test]
    fn a_folded_statement_numbers_its_parameters_after_the_others() {
        let insert = r#"INSERT INTO "contacts" ("id", "email") VALUES ($1, $2)"#;
        assert_eq!(shift_placeholders(insert, 9), r#"INSERT INTO "contacts" ("id", "email") VALUES ($10, $11)"#);
        assert_eq!(
            shift_placeholders(r#"SELECT '$1', 'it''s $2', "a$1", $12, $"#, 10),
            r#"SELECT '$1', 'it''s $2', "a$1", $22, $"#
        );
        assert_eq!(shift_placeholders("SELECT $1", 0), "SELECT $1");
    }
}
