//! RabbitMQ through lapin: one durable topic exchange, persistent messages
//! with publisher confirms; per consuming service a durable queue, a retry
//! queue whose messages expire back into it, and a dead-letter queue. The
//! three are classic queues or, on a cluster, quorum queues
//! ([`QueueType`]), which keep their messages when a node is lost.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::StreamExt;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
        ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use tokio::sync::{Mutex, mpsc};

use super::{Broker, BusError, DeadLetter, Delivery, Outgoing, QueueType, Settle, Subscription};

/// How long a publish may wait for its confirm before the connection is
/// treated as broken.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long listing dead letters waits for the broker to put back what it
/// read; past it they still come back, only later.
const LISTED_RETURN_PATIENCE: Duration = Duration::from_secs(10);
const ATTEMPTS_HEADER: &str = "x-docket-attempts";
const REASON_HEADER: &str = "x-docket-error";
const ROUTING_KEY_HEADER: &str = "x-docket-routing-key";
/// When the first failed attempt was made (unix ms): how long a message has
/// been retried is measured from it.
const FIRST_FAILURE_HEADER: &str = "x-docket-first-failure";

fn unavailable(err: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(err.to_string())
}

struct Link {
    connection: Connection,
    /// A channel in confirm mode, shared by every publish.
    publish: Channel,
}

impl Link {
    fn is_open(&self) -> bool {
        self.connection.status().connected() && self.publish.status().connected()
    }
}

pub struct RabbitBroker {
    url: String,
    exchange: String,
    link: Mutex<Option<Arc<Link>>>,
    /// Consumer queues declared on every new connection, so that events
    /// published before a consumer ever ran wait for it instead of being
    /// dropped by an exchange with no queue bound.
    known: Vec<(String, Vec<String>)>,
    queue_type: QueueType,
}

impl RabbitBroker {
    pub fn new(url: &str, exchange: &str) -> Self {
        Self {
            url: url.to_owned(),
            exchange: exchange.to_owned(),
            link: Mutex::new(None),
            known: Vec::new(),
            queue_type: QueueType::Classic,
        }
    }

    /// Declares its queues as this type (classic by default).
    pub fn with_queue_type(mut self, queue_type: QueueType) -> Self {
        self.queue_type = queue_type;
        self
    }

    /// Declares these consumer queues (name, bindings) whenever it connects.
    pub fn with_known_queues(mut self, known: Vec<(String, Vec<String>)>) -> Self {
        self.known = known;
        self
    }

    /// The open connection, connecting (and declaring the exchange) if needed.
    async fn link(&self) -> Result<Arc<Link>, BusError> {
        let mut guard = self.link.lock().await;
        if let Some(link) = guard.as_ref()
            && link.is_open()
        {
            return Ok(link.clone());
        }
        *guard = None;
        let connection = tokio::time::timeout(CONFIRM_TIMEOUT, Connection::connect(&self.url, ConnectionProperties::default()))
            .await
            .map_err(|_| BusError::Unavailable("connecting to RabbitMQ timed out".into()))?
            .map_err(unavailable)?;
        let publish = connection.create_channel().await.map_err(unavailable)?;
        publish
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions { durable: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        publish.confirm_select(ConfirmSelectOptions::default()).await.map_err(unavailable)?;
        for (queue, bindings) in &self.known {
            self.declare_on(&publish, queue, bindings).await?;
        }
        let link = Arc::new(Link { connection, publish });
        *guard = Some(link.clone());
        Ok(link)
    }

    async fn forget(&self) {
        *self.link.lock().await = None;
    }

    /// Publishes on the link's confirm channel; an outage drops the link, so
    /// the next publish connects again.
    async fn confirmed(&self, exchange: &str, messages: Vec<Publish<'_>>) -> Result<(), BusError> {
        let link = self.link().await?;
        let result = publish_confirmed(&link.publish, exchange, messages).await;
        if matches!(result, Err(BusError::Unavailable(_))) {
            self.forget().await;
        }
        result
    }

    /// Declares `queue`, its retry queue and its dead-letter queue.
    async fn declare_on(&self, channel: &Channel, queue: &str, bindings: &[String]) -> Result<(), BusError> {
        let durable = QueueDeclareOptions { durable: true, ..Default::default() };
        let declare = async |name: &str, role: Role| {
            channel
                .queue_declare(name.into(), durable, queue_arguments(self.queue_type, role, queue))
                .await
                .map_err(|err| declare_error(name, self.queue_type, err))
        };
        declare(queue, Role::Main).await?;
        for binding in bindings {
            channel
                .queue_bind(
                    queue.into(),
                    self.exchange.as_str().into(),
                    binding.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(unavailable)?;
        }
        declare(&retry_queue(queue), Role::Retry).await?;
        declare(&dead_queue(queue), Role::Dead).await?;
        Ok(())
    }
}

/// What [`RabbitBroker::migrate_queues`] did to one consumer's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// The queues were of the configured type already (or new).
    InPlace,
    /// The queues were declared again as the configured type, with this
    /// many messages moved out and back in.
    Moved(u64),
}

impl RabbitBroker {
    /// Re-declares consumer `queue`'s three queues as this broker's queue
    /// type, keeping every message: RabbitMQ cannot change a queue's type in
    /// place. The messages wait in holding queues (`<queue>.migrating`,
    /// bound like the queue, so events published meanwhile wait there too)
    /// while the queues are deleted and declared again, then move back. The
    /// queue's consumers must be stopped. Safe to run again after a crash:
    /// it resumes from the holding queues. A message can be copied twice
    /// if the run dies between copy and ack; consumers drop the copy by its
    /// event id. Retried messages go back to the queue without their
    /// remaining delay.
    pub async fn migrate_queues(
        &self,
        queue: &str,
        bindings: &[String],
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Migration, BusError> {
        let link = self.link().await?;
        let hold = format!("{queue}.migrating");
        let dead_hold = format!("{}.migrating", dead_queue(queue));
        if probe(&link, &hold).await?.is_none() {
            let channel = link.connection.create_channel().await.map_err(unavailable)?;
            match self.declare_on(&channel, queue, bindings).await {
                Ok(()) => {
                    let _ = channel.close(200, "declared".into()).await;
                    return Ok(Migration::InPlace);
                }
                Err(BusError::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
        if let Some(state) = probe(&link, queue).await?
            && state.consumers > 0
        {
            return Err(BusError::Conflict(format!(
                "{} consumer(s) still read {queue}: stop the service that consumes it (scale it to 0 replicas) first",
                state.consumers
            )));
        }
        let channel = link.connection.create_channel().await.map_err(unavailable)?;
        let durable = QueueDeclareOptions { durable: true, ..Default::default() };
        // The holding queues carry no dead-lettering: nothing expires there.
        for name in [&hold, &dead_hold] {
            channel
                .queue_declare(name.as_str().into(), durable, queue_arguments(self.queue_type, Role::Dead, queue))
                .await
                .map_err(|err| declare_error(name, self.queue_type, err))?;
        }
        // New events go to the holding queue before they stop going to the old one.
        self.rebind(&channel, &hold, bindings, true).await?;
        if probe(&link, queue).await?.is_some() {
            self.rebind(&channel, queue, bindings, false).await?;
        }
        let mut moved = 0;
        // The retry queue first: what expires from it meanwhile lands in
        // the old queue, which is emptied next.
        for (from, to) in [(retry_queue(queue), &hold), (queue.to_owned(), &hold), (dead_queue(queue), &dead_hold)] {
            if probe(&link, &from).await?.is_some() {
                moved += move_messages(&link, &from, to, progress).await?;
                delete_emptied(&link, &channel, &from).await?;
                progress(&format!("{from}: deleted, to be declared as {}", self.queue_type.name()));
            }
        }
        self.declare_on(&channel, queue, bindings).await?;
        self.rebind(&channel, &hold, bindings, false).await?;
        for (from, to) in [(hold.clone(), queue.to_owned()), (dead_hold.clone(), dead_queue(queue))] {
            move_messages(&link, &from, &to, progress).await?;
            delete_emptied(&link, &channel, &from).await?;
        }
        let _ = channel.close(200, "migrated".into()).await;
        Ok(Migration::Moved(moved))
    }

    /// Binds `queue` to every binding on the exchange, or unbinds it.
    async fn rebind(&self, channel: &Channel, queue: &str, bindings: &[String], bind: bool) -> Result<(), BusError> {
        for binding in bindings {
            let (queue, exchange, key) = (queue.into(), self.exchange.as_str().into(), binding.as_str().into());
            if bind {
                channel.queue_bind(queue, exchange, key, QueueBindOptions::default(), FieldTable::default()).await
            } else {
                channel.queue_unbind(queue, exchange, key, FieldTable::default()).await
            }
            .map_err(unavailable)?;
        }
        Ok(())
    }
}

/// A queue's depth and readers, as a passive declaration reports them.
struct QueueState {
    messages: u32,
    consumers: u32,
}

/// Deletes a queue that was just emptied. Quorum queues refuse the
/// broker's own if-empty check, so it is made here.
async fn delete_emptied(link: &Link, channel: &Channel, name: &str) -> Result<(), BusError> {
    if let Some(state) = probe(link, name).await?
        && state.messages > 0
    {
        return Err(BusError::Conflict(format!(
            "{} message(s) reached {name} while it was being emptied; run the command again",
            state.messages
        )));
    }
    channel.queue_delete(name.into(), QueueDeleteOptions::default()).await.map_err(unavailable)?;
    Ok(())
}

/// The queue's state, or `None` when there is no such queue.
async fn probe(link: &Link, name: &str) -> Result<Option<QueueState>, BusError> {
    // A passive declaration of a missing queue closes its channel: one of its own.
    let channel = link.connection.create_channel().await.map_err(unavailable)?;
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    match channel.queue_declare(name.into(), passive, FieldTable::default()).await {
        Ok(declared) => {
            let _ = channel.close(200, "probed".into()).await;
            Ok(Some(QueueState { messages: declared.message_count(), consumers: declared.consumer_count() }))
        }
        Err(err) if err.to_string().contains("NOT_FOUND") => Ok(None),
        Err(err) => Err(unavailable(err)),
    }
}

/// Moves every message of `from` to `to`, each confirmed there before it
/// is acked here; the event type travels in a header.
async fn move_messages(link: &Link, from: &str, to: &str, progress: &(dyn Fn(&str) + Sync)) -> Result<u64, BusError> {
    let channel = link.connection.create_channel().await.map_err(unavailable)?;
    let mut moved = 0u64;
    while let Some(message) = channel.basic_get(from.into(), BasicGetOptions { no_ack: false }).await.map_err(unavailable)? {
        let delivery = message.delivery;
        let id = delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default();
        let mut entries: BTreeMap<ShortString, AMQPValue> =
            delivery.properties.headers().as_ref().map(|h| h.inner().clone()).unwrap_or_default();
        entries.entry(ShortString::from(ROUTING_KEY_HEADER)).or_insert_with(|| long(delivery.routing_key.as_str()));
        // Without its expiration: a retried message would expire in the
        // holding queue, which sends it nowhere.
        publish_confirmed(&link.publish, "", vec![(to, &delivery.data, persistent(&id, FieldTable::from(entries)))]).await?;
        delivery.acker.ack(BasicAckOptions::default()).await.map_err(unavailable)?;
        moved += 1;
        if moved.is_multiple_of(1000) {
            progress(&format!("{from} -> {to}: {moved} messages moved"));
        }
    }
    let _ = channel.close(200, "moved".into()).await;
    if moved > 0 {
        progress(&format!("{from} -> {to}: {moved} messages moved"));
    }
    Ok(moved)
}

/// The three queues of a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    Retry,
    Dead,
}

/// The arguments `role`'s queue of consumer `queue` is declared with.
/// RabbitMQ refuses to declare an existing queue with other arguments, so
/// these may only change together with `docket events migrate-queues`.
fn queue_arguments(queue_type: QueueType, role: Role, queue: &str) -> FieldTable {
    let mut args = FieldTable::default();
    // A retried message waits in the retry queue until its expiration; then
    // RabbitMQ dead-letters it back onto the main queue.
    if role == Role::Retry {
        args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString("".into()));
        args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(queue.into()));
    }
    if queue_type == QueueType::Quorum {
        args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        // Docket dead-letters by itself; the broker only does when a message
        // was handed out more often than its delivery limit (RabbitMQ 4
        // has one by default): it lands in the dead queue, not nowhere.
        if role == Role::Main {
            args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString("".into()));
            args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(dead_queue(queue).as_str().into()));
        }
        // Dead-lettering that waits for the target queue's confirm, so a
        // node lost halfway loses no message (it needs reject-publish).
        if role != Role::Dead {
            args.insert("x-dead-letter-strategy".into(), AMQPValue::LongString("at-least-once".into()));
            args.insert("x-overflow".into(), AMQPValue::LongString("reject-publish".into()));
        }
    }
    args
}

/// A refused declaration: the queue exists with other arguments (most
/// often another queue type) is a conflict an operator has to resolve.
fn declare_error(queue: &str, queue_type: QueueType, err: lapin::Error) -> BusError {
    let text = err.to_string();
    if text.contains("PRECONDITION_FAILED") && text.contains("inequivalent arg") {
        return BusError::Conflict(format!(
            "RabbitMQ holds queue {queue} with other arguments than events.queue_type = {} declares ({text}); \
             move the queues with `docket events migrate-queues` (see README, \"Quorum queues\")",
            queue_type.name()
        ));
    }
    unavailable(err)
}

/// One message to publish: its routing key, body and properties.
type Publish<'a> = (&'a str, &'a [u8], BasicProperties);

/// Publishes on a confirm channel and waits for the broker's acks; a nack is
/// a rejection, no answer within [`CONFIRM_TIMEOUT`] an outage. Every
/// message goes out before any confirm is awaited: a batch costs the
/// broker's confirm latency once, not once per message, and one channel
/// keeps them in the order given.
async fn publish_confirmed(channel: &Channel, exchange: &str, messages: Vec<Publish<'_>>) -> Result<(), BusError> {
    let mut confirms = Vec::with_capacity(messages.len());
    for (routing_key, body, properties) in messages {
        let confirm = channel
            .basic_publish(exchange.into(), routing_key.into(), BasicPublishOptions::default(), body, properties)
            .await
            .map_err(unavailable)?;
        confirms.push((routing_key, confirm));
    }
    let answers =
        futures::future::join_all(confirms.into_iter().map(async |(routing_key, confirm)| (routing_key, confirm.await)));
    let answers = tokio::time::timeout(CONFIRM_TIMEOUT, answers)
        .await
        .map_err(|_| BusError::Unavailable("no publisher confirm within 10 s".into()))?;
    for (routing_key, answer) in answers {
        if answer.map_err(unavailable)?.is_nack() {
            return Err(BusError::Rejected(format!("RabbitMQ nacked the message to {routing_key}")));
        }
    }
    Ok(())
}

fn retry_queue(queue: &str) -> String {
    format!("{queue}.retry")
}

fn dead_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

fn persistent(id: &str, headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/x-protobuf".into())
        .with_message_id(id.into())
        .with_headers(headers)
}

fn header<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref().and_then(|h| h.inner().get(&ShortString::from(name)))
}

fn attempts_of(properties: &BasicProperties) -> u32 {
    match header(properties, ATTEMPTS_HEADER) {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

fn first_failure_of(properties: &BasicProperties) -> Option<i64> {
    match header(properties, FIRST_FAILURE_HEADER) {
        Some(AMQPValue::LongLongInt(ms)) => Some(*ms),
        _ => None,
    }
}

fn text_header(properties: &BasicProperties, name: &str) -> String {
    match header(properties, name) {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Some(AMQPValue::ShortString(s)) => s.as_str().to_owned(),
        _ => String::new(),
    }
}

fn headers(entries: Vec<(&str, AMQPValue)>) -> FieldTable {
    let map: BTreeMap<ShortString, AMQPValue> = entries.into_iter().map(|(k, v)| (ShortString::from(k), v)).collect();
    FieldTable::from(map)
}

fn long(text: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(text.as_bytes().to_vec()))
}

#[async_trait::async_trait]
impl Broker for RabbitBroker {
    async fn publish(&self, message: &Outgoing<'_>) -> Result<(), BusError> {
        self.publish_all(std::slice::from_ref(message)).await
    }

    async fn publish_all(&self, messages: &[Outgoing<'_>]) -> Result<(), BusError> {
        let messages = messages
            .iter()
            .map(|message| {
                let mut entries = vec![(ATTEMPTS_HEADER, AMQPValue::LongLongInt(0))];
                if !message.traceparent.is_empty() {
                    entries.push(("traceparent", long(message.traceparent)));
                }
                (message.routing_key, message.body, persistent(message.id, headers(entries)))
            })
            .collect();
        self.confirmed(&self.exchange, messages).await
    }

    async fn declare(&self, queue: &str, bindings: &[String]) -> Result<(), BusError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await.map_err(unavailable)?;
        self.declare_on(&channel, queue, bindings).await?;
        let _ = channel.close(200, "declared".into()).await;
        Ok(())
    }

    async fn subscribe(&self, queue: &str, bindings: &[String], prefetch: u16) -> Result<Subscription, BusError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await.map_err(unavailable)?;
        self.declare_on(&channel, queue, bindings).await?;
        channel.basic_qos(prefetch, BasicQosOptions::default()).await.map_err(unavailable)?;
        let tag = format!("{queue}-{}", uuid::Uuid::now_v7().simple());
        let mut consumer = channel
            .basic_consume(queue.into(), tag.as_str().into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .map_err(unavailable)?;
        let (tx, rx) = mpsc::channel(usize::from(prefetch.max(1)));
        let this = RabbitSettleContext { link, queue: queue.to_owned() };
        let broker = Arc::new(this);
        tokio::spawn(async move {
            // Forwards deliveries until the connection ends or the
            // subscription is dropped; then closing the channel hands every
            // unacked message back to the queue.
            loop {
                let next = tokio::select! {
                    () = tx.closed() => break,
                    next = consumer.next() => next,
                };
                let Some(Ok(delivery)) = next else { break };
                let attempts = attempts_of(&delivery.properties);
                let first_failure = first_failure_of(&delivery.properties);
                let redelivered = delivery.redelivered;
                let body = delivery.data.clone();
                let settle = Box::new(RabbitSettle { context: broker.clone(), delivery: Some(delivery) });
                if tx.send(Delivery { attempts, first_failure, redelivered, body, settle }).await.is_err() {
                    break;
                }
            }
            let _ = channel.close(200, "subscription ended".into()).await;
        });
        Ok(Subscription { deliveries: rx })
    }

    async fn dead_letters(&self, queue: &str) -> Result<Vec<DeadLetter>, BusError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await.map_err(unavailable)?;
        self.declare_on(&channel, queue, &[]).await?;
        let mut letters = Vec::new();
        // Unacked gets go back to the queue when the channel closes.
        while let Some(message) =
            channel.basic_get(dead_queue(queue).as_str().into(), BasicGetOptions { no_ack: false }).await.map_err(unavailable)?
        {
            letters.push(dead_letter(&message.delivery));
        }
        let _ = channel.close(200, "listed".into()).await;
        // A quorum queue takes the messages back after the close has been
        // answered; a replay that followed at once would find none of them.
        // Listing leaves the dead letters where they were, so wait for them.
        let deadline = tokio::time::Instant::now() + LISTED_RETURN_PATIENCE;
        while self.dead_letter_count(queue).await? < letters.len() as u32 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(letters)
    }

    async fn dead_letter_count(&self, queue: &str) -> Result<u32, BusError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await.map_err(unavailable)?;
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let declared = channel.queue_declare(dead_queue(queue).as_str().into(), passive, FieldTable::default()).await;
        let _ = channel.close(200, "counted".into()).await;
        Ok(declared.map_err(unavailable)?.message_count())
    }

    async fn replay_dead_letters(&self, queue: &str) -> Result<usize, BusError> {
        let link = self.link().await?;
        let channel = link.connection.create_channel().await.map_err(unavailable)?;
        self.declare_on(&channel, queue, &[]).await?;
        // Only what is there now: a message that fails again while we replay
        // comes back to the dead queue and must not be replayed in a loop.
        let waiting = channel
            .queue_declare(
                dead_queue(queue).as_str().into(),
                QueueDeclareOptions { passive: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?
            .message_count();
        let mut count = 0;
        while count < waiting as usize
            && let Some(message) = channel
                .basic_get(dead_queue(queue).as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .map_err(unavailable)?
        {
            let delivery = message.delivery;
            let id = delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default();
            let entries = vec![(ATTEMPTS_HEADER, AMQPValue::LongLongInt(0))];
            // Back onto the consumer's queue first, then drop the dead letter.
            self.confirmed("", vec![(queue, &delivery.data, persistent(&id, headers(entries)))]).await?;
            delivery.acker.ack(BasicAckOptions::default()).await.map_err(unavailable)?;
            count += 1;
        }
        let _ = channel.close(200, "replayed".into()).await;
        Ok(count)
    }
}

fn dead_letter(delivery: &lapin::message::Delivery) -> DeadLetter {
    DeadLetter {
        id: delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        routing_key: text_header(&delivery.properties, ROUTING_KEY_HEADER),
        attempts: attempts_of(&delivery.properties),
        reason: text_header(&delivery.properties, REASON_HEADER),
        body: delivery.data.clone(),
    }
}

struct RabbitSettleContext {
    link: Arc<Link>,
    queue: String,
}

struct RabbitSettle {
    context: Arc<RabbitSettleContext>,
    delivery: Option<lapin::message::Delivery>,
}

impl RabbitSettle {
    fn take(&mut self) -> Result<lapin::message::Delivery, BusError> {
        self.delivery.take().ok_or_else(|| BusError::Rejected("already settled".into()))
    }

    /// Publishes a copy to `routing_key` on the default exchange (confirmed),
    /// then acks the original: the message is never in neither place.
    async fn move_to(
        &mut self,
        routing_key: &str,
        extra: Vec<(&str, AMQPValue)>,
        expiration: Option<Duration>,
    ) -> Result<(), BusError> {
        let delivery = self.take()?;
        let id = delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default();
        let original_key = {
            let header = text_header(&delivery.properties, ROUTING_KEY_HEADER);
            if header.is_empty() { delivery.routing_key.as_str().to_owned() } else { header }
        };
        let mut entries = vec![(ROUTING_KEY_HEADER, long(&original_key))];
        entries.extend(extra);
        let mut properties = persistent(&id, headers(entries));
        if let Some(expiration) = expiration {
            properties = properties.with_expiration(expiration.as_millis().to_string().as_str().into());
        }
        publish_confirmed(&self.context.link.publish, "", vec![(routing_key, &delivery.data, properties)]).await?;
        delivery.acker.ack(BasicAckOptions::default()).await.map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Settle for RabbitSettle {
    async fn ack(mut self: Box<Self>) -> Result<(), BusError> {
        let delivery = self.take()?;
        delivery.acker.ack(BasicAckOptions::default()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn retry(mut self: Box<Self>, delay: Duration, reason: &str) -> Result<(), BusError> {
        let attempts = self.delivery.as_ref().map(|d| attempts_of(&d.properties)).unwrap_or(0) + 1;
        let first_failure = self
            .delivery
            .as_ref()
            .and_then(|d| first_failure_of(&d.properties))
            .unwrap_or_else(|| crate::time::now().timestamp_millis());
        let queue = retry_queue(&self.context.queue);
        let extra = vec![
            (ATTEMPTS_HEADER, AMQPValue::LongLongInt(i64::from(attempts))),
            (REASON_HEADER, long(reason)),
            (FIRST_FAILURE_HEADER, AMQPValue::LongLongInt(first_failure)),
        ];
        self.move_to(&queue, extra, Some(delay.max(Duration::from_millis(1)))).await
    }

    async fn dead(mut self: Box<Self>, reason: &str) -> Result<(), BusError> {
        let attempts = self.delivery.as_ref().map(|d| attempts_of(&d.properties)).unwrap_or(0) + 1;
        let queue = dead_queue(&self.context.queue);
        let extra = vec![(ATTEMPTS_HEADER, AMQPValue::LongLongInt(i64::from(attempts))), (REASON_HEADER, long(reason))];
        self.move_to(&queue, extra, None).await
    }
}
