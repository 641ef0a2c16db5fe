//! The transactional outbox and its relay.

use std::{sync::Arc, time::Duration};

use docket_proto::events::v1::Envelope;
use prost::Message;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio::sync::{Notify, watch};

use super::{Broker, BusError, EventSettings, Outgoing};

pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One event waiting to be (or already) published.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// Write order; the relay publishes in this order.
        #[sea_orm(primary_key)]
        pub position: i64,
        #[sea_orm(unique)]
        pub event_id: String,
        pub event_type: String,
        pub subject: String,
        /// The encoded `docket.events.v1.Envelope`.
        pub envelope: Vec<u8>,
        pub traceparent: String,
        pub created_at: DateTimeUtc,
        pub sent_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The columns of an outbox row a writer sets, as hand-written inserts
/// name them (its position is the table's own; it is not sent yet).
pub(crate) const INSERT: &str = "INSERT INTO outbox (event_id, event_type, subject, envelope, traceparent, created_at)";
pub(crate) const COLUMNS: usize = 6;

/// The values of an event's outbox row, [`COLUMNS`] of them.
pub(crate) fn row_values(envelope: &Envelope) -> [sea_orm::Value; COLUMNS] {
    [
        envelope.id.as_str().into(),
        envelope.r#type.as_str().into(),
        envelope.subject.as_str().into(),
        envelope.encode_to_vec().into(),
        envelope.traceparent.as_str().into(),
        envelope.time.as_ref().and_then(crate::time::from_proto).unwrap_or_else(crate::time::now).into(),
    ]
}

/// The outbox rows of `envelopes`, to insert with other rows.
pub(crate) fn new_rows(envelopes: &[Envelope]) -> crate::db::NewRows {
    crate::db::NewRows { values: envelopes.iter().flat_map(row_values).collect(), ..crate::db::NewRows::new(INSERT, COLUMNS, "") }
}

/// Writes events into the outbox, inside the caller's transaction.
pub async fn append(txn: &impl ConnectionTrait, envelopes: &[Envelope]) -> Result<(), DbErr> {
    if envelopes.is_empty() {
        return Ok(());
    }
    new_rows(envelopes).insert(txn).await
}

/// Wakes the relay after a commit, so an event does not wait for the next poll.
#[derive(Debug, Clone, Default)]
pub struct RelayWaker(Arc<Notify>);

impl RelayWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("outbox: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Publishes one service's outbox.
pub struct Relay {
    /// The service whose outbox this is (a label of its metrics).
    service: String,
    db: DatabaseConnection,
    broker: Arc<dyn Broker>,
    batch: u64,
    poll: Duration,
    linger: Duration,
    retention: chrono::Duration,
    waker: RelayWaker,
    /// Event types whose envelope is wiped from the outbox once published.
    forgotten: &'static [&'static str],
}

/// How long the relay waits after a batch (not a full one) of `sent` rows
/// that took `took`, and whether it lingers. Lingering, it does not wake
/// for each commit, so more rows gather for one bigger batch; a batch's own
/// time counts, so while rows keep coming batches start at most one per
/// `linger`. After a batch that found nothing it waits for a commit's wake,
/// or `poll` for rows other processes wrote.
fn after_batch(sent: usize, linger: Duration, poll: Duration, took: Duration) -> (Duration, bool) {
    if sent > 0 && !linger.is_zero() { (linger.saturating_sub(took), true) } else { (poll, false) }
}

/// How often a relay counts its outbox's backlog for the metrics.
const BACKLOG_SAMPLE: Duration = Duration::from_secs(15);

impl Relay {
    pub fn new(
        service: &str,
        db: DatabaseConnection,
        broker: Arc<dyn Broker>,
        settings: &EventSettings,
        waker: RelayWaker,
    ) -> Self {
        Self {
            service: service.to_owned(),
            db,
            broker,
            batch: settings.relay_batch,
            poll: Duration::from_millis(settings.relay_poll_ms),
            linger: Duration::from_millis(settings.relay_linger_ms),
            retention: chrono::Duration::hours(i64::try_from(settings.retention_hours).unwrap_or(i64::MAX / 3_600_000)),
            waker,
            forgotten: &[],
        }
    }

    /// Wipes the envelope of `event_types` from the outbox as soon as it is
    /// published: events that carry a secret (a portal link's token) must
    /// not stay readable in the database for the retention period. The row
    /// stays, for ordering and operators.
    pub fn forgetting(mut self, event_types: &'static [&'static str]) -> Self {
        self.forgotten = event_types;
        self
    }

    /// Publishes until `shutdown` turns true. A broker or database outage
    /// keeps the backlog in the outbox and is retried with back-off.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        let mut last_prune = tokio::time::Instant::now() - Duration::from_secs(3600);
        let mut last_count: Option<tokio::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let mut lingering = false;
            let started = tokio::time::Instant::now();
            let wait = match self.relay_once().await {
                Ok(sent) if sent as u64 >= self.batch => Duration::ZERO,
                Ok(sent) => {
                    if failures > 0 {
                        tracing::info!("event relay: publishing again");
                    }
                    failures = 0;
                    let (wait, lingers) = after_batch(sent, self.linger, self.poll, started.elapsed());
                    lingering = lingers;
                    wait
                }
                Err(err) => {
                    failures += 1;
                    let backoff = super::reconnect_backoff(failures);
                    tracing::warn!(error = %err, retry_in = ?backoff, "event relay: the backlog stays in the outbox");
                    backoff
                }
            };
            // After publishing, so a backlog at start-up does not linger.
            if last_count.is_none_or(|at| at.elapsed() > BACKLOG_SAMPLE) {
                last_count = Some(tokio::time::Instant::now());
                if let Ok(rows) = backlog(&self.db).await {
                    crate::metrics::outbox_backlog(&self.service, rows);
                }
                if let Ok(oldest) = oldest_unsent(&self.db).await {
                    let age = oldest.map_or(0.0, |at| (crate::time::now() - at).num_milliseconds().max(0) as f64 / 1000.0);
                    crate::metrics::outbox_oldest_age(&self.service, age);
                }
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = tokio::time::Instant::now();
                if let Err(err) = self.prune().await {
                    tracing::warn!(error = %err, "event relay: pruning sent rows failed");
                }
            }
            if !wait.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.waker.0.notified(), if failures == 0 && !lingering => {}
                    changed = shutdown.changed() => if changed.is_err() { return },
                }
            }
        }
    }

    /// Publishes one batch of unsent rows in write order; returns how many.
    ///
    /// One relay works at a time per outbox (a PostgreSQL advisory lock held
    /// by the batch's transaction), so several replicas can run without
    /// publishing out of order; the rows are marked sent in the same
    /// transaction, after every confirm.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let txn = self.db.begin().await?;
        let mut query = entity::Entity::find()
            .filter(entity::Column::SentAt.is_null())
            .order_by_asc(entity::Column::Position)
            .limit(self.batch);
        if txn.get_database_backend() == DbBackend::Postgres {
            // Not the leader: no rows. An uncorrelated subquery is evaluated
            // once, before the scan, so the lock costs no round trip of its own.
            query = query
                .filter(Expr::cust("(SELECT pg_try_advisory_xact_lock(hashtext('docket.outbox.' || current_schema())))"))
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(0);
        }
        let outgoing: Vec<Outgoing> = rows
            .iter()
            .map(|row| Outgoing {
                id: &row.event_id,
                routing_key: &row.event_type,
                body: &row.envelope,
                traceparent: &row.traceparent,
            })
            .collect();
        self.broker.publish_all(&outgoing).await?;
        let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
        entity::Entity::update_many()
            .col_expr(entity::Column::SentAt, Expr::value(Some(crate::time::now())))
            .filter(entity::Column::Position.is_in(positions.clone()))
            .exec(&txn)
            .await?;
        if rows.iter().any(|row| self.forgotten.contains(&row.event_type.as_str())) {
            entity::Entity::update_many()
                .col_expr(entity::Column::Envelope, Expr::value(Vec::<u8>::new()))
                .filter(entity::Column::Position.is_in(positions))
                .filter(entity::Column::EventType.is_in(self.forgotten.iter().copied()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let mut published: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for row in &rows {
            *published.entry(row.event_type.as_str()).or_default() += 1;
        }
        for (event_type, count) in published {
            crate::metrics::events_published(&self.service, event_type, count);
        }
        tracing::debug!(count = rows.len(), "event relay: published");
        Ok(rows.len())
    }

    /// Deletes rows sent longer ago than the retention.
    pub async fn prune(&self) -> Result<u64, DbErr> {
        let cutoff = crate::time::now() - self.retention;
        let deleted = entity::Entity::delete_many().filter(entity::Column::SentAt.lt(cutoff)).exec(&self.db).await?;
        Ok(deleted.rows_affected)
    }
}

/// When the oldest row not yet published was written, if one waits.
pub async fn oldest_unsent(db: &impl ConnectionTrait) -> Result<Option<chrono::DateTime<chrono::Utc>>, DbErr> {
    let oldest =
        entity::Entity::find().filter(entity::Column::SentAt.is_null()).order_by_asc(entity::Column::Position).one(db).await?;
    Ok(oldest.map(|row| row.created_at))
}

/// Rows not yet published, for operators and tests.
pub async fn backlog(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    entity::Entity::find().filter(entity::Column::SentAt.is_null()).count(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_lingers_only_after_a_batch_that_found_rows() {
        let (linger, poll) = (Duration::from_millis(10), Duration::from_millis(500));
        // Rows came: the next batch starts a linger after this one began,
        // deaf to wakes meanwhile.
        assert_eq!(after_batch(7, linger, poll, Duration::from_millis(3)), (Duration::from_millis(7), true));
        assert_eq!(after_batch(7, linger, poll, Duration::from_millis(30)), (Duration::ZERO, true));
        // A quiet spell: a commit's wake (or the poll) starts the next one.
        assert_eq!(after_batch(0, linger, poll, Duration::from_millis(3)), (poll, false));
        // No linger: every batch is followed by waiting for a wake.
        assert_eq!(after_batch(7, Duration::ZERO, poll, Duration::from_millis(3)), (poll, false));
    }
}
