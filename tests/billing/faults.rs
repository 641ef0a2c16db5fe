//! Faults in the SLA scheduler: its database connection cut in the middle
//! of a sweep loses no alert and raises none twice.

use std::time::Duration;

use docket_billing::scheduler::SlaScheduler;
use docket_kit::events::outbox::RelayWaker;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

use crate::{
    common::{Backend, TestApp, eventually_within, postgres_url, proxy::TcpProxy},
    fixtures::customer,
    sla_tracking::{always_open, create_policy, critical_case, wait_for_clock},
};

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sweep_whose_connection_is_cut_mid_transaction_raises_its_alerts_once_later() {
    let app = TestApp::spawn(Backend::Postgres).await;
    create_policy(&app, always_open("One hour for critical", true)).await;
    let acme = customer(&app).await;
    let billing = app.service_db("billing").await;
    let case = critical_case(&app, &acme, "Line down").await;
    wait_for_clock(&billing, &case.id, &case.etag).await;
    let created = docket_kit::time::from_proto(case.create_time.as_ref().unwrap()).unwrap();

    // A scheduler replica whose connections run through a proxy we control.
    let postgres = postgres_url();
    let host = postgres.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap();
    let proxy = TcpProxy::start(host.parse().unwrap()).await;
    let mut through_proxy = app.settings.database.clone();
    through_proxy.url = postgres.replacen(host, &proxy.addr.to_string(), 1);
    let replica_db = docket_kit::db::connect(&through_proxy, "billing").await.unwrap();
    let replica = SlaScheduler::new(replica_db, Duration::from_secs(1), 10, RelayWaker::default());

    // Hold the outbox, so the sweep stops inside its transaction when it writes the alerts.
    let locker = billing.begin().await.unwrap();
    locker.execute_unprepared("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let later = created + chrono::Duration::minutes(61);
    let sweep = tokio::spawn(async move { replica.sweep(later).await.map(|s| s.raised).map_err(|e| e.to_string()) });
    eventually_within(Duration::from_secs(10), "the sweep to wait on the outbox", async || {
        let waiting = count(
            &billing,
            "SELECT COUNT(*) AS n FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO outbox%'",
        )
        .await;
        if waiting > 0 { Ok(()) } else { Err("no insert into the outbox is waiting on its lock") }
    })
    .await;
    // The connection dies with the transaction half done.
    proxy.cut();
    let failed = tokio::time::timeout(Duration::from_secs(20), sweep).await.expect("the sweep ended").unwrap();
    assert!(failed.is_err(), "the cut sweep reported success: {failed:?}");
    locker.rollback().await.unwrap();

    let alerts = "SELECT COUNT(*) AS n FROM outbox WHERE event_type LIKE 'case.sla_%'";
    assert_eq!(count(&billing, alerts).await, 0, "nothing of the cut sweep was kept");
    let flags = "SELECT COUNT(*) AS n FROM case_clocks WHERE first_response_warned OR first_response_breached";
    assert_eq!(count(&billing, flags).await, 0);

    // Back online: the next sweep raises the warning and the breach, once.
    proxy.restore();
    let replica_db = docket_kit::db::connect(&through_proxy, "billing").await.unwrap();
    let replica = SlaScheduler::new(replica_db, Duration::from_secs(1), 10, RelayWaker::default());
    assert_eq!(replica.sweep(later).await.unwrap().raised, 2);
    assert_eq!(replica.sweep(later + chrono::Duration::minutes(1)).await.unwrap().raised, 0);
    assert_eq!(count(&billing, alerts).await, 2);
}
