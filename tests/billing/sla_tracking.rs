//! SLA tracking: clocks fed by case events, deadlines that move with the
//! priority and pause while Pending, and a scheduler that raises warnings
//! and breaches once each, however many replicas run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use docket_billing::scheduler::SlaScheduler;
use docket_kit::events::{EventBackend, outbox::RelayWaker, unpack};
use docket_proto::{
    billing::v1 as pb,
    case::v1::{self as case_pb, CasePriority},
    events::v1 as ev,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tonic::Code;

use crate::{
    common::{
        ADMIN, AGENT, Backend, TestApp, VIEWER, assert_field_error, eventually,
        rabbit::{Cleanup, Watch, keys},
    },
    fixtures::{Customer, customer, mask, new_case, staff_user},
    on_both_backends,
};

on_both_backends!(
    a_case_gets_deadlines_that_move_with_its_priority_and_pause_while_pending,
    compliance_counts_the_cases_that_met_their_targets,
    a_case_without_a_clock_yet_is_computed_from_the_case,
    bad_sla_requests_are_refused,
);

/// Around the clock, every day: business time is real time, so the test
/// can compute deadlines from the case's own timestamps.
pub fn always_open(name: &str, is_default: bool) -> pb::SlaPolicy {
    pb::SlaPolicy {
        name: name.to_owned(),
        time_zone: "UTC".into(),
        working_hours: (1..=7).map(|weekday| pb::WorkingHours { weekday, start: "00:00".into(), end: "24:00".into() }).collect(),
        targets: [
            (CasePriority::Low, 480, 2400),
            (CasePriority::Medium, 240, 1440),
            (CasePriority::High, 120, 480),
            (CasePriority::Critical, 60, 240),
        ]
        .into_iter()
        .map(|(p, f, r)| pb::SlaTarget { priority: p as i32, first_response_minutes: f, resolution_minutes: r })
        .collect(),
        pause_while_pending: true,
        warn_at_percent: 80,
        is_default,
        ..Default::default()
    }
}

pub async fn create_policy(app: &TestApp, policy: pb::SlaPolicy) -> pb::SlaPolicy {
    app.sla_policies(ADMIN)
        .create_sla_policy(pb::CreateSlaPolicyRequest { policy: Some(policy), idempotency_key: String::new() })
        .await
        .expect("create policy")
        .into_inner()
}

pub async fn critical_case(app: &TestApp, customer: &Customer, subject: &str) -> case_pb::Case {
    let case = case_pb::Case { priority: CasePriority::Critical as i32, ..new_case(customer, subject) };
    app.cases(AGENT)
        .create_case(case_pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
        .await
        .expect("create case")
        .into_inner()
}

fn time(ts: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    docket_kit::time::from_proto(ts.as_ref().expect("a timestamp")).expect("a valid timestamp")
}

/// The case's clock row has seen version `version` of the case.
pub async fn wait_for_clock(db: &DatabaseConnection, case_id: &str, version: &str) {
    eventually(&format!("the clock of case {case_id} to reach version {version}"), async || {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT case_version FROM case_clocks WHERE case_id = '{case_id}'"),
            ))
            .await
            .expect("read clock");
        let seen = row.map(|r| r.try_get::<i64>("", "case_version").expect("version"));
        if seen.is_some_and(|v| v.to_string() == version) { Ok(()) } else { Err(format!("version {seen:?}")) }
    })
    .await;
}

async fn sla(app: &TestApp, case_id: &str) -> pb::CaseSla {
    app.case_slas(VIEWER)
        .get_case_sla(pb::GetCaseSlaRequest { case_id: case_id.to_owned() })
        .await
        .expect("get case SLA")
        .into_inner()
}

async fn a_case_gets_deadlines_that_move_with_its_priority_and_pause_while_pending(app: TestApp) {
    let policy = create_policy(&app, always_open("Around the clock", true)).await;
    let acme = customer(&app).await;
    let billing = app.service_db("billing").await;
    let case = critical_case(&app, &acme, "Line down").await;
    wait_for_clock(&billing, &case.id, &case.etag).await;
    let created = time(&case.create_time);

    let state = sla(&app, &case.id).await;
    assert_eq!(state.sla_policy_id, policy.id);
    let first = state.first_response.unwrap();
    assert_eq!(first.state(), pb::SlaState::OnTrack);
    assert_eq!(time(&first.due_time), created + chrono::Duration::minutes(60));
    assert_eq!(time(&first.warning_time), created + chrono::Duration::minutes(48));
    assert!(first.business_seconds_left > 3_500 && first.business_seconds_left <= 3_600);
    let resolution = state.resolution.unwrap();
    assert_eq!(time(&resolution.due_time), created + chrono::Duration::minutes(240));
    assert_eq!(state.overall(), pb::SlaState::OnTrack);

    // Lower priority: both deadlines move out.
    let lowered = app
        .cases(AGENT)
        .update_case(case_pb::UpdateCaseRequest {
            case: Some(case_pb::Case {
                id: case.id.clone(),
                etag: case.etag.clone(),
                priority: CasePriority::Low as i32,
                ..Default::default()
            }),
            update_mask: mask(&["priority"]),
            reason: "workaround in place".into(),
        })
        .await
        .unwrap()
        .into_inner();
    wait_for_clock(&billing, &case.id, &lowered.etag).await;
    let state = sla(&app, &case.id).await;
    assert_eq!(time(&state.first_response.unwrap().due_time), created + chrono::Duration::minutes(480));
    assert_eq!(time(&state.resolution.unwrap().due_time), created + chrono::Duration::minutes(2400));

    // Pending stops the clock; the time spent Pending moves the deadlines.
    let owner = staff_user(&app, "Alex Agent").await;
    let mut cases = app.cases(AGENT);
    cases
        .assign_case(case_pb::AssignCaseRequest { id: case.id.clone(), owner_id: owner.id.clone(), ..Default::default() })
        .await
        .unwrap();
    let pending = cases
        .set_case_status(case_pb::SetCaseStatusRequest {
            id: case.id.clone(),
            status: case_pb::CaseStatus::Pending as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    wait_for_clock(&billing, &case.id, &pending.etag).await;
    let state = sla(&app, &case.id).await;
    let first = state.first_response.unwrap();
    assert_eq!(first.state(), pb::SlaState::Paused);
    assert!(first.due_time.is_none());
    assert!(first.business_seconds_left > 0);
    assert_eq!(state.overall(), pb::SlaState::Paused);
    let resumed = cases
        .set_case_status(case_pb::SetCaseStatusRequest {
            id: case.id.clone(),
            status: case_pb::CaseStatus::ActiveAssigned as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    wait_for_clock(&billing, &case.id, &resumed.etag).await;
    let paused_for = time(&resumed.update_time) - time(&pending.update_time);
    // However short the pause, the deadline moves by exactly that much.
    assert!(paused_for > chrono::Duration::zero());
    let state = sla(&app, &case.id).await;
    let first = state.first_response.unwrap();
    assert_eq!(first.state(), pb::SlaState::OnTrack);
    assert_eq!(time(&first.due_time), created + chrono::Duration::minutes(480) + paused_for);

    // A public reply by staff meets the first-response target.
    let replied = cases
        .add_activity(case_pb::AddActivityRequest {
            activity: Some(case_pb::Activity {
                case_id: case.id.clone(),
                kind: case_pb::ActivityKind::Note as i32,
                visibility: case_pb::Visibility::Public as i32,
                body: "We are on it.".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(replied.into_inner().case_id, case.id);
    let current = cases
        .get_case(case_pb::GetCaseRequest { lookup: Some(case_pb::get_case_request::Lookup::Id(case.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    wait_for_clock(&billing, &case.id, &current.etag).await;
    let first = sla(&app, &case.id).await.first_response.unwrap();
    assert_eq!(first.state(), pb::SlaState::Met);
    assert_eq!(time(&first.met_time), time(&current.first_response_time));
}

async fn compliance_counts_the_cases_that_met_their_targets(app: TestApp) {
    let policy = create_policy(&app, always_open("Around the clock", true)).await;
    let acme = customer(&app).await;
    let billing = app.service_db("billing").await;
    let start = docket_kit::time::now() - chrono::Duration::minutes(1);
    let answered = critical_case(&app, &acme, "Answered in time").await;
    let late = critical_case(&app, &acme, "Answered late").await;
    let open = critical_case(&app, &acme, "Still open").await;
    app.cases(AGENT)
        .add_activity(case_pb::AddActivityRequest {
            activity: Some(case_pb::Activity {
                case_id: answered.id.clone(),
                kind: case_pb::ActivityKind::Note as i32,
                visibility: case_pb::Visibility::Public as i32,
                body: "Looking into it".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let answered = app
        .cases(AGENT)
        .get_case(case_pb::GetCaseRequest { lookup: Some(case_pb::get_case_request::Lookup::Id(answered.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert!(answered.first_response_time.is_some());
    for case in [&answered, &late, &open] {
        wait_for_clock(&billing, &case.id, &case.etag).await;
    }
    // Two hours pass for the scheduler: the unanswered cases breach their first response.
    let scheduler = SlaScheduler::new(billing.clone(), Duration::from_secs(1), 100, RelayWaker::default());
    let later = docket_kit::time::now() + chrono::Duration::minutes(120);
    let sweep = scheduler.sweep(later).await.unwrap();
    assert_eq!(sweep.raised, 4, "a warning and a breach for each of the two unanswered cases");
    let compliance = app
        .case_slas(VIEWER)
        .get_sla_compliance(pb::GetSlaComplianceRequest {
            sla_policy_id: policy.id.clone(),
            period_start: Some(docket_kit::time::to_proto(start)),
            period_end: Some(docket_kit::time::to_proto(later)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(compliance.cases, 3);
    let first = compliance.first_response.unwrap();
    assert_eq!((first.decided, first.met, first.missed, first.open), (3, 1, 2, 0));
    assert_eq!(first.met_basis_points, 3_333);
    let resolution = compliance.resolution.unwrap();
    assert_eq!((resolution.decided, resolution.open), (0, 3));
    assert_eq!(resolution.met_basis_points, 10_000);

    // The breached cases are in the breached queue, soonest due first.
    let queue = app
        .case_slas(VIEWER)
        .list_case_slas(pb::ListCaseSlasRequest { states: vec![pb::SlaState::Breached as i32], ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .cases;
    // Real time has not reached the deadlines: nothing is breached now.
    assert!(queue.is_empty(), "{queue:?}");
}

async fn a_case_without_a_clock_yet_is_computed_from_the_case(app: TestApp) {
    create_policy(&app, always_open("Around the clock", true)).await;
    let acme = customer(&app).await;
    let case = critical_case(&app, &acme, "Fresh").await;
    // Whether or not its event has arrived, the answer is the same.
    let state = sla(&app, &case.id).await;
    assert_eq!(state.case_number, case.case_number);
    assert_eq!(time(&state.first_response.unwrap().due_time), time(&case.create_time) + chrono::Duration::minutes(60));
    let missing = app
        .case_slas(VIEWER)
        .get_case_sla(pb::GetCaseSlaRequest { case_id: uuid::Uuid::now_v7().to_string() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn bad_sla_requests_are_refused(app: TestApp) {
    let mut slas = app.case_slas(VIEWER);
    assert_field_error(
        &slas.get_case_sla(pb::GetCaseSlaRequest { case_id: "C-1".into() }).await.unwrap_err(),
        Code::InvalidArgument,
        "case_id",
    );
    let refused = slas
        .list_case_slas(pb::ListCaseSlasRequest {
            states: vec![pb::SlaState::Met as i32],
            contract_id: "x".into(),
            page_token: "!!".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    for field in ["states[0]", "contract_id", "page_token"] {
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = Some(docket_kit::time::to_proto(docket_kit::time::now()));
    for (request, field) in [
        (pb::GetSlaComplianceRequest { period_start: now, period_end: now, ..Default::default() }, "contract_id"),
        (
            pb::GetSlaComplianceRequest {
                contract_id: id.clone(),
                sla_policy_id: id.clone(),
                period_start: now,
                period_end: now,
            },
            "sla_policy_id",
        ),
        (pb::GetSlaComplianceRequest { contract_id: id.clone(), period_end: now, ..Default::default() }, "period_start"),
        (
            pb::GetSlaComplianceRequest { contract_id: id.clone(), period_start: now, period_end: now, ..Default::default() },
            "period_end",
        ),
    ] {
        assert_field_error(&slas.get_sla_compliance(request).await.unwrap_err(), Code::InvalidArgument, field);
    }
    let refused = app.case_slas("").get_case_sla(pb::GetCaseSlaRequest { case_id: id }).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
}

/// The end-to-end case: PostgreSQL and RabbitMQ, a Critical case
/// under a one-hour policy, two scheduler replicas sweeping at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn warnings_and_breaches_are_raised_once_each_with_two_replicas_and_pending_pauses_the_clock() {
    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.events.backend = EventBackend::Rabbitmq).await;
    let queues = docket::app::CONSUMERS.iter().map(|(service, _)| app.settings.events.queue(service)).collect();
    let _cleanup = Cleanup { exchange: app.settings.events.exchange.clone(), queues };
    let mut alerts = Watch::bind_all(&app.settings.events.exchange, &["case.sla_warning", "case.sla_breached"]).await;

    create_policy(&app, always_open("One hour for critical", true)).await;
    let acme = customer(&app).await;
    let billing = app.service_db("billing").await;
    let running = critical_case(&app, &acme, "Line down").await;
    let paused = critical_case(&app, &acme, "Waiting for the customer").await;
    let owner = staff_user(&app, "Alex Agent").await;
    let mut cases = app.cases(AGENT);
    cases
        .assign_case(case_pb::AssignCaseRequest { id: paused.id.clone(), owner_id: owner.id.clone(), ..Default::default() })
        .await
        .unwrap();
    let pending = cases
        .set_case_status(case_pb::SetCaseStatusRequest {
            id: paused.id.clone(),
            status: case_pb::CaseStatus::Pending as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    wait_for_clock(&billing, &running.id, &running.etag).await;
    wait_for_clock(&billing, &paused.id, &pending.etag).await;
    let created = time(&running.create_time);

    // Two replicas of the scheduler, each with its own connection pool.
    let replica = || async {
        let db = docket_kit::db::connect(&app.settings.database, "billing").await.unwrap();
        SlaScheduler::new(db, Duration::from_secs(1), 10, RelayWaker::default())
    };
    let (a, b) = (replica().await, replica().await);
    let sweep_both = |at: DateTime<Utc>| {
        let (a, b) = (&a, &b);
        async move {
            let (x, y) = tokio::join!(a.sweep(at), b.sweep(at));
            x.unwrap().raised + y.unwrap().raised
        }
    };

    // 50 minutes in: past 80 % of the first-response target.
    let raised =
        sweep_both(created + chrono::Duration::minutes(50)).await + sweep_both(created + chrono::Duration::minutes(51)).await;
    assert_eq!(raised, 1);
    let seen = alerts.exactly(1, Duration::from_secs(10)).await;
    assert_eq!(keys(&seen), ["case.sla_warning"]);
    let alert: ev::CaseSlaAlert = unpack(&seen[0].1, "docket.events.v1.CaseSlaAlert").unwrap();
    assert_eq!(alert.case_id, running.id);
    assert_eq!(alert.target(), pb::SlaTargetKind::FirstResponse);
    assert_eq!(seen[0].1.source, "billing");

    // An hour in: the breach, once, whichever replica gets there.
    let raised = sweep_both(created + chrono::Duration::minutes(60)).await
        + sweep_both(created + chrono::Duration::minutes(61)).await
        + sweep_both(created + chrono::Duration::minutes(62)).await;
    assert_eq!(raised, 1);
    let seen = alerts.exactly(1, Duration::from_secs(10)).await;
    assert_eq!(keys(&seen), ["case.sla_breached"]);
    let alert: ev::CaseSlaAlert = unpack(&seen[0].1, "docket.events.v1.CaseSlaAlert").unwrap();
    assert_eq!((alert.case_id.as_str(), alert.target()), (running.id.as_str(), pb::SlaTargetKind::FirstResponse));
    assert_eq!(time(&alert.due_time), created + chrono::Duration::minutes(60));

    // Four hours in: the resolution target warns and breaches too; the
    // Pending case, whose clock stopped, raises nothing.
    let raised = sweep_both(created + chrono::Duration::minutes(300)).await;
    assert_eq!(raised, 2);
    let seen = alerts.exactly(2, Duration::from_secs(10)).await;
    assert_eq!(keys(&seen), ["case.sla_warning", "case.sla_breached"]);
    for (_, envelope) in &seen {
        let alert: ev::CaseSlaAlert = unpack(envelope, "docket.events.v1.CaseSlaAlert").unwrap();
        assert_eq!((alert.case_id.as_str(), alert.target()), (running.id.as_str(), pb::SlaTargetKind::Resolution));
    }
    let state = sla(&app, &paused.id).await;
    assert_eq!(state.first_response.unwrap().state(), pb::SlaState::Paused);
    assert_eq!(state.resolution.unwrap().state(), pb::SlaState::Paused);
    let flags = app
        .case_slas(VIEWER)
        .get_case_sla(pb::GetCaseSlaRequest { case_id: running.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .first_response
        .unwrap();
    assert!(flags.warning_raised && flags.breach_raised);
}
