//! Bad messages to the two consumers this issue added: the billing
//! service's SLA clocks (case events) and the case service's escalation
//! (SLA alerts). A bad message is refused, changes nothing, and ends in the
//! dead-letter queue with its reason.

use docket_billing::clocks::ClockKeeper;
use docket_case::sla_alerts::Escalator;
use docket_kit::events::{
    Broker, EventBackend, Outgoing,
    consumer::{EventHandler, Prepared},
    envelope, pack,
    rabbit::RabbitBroker,
};
use docket_proto::{billing::v1 as billing_pb, case::v1 as pb, events::v1 as ev};
use prost::Message;
use sea_orm::TransactionTrait;

use crate::{
    common::{ADMIN, AGENT, Backend, TestApp, rabbit::Cleanup},
    fixtures::{customer, history, new_case},
    on_both_backends,
    sla_tracking::wait_for_clock,
};

on_both_backends!(
    bad_case_events_are_refused_by_the_sla_clocks_and_change_nothing,
    bad_sla_alerts_are_refused_by_escalation_and_change_nothing
);

fn case_event(event_type: &str, payload: prost_types::Any) -> ev::Envelope {
    envelope("case", event_type, "some-case", "test", docket_kit::time::now(), payload)
}

async fn bad_case_events_are_refused_by_the_sla_clocks_and_change_nothing(app: TestApp) {
    let acme = customer(&app).await;
    let case = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest { case: Some(new_case(&acme, "Real")), idempotency_key: String::new(), sender: None })
        .await
        .unwrap()
        .into_inner();
    let no_priority = pb::Case { priority: 0, ..case.clone() };
    let no_status = pb::Case { status: 42, ..case.clone() };
    let no_create_time = pb::Case { create_time: None, ..case.clone() };
    let bad = [
        // A payload of another type.
        case_event(
            "case.created",
            pack("docket.events.v1.CaseClosed", &ev::CaseClosed { case: Some(case.clone()), reason: String::new() }),
        ),
        // Bytes that are no message at all.
        case_event(
            "case.updated",
            prost_types::Any {
                type_url: "type.googleapis.com/docket.events.v1.CaseUpdated".into(),
                value: vec![0xff, 0xff, 0xff],
            },
        ),
        case_event("case.created", pack("docket.events.v1.CaseCreated", &ev::CaseCreated { case: None })),
        case_event("case.created", pack("docket.events.v1.CaseCreated", &ev::CaseCreated { case: Some(no_priority) })),
        case_event("case.created", pack("docket.events.v1.CaseCreated", &ev::CaseCreated { case: Some(no_status) })),
        case_event("case.created", pack("docket.events.v1.CaseCreated", &ev::CaseCreated { case: Some(no_create_time) })),
    ];
    // The real event may have made a clock already: compare with whatever is there.
    let billing = app.service_db("billing").await;
    wait_for_clock(&billing, &case.id, &case.etag).await;
    let before = app.table_counts("billing", &["case_clocks", "outbox"]).await;
    for event in &bad {
        let txn = billing.begin().await.unwrap();
        let refused = ClockKeeper.handle(&txn, event, Prepared::nothing()).await;
        assert!(refused.is_err(), "{} with a bad payload was accepted", event.r#type);
        txn.rollback().await.unwrap();
    }
    // Events the clocks do not follow are ignored.
    let txn = billing.begin().await.unwrap();
    ClockKeeper
        .handle(
            &txn,
            &case_event("case.escalated", pack("docket.events.v1.CaseEscalated", &ev::CaseEscalated::default())),
            Prepared::nothing(),
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(app.table_counts("billing", &["case_clocks", "outbox"]).await, before);
}

fn alert(event_type: &str, alert: &ev::CaseSlaAlert) -> ev::Envelope {
    envelope(
        "billing",
        event_type,
        &alert.case_id,
        "system:sla-scheduler",
        docket_kit::time::now(),
        pack("docket.events.v1.CaseSlaAlert", alert),
    )
}

async fn bad_sla_alerts_are_refused_by_escalation_and_change_nothing(app: TestApp) {
    let acme = customer(&app).await;
    let case = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest { case: Some(new_case(&acme, "Real")), idempotency_key: String::new(), sender: None })
        .await
        .unwrap()
        .into_inner();
    app.escalation_rules(ADMIN)
        .create_escalation_rule(pb::CreateEscalationRuleRequest {
            rule: Some(pb::EscalationRule {
                name: "Raise on any breach".into(),
                trigger: pb::EscalationTrigger::SlaBreached as i32,
                raise_priority: true,
                active: true,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let good = ev::CaseSlaAlert {
        case_id: case.id.clone(),
        case_number: case.case_number.clone(),
        target: billing_pb::SlaTargetKind::Resolution as i32,
        state: billing_pb::SlaState::Breached as i32,
        ..Default::default()
    };
    let before = app.row_counts().await;
    let trail = history(&app, &case.id).await.len();
    let case_db = app.case_db().await;
    for (event, refused) in [
        (alert("case.sla_breached", &ev::CaseSlaAlert { target: 0, ..good.clone() }), true),
        (alert("case.sla_breached", &ev::CaseSlaAlert { target: 9, ..good.clone() }), true),
        (case_event("case.sla_breached", pack("docket.events.v1.CaseCreated", &ev::CaseCreated::default())), true),
        // An alert about a case that does not exist changes nothing and is done with.
        (alert("case.sla_breached", &ev::CaseSlaAlert { case_id: uuid::Uuid::now_v7().to_string(), ..good.clone() }), false),
        // Not an alert the case service acts on.
        (alert("case.created", &good), false),
    ] {
        let txn = case_db.begin().await.unwrap();
        let outcome = Escalator::default().handle(&txn, &event, Prepared::nothing()).await;
        assert_eq!(outcome.is_err(), refused, "{}: {outcome:?}", event.r#type);
        txn.rollback().await.unwrap();
    }
    assert_eq!(app.row_counts().await, before);
    assert_eq!(history(&app, &case.id).await.len(), trail);
}

/// Through the real broker: a malformed alert can never be handled, so it
/// is parked in the case service's dead-letter queue at once, with its
/// reason; the case is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_sla_alert_ends_in_the_dead_letter_queue_and_changes_no_case() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.events.backend = EventBackend::Rabbitmq).await;
    let queues = docket::app::CONSUMERS.iter().map(|(service, _)| app.settings.events.queue(service)).collect();
    let _cleanup = Cleanup { exchange: app.settings.events.exchange.clone(), queues };
    let acme = customer(&app).await;
    let case = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest { case: Some(new_case(&acme, "Real")), idempotency_key: String::new(), sender: None })
        .await
        .unwrap()
        .into_inner();
    let trail = history(&app, &case.id).await.len();
    let bad = alert("case.sla_breached", &ev::CaseSlaAlert { case_id: case.id.clone(), target: 0, ..Default::default() });
    let broker = RabbitBroker::new(&app.settings.events.url, &app.settings.events.exchange);
    let body = bad.encode_to_vec();
    broker.publish(&Outgoing { id: &bad.id, routing_key: &bad.r#type, body: &body, traceparent: "" }).await.unwrap();

    let queue = app.settings.events.queue(docket_case::SERVICE);
    let letters = crate::common::eventually(&format!("the bad alert in {queue}.dead"), async || {
        let letters = broker.dead_letters(&queue).await.map_err(|err| err.to_string())?;
        if letters.is_empty() { Err("none yet".to_owned()) } else { Ok(letters) }
    })
    .await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].id, bad.id);
    assert!(letters[0].reason.contains("names no SLA target"), "{}", letters[0].reason);
    assert_eq!(letters[0].attempts, 1, "what cannot pass is not retried");
    assert_eq!(history(&app, &case.id).await.len(), trail, "the case was not touched");
}
