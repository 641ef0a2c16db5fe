//! RabbitMQ helpers for tests: a queue that watches a test's exchange, and
//! clean-up of everything a test declared.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use docket_proto::events::v1::Envelope;
use futures::StreamExt;
use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};
use prost::Message;

use super::rabbitmq_url;

pub async fn connect() -> Connection {
    let url = rabbitmq_url();
    match tokio::time::timeout(Duration::from_secs(10), Connection::connect(&url, ConnectionProperties::default())).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(err)) => panic!("RabbitMQ is not reachable at {url}: {err}.\nStart it with: rabbitmq-server -detached"),
        Err(_) => panic!("RabbitMQ at {url} did not answer within 10 s; is it running? (rabbitmq-server -detached)"),
    }
}

/// An exclusive, auto-deleted queue bound to an exchange: sees what the
/// exchange routes, and disappears with its connection.
pub struct Watch {
    _connection: Connection,
    consumer: lapin::Consumer,
}

impl Watch {
    pub async fn bind(exchange: &str, pattern: &str) -> Watch {
        Self::bind_all(exchange, &[pattern]).await
    }

    /// A watch of every routing key matching any of `patterns`.
    pub async fn bind_all(exchange: &str, patterns: &[&str]) -> Watch {
        let connection = connect().await;
        let channel = connection.create_channel().await.unwrap();
        declare_exchange(&channel, exchange).await;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .unwrap();
        for pattern in patterns {
            channel
                .queue_bind(
                    queue.name().clone(),
                    exchange.into(),
                    (*pattern).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
        }
        let consumer = channel
            .basic_consume(queue.name().clone(), "watch".into(), BasicConsumeOptions::default(), FieldTable::default())
            .await
            .unwrap();
        Watch { _connection: connection, consumer }
    }

    /// The next message within `within`, as (routing key, envelope).
    pub async fn next(&mut self, within: Duration) -> Option<(String, Envelope)> {
        let delivery = tokio::time::timeout(within, self.consumer.next()).await.ok()??.unwrap();
        delivery.ack(BasicAckOptions::default()).await.unwrap();
        let envelope = Envelope::decode(delivery.data.as_slice()).expect("an envelope");
        Some((delivery.routing_key.as_str().to_owned(), envelope))
    }

    /// Exactly `count` messages, then nothing more for a moment.
    pub async fn exactly(&mut self, count: usize, within: Duration) -> Vec<(String, Envelope)> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        while seen.len() < count {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(message) => seen.push(message),
                None => panic!("expected {count} messages within {within:?}, got {}: {:?}", seen.len(), keys(&seen)),
            }
        }
        if let Some(extra) = self.next(Duration::from_millis(500)).await {
            panic!("expected exactly {count} messages, then also got {extra:?}");
        }
        seen
    }
}

pub fn keys(messages: &[(String, Envelope)]) -> Vec<&str> {
    messages.iter().map(|(k, _)| k.as_str()).collect()
}

/// RabbitMQ's view of an existing queue: (messages ready, consumers).
pub async fn queue_state(queue: &str) -> (u32, u32) {
    let connection = connect().await;
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(queue.into(), QueueDeclareOptions { passive: true, ..Default::default() }, FieldTable::default())
        .await
        .unwrap_or_else(|err| panic!("queue {queue}: {err}"));
    let _ = connection.close(200, "looked".into()).await;
    (declared.message_count(), declared.consumer_count())
}

pub async fn declare_exchange(channel: &Channel, exchange: &str) {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions { durable: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .unwrap();
}

/// Deletes a test's exchange and its consumers' queues when dropped.
pub struct Cleanup {
    pub exchange: String,
    pub queues: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let exchange = self.exchange.clone();
        let mut queues = Vec::new();
        for queue in &self.queues {
            queues.extend([
                queue.clone(),
                format!("{queue}.retry"),
                format!("{queue}.dead"),
                format!("{queue}.migrating"),
                format!("{queue}.dead.migrating"),
            ]);
        }
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let Ok(connection) = Connection::connect(&rabbitmq_url(), ConnectionProperties::default()).await else { return };
                for queue in queues {
                    // One channel each: a queue that is not there may close it.
                    let Ok(channel) = connection.create_channel().await else { return };
                    let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
                }
                let Ok(channel) = connection.create_channel().await else { return };
                let _ = channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await;
                let _ = connection.close(200, "clean".into()).await;
            });
        })
        .join();
    }
}
