//! The period reports (GetCaseVolume, GetResolutionTimes): counted from
//! the case service's own events into kept day rows, checked against what
//! the test works out itself from the events it made. Events of March
//! 2025 are handed to the consumer's handler directly (the clock cannot be
//! turned back for real cases); real cases go the whole way, through the
//! outbox, the broker and the consumer.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use docket_case::{
    domain::period::Dimension,
    own_events::CaseEvents,
    store::{
        Store,
        period_reports::{DayCounts, case_row, day_rows},
    },
};
use docket_kit::events::{
    consumer::{EventHandler, Prepared},
    envelope, pack,
};
use docket_proto::{case::v1 as pb, events::v1 as ev};
use sea_orm::{ConnectionTrait, TransactionTrait};
use tonic::Code;

use crate::{
    common::{AGENT, Backend, TestApp, VIEWER, assert_field_error, eventually},
    fixtures::{account, customer, new_case, note, staff_user, team_of},
    on_both_backends,
};

on_both_backends!(
    volume_is_counted_per_day_week_and_month_by_type_and_team,
    resolution_and_first_response_times_match_the_durations_by_priority,
    real_cases_are_counted_through_the_consumer,
    bad_periods_and_bad_events_are_refused_and_count_nothing,
    repeat_cases_are_counted_per_account_and_asset_within_n_days,
    rows_kept_before_the_gaps_get_them_from_the_migration,
    repeat_gaps_end_right_whatever_order_rows_are_kept_in,
    day_deltas_are_folded_once_whatever_commits_meanwhile,
);

fn at(date: &str, hour: u32) -> DateTime<Utc> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap().and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

fn ts(time: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(docket_kit::time::to_proto(time))
}

fn period(start: &str, end: &str) -> Option<pb::ReportPeriod> {
    Some(pb::ReportPeriod { start_time: ts(at(start, 0)), end_time: ts(at(end, 0)) })
}

/// A case as the events carry it.
fn case(type_id: &str, team_id: &str, priority: pb::CasePriority, created: DateTime<Utc>) -> pb::Case {
    pb::Case {
        id: uuid::Uuid::now_v7().to_string(),
        type_id: type_id.to_owned(),
        team_id: team_id.to_owned(),
        priority: priority as i32,
        channel: pb::CaseChannel::Email as i32,
        create_time: ts(created),
        update_time: ts(created),
        ..Default::default()
    }
}

fn event(event_type: &str, payload_name: &str, payload: &impl prost::Message, case: &pb::Case) -> ev::Envelope {
    envelope("case", event_type, &case.id, "test", docket_kit::time::now(), pack(payload_name, payload))
}

fn created(case: &pb::Case) -> ev::Envelope {
    event("case.created", "docket.events.v1.CaseCreated", &ev::CaseCreated { case: Some(case.clone()) }, case)
}

fn closed(case: &pb::Case, at: DateTime<Utc>) -> ev::Envelope {
    let case = pb::Case { closed_time: ts(at), update_time: ts(at), ..case.clone() };
    event(
        "case.closed",
        "docket.events.v1.CaseClosed",
        &ev::CaseClosed { case: Some(case.clone()), reason: String::new() },
        &case,
    )
}

fn reopened(case: &pb::Case, at: DateTime<Utc>) -> ev::Envelope {
    let case = pb::Case { update_time: ts(at), ..case.clone() };
    event(
        "case.reopened",
        "docket.events.v1.CaseReopened",
        &ev::CaseReopened { case: Some(case.clone()), reason: "again".into() },
        &case,
    )
}

fn first_reply(case: &pb::Case, at: DateTime<Utc>) -> ev::Envelope {
    let case = pb::Case { first_response_time: ts(at), update_time: ts(at), ..case.clone() };
    let activity = pb::Activity { case_id: case.id.clone(), create_time: ts(at), ..Default::default() };
    let payload = ev::CaseActivityAdded { case: Some(case.clone()), activity: Some(activity) };
    event("case.activity_added", "docket.events.v1.CaseActivityAdded", &payload, &case)
}

/// Hands each event to the case service's consumer handler, committing
/// what it keeps as the consumer does.
async fn consume(app: &TestApp, events: &[ev::Envelope]) {
    let db = app.case_db().await;
    for event in events {
        let txn = db.begin().await.unwrap();
        CaseEvents::default()
            .handle(&txn, event, Prepared::nothing())
            .await
            .unwrap_or_else(|err| panic!("{}: {err:?}", event.r#type));
        txn.commit().await.unwrap();
    }
}

async fn volume(app: &TestApp, request: pb::GetCaseVolumeRequest) -> pb::CaseVolume {
    app.reports(VIEWER).get_case_volume(request).await.expect("the volume report").into_inner()
}

async fn times(app: &TestApp, request: pb::GetResolutionTimesRequest) -> pb::ResolutionTimes {
    app.reports(VIEWER).get_resolution_times(request).await.expect("the resolution report").into_inner()
}

async fn volume_is_counted_per_day_week_and_month_by_type_and_team(app: TestApp) {
    let ana = staff_user(&app, "Ana Agent").await;
    let desk = team_of(&app, "Desk", &[&ana]).await;
    let field = team_of(&app, "Field", &[&ana]).await;
    // (type, team, created day, closed day)
    let plan = [
        ("technical_issue", &desk.id, "2025-03-03", Some("2025-03-04")),
        ("technical_issue", &desk.id, "2025-03-03", None),
        ("billing_query", &field.id, "2025-03-09", Some("2025-03-10")),
        ("billing_query", &desk.id, "2025-03-10", Some("2025-04-02")),
        ("technical_issue", &field.id, "2025-03-31", None),
        ("technical_issue", &desk.id, "2025-04-01", None),
    ];
    let mut events = Vec::new();
    for (type_id, team_id, day, closed_on) in plan {
        let made = case(type_id, team_id, pb::CasePriority::Medium, at(day, 9));
        events.push(created(&made));
        if let Some(closed_on) = closed_on {
            events.push(closed(&made, at(closed_on, 15)));
        }
    }
    consume(&app, &events).await;

    // Days: what the plan says per day.
    let march = volume(&app, pb::GetCaseVolumeRequest { period: period("2025-03-01", "2025-04-01"), ..Default::default() }).await;
    let by_step: BTreeMap<&str, (i64, i64)> = march.rows.iter().map(|r| (r.step.as_str(), (r.created, r.closed))).collect();
    let expected: BTreeMap<&str, (i64, i64)> =
        [("2025-03-03", (2, 0)), ("2025-03-04", (0, 1)), ("2025-03-09", (1, 0)), ("2025-03-10", (1, 1)), ("2025-03-31", (1, 0))]
            .into_iter()
            .collect();
    assert_eq!(by_step, expected, "{march:?}");
    assert_eq!((march.created, march.closed), (5, 2), "April's events are outside the period");
    assert!(march.rows.iter().all(|r| r.key.is_empty() && r.name.is_empty()), "no breakdown");

    // Weeks from Monday, cut to the period's start; by type.
    let weeks = volume(
        &app,
        pb::GetCaseVolumeRequest {
            period: period("2025-03-01", "2025-04-06"),
            granularity: pb::ReportGranularity::Week as i32,
            group_by: pb::ReportGrouping::Type as i32,
        },
    )
    .await;
    let by_week: BTreeMap<(&str, &str), (i64, i64)> =
        weeks.rows.iter().map(|r| ((r.step.as_str(), r.key.as_str()), (r.created, r.closed))).collect();
    // 2025-03-01 is a Saturday: its week starts on 2025-02-24, cut to the 1st.
    let expected: BTreeMap<(&str, &str), (i64, i64)> = [
        (("2025-03-03", "technical_issue"), (2, 1)),
        (("2025-03-03", "billing_query"), (1, 0)),
        (("2025-03-10", "billing_query"), (1, 1)),
        (("2025-03-31", "technical_issue"), (2, 0)),
        (("2025-03-31", "billing_query"), (0, 1)),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_week, expected, "{weeks:?}");
    let names: BTreeMap<&str, &str> = weeks.rows.iter().map(|r| (r.key.as_str(), r.name.as_str())).collect();
    assert!(names.values().all(|name| !name.is_empty()), "each type by its name: {names:?}");

    // Months, by team, named.
    let months = volume(
        &app,
        pb::GetCaseVolumeRequest {
            period: period("2025-03-01", "2025-05-01"),
            granularity: pb::ReportGranularity::Month as i32,
            group_by: pb::ReportGrouping::Team as i32,
        },
    )
    .await;
    let by_month: BTreeMap<(&str, &str), (i64, i64)> =
        months.rows.iter().map(|r| ((r.step.as_str(), r.name.as_str()), (r.created, r.closed))).collect();
    let expected: BTreeMap<(&str, &str), (i64, i64)> =
        [(("2025-03-01", "Desk"), (3, 1)), (("2025-03-01", "Field"), (2, 1)), (("2025-04-01", "Desk"), (1, 1))]
            .into_iter()
            .collect();
    assert_eq!(by_month, expected, "{months:?}");
    assert_eq!((months.created, months.closed), (6, 3));
}

async fn resolution_and_first_response_times_match_the_durations_by_priority(app: TestApp) {
    use pb::CasePriority::{Critical, High, Low};
    // (priority, minutes to resolve, minutes to first reply, reopened after closing)
    let plan = [
        (High, 10, 5, false),
        (High, 50, 20, false),
        (High, 200, 30, true),
        (High, 3_000, 45, false),
        (Low, 600, 120, false),
        (Low, 6_000, 600, true),
        (Low, 20_000, 2_000, false),
        // Closed within minutes: its median is its own, not the middle of
        // the first bucket's quarter hour.
        (Critical, 2, 1, false),
    ];
    let start = at("2025-03-03", 8);
    let mut events = Vec::new();
    for (i, (priority, resolve, reply, reopen)) in plan.iter().enumerate() {
        let created_at = start + Duration::hours(i as i64);
        let made = case("technical_issue", "", *priority, created_at);
        events.push(created(&made));
        let replied = pb::Case { first_response_time: ts(created_at + Duration::minutes(*reply)), ..made.clone() };
        events.push(first_reply(&made, created_at + Duration::minutes(*reply)));
        let closed_at = created_at + Duration::minutes(*resolve);
        events.push(closed(&replied, closed_at));
        if *reopen {
            events.push(reopened(&replied, closed_at + Duration::minutes(1)));
        }
    }
    consume(&app, &events).await;

    let report = times(
        &app,
        pb::GetResolutionTimesRequest {
            period: period("2025-03-01", "2025-04-01"),
            group_by: pb::ReportGrouping::Priority as i32,
        },
    )
    .await;
    /// The bucket bounds of the period reports, in minutes.
    const BOUNDS: [f64; 13] =
        [15.0, 30.0, 60.0, 120.0, 240.0, 480.0, 1_440.0, 2_880.0, 4_320.0, 7_200.0, 10_080.0, 20_160.0, 43_200.0];
    let bucket = |minutes: f64| BOUNDS.iter().position(|b| minutes < *b).unwrap_or(BOUNDS.len());
    let check = |stats: &pb::DurationStats, mut values: Vec<i64>, what: &str| {
        values.sort_unstable();
        let n = values.len();
        assert_eq!(stats.count, n as i64, "{what}");
        let mean = values.iter().sum::<i64>() as f64 / n as f64;
        assert!((stats.mean_minutes - mean).abs() < 1e-6, "{what}: mean {} != {mean}", stats.mean_minutes);
        // Nearest rank: the ceil(p * n)-th shortest.
        let nearest = |p: f64| values[((p * n as f64 - 1e-9).ceil() as usize).max(1) - 1] as f64;
        assert_eq!(bucket(stats.median_minutes), bucket(nearest(0.5)), "{what}: median {}", stats.median_minutes);
        assert_eq!(bucket(stats.p90_minutes), bucket(nearest(0.9)), "{what}: p90 {}", stats.p90_minutes);
        let (shortest, longest) = (values[0] as f64, values[n - 1] as f64);
        for (name, estimate) in [("median", stats.median_minutes), ("p90", stats.p90_minutes)] {
            assert!(
                estimate >= shortest - 1e-9 && estimate <= longest + 1e-9,
                "{what}: {name} {estimate} outside the shortest {shortest} and longest {longest}"
            );
        }
    };
    for (priority, key, name) in [(High, "high", "High"), (Low, "low", "Low"), (Critical, "critical", "Critical")] {
        let row = report.rows.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("no {key} row: {report:?}"));
        assert_eq!(row.name, name);
        let mine: Vec<_> = plan.iter().filter(|p| p.0 == priority).collect();
        check(row.resolution.as_ref().unwrap(), mine.iter().map(|p| p.1).collect(), key);
        check(row.first_response.as_ref().unwrap(), mine.iter().map(|p| p.2).collect(), key);
        let reopens = mine.iter().filter(|p| p.3).count() as i64;
        assert_eq!(row.reopened, reopens, "{key}");
        assert!((row.reopen_rate - reopens as f64 / mine.len() as f64).abs() < 1e-9, "{key}");
    }
    let total = report.total.unwrap();
    check(total.resolution.as_ref().unwrap(), plan.iter().map(|p| p.1).collect(), "total");
    check(total.first_response.as_ref().unwrap(), plan.iter().map(|p| p.2).collect(), "total");
    assert_eq!(total.reopened, 2);

    // A period without events: zeros, no rows.
    let empty =
        times(&app, pb::GetResolutionTimesRequest { period: period("2024-01-01", "2024-02-01"), ..Default::default() }).await;
    assert!(empty.rows.is_empty());
    assert_eq!(empty.total.unwrap().resolution.unwrap().count, 0);
}

async fn real_cases_are_counted_through_the_consumer(app: TestApp) {
    let who = customer(&app).await;
    let ana = staff_user(&app, "Ana Agent").await;
    let mut made = Vec::new();
    for subject in ["One", "Two", "Three"] {
        let case = app
            .cases(AGENT)
            .create_case(pb::CreateCaseRequest {
                case: Some(new_case(&who, subject)),
                idempotency_key: String::new(),
                sender: None,
            })
            .await
            .unwrap()
            .into_inner();
        made.push(case);
    }
    let assigned = app
        .cases(AGENT)
        .assign_case(pb::AssignCaseRequest { id: made[0].id.clone(), owner_id: ana.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    note(&app, &made[0].id, "We are on it.", pb::Visibility::Public).await;
    let closed = app
        .cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: made[0].id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Fixed.".into(),
            etag: String::new(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    app.cases(AGENT)
        .reopen_case(pb::ReopenCaseRequest { id: closed.id.clone(), reason: "Broke again".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(assigned.owner_id, ana.id);

    let today = Utc::now().date_naive();
    let tomorrow = today + chrono::Days::new(1);
    let this_period = || {
        Some(pb::ReportPeriod {
            start_time: ts(today.and_hms_opt(0, 0, 0).unwrap().and_utc()),
            end_time: ts(tomorrow.and_hms_opt(0, 0, 0).unwrap().and_utc()),
        })
    };
    let counted = eventually("the consumer to count today's cases", async || {
        let report = volume(
            &app,
            pb::GetCaseVolumeRequest { period: this_period(), group_by: pb::ReportGrouping::Owner as i32, ..Default::default() },
        )
        .await;
        let seen = (report.created, report.closed, report.reopened, report.assigned);
        if seen == (3, 1, 1, 1) { Ok(report) } else { Err(format!("{seen:?}")) }
    })
    .await;
    let anas = counted.rows.iter().find(|r| r.key == ana.id).expect("a row for Ana");
    assert_eq!((anas.name.as_str(), anas.assigned, anas.closed), ("Ana Agent", 1, 1));
    assert_eq!(counted.rows[0].step, today.to_string());
    let report = eventually("the first response to be counted", async || {
        let report = times(&app, pb::GetResolutionTimesRequest { period: this_period(), ..Default::default() }).await;
        let total = report.total.clone().unwrap();
        if total.first_response.as_ref().unwrap().count == 1 { Ok(total) } else { Err(format!("{total:?}")) }
    })
    .await;
    assert_eq!(report.resolution.unwrap().count, 1);
    assert_eq!((report.reopened, report.reopen_rate), (1, 1.0));
}

async fn bad_periods_and_bad_events_are_refused_and_count_nothing(app: TestApp) {
    let reports = || app.reports(VIEWER);
    for (request, field) in [
        (pb::GetCaseVolumeRequest::default(), "period"),
        (
            pb::GetCaseVolumeRequest {
                period: Some(pb::ReportPeriod { start_time: ts(at("2025-03-01", 0)), end_time: None }),
                ..Default::default()
            },
            "period.end_time",
        ),
        (
            pb::GetCaseVolumeRequest {
                period: Some(pb::ReportPeriod { start_time: None, end_time: ts(at("2025-03-01", 0)) }),
                ..Default::default()
            },
            "period.start_time",
        ),
        (pb::GetCaseVolumeRequest { period: period("2025-03-10", "2025-03-01"), ..Default::default() }, "period"),
        (pb::GetCaseVolumeRequest { period: period("2025-03-01", "2025-03-01"), ..Default::default() }, "period"),
        (pb::GetCaseVolumeRequest { period: period("2020-01-01", "2025-01-01"), ..Default::default() }, "period"),
        (
            pb::GetCaseVolumeRequest { period: period("2025-03-01", "2025-04-01"), granularity: 99, ..Default::default() },
            "granularity",
        ),
        (pb::GetCaseVolumeRequest { period: period("2025-03-01", "2025-04-01"), group_by: 99, ..Default::default() }, "group_by"),
    ] {
        let refused = reports().get_case_volume(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let refused = reports()
        .get_resolution_times(pb::GetResolutionTimesRequest { period: period("2025-04-01", "2025-03-01"), group_by: 0 })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "period");
    let refused = app
        .reports("")
        .get_case_volume(pb::GetCaseVolumeRequest { period: period("2025-03-01", "2025-04-01"), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // Events the counting cannot read are refused; nothing is counted.
    let good = case("technical_issue", "", pb::CasePriority::High, at("2025-03-03", 9));
    let no_time = pb::Case { create_time: None, ..good.clone() };
    let bad = [
        event("case.created", "docket.events.v1.CaseCreated", &ev::CaseCreated { case: None }, &good),
        event("case.created", "docket.events.v1.CaseCreated", &ev::CaseCreated { case: Some(no_time.clone()) }, &good),
        event(
            "case.closed",
            "docket.events.v1.CaseClosed",
            &ev::CaseClosed { case: Some(good.clone()), reason: String::new() },
            &good,
        ),
        event("case.reopened", "docket.events.v1.CaseCreated", &ev::CaseCreated { case: Some(good.clone()) }, &good),
        event(
            "case.activity_added",
            "docket.events.v1.CaseActivityAdded",
            &ev::CaseActivityAdded { case: Some(good.clone()), activity: None },
            &good,
        ),
    ];
    let db = app.case_db().await;
    let rows = async || {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT (SELECT COUNT(*) FROM report_days) + (SELECT COUNT(*) FROM report_day_buckets) AS n",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    let before = rows().await;
    for event in &bad {
        let txn = db.begin().await.unwrap();
        let outcome = CaseEvents::default().handle(&txn, event, Prepared::nothing()).await;
        assert!(outcome.is_err(), "{} was taken: {outcome:?}", event.r#type);
        txn.commit().await.unwrap();
    }
    assert_eq!(rows().await, before, "a refused event counted something");
    let march = volume(&app, pb::GetCaseVolumeRequest { period: period("2025-03-01", "2025-04-01"), ..Default::default() }).await;
    assert!(march.rows.is_empty(), "{march:?}");
}

async fn repeat_cases_are_counted_per_account_and_asset_within_n_days(app: TestApp) {
    let acme = account(&app, "Acme Repeat Ltd").await;
    let globex = account(&app, "Globex Repeat").await;
    let initech = account(&app, "Initech Once").await;
    // (account, asset, created): February's cases are before the period,
    // yet a March case within N days of one is a repeat.
    let plan = [
        (&acme, "SN-1", at("2025-02-26", 9)),
        (&acme, "SN-1", at("2025-03-02", 9)),
        (&acme, "SN-2", at("2025-03-05", 9)),
        (&acme, "", at("2025-03-20", 9)),
        (&globex, "SN-1", at("2025-03-03", 9)),
        (&globex, "SN-9", at("2025-03-03", 15)),
        (&globex, "", at("2025-03-30", 9)),
        (&initech, "SN-5", at("2025-03-10", 9)),
        (&acme, "SN-2", at("2025-04-02", 9)),
    ];
    let mut events = Vec::new();
    let mut made = Vec::new();
    for (account, asset, created_at) in plan {
        let c = pb::Case {
            account_id: account.id.clone(),
            asset_serial_number: asset.to_owned(),
            ..case("technical_issue", "", pb::CasePriority::Medium, created_at)
        };
        events.push(created(&c));
        made.push((account.id.clone(), asset.to_owned(), created_at));
    }
    // Out of order, as events from several replicas may come: a case
    // kept after a later one of its account becomes that one's previous.
    let scrambled: Vec<ev::Envelope> = [4, 8, 1, 6, 0, 3, 7, 2, 5].iter().map(|i| events[*i].clone()).collect();
    consume(&app, &scrambled).await;
    // The same event again counts once.
    consume(&app, &events[..1]).await;

    let (start, end) = (at("2025-03-01", 0), at("2025-04-01", 0));
    for within_days in [3i64, 7, 30] {
        for by_asset in [false, true] {
            let key = |m: &(String, String, DateTime<Utc>)| if by_asset { m.1.clone() } else { m.0.clone() };
            // Worked out here: every case of the period, and whether one of
            // the same key came within N days before it.
            let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for m in made.iter().filter(|m| m.2 >= start && m.2 < end && !(by_asset && m.1.is_empty())) {
                let repeat = made.iter().any(|p| key(p) == key(m) && p.2 < m.2 && p.2 >= m.2 - Duration::days(within_days));
                let entry = expected.entry(key(m)).or_default();
                entry.0 += 1;
                entry.1 += i64::from(repeat);
            }
            let report = app
                .reports(VIEWER)
                .get_repeat_cases(pb::GetRepeatCasesRequest {
                    period: period("2025-03-01", "2025-04-01"),
                    within_days: within_days as i32,
                    by: if by_asset { pb::RepeatKey::Asset } else { pb::RepeatKey::Account } as i32,
                    limit: 0,
                })
                .await
                .unwrap()
                .into_inner();
            let what = format!("within {within_days} days by {}", if by_asset { "asset" } else { "account" });
            assert_eq!(report.cases, expected.values().map(|e| e.0).sum::<i64>(), "{what}");
            assert_eq!(report.repeats, expected.values().map(|e| e.1).sum::<i64>(), "{what}");
            let rows: BTreeMap<String, (i64, i64)> = report.rows.iter().map(|r| (r.key.clone(), (r.cases, r.repeats))).collect();
            expected.retain(|_, e| e.1 > 0);
            assert_eq!(rows, expected, "{what}: only keys with repeats");
            let ordered: Vec<i64> = report.rows.iter().map(|r| r.repeats).collect();
            assert!(ordered.windows(2).all(|w| w[0] >= w[1]), "{what}: most repeats first");
            for row in &report.rows {
                let name = if by_asset {
                    ""
                } else if row.key == acme.id {
                    "Acme Repeat Ltd"
                } else {
                    "Globex Repeat"
                };
                assert_eq!(row.name, name, "{what}");
            }
        }
    }
    let one = app
        .reports(VIEWER)
        .get_repeat_cases(pb::GetRepeatCasesRequest {
            period: period("2025-03-01", "2025-04-01"),
            within_days: 30,
            by: pb::RepeatKey::Account as i32,
            limit: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.rows.len(), 1, "the limit");
    assert_eq!(one.rows[0].key, acme.id, "the most repeats");

    for (request, field) in [
        (
            pb::GetRepeatCasesRequest { period: period("2025-03-01", "2025-04-01"), within_days: 0, by: 1, limit: 0 },
            "within_days",
        ),
        (
            pb::GetRepeatCasesRequest { period: period("2025-03-01", "2025-04-01"), within_days: 366, by: 1, limit: 0 },
            "within_days",
        ),
        (pb::GetRepeatCasesRequest { period: period("2025-03-01", "2025-04-01"), within_days: 7, by: 0, limit: 0 }, "by"),
        (pb::GetRepeatCasesRequest { period: period("2025-03-01", "2025-04-01"), within_days: 7, by: 9, limit: 0 }, "by"),
        (pb::GetRepeatCasesRequest { period: period("2025-03-01", "2025-04-01"), within_days: 7, by: 1, limit: 501 }, "limit"),
        (pb::GetRepeatCasesRequest { period: period("2025-04-01", "2025-03-01"), within_days: 7, by: 1, limit: 0 }, "period"),
        (pb::GetRepeatCasesRequest { period: None, within_days: 7, by: 1, limit: 0 }, "period"),
    ] {
        let refused = app.reports(VIEWER).get_repeat_cases(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
}

/// `report_cases` rows kept by the version before gaps: the migration that
/// adds the gap columns works them out (and goes down again).
async fn rows_kept_before_the_gaps_get_them_from_the_migration(app: TestApp) {
    let db = app.case_db().await;
    // Down past the gaps (the migrations after it first).
    crate::common::migrate_down_through(&db, "case", "m20261205_000011_report_extremes_and_gaps").await;
    // (case, made at, account, asset)
    let rows = [
        ("c1", 1_000, "a1", "SN-1"),
        ("c2", 4_000, "a1", ""),
        ("c3", 4_000, "a2", "SN-1"),
        ("c0", 4_000, "a1", "SN-1"),
        ("c4", 9_000, "a1", "SN-2"),
    ];
    for (id, made, account, asset) in rows {
        db.execute_unprepared(&format!(
            "INSERT INTO report_cases (case_id, created_epoch, account_id, asset) VALUES ('{id}', {made}, '{account}', '{asset}')"
        ))
        .await
        .unwrap();
    }
    docket_migrations::up(&db, "case").await.expect("up again");
    let gaps = kept_gaps(&db).await;
    let want = |id: &str, account: Option<i64>, asset: Option<i64>| (id.to_owned(), account, asset);
    // Within one second, the smaller id comes first.
    assert_eq!(
        gaps,
        vec![
            want("c0", Some(3_000), Some(3_000)),
            want("c1", None, None),
            want("c2", Some(0), None),
            want("c3", None, Some(0)),
            want("c4", Some(5_000), None),
        ],
        "each row's gap to the row before it of its account and of its asset"
    );
}

/// Every kept row's (case, gap to the one before of its account, of its
/// asset), by case id.
async fn kept_gaps(db: &impl ConnectionTrait) -> Vec<(String, Option<i64>, Option<i64>)> {
    let found = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT case_id, account_gap, asset_gap FROM report_cases ORDER BY case_id",
        ))
        .await
        .unwrap();
    found
        .iter()
        .map(|row| {
            (row.try_get("", "case_id").unwrap(), row.try_get("", "account_gap").unwrap(), row.try_get("", "asset_gap").unwrap())
        })
        .collect()
}

/// How many kept rows wait for their gaps.
async fn pending_gaps(db: &impl ConnectionTrait) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM report_cases WHERE gaps_pending",
        ))
        .await
        .unwrap()
        .expect("a count");
    row.try_get("", "n").unwrap()
}

/// Keeps a case's row as the consumer does, in its own transaction.
async fn keep_row(db: &sea_orm::DatabaseConnection, (id, made, account, asset): (&str, i64, &str, &str)) {
    let txn = db.begin().await.unwrap();
    case_row(id, made, account, asset).insert(&txn).await.expect("keep the row");
    txn.commit().await.unwrap();
}

/// The consumer keeps rows without their gaps (no lock); the sweep
/// measures them, and re-measures the row after each, so the gaps end up
/// as if the rows had come in order: measured one at a time out of order,
/// measured while an earlier row was still uncommitted (PostgreSQL, where
/// consumers write side by side), and by the service's own sweeper.
async fn repeat_gaps_end_right_whatever_order_rows_are_kept_in(app: TestApp) {
    let db = app.case_db().await;
    let store = Store::new(app.case_db().await);
    let want = |id: &str, account: Option<i64>, asset: Option<i64>| (id.to_owned(), account, asset);
    // Kept latest first, a sweep after each: every row but the first comes
    // before one already measured.
    for row in [
        ("c4", 9_000, "a1", "SN-2"),
        ("c2", 4_000, "a1", ""),
        ("c0", 4_000, "a1", "SN-1"),
        ("c3", 4_000, "a2", "SN-1"),
        ("c1", 1_000, "a1", "SN-1"),
    ] {
        keep_row(&db, row).await;
        store.measure_repeat_gaps().await.expect("a sweep");
    }
    let expected = vec![
        want("c0", Some(3_000), Some(3_000)),
        want("c1", None, None),
        want("c2", Some(0), None),
        want("c3", None, Some(0)),
        want("c4", Some(5_000), None),
    ];
    assert_eq!(kept_gaps(&db).await, expected, "each row's gap to the row before it of its account and of its asset");
    assert_eq!(pending_gaps(&db).await, 0, "nothing left to measure");
    // The same row again (a redelivered event) changes nothing.
    keep_row(&db, ("c4", 9_000, "a1", "SN-2")).await;
    assert_eq!(pending_gaps(&db).await, 0, "a kept row is kept once");

    let mut expected = expected;
    if app.backend == Backend::Postgres {
        // c5 is inserted but not committed while c6, after it, is kept and
        // measured: c6 measures to c4 first, then to c5 once c5 commits.
        let slow = db.begin().await.unwrap();
        case_row("c5", 10_000, "a1", "SN-2").insert(&slow).await.expect("keep c5");
        keep_row(&db, ("c6", 12_000, "a1", "")).await;
        store.measure_repeat_gaps().await.expect("a sweep beside an open transaction");
        assert!(kept_gaps(&db).await.contains(&want("c6", Some(3_000), None)), "c6 measured to the last committed row");
        slow.commit().await.unwrap();
        store.measure_repeat_gaps().await.expect("a sweep");
        expected.extend([want("c5", Some(1_000), Some(1_000)), want("c6", Some(2_000), None)]);
        assert_eq!(kept_gaps(&db).await, expected, "c5 in between once it committed");
    }

    // Nobody asks for a report: the service's sweeper measures on its own.
    keep_row(&db, ("c7", 20_000, "a2", "SN-1")).await;
    eventually("the sweeper to measure the new row", async || {
        let pending = pending_gaps(&db).await;
        if pending == 0 { Ok(()) } else { Err(format!("{pending} pending")) }
    })
    .await;
    expected.push(want("c7", Some(16_000), Some(16_000)));
    assert_eq!(kept_gaps(&db).await, expected, "the sweeper's measure");
}

/// What an event adds: a case of `type_id` created (no durations), or
/// closed after `resolution` seconds.
fn day_counts(day: i32, type_id: &str, created: i64, resolution: Option<i64>) -> DayCounts {
    DayCounts {
        day,
        keys: vec![(Dimension::All, String::new()), (Dimension::Type, type_id.to_owned())],
        created,
        closed: i64::from(resolution.is_some()),
        resolution,
        ..Default::default()
    }
}

/// (created, closed, resolved, resolution seconds, shortest, longest,
/// bucketed resolutions) kept for one day's key of a dimension.
async fn kept_day(
    db: &impl ConnectionTrait,
    day: i32,
    dimension: &str,
    key: &str,
) -> (i64, i64, i64, i64, Option<i64>, Option<i64>, i64) {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT created, closed, resolved, resolution_seconds, resolution_min, resolution_max, \
           (SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM report_day_buckets b WHERE b.dimension = d.dimension \
             AND b.day = d.day AND b.key = d.key AND b.metric = 'resolution') AS bucketed \
         FROM report_days d WHERE dimension = '{dimension}' AND day = {day} AND key = '{key}'"
    );
    let row = db.query_one_raw(sea_orm::Statement::from_string(backend, sql)).await.unwrap().expect("the day's row");
    let get = |column: &str| row.try_get::<i64>("", column).unwrap();
    let range = |column: &str| row.try_get::<Option<i64>>("", column).unwrap();
    (
        get("created"),
        get("closed"),
        get("resolved"),
        get("resolution_seconds"),
        range("resolution_min"),
        range("resolution_max"),
        get("bucketed"),
    )
}

async fn deltas_left(db: &impl ConnectionTrait) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM report_day_deltas"))
        .await
        .unwrap()
        .expect("a count");
    row.try_get("", "n").unwrap()
}

/// The consumer keeps an event's counts as inserts; a fold adds them to the
/// day rows (sums, extremes, buckets) and deletes them, once: kept again
/// after a fold they add on; one committed while a fold runs (PostgreSQL,
/// where consumers write side by side) is folded by the next, not lost.
async fn day_deltas_are_folded_once_whatever_commits_meanwhile(app: TestApp) {
    let db = app.case_db().await;
    let store = Store::new(app.case_db().await);
    let day = 20_150;
    let keep_one = async |counts: DayCounts| {
        let txn = db.begin().await.unwrap();
        day_rows(&counts).insert(&txn).await.expect("keep the counts");
        txn.commit().await.unwrap();
    };
    keep_one(day_counts(day, "t1", 1, None)).await;
    keep_one(day_counts(day, "t1", 1, None)).await;
    keep_one(day_counts(day, "t2", 0, Some(600))).await;
    // (The service's sweeper may fold some first: the sums are the same.)
    store.fold_day_deltas().await.expect("a fold");
    assert_eq!(deltas_left(&db).await, 0, "folded rows are gone");
    assert_eq!(kept_day(&db, day, "all", "").await, (2, 1, 1, 600, Some(600), Some(600), 1));
    assert_eq!(kept_day(&db, day, "type", "t1").await, (2, 0, 0, 0, None, None, 0));

    keep_one(day_counts(day, "t2", 0, Some(60))).await;
    keep_one(day_counts(day, "t2", 0, Some(7_200))).await;
    store.fold_day_deltas().await.expect("a fold");
    assert_eq!(store.fold_day_deltas().await.expect("a fold of nothing"), 0, "nothing twice");
    assert_eq!(kept_day(&db, day, "all", "").await, (2, 3, 3, 7_860, Some(60), Some(7_200), 3), "added on");
    assert_eq!(kept_day(&db, day, "type", "t2").await, (0, 3, 3, 7_860, Some(60), Some(7_200), 3));

    if app.backend == Backend::Postgres {
        let slow = db.begin().await.unwrap();
        day_rows(&day_counts(day, "t1", 1, None)).insert(&slow).await.expect("keep, not committed yet");
        keep_one(day_counts(day, "t1", 1, None)).await;
        store.fold_day_deltas().await.expect("a fold beside an open transaction");
        assert_eq!(kept_day(&db, day, "type", "t1").await.0, 3, "only the committed one folded");
        slow.commit().await.unwrap();
        store.fold_day_deltas().await.expect("a fold");
        assert_eq!(kept_day(&db, day, "type", "t1").await.0, 4, "both counted, once each");
    }

    // Nobody asks for a report: the service's sweeper folds on its own.
    keep_one(day_counts(day, "t3", 1, None)).await;
    eventually("the sweeper to fold the new counts", async || {
        let left = deltas_left(&db).await;
        if left == 0 { Ok(()) } else { Err(format!("{left} deltas left")) }
    })
    .await;
    assert_eq!(kept_day(&db, day, "type", "t3").await.0, 1, "the sweeper's fold");
}
