//! The consumer library: inbox dedupe, redelivery after a crash, retries,
//! dead letters and their replay, on RabbitMQ and on the in-process broker.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use docket_kit::{
    db::NewRows,
    events::{
        Broker, EventBackend, EventSettings, Outgoing, QueueType,
        consumer::{ConsumerSpec, EventHandler, HandlerError, Outcome, Prepared, consume, handle_batch, handle_delivery},
        envelope,
        memory::InProcessBroker,
        pack,
        rabbit::RabbitBroker,
    },
    settings::DatabaseSettings,
};
use docket_proto::events::v1::{self as ev, Envelope};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait, Statement, TransactionTrait,
};
use sea_orm_migration::SchemaManager;

use crate::common::{
    Backend, blocked_by, check_postgres, eventually, postgres_url,
    proxy::TcpProxy,
    rabbit::{Cleanup, connect, declare_exchange, queue_state},
    test_events,
};

/// Records every event it is asked to handle; fails while told to, for a
/// reason that may pass, or (`refusing`) one that cannot.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    failing: AtomicBool,
    refusing: AtomicBool,
    /// Refuses (for good) only the events about this subject.
    refused_subject: Mutex<Option<String>>,
    /// With `overlapping`: (subject, payload's case number) in the order
    /// handled, and the most handlers in flight at once. The first handler
    /// waits (a while at most) for a second one to start, which happens only
    /// if handlers run side by side.
    handled: Mutex<Vec<(String, String)>>,
    overlapping: AtomicBool,
    first_waited: AtomicBool,
    second_started: tokio::sync::Notify,
    in_flight: AtomicUsize,
    most_at_once: AtomicUsize,
    /// With `recording_transactions`: the PostgreSQL transaction of each call.
    recording_transactions: AtomicBool,
    transactions: Mutex<Vec<i64>>,
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, _: Prepared) -> Result<(), HandlerError> {
        self.calls.lock().unwrap().push(event.id.clone());
        if self.recording_transactions.load(Ordering::SeqCst) {
            let sql = "SELECT txid_current() AS id";
            let row = txn.query_one_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await.unwrap().unwrap();
            self.transactions.lock().unwrap().push(row.try_get("", "id").unwrap());
        }
        if self.overlapping.load(Ordering::SeqCst) {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            if now > 1 {
                self.second_started.notify_one();
            } else if !self.first_waited.swap(true, Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_secs(10), self.second_started.notified()).await;
            }
            let payload: ev::CaseCreated = docket_kit::events::unpack(event, "docket.events.v1.CaseCreated").unwrap();
            let seq = payload.case.map(|c| c.case_number).unwrap_or_default();
            self.handled.lock().unwrap().push((event.subject.clone(), seq));
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(HandlerError::transient("the printer is on fire"));
        }
        if self.refusing.load(Ordering::SeqCst) {
            return Err(HandlerError::permanent("the printer does not exist"));
        }
        if self.refused_subject.lock().unwrap().as_deref() == Some(event.subject.as_str()) {
            return Err(HandlerError::permanent("this case has no printer"));
        }
        Ok(())
    }
}

impl Recorder {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

/// A consuming service for tests: a fresh schema with an inbox, its own
/// exchange and queue.
struct Rig {
    db: DatabaseConnection,
    schema: String,
    settings: EventSettings,
    broker: Arc<dyn Broker>,
    handler: Arc<Recorder>,
    queue: String,
    _cleanup: Cleanup,
    /// Holds a SQLite database's file.
    _dir: tempfile::TempDir,
}

const SERVICE: &str = "consumer";

/// The broker a test runs on, and the type of its queues on RabbitMQ.
type Bus = (EventBackend, QueueType);
const RABBITMQ: Bus = (EventBackend::Rabbitmq, QueueType::Classic);

impl Rig {
    async fn new(bus: Bus) -> Rig {
        Rig::on(bus, Backend::Postgres).await
    }

    /// A rig whose inbox (and what handlers write) is in a database of `database`'s kind.
    async fn on((backend, queue_type): Bus, database: Backend) -> Rig {
        check_postgres().await;
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let dir = tempfile::tempdir().unwrap();
        let database = match database {
            Backend::Postgres => DatabaseSettings {
                url: postgres_url(),
                schema_prefix: format!("t{}_", &unique[16..]),
                max_connections: 4,
                connect_timeout_secs: 5,
                migrate_on_start: false,
            },
            Backend::Sqlite => DatabaseSettings {
                url: format!("sqlite://{}/{{service}}.db?mode=rwc", dir.path().display()),
                schema_prefix: String::new(),
                max_connections: 1,
                connect_timeout_secs: 5,
                migrate_on_start: false,
            },
        };
        let db = docket_kit::db::connect(&database, SERVICE).await.unwrap();
        docket_migrations::shared::create_inbox(&SchemaManager::new(&db)).await.unwrap();
        let settings = EventSettings { queue_type, ..test_events(backend, &unique[16..]) };
        let broker: Arc<dyn Broker> = match backend {
            EventBackend::Rabbitmq => {
                let connection = connect().await;
                declare_exchange(&connection.create_channel().await.unwrap(), &settings.exchange).await;
                Arc::new(RabbitBroker::new(&settings.url, &settings.exchange).with_queue_type(queue_type))
            }
            EventBackend::InProcess => InProcessBroker::new(),
        };
        let queue = settings.queue(SERVICE);
        Rig {
            db,
            schema: format!("{}{SERVICE}", database.schema_prefix),
            _cleanup: Cleanup { exchange: settings.exchange.clone(), queues: vec![queue.clone()] },
            settings,
            broker,
            handler: Arc::default(),
            queue,
            _dir: dir,
        }
    }

    fn spec(&self) -> ConsumerSpec {
        ConsumerSpec { service: SERVICE.to_owned(), bindings: vec!["case.*".to_owned()] }
    }

    /// Declares the queue (a subscription that is dropped right away).
    async fn declare(&self) {
        drop(self.broker.subscribe(&self.queue, &self.spec().bindings, 1).await.unwrap());
    }

    async fn publish(&self, envelope: &Envelope) {
        let body = envelope.encode_to_vec();
        self.broker
            .publish(&Outgoing { id: &envelope.id, routing_key: &envelope.r#type, body: &body, traceparent: "" })
            .await
            .unwrap();
    }

    fn start(&self) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(consume(
            self.broker.clone(),
            self.db.clone(),
            self.settings.clone(),
            self.spec(),
            self.handler.clone(),
            stopping,
        ));
        (stop, task)
    }

    async fn handled(&self) -> u64 {
        docket_kit::events::consumer::entity::Entity::find().count(&self.db).await.unwrap()
    }

    /// Whether the event's inbox row is there: its handler's transaction committed.
    async fn has_handled(&self, event_id: &str) -> bool {
        docket_kit::events::consumer::entity::Entity::find_by_id((SERVICE.to_owned(), event_id.to_owned()))
            .one(&self.db)
            .await
            .unwrap()
            .is_some()
    }

    /// Waits until `done` holds (see [`eventually`]).
    async fn wait_for(&self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        eventually(what, async || if done().await { Ok(()) } else { Err(format!("{} events handled", self.handled().await)) })
            .await;
    }

    /// RabbitMQ's view of the queue: (messages ready, consumers).
    async fn queue_state(&self) -> (u32, u32) {
        queue_state(&self.queue).await
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok(db) = sea_orm::Database::connect(postgres_url()).await {
                    let _ = docket_kit::db::drop_schema(&db, &schema).await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

fn event(subject: &str) -> Envelope {
    let payload = ev::CaseCreated { case: None };
    envelope("case", "case.created", subject, "test", docket_kit::time::now(), pack("docket.events.v1.CaseCreated", &payload))
}

async fn a_duplicate_event_is_handled_once(bus: Bus) {
    let rig = Rig::new(bus).await;
    rig.declare().await;
    let (stop, task) = rig.start();
    let first = event("case-1");
    rig.publish(&first).await;
    rig.publish(&first).await; // the relay may publish twice after a failure
    let second = event("case-1");
    rig.publish(&second).await;
    // Events about one subject are handled in order: once `second`,
    // published after the duplicate, is handled, so is the duplicate.
    rig.wait_for("the event published after the duplicate handled", async || rig.has_handled(&second.id).await).await;
    let calls = rig.handler.calls();
    assert_eq!(calls.iter().filter(|id| **id == first.id).count(), 1, "{calls:?}");
    assert_eq!(rig.handled().await, 2);
    let _ = stop.send(true);
    task.await.unwrap();
}

/// A failure that may pass is retried with back-off for the patience (one
/// second in the tests), then dead-lettered with its reason.
async fn a_failing_handler_is_retried_then_dead_lettered_with_its_reason_and_replay_works(bus: Bus) {
    let rig = Rig::new(bus).await;
    rig.declare().await;
    rig.handler.failing.store(true, Ordering::SeqCst);
    let (stop, task) = rig.start();
    let doomed = event("case-doomed");
    rig.publish(&doomed).await;
    rig.wait_for("a dead letter", async || rig.broker.dead_letters(&rig.queue).await.unwrap().len() == 1).await;
    let dead = rig.broker.dead_letters(&rig.queue).await.unwrap();
    assert_eq!(dead[0].id, doomed.id);
    assert!(dead[0].attempts > 1, "retried first: {dead:?}");
    assert!(dead[0].reason.contains("the printer is on fire"), "{:?}", dead[0].reason);
    assert!(dead[0].reason.contains("still failing after"), "{:?}", dead[0].reason);
    assert_eq!(rig.handler.calls().len() as u32, dead[0].attempts, "one call per attempt");
    assert_eq!(rig.handled().await, 0);
    // Listing leaves the dead letters where they are, at once: a replay
    // right after it finds them (a quorum queue takes back what a closed
    // channel read only after the close).
    assert_eq!(rig.broker.dead_letter_count(&rig.queue).await.unwrap(), 1);
    assert_eq!(rig.broker.dead_letters(&rig.queue).await.unwrap().len(), 1);

    rig.handler.failing.store(false, Ordering::SeqCst);
    assert_eq!(rig.broker.replay_dead_letters(&rig.queue).await.unwrap(), 1);
    rig.wait_for("the replayed event handled", async || rig.handled().await == 1).await;
    assert!(rig.broker.dead_letters(&rig.queue).await.unwrap().is_empty());
    let _ = stop.send(true);
    task.await.unwrap();
}

/// A failure that cannot pass goes to the dead letters at once.
async fn a_handler_refusal_that_cannot_pass_is_dead_lettered_at_once(bus: Bus) {
    let rig = Rig::new(bus).await;
    rig.declare().await;
    rig.handler.refusing.store(true, Ordering::SeqCst);
    let (stop, task) = rig.start();
    let doomed = event("case-refused");
    rig.publish(&doomed).await;
    rig.wait_for("a dead letter", async || rig.broker.dead_letters(&rig.queue).await.unwrap().len() == 1).await;
    let dead = rig.broker.dead_letters(&rig.queue).await.unwrap();
    assert_eq!((dead[0].id.as_str(), dead[0].attempts), (doomed.id.as_str(), 1), "{dead:?}");
    assert!(dead[0].reason.contains("the printer does not exist"), "{:?}", dead[0].reason);
    assert_eq!(rig.handler.calls().len(), 1, "not retried");
    let _ = stop.send(true);
    task.await.unwrap();
}

/// Events about different subjects are handled side by side; those about
/// one subject one after another, in the order they were published.
async fn events_of_one_subject_keep_their_order_while_subjects_are_handled_at_once(bus: Bus) {
    let mut rig = Rig::new(bus).await;
    // Subjects are handled side by side once more events come together
    // than one batch takes (six subjects here).
    rig.settings.batch = 2;
    rig.declare().await;
    rig.handler.overlapping.store(true, Ordering::SeqCst);
    let subjects: Vec<String> = (0..6).map(|n| format!("case-{n}")).collect();
    for seq in 0..8 {
        for subject in &subjects {
            let mut numbered = event(subject);
            let case = docket_proto::case::v1::Case { case_number: format!("{seq:02}"), ..Default::default() };
            numbered.payload = Some(pack("docket.events.v1.CaseCreated", &ev::CaseCreated { case: Some(case) }));
            rig.publish(&numbered).await;
        }
    }
    let (stop, task) = rig.start();
    rig.wait_for("every event handled", async || rig.handled().await == 48).await;
    let handled = rig.handler.handled.lock().unwrap().clone();
    for subject in &subjects {
        let order: Vec<&str> = handled.iter().filter(|(s, _)| s == subject).map(|(_, seq)| seq.as_str()).collect();
        let expected: Vec<String> = (0..8).map(|seq| format!("{seq:02}")).collect();
        assert_eq!(order, expected, "{subject}'s events in the order published");
    }
    assert!(rig.handler.most_at_once.load(Ordering::SeqCst) > 1, "handlers of different subjects overlapped");
    let _ = stop.send(true);
    task.await.unwrap();
}

/// Events about different subjects that came together (a relay's batch)
/// are handled in one transaction, not one each; more than a batch takes
/// are split into batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_that_came_together_are_handled_in_one_transaction() {
    let mut rig = Rig::new((EventBackend::InProcess, QueueType::Classic)).await;
    rig.settings.batch = 5;
    rig.declare().await;
    rig.handler.recording_transactions.store(true, Ordering::SeqCst);
    // Published before the consumer starts: they are waiting together.
    for n in 0..7 {
        rig.publish(&event(&format!("case-{n}"))).await;
    }
    let (stop, task) = rig.start();
    rig.wait_for("every event handled", async || rig.handled().await == 7).await;
    let transactions = rig.handler.transactions.lock().unwrap().clone();
    let mut distinct = transactions.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(transactions.len(), 7, "each handled once: {transactions:?}");
    assert_eq!(distinct.len(), 2, "a batch of five and one of two: {transactions:?}");
    let _ = stop.send(true);
    task.await.unwrap();
}

async fn a_malformed_message_is_dead_lettered_without_calling_the_handler(bus: Bus) {
    let rig = Rig::new(bus).await;
    rig.declare().await;
    let (stop, task) = rig.start();
    rig.broker
        .publish(&Outgoing { id: "garbage-1", routing_key: "case.created", body: b"\xff\xffnot protobuf", traceparent: "" })
        .await
        .unwrap();
    let empty = Envelope::default().encode_to_vec();
    rig.broker.publish(&Outgoing { id: "empty-1", routing_key: "case.created", body: &empty, traceparent: "" }).await.unwrap();
    rig.wait_for("two dead letters", async || rig.broker.dead_letters(&rig.queue).await.unwrap().len() == 2).await;
    let dead = rig.broker.dead_letters(&rig.queue).await.unwrap();
    assert!(dead.iter().all(|d| d.reason.starts_with("malformed event")), "{dead:?}");
    assert!(rig.handler.calls().is_empty());
    assert_eq!(rig.handled().await, 0);
    let _ = stop.send(true);
    task.await.unwrap();
}

macro_rules! on_every_broker {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use docket_kit::events::{EventBackend, QueueType};

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn rabbitmq() {
                    super::$test(super::RABBITMQ).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn rabbitmq_quorum_queues() {
                    super::$test((EventBackend::Rabbitmq, QueueType::Quorum)).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn in_process() {
                    // The in-process broker has no queue types.
                    super::$test((EventBackend::InProcess, QueueType::Classic)).await
                }
            }
        )*
    };
}

on_every_broker!(
    a_duplicate_event_is_handled_once,
    a_failing_handler_is_retried_then_dead_lettered_with_its_reason_and_replay_works,
    a_handler_refusal_that_cannot_pass_is_dead_lettered_at_once,
    events_of_one_subject_keep_their_order_while_subjects_are_handled_at_once,
    a_malformed_message_is_dead_lettered_without_calling_the_handler,
);

/// The next `n` deliveries of a subscription.
async fn take(subscription: &mut docket_kit::events::Subscription, n: usize) -> Vec<docket_kit::events::Delivery> {
    let mut deliveries = Vec::new();
    while deliveries.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), subscription.deliveries.recv()).await;
        deliveries.push(next.expect("a delivery within 10 s").expect("the subscription is open"));
    }
    deliveries
}

/// Events that queued up are handled in one transaction. A redelivery of
/// an event handled before is acked without its handler (the others still
/// commit together, with no read of the inbox first), a malformed one
/// is dead-lettered, and when one handler fails, the batch is rolled back
/// and each event handled on its own: the others commit, only the failing
/// one is held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_together_and_a_failing_event_holds_back_only_itself() {
    let rig = Rig::new(RABBITMQ).await;
    let mut subscription = rig.broker.subscribe(&rig.queue, &rig.spec().bindings, 16).await.unwrap();
    let seen = event("case-seen");
    rig.publish(&seen).await;
    let outcomes = handle_batch(&rig.db, &rig.settings, SERVICE, rig.handler.as_ref(), take(&mut subscription, 1).await).await;
    assert_eq!(outcomes, [Outcome::Handled]);

    // All well: one pass, each handler called once, in one transaction.
    let good: Vec<Envelope> = (0..3).map(|n| event(&format!("case-{n}"))).collect();
    for envelope in &good {
        rig.publish(envelope).await;
    }
    rig.publish(&seen).await;
    rig.handler.recording_transactions.store(true, Ordering::SeqCst);
    let outcomes = handle_batch(&rig.db, &rig.settings, SERVICE, rig.handler.as_ref(), take(&mut subscription, 4).await).await;
    rig.handler.recording_transactions.store(false, Ordering::SeqCst);
    assert_eq!(outcomes, [Outcome::Handled, Outcome::Handled, Outcome::Handled, Outcome::Duplicate], "in delivery order");
    for envelope in &good {
        assert!(rig.has_handled(&envelope.id).await);
    }
    assert_eq!(rig.handler.calls().len(), 4, "each event's handler ran once: {:?}", rig.handler.calls());
    let transactions = rig.handler.transactions.lock().unwrap().clone();
    assert_eq!(transactions.len(), 3, "{transactions:?}");
    assert!(
        transactions.iter().all(|txn| *txn == transactions[0]),
        "one transaction, the event handled before left out: {transactions:?}"
    );

    // One refuses: the batch is rolled back and each handled alone.
    let more: Vec<Envelope> = (3..5).map(|n| event(&format!("case-{n}"))).collect();
    let refused = event("case-refused");
    *rig.handler.refused_subject.lock().unwrap() = Some("case-refused".to_owned());
    rig.publish(&more[0]).await;
    rig.publish(&refused).await;
    rig.broker
        .publish(&Outgoing { id: "garbage-2", routing_key: "case.created", body: b"\xff\xffnot protobuf", traceparent: "" })
        .await
        .unwrap();
    rig.publish(&more[1]).await;
    let outcomes = handle_batch(&rig.db, &rig.settings, SERVICE, rig.handler.as_ref(), take(&mut subscription, 4).await).await;
    assert!(
        matches!(
            outcomes.as_slice(),
            [Outcome::Handled, Outcome::DeadLettered { reason: refusal }, Outcome::DeadLettered { reason: garbage }, Outcome::Handled]
                if refusal.contains("has no printer") && garbage.starts_with("malformed event")
        ),
        "in delivery order: {outcomes:?}"
    );
    for envelope in &more {
        assert!(rig.has_handled(&envelope.id).await, "the others committed");
    }
    assert!(!rig.has_handled(&refused.id).await, "nothing of the refused event committed");
    let calls = rig.handler.calls();
    assert_eq!(calls.iter().filter(|id| **id == more[0].id).count(), 2, "in the batch, then alone: {calls:?}");
    assert_eq!(calls.iter().filter(|id| **id == refused.id).count(), 2, "in the batch, then alone: {calls:?}");
    rig.wait_for("two dead letters", async || rig.broker.dead_letters(&rig.queue).await.unwrap().len() == 2).await;
    let dead = rig.broker.dead_letters(&rig.queue).await.unwrap();
    let mut reasons: Vec<&str> = dead.iter().map(|d| d.reason.as_str()).collect();
    reasons.sort_unstable();
    assert!(reasons[0].starts_with("malformed event") && reasons[1].contains("has no printer"), "{reasons:?}");
    assert_eq!(rig.handled().await, 6);
    drop(subscription);
}

/// Counts events in tables of its own. An event about a `handled-…`
/// subject is counted by `handle`; one about a `bad-…` subject cannot be
/// read; any other event's work is its rows: a count row, and its subject
/// (once: a second event about it adds nothing); an event about a
/// `wide-…` subject counts [`WIDE`] times, more rows than one statement
/// takes. The table refuses the subject `case-broken`, a failure that may
/// pass.
struct Tally;

const TALLY: &str = "INSERT INTO tally (event_id, subject, via)";

/// Count rows of a `wide-…` event: 66,000 bind parameters, more than
/// PostgreSQL and SQLite take in one statement.
const WIDE: usize = 22_000;

impl Tally {
    async fn create_tables(db: &DatabaseConnection) {
        for sql in [
            "CREATE TABLE tally (event_id TEXT NOT NULL, subject TEXT NOT NULL CHECK (subject <> 'case-broken'), via TEXT NOT NULL)",
            "CREATE TABLE tally_subjects (subject TEXT PRIMARY KEY)",
        ] {
            db.execute_unprepared(sql).await.unwrap();
        }
    }

    fn count(event: &Envelope, via: &str) -> NewRows {
        let mut rows = NewRows::new(TALLY, 3, "");
        rows.push([event.id.as_str().into(), event.subject.as_str().into(), via.into()]);
        rows
    }

    /// (subject, via) of every count row of `event`.
    async fn counted(db: &DatabaseConnection, event: &Envelope) -> Vec<(String, String)> {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                format!(
                    "SELECT subject, via FROM tally WHERE event_id = {}",
                    docket_kit::db::placeholder(db.get_database_backend(), 1)
                ),
                [event.id.as_str().into()],
            ))
            .await
            .unwrap();
        rows.iter().map(|row| (row.try_get("", "subject").unwrap(), row.try_get("", "via").unwrap())).collect()
    }

    async fn rows_in(db: &DatabaseConnection, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
        row.try_get("", "n").unwrap()
    }
}

#[async_trait::async_trait]
impl EventHandler for Tally {
    fn rows(&self, event: &Envelope) -> Result<Option<Vec<NewRows>>, HandlerError> {
        if event.subject.starts_with("bad-") {
            return Err(HandlerError::permanent("no tally for this subject"));
        }
        if event.subject.starts_with("handled-") {
            return Ok(None);
        }
        let mut subject = NewRows::new("INSERT INTO tally_subjects (subject)", 1, "ON CONFLICT (subject) DO NOTHING");
        subject.push([event.subject.as_str().into()]);
        let mut count = Tally::count(event, "rows");
        if event.subject.starts_with("wide-") {
            for _ in 1..WIDE {
                count.push([event.id.as_str().into(), event.subject.as_str().into(), "rows".into()]);
            }
        }
        Ok(Some(vec![count, subject]))
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, _: Prepared) -> Result<(), HandlerError> {
        Tally::count(event, "handle").insert(txn).await?;
        Ok(())
    }
}

/// An event whose work is rows is written with its inbox row (on
/// PostgreSQL in one statement): once, never for a copy handled before or
/// claimed at the same moment, and not at all when its rows cannot be made.
async fn an_event_whose_work_is_rows_is_written_once_with_its_inbox_row(database: Backend) {
    let rig = Rig::on(RABBITMQ, database).await;
    Tally::create_tables(&rig.db).await;
    let mut subscription = rig.broker.subscribe(&rig.queue, &rig.spec().bindings, 16).await.unwrap();
    let handle = async |delivery| handle_delivery(&rig.db, &rig.settings, SERVICE, &Tally, delivery).await;

    let first = event("case-1");
    rig.publish(&first).await;
    assert_eq!(handle(take(&mut subscription, 1).await.remove(0)).await, Outcome::Handled);
    assert_eq!(Tally::counted(&rig.db, &first).await, [("case-1".to_owned(), "rows".to_owned())]);
    assert!(rig.has_handled(&first.id).await);

    rig.publish(&first).await;
    assert_eq!(handle(take(&mut subscription, 1).await.remove(0)).await, Outcome::Duplicate);
    assert_eq!(Tally::counted(&rig.db, &first).await.len(), 1, "a copy handled before writes nothing");

    let bad = event("bad-1");
    rig.publish(&bad).await;
    let outcome = handle(take(&mut subscription, 1).await.remove(0)).await;
    assert!(matches!(&outcome, Outcome::DeadLettered { reason } if reason.contains("no tally")), "{outcome:?}");
    assert!(!rig.has_handled(&bad.id).await);

    if database == Backend::Postgres {
        // A copy handled at the same moment: another transaction has
        // claimed the event and not committed yet; this one waits for it,
        // then finds the event handled and writes nothing.
        let racing = event("case-2");
        let holder = rig.db.begin().await.unwrap();
        holder
            .execute_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                format!("{TALLY_INBOX} VALUES ($1, $2, $3, now())"),
                [SERVICE.into(), racing.id.as_str().into(), racing.r#type.as_str().into()],
            ))
            .await
            .unwrap();
        let pid: i32 = holder
            .query_one_raw(Statement::from_string(sea_orm::DbBackend::Postgres, "SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "pid")
            .unwrap();
        rig.publish(&racing).await;
        let delivery = take(&mut subscription, 1).await.remove(0);
        let (db, settings) = (rig.db.clone(), rig.settings.clone());
        let copy = tokio::spawn(async move { handle_delivery(&db, &settings, SERVICE, &Tally, delivery).await });
        eventually("the copy waits for the other claim", async || {
            if blocked_by(&rig.db, pid).await.is_empty() { Err("not waiting yet".to_owned()) } else { Ok(()) }
        })
        .await;
        holder.commit().await.unwrap();
        assert_eq!(copy.await.unwrap(), Outcome::Duplicate);
        assert!(Tally::counted(&rig.db, &racing).await.is_empty(), "the losing copy wrote no rows");
    }
    // A row that fails to insert takes its inbox row with it: retried later.
    // (Last: its retry comes back to this subscription.)
    let broken = event("case-broken");
    rig.publish(&broken).await;
    let outcome = handle(take(&mut subscription, 1).await.remove(0)).await;
    assert!(matches!(outcome, Outcome::Retried { attempt: 1, .. }), "{outcome:?}");
    assert!(!rig.has_handled(&broken.id).await);
    // Of all these events, only the first wrote rows.
    assert_eq!((Tally::rows_in(&rig.db, "tally").await, Tally::rows_in(&rig.db, "tally_subjects").await), (1, 1));

    drop(subscription);
}

/// The inbox's insert, as a test writes it by hand.
const TALLY_INBOX: &str = "INSERT INTO inbox (consumer, event_id, event_type, handled_at)";

/// A batch writes its events' rows a table at a time, after the handles of
/// the events that need them, with one inbox row per event; a copy, an
/// event handled before and one that cannot be read are settled as alone,
/// and a row that fails rolls the batch back: each event is then handled
/// on its own and only the failing one waits.
async fn a_batch_writes_its_rows_together_and_a_failing_row_holds_back_only_its_event(database: Backend) {
    let rig = Rig::on(RABBITMQ, database).await;
    Tally::create_tables(&rig.db).await;
    let mut subscription = rig.broker.subscribe(&rig.queue, &rig.spec().bindings, 16).await.unwrap();
    let batch = async |deliveries| handle_batch(&rig.db, &rig.settings, SERVICE, &Tally, deliveries).await;
    let seen = event("case-seen");
    rig.publish(&seen).await;
    assert_eq!(batch(take(&mut subscription, 1).await).await, [Outcome::Handled]);

    // Only rows: one statement on PostgreSQL.
    let (a, b) = (event("case-a"), event("case-a"));
    for envelope in [&a, &b] {
        rig.publish(envelope).await;
    }
    assert_eq!(batch(take(&mut subscription, 2).await).await, [Outcome::Handled, Outcome::Handled]);
    assert_eq!(Tally::counted(&rig.db, &a).await.len() + Tally::counted(&rig.db, &b).await.len(), 2);
    assert_eq!(Tally::rows_in(&rig.db, "tally_subjects").await, 2, "case-seen and case-a, once");

    let (c, handled, bad) = (event("case-c"), event("handled-d"), event("bad-e"));
    for envelope in [&c, &handled, &bad, &c, &seen] {
        rig.publish(envelope).await;
    }
    let outcomes = batch(take(&mut subscription, 5).await).await;
    assert!(
        matches!(
            outcomes.as_slice(),
            [Outcome::Handled, Outcome::Handled, Outcome::DeadLettered { reason }, Outcome::Duplicate, Outcome::Duplicate]
                if reason.contains("no tally")
        ),
        "in delivery order: {outcomes:?}"
    );
    assert_eq!(Tally::counted(&rig.db, &c).await, [("case-c".to_owned(), "rows".to_owned())]);
    assert_eq!(Tally::counted(&rig.db, &handled).await, [("handled-d".to_owned(), "handle".to_owned())]);
    assert_eq!(Tally::counted(&rig.db, &seen).await.len(), 1, "handled before: counted once");
    assert!(!rig.has_handled(&bad.id).await);

    let (f, broken, g) = (event("case-f"), event("case-broken"), event("handled-g"));
    for envelope in [&f, &broken, &g] {
        rig.publish(envelope).await;
    }
    let outcomes = batch(take(&mut subscription, 3).await).await;
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Handled, Outcome::Retried { attempt: 1, .. }, Outcome::Handled]),
        "in delivery order: {outcomes:?}"
    );
    assert_eq!(Tally::counted(&rig.db, &f).await.len(), 1);
    assert_eq!(Tally::counted(&rig.db, &g).await.len(), 1);
    assert!(!rig.has_handled(&broken.id).await);
    // seen, a, b, c, handled-d, f, handled-g
    assert_eq!((rig.handled().await, Tally::rows_in(&rig.db, "tally").await), (7, 7));
    drop(subscription);
}

/// Rows beyond what one statement takes are written in parts, in one
/// transaction with the inbox row: alone and in a batch.
async fn rows_beyond_one_statement_are_written_in_parts(database: Backend) {
    let rig = Rig::on(RABBITMQ, database).await;
    Tally::create_tables(&rig.db).await;
    let mut subscription = rig.broker.subscribe(&rig.queue, &rig.spec().bindings, 16).await.unwrap();
    let wide = event("wide-1");
    rig.publish(&wide).await;
    let outcome = handle_delivery(&rig.db, &rig.settings, SERVICE, &Tally, take(&mut subscription, 1).await.remove(0)).await;
    assert_eq!(outcome, Outcome::Handled);
    assert_eq!(Tally::counted(&rig.db, &wide).await.len(), WIDE);

    let (more, plain) = (event("wide-2"), event("case-1"));
    for envelope in [&more, &plain, &wide] {
        rig.publish(envelope).await;
    }
    let outcomes = handle_batch(&rig.db, &rig.settings, SERVICE, &Tally, take(&mut subscription, 3).await).await;
    assert_eq!(outcomes, [Outcome::Handled, Outcome::Handled, Outcome::Duplicate]);
    assert_eq!(Tally::counted(&rig.db, &more).await.len(), WIDE);
    assert_eq!(Tally::rows_in(&rig.db, "tally").await, i64::try_from(2 * WIDE + 1).unwrap());
    assert_eq!(rig.handled().await, 3);
    drop(subscription);
}

mod rows_work {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_parts_when_wide_on_postgres() {
        rows_beyond_one_statement_are_written_in_parts(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_parts_when_wide_on_sqlite() {
        rows_beyond_one_statement_are_written_in_parts(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_with_the_inbox_row_on_postgres() {
        an_event_whose_work_is_rows_is_written_once_with_its_inbox_row(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_with_the_inbox_row_on_sqlite() {
        an_event_whose_work_is_rows_is_written_once_with_its_inbox_row(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn together_in_a_batch_on_postgres() {
        a_batch_writes_its_rows_together_and_a_failing_row_holds_back_only_its_event(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn together_in_a_batch_on_sqlite() {
        a_batch_writes_its_rows_together_and_a_failing_row_holds_back_only_its_event(Backend::Sqlite).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_crashes_before_its_ack_gets_the_event_again_and_handles_it_once() {
    let rig = Rig::new(RABBITMQ).await;
    rig.declare().await;
    // The consumer that will "crash" reaches RabbitMQ through a proxy we cut.
    let proxy = TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let crashing = RabbitBroker::new(&format!("amqp://guest:guest@{}/%2f", proxy.addr), &rig.settings.exchange);
    let mut subscription = crashing.subscribe(&rig.queue, &rig.spec().bindings, 1).await.unwrap();
    let sent = event("case-crash");
    rig.publish(&sent).await;
    let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.deliveries.recv()).await.unwrap().unwrap();
    assert!(!delivery.redelivered);

    proxy.cut();
    // The handler's transaction commits, then the ack cannot reach the broker.
    let outcome = handle_delivery(&rig.db, &rig.settings, SERVICE, rig.handler.as_ref(), delivery).await;
    assert_eq!(outcome, Outcome::Handled);
    assert_eq!(rig.handled().await, 1);

    // RabbitMQ gives the unacked message to the next consumer.
    let mut next = rig.broker.subscribe(&rig.queue, &rig.spec().bindings, 1).await.unwrap();
    let again = tokio::time::timeout(Duration::from_secs(10), next.deliveries.recv()).await.expect("redelivered").unwrap();
    assert!(again.redelivered);
    let outcome = handle_delivery(&rig.db, &rig.settings, SERVICE, rig.handler.as_ref(), again).await;
    assert_eq!(outcome, Outcome::Duplicate);
    assert_eq!(rig.handler.calls(), vec![sent.id.clone()], "handled once");
    assert_eq!(rig.handled().await, 1);
    drop(next);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_connection_is_cut_subscribes_again_and_misses_nothing() {
    let mut rig = Rig::new(RABBITMQ).await;
    rig.declare().await;
    // The consumer reaches RabbitMQ through a proxy; the publisher does not.
    let proxy = TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let publisher = rig.broker.clone();
    rig.broker = Arc::new(RabbitBroker::new(&format!("amqp://guest:guest@{}/%2f", proxy.addr), &rig.settings.exchange));
    let (stop, task) = rig.start();
    let before = event("case-before");
    publisher
        .publish(&Outgoing { id: &before.id, routing_key: &before.r#type, body: &before.encode_to_vec(), traceparent: "" })
        .await
        .unwrap();
    rig.wait_for("the first event", async || rig.handled().await == 1).await;

    proxy.cut();
    let during: Vec<Envelope> = (0..3).map(|i| event(&format!("case-during-{i}"))).collect();
    for envelope in &during {
        publisher
            .publish(&Outgoing {
                id: &envelope.id,
                routing_key: &envelope.r#type,
                body: &envelope.encode_to_vec(),
                traceparent: "",
            })
            .await
            .unwrap();
    }
    // RabbitMQ holds all three, ready, and has no consumer to give them to.
    let expected = (u32::try_from(during.len()).unwrap(), 0);
    eventually("RabbitMQ to hold the events with no consumer on the queue", async || {
        let (ready, consumers) = rig.queue_state().await;
        if (ready, consumers) == expected { Ok(()) } else { Err(format!("{ready} ready, {consumers} consumers")) }
    })
    .await;
    assert_eq!(rig.handled().await, 1, "nothing reaches a consumer without a connection");

    proxy.restore();
    rig.wait_for("the events published during the cut", async || rig.handled().await == 4).await;
    let calls = rig.handler.calls();
    for envelope in &during {
        assert_eq!(calls.iter().filter(|id| **id == envelope.id).count(), 1);
    }
    let _ = stop.send(true);
    task.await.unwrap();
}
