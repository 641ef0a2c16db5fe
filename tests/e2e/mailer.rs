//! The mailer killed mid-send (`kill -9` of the real binary): every email
//! still goes out, the ones the dead process held are taken over within
//! seconds (not when their leases run out), and an email is sent twice only
//! when the process died between the server taking it and the log marking
//! it, which the log counts as a second attempt.

use std::collections::HashMap;

use docket_proto::notification::v1::{IngestEmailRequest, notification_service_client::NotificationServiceClient};
use sea_orm::ConnectionTrait;

use crate::{
    common::{PATIENCE, SERVICE, eventually, eventually_within, postgres_url, smtp::SmtpSink},
    install::{Install, Running, healthy, port},
};

/// Emails in the test: several rounds of the mailer's pool.
const EMAILS: usize = 120;
const POOL: usize = 8;

/// `docket serve case notification` of `install`, sending to the SMTP sink.
fn serve(install: &Install, port: u16, smtp_port: u16) -> Running {
    let (smtp_port, pool) = (smtp_port.to_string(), POOL.to_string());
    let env = [
        ("DOCKET__EVENTS__BACKEND", "in_process"),
        ("DOCKET__NOTIFICATION__TRANSPORT", "smtp"),
        ("DOCKET__NOTIFICATION__SMTP_PORT", smtp_port.as_str()),
        ("DOCKET__NOTIFICATION__SMTP_POOL_SIZE", pool.as_str()),
        // Leases outlast the test's patience: the takeover must come from
        // noticing that the mailer died, not from its leases running out.
        ("DOCKET__NOTIFICATION__SMTP_TIMEOUT_SECS", "30"),
        ("DOCKET__NOTIFICATION__SEND_INTERVAL_MS", "50"),
        ("DOCKET__NOTIFICATION__RETRY_BASE_SECS", "0"),
        ("DOCKET__NOTIFICATION__MAX_ATTEMPTS", "1000"),
    ];
    install.serve(&["case", "notification"], port, port, &env)
}

/// (status, attempts, message id) of every delivery.
async fn deliveries(db: &sea_orm::DatabaseConnection, prefix: &str) -> Vec<(String, i32, String)> {
    let sql = format!("SELECT status, attempts, message_id FROM \"{prefix}notification\".deliveries");
    db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_default()
        .iter()
        .map(|row| {
            (row.try_get("", "status").unwrap(), row.try_get("", "attempts").unwrap(), row.try_get("", "message_id").unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailer_killed_mid_send_is_taken_over_and_every_email_goes_out_once_or_is_counted_twice() {
    let install = Install::new().await;
    let prefix = install.prefix.clone();
    let port = port();
    let mut sink = SmtpSink::start().await;
    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();

    // The SMTP server is down while the emails are written, so that the
    // kill below lands while the mailer works through a backlog.
    sink.stop();
    let mut server = serve(&install, port, sink.port);
    healthy(port).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect_lazy();
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {SERVICE}").parse().unwrap();
    let mut mail = NotificationServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", bearer.clone());
        Ok(request)
    });
    for n in 0..EMAILS {
        let raw = format!(
            "From: customer{n}@acme.example\r\nSubject: Printer {n}\r\nMessage-ID: <k{n}@acme.example>\r\n\r\nJammed.\r\n"
        );
        mail.ingest_email(IngestEmailRequest { raw_message: raw.into_bytes() }).await.unwrap();
    }
    eventually("a receipt for every new case in the delivery log", async || match deliveries(&db, &prefix).await.len() {
        EMAILS => Ok(()),
        other => Err(format!("{other} of {EMAILS}")),
    })
    .await;

    sink.resume().await;
    sink.wait_for(POOL, PATIENCE).await;
    server.kill().unwrap(); // SIGKILL: no clean-up runs.
    server.wait().unwrap();
    let before_restart = sink.received().len();
    assert!(before_restart < EMAILS, "the kill came after every email went out ({before_restart}); the test proves nothing");

    let server = serve(&install, port, sink.port);
    healthy(port).await;
    // The dead mailer's deliveries are taken over (the ones it had sent
    // but not marked go out again), long before their leases run out.
    let log = eventually_within(PATIENCE, "every delivery sent after the restart", async || {
        let log = deliveries(&db, &prefix).await;
        let unsent = log.iter().filter(|(status, _, _)| status != "sent").count();
        if unsent == 0 { Ok(log) } else { Err(format!("{unsent} not sent yet")) }
    })
    .await;
    let received = sink.received();
    let ids: std::collections::HashSet<String> = received.iter().filter_map(|r| r.header("Message-ID")).collect();
    assert_eq!(ids.len(), EMAILS, "every email arrived");
    let mut times: HashMap<String, i32> = HashMap::new();
    for email in &received {
        *times.entry(email.header("Message-ID").unwrap()).or_default() += 1;
    }
    let doubled: Vec<(&String, &i32)> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.len() <= POOL, "at most the emails in flight at the kill go out twice: {doubled:?}");
    for (id, n) in &times {
        let (_, attempts, _) = log.iter().find(|(_, _, logged)| logged == id).unwrap_or_else(|| panic!("{id} not in the log"));
        assert!(*attempts >= *n, "{id} went out {n} times but the log counts {attempts} attempts");
    }
    drop(server);
    install.drop_schemas().await;
}
