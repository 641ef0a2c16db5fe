//! Graceful shutdown: a call in flight when SIGTERM arrives completes.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use docket_proto::case::v1 as pb;
use sea_orm::{ConnectionTrait, TransactionTrait};
use tonic::transport::Channel;

use crate::common::{
    AGENT, Bearer, Running, ServingStatus, backend_pid, blocked_by, check_postgres, eventually, free_port, listening,
    postgres_url, wait_for_health,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_when_sigterm_arrives_completes() {
    check_postgres().await;
    let prefix = format!("t{}_", &uuid::Uuid::now_v7().simple().to_string()[16..]);
    let port = free_port();
    let mut server = Running(
        Command::new(env!("CARGO_BIN_EXE_docket"))
            .args(["serve", "case"])
            .env("DOCKET__DATABASE__URL", postgres_url())
            .env("DOCKET__DATABASE__SCHEMA_PREFIX", &prefix)
            .env("DOCKET__DATABASE__MIGRATE_ON_START", "true")
            .env("DOCKET__EVENTS__BACKEND", "in_process")
            .env("DOCKET__GRPC__LISTEN", format!("127.0.0.1:{port}"))
            .env("DOCKET__GRPC__HEALTH_CHECK_INTERVAL_SECS", "1")
            .env("DOCKET__AUTH__TOKENS__AGENT__TOKEN", AGENT)
            .env("DOCKET__AUTH__TOKENS__AGENT__ROLE", "agent")
            .env("DOCKET__TELEMETRY__LOG_FILTER", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start docket serve case"),
    );
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect_lazy();
    wait_for_health(channel.clone(), ServingStatus::Serving, Duration::from_secs(20)).await;
    let bearer = Bearer(Some(format!("Bearer {AGENT}").parse().unwrap()));
    let mut accounts = pb::account_service_client::AccountServiceClient::with_interceptor(channel.clone(), bearer.clone());
    let account = accounts
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account { name: "Acme".into(), ..Default::default() }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    // Hold the account's row lock, so the update below waits inside the server.
    let schema = format!("{prefix}case");
    let blocker = sea_orm::Database::connect(postgres_url()).await.unwrap();
    let lock = blocker.begin().await.unwrap();
    lock.execute_unprepared(&format!("SELECT 1 FROM \"{schema}\".accounts WHERE id = '{}' FOR UPDATE", account.id))
        .await
        .unwrap();
    let holder = backend_pid(&lock).await;

    let mut updater = accounts.clone();
    let in_flight = tokio::spawn(async move {
        updater
            .update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account {
                    id: account.id.clone(),
                    etag: account.etag.clone(),
                    name: "Acme Renamed".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
                reason: "in flight during shutdown".into(),
            })
            .await
    });
    // Wait until the update is blocked on the lock inside PostgreSQL.
    eventually("the update to wait for the account's lock in PostgreSQL", async || {
        if blocked_by(&blocker, holder).await.is_empty() { Err("no session waits for it") } else { Ok(()) }
    })
    .await;

    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // The server has taken the signal once it stops listening for new calls.
    eventually("the server to stop listening after SIGTERM", async || {
        if listening(port).await { Err(format!("port {port} still accepts connections")) } else { Ok(()) }
    })
    .await;
    assert!(server.0.try_wait().unwrap().is_none(), "the server must wait for the call in flight");
    assert!(!in_flight.is_finished(), "the call in flight is still waiting for the lock");
    lock.rollback().await.unwrap();

    let updated = in_flight.await.unwrap().expect("the call in flight completes");
    assert_eq!(updated.into_inner().name, "Acme Renamed");
    let status =
        eventually("the server to stop after the call", async || server.0.try_wait().unwrap().ok_or("still running")).await;
    assert!(status.success(), "exit status {status:?}");

    docket_kit::db::drop_schema(&blocker, &schema).await.unwrap();
    blocker.close().await.unwrap();
}
