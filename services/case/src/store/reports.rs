//! Reports on cases "now": the open queue counted by status, priority, team
//! and owner, and how long open cases have waited. Both read open cases
//! only, from their partial index `cases_open` (migration
//! `m20261205_000006_open_cases_index`), and aggregate in the database: a
//! grown service's closed cases are never read.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::Store;
use crate::{
    domain::{CaseStatus, Priority, TeamId},
    error::{Error, Result},
    records::entities::team,
};

/// A stored value this code cannot read (a migration or a hand edit went wrong).
fn corrupt(message: impl Into<String>) -> Error {
    Error::Database(sea_orm::DbErr::Custom(message.into()))
}

/// The statuses of a case someone still has to work on.
pub const OPEN: [CaseStatus; 3] = [CaseStatus::New, CaseStatus::Assigned, CaseStatus::Pending];

/// Open cases of one status, priority, team and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCell {
    pub status: CaseStatus,
    pub priority: Priority,
    pub team: Option<(String, String)>,
    pub owner: Option<(String, String)>,
    pub count: i64,
}

/// The age buckets of the backlog report, in hours: [from, to), `None` open-ended.
pub const AGE_BUCKETS: [(&str, i64, Option<i64>); 6] = [
    ("under 1 day", 0, Some(24)),
    ("1–3 days", 24, Some(72)),
    ("3–7 days", 72, Some(168)),
    ("7–14 days", 168, Some(336)),
    ("14–30 days", 336, Some(720)),
    ("over 30 days", 720, None),
];

/// Open cases by age: one count per [`AGE_BUCKETS`] entry, and the oldest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aging {
    pub counts: Vec<i64>,
    pub oldest: Option<DateTime<Utc>>,
}

/// Which open cases a report counts.
#[derive(Debug, Clone, Default)]
pub struct ReportScope {
    pub team_id: Option<TeamId>,
    pub priorities: Vec<Priority>,
}

/// SQL text with its values, placeholders numbered for the backend.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Self { backend, text: String::new(), values: Vec::new() }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text.push_str(&docket_kit::db::placeholder(self.backend, self.values.len()));
        self
    }

    /// `WHERE` for the open cases of `scope`. The statuses are written into
    /// the SQL (they are this code's constants), so that the planner can
    /// prove the query within the partial index of open cases.
    fn open_cases(&mut self, scope: &ReportScope) -> &mut Self {
        let open: Vec<String> = OPEN.iter().map(|status| format!("'{}'", status.key())).collect();
        self.push(&format!(" WHERE status IN ({})", open.join(", ")));
        if let Some(team) = scope.team_id {
            self.push(" AND team_id = ").bind(team.to_string());
        }
        if !scope.priorities.is_empty() {
            self.push(" AND priority IN (");
            for (i, priority) in scope.priorities.iter().enumerate() {
                if i > 0 {
                    self.push(", ");
                }
                self.bind(priority.rank());
            }
            self.push(")");
        }
        self
    }

    fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

impl Store {
    /// Refuses a scope naming a team that does not exist (NOT_FOUND: the
    /// request is well-formed, the team is not there).
    async fn check_scope(&self, scope: &ReportScope) -> Result<()> {
        if let Some(team) = scope.team_id
            && !super::exists::<team::Entity>(&self.db, team::Column::Id, &team.to_string()).await?
        {
            return Err(Error::NotFound(format!("no team has the id {team}")));
        }
        Ok(())
    }

    /// Open cases grouped by status, priority, team and owner (with the
    /// team's and owner's names): the finest grain, which the report rolls up.
    pub async fn queue_cells(&self, scope: &ReportScope) -> Result<Vec<QueueCell>> {
        self.check_scope(scope).await?;
        let mut sql = Sql::new(self.db.get_database_backend());
        sql.push(
            "SELECT g.status, g.priority, g.team_id, t.name AS team_name, g.owner_id, s.name AS owner_name, g.n \
             FROM (SELECT status, priority, team_id, owner_id, COUNT(*) AS n FROM cases",
        )
        .open_cases(scope)
        .push(
            " GROUP BY status, priority, team_id, owner_id) g \
             LEFT JOIN teams t ON t.id = g.team_id LEFT JOIN staff_users s ON s.id = g.owner_id",
        );
        let rows = self.db.query_all_raw(sql.statement()).await?;
        let mut cells = Vec::with_capacity(rows.len());
        for row in rows {
            let status: String = row.try_get("", "status")?;
            let priority: i16 = row.try_get("", "priority")?;
            let named = |id: Option<String>, name: Option<String>| id.map(|id| (id, name.unwrap_or_default()));
            cells.push(QueueCell {
                status: CaseStatus::from_key(&status)
                    .ok_or_else(|| corrupt(format!("a case has the unknown status {status}")))?,
                priority: Priority::from_rank(priority)
                    .ok_or_else(|| corrupt(format!("a case has the unknown priority {priority}")))?,
                team: named(row.try_get("", "team_id")?, row.try_get("", "team_name")?),
                owner: named(row.try_get("", "owner_id")?, row.try_get("", "owner_name")?),
                count: row.try_get("", "n")?,
            });
        }
        Ok(cells)
    }

    /// Open cases of `scope` in each age bucket as of `now`, and the oldest.
    pub async fn backlog_aging(&self, scope: &ReportScope, now: DateTime<Utc>) -> Result<Aging> {
        self.check_scope(scope).await?;
        let mut sql = Sql::new(self.db.get_database_backend());
        // younger_k: open cases younger than the end of bucket k.
        sql.push("SELECT COUNT(*) AS n, MIN(created_at) AS oldest");
        for (k, (_, _, until)) in AGE_BUCKETS.iter().enumerate() {
            if let Some(hours) = until {
                sql.push(", COALESCE(SUM(CASE WHEN created_at > ")
                    .bind(now - Duration::hours(*hours))
                    .push(&format!(" THEN 1 ELSE 0 END), 0) AS younger_{k}"));
            }
        }
        sql.push(" FROM cases").open_cases(scope);
        let row = self.db.query_one_raw(sql.statement()).await?.ok_or_else(|| corrupt("the backlog count answered no row"))?;
        let open: i64 = row.try_get("", "n")?;
        let mut counts = Vec::with_capacity(AGE_BUCKETS.len());
        let mut younger_than_previous = 0;
        for (k, (_, _, until)) in AGE_BUCKETS.iter().enumerate() {
            let younger = match until {
                Some(_) => row.try_get::<i64>("", &format!("younger_{k}"))?,
                None => open,
            };
            counts.push(younger - younger_than_previous);
            younger_than_previous = younger;
        }
        let oldest = if open == 0 { None } else { row.try_get::<Option<DateTime<Utc>>>("", "oldest")? };
        Ok(Aging { counts, oldest })
    }
}
