//! The period reports' kept data (`report_days`, `report_day_buckets`,
//! migration `m20261205_000009_report_days`): written by the case service's
//! consumer of its own events, one upsert per dimension, and read by day
//! range, so a report reads a row per day and group, never every case.

use std::collections::HashMap;

use docket_kit::db::{placeholder, tuples};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, Value};

use super::Store;
use crate::{
    domain::period::{BUCKETS, Dimension, Period, bucket_of},
    error::Result,
};

/// What one event adds to its day, under each of its dimensions' keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub day: i32,
    /// Every dimension with the case's key in it.
    pub keys: Vec<(Dimension, String)>,
    pub created: i64,
    pub closed: i64,
    pub reopened: i64,
    pub assigned: i64,
    /// Seconds from creation to close.
    pub resolution: Option<i64>,
    /// Seconds from creation to the first staff reply.
    pub first_response: Option<i64>,
}

/// The shortest (`min`) or longest (`max`) of the kept and the added
/// duration, either of which may be missing (the same on PostgreSQL and
/// SQLite, whose two-argument MIN is NULL when either is).
fn extreme(column: &str, keep: &str) -> String {
    format!(
        "{column} = CASE WHEN excluded.{column} IS NULL THEN report_days.{column} \
         WHEN report_days.{column} IS NULL OR excluded.{column} {keep} report_days.{column} THEN excluded.{column} \
         ELSE report_days.{column} END"
    )
}

/// Adds an event's counts to its day, inside the consumer's transaction
/// (its inbox row commits with them, so a redelivered event counts once):
/// one statement for its day rows, one for its duration buckets.
pub async fn keep(txn: &DatabaseTransaction, counts: &DayCounts) -> Result<()> {
    let backend = txn.get_database_backend();
    let (resolved, resolution) = counts.resolution.map_or((0, 0), |s| (1, s));
    let (first_responses, first_response) = counts.first_response.map_or((0, 0), |s| (1, s));
    let mut days: Vec<Value> = Vec::with_capacity(counts.keys.len() * 15);
    let mut buckets: Vec<Value> = Vec::new();
    for (dimension, key) in &counts.keys {
        days.extend([
            dimension.key().into(),
            counts.day.into(),
            key.as_str().into(),
            counts.created.into(),
            counts.closed.into(),
            counts.reopened.into(),
            counts.assigned.into(),
            resolved.into(),
            resolution.into(),
            first_responses.into(),
            first_response.into(),
            counts.resolution.into(),
            counts.resolution.into(),
            counts.first_response.into(),
            counts.first_response.into(),
        ]);
        for (metric, seconds) in [("resolution", counts.resolution), ("first_response", counts.first_response)] {
            let Some(seconds) = seconds else { continue };
            buckets.extend([
                dimension.key().into(),
                counts.day.into(),
                key.as_str().into(),
                metric.into(),
                bucket_of(seconds).into(),
                1i64.into(),
            ]);
        }
    }
    if days.is_empty() {
        return Ok(());
    }
    // Each row has its own dimension (and metric), so no two rows of one
    // statement update the same kept row.
    let sql = format!(
        "INSERT INTO report_days (dimension, day, key, created, closed, reopened, assigned, resolved, resolution_seconds, \
         first_responses, first_response_seconds, resolution_min, resolution_max, first_response_min, first_response_max) \
         VALUES {} \
         ON CONFLICT (dimension, day, key) DO UPDATE SET created = report_days.created + excluded.created, \
         closed = report_days.closed + excluded.closed, reopened = report_days.reopened + excluded.reopened, \
         assigned = report_days.assigned + excluded.assigned, resolved = report_days.resolved + excluded.resolved, \
         resolution_seconds = report_days.resolution_seconds + excluded.resolution_seconds, \
         first_responses = report_days.first_responses + excluded.first_responses, \
         first_response_seconds = report_days.first_response_seconds + excluded.first_response_seconds, {}, {}, {}, {}",
        tuples(backend, days.len() / 15, 15, 0),
        extreme("resolution_min", "<"),
        extreme("resolution_max", ">"),
        extreme("first_response_min", "<"),
        extreme("first_response_max", ">"),
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, days)).await?;
    if !buckets.is_empty() {
        let sql = format!(
            "INSERT INTO report_day_buckets (dimension, day, key, metric, bucket, count) VALUES {} \
             ON CONFLICT (dimension, day, key, metric, bucket) DO UPDATE SET count = report_day_buckets.count + 1",
            tuples(backend, buckets.len() / 6, 6, 0)
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, buckets)).await?;
    }
    Ok(())
}

/// One day's counts of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayRow {
    pub day: i32,
    pub key: String,
    pub created: i64,
    pub closed: i64,
    pub reopened: i64,
    pub assigned: i64,
}

/// A key's durations over a period: counts, sums and histograms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durations {
    pub closed: i64,
    pub reopened: i64,
    pub resolved: i64,
    pub resolution_seconds: i64,
    pub first_responses: i64,
    pub first_response_seconds: i64,
    pub resolution_buckets: [i64; BUCKETS],
    pub first_response_buckets: [i64; BUCKETS],
    /// The shortest and longest, where the days kept them.
    pub resolution_range: Option<(i64, i64)>,
    pub first_response_range: Option<(i64, i64)>,
}

impl Default for Durations {
    fn default() -> Self {
        Self {
            closed: 0,
            reopened: 0,
            resolved: 0,
            resolution_seconds: 0,
            first_responses: 0,
            first_response_seconds: 0,
            resolution_buckets: [0; BUCKETS],
            first_response_buckets: [0; BUCKETS],
            resolution_range: None,
            first_response_range: None,
        }
    }
}

impl Store {
    /// How people read the keys of a dimension: type, team and owner
    /// names from their records, channel and priority labels.
    pub async fn key_names(&self, dimension: Dimension, keys: &[&str]) -> Result<HashMap<String, String>> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        use crate::{
            domain::{Channel, Priority},
            records::entities::{case_type, staff_user, team},
        };
        let ids = keys.iter().filter(|k| !k.is_empty()).map(|k| (*k).to_owned());
        let names: Vec<(String, String)> = match dimension {
            Dimension::All => Vec::new(),
            Dimension::Type => case_type::Entity::find()
                .filter(case_type::Column::Id.is_in(ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect(),
            Dimension::Team => team::Entity::find()
                .filter(team::Column::Id.is_in(ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect(),
            Dimension::Owner => staff_user::Entity::find()
                .filter(staff_user::Column::Id.is_in(ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect(),
            Dimension::Channel => {
                keys.iter().filter_map(|k| Channel::from_key(k).map(|c| ((*k).to_owned(), c.label().to_owned()))).collect()
            }
            Dimension::Priority => {
                keys.iter().filter_map(|k| Priority::from_key(k).map(|p| ((*k).to_owned(), p.label().to_owned()))).collect()
            }
        };
        Ok(names.into_iter().collect())
    }

    /// The kept counts of the period's days under one dimension.
    pub async fn day_counts(&self, period: Period, dimension: Dimension) -> Result<Vec<DayRow>> {
        let backend = self.db.get_database_backend();
        let sql = format!(
            "SELECT day, key, created, closed, reopened, assigned FROM report_days \
             WHERE dimension = {} AND day >= {} AND day < {} ORDER BY day, key",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3)
        );
        let values: Vec<Value> = vec![dimension.key().into(), period.start.into(), period.end.into()];
        let rows = self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        let mut days = Vec::with_capacity(rows.len());
        for row in rows {
            days.push(DayRow {
                day: row.try_get("", "day")?,
                key: row.try_get("", "key")?,
                created: row.try_get("", "created")?,
                closed: row.try_get("", "closed")?,
                reopened: row.try_get("", "reopened")?,
                assigned: row.try_get("", "assigned")?,
            });
        }
        Ok(days)
    }

    /// Each key's durations over the period under one dimension.
    pub async fn durations(&self, period: Period, dimension: Dimension) -> Result<HashMap<String, Durations>> {
        let backend = self.db.get_database_backend();
        let (p1, p2, p3) = (placeholder(backend, 1), placeholder(backend, 2), placeholder(backend, 3));
        let values = || -> Vec<Value> { vec![dimension.key().into(), period.start.into(), period.end.into()] };
        // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back.
        let sum = |column: &str| format!("CAST(SUM({column}) AS BIGINT) AS {column}");
        let sums = format!(
            "SELECT key, {}, {}, {}, {}, {}, {}, MIN(resolution_min) AS resolution_min, MAX(resolution_max) AS resolution_max, \
             MIN(first_response_min) AS first_response_min, MAX(first_response_max) AS first_response_max \
             FROM report_days WHERE dimension = {p1} AND day >= {p2} AND day < {p3} GROUP BY key",
            sum("closed"),
            sum("reopened"),
            sum("resolved"),
            sum("resolution_seconds"),
            sum("first_responses"),
            sum("first_response_seconds")
        );
        let mut by_key: HashMap<String, Durations> = HashMap::new();
        for row in self.db.query_all_raw(Statement::from_sql_and_values(backend, sums, values())).await? {
            let key: String = row.try_get("", "key")?;
            let entry = by_key.entry(key).or_default();
            entry.closed = row.try_get("", "closed")?;
            entry.reopened = row.try_get("", "reopened")?;
            entry.resolved = row.try_get("", "resolved")?;
            entry.resolution_seconds = row.try_get("", "resolution_seconds")?;
            entry.first_responses = row.try_get("", "first_responses")?;
            entry.first_response_seconds = row.try_get("", "first_response_seconds")?;
            let range = |min: &str, max: &str| -> Result<Option<(i64, i64)>> {
                let (min, max): (Option<i64>, Option<i64>) = (row.try_get("", min)?, row.try_get("", max)?);
                Ok(min.zip(max))
            };
            entry.resolution_range = range("resolution_min", "resolution_max")?;
            entry.first_response_range = range("first_response_min", "first_response_max")?;
        }
        let buckets = format!(
            "SELECT key, metric, bucket, CAST(SUM(count) AS BIGINT) AS count FROM report_day_buckets \
             WHERE dimension = {p1} AND day >= {p2} AND day < {p3} GROUP BY key, metric, bucket"
        );
        for row in self.db.query_all_raw(Statement::from_sql_and_values(backend, buckets, values())).await? {
            let key: String = row.try_get("", "key")?;
            let metric: String = row.try_get("", "metric")?;
            let bucket: i16 = row.try_get("", "bucket")?;
            let count: i64 = row.try_get("", "count")?;
            let entry = by_key.entry(key).or_default();
            let histogram =
                if metric == "resolution" { &mut entry.resolution_buckets } else { &mut entry.first_response_buckets };
            if let Some(slot) = histogram.get_mut(bucket as usize) {
                *slot += count;
            }
        }
        Ok(by_key)
    }
}

/// Keeps what the repeat-case report reads of a new case (once: a
/// redelivered `case.created` finds its row): when it was made, and its
/// gap to the case before it of the same account and of the same asset.
/// Events may come out of order, so the case after it (if one was kept
/// already) now measures its gap to this one. Three statements: the locks,
/// the neighbours of both, the row (and rarely the fix-up of a later one).
pub async fn keep_case(
    txn: &DatabaseTransaction,
    case_id: &str,
    created_epoch: i64,
    account_id: &str,
    asset: &str,
) -> Result<()> {
    let backend = txn.get_database_backend();
    let p = |n| placeholder(backend, n);
    let asset = asset.trim();
    // (the column, its gap's column, this case's value), for each it has.
    let neighbours: Vec<(&str, &str, &str)> = [("account_id", "account_gap", account_id), ("asset", "asset_gap", asset)]
        .into_iter()
        .filter(|(_, _, key)| !key.is_empty())
        .collect();
    if neighbours.is_empty() {
        return insert_case_row(txn, case_id, created_epoch, account_id, asset, [None, None]).await.map(|_| ());
    }
    if backend == sea_orm::DbBackend::Postgres {
        // Two replicas keeping cases of one account at once would each miss
        // the other's row; SQLite has one writer. Accounts before assets,
        // one of each, so two events never wait on each other in a circle.
        // (Its own statement: a statement reads what was committed when it
        // began, so the lookup below must begin after the locks are held.)
        let locks: Vec<String> =
            (1..=neighbours.len()).map(|n| format!("pg_advisory_xact_lock(hashtextextended({}, 0))", p(n))).collect();
        let values: Vec<Value> =
            neighbours.iter().map(|(column, _, key)| format!("report_cases.{column}:{key}").into()).collect();
        txn.execute_raw(Statement::from_sql_and_values(backend, format!("SELECT {}", locks.join(", ")), values)).await?;
    }
    // Per neighbour: the latest case before this one (made earlier, or in
    // the same second with a smaller id), and the earliest after it.
    let mut lookups = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    for (i, (column, _, key)) in neighbours.iter().enumerate() {
        let n = i * 8;
        lookups.push(format!(
            "(SELECT MAX(created_epoch) FROM report_cases WHERE {column} = {} \
               AND (created_epoch < {} OR (created_epoch = {} AND case_id < {}))) AS before_{i}, \
             (SELECT case_id FROM report_cases WHERE {column} = {} \
               AND (created_epoch > {} OR (created_epoch = {} AND case_id > {})) ORDER BY created_epoch, case_id LIMIT 1) AS after_{i}",
            p(n + 1),
            p(n + 2),
            p(n + 3),
            p(n + 4),
            p(n + 5),
            p(n + 6),
            p(n + 7),
            p(n + 8)
        ));
        for _ in 0..2 {
            values.extend([(*key).into(), created_epoch.into(), created_epoch.into(), case_id.into()]);
        }
    }
    let found = txn
        .query_one_raw(Statement::from_sql_and_values(backend, format!("SELECT {}", lookups.join(", ")), values))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("the neighbour lookup answered nothing".to_owned()))?;
    let mut gaps: [Option<i64>; 2] = [None, None];
    let mut later: Vec<(&str, String)> = Vec::new();
    for (i, (_, gap, _)) in neighbours.iter().enumerate() {
        let before: Option<i64> = found.try_get("", &format!("before_{i}"))?;
        let slot = if *gap == "account_gap" { 0 } else { 1 };
        gaps[slot] = before.map(|before| created_epoch - before);
        if let Some(after) = found.try_get::<Option<String>>("", &format!("after_{i}"))? {
            later.push((gap, after));
        }
    }
    if !insert_case_row(txn, case_id, created_epoch, account_id, asset, gaps).await? {
        return Ok(());
    }
    // Came out of order: the case after this one now measures its gap to it.
    for (gap, after) in later {
        let sql = format!("UPDATE report_cases SET {gap} = created_epoch - {} WHERE case_id = {}", p(1), p(2));
        let values: Vec<Value> = vec![created_epoch.into(), after.into()];
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    Ok(())
}

/// Inserts a case's row unless it is kept already; whether it inserted.
async fn insert_case_row(
    txn: &DatabaseTransaction,
    case_id: &str,
    created_epoch: i64,
    account_id: &str,
    asset: &str,
    [account_gap, asset_gap]: [Option<i64>; 2],
) -> Result<bool> {
    let backend = txn.get_database_backend();
    let sql = format!(
        "INSERT INTO report_cases (case_id, created_epoch, account_id, asset, account_gap, asset_gap) \
         VALUES {} ON CONFLICT (case_id) DO NOTHING",
        tuples(backend, 1, 6, 0)
    );
    let values: Vec<Value> =
        vec![case_id.into(), created_epoch.into(), account_id.into(), asset.into(), account_gap.into(), asset_gap.into()];
    Ok(txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected() > 0)
}

/// One account's (or asset's) cases of a period, and how many were repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatCount {
    pub key: String,
    pub cases: i64,
    pub repeats: i64,
}

impl Store {
    /// Every account's (`by_asset`: asset serial number's) cases created in
    /// the period, and how many came within `within_days` after the case
    /// before them of the same one: one scan of the period's kept rows.
    pub async fn repeat_counts(&self, period: Period, within_days: i32, by_asset: bool) -> Result<Vec<RepeatCount>> {
        let backend = self.db.get_database_backend();
        let (column, gap) = if by_asset { ("asset", "asset_gap") } else { ("account_id", "account_gap") };
        let only_assets = if by_asset { "AND asset <> ''" } else { "" };
        let sql = format!(
            "SELECT {column} AS key, COUNT(*) AS cases, \
             CAST(SUM(CASE WHEN {gap} <= {window} THEN 1 ELSE 0 END) AS BIGINT) AS repeats \
             FROM report_cases WHERE created_epoch >= {start} AND created_epoch < {end} {only_assets} GROUP BY {column}",
            window = placeholder(backend, 1),
            start = placeholder(backend, 2),
            end = placeholder(backend, 3),
        );
        let values: Vec<Value> = vec![
            (i64::from(within_days) * 86_400).into(),
            (i64::from(period.start) * 86_400).into(),
            (i64::from(period.end) * 86_400).into(),
        ];
        let rows = self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in rows {
            counts.push(RepeatCount {
                key: row.try_get("", "key")?,
                cases: row.try_get("", "cases")?,
                repeats: row.try_get("", "repeats")?,
            });
        }
        Ok(counts)
    }

    /// Account names by id.
    pub async fn account_names(&self, ids: &[&str]) -> Result<HashMap<String, String>> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        use crate::records::entities::account;
        Ok(account::Entity::find()
            .filter(account::Column::Id.is_in(ids.iter().map(|id| (*id).to_owned())))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect())
    }
}
