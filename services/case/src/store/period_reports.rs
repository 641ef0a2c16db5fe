//! The period reports' kept data (`report_days`, `report_day_buckets`,
//! `report_cases`; migrations `m20261205_000009` to `000013`): the case
//! service's consumer of its own events only inserts (`keep`, `keep_case`),
//! and `Store::settle_reports` folds and measures what it inserted, so no
//! event waits for another; a report reads a row per day and group (or one
//! narrow row per case of the period), never every case.

use std::collections::HashMap;

use docket_kit::db::{NewRows, placeholder};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait, Value};

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

/// What an event adds to its day, written with the consumer's inbox row
/// (so a redelivered event counts once): a row per dimension for
/// `report_day_deltas`, which
/// [`Store::settle_reports`] folds into the day rows. An insert waits for
/// no other event; adding to the day rows themselves made every event of
/// a day wait for the one before it to commit (they share the `all` row).
pub fn day_rows(counts: &DayCounts) -> NewRows {
    let mut rows = NewRows::new(
        "INSERT INTO report_day_deltas (dimension, day, key, created, closed, reopened, assigned, resolution, \
         first_response, resolution_bucket, first_response_bucket)",
        11,
        "",
    );
    for (dimension, key) in &counts.keys {
        rows.push([
            dimension.key().into(),
            counts.day.into(),
            key.as_str().into(),
            counts.created.into(),
            counts.closed.into(),
            counts.reopened.into(),
            counts.assigned.into(),
            counts.resolution.into(),
            counts.first_response.into(),
            counts.resolution.map(bucket_of).into(),
            counts.first_response.map(bucket_of).into(),
        ]);
    }
    rows
}

/// Kept rows folded per statement (each batch its own transaction, so a
/// report waits at most for one batch).
const FOLD_BATCH: u64 = 20_000;

/// Adds the deltas of `deltas` (a table or subquery with their columns)
/// to the day rows and their duration buckets: one statement each.
fn fold_into_days(deltas: &str) -> [String; 2] {
    let days = format!(
        "INSERT INTO report_days (dimension, day, key, created, closed, reopened, assigned, resolved, resolution_seconds, \
         first_responses, first_response_seconds, resolution_min, resolution_max, first_response_min, first_response_max) \
         SELECT dimension, day, key, SUM(created), SUM(closed), SUM(reopened), SUM(assigned), \
           COUNT(resolution), COALESCE(SUM(resolution), 0), COUNT(first_response), COALESCE(SUM(first_response), 0), \
           MIN(resolution), MAX(resolution), MIN(first_response), MAX(first_response) \
         FROM {deltas} AS d WHERE TRUE GROUP BY dimension, day, key \
         ON CONFLICT (dimension, day, key) DO UPDATE SET created = report_days.created + excluded.created, \
         closed = report_days.closed + excluded.closed, reopened = report_days.reopened + excluded.reopened, \
         assigned = report_days.assigned + excluded.assigned, resolved = report_days.resolved + excluded.resolved, \
         resolution_seconds = report_days.resolution_seconds + excluded.resolution_seconds, \
         first_responses = report_days.first_responses + excluded.first_responses, \
         first_response_seconds = report_days.first_response_seconds + excluded.first_response_seconds, {}, {}, {}, {}",
        extreme("resolution_min", "<"),
        extreme("resolution_max", ">"),
        extreme("first_response_min", "<"),
        extreme("first_response_max", ">"),
    );
    let buckets = format!(
        "INSERT INTO report_day_buckets (dimension, day, key, metric, bucket, count) \
         SELECT dimension, day, key, metric, bucket, COUNT(*) FROM (\
           SELECT dimension, day, key, 'resolution' AS metric, resolution_bucket AS bucket FROM {deltas} AS d \
             WHERE resolution_bucket IS NOT NULL \
           UNION ALL SELECT dimension, day, key, 'first_response', first_response_bucket FROM {deltas} AS d \
             WHERE first_response_bucket IS NOT NULL) AS b WHERE TRUE \
         GROUP BY dimension, day, key, metric, bucket \
         ON CONFLICT (dimension, day, key, metric, bucket) DO UPDATE SET count = report_day_buckets.count + excluded.count"
    );
    [days, buckets]
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
        self.settle_reports().await?;
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
        self.settle_reports().await?;
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
/// redelivered `case.created` finds its row): when it was made, its
/// account and asset. Its gaps to the cases before it are measured later,
/// by [`Store::settle_reports`], so that keeping a case takes no lock:
/// one row, written with the consumer's inbox row.
pub fn case_row(case_id: &str, created_epoch: i64, account_id: &str, asset: &str) -> NewRows {
    let asset = asset.trim();
    let pending = !(account_id.is_empty() && asset.is_empty());
    let mut row = NewRows::new(
        "INSERT INTO report_cases (case_id, created_epoch, account_id, asset, gaps_pending)",
        5,
        "ON CONFLICT (case_id) DO NOTHING",
    );
    row.push([case_id.into(), created_epoch.into(), account_id.into(), asset.into(), pending.into()]);
    row
}

/// One account's (or asset's) cases of a period, and how many were repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatCount {
    pub key: String,
    pub cases: i64,
    pub repeats: i64,
}

/// Pending rows measured per statement (each in its own transaction, so a
/// report waits at most for one batch).
const GAP_BATCH: u64 = 2_000;

/// A kept case's gap to the case before it (made earlier, or in the same
/// second with a smaller id) of the same `column`; none without a value.
/// (Compared as a row, so the index of (`column`, created_epoch, case_id)
/// starts at the case: one probe, not a read of every case of a busy
/// account's second.)
fn gap_to_the_one_before(column: &str) -> String {
    format!(
        "CASE WHEN {column} = '' THEN NULL ELSE created_epoch - (SELECT MAX(b.created_epoch) FROM report_cases b \
           WHERE b.{column} = report_cases.{column} \
             AND (b.created_epoch, b.case_id) < (report_cases.created_epoch, report_cases.case_id)) END"
    )
}

/// The case after each pending row of the same `column`: it measured its
/// gap before the pending row was there (events may come out of order).
fn the_one_after(column: &str) -> String {
    format!(
        "SELECT (SELECT n.case_id FROM report_cases n WHERE n.{column} = p.{column} \
           AND (n.created_epoch, n.case_id) > (p.created_epoch, p.case_id) \
           ORDER BY n.created_epoch, n.case_id LIMIT 1) FROM pending p WHERE p.{column} <> ''"
    )
}

/// Opens a transaction that holds `lock` (see [`docket_kit::db::lock_until_commit`]).
async fn begin_locked(db: &sea_orm::DatabaseConnection, lock: &str) -> Result<DatabaseTransaction> {
    let txn = db.begin().await?;
    docket_kit::db::lock_until_commit(&txn, &format!("docket.{lock}")).await?;
    Ok(txn)
}

impl Store {
    /// Brings what the period reports read up to every event the consumer
    /// kept: folds the day deltas, measures the pending repeat gaps. The
    /// case service's sweeper calls it, and each report before it reads
    /// (one cheap look when there is nothing to do).
    pub async fn settle_reports(&self) -> Result<()> {
        let backend = self.db.get_database_backend();
        // Each by an index (a scan would step over every row a fold or a
        // sweep left dead until the next vacuum; an index scan marks them).
        let look = "SELECT (SELECT id FROM report_day_deltas ORDER BY id LIMIT 1) AS delta, \
                    (SELECT case_id FROM report_cases WHERE gaps_pending LIMIT 1) AS gap";
        let found = self
            .db
            .query_one_raw(Statement::from_string(backend, look))
            .await?
            .ok_or_else(|| sea_orm::DbErr::Custom("the look for kept rows answered nothing".to_owned()))?;
        if found.try_get::<Option<i64>>("", "delta")?.is_some() {
            self.fold_day_deltas().await?;
        }
        if found.try_get::<Option<String>>("", "gap")?.is_some() {
            self.measure_repeat_gaps().await?;
        }
        Ok(())
    }

    /// Folds the kept day deltas into the day rows, oldest first, a batch
    /// per transaction under one lock; how many it folded. On PostgreSQL
    /// the batch is deleted and folded by one statement, so a delta
    /// committed meanwhile is neither folded nor deleted (it waits for the
    /// next fold); SQLite has one writer, and three statements do.
    pub async fn fold_day_deltas(&self) -> Result<u64> {
        let backend = self.db.get_database_backend();
        let mut folded = 0;
        loop {
            let txn = begin_locked(&self.db, "report_day_deltas").await?;
            let batch = if backend == sea_orm::DbBackend::Postgres {
                let [days, buckets] = fold_into_days("moved");
                let sql = format!(
                    "WITH moved AS (DELETE FROM report_day_deltas WHERE id IN \
                       (SELECT id FROM report_day_deltas ORDER BY id LIMIT {FOLD_BATCH}) RETURNING *), \
                     days AS ({days} RETURNING 1), buckets AS ({buckets} RETURNING 1) \
                     SELECT COUNT(*) AS n FROM moved"
                );
                let row = txn.query_one_raw(Statement::from_string(backend, sql)).await?;
                row.map(|row| row.try_get::<i64>("", "n")).transpose()?.unwrap_or_default() as u64
            } else {
                let upto =
                    format!("SELECT MAX(id) AS upto FROM (SELECT id FROM report_day_deltas ORDER BY id LIMIT {FOLD_BATCH})");
                let upto = txn
                    .query_one_raw(Statement::from_string(backend, upto))
                    .await?
                    .map(|row| row.try_get::<Option<i64>>("", "upto"))
                    .transpose()?
                    .flatten();
                match upto {
                    None => 0,
                    Some(upto) => {
                        let batch = format!("(SELECT * FROM report_day_deltas WHERE id <= {upto})");
                        for sql in fold_into_days(&batch) {
                            txn.execute_unprepared(&sql).await?;
                        }
                        txn.execute_unprepared(&format!("DELETE FROM report_day_deltas WHERE id <= {upto}"))
                            .await?
                            .rows_affected()
                    }
                }
            };
            txn.commit().await?;
            folded += batch;
            // Fewer than a batch: none was left behind.
            if batch < FOLD_BATCH {
                return Ok(folded);
            }
        }
    }

    /// Measures the gaps of every row kept since the last sweep, and of the
    /// row after each of them, to the case before it of its account and of
    /// its asset; how many rows it measured. One batch at a time under one
    /// lock: a row committed while a batch runs is still pending
    /// afterwards, and measuring it re-measures the one after it, so every
    /// gap ends up right whatever order rows commit in.
    pub async fn measure_repeat_gaps(&self) -> Result<u64> {
        let sql = format!(
            "WITH pending AS (SELECT case_id, created_epoch, account_id, asset FROM report_cases WHERE gaps_pending LIMIT {GAP_BATCH}), \
             touched AS (SELECT case_id FROM pending UNION {after_account} UNION {after_asset}) \
             UPDATE report_cases SET account_gap = {account_gap}, asset_gap = {asset_gap}, gaps_pending = FALSE \
             WHERE case_id IN (SELECT case_id FROM touched)",
            after_account = the_one_after("account_id"),
            after_asset = the_one_after("asset"),
            account_gap = gap_to_the_one_before("account_id"),
            asset_gap = gap_to_the_one_before("asset"),
        );
        let mut measured = 0;
        loop {
            let txn = begin_locked(&self.db, "report_cases.gaps").await?;
            let batch = txn.execute_unprepared(&sql).await?.rows_affected();
            txn.commit().await?;
            measured += batch;
            // Fewer than a batch: no pending row was left behind.
            if batch < GAP_BATCH {
                return Ok(measured);
            }
        }
    }

    /// Every account's (`by_asset`: asset serial number's) cases created in
    /// the period, and how many came within `within_days` after the case
    /// before them of the same one: one scan of the period's kept rows.
    /// Only measured rows count: a case kept after the settle below would
    /// count as a case but not yet as a repeat (the next read has both).
    pub async fn repeat_counts(&self, period: Period, within_days: i32, by_asset: bool) -> Result<Vec<RepeatCount>> {
        self.settle_reports().await?;
        let backend = self.db.get_database_backend();
        let (column, gap) = if by_asset { ("asset", "asset_gap") } else { ("account_id", "account_gap") };
        let only_assets = if by_asset { "AND asset <> ''" } else { "" };
        let sql = format!(
            "SELECT {column} AS key, COUNT(*) AS cases, \
             CAST(SUM(CASE WHEN {gap} <= {window} THEN 1 ELSE 0 END) AS BIGINT) AS repeats \
             FROM report_cases WHERE created_epoch >= {start} AND created_epoch < {end} AND NOT gaps_pending {only_assets} \
             GROUP BY {column}",
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
