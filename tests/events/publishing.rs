//! The case service's outbox → relay → exchange.

use std::{collections::HashMap, sync::Arc, time::Duration};

use docket_kit::events::{EventBackend, outbox, rabbit::RabbitBroker, unpack};
use docket_proto::{case::v1 as pb, events::v1 as ev};

use crate::{
    common::{
        AGENT, Backend, TestApp,
        proxy::TcpProxy,
        rabbit::{Cleanup, Watch, keys},
    },
    fixtures::{customer, mask, new_case, staff_user},
};

async fn spawn(adjust: impl FnOnce(&mut docket::settings::Settings)) -> (TestApp, Cleanup) {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.events.backend = EventBackend::Rabbitmq;
        adjust(settings);
    })
    .await;
    // The app declares its consumers' queues on the test exchange too.
    let queues = docket::app::CONSUMERS.iter().map(|(service, _)| app.settings.events.queue(service)).collect();
    let cleanup = Cleanup { exchange: app.settings.events.exchange.clone(), queues };
    (app, cleanup)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_lifecycle_publishes_exactly_its_events_in_order() {
    let (app, _cleanup) = spawn(|_| {}).await;
    let mut watch = Watch::bind(&app.settings.events.exchange, "#").await;

    let customer = customer(&app).await;
    let owner = staff_user(&app, "Alex Agent").await;
    let mut cases = app.cases(AGENT);
    let created = cases
        .create_case(pb::CreateCaseRequest {
            case: Some(new_case(&customer, "Line stopped")),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    let updated = cases
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: created.id.clone(),
                etag: created.etag.clone(),
                priority: pb::CasePriority::Critical as i32,
                ..Default::default()
            }),
            update_mask: mask(&["priority"]),
            reason: "production down".into(),
        })
        .await
        .unwrap()
        .into_inner();
    cases
        .assign_case(pb::AssignCaseRequest { id: created.id.clone(), owner_id: owner.id.clone(), ..Default::default() })
        .await
        .unwrap();
    cases
        .set_case_status(pb::SetCaseStatusRequest {
            id: created.id.clone(),
            status: pb::CaseStatus::Pending as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    cases
        .close_case(pb::CloseCaseRequest {
            id: created.id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Replaced the board".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    cases
        .reopen_case(pb::ReopenCaseRequest { id: created.id.clone(), reason: "Broke again".into(), etag: String::new() })
        .await
        .unwrap();
    cases
        .add_activity(pb::AddActivityRequest {
            activity: Some(pb::Activity {
                case_id: created.id.clone(),
                kind: pb::ActivityKind::Note as i32,
                body: "On my way".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    // A refused call publishes nothing.
    cases
        .set_case_status(pb::SetCaseStatusRequest {
            id: created.id.clone(),
            status: pb::CaseStatus::ActiveNew as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();

    let messages = watch.exactly(12, Duration::from_secs(20)).await;
    assert_eq!(
        keys(&messages),
        [
            "account.created",
            "contact.created",
            "case.created",
            "case.updated",
            "case.assigned",
            "case.status_changed",
            "case.status_changed",
            "case.status_changed",
            "case.closed",
            "case.status_changed",
            "case.reopened",
            "case.activity_added",
        ]
    );
    let mut ids = std::collections::BTreeSet::new();
    for (key, envelope) in &messages {
        assert_eq!(&envelope.r#type, key);
        assert_eq!(envelope.source, "case");
        assert_eq!(envelope.actor, "agent:agent");
        assert!(ids.insert(envelope.id.clone()), "event ids are unique");
        assert!(uuid::Uuid::parse_str(&envelope.id).unwrap().get_version_num() == 7);
    }
    let case_events: Vec<_> = messages.iter().filter(|(k, _)| k.starts_with("case.")).collect();
    assert!(case_events.iter().all(|(_, e)| e.subject == created.id));

    let changed: ev::CaseUpdated = unpack(&messages[3].1, "docket.events.v1.CaseUpdated").unwrap();
    assert_eq!(changed.reason, "production down");
    assert_eq!(
        changed.changes.iter().map(|c| (c.field.as_str(), c.old_value.as_str(), c.new_value.as_str())).collect::<Vec<_>>(),
        [("priority", "high", "critical")]
    );
    assert_eq!(changed.case.unwrap().etag, updated.etag);
    let assigned: ev::CaseAssigned = unpack(&messages[4].1, "docket.events.v1.CaseAssigned").unwrap();
    assert_eq!(assigned.case.unwrap().owner_id, owner.id);
    assert_eq!(assigned.previous_owner_id, "");
    let closed: ev::CaseClosed = unpack(&messages[8].1, "docket.events.v1.CaseClosed").unwrap();
    assert_eq!(closed.case.unwrap().resolution_summary, "Replaced the board");
    let reopened: ev::CaseReopened = unpack(&messages[10].1, "docket.events.v1.CaseReopened").unwrap();
    assert_eq!(reopened.reason, "Broke again");
    let activity: ev::CaseActivityAdded = unpack(&messages[11].1, "docket.events.v1.CaseActivityAdded").unwrap();
    assert_eq!(activity.activity.unwrap().body, "On my way");
    assert!(unpack::<ev::CaseClosed>(&messages[11].1, "docket.events.v1.CaseClosed").is_err(), "types are checked");

    let db = app.case_db().await;
    assert_eq!(outbox::backlog(&db).await.unwrap(), 0, "every row is marked sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_written_while_the_broker_is_unreachable_arrive_when_it_returns() {
    crate::common::check_postgres().await;
    let proxy = TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let proxy_url = format!("amqp://guest:guest@{}/%2f", proxy.addr);
    let (app, _cleanup) = spawn(|settings| settings.events.url = proxy_url).await;
    let mut watch = Watch::bind(&app.settings.events.exchange, "case.created").await;
    let customer = customer(&app).await;
    let warm_up = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest {
            case: Some(new_case(&customer, "before")),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap();
    watch.exactly(1, Duration::from_secs(20)).await;

    proxy.cut();
    let mut created = Vec::new();
    for i in 0..5 {
        let case = app
            .cases(AGENT)
            .create_case(pb::CreateCaseRequest {
                case: Some(new_case(&customer, &format!("during outage {i}"))),
                idempotency_key: String::new(),
                sender: None,
            })
            .await
            .expect("cases are still taken while the broker is down")
            .into_inner();
        created.push(case.id);
    }
    assert!(watch.next(Duration::from_secs(2)).await.is_none(), "nothing can reach the broker");
    let db = app.case_db().await;
    assert_eq!(outbox::backlog(&db).await.unwrap(), 5, "the backlog waits in the outbox");

    proxy.restore();
    let arrived = watch.exactly(5, Duration::from_secs(30)).await;
    let subjects: Vec<_> = arrived.iter().map(|(_, e)| e.subject.clone()).collect();
    assert_eq!(subjects, created, "every event arrives, in the order written");
    assert_eq!(outbox::backlog(&db).await.unwrap(), 0);
    drop(warm_up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_on_one_outbox_publish_each_event_once_and_in_order() {
    let (app, _cleanup) = spawn(|_| {}).await;
    let mut watch = Watch::bind(&app.settings.events.exchange, "case.*").await;
    // A second replica's relay on the same outbox.
    let db = app.case_db().await;
    let broker = Arc::new(RabbitBroker::new(&app.settings.events.url, &app.settings.events.exchange));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let second =
        tokio::spawn(outbox::Relay::new("test", db.clone(), broker, &app.settings.events, Default::default()).run(stopping));

    let customer = customer(&app).await;
    let mut cases = Vec::new();
    for i in 0..6 {
        let mut client = app.cases(AGENT);
        let request = pb::CreateCaseRequest {
            case: Some(new_case(&customer, &format!("case {i}"))),
            idempotency_key: String::new(),
            sender: None,
        };
        cases.push(async move { client.create_case(request).await });
    }
    let created: Vec<pb::Case> = futures::future::join_all(cases).await.into_iter().map(|c| c.unwrap().into_inner()).collect();
    let updates = created.iter().map(|case| {
        let mut client = app.cases(AGENT);
        let id = case.id.clone();
        async move {
            for status in [pb::CaseStatus::ClosedNoFault] {
                client
                    .close_case(pb::CloseCaseRequest {
                        id: id.clone(),
                        status: status as i32,
                        resolution_summary: "dup".into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
        }
    });
    futures::future::join_all(updates).await;

    // Per case: created, status_changed, closed = 18 events, each once.
    let messages = watch.exactly(18, Duration::from_secs(30)).await;
    let mut per_case: HashMap<String, Vec<String>> = HashMap::new();
    for (key, envelope) in &messages {
        per_case.entry(envelope.subject.clone()).or_default().push(key.clone());
    }
    for case in &created {
        assert_eq!(per_case[&case.id], ["case.created", "case.status_changed", "case.closed"], "order per case");
    }
    let _ = stop.send(true);
    second.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_rows_are_pruned_after_their_retention() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.events.retention_hours = 0).await;
    crate::fixtures::customer(&app).await;
    let db = app.case_db().await;
    let broker = docket_kit::events::memory::InProcessBroker::new();
    let relay = outbox::Relay::new("test", db.clone(), broker, &app.settings.events, Default::default());
    // The app's relay sends them; wait for that.
    crate::common::eventually("the app's relay to send the outbox", async || match outbox::backlog(&db).await.unwrap() {
        0 => Ok(()),
        left => Err(format!("{left} unsent")),
    })
    .await;
    assert_eq!(relay.prune().await.unwrap(), 2, "account.created and contact.created are pruned");
}

/// Events that carry a secret are wiped from the outbox in the transaction
/// that marks them published; the others stay whole until pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forgets_the_envelopes_it_is_told_to_once_published() {
    use docket_kit::events::{envelope, memory::InProcessBroker, pack};
    use sea_orm::{EntityTrait, QueryOrder, TransactionTrait};

    // A database of its own: no app relay publishes these rows first.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/outbox.db?mode=rwc", dir.path().display());
    let db = sea_orm::Database::connect(url).await.unwrap();
    docket_migrations::up(&db, "portal").await.unwrap();
    let txn = db.begin().await.unwrap();
    for event_type in ["portal.password_reset_requested", "portal.user_changed"] {
        let payload = pack("docket.events.v1.CaseCreated", &ev::CaseCreated::default());
        outbox::append(&txn, &[envelope("portal", event_type, "c-1", "system:test", docket_kit::time::now(), payload)])
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();

    let settings = docket::settings::Settings::load(None).unwrap();
    let relay = outbox::Relay::new("test", db.clone(), InProcessBroker::new(), &settings.events, Default::default())
        .forgetting(&["portal.password_reset_requested"]);
    assert_eq!(relay.relay_once().await.unwrap(), 2);
    let rows = outbox::entity::Entity::find().order_by_asc(outbox::entity::Column::Position).all(&db).await.unwrap();
    let kept: Vec<(&str, bool, usize)> =
        rows.iter().map(|row| (row.event_type.as_str(), row.sent_at.is_some(), row.envelope.len())).collect();
    assert_eq!(kept[0], ("portal.password_reset_requested", true, 0), "{kept:?}");
    assert!(kept[1].1 && kept[1].2 > 0, "an event without a secret stays whole: {kept:?}");
}

/// A relay that lingers after a batch (to publish bigger ones under a
/// steady flow) still publishes every row, in order, and none of them waits
/// for the next poll, which here would be ten minutes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingering_relay_publishes_every_row_in_order_without_waiting_for_its_poll() {
    use docket_kit::events::{Broker, envelope, memory::InProcessBroker, pack};
    use prost::Message;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/outbox.db?mode=rwc", dir.path().display());
    let db = sea_orm::Database::connect(url).await.unwrap();
    docket_migrations::up(&db, "case").await.unwrap();
    let mut settings = docket::settings::Settings::load(None).unwrap();
    settings.events.relay_poll_ms = 600_000;
    settings.events.relay_linger_ms = 50;
    let broker = InProcessBroker::new();
    let mut subscription = broker.subscribe("watch", &["case.*".to_owned()], 64).await.unwrap();
    let waker = outbox::RelayWaker::default();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let relay =
        tokio::spawn(outbox::Relay::new("test", db.clone(), broker.clone(), &settings.events, waker.clone()).run(stopping));

    // As a commit does: the row, then a wake.
    let write = async |subject: &str| {
        let payload = pack("docket.events.v1.CaseCreated", &ev::CaseCreated::default());
        let event = envelope("case", "case.created", subject, "system:test", docket_kit::time::now(), payload);
        outbox::append(&db, &[event]).await.unwrap();
        waker.wake();
    };
    let mut next_subjects = async |n: usize| {
        let mut subjects = Vec::new();
        while subjects.len() < n {
            let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.deliveries.recv())
                .await
                .expect("a delivery within 10 s, long before the relay's poll")
                .expect("the subscription is open");
            let envelope = ev::Envelope::decode(delivery.body.as_slice()).unwrap();
            subjects.push(envelope.subject);
            delivery.settle.ack().await.unwrap();
        }
        subjects
    };

    // A first row, then a steady flow of five while the relay lingers.
    write("c-0").await;
    assert_eq!(next_subjects(1).await, ["c-0"]);
    for n in 1..=5 {
        write(&format!("c-{n}")).await;
    }
    assert_eq!(next_subjects(5).await, ["c-1", "c-2", "c-3", "c-4", "c-5"]);
    crate::common::eventually("the relay to mark every row sent", async || match outbox::backlog(&db).await.unwrap() {
        0 => Ok(()),
        left => Err(format!("{left} unsent")),
    })
    .await;
    // Once all is sent, one more: the relay's next batch or a wake sends it,
    // not the poll (whether it waits for a wake after a quiet spell is
    // `after_batch`'s unit test).
    write("c-6").await;
    assert_eq!(next_subjects(1).await, ["c-6"]);

    let _ = stop.send(true);
    relay.await.unwrap();
}
