//! The in-process broker of `docket dev`: queues, bindings, retries and dead
//! letters with RabbitMQ's contract, inside one process. Messages live in
//! memory, so they survive a consumer's failure but not the process: events
//! published but not yet handled, and retries waiting for their delay, are
//! lost when `docket dev` stops (the outbox keeps only what was never
//! published). Production uses RabbitMQ.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use tokio::sync::mpsc;

use super::{Broker, BusError, DeadLetter, Delivery, Outgoing, Settle, Subscription, topic_matches};

/// Deliveries an in-process consumer may have queued before `publish` waits.
const IN_PROCESS_DEPTH: usize = 65_536;

#[derive(Clone)]
struct Message {
    id: String,
    routing_key: String,
    body: Vec<u8>,
    attempts: u32,
    /// When the first failed attempt was made (unix ms).
    first_failure: Option<i64>,
}

#[derive(Default)]
struct Queue {
    bindings: Vec<String>,
    /// Messages waiting while nobody consumes.
    waiting: Vec<Message>,
    consumer: Option<mpsc::Sender<Delivery>>,
    dead: Vec<DeadLetter>,
}

#[derive(Default)]
pub struct InProcessBroker {
    queues: Mutex<HashMap<String, Queue>>,
    this: Weak<InProcessBroker>,
}

impl InProcessBroker {
    pub fn new() -> Arc<InProcessBroker> {
        Arc::new_cyclic(|this| InProcessBroker { queues: Mutex::default(), this: this.clone() })
    }

    /// Declares consumer queues up front (see [`super::broker`]).
    pub fn declare_known(&self, known: &[(String, Vec<String>)]) {
        if let Ok(mut queues) = self.queues.lock() {
            for (queue, bindings) in known {
                let entry = queues.entry(queue.clone()).or_default();
                for binding in bindings {
                    if !entry.bindings.contains(binding) {
                        entry.bindings.push(binding.clone());
                    }
                }
            }
        }
    }

    fn deliver(&self, queue_name: &str, message: Message) {
        let Ok(mut queues) = self.queues.lock() else { return };
        let Some(queue) = queues.get_mut(queue_name) else { return };
        match &queue.consumer {
            Some(consumer) if !consumer.is_closed() => {
                let delivery = Delivery {
                    body: message.body.clone(),
                    attempts: message.attempts,
                    first_failure: message.first_failure,
                    redelivered: message.attempts > 0,
                    settle: Box::new(MemorySettle {
                        broker: self.this.clone(),
                        queue: queue_name.to_owned(),
                        message: message.clone(),
                    }),
                };
                // An unbounded hand-off: the consumer's own prefetch is its channel size.
                if let Err(err) = consumer.try_send(delivery) {
                    let delivery = match err {
                        mpsc::error::TrySendError::Full(d) | mpsc::error::TrySendError::Closed(d) => d,
                    };
                    let consumer = consumer.clone();
                    tokio::spawn(async move {
                        let _ = consumer.send(delivery).await;
                    });
                }
            }
            _ => queue.waiting.push(message),
        }
    }
}

#[async_trait::async_trait]
impl Broker for InProcessBroker {
    async fn publish(&self, message: &Outgoing<'_>) -> Result<(), BusError> {
        let targets: Vec<String> = {
            let queues = self.queues.lock().map_err(|_| BusError::Unavailable("poisoned".into()))?;
            queues
                .iter()
                .filter(|(_, q)| q.bindings.iter().any(|b| topic_matches(b, message.routing_key)))
                .map(|(name, _)| name.clone())
                .collect()
        };
        for queue in targets {
            self.deliver(
                &queue,
                Message {
                    id: message.id.to_owned(),
                    routing_key: message.routing_key.to_owned(),
                    body: message.body.to_vec(),
                    attempts: 0,
                    first_failure: None,
                },
            );
        }
        Ok(())
    }

    async fn declare(&self, queue: &str, bindings: &[String]) -> Result<(), BusError> {
        let mut queues = self.queues.lock().map_err(|_| BusError::Unavailable("poisoned".into()))?;
        let entry = queues.entry(queue.to_owned()).or_default();
        for binding in bindings {
            if !entry.bindings.contains(binding) {
                entry.bindings.push(binding.clone());
            }
        }
        Ok(())
    }

    async fn subscribe(&self, queue: &str, bindings: &[String], prefetch: u16) -> Result<Subscription, BusError> {
        // Deep enough that a relay batch never overflows it, so deliveries
        // keep their order; `prefetch` bounds what a RabbitMQ consumer holds.
        let _ = prefetch;
        let (tx, rx) = mpsc::channel(IN_PROCESS_DEPTH);
        let waiting = {
            let mut queues = self.queues.lock().map_err(|_| BusError::Unavailable("poisoned".into()))?;
            let entry = queues.entry(queue.to_owned()).or_default();
            for binding in bindings {
                if !entry.bindings.contains(binding) {
                    entry.bindings.push(binding.clone());
                }
            }
            entry.consumer = Some(tx);
            std::mem::take(&mut entry.waiting)
        };
        for message in waiting {
            self.deliver(queue, message);
        }
        Ok(Subscription { deliveries: rx })
    }

    async fn dead_letters(&self, queue: &str) -> Result<Vec<DeadLetter>, BusError> {
        let queues = self.queues.lock().map_err(|_| BusError::Unavailable("poisoned".into()))?;
        Ok(queues.get(queue).map(|q| q.dead.clone()).unwrap_or_default())
    }

    async fn dead_letter_count(&self, queue: &str) -> Result<u32, BusError> {
        let queues = self.queues.lock().map_err(|_| BusError::Unavailable("poisoned".into()))?;
        Ok(queues.get(queue).map_or(0, |q| u32::try_from(q.dead.len()).unwrap_or(u32::MAX)))
    }

    async fn replay_dead_letters(&self, queue: &str) -> Result<usize, BusError> {
        let dead = {
            let mut queues = self.queues.lock().map_err(|_| BusError::Unavailable("poisoned".into()))?;
            queues.get_mut(queue).map(|q| std::mem::take(&mut q.dead)).unwrap_or_default()
        };
        let count = dead.len();
        for letter in dead {
            self.deliver(
                queue,
                Message { id: letter.id, routing_key: letter.routing_key, body: letter.body, attempts: 0, first_failure: None },
            );
        }
        Ok(count)
    }
}

struct MemorySettle {
    broker: Weak<InProcessBroker>,
    queue: String,
    message: Message,
}

#[async_trait::async_trait]
impl Settle for MemorySettle {
    async fn ack(self: Box<Self>) -> Result<(), BusError> {
        Ok(())
    }

    async fn retry(self: Box<Self>, delay: Duration, _reason: &str) -> Result<(), BusError> {
        let MemorySettle { broker, queue, mut message } = *self;
        message.attempts += 1;
        message.first_failure = message.first_failure.or_else(|| Some(crate::time::now().timestamp_millis()));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(broker) = broker.upgrade() {
                broker.deliver(&queue, message);
            }
        });
        Ok(())
    }

    async fn dead(self: Box<Self>, reason: &str) -> Result<(), BusError> {
        let broker = self.broker.upgrade().ok_or_else(|| BusError::Unavailable("the broker is gone".into()))?;
        let mut queues = broker.queues.lock().map_err(|_| BusError::Unavailable("poisoned".into()))?;
        let queue = queues.entry(self.queue.clone()).or_default();
        queue.dead.push(DeadLetter {
            id: self.message.id.clone(),
            routing_key: self.message.routing_key.clone(),
            attempts: self.message.attempts + 1,
            reason: reason.to_owned(),
            body: self.message.body.clone(),
        });
        Ok(())
    }
}
