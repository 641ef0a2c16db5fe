//! Classic and quorum queues on the local broker: a queue of the other type
//! is a conflict named as such, and `migrate_queues` moves a consumer's
//! three queues to the configured type with every message in them.

use std::time::Duration;

use docket_kit::events::{
    Broker, BusError, EventBackend, Outgoing, QueueType, Subscription, envelope, pack,
    rabbit::{Migration, RabbitBroker},
};
use docket_proto::events::v1::{self as ev, Envelope};
use prost::Message;

use crate::common::{
    eventually,
    rabbit::{Cleanup, connect, declare_exchange, queue_state},
    test_events,
};

struct Rig {
    classic: RabbitBroker,
    quorum: RabbitBroker,
    queue: String,
    bindings: Vec<String>,
    _cleanup: Cleanup,
}

impl Rig {
    async fn new() -> Rig {
        let unique = uuid::Uuid::now_v7().simple().to_string()[16..].to_owned();
        let settings = test_events(EventBackend::Rabbitmq, &unique);
        let connection = connect().await;
        declare_exchange(&connection.create_channel().await.unwrap(), &settings.exchange).await;
        let queue = settings.queue("consumer");
        Rig {
            classic: RabbitBroker::new(&settings.url, &settings.exchange),
            quorum: RabbitBroker::new(&settings.url, &settings.exchange).with_queue_type(QueueType::Quorum),
            bindings: vec!["case.*".to_owned()],
            _cleanup: Cleanup { exchange: settings.exchange.clone(), queues: vec![queue.clone()] },
            queue,
        }
    }

    async fn publish(&self, broker: &RabbitBroker, subject: &str) -> String {
        let event = envelope(
            "case",
            "case.created",
            subject,
            "test",
            docket_kit::time::now(),
            pack("docket.events.v1.CaseCreated", &ev::CaseCreated { case: None }),
        );
        let body = event.encode_to_vec();
        broker.publish(&Outgoing { id: &event.id, routing_key: &event.r#type, body: &body, traceparent: "" }).await.unwrap();
        event.id
    }

    async fn no_consumers(&self) {
        eventually("the subscription to close", async || match queue_state(&self.queue).await {
            (_, 0) => Ok(()),
            (_, consumers) => Err(format!("{consumers} consumers")),
        })
        .await;
    }
}

async fn next(subscription: &mut Subscription) -> docket_kit::events::Delivery {
    let next = tokio::time::timeout(Duration::from_secs(10), subscription.deliveries.recv()).await;
    next.expect("a delivery within 10 s").expect("the subscription is open")
}

fn subject_of(delivery: &docket_kit::events::Delivery) -> String {
    Envelope::decode(delivery.body.as_slice()).unwrap().subject
}

/// Whether a queue of this name exists.
async fn exists(queue: &str) -> bool {
    let connection = connect().await;
    let channel = connection.create_channel().await.unwrap();
    let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
    let found = channel.queue_declare(queue.into(), passive, lapin::types::FieldTable::default()).await.is_ok();
    let _ = connection.close(200, "looked".into()).await;
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_queues_move_to_quorum_with_their_waiting_retried_and_dead_messages() {
    let rig = Rig::new().await;
    rig.classic.declare(&rig.queue, &rig.bindings).await.unwrap();
    for subject in ["retried", "dead", "waiting"] {
        rig.publish(&rig.classic, subject).await;
    }
    let mut subscription = rig.classic.subscribe(&rig.queue, &rig.bindings, 1).await.unwrap();
    let first = next(&mut subscription).await;
    assert_eq!(subject_of(&first), "retried");
    first.settle.retry(Duration::from_secs(3600), "smtp down").await.unwrap();
    let second = next(&mut subscription).await;
    assert_eq!(subject_of(&second), "dead");
    second.settle.dead("no such address").await.unwrap();

    // Quorum on classic queues: a conflict that says what to do, not an outage.
    match rig.quorum.declare(&rig.queue, &rig.bindings).await {
        Err(BusError::Conflict(said)) => {
            assert!(said.contains(&rig.queue) && said.contains("docket events migrate-queues"), "{said}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Not while a consumer reads the queue; nothing is touched.
    let refused = rig.quorum.migrate_queues(&rig.queue, &rig.bindings, &|_| {}).await;
    assert!(matches!(&refused, Err(BusError::Conflict(said)) if said.contains("still read")), "{refused:?}");
    assert!(!exists(&format!("{}.migrating", rig.queue)).await);
    drop(subscription);
    rig.no_consumers().await;

    let mut told = Vec::new();
    let progress = std::sync::Mutex::new(&mut told);
    let moved = rig
        .quorum
        .migrate_queues(&rig.queue, &rig.bindings, &|line| progress.lock().unwrap().push(line.to_owned()))
        .await
        .unwrap();
    assert_eq!(moved, Migration::Moved(3));
    assert!(told.iter().any(|line| line.contains(".retry") && line.contains("1 messages moved")), "{told:?}");
    for gone in [format!("{}.migrating", rig.queue), format!("{}.dead.migrating", rig.queue)] {
        assert!(!exists(&gone).await, "{gone} is left over");
    }
    assert!(matches!(rig.classic.declare(&rig.queue, &rig.bindings).await, Err(BusError::Conflict(_))));
    assert_eq!(rig.quorum.migrate_queues(&rig.queue, &rig.bindings, &|_| {}).await.unwrap(), Migration::InPlace);

    let dead = rig.quorum.dead_letters(&rig.queue).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].routing_key.as_str(), dead[0].reason.as_str()), ("case.created", "no such address"));
    // The retried event is back without the rest of its hour, its attempt counted.
    let mut subscription = rig.quorum.subscribe(&rig.queue, &rig.bindings, 4).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let delivery = next(&mut subscription).await;
        seen.push((subject_of(&delivery), delivery.attempts));
        delivery.settle.ack().await.unwrap();
    }
    seen.sort();
    assert_eq!(seen, [("retried".to_owned(), 1), ("waiting".to_owned(), 0)]);
    // New events reach the quorum queue through the same bindings.
    rig.publish(&rig.quorum, "after").await;
    assert_eq!(subject_of(&next(&mut subscription).await), "after");
}
