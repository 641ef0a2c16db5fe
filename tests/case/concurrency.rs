//! Many clients at once: no update is lost, numbers and sequences stay unique.

use std::collections::BTreeSet;

use docket_proto::case::v1::{self as pb, get_case_request::Lookup};
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::{
    common::{AGENT, TestApp},
    fixtures::{case, customer, history, mask, new_case},
    on_both_backends,
};

on_both_backends!(
    many_clients_updating_one_case_lose_no_update,
    of_many_updates_from_one_etag_exactly_one_wins,
    concurrent_creates_get_unique_consecutive_numbers,
    case_numbers_continue_across_the_move_to_a_sequence,
    concurrent_activities_get_consecutive_sequences,
);

const CLIENTS: usize = 12;

async fn many_clients_updating_one_case_lose_no_update(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Contended").await;
    let results = futures::future::join_all((0..CLIENTS).map(|i| {
        let mut cases = app.cases(AGENT);
        let id = created.id.clone();
        async move {
            let mut aborted = 0;
            loop {
                let current = cases.get_case(pb::GetCaseRequest { lookup: Some(Lookup::Id(id.clone())) }).await?.into_inner();
                let mut tags = current.tags.clone();
                tags.push(format!("client-{i:02}"));
                let update = pb::UpdateCaseRequest {
                    case: Some(pb::Case { id: id.clone(), etag: current.etag.clone(), tags, ..Default::default() }),
                    update_mask: mask(&["tags"]),
                    reason: format!("client {i}"),
                };
                match cases.update_case(update).await {
                    Ok(updated) => return Ok::<_, tonic::Status>((updated.into_inner().etag, aborted)),
                    Err(status) if status.code() == Code::Aborted => aborted += 1,
                    Err(status) => return Err(status),
                }
            }
        }
    }))
    .await;
    let mut etags = BTreeSet::new();
    for result in results {
        let (etag, _aborted) = result.expect("every client either succeeds or is ABORTED and retries");
        assert!(etags.insert(etag), "each success returns a fresh etag");
    }
    let last = app
        .cases(AGENT)
        .get_case(pb::GetCaseRequest { lookup: Some(Lookup::Id(created.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    let expected: Vec<_> = (0..CLIENTS).map(|i| format!("client-{i:02}")).collect();
    assert_eq!(last.tags, expected, "no update was lost");
    assert_eq!(last.etag, (1 + CLIENTS).to_string());
    let tag_rows = history(&app, &created.id).await.into_iter().filter(|e| e.field == "tags").count();
    assert_eq!(tag_rows, CLIENTS, "one trail row per successful update");
}

async fn of_many_updates_from_one_etag_exactly_one_wins(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Race").await;
    let results = futures::future::join_all((0..CLIENTS).map(|i| {
        let mut cases = app.cases(AGENT);
        let request = pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: created.id.clone(),
                etag: created.etag.clone(),
                subject: format!("Subject {i}"),
                ..Default::default()
            }),
            update_mask: mask(&["subject"]),
            reason: String::new(),
        };
        async move { cases.update_case(request).await }
    }))
    .await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1);
    for result in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(result.code(), Code::Aborted, "{result:?}");
    }
    let subjects = history(&app, &created.id).await.into_iter().filter(|e| e.field == "subject").count();
    assert_eq!(subjects, 2, "the create and the one winner");
}

async fn concurrent_creates_get_unique_consecutive_numbers(app: TestApp) {
    let customer = customer(&app).await;
    let numbers = futures::future::join_all((0..20).map(|i| {
        let mut cases = app.cases(AGENT);
        let request = pb::CreateCaseRequest {
            case: Some(new_case(&customer, &format!("Case {i}"))),
            idempotency_key: String::new(),
            sender: None,
        };
        async move { cases.create_case(request).await.map(|c| c.into_inner().case_number) }
    }))
    .await;
    let numbers: BTreeSet<String> = numbers.into_iter().map(|n| n.expect("create")).collect();
    let expected: BTreeSet<String> = (1..=20).map(|n| format!("C-{n:06}")).collect();
    assert_eq!(numbers, expected);
}

/// The upgrade that takes case numbers from a PostgreSQL sequence (and its
/// undoing) continues where the numbers stood, either way.
async fn case_numbers_continue_across_the_move_to_a_sequence(app: TestApp) {
    let customer = customer(&app).await;
    let numbered = |n: i64| format!("C-{n:06}");
    assert_eq!(case(&app, &customer, "Before").await.case_number, numbered(1));
    assert_eq!(case(&app, &customer, "Before too").await.case_number, numbered(2));
    let db = docket_kit::db::connect(&app.settings.database, "case").await.unwrap();
    crate::common::migrate_down_through(&db, "case", "m20261205_000005_case_numbers_from_a_sequence").await;
    let counter = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT value FROM counters WHERE name = 'case_number'"))
        .await
        .unwrap()
        .expect("the counter row is back");
    assert_eq!(counter.try_get::<i64>("", "value").unwrap(), 2, "the last number handed out");
    docket_migrations::up(&db, "case").await.unwrap();
    assert_eq!(case(&app, &customer, "After").await.case_number, numbered(3));
}

async fn concurrent_activities_get_consecutive_sequences(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Busy").await;
    let added = futures::future::join_all((0..15).map(|i| {
        let mut cases = app.cases(AGENT);
        let request = pb::AddActivityRequest {
            activity: Some(pb::Activity {
                case_id: created.id.clone(),
                kind: pb::ActivityKind::Note as i32,
                body: format!("note {i}"),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        };
        async move { cases.add_activity(request).await.map(|a| a.into_inner().sequence) }
    }))
    .await;
    let sequences: BTreeSet<i64> = added.into_iter().map(|s| s.expect("add")).collect();
    assert_eq!(sequences, (1..=15).collect());
}
