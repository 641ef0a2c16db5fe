//! The consuming side: a durable queue per service, handlers run in a
//! transaction with an inbox that drops events already handled, ack after
//! commit. A failure that may pass (a service the handler needs is down, a
//! timeout, a lost connection) is retried with capped back-off for
//! `events.retry_patience_secs`; one that cannot (a bad payload, a refusal
//! that will not change) goes to the dead letters at once.

use std::{sync::Arc, time::Duration};

use docket_proto::events::v1::Envelope;
use prost::Message;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, Statement,
    TransactionTrait, Value,
};
use tokio::sync::{Notify, watch};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{Broker, Delivery, EventSettings};
use crate::db::{MAX_PARAMETERS, NewRows, insert_at_once, merge_rows, parameters};

pub mod entity {
    use sea_orm::entity::prelude::*;

    /// An event a consumer has handled (its handler's transaction committed).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        pub event_type: String,
        pub handled_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Why a handler could not handle an event, and whether that may pass.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct HandlerError {
    pub reason: String,
    /// It can never succeed: dead-letter it now instead of retrying.
    pub permanent: bool,
}

impl HandlerError {
    /// A failure that may pass: retried for as long as the patience lasts.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), permanent: false }
    }

    /// A failure that cannot pass (a malformed payload, a refusal that does
    /// not depend on time): dead-lettered at once.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), permanent: true }
    }

    /// A failed call to another service, `what` saying which. It may pass
    /// unless the service says the request itself is wrong: down,
    /// restarting, slow, overloaded, a refused token (an operator fixes
    /// it), or failing inside are all worth waiting out.
    pub fn from_status(what: &str, status: &tonic::Status) -> Self {
        use tonic::Code;
        let reason = format!("{what}: {:?} {}", status.code(), status.message());
        match status.code() {
            Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented => Self::permanent(reason),
            _ => Self::transient(reason),
        }
    }
}

impl From<sea_orm::DbErr> for HandlerError {
    fn from(err: sea_orm::DbErr) -> Self {
        HandlerError::transient(format!("database: {err}"))
    }
}

/// A service's own error from a change made in a consumer: the database
/// or a dependency may come back (and a concurrent change is retried on
/// fresh data); a refusal of the change itself will not change.
impl<D: crate::error::DomainError> From<crate::error::Error<D>> for HandlerError {
    fn from(err: crate::error::Error<D>) -> Self {
        use crate::error::Error;
        match err {
            Error::Database(_) | Error::Unavailable(_) | Error::Stale(_) => HandlerError::transient(err.to_string()),
            other => HandlerError::permanent(other.to_string()),
        }
    }
}

/// What a consuming service does with an event, in two steps: `prepare`
/// fetches what it needs from other services before the consumer opens its
/// transaction (so no transaction waits on the network), and `handle` runs
/// inside that transaction: write through `txn`, and the inbox row commits
/// with your changes.
///
/// Events that queued up are handled in batches (`events.batch`): every
/// event's `prepare` runs first, side by side, then every `handle` in one
/// transaction, in the order the events came. So `prepare` must not depend
/// on what `handle` wrote for an earlier event.
///
/// A handler whose whole work for an event is adding rows (nothing read,
/// nothing called) says so with `rows`: the consumer then writes them with
/// the event's inbox row in one statement, and a batch's rows for one table
/// in one insert, after the batch's `handle`s.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// The rows that are all this event's work, or `None` (the default)
    /// when `prepare` and `handle` do it.
    fn rows(&self, _event: &Envelope) -> Result<Option<Vec<NewRows>>, HandlerError> {
        Ok(None)
    }

    /// Reads through `db` and calls other services; `Prepared::nothing()` by default.
    async fn prepare(&self, _db: &DatabaseConnection, _event: &Envelope) -> Result<Prepared, HandlerError> {
        Ok(Prepared::nothing())
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, prepared: Prepared) -> Result<(), HandlerError>;

    /// Called once what `handle` wrote is committed (e.g. to wake a worker
    /// that acts on it).
    fn committed(&self) {}
}

/// What a handler's `prepare` hands to its `handle`.
pub struct Prepared(Option<Box<dyn std::any::Any + Send>>);

impl Prepared {
    pub fn nothing() -> Self {
        Self(None)
    }

    pub fn new<T: Send + 'static>(value: T) -> Self {
        Self(Some(Box::new(value)))
    }

    /// The value `prepare` made, if it made one of this type.
    pub fn take<T: 'static>(self) -> Option<T> {
        self.0.and_then(|value| value.downcast::<T>().ok()).map(|value| *value)
    }
}

/// What a consumer listens to.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The consuming service; its queue is `events.queue_prefix` + name.
    pub service: String,
    /// Routing key patterns, e.g. `case.*`.
    pub bindings: Vec<String>,
}

/// What happened to one delivery (for logs, metrics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Handled,
    Duplicate,
    Retried { attempt: u32, reason: String },
    DeadLettered { reason: String },
}

impl Outcome {
    /// Its name in the metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Duplicate => "duplicate",
            Outcome::Retried { .. } => "retried",
            Outcome::DeadLettered { .. } => "dead_lettered",
        }
    }
}

/// Consumes until `shutdown` turns true, subscribing again (with back-off)
/// whenever the broker connection is lost.
pub async fn consume(
    broker: Arc<dyn Broker>,
    db: DatabaseConnection,
    settings: EventSettings,
    spec: ConsumerSpec,
    handler: Arc<dyn EventHandler>,
    shutdown: watch::Receiver<bool>,
) {
    let queue = settings.queue(&spec.service);
    let dead_lettered = Arc::new(Notify::new());
    let sampler = tokio::spawn(sample_dead_letters(
        broker.clone(),
        queue.clone(),
        spec.service.clone(),
        dead_lettered.clone(),
        shutdown.clone(),
    ));
    consume_until_shutdown(broker, db, settings, spec, handler, shutdown, dead_lettered).await;
    sampler.abort();
}

/// How often the depth of a consumer's dead-letter queue is read for the metrics.
const DEAD_LETTER_SAMPLE: Duration = Duration::from_secs(15);

/// Keeps `docket_events_dead_letters` current: the depth of the queue's
/// dead letters, read as soon as this consumer dead-letters an event, and
/// every [`DEAD_LETTER_SAMPLE`] (so replays show within that).
async fn sample_dead_letters(
    broker: Arc<dyn Broker>,
    queue: String,
    consumer: String,
    dead_lettered: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match broker.dead_letter_count(&queue).await {
            Ok(waiting) => crate::metrics::dead_letters(&consumer, waiting),
            Err(err) => tracing::debug!(%queue, error = %err, "cannot read the dead-letter queue's depth yet"),
        }
        tokio::select! {
            () = tokio::time::sleep(DEAD_LETTER_SAMPLE) => {}
            () = dead_lettered.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn consume_until_shutdown(
    broker: Arc<dyn Broker>,
    db: DatabaseConnection,
    settings: EventSettings,
    spec: ConsumerSpec,
    handler: Arc<dyn EventHandler>,
    mut shutdown: watch::Receiver<bool>,
    dead_lettered: Arc<Notify>,
) {
    let queue = &settings.queue(&spec.service);
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match broker.subscribe(queue, &spec.bindings, settings.prefetch).await {
            Ok(mut subscription) => {
                if failures > 0 {
                    tracing::info!(%queue, "event consumer: subscribed again");
                }
                failures = 0;
                let lanes = Lanes::start(&db, &settings, &spec.service, &handler, &shutdown, &dead_lettered);
                let burst = usize::from(settings.handlers.max(1)) * usize::from(settings.batch.max(1));
                loop {
                    tokio::select! {
                        delivery = subscription.deliveries.recv() => match delivery {
                            Some(delivery) => {
                                // With what came along with it: see `Lanes`.
                                let mut together = vec![delivery];
                                while together.len() < burst
                                    && let Ok(next) = subscription.deliveries.try_recv()
                                {
                                    together.push(next);
                                }
                                if !lanes.hand(together).await {
                                    break;
                                }
                            }
                            None => break,
                        },
                        _ = shutdown.changed() => {
                            lanes.finish().await;
                            return;
                        }
                    }
                }
                // What the lanes still hold is settled on a closed channel:
                // the broker hands it out again.
                lanes.finish().await;
                tracing::warn!(%queue, "event consumer: connection lost; subscribing again");
            }
            Err(err) => {
                failures += 1;
                tracing::warn!(%queue, error = %err, "event consumer: cannot subscribe yet");
            }
        }
        let backoff = super::reconnect_backoff(failures);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The handlers of one subscription. Events about one subject are handled
/// one after another in the order they came: while a lane holds events
/// about a subject, its next ones go to the same lane. Events about
/// different subjects that came together go to the idlest lane, up to
/// `events.batch` of them, then to the next: one transaction for what would
/// be as many, while a backlog larger than a batch still spreads over the
/// lanes and is handled at once.
struct Lanes {
    senders: Vec<tokio::sync::mpsc::Sender<Vec<(String, Delivery)>>>,
    load: Arc<std::sync::Mutex<LaneLoad>>,
    batch: usize,
    workers: tokio::task::JoinSet<()>,
}

/// What each lane holds (queued or being handled): how many events, and
/// of which subjects how many.
struct LaneLoad {
    events: Vec<usize>,
    subjects: std::collections::HashMap<String, (usize, usize)>,
}

impl LaneLoad {
    /// Puts `subjects` (one per delivery, in the order they came) on lanes:
    /// a held subject's lane, else the idlest until it holds a batch.
    fn place(&mut self, subjects: &[String], batch: usize) -> Vec<usize> {
        let mut filling: Option<usize> = None;
        subjects
            .iter()
            .map(|subject| {
                let lane = match self.subjects.get(subject) {
                    Some(&(lane, _)) => lane,
                    None => match filling.filter(|&lane| self.events[lane] < batch) {
                        Some(lane) => lane,
                        None => {
                            let idlest = (0..self.events.len()).min_by_key(|&lane| self.events[lane]).unwrap_or_default();
                            filling = Some(idlest);
                            idlest
                        }
                    },
                };
                self.subjects.entry(subject.clone()).or_insert((lane, 0)).1 += 1;
                self.events[lane] += 1;
                lane
            })
            .collect()
    }

    /// Lane `lane` is done with the events about `subjects`.
    fn release(&mut self, lane: usize, subjects: &[String]) {
        for subject in subjects {
            self.events[lane] = self.events[lane].saturating_sub(1);
            if let Some((_, count)) = self.subjects.get_mut(subject) {
                *count -= 1;
                if *count == 0 {
                    self.subjects.remove(subject);
                }
            }
        }
    }
}

fn subject_of(delivery: &Delivery) -> String {
    Envelope::decode(delivery.body.as_slice()).map(|e| e.subject).unwrap_or_default()
}

impl Lanes {
    fn start(
        db: &DatabaseConnection,
        settings: &EventSettings,
        consumer: &str,
        handler: &Arc<dyn EventHandler>,
        shutdown: &watch::Receiver<bool>,
        dead_lettered: &Arc<Notify>,
    ) -> Self {
        let lanes = usize::from(settings.handlers.max(1));
        let batch = usize::from(settings.batch.max(1));
        let load = Arc::new(std::sync::Mutex::new(LaneLoad { events: vec![0; lanes], subjects: Default::default() }));
        let mut senders = Vec::new();
        let mut workers = tokio::task::JoinSet::new();
        for lane in 0..lanes {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<(String, Delivery)>>(usize::from(settings.prefetch.max(1)));
            senders.push(tx);
            let (db, settings, consumer, handler) = (db.clone(), settings.clone(), consumer.to_owned(), handler.clone());
            let (load, dead_lettered) = (load.clone(), dead_lettered.clone());
            let mut shutdown = shutdown.clone();
            workers.spawn(async move {
                let mut queued = std::collections::VecDeque::new();
                loop {
                    // A handler that started finishes; one not started is left to the broker.
                    if shutdown.has_changed().unwrap_or(true) {
                        return;
                    }
                    if queued.is_empty() {
                        let deliveries = tokio::select! {
                            biased;
                            _ = shutdown.changed() => return,
                            deliveries = rx.recv() => deliveries,
                        };
                        let Some(deliveries) = deliveries else { return };
                        queued.extend(deliveries);
                    }
                    // What queued up behind it on this lane goes along.
                    while queued.len() < batch
                        && let Ok(more) = rx.try_recv()
                    {
                        queued.extend(more);
                    }
                    let (subjects, deliveries): (Vec<String>, Vec<Delivery>) = queued.drain(..queued.len().min(batch)).unzip();
                    let types: Vec<String> = deliveries.iter().map(event_type_of).collect();
                    let outcomes = handle_batch(&db, &settings, &consumer, handler.as_ref(), deliveries).await;
                    load.lock().unwrap_or_else(std::sync::PoisonError::into_inner).release(lane, &subjects);
                    for (event_type, outcome) in types.iter().zip(outcomes) {
                        crate::metrics::event_consumed(&consumer, event_type, outcome.name());
                        if matches!(outcome, Outcome::DeadLettered { .. }) {
                            dead_lettered.notify_one();
                        }
                    }
                }
            });
        }
        Self { senders, load, batch, workers }
    }

    /// Puts deliveries that came together on their lanes; `false` when the
    /// lanes are gone.
    async fn hand(&self, deliveries: Vec<Delivery>) -> bool {
        let subjects: Vec<String> = deliveries.iter().map(subject_of).collect();
        let placed = self.load.lock().unwrap_or_else(std::sync::PoisonError::into_inner).place(&subjects, self.batch);
        let mut per_lane: Vec<Vec<(String, Delivery)>> = (0..self.senders.len()).map(|_| Vec::new()).collect();
        for ((subject, delivery), lane) in subjects.into_iter().zip(deliveries).zip(placed) {
            per_lane[lane].push((subject, delivery));
        }
        for (sender, deliveries) in self.senders.iter().zip(per_lane) {
            if !deliveries.is_empty() && sender.send(deliveries).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Lets every lane finish what it holds (or stop, on shutdown).
    async fn finish(self) {
        let Lanes { senders, workers, .. } = self;
        drop(senders);
        workers.join_all().await;
    }
}

/// Handles one delivery and settles it. Settling fails only when the broker
/// connection is gone; the broker then redelivers and the inbox dedupes.
pub async fn handle_delivery(
    db: &DatabaseConnection,
    settings: &EventSettings,
    consumer: &str,
    handler: &dyn EventHandler,
    delivery: Delivery,
) -> Outcome {
    match envelope_of(&delivery) {
        Ok(envelope) => handle_one(db, settings, consumer, handler, envelope, delivery).await,
        Err(reason) => dead(delivery, reason).await,
    }
}

/// Handles deliveries that queued up on one lane together: their
/// `prepare`s side by side, then the inbox rows, every `handle` and the
/// rows in one transaction, one commit. No read of the inbox before: the
/// claim in that transaction skips an event handled before (a redelivery
/// is rare; its `prepare` only reads). Should anything in it fail,
/// it is rolled back and each delivery is handled on its own, so only the
/// one that failed is retried or dead-lettered. Outcome `i` is delivery `i`'s.
pub async fn handle_batch(
    db: &DatabaseConnection,
    settings: &EventSettings,
    consumer: &str,
    handler: &dyn EventHandler,
    deliveries: Vec<Delivery>,
) -> Vec<Outcome> {
    if deliveries.len() == 1 {
        let mut deliveries = deliveries;
        return match deliveries.pop() {
            Some(delivery) => vec![handle_delivery(db, settings, consumer, handler, delivery).await],
            None => Vec::new(),
        };
    }
    let count = deliveries.len();
    // (delivery's index, outcome), put in delivery order at the end.
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(count);
    let mut batch = Vec::with_capacity(count);
    for (at, delivery) in deliveries.into_iter().enumerate() {
        match envelope_of(&delivery) {
            Ok(envelope) => {
                let span = event_span(&envelope, consumer);
                batch.push((at, envelope, delivery, span));
            }
            Err(reason) => outcomes.push((at, dead(delivery, reason).await)),
        }
    }

    let mut fresh = Vec::with_capacity(batch.len());
    // A second copy of an event in this batch (the relay may publish twice)
    // is acked once the first copy is settled.
    let mut copies = Vec::new();
    let mut in_batch = std::collections::HashSet::new();
    for (at, envelope, delivery, span) in batch {
        if !in_batch.insert(envelope.id.clone()) {
            copies.push((at, delivery));
        } else {
            fresh.push((at, envelope, delivery, span));
        }
    }

    let mut ready = Vec::with_capacity(fresh.len());
    let mut to_prepare = Vec::with_capacity(fresh.len());
    for (at, envelope, delivery, span) in fresh {
        match handler.rows(&envelope) {
            Ok(Some(rows)) => ready.push((at, envelope, delivery, span, Work::Rows(rows))),
            Ok(None) => to_prepare.push((at, envelope, delivery, span)),
            Err(err) => outcomes.push((at, failed(settings, delivery, err).instrument(span).await)),
        }
    }
    let prepared = futures::future::join_all(
        to_prepare.iter().map(|(_, envelope, _, span)| handler.prepare(db, envelope).instrument(span.clone())),
    )
    .await;
    for ((at, envelope, delivery, span), prepared) in to_prepare.into_iter().zip(prepared) {
        match prepared {
            Ok(prepared) => ready.push((at, envelope, delivery, span, Work::Handle(prepared))),
            Err(err) => outcomes.push((at, failed(settings, delivery, err).instrument(span).await)),
        }
    }
    if !ready.is_empty() {
        commit_or_one_by_one(db, settings, consumer, handler, ready, &mut outcomes).await;
    }
    for (at, copy) in copies {
        outcomes.push((at, settle(copy.settle.ack().await, Outcome::Duplicate)));
    }
    in_order(outcomes)
}

/// What handling one event of a batch takes.
enum Work {
    /// The rows its handler said are all its work.
    Rows(Vec<NewRows>),
    /// Its handler's `handle`, with what `prepare` made.
    Handle(Prepared),
}

/// The inbox's insert (consumer, event id, event type, handled at).
const INBOX_INSERT: &str = "INSERT INTO inbox (consumer, event_id, event_type, handled_at)";
const INBOX_COLUMNS: usize = 4;

fn in_order(mut outcomes: Vec<(usize, Outcome)>) -> Vec<Outcome> {
    outcomes.sort_by_key(|(at, _)| *at);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

/// Commits a batch's events together, or, should that fail, handles each
/// on its own.
async fn commit_or_one_by_one(
    db: &DatabaseConnection,
    settings: &EventSettings,
    consumer: &str,
    handler: &dyn EventHandler,
    ready: Vec<(usize, Envelope, Delivery, tracing::Span, Work)>,
    outcomes: &mut Vec<(usize, Outcome)>,
) {
    let mut events = Vec::with_capacity(ready.len());
    let mut works = Vec::with_capacity(ready.len());
    let mut deliveries = Vec::with_capacity(ready.len());
    for (at, envelope, delivery, span, work) in ready {
        events.push((envelope, span));
        works.push(work);
        deliveries.push((at, delivery));
    }
    match commit_batch(db, consumer, handler, &events, works).await {
        Ok(claimed) => {
            if claimed.iter().any(|&now| now) {
                handler.committed();
            }
            for (((_, span), (at, delivery)), now) in events.into_iter().zip(deliveries).zip(claimed) {
                let outcome = if now { Outcome::Handled } else { Outcome::Duplicate };
                outcomes.push((at, settle(delivery.settle.ack().instrument(span).await, outcome)));
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, events = events.len(), "a batch of events failed together; handling each on its own");
            for ((envelope, _), (at, delivery)) in events.into_iter().zip(deliveries) {
                outcomes.push((at, handle_one(db, settings, consumer, handler, envelope, delivery).await));
            }
        }
    }
}

/// Every event's work and inbox row in one transaction: the inbox rows
/// first (claiming the events: one handled before, or by a copy committing
/// meanwhile, is not claimed and its work is skipped), then the `handle`s in
/// the order the events came, then the rows (a table's in one insert).
/// Whether each event was handled now. When every event's work is rows, one
/// statement without a transaction on PostgreSQL, which an event handled
/// before fails as a whole (and each is then handled on its own).
async fn commit_batch(
    db: &DatabaseConnection,
    consumer: &str,
    handler: &dyn EventHandler,
    events: &[(Envelope, tracing::Span)],
    works: Vec<Work>,
) -> Result<Vec<bool>, HandlerError> {
    let now = crate::time::now();
    let mut inbox = NewRows::new(INBOX_INSERT, INBOX_COLUMNS, "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id");
    for (envelope, _) in events {
        inbox.push(inbox_row(consumer, envelope, now));
    }
    if works.iter().all(|work| matches!(work, Work::Rows(_))) {
        let mut rows: Vec<NewRows> =
            works.into_iter().flat_map(|work| if let Work::Rows(rows) = work { rows } else { Vec::new() }).collect();
        rows.push(NewRows { tail: "", ..inbox });
        insert_at_once(db, merge_rows(rows)).await?;
        return Ok(vec![true; events.len()]);
    }
    let txn = db.begin().await?;
    let claimed: std::collections::HashSet<String> = txn
        .query_all_raw(inbox.statement(db.get_database_backend()))
        .await?
        .into_iter()
        .map(|row| row.try_get::<String>("", "event_id"))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for ((envelope, span), work) in events.iter().zip(works) {
        if !claimed.contains(&envelope.id) {
            continue;
        }
        match work {
            Work::Rows(more) => rows.extend(more),
            Work::Handle(prepared) => handler.handle(&txn, envelope, prepared).instrument(span.clone()).await?,
        }
    }
    for rows in merge_rows(rows) {
        rows.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(events.iter().map(|(envelope, _)| claimed.contains(&envelope.id)).collect())
}

fn inbox_row(consumer: &str, envelope: &Envelope, now: chrono::DateTime<chrono::Utc>) -> [Value; INBOX_COLUMNS] {
    [consumer.into(), envelope.id.as_str().into(), envelope.r#type.as_str().into(), now.into()]
}

/// The type of the event a delivery carries (`malformed` when it carries none), for the metrics.
fn event_type_of(delivery: &Delivery) -> String {
    envelope_of(delivery).map_or_else(|_| "malformed".to_owned(), |envelope| envelope.r#type)
}

/// The event a delivery carries, or why it is not one.
fn envelope_of(delivery: &Delivery) -> Result<Envelope, String> {
    match Envelope::decode(delivery.body.as_slice()) {
        Ok(envelope) if !envelope.id.is_empty() && !envelope.r#type.is_empty() => Ok(envelope),
        Ok(_) => Err("malformed event: the envelope has no id or type".to_owned()),
        Err(err) => Err(format!("malformed event: not a docket.events.v1.Envelope ({err})")),
    }
}

/// The span of handling one event, a child of the trace that published it.
fn event_span(envelope: &Envelope, consumer: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "event",
        otel.name = %format!("consume {}", envelope.r#type),
        event.id = %envelope.id,
        event.r#type = %envelope.r#type,
        subject = %envelope.subject,
        consumer,
    );
    let mut carrier = std::collections::HashMap::new();
    carrier.insert("traceparent".to_owned(), envelope.traceparent.clone());
    carrier.insert("tracestate".to_owned(), envelope.tracestate.clone());
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    let _ = span.set_parent(parent);
    span
}

/// Handles one event in its own transaction and settles its delivery.
async fn handle_one(
    db: &DatabaseConnection,
    settings: &EventSettings,
    consumer: &str,
    handler: &dyn EventHandler,
    envelope: Envelope,
    delivery: Delivery,
) -> Outcome {
    let span = event_span(&envelope, consumer);
    async move {
        match run_handler(db, consumer, handler, &envelope).await {
            Ok(true) => settle(delivery.settle.ack().await, Outcome::Handled),
            Ok(false) => settle(delivery.settle.ack().await, Outcome::Duplicate),
            Err(err) => failed(settings, delivery, err).await,
        }
    }
    .instrument(span)
    .await
}

/// Settles a delivery whose handler failed: retried later while the
/// failure may pass and the patience lasts, dead-lettered otherwise.
async fn failed(settings: &EventSettings, delivery: Delivery, err: HandlerError) -> Outcome {
    let attempt = delivery.attempts + 1;
    let now = crate::time::now().timestamp_millis();
    let retried_for = Duration::from_millis(u64::try_from(now - delivery.first_failure.unwrap_or(now)).unwrap_or(0));
    let patience = Duration::from_secs(settings.retry_patience_secs);
    let HandlerError { reason, permanent } = err;
    if permanent {
        tracing::error!(%reason, attempt, "event handler failed for a reason that cannot pass: dead-lettered");
        dead(delivery, reason).await
    } else if retried_for >= patience {
        tracing::error!(%reason, attempt, ?retried_for, "event handler still failing after the retry patience: dead-lettered");
        dead(delivery, format!("still failing after {}s of retries: {reason}", retried_for.as_secs())).await
    } else {
        let delay = settings.retry_delay(delivery.attempts);
        tracing::warn!(%reason, attempt, retry_in = ?delay, "event handler failed: retrying");
        let outcome = Outcome::Retried { attempt, reason: reason.clone() };
        settle(delivery.settle.retry(delay, &reason).await, outcome)
    }
}

fn settle(result: Result<(), super::BusError>, outcome: Outcome) -> Outcome {
    if let Err(err) = result {
        tracing::warn!(error = %err, ?outcome, "could not settle a delivery; the broker will redeliver it");
    }
    outcome
}

async fn dead(delivery: Delivery, reason: String) -> Outcome {
    let outcome = Outcome::DeadLettered { reason: reason.clone() };
    settle(delivery.settle.dead(&reason).await, outcome)
}

/// `Ok(true)` handled now, `Ok(false)` handled before. The inbox row is
/// claimed first, in the handler's transaction: one round trip answers
/// "handled before?" and marks it handled, and a copy being handled at the
/// same moment waits on that row and then finds it (no read beforehand, so
/// `prepare` also runs for a copy handled before: it only reads). An event
/// whose work is rows is one statement on PostgreSQL ([`claim_with_rows`]).
async fn run_handler(
    db: &DatabaseConnection,
    consumer: &str,
    handler: &dyn EventHandler,
    envelope: &Envelope,
) -> Result<bool, HandlerError> {
    use sea_orm::{TryInsertResult, sea_query::OnConflict};

    let rows = handler.rows(envelope)?;
    if let Some(rows) = &rows
        && db.get_database_backend() == DbBackend::Postgres
        && parameters(rows) + INBOX_COLUMNS <= MAX_PARAMETERS
    {
        let claimed = claim_with_rows(db, consumer, envelope, rows).await?;
        if claimed {
            handler.committed();
        }
        return Ok(claimed);
    }
    let prepared = match rows {
        Some(_) => Prepared::nothing(),
        None => handler.prepare(db, envelope).await?,
    };
    let txn = db.begin().await?;
    let row = entity::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(envelope.id.clone()),
        event_type: Set(envelope.r#type.clone()),
        handled_at: Set(crate::time::now()),
    };
    let claimed = entity::Entity::insert(row)
        .on_conflict(OnConflict::columns([entity::Column::Consumer, entity::Column::EventId]).do_nothing().to_owned())
        .try_insert()
        .exec_without_returning(&txn)
        .await?;
    if !matches!(claimed, TryInsertResult::Inserted(n) if n > 0) {
        txn.rollback().await?;
        return Ok(false);
    }
    match rows {
        Some(rows) => {
            for rows in rows {
                rows.insert(&txn).await?;
            }
        }
        None => handler.handle(&txn, envelope, prepared).await?,
    }
    txn.commit().await?;
    handler.committed();
    Ok(true)
}

/// Claims an event's inbox row and inserts its handler's `rows` in one
/// statement (PostgreSQL), the rows only with the claim; `false`, and
/// nothing written, when the event was handled before. A copy claimed at
/// the same moment waits on the other's inbox row, as in a transaction.
async fn claim_with_rows(
    db: &DatabaseConnection,
    consumer: &str,
    envelope: &Envelope,
    rows: &[NewRows],
) -> Result<bool, sea_orm::DbErr> {
    let backend = DbBackend::Postgres;
    let mut values: Vec<Value> = inbox_row(consumer, envelope, crate::time::now()).into();
    let mut sql = format!(
        "WITH claimed AS ({INBOX_INSERT} VALUES ($1, $2, $3, $4) ON CONFLICT (consumer, event_id) DO NOTHING RETURNING 1)"
    );
    for (n, rows) in rows.iter().filter(|rows| !rows.values.is_empty()).enumerate() {
        let insert = rows.select_when(backend, values.len(), "EXISTS (SELECT 1 FROM claimed)");
        sql.push_str(&format!(", rows_{n} AS ({insert})"));
        values.extend(rows.values.iter().cloned());
    }
    sql.push_str(" SELECT COUNT(*) AS claimed FROM claimed");
    let row = db.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let claimed: i64 = match row {
        Some(row) => row.try_get("", "claimed")?,
        None => 0,
    };
    Ok(claimed > 0)
}

#[cfg(test)]
mod tests {
    use super::LaneLoad;

    fn load(lanes: usize) -> LaneLoad {
        LaneLoad { events: vec![0; lanes], subjects: Default::default() }
    }

    fn subjects(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn events_that_came_together_share_a_lane_up_to_a_batch() {
        let mut lanes = load(4);
        assert_eq!(lanes.place(&subjects(&["a", "b", "c"]), 2), [0, 0, 1], "a batch on the idlest, the rest on the next");
        assert_eq!(lanes.events, [2, 1, 0, 0]);
        assert_eq!(lanes.place(&subjects(&["d", "e"]), 16), [2, 2], "on an idle lane, not a busy one");
    }

    #[test]
    fn a_subject_stays_on_its_lane_while_the_lane_holds_it() {
        let mut lanes = load(3);
        assert_eq!(lanes.place(&subjects(&["a", "b"]), 1), [0, 1]);
        // "a" again: behind its first event, though lane 2 is idle and lane 0 full.
        assert_eq!(lanes.place(&subjects(&["c", "a", "a"]), 1), [2, 0, 0]);
        lanes.release(0, &subjects(&["a"]));
        assert_eq!(lanes.place(&subjects(&["a"]), 1), [0], "two of its events are still on lane 0");
        lanes.release(0, &subjects(&["a", "a", "a"]));
        lanes.release(1, &subjects(&["b"]));
        assert_eq!(lanes.events, [0, 0, 1]);
        assert!(!lanes.subjects.contains_key("a") && !lanes.subjects.contains_key("b"));
        assert_eq!(lanes.place(&subjects(&["b", "a"]), 1), [0, 1], "released: free to go to the idlest lanes");
    }
}
