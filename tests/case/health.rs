//! What operators and clients see around the service: health that follows
//! the database, and reflection.

use std::time::Duration;

use docket_proto::case::v1 as pb;
use tonic::Code;

use crate::common::{
    AGENT, Backend, ServingStatus, TestApp, backend_pid, blocked_by, eventually, open_transaction, proxy::TcpProxy,
    wait_for_health,
};

/// A service on PostgreSQL whose database connections pass through a proxy
/// the test can cut, with `adjust` applied to its settings.
async fn behind_a_proxy(adjust: impl FnOnce(&mut docket::settings::Settings)) -> (TcpProxy, TestApp) {
    crate::common::check_postgres().await;
    let postgres: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = TcpProxy::start(postgres).await;
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.database.url = format!("postgres://postgres@{}/test", proxy.addr);
        adjust(settings);
    })
    .await;
    (proxy, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_not_serving_while_the_database_is_unreachable() {
    let (proxy, app) = behind_a_proxy(|settings| settings.database.connect_timeout_secs = 1).await;

    proxy.cut();
    wait_for_health(app.channel(), ServingStatus::NotServing, Duration::from_secs(15)).await;
    let refused = app
        .accounts(AGENT)
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account { name: "During the outage".into(), ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    proxy.restore();
    wait_for_health(app.channel(), ServingStatus::Serving, Duration::from_secs(15)).await;
    let created = app
        .accounts(AGENT)
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account { name: "After the outage".into(), ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .expect("works again once the database is back");
    assert_eq!(created.into_inner().name, "After the outage");
    let listed = app.accounts(AGENT).list_accounts(pb::ListAccountsRequest::default()).await.unwrap().into_inner().accounts;
    assert_eq!(listed.len(), 1, "the refused call wrote nothing");
}

/// A case created while the database is unreachable: on PostgreSQL a
/// create without a transaction, on a connection held for its reads and
/// insert (issue 15), is refused the same way as a change in a transaction,
/// writes nothing, and the next create after the outage takes the first number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_created_while_the_database_is_unreachable_is_refused_as_unavailable() {
    let (proxy, app) = behind_a_proxy(|settings| settings.database.connect_timeout_secs = 1).await;
    let who = crate::fixtures::customer(&app).await;
    let create = |subject: &str| pb::CreateCaseRequest {
        case: Some(crate::fixtures::new_case(&who, subject)),
        idempotency_key: String::new(),
        sender: None,
    };

    proxy.cut();
    wait_for_health(app.channel(), ServingStatus::NotServing, Duration::from_secs(15)).await;
    let refused = app.cases(AGENT).create_case(create("During the outage")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");

    proxy.restore();
    wait_for_health(app.channel(), ServingStatus::Serving, Duration::from_secs(15)).await;
    let created = app.cases(AGENT).create_case(create("After the outage")).await.expect("works again").into_inner();
    assert_eq!(created.case_number, "C-000001", "the refused create took no number");
    let listed = app.cases(AGENT).list_cases(pb::ListCasesRequest::default()).await.unwrap().into_inner().cases;
    assert_eq!(
        listed.iter().map(|case| case.subject.as_str()).collect::<Vec<_>>(),
        ["After the outage"],
        "the refused create wrote nothing"
    );
}

/// Pooled connections that died (a database restart, a network cut) are
/// not pinged before each use while busy (issue 15): a call that finds one
/// fails as UNAVAILABLE, worth retrying, writes nothing, and the calls after
/// it get fresh connections without waiting for a health check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_right_after_every_database_connection_dropped_recover_at_once() {
    let (proxy, app) = behind_a_proxy(|settings| {
        settings.database.max_connections = 3;
        // The service's own pollers (event relay, routing sweep, health check)
        // share the pool: on a slow machine they would find every dead
        // connection before the test's first call does. They run once at
        // start and then stay out of the way.
        settings.events.relay_poll_ms = 600_000;
        settings.case.routing_sweep_interval_ms = 600_000;
        settings.grpc.health_check_interval_secs = 600;
    })
    .await;
    // A connection the cut meets in use is replaced, not found dead: sqlx
    // pings each one as it takes it back, in a task of its own, and the pool
    // probe behind `docket_db_pool_*` takes one now and then. Should every
    // connection have been so replaced, no call meets a dead one: the fault
    // is then made again, a round at most five times.
    let mut made = 0;
    for round in 1..=5 {
        // Open every pooled connection, so that all of them are in recent use.
        let busy = (0..6).map(|_| async { app.accounts(AGENT).list_accounts(pb::ListAccountsRequest::default()).await });
        for listed in futures::future::join_all(busy).await {
            listed.expect("lists before the cut");
        }
        proxy.settled().await;

        proxy.cut();
        proxy.restore();
        let mut outcomes = Vec::new();
        for i in 0..8 {
            let account = pb::Account { name: format!("After cut {round}, call {i}"), ..Default::default() };
            let created = app
                .accounts(AGENT)
                .create_account(pb::CreateAccountRequest { account: Some(account), idempotency_key: String::new() })
                .await;
            outcomes.push(created.map(|created| created.into_inner().name));
        }
        let failed: Vec<&tonic::Status> = outcomes.iter().filter_map(|outcome| outcome.as_ref().err()).collect();
        for status in &failed {
            assert_eq!(status.code(), Code::Unavailable, "a dead connection is a retryable outage: {status:?}");
        }
        assert!(failed.len() <= 3, "at most one failed call per pooled connection: {outcomes:?}");
        assert!(outcomes[3..].iter().all(Result::is_ok), "the calls after them get fresh connections: {outcomes:?}");
        made += 8 - failed.len();
        let listed = app.accounts(AGENT).list_accounts(pb::ListAccountsRequest::default()).await.unwrap().into_inner().accounts;
        assert_eq!(listed.len(), made, "the failed calls wrote nothing");
        if !failed.is_empty() {
            return;
        }
    }
    panic!("in five rounds no call found a dead connection (this test checks what such a call answers)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_case_services_without_a_token() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse,
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = ServerReflectionClient::new(app.channel());
    let request =
        ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut responses = client.server_reflection_info(futures::stream::iter([request])).await.expect("reflection").into_inner();
    let response = responses.message().await.expect("a response").expect("one message");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else { panic!("unexpected {response:?}") };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "docket.case.v1.CaseService",
        "docket.case.v1.AccountService",
        "docket.case.v1.ContactService",
        "docket.case.v1.StaffService",
        "docket.case.v1.ReportService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

/// A create cut off by the request timeout while its insert waits: on
/// PostgreSQL the insert commits alone (no transaction, issue 15), so it
/// may still be made once it stops waiting, as a create cut off during
/// COMMIT always could. Its retry with the same idempotency key answers
/// that case, and no second one is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cut_off_by_the_request_timeout_is_made_at_most_once_by_its_retry() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.grpc.request_timeout_secs = 1).await;
    let who = crate::fixtures::customer(&app).await;
    let request = pb::CreateCaseRequest {
        case: Some(crate::fixtures::new_case(&who, "Cut off")),
        idempotency_key: crate::fixtures::unique("cut-off"),
        sender: None,
    };
    // Another session keeps inserts out of the cases table (reads go on).
    let db = app.case_db().await;
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE cases IN SHARE MODE").await.unwrap();
    let holder = backend_pid(&lock).await;

    let mut cases = app.cases(AGENT);
    let first = request.clone();
    let call = tokio::spawn(async move { cases.create_case(first).await });
    eventually("the create's insert to wait for the lock in PostgreSQL", async || {
        blocked_by(&db, holder).await.first().copied().ok_or("no session waits for it")
    })
    .await;
    let refused = call.await.unwrap().unwrap_err();
    assert!(matches!(refused.code(), Code::Cancelled | Code::DeadlineExceeded), "{refused:?}");
    lock.rollback().await.unwrap();

    let retried = app.cases(AGENT).create_case(request.clone()).await.expect("the retry").into_inner();
    let listed = app.cases(AGENT).list_cases(pb::ListCasesRequest::default()).await.unwrap().into_inner().cases;
    assert_eq!(listed.iter().map(|case| case.id.as_str()).collect::<Vec<_>>(), [retried.id.as_str()], "one case for one key");
    let again = app.cases(AGENT).create_case(request).await.expect("another retry").into_inner();
    assert_eq!(again, retried);
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_the_request_timeout_is_cut_off_and_writes_nothing() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = TestApp::spawn_with(Backend::Postgres, |settings| settings.grpc.request_timeout_secs = 1).await;
    let account = crate::fixtures::account(&app, "Acme").await;
    // Another session holds the account's row, so the update must wait.
    let db = app.case_db().await;
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared(&format!("SELECT 1 FROM accounts WHERE id = '{}' FOR UPDATE", account.id)).await.unwrap();
    let holder = backend_pid(&lock).await;

    let mut accounts = app.accounts(AGENT);
    let request = pb::UpdateAccountRequest {
        account: Some(pb::Account {
            id: account.id.clone(),
            etag: account.etag.clone(),
            name: "Too slow".into(),
            ..Default::default()
        }),
        update_mask: crate::fixtures::mask(&["name"]),
        reason: String::new(),
    };
    let call = tokio::spawn(async move { accounts.update_account(request).await });
    // The update reaches PostgreSQL and waits there for the lock: the
    // server's transaction is open when the timeout cuts the call off.
    let waiting = eventually("the update to wait for the account's lock in PostgreSQL", async || {
        blocked_by(&db, holder).await.first().copied().ok_or("no session waits for it")
    })
    .await;
    let refused = call.await.unwrap().unwrap_err();
    assert!(matches!(refused.code(), Code::Cancelled | Code::DeadlineExceeded), "{refused:?}");
    lock.rollback().await.unwrap();

    // The cut-off call's transaction ends once the lock is free; it must
    // have been rolled back: the name and trail are unchanged.
    eventually("the cut-off update's transaction to end", async || match open_transaction(&db, waiting).await {
        None => Ok(()),
        Some(state) => Err(format!("backend {waiting} is still in a transaction ({state})")),
    })
    .await;
    let read = app.accounts(AGENT).get_account(pb::GetAccountRequest { id: account.id.clone() }).await.unwrap().into_inner();
    assert_eq!(read.name, "Acme");
    assert_eq!(read.etag, account.etag);
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_clients_find_the_services_through_reflection_v1alpha() {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse,
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = ServerReflectionClient::new(app.channel());
    let request =
        ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut responses =
        client.server_reflection_info(futures::stream::iter([request])).await.expect("v1alpha reflection").into_inner();
    let response = responses.message().await.expect("a response").expect("one message");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else { panic!("unexpected {response:?}") };
    assert!(list.service.iter().any(|s| s.name == "docket.case.v1.CaseService"));
}
