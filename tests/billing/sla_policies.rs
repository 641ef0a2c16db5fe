//! SlaPolicyService: policies in business hours, validated, versioned.

use docket_proto::{billing::v1 as pb, case::v1::CasePriority};
use prost_types::{FieldMask, Timestamp};
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error},
    on_both_backends,
};

on_both_backends!(
    a_policy_is_created_read_listed_and_updated,
    deadlines_are_previewed_in_business_hours,
    only_one_policy_is_the_default,
    bad_policies_are_refused_naming_the_field_and_write_nothing,
);

fn office_hours() -> Vec<pb::WorkingHours> {
    (1..=5).map(|weekday| pb::WorkingHours { weekday, start: "09:00".into(), end: "17:00".into() }).collect()
}

fn targets() -> Vec<pb::SlaTarget> {
    [
        (CasePriority::Low, 480, 2400),
        (CasePriority::Medium, 240, 1440),
        (CasePriority::High, 120, 480),
        (CasePriority::Critical, 60, 240),
    ]
    .into_iter()
    .map(|(p, f, r)| pb::SlaTarget { priority: p as i32, first_response_minutes: f, resolution_minutes: r })
    .collect()
}

fn policy(name: &str) -> pb::SlaPolicy {
    pb::SlaPolicy {
        name: name.to_owned(),
        description: "Business hours, Berlin".into(),
        time_zone: "Europe/Berlin".into(),
        working_hours: office_hours(),
        holidays: vec!["2026-12-25".into(), "2026-12-24".into()],
        targets: targets(),
        pause_while_pending: true,
        warn_at_percent: 80,
        ..Default::default()
    }
}

async fn create(app: &TestApp, policy: pb::SlaPolicy) -> Result<pb::SlaPolicy, tonic::Status> {
    app.sla_policies(ADMIN)
        .create_sla_policy(pb::CreateSlaPolicyRequest { policy: Some(policy), idempotency_key: String::new() })
        .await
        .map(|r| r.into_inner())
}

async fn policy_rows(app: &TestApp) -> i64 {
    let db = app.service_db("billing").await;
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM sla_policies"))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn a_policy_is_created_read_listed_and_updated(app: TestApp) {
    let created = create(&app, policy("Standard")).await.unwrap();
    assert_eq!(created.etag, "1");
    assert_eq!(created.holidays, ["2026-12-24", "2026-12-25"], "sorted");
    assert_eq!(created.working_hours.len(), 5);
    assert_eq!(created.targets.len(), 4);
    let read =
        app.sla_policies(VIEWER).get_sla_policy(pb::GetSlaPolicyRequest { id: created.id.clone() }).await.unwrap().into_inner();
    assert_eq!(read, created);

    let key_request = pb::CreateSlaPolicyRequest { policy: Some(policy("Premium")), idempotency_key: "premium-1".into() };
    let first = app.sla_policies(ADMIN).create_sla_policy(key_request.clone()).await.unwrap().into_inner();
    let again = app.sla_policies(ADMIN).create_sla_policy(key_request).await.unwrap().into_inner();
    assert_eq!(first, again, "the same key creates one policy");

    let listed = app
        .sla_policies(VIEWER)
        .list_sla_policies(pb::ListSlaPoliciesRequest { page_size: 1, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.policies[0].name, "Premium");
    let rest = app
        .sla_policies(VIEWER)
        .list_sla_policies(pb::ListSlaPoliciesRequest { page_size: 1, page_token: listed.next_page_token })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.policies[0].name, "Standard");
    assert!(rest.next_page_token.is_empty());

    let updated = app
        .sla_policies(ADMIN)
        .update_sla_policy(pb::UpdateSlaPolicyRequest {
            policy: Some(pb::SlaPolicy {
                id: created.id.clone(),
                etag: created.etag.clone(),
                warn_at_percent: 75,
                name: "ignored".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask { paths: vec!["warn_at_percent".into()] }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.warn_at_percent, 75);
    assert_eq!(updated.name, "Standard");
    assert_eq!(updated.etag, "2");
    let stale = app
        .sla_policies(ADMIN)
        .update_sla_policy(pb::UpdateSlaPolicyRequest {
            policy: Some(pb::SlaPolicy {
                id: created.id.clone(),
                etag: created.etag.clone(),
                warn_at_percent: 70,
                ..Default::default()
            }),
            update_mask: Some(FieldMask { paths: vec!["warn_at_percent".into()] }),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let duplicate = create(&app, policy("Standard")).await.unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
}

async fn deadlines_are_previewed_in_business_hours(app: TestApp) {
    let created = create(&app, policy("Standard")).await.unwrap();
    // Friday 2026-11-20 16:30 Berlin (15:30 UTC), Critical: 60 business minutes.
    let preview = app
        .sla_policies(VIEWER)
        .preview_deadlines(pb::PreviewDeadlinesRequest {
            policy_id: created.id.clone(),
            priority: CasePriority::Critical as i32,
            created_at: Some(Timestamp { seconds: 1_795_188_600, nanos: 0 }),
        })
        .await
        .unwrap()
        .into_inner();
    // 30 minutes on Friday, 30 on Monday: due Monday 09:30 Berlin = 08:30 UTC.
    assert_eq!(preview.first_response_due, Some(Timestamp { seconds: 1_795_422_600, nanos: 0 }));
    // 80 % = 48 minutes: Monday 09:18 Berlin.
    assert_eq!(preview.first_response_warning, Some(Timestamp { seconds: 1_795_421_880, nanos: 0 }));
    assert!(preview.resolution_due.unwrap().seconds > preview.first_response_due.unwrap().seconds);

    let missing = app
        .sla_policies(VIEWER)
        .preview_deadlines(pb::PreviewDeadlinesRequest {
            policy_id: uuid::Uuid::now_v7().to_string(),
            priority: CasePriority::Low as i32,
            created_at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let bad = app
        .sla_policies(VIEWER)
        .preview_deadlines(pb::PreviewDeadlinesRequest {
            policy_id: created.id,
            priority: 0,
            created_at: Some(Timestamp { seconds: 0, nanos: -1 }),
        })
        .await
        .unwrap_err();
    assert_field_error(&bad, Code::InvalidArgument, "priority");
    assert_field_error(&bad, Code::InvalidArgument, "created_at");
}

async fn only_one_policy_is_the_default(app: TestApp) {
    let first = create(&app, pb::SlaPolicy { is_default: true, ..policy("First") }).await.unwrap();
    let second = create(&app, pb::SlaPolicy { is_default: true, ..policy("Second") }).await.unwrap();
    assert!(second.is_default);
    let first = app.sla_policies(VIEWER).get_sla_policy(pb::GetSlaPolicyRequest { id: first.id }).await.unwrap().into_inner();
    assert!(!first.is_default, "the new default replaces the old");
}

async fn bad_policies_are_refused_naming_the_field_and_write_nothing(app: TestApp) {
    let cases: Vec<(pb::SlaPolicy, &str)> = vec![
        (pb::SlaPolicy { name: " ".into(), ..policy("x") }, "policy.name"),
        (pb::SlaPolicy { name: "n".repeat(201), ..policy("x") }, "policy.name"),
        (pb::SlaPolicy { time_zone: "Mars/Olympus".into(), ..policy("x") }, "policy.time_zone"),
        (
            pb::SlaPolicy {
                working_hours: vec![pb::WorkingHours { weekday: 8, start: "09:00".into(), end: "17:00".into() }],
                ..policy("x")
            },
            "policy.working_hours[0].weekday",
        ),
        (
            pb::SlaPolicy {
                working_hours: vec![pb::WorkingHours { weekday: 1, start: "17:00".into(), end: "09:00".into() }],
                ..policy("x")
            },
            "policy.working_hours[0]",
        ),
        (
            pb::SlaPolicy {
                working_hours: vec![pb::WorkingHours { weekday: 1, start: "9am".into(), end: "25:00".into() }],
                ..policy("x")
            },
            "policy.working_hours[0]",
        ),
        (
            pb::SlaPolicy {
                working_hours: vec![
                    pb::WorkingHours { weekday: 1, start: "09:00".into(), end: "12:00".into() },
                    pb::WorkingHours { weekday: 1, start: "11:00".into(), end: "13:00".into() },
                ],
                ..policy("x")
            },
            "policy.working_hours",
        ),
        (pb::SlaPolicy { holidays: vec!["25.12.2026".into()], ..policy("x") }, "policy.holidays[0]"),
        (pb::SlaPolicy { targets: targets()[..3].to_vec(), ..policy("x") }, "policy.targets"),
        (
            pb::SlaPolicy { targets: vec![targets()[0], targets()[0], targets()[2], targets()[3]], ..policy("x") },
            "policy.targets[1].priority",
        ),
        (
            pb::SlaPolicy {
                targets: vec![
                    pb::SlaTarget { priority: CasePriority::Low as i32, first_response_minutes: 500, resolution_minutes: 100 },
                    targets()[1],
                    targets()[2],
                    targets()[3],
                ],
                ..policy("x")
            },
            "policy.targets[0]",
        ),
        (
            pb::SlaPolicy {
                targets: vec![pb::SlaTarget { priority: 99, ..targets()[0] }, targets()[1], targets()[2], targets()[3]],
                ..policy("x")
            },
            "policy.targets[0].priority",
        ),
        (pb::SlaPolicy { warn_at_percent: 100, ..policy("x") }, "policy.warn_at_percent"),
    ];
    for (bad, field) in cases {
        let refused = create(&app, bad).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let denied = app
        .sla_policies(AGENT)
        .create_sla_policy(pb::CreateSlaPolicyRequest { policy: Some(policy("Agent's")), idempotency_key: String::new() })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let malformed = app.sla_policies(VIEWER).get_sla_policy(pb::GetSlaPolicyRequest { id: "nope".into() }).await.unwrap_err();
    assert_field_error(&malformed, Code::InvalidArgument, "id");
    let no_mask = app
        .sla_policies(ADMIN)
        .update_sla_policy(pb::UpdateSlaPolicyRequest {
            policy: Some(pb::SlaPolicy { id: uuid::Uuid::now_v7().to_string(), ..Default::default() }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_field_error(&no_mask, Code::InvalidArgument, "update_mask");
    assert_field_error(&no_mask, Code::InvalidArgument, "policy.etag");
    assert_eq!(policy_rows(&app).await, 0, "nothing was written");
}
