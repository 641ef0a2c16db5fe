//! Fills the period reports' kept data from the records, once: the first
//! time a version that keeps them starts on a database that already has
//! cases (an upgrade), the days before it come from the cases and their
//! audit trail, as the consumer of the case events would have counted them.
//!
//! It runs before the service's consumer starts, in one transaction that
//! reads one snapshot (REPEATABLE READ on PostgreSQL; SQLite's one writer
//! gives the same). Events of changes in that snapshot may still be on
//! their way to the consumer (unsent in the outbox, or queued): the
//! transaction records each case event in the outbox as handled in the
//! consumer's inbox, so none is counted twice.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use docket_kit::{
    audit,
    db::{placeholder, tuples},
    error::is_unique_violation,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IsolationLevel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
};

use super::{Store, period_reports::DayCounts};
use crate::{
    domain::{
        CaseStatus, Priority,
        period::{Dimension, bucket_of, day_of},
    },
    error::Result,
    own_events::BINDINGS,
    records::entities::case,
};

/// The consumer's inbox row that says the kept data was filled from the
/// records: the inbox is the record of what that consumer has counted.
pub const FILLED: &str = "report-data-filled-from-records";

/// Cases read per page.
const PAGE: u64 = 1_000;

/// The fields of a case's trail its counts follow.
const FOLLOWED: [&str; 3] = ["status", "owner_id", "team_id"];

/// What a fill counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfilled {
    pub cases: u64,
    /// Case events still on their way, recorded as handled.
    pub events_on_their_way: u64,
}

/// A day's sums of one key, as `report_days` keeps them.
#[derive(Debug, Default)]
struct DayTally {
    created: i64,
    closed: i64,
    reopened: i64,
    assigned: i64,
    resolved: i64,
    resolution_seconds: i64,
    first_responses: i64,
    first_response_seconds: i64,
    resolution_range: Option<(i64, i64)>,
    first_response_range: Option<(i64, i64)>,
}

fn widen(range: &mut Option<(i64, i64)>, seconds: i64) {
    *range = Some(range.map_or((seconds, seconds), |(min, max)| (min.min(seconds), max.max(seconds))));
}

/// Everything the fill has counted so far, by (dimension, day, key).
#[derive(Default)]
struct Tally {
    days: HashMap<(Dimension, i32, String), DayTally>,
    buckets: HashMap<(Dimension, i32, String, &'static str, i16), i64>,
}

impl Tally {
    fn add(&mut self, counts: &DayCounts) {
        for (dimension, key) in &counts.keys {
            let day = self.days.entry((*dimension, counts.day, key.clone())).or_default();
            day.created += counts.created;
            day.closed += counts.closed;
            day.reopened += counts.reopened;
            day.assigned += counts.assigned;
            if let Some(seconds) = counts.resolution {
                day.resolved += 1;
                day.resolution_seconds += seconds;
                widen(&mut day.resolution_range, seconds);
            }
            if let Some(seconds) = counts.first_response {
                day.first_responses += 1;
                day.first_response_seconds += seconds;
                widen(&mut day.first_response_range, seconds);
            }
            for (metric, seconds) in [("resolution", counts.resolution), ("first_response", counts.first_response)] {
                if let Some(seconds) = seconds {
                    *self.buckets.entry((*dimension, counts.day, key.clone(), metric, bucket_of(seconds))).or_default() += 1;
                }
            }
        }
    }
}

/// Where a case stood at a moment of its history: what its keys are then.
struct Standing<'a> {
    case: &'a case::Model,
    owner: String,
    team: String,
}

impl Standing<'_> {
    fn keys(&self) -> Vec<(Dimension, String)> {
        let case = self.case;
        vec![
            (Dimension::All, String::new()),
            (Dimension::Type, case.type_id.clone()),
            (Dimension::Channel, case.channel.clone()),
            (Dimension::Team, self.team.clone()),
            (Dimension::Priority, Priority::from_rank(case.priority).map(|p| p.key().to_owned()).unwrap_or_default()),
            (Dimension::Owner, self.owner.clone()),
        ]
    }
}

fn is_closed(status: &str) -> bool {
    CaseStatus::from_key(status).is_some_and(CaseStatus::is_closed)
}

/// The counts a case's events added, worked out from its trail (oldest
/// first): made, assigned (each change to a new owner), closed, reopened,
/// first response. Owner and team are followed through the trail; type,
/// channel and priority are taken as they are now.
fn history(case: &case::Model, trail: &[audit::entity::Model]) -> Vec<DayCounts> {
    let mut standing = Standing { case, owner: String::new(), team: String::new() };
    let mut counts = Vec::new();
    let since_created = |at: DateTime<Utc>| (at - case.created_at).num_seconds().max(0);
    let mut first_response = case.first_response_at;
    let mut made = false;
    // The rows of one change share its time; where the case went counts
    // before what happened to it (a reopened case is counted under its new owner).
    for change in trail.chunk_by(|a, b| a.at == b.at) {
        let at = change[0].at;
        if let Some(answered) = first_response.filter(|answered| *answered < at) {
            counts.push(DayCounts {
                day: day_of(answered),
                keys: standing.keys(),
                first_response: Some(since_created(answered)),
                ..Default::default()
            });
            first_response = None;
        }
        let mut assigned = 0;
        for row in change {
            match row.field.as_str() {
                "owner_id" => {
                    if !row.new_value.is_empty() && row.new_value != row.old_value {
                        assigned += 1;
                    }
                    standing.owner = row.new_value.clone();
                }
                "team_id" => standing.team = row.new_value.clone(),
                _ => {}
            }
        }
        let mut change_counts = DayCounts { day: day_of(at), keys: standing.keys(), assigned, ..Default::default() };
        if !made {
            made = true;
            change_counts.created = 1;
        }
        for row in change.iter().filter(|row| row.field == "status") {
            match (is_closed(&row.old_value), is_closed(&row.new_value)) {
                (false, true) => {
                    change_counts.closed += 1;
                    change_counts.resolution = Some(since_created(at));
                }
                (true, false) => change_counts.reopened += 1,
                _ => {}
            }
        }
        counts.push(change_counts);
    }
    if !made {
        // No trail: as it is now.
        standing.owner = case.owner_id.clone().unwrap_or_default();
        standing.team = case.team_id.clone().unwrap_or_default();
        counts.push(DayCounts {
            day: day_of(case.created_at),
            keys: standing.keys(),
            created: 1,
            assigned: i64::from(case.owner_id.is_some()),
            ..Default::default()
        });
    }
    if let Some(answered) = first_response {
        counts.push(DayCounts {
            day: day_of(answered),
            keys: standing.keys(),
            first_response: Some(since_created(answered)),
            ..Default::default()
        });
    }
    counts
}

impl Store {
    /// Fills the period reports' kept data from the records unless that
    /// was done (on this database, by any replica) before. `None` when it
    /// had been.
    pub async fn backfill_reports(&self) -> Result<Option<Backfilled>> {
        if self.reports_filled().await? {
            return Ok(None);
        }
        let backend = self.db.get_database_backend();
        let isolation = (backend == DbBackend::Postgres).then_some(IsolationLevel::RepeatableRead);
        let txn = self.db.begin_with_config(isolation, None).await?;
        // The claim is the transaction's first statement, so its snapshot is
        // taken here: a replica starting at the same time waits on this row
        // and then fails to insert it, and leaves the fill to this one.
        let claim = format!(
            "INSERT INTO inbox (consumer, event_id, event_type, handled_at) VALUES ({}, {}, {}, {})",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3),
            placeholder(backend, 4)
        );
        let values: Vec<Value> =
            vec![crate::SERVICE.into(), FILLED.into(), "report.filled".into(), docket_kit::time::now().into()];
        if let Err(err) = txn.execute_raw(Statement::from_sql_and_values(backend, claim, values)).await {
            drop(txn);
            if is_unique_violation(&err) || self.reports_filled().await? {
                return Ok(None);
            }
            return Err(err.into());
        }
        let filled = fill(&txn).await?;
        txn.commit().await?;
        Ok(Some(filled))
    }

    async fn reports_filled(&self) -> Result<bool> {
        use docket_kit::events::consumer::entity as inbox;
        Ok(inbox::Entity::find_by_id((crate::SERVICE.to_owned(), FILLED.to_owned())).one(&self.db).await?.is_some())
    }
}

async fn fill(txn: &DatabaseTransaction) -> Result<Backfilled> {
    let backend = txn.get_database_backend();
    // Rows an earlier version's consumer kept are counted again below.
    for table in ["report_days", "report_day_buckets", "report_day_deltas", "report_cases"] {
        txn.execute_unprepared(&format!("DELETE FROM {table}")).await?;
    }
    let total = case::Entity::find().count(txn).await?;
    let mut tally = Tally::default();
    let mut after = String::new();
    let mut cases = 0u64;
    loop {
        let page = case::Entity::find()
            .filter(case::Column::Id.gt(after.as_str()))
            .order_by_asc(case::Column::Id)
            .limit(PAGE)
            .all(txn)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let ids: Vec<&str> = page.iter().map(|case| case.id.as_str()).collect();
        let trail = audit::entity::Entity::find()
            .filter(audit::entity::Column::RecordType.eq("case"))
            .filter(audit::entity::Column::RecordId.is_in(ids.iter().copied()))
            // A creation's row holds its first status, owner and team.
            .filter(audit::entity::Column::Field.is_in(FOLLOWED.into_iter().chain(["created"])))
            .order_by_asc(audit::entity::Column::RecordId)
            .order_by_asc(audit::entity::Column::At)
            .order_by_asc(audit::entity::Column::Id)
            .all(txn)
            .await?;
        let mut trails: HashMap<String, Vec<audit::entity::Model>> = HashMap::new();
        for (_, entry) in trail.into_iter().flat_map(audit::unpack) {
            if FOLLOWED.contains(&entry.field.as_str()) {
                trails.entry(entry.record_id.clone()).or_default().push(entry);
            }
        }
        for case in &page {
            for counts in history(case, trails.get(&case.id).map_or(&[][..], Vec::as_slice)) {
                tally.add(&counts);
            }
        }
        insert_cases(txn, &page).await?;
        cases += page.len() as u64;
        if cases.is_multiple_of(50 * PAGE) {
            tracing::info!(cases, total, "filling the period reports from the records");
        }
    }
    insert_days(txn, &tally).await?;
    measure_gaps(txn).await?;
    // Every case event whose change this snapshot holds is counted above.
    let counted: Vec<String> =
        BINDINGS.iter().filter(|t| t.starts_with("case.") && !t.starts_with("case.sla_")).map(|t| format!("'{t}'")).collect();
    let marked = if counted.is_empty() {
        0
    } else {
        let sql = format!(
            "INSERT INTO inbox (consumer, event_id, event_type, handled_at) \
             SELECT {}, event_id, event_type, {} FROM outbox WHERE event_type IN ({}) ON CONFLICT DO NOTHING",
            placeholder(backend, 1),
            placeholder(backend, 2),
            counted.join(", ")
        );
        let values: Vec<Value> = vec![crate::SERVICE.into(), docket_kit::time::now().into()];
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected()
    };
    tracing::info!(cases, events_on_their_way = marked, "filled the period reports from the records");
    Ok(Backfilled { cases, events_on_their_way: marked })
}

/// Bulk inserts, a chunk of rows per statement.
async fn insert_rows(txn: &DatabaseTransaction, head: &str, columns: usize, rows: Vec<Vec<Value>>) -> Result<()> {
    let backend = txn.get_database_backend();
    for chunk in rows.chunks(500) {
        let sql = format!("{head} VALUES {}", tuples(backend, chunk.len(), columns, 0));
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    Ok(())
}

async fn insert_cases(txn: &DatabaseTransaction, page: &[case::Model]) -> Result<()> {
    let rows = page
        .iter()
        .map(|case| {
            vec![
                case.id.as_str().into(),
                case.created_at.timestamp().into(),
                case.account_id.as_str().into(),
                case.asset_serial_number.trim().into(),
            ]
        })
        .collect();
    insert_rows(txn, "INSERT INTO report_cases (case_id, created_epoch, account_id, asset)", 4, rows).await
}

async fn insert_days(txn: &DatabaseTransaction, tally: &Tally) -> Result<()> {
    let range =
        |range: Option<(i64, i64)>| -> [Value; 2] { [range.map(|(min, _)| min).into(), range.map(|(_, max)| max).into()] };
    let rows = tally
        .days
        .iter()
        .map(|((dimension, day, key), sums)| {
            let mut row: Vec<Value> = vec![
                dimension.key().into(),
                (*day).into(),
                key.as_str().into(),
                sums.created.into(),
                sums.closed.into(),
                sums.reopened.into(),
                sums.assigned.into(),
                sums.resolved.into(),
                sums.resolution_seconds.into(),
                sums.first_responses.into(),
                sums.first_response_seconds.into(),
            ];
            row.extend(range(sums.resolution_range));
            row.extend(range(sums.first_response_range));
            row
        })
        .collect();
    insert_rows(
        txn,
        "INSERT INTO report_days (dimension, day, key, created, closed, reopened, assigned, resolved, resolution_seconds, \
         first_responses, first_response_seconds, resolution_min, resolution_max, first_response_min, first_response_max)",
        15,
        rows,
    )
    .await?;
    let rows = tally
        .buckets
        .iter()
        .map(|((dimension, day, key, metric, bucket), count)| {
            vec![dimension.key().into(), (*day).into(), key.as_str().into(), (*metric).into(), (*bucket).into(), (*count).into()]
        })
        .collect();
    insert_rows(txn, "INSERT INTO report_day_buckets (dimension, day, key, metric, bucket, count)", 6, rows).await
}

/// Sets every kept case's gap to the case before it of its account and of
/// its asset (what `Store::settle_reports` measures for the rows the
/// consumer kept since), in one statement each. The bench seeds its million cases' rows with it too.
pub async fn measure_gaps(db: &impl ConnectionTrait) -> Result<()> {
    for (gap, column) in [("account_gap", "account_id"), ("asset_gap", "asset")] {
        let only_assets = if column == "asset" { "WHERE asset <> ''" } else { "" };
        db.execute_unprepared(&format!(
            "UPDATE report_cases SET {gap} = measured.gap FROM (\
               SELECT case_id, created_epoch - LAG(created_epoch) OVER (PARTITION BY {column} ORDER BY created_epoch, case_id) AS gap \
               FROM report_cases {only_assets}) AS measured \
             WHERE measured.case_id = report_cases.case_id"
        ))
        .await?;
    }
    Ok(())
}
