//! The event backbone every service shares.
//!
//! - A service writes its events to its own `outbox` table in the same
//!   transaction as the change ([`outbox::append`]): no event without its
//!   change, no change without its event.
//! - A [`outbox::Relay`] publishes the outbox to one topic exchange (routing
//!   key = event type) with publisher confirms, marks rows sent only after the
//!   confirm, keeps order per subject, and waits out broker outages.
//! - A consumer ([`consumer::consume`]) reads its service's durable queue,
//!   runs the handler in a transaction with an inbox table that drops
//!   duplicates, acks after commit, retries with back-off and dead-letters
//!   after the last attempt.
//! - The [`Broker`] is RabbitMQ ([`rabbit::RabbitBroker`]) in production and
//!   [`memory::InProcessBroker`] under `docket dev`; nothing else knows which.

pub mod consumer;
pub mod memory;
pub mod outbox;
pub mod rabbit;

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use docket_proto::events::v1::Envelope;
use opentelemetry::propagation::Injector;
use serde::Deserialize;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::settings::InvalidSetting;

/// Which broker carries events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventBackend {
    /// RabbitMQ over AMQP (production).
    Rabbitmq,
    /// Inside this process (`docket dev`, tests): same contract, no server.
    InProcess,
}

/// How RabbitMQ keeps a consumer's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// On one node: a single broker, or a cluster that can lose the queue's node.
    Classic,
    /// Replicated by Raft over the cluster's nodes: a node loss loses nothing.
    Quorum,
}

impl QueueType {
    pub fn name(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSettings {
    /// `rabbitmq` or `in_process`.
    pub backend: EventBackend,
    /// AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
    /// The topic exchange every service publishes to.
    pub exchange: String,
    /// Queue names are this prefix plus the consuming service's name.
    pub queue_prefix: String,
    /// `classic` or `quorum` (RabbitMQ clusters): the type of every queue
    /// Docket declares. Changing it on an install with queues takes
    /// `docket events migrate-queues`.
    pub queue_type: QueueType,
    /// Unacknowledged deliveries a consumer holds at once.
    pub prefetch: u16,
    /// Batches a consumer handles at once: events about one subject (a
    /// case, a contact) one after another in the order they came, events
    /// about different subjects side by side once more came together than
    /// one batch takes.
    pub handlers: u16,
    /// Events that came together, or queued up on one handler, are handled
    /// together, up to this many: each still gets its own `prepare`, and
    /// all share one transaction and one commit. 1 handles each on its own.
    pub batch: u16,
    /// How long an event whose handler fails for a reason that may pass
    /// (a service it needs is down, a timeout) is retried before it goes to
    /// the dead-letter queue. A failure that cannot pass goes there at once.
    pub retry_patience_secs: u64,
    /// First retry delay; each further retry doubles it, up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Outbox rows the relay publishes per transaction.
    pub relay_batch: u64,
    /// How often the relay looks for rows written by other processes.
    pub relay_poll_ms: u64,
    /// While rows keep coming, the shortest time from the start of one
    /// batch (that found rows, but not a full one) to the start of the
    /// next: under a steady flow of writes the relay publishes fewer,
    /// bigger batches, each a transaction of its own, and consumers get
    /// bigger batches too. An event written after a quiet spell is still
    /// published at once. 0 looks again at once.
    pub relay_linger_ms: u64,
    /// Sent outbox rows are deleted after this many hours.
    pub retention_hours: u64,
    /// Comma-separated consuming services of this install that run in
    /// other processes: every process declares their queues too, so events
    /// published before one first starts wait for it. Empty: only the
    /// queues of the consumers this process runs (a service that is not
    /// deployed gets no queue to fill).
    pub consumers: String,
}

impl EventSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.backend == EventBackend::Rabbitmq && !(self.url.starts_with("amqp://") || self.url.starts_with("amqps://")) {
            return Err(InvalidSetting::new("events.url", "must start with amqp:// or amqps://"));
        }
        if self.exchange.trim().is_empty() {
            return Err(InvalidSetting::new("events.exchange", "must not be empty"));
        }
        if self.prefetch == 0 {
            return Err(InvalidSetting::new("events.prefetch", "must be at least 1"));
        }
        if self.handlers == 0 || self.handlers > 256 {
            return Err(InvalidSetting::new("events.handlers", "must be between 1 and 256"));
        }
        if self.batch == 0 || self.batch > 1000 {
            return Err(InvalidSetting::new("events.batch", "must be between 1 and 1000"));
        }
        if self.retry_patience_secs == 0 {
            return Err(InvalidSetting::new("events.retry_patience_secs", "must be at least 1"));
        }
        if self.relay_batch == 0 {
            return Err(InvalidSetting::new("events.relay_batch", "must be at least 1"));
        }
        if self.relay_poll_ms == 0 {
            return Err(InvalidSetting::new("events.relay_poll_ms", "must be at least 1"));
        }
        Ok(())
    }

    /// The queue of a consuming service.
    pub fn queue(&self, service: &str) -> String {
        format!("{}{service}", self.queue_prefix)
    }

    /// The consumers (of `all`) whose queues a process running `running`
    /// declares: its own, and those `consumers` names.
    pub fn declared<'a>(
        &self,
        all: &[(&'a str, &'a [&'a str])],
        running: &[&str],
    ) -> Result<Vec<(&'a str, &'a [&'a str])>, InvalidSetting> {
        let named: Vec<&str> = self.consumers.split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
        if let Some(unknown) = named.iter().find(|name| !all.iter().any(|(service, _)| service == *name)) {
            let known: Vec<&str> = all.iter().map(|(service, _)| *service).collect();
            return Err(InvalidSetting::new(
                "events.consumers",
                format!("names {unknown:?}, which consumes no events; the consumers are {}", known.join(", ")),
            ));
        }
        Ok(all.iter().filter(|(service, _)| running.contains(service) || named.contains(service)).copied().collect())
    }

    /// Delay before attempt `attempt + 1` (attempt counts from 0).
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let factor = 1u64.checked_shl(attempt.min(20)).unwrap_or(u64::MAX);
        Duration::from_millis(self.retry_base_ms.saturating_mul(factor).min(self.retry_max_ms))
    }
}

/// How long to wait before trying the broker again after `failures` failed
/// tries in a row: doubling from 100 ms, and at most 2 s, so that
/// publishing and consuming resume within a couple of seconds of the broker
/// answering again, however long it was away.
pub fn reconnect_backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(5))).min(Duration::from_secs(2))
}

/// Builds the broker the settings name. `consumers` are the consuming
/// services with their bindings: their queues are declared before anything
/// is published, so no event is dropped for want of a queue.
pub fn broker(settings: &EventSettings, consumers: &[(&str, &[&str])]) -> Arc<dyn Broker> {
    let known: Vec<(String, Vec<String>)> = consumers
        .iter()
        .map(|(service, bindings)| (settings.queue(service), bindings.iter().map(|b| (*b).to_owned()).collect()))
        .collect();
    match settings.backend {
        EventBackend::Rabbitmq => Arc::new(
            rabbit::RabbitBroker::new(&settings.url, &settings.exchange)
                .with_queue_type(settings.queue_type)
                .with_known_queues(known),
        ),
        EventBackend::InProcess => {
            let broker = memory::InProcessBroker::new();
            broker.declare_known(&known);
            broker
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("broker unreachable: {0}")]
    Unavailable(String),
    #[error("the broker refused the message: {0}")]
    Rejected(String),
    /// The broker's state contradicts the settings; retrying will not help.
    #[error("{0}")]
    Conflict(String),
}

/// A message as the relay hands it to the broker.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub id: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub traceparent: &'a str,
}

/// A message that went to a dead-letter queue, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub routing_key: String,
    pub attempts: u32,
    pub reason: String,
    pub body: Vec<u8>,
}

/// How a delivery is settled. Each call consumes the delivery: a message is
/// acked, retried later, or dead-lettered, exactly once.
#[async_trait::async_trait]
pub trait Settle: Send {
    async fn ack(self: Box<Self>) -> Result<(), BusError>;
    /// Redelivers after `delay` with one more attempt counted.
    async fn retry(self: Box<Self>, delay: Duration, reason: &str) -> Result<(), BusError>;
    /// Moves the message to the dead-letter queue with its reason.
    async fn dead(self: Box<Self>, reason: &str) -> Result<(), BusError>;
}

/// One message delivered to a consumer.
pub struct Delivery {
    pub body: Vec<u8>,
    /// Earlier failed attempts (0 on the first delivery).
    pub attempts: u32,
    /// When the first of them was made (unix ms), if any.
    pub first_failure: Option<i64>,
    /// Whether the broker redelivered it (e.g. after a consumer crash).
    pub redelivered: bool,
    pub settle: Box<dyn Settle>,
}

/// Deliveries of one subscription; `None` when the connection is gone and
/// the consumer should subscribe again.
pub struct Subscription {
    pub deliveries: tokio::sync::mpsc::Receiver<Delivery>,
}

/// The broker behind the bus.
#[async_trait::async_trait]
pub trait Broker: Send + Sync {
    /// Publishes a persistent message to the exchange and waits for the
    /// broker's confirm.
    async fn publish(&self, message: &Outgoing<'_>) -> Result<(), BusError>;
    /// Publishes `messages` in order and waits for every confirm. On an
    /// error some may have been taken: the caller publishes them all again
    /// (consumers drop the copies by their inbox).
    async fn publish_all(&self, messages: &[Outgoing<'_>]) -> Result<(), BusError> {
        for message in messages {
            self.publish(message).await?;
        }
        Ok(())
    }
    /// Declares the durable queue `queue` (with its retry and dead-letter
    /// queues) bound to `bindings`, so events published from now on wait
    /// for their consumer.
    async fn declare(&self, queue: &str, bindings: &[String]) -> Result<(), BusError>;
    /// Declares the queue as [`Broker::declare`] does, binds it to `bindings`
    /// (routing key patterns such as `case.*`) and starts delivering.
    async fn subscribe(&self, queue: &str, bindings: &[String], prefetch: u16) -> Result<Subscription, BusError>;
    /// The messages in `queue`'s dead-letter queue, left where they are.
    async fn dead_letters(&self, queue: &str) -> Result<Vec<DeadLetter>, BusError>;
    /// Moves every dead letter of `queue` back onto it, attempts reset.
    async fn replay_dead_letters(&self, queue: &str) -> Result<usize, BusError>;
    /// How many dead letters `queue` has, without reading them.
    async fn dead_letter_count(&self, queue: &str) -> Result<u32, BusError>;
}

/// Packs a payload message into an `Any` named by its full proto name.
pub fn pack(full_name: &str, payload: &impl prost::Message) -> prost_types::Any {
    prost_types::Any { type_url: format!("type.googleapis.com/{full_name}"), value: payload.encode_to_vec() }
}

/// Unpacks a payload, checking its type.
pub fn unpack<M: prost::Message + Default>(envelope: &Envelope, full_name: &str) -> Result<M, String> {
    let any = envelope.payload.as_ref().ok_or("the envelope has no payload")?;
    if any.type_url.rsplit('/').next() != Some(full_name) {
        return Err(format!("payload is {}, expected {full_name}", any.type_url));
    }
    M::decode(any.value.as_slice()).map_err(|err| format!("payload does not decode as {full_name}: {err}"))
}

/// A new envelope for an event happening now, carrying the current trace.
pub fn envelope(
    source: &str,
    event_type: &str,
    subject: &str,
    actor: &str,
    at: DateTime<Utc>,
    payload: prost_types::Any,
) -> Envelope {
    let mut carrier = HashMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut MapInjector(&mut carrier)));
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.to_owned(),
        source: source.to_owned(),
        time: Some(crate::time::to_proto(at)),
        subject: subject.to_owned(),
        actor: actor.to_owned(),
        traceparent: carrier.remove("traceparent").unwrap_or_default(),
        tracestate: carrier.remove("tracestate").unwrap_or_default(),
        payload: Some(payload),
    }
}

struct MapInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The events of a case's own life, which the case service writes and the
/// services that follow cases (billing's clocks, notification's emails)
/// bind to.
pub const CASE_LIFECYCLE: [&str; 7] = [
    "case.created",
    "case.updated",
    "case.assigned",
    "case.status_changed",
    "case.closed",
    "case.reopened",
    "case.activity_added",
];

/// Whether a routing key matches an AMQP topic pattern (`*` one word, `#` any).
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(pattern: &[&str], key: &[&str]) -> bool {
        match (pattern.first(), key.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&pattern[1..], key) || (!key.is_empty() && go(pattern, &key[1..])),
            (Some(&"*"), Some(_)) => go(&pattern[1..], &key[1..]),
            (Some(p), Some(k)) if p == k => go(&pattern[1..], &key[1..]),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    go(&pattern, &key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_patterns_match_like_rabbitmq() {
        assert!(topic_matches("case.created", "case.created"));
        assert!(topic_matches("case.*", "case.created"));
        assert!(!topic_matches("case.*", "case.sla.warning"));
        assert!(topic_matches("case.#", "case.sla.warning"));
        assert!(topic_matches("#", "contact.updated"));
        assert!(!topic_matches("account.*", "case.created"));
        assert!(topic_matches("*.created", "contact.created"));
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let settings = EventSettings {
            backend: EventBackend::InProcess,
            url: String::new(),
            exchange: "x".into(),
            queue_prefix: "docket.".into(),
            queue_type: QueueType::Classic,
            prefetch: 1,
            handlers: 1,
            batch: 1,
            retry_patience_secs: 60,
            retry_base_ms: 100,
            retry_max_ms: 1_000,
            relay_batch: 1,
            relay_poll_ms: 1,
            relay_linger_ms: 0,
            retention_hours: 1,
            consumers: String::new(),
        };
        let delays: Vec<u128> = (0..6).map(|a| settings.retry_delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(settings.retry_delay(u32::MAX).as_millis(), 1_000);
    }

    #[test]
    fn reconnecting_backs_off_to_at_most_two_seconds() {
        let waits: Vec<u128> = (0..8).map(|f| reconnect_backoff(f).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1_600, 2_000, 2_000, 2_000]);
        assert_eq!(reconnect_backoff(u32::MAX).as_millis(), 2_000);
    }

    #[test]
    fn a_process_declares_the_queues_of_its_consumers_and_of_those_named() {
        const ALL: &[(&str, &[&str])] = &[("notification", &["case.*"]), ("billing", &["case.*"]), ("portal", &["contact.*"])];
        let mut settings: EventSettings = serde_json::from_value(serde_json::json!({
            "backend": "in_process", "url": "", "exchange": "x", "queue_prefix": "p.", "queue_type": "classic", "prefetch": 1, "handlers": 1, "batch": 1, "retry_patience_secs": 1,
            "retry_base_ms": 1, "retry_max_ms": 1, "relay_batch": 1, "relay_poll_ms": 1, "relay_linger_ms": 0, "retention_hours": 1, "consumers": ""
        }))
        .unwrap();
        fn names(declared: Vec<(&'static str, &'static [&'static str])>) -> Vec<&'static str> {
            declared.into_iter().map(|(name, _)| name).collect()
        }
        assert_eq!(names(settings.declared(ALL, &["case", "notification"]).unwrap()), ["notification"]);
        settings.consumers = " billing , ".into();
        assert_eq!(names(settings.declared(ALL, &["case", "notification"]).unwrap()), ["notification", "billing"]);
        settings.consumers = "biling".into();
        let err = settings.declared(ALL, &["case"]).unwrap_err().to_string();
        assert!(err.contains("events.consumers") && err.contains("biling"), "{err}");
    }
}
