//! The case cache (issue 15): GetCase answers from Redis, and every change
//! made through any replica is what every replica reads next.

use docket_case::{cache::CaseCache, store::Store};
use docket_proto::case::v1::{self as pb, get_case_request::Lookup};
use tonic::Code;

use crate::{
    common::{AGENT, Backend, TestApp, proxy::TcpProxy, redis::RedisPrefix, redis::test_kv},
    fixtures::{case, customer, mask, note},
};

/// Two replicas of Docket on one database and one Redis.
async fn two_replicas(redis: &RedisPrefix) -> (TestApp, TestApp) {
    let one = TestApp::spawn_with(Backend::Postgres, |s| s.kv = test_kv(redis.prefix())).await;
    let schema_prefix = one.settings.database.schema_prefix.clone();
    let two = TestApp::spawn_with(Backend::Postgres, |s| {
        s.kv = test_kv(redis.prefix());
        s.database.schema_prefix = schema_prefix;
    })
    .await;
    (one, two)
}

async fn get(app: &TestApp, id: &str) -> pb::Case {
    app.cases(AGENT).get_case(pb::GetCaseRequest { lookup: Some(Lookup::Id(id.to_owned())) }).await.unwrap().into_inner()
}

fn subject_change(case: &pb::Case, subject: &str) -> pb::UpdateCaseRequest {
    pb::UpdateCaseRequest {
        case: Some(pb::Case { id: case.id.clone(), etag: case.etag.clone(), subject: subject.to_owned(), ..Default::default() }),
        update_mask: mask(&["subject"]),
        reason: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_is_what_every_replica_reads() {
    let redis = RedisPrefix::new().await;
    let (one, two) = two_replicas(&redis).await;
    let who = customer(&one).await;
    let created = case(&one, &who, "Printer on fire").await;
    assert_eq!(get(&two, &created.id).await, created, "the other replica reads the new case");
    assert!(redis.store().get(&format!("case:{}", created.id)).await.unwrap().is_some(), "the new case is kept in Redis");

    // Both replicas have read (and kept) the case; each kind of change, made
    // through one, is what the other reads next.
    let renamed = one.cases(AGENT).update_case(subject_change(&created, "Printer still on fire")).await.unwrap().into_inner();
    assert_eq!(get(&two, &created.id).await, renamed);
    assert_eq!(get(&one, &created.id).await, renamed);

    // An activity bumps the case's version by a statement of its own.
    note(&two, &created.id, "Called the customer", pb::Visibility::Internal).await;
    let after_note = get(&one, &created.id).await;
    assert_ne!(after_note.etag, renamed.etag, "the note changed the case's version: {after_note:?}");
    assert_eq!(get(&two, &created.id).await, after_note);

    let closed = two
        .cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: created.id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Replaced the fuser.".into(),
            etag: after_note.etag.clone(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status(), pb::CaseStatus::ClosedComplete);
    assert_eq!(get(&one, &created.id).await, closed);
    assert_eq!(get(&two, &created.id).await, closed);

    drop((one, two));
    redis.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_from_before_a_change_cannot_be_kept_after_it() {
    let redis = RedisPrefix::new().await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| s.kv = test_kv(redis.prefix())).await;
    let who = customer(&app).await;
    let created = case(&app, &who, "Slow reader").await;
    // A reader on another replica reads the case from the database …
    let store = Store::new(app.case_db().await);
    let read_before = store.get_case(created.id.parse().unwrap()).await.unwrap();
    // … the case changes and the change commits …
    let changed = app.cases(AGENT).update_case(subject_change(&created, "Changed meanwhile")).await.unwrap().into_inner();
    // … and only then does the reader offer what it read.
    let late = CaseCache::new(redis.store()).answer(read_before).await;
    assert_eq!(late.subject, "Slow reader", "the reader answers what it read");
    assert_eq!(get(&app, &created.id).await, changed, "but GetCase reads the change, not the late offer");

    // The same when the reader's offer comes between the change's fence
    // and its commit: the fence alone keeps it out.
    let cache = CaseCache::new(redis.store());
    let read_before = store.get_case(created.id.parse().unwrap()).await.unwrap();
    let next_version = read_before.case.version + 1;
    cache.fence(&created.id, next_version).await.unwrap();
    cache.answer(read_before).await;
    assert_eq!(redis.store().get_versioned(&format!("case:{}", created.id)).await.unwrap(), None, "the fence held");

    drop(app);
    redis.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_reads_go_to_the_database_and_changes_wait_for_it() {
    let redis = RedisPrefix::new().await;
    let proxy = TcpProxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        s.kv = test_kv(redis.prefix());
        s.kv.url = format!("redis://{}", proxy.addr);
        s.kv.timeout_ms = 500;
    })
    .await;
    let who = customer(&app).await;
    let created = case(&app, &who, "Kept before the cut").await;
    assert_eq!(get(&app, &created.id).await, created);

    proxy.cut();
    assert_eq!(get(&app, &created.id).await, created, "a read falls back to the database");
    let refused = app.cases(AGENT).update_case(subject_change(&created, "Changed while cut off")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("retry"), "{refused:?}");
    assert_eq!(get(&app, &created.id).await, created, "the refused change changed nothing");
    let made = case(&app, &who, "Made while cut off").await;
    assert_eq!(get(&app, &made.id).await, made, "new cases are still made and read");

    proxy.restore();
    let changed = crate::common::eventually("a change once Redis is back", async || {
        app.cases(AGENT).update_case(subject_change(&created, "Changed once back")).await.map(|r| r.into_inner())
    })
    .await;
    assert_eq!(changed.subject, "Changed once back");
    assert_eq!(get(&app, &created.id).await, changed);

    drop(app);
    redis.clean().await;
}
