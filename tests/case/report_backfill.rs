//! Filling the period reports from the records (`Store::backfill_reports`).
//! A database upgraded to a version that keeps the report tables already
//! has cases the consumer never counted: at start-up they are counted once,
//! from the cases and their audit trail, as the consumer would have counted
//! their events. Each test makes real cases, lets the consumer count them,
//! then turns the database back into one from before the report tables
//! (their rows gone, never filled) and fills it: the reports must read as
//! the consumer built them, and nothing may be counted twice, neither by a
//! second fill, nor by events still on their way, nor by two replicas.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use docket_case::store::{
    Store,
    report_backfill::{Backfilled, FILLED},
};
use docket_kit::db::placeholder;
use docket_proto::case::v1 as pb;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::{
    common::{AGENT, TestApp, VIEWER, eventually},
    fixtures::{Customer, case, customer, new_case, note, staff_user, team_of},
    on_both_backends,
};

on_both_backends!(
    an_upgrade_counts_earlier_cases_from_their_records_once,
    events_still_on_their_way_are_not_counted_twice,
    two_replicas_starting_at_once_fill_once,
);

fn ts(time: chrono::DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(docket_kit::time::to_proto(time))
}

/// Today (UTC) as a report period: the tests' cases are all made today.
fn today() -> Option<pb::ReportPeriod> {
    let start = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    Some(pb::ReportPeriod { start_time: ts(start), end_time: ts(start + Duration::days(1)) })
}

fn by_owner(period: &Option<pb::ReportPeriod>) -> pb::GetCaseVolumeRequest {
    pb::GetCaseVolumeRequest {
        period: *period,
        granularity: pb::ReportGranularity::Day as i32,
        group_by: pb::ReportGrouping::Owner as i32,
    }
}

async fn volume(app: &TestApp, request: pb::GetCaseVolumeRequest) -> pb::CaseVolume {
    app.reports(VIEWER).get_case_volume(request).await.expect("the volume report").into_inner()
}

async fn repeats(app: &TestApp, period: &Option<pb::ReportPeriod>, by: pb::RepeatKey) -> pb::RepeatCases {
    app.reports(VIEWER)
        .get_repeat_cases(pb::GetRepeatCasesRequest { period: *period, within_days: 30, by: by as i32, limit: 0 })
        .await
        .expect("the repeat cases report")
        .into_inner()
}

/// What the period reports answer for a period.
#[derive(Debug, PartialEq)]
struct Reports {
    volume: pb::CaseVolume,
    times: pb::ResolutionTimes,
    by_account: pb::RepeatCases,
    by_asset: pb::RepeatCases,
}

async fn snapshot(app: &TestApp, period: &Option<pb::ReportPeriod>) -> Reports {
    let times = app
        .reports(VIEWER)
        .get_resolution_times(pb::GetResolutionTimesRequest { period: *period, group_by: pb::ReportGrouping::Team as i32 })
        .await
        .expect("the resolution report")
        .into_inner();
    Reports {
        volume: volume(app, by_owner(period)).await,
        times,
        by_account: repeats(app, period, pb::RepeatKey::Account).await,
        by_asset: repeats(app, period, pb::RepeatKey::Asset).await,
    }
}

/// Waits until the consumer has counted exactly `created` cases today.
async fn counted(app: &TestApp, period: &Option<pb::ReportPeriod>, created: i64) {
    eventually(&format!("the consumer to count {created} cases"), async || {
        let seen = volume(app, by_owner(period)).await.created;
        if seen == created { Ok(()) } else { Err(format!("{seen} counted")) }
    })
    .await;
}

/// Turns the database into one from before the report tables: nothing
/// kept, and never filled.
async fn forget_reports(app: &TestApp) {
    let db = app.case_db().await;
    for table in ["report_days", "report_day_buckets", "report_day_deltas", "report_cases"] {
        db.execute_unprepared(&format!("DELETE FROM {table}")).await.expect("empty a report table");
    }
    db.execute_unprepared(&format!("DELETE FROM inbox WHERE consumer = '{}' AND event_id = '{FILLED}'", docket_case::SERVICE))
        .await
        .expect("forget the fill");
    db.close().await.ok();
}

/// Whether the case consumer's inbox has handled `event_id`.
async fn handled(db: &DatabaseConnection, event_id: &str) -> bool {
    let backend = db.get_database_backend();
    let sql = format!("SELECT COUNT(*) AS n FROM inbox WHERE consumer = 'case' AND event_id = {}", placeholder(backend, 1));
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [event_id.into()]))
        .await
        .expect("read the inbox")
        .expect("one row");
    row.try_get::<i64>("", "n").expect("a count") > 0
}

async fn open_case(app: &TestApp, who: &Customer, subject: &str, asset: &str) -> pb::Case {
    let case = pb::Case { asset_serial_number: asset.to_owned(), ..new_case(who, subject) };
    app.cases(AGENT)
        .create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
        .await
        .expect("create a case")
        .into_inner()
}

async fn close(app: &TestApp, id: &str) {
    app.cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: id.to_owned(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Fixed.".into(),
            ..Default::default()
        })
        .await
        .expect("close the case");
}

/// Cases of `keys` (in the order made, empty keys left out) and how many
/// of them had one of the same key before: all are made today, so within
/// any number of days.
fn repeat_counts(keys: &[&str]) -> (i64, i64) {
    let keys: Vec<&str> = keys.iter().copied().filter(|key| !key.is_empty()).collect();
    let repeats = keys.iter().enumerate().filter(|(i, key)| keys[..*i].contains(*key)).count();
    (keys.len() as i64, repeats as i64)
}

async fn an_upgrade_counts_earlier_cases_from_their_records_once(app: TestApp) {
    let (acme, globex) = (customer(&app).await, customer(&app).await);
    let ana = staff_user(&app, "Ana Agent").await;
    let bo = staff_user(&app, "Bo Agent").await;
    let desk = team_of(&app, "Desk", &[&ana, &bo]).await;
    // (customer, asset): Acme's SN-1 comes back.
    let plan = [(&acme, "SN-1"), (&acme, "SN-1"), (&acme, ""), (&globex, "SN-7")];
    let mut made = Vec::new();
    for (i, (who, asset)) in plan.into_iter().enumerate() {
        made.push(open_case(&app, who, &format!("Case {i}"), asset).await);
    }
    let created = made.len() as i64;

    // The last one is a reassignment, from Ana to Bo.
    let moves = [(0, &ana), (1, &bo), (2, &ana), (2, &bo)];
    let mut owners: HashMap<usize, String> = HashMap::new();
    let mut assigned = 0;
    for (i, owner) in moves {
        app.cases(AGENT)
            .assign_case(pb::AssignCaseRequest {
                id: made[i].id.clone(),
                owner_id: owner.id.clone(),
                team_id: desk.id.clone(),
                ..Default::default()
            })
            .await
            .expect("assign the case");
        // Each change to a new owner is counted as assigned.
        if owners.insert(i, owner.id.clone()).as_ref() != Some(&owner.id) {
            assigned += 1;
        }
    }
    note(&app, &made[0].id, "We are on it.", pb::Visibility::Public).await;
    let (mut closed, mut reopened) = (0, 0);
    for opened in &made[..2] {
        close(&app, &opened.id).await;
        closed += 1;
    }
    app.cases(AGENT)
        .reopen_case(pb::ReopenCaseRequest { id: made[0].id.clone(), reason: "Broke again".into(), ..Default::default() })
        .await
        .expect("reopen the case");
    reopened += 1;
    close(&app, &made[0].id).await;
    closed += 1;

    let period = today();
    let want = (created, closed, reopened, assigned);
    eventually("the consumer to count what the test did", async || {
        let report = volume(&app, by_owner(&period)).await;
        let seen = (report.created, report.closed, report.reopened, report.assigned);
        if seen == want { Ok(()) } else { Err(format!("(created, closed, reopened, assigned) = {seen:?}, want {want:?}")) }
    })
    .await;
    // The note's event too, before the reports are taken as the consumer built them.
    app.wait_until_consumed(docket_case::SERVICE).await;
    let before = snapshot(&app, &period).await;

    forget_reports(&app).await;
    let empty = snapshot(&app, &period).await;
    assert_eq!(
        (empty.volume.created, empty.by_account.cases),
        (0, 0),
        "with the report tables emptied nothing is counted: {empty:?}"
    );

    let store = Store::new(app.case_db().await);
    let filled = store.backfill_reports().await.expect("the fill").expect("a database never filled is filled");
    assert_eq!(filled.cases, made.len() as u64, "every case is counted from its records");
    let after = snapshot(&app, &period).await;
    assert_eq!(after, before, "the fill counts what the consumer counted");
    let v = &after.volume;
    assert_eq!((v.created, v.closed, v.reopened, v.assigned), want, "(created, closed, reopened, assigned) after the fill");
    let total = after.times.total.clone().expect("a resolution total");
    assert_eq!(total.resolution.as_ref().map(|s| s.count), Some(closed), "one resolution per close");
    assert_eq!(total.first_response.as_ref().map(|s| s.count), Some(1), "the public note is the one first response");
    assert_eq!(total.reopened, reopened, "reopened");
    let rate = reopened as f64 / closed as f64;
    assert!((total.reopen_rate - rate).abs() < 1e-9, "reopen rate {} != {rate}", total.reopen_rate);
    let accounts: Vec<&str> = plan.iter().map(|(who, _)| who.account.id.as_str()).collect();
    let assets: Vec<&str> = plan.iter().map(|(_, asset)| *asset).collect();
    assert_eq!((after.by_account.cases, after.by_account.repeats), repeat_counts(&accounts), "(cases, repeats) by account");
    assert_eq!((after.by_asset.cases, after.by_asset.repeats), repeat_counts(&assets), "(cases, repeats) by asset");

    assert_eq!(store.backfill_reports().await.expect("the second fill"), None, "a database is filled once");
    assert_eq!(snapshot(&app, &period).await, before, "a second fill counts nothing again");

    // The consumer goes on from where the fill left off.
    open_case(&app, &globex, "After the upgrade", "").await;
    counted(&app, &period, created + 1).await;
    app.wait_until_consumed(docket_case::SERVICE).await;
    assert_eq!(volume(&app, by_owner(&period)).await.created, created + 1, "a case made after the fill counts once");
}

async fn events_still_on_their_way_are_not_counted_twice(app: TestApp) {
    let who = customer(&app).await;
    case(&app, &who, "On its way").await;
    let period = today();
    counted(&app, &period, 1).await;

    let db = app.case_db().await;
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(backend, "SELECT event_id FROM outbox WHERE event_type = 'case.created'"))
        .await
        .expect("read the outbox")
        .expect("the case's case.created event in the outbox");
    let event_id: String = row.try_get("", "event_id").expect("an event id");
    forget_reports(&app).await;
    // As if the consumer had not handled it yet: it would count it after the fill.
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!("DELETE FROM inbox WHERE consumer = 'case' AND event_id = {}", placeholder(backend, 1)),
        [event_id.as_str().into()],
    ))
    .await
    .expect("forget the event was handled");
    assert!(!handled(&db, &event_id).await, "the event is not handled before the fill");

    let filled =
        Store::new(app.case_db().await).backfill_reports().await.expect("the fill").expect("a database never filled is filled");
    assert_eq!(filled.cases, 1, "the one case is counted from its records");
    assert!(filled.events_on_their_way >= 1, "the case.created event is on its way: {filled:?}");
    assert!(handled(&db, &event_id).await, "the fill marks the event handled, so the consumer drops it");
    assert_eq!(volume(&app, by_owner(&period)).await.created, 1, "the case is counted once, by the fill");
    db.close().await.ok();
}

async fn two_replicas_starting_at_once_fill_once(app: TestApp) {
    let who = customer(&app).await;
    for subject in ["One", "Two", "Three"] {
        case(&app, &who, subject).await;
    }
    let period = today();
    counted(&app, &period, 3).await;
    forget_reports(&app).await;

    let (one, two) = (Store::new(app.case_db().await), Store::new(app.case_db().await));
    let (first, second) = tokio::join!(one.backfill_reports(), two.backfill_reports());
    let outcomes = format!("{first:?} and {second:?}");
    let fills: Vec<Backfilled> =
        [first.expect("the first replica's fill"), second.expect("the second replica's fill")].into_iter().flatten().collect();
    assert_eq!(fills.len(), 1, "exactly one replica fills, the other finds it done: {outcomes}");
    assert_eq!(fills[0].cases, 3, "the fill counts every case");
    assert_eq!(volume(&app, by_owner(&period)).await.created, 3, "each case is counted once");
}
