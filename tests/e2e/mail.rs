//! `docket mail ingest` and `docket events dead-letters`, as an operator
//! runs them next to a running server.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
    time::Duration,
};

use lapin::{BasicProperties, options::BasicPublishOptions, types::FieldTable};

use crate::common::{
    SERVICE, ServingStatus, check_postgres, postgres_url,
    rabbit::{Cleanup, connect},
    rabbitmq_url, wait_for_health,
};

fn docket() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
    command.env_remove("RUST_LOG").env("DOCKET__TELEMETRY__LOG_FILTER", "warn");
    command
}

fn ingest(port: u16, raw: &[u8]) -> Output {
    let mut child = docket()
        .args(["mail", "ingest", "--server", &format!("http://127.0.0.1:{port}"), "--token", SERVICE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that stops reading (a message too large) closes the pipe early.
    let _ = child.stdin.take().unwrap().write_all(raw);
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_piped_into_docket_mail_ingest_becomes_a_case_then_a_reply() {
    check_postgres().await;
    let prefix = format!("t{}_", &uuid::Uuid::now_v7().simple().to_string()[16..]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mailbox = tempfile::tempdir().unwrap();
    let mut server = docket()
        .args(["serve", "case", "notification"])
        .env("DOCKET__DATABASE__URL", postgres_url())
        .env("DOCKET__DATABASE__SCHEMA_PREFIX", &prefix)
        .env("DOCKET__DATABASE__MIGRATE_ON_START", "true")
        .env("DOCKET__EVENTS__BACKEND", "in_process")
        .env("DOCKET__GRPC__LISTEN", format!("127.0.0.1:{port}"))
        .env("DOCKET__AUTH__TOKENS__MTA__TOKEN", SERVICE)
        .env("DOCKET__AUTH__TOKENS__MTA__ROLE", "service")
        .env("DOCKET__NOTIFICATION__CASE_SERVICE_URL", format!("http://127.0.0.1:{port}"))
        .env("DOCKET__NOTIFICATION__SERVICE_TOKEN", SERVICE)
        .env("DOCKET__NOTIFICATION__TRANSPORT", "mailbox")
        .env("DOCKET__NOTIFICATION__MAILBOX_DIR", mailbox.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect_lazy();
    wait_for_health(channel, ServingStatus::Serving, Duration::from_secs(20)).await;

    let first = ingest(port, b"From: Petra Schmidt <petra@acme.example>\r\nTo: support@docket.localhost\r\nSubject: Printer jammed\r\nMessage-ID: <m1@acme.example>\r\n\r\nThe printer in hall 2 is jammed.\r\n");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "created case C-000001");

    let reply = ingest(port, b"From: petra@acme.example\r\nTo: support@docket.localhost\r\nSubject: Re: [C-000001] Printer jammed\r\nMessage-ID: <m2@acme.example>\r\n\r\nStill jammed.\r\n");
    assert_eq!(String::from_utf8_lossy(&reply.stdout).trim(), "added to case C-000001");

    // Someone else answering the case's subject gets a case of their own, and the MTA's log says why.
    let stranger = ingest(port, b"From: mallory@evil.example\r\nTo: support@docket.localhost\r\nSubject: Re: [C-000001] Printer jammed\r\nMessage-ID: <x1@evil.example>\r\n\r\nPay here.\r\n");
    assert_eq!(
        String::from_utf8_lossy(&stranger.stdout).trim(),
        "created case C-000002 (the sender is not a contact of C-000001)"
    );

    let auto =
        ingest(port, b"From: petra@acme.example\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nAway.\r\n");
    assert!(String::from_utf8_lossy(&auto.stdout).starts_with("ignored:"), "{}", String::from_utf8_lossy(&auto.stdout));

    let garbage = ingest(port, b"\x00\x01\x02 not an email");
    assert_eq!(garbage.status.code(), Some(65), "bad mail is EX_DATAERR: {}", String::from_utf8_lossy(&garbage.stderr));

    let _ = server.kill();
    let _ = server.wait();
    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
    for service in docket_migrations::SERVICES {
        docket_kit::db::drop_schema(&db, &format!("{prefix}{service}")).await.unwrap();
    }
}

/// An MTA acts on the exit status only: 75 keeps the message queued and
/// retries it, 65 bounces it, anything else bounces too. And what the
/// command prints may reach the sender in a bounce: no internal address or
/// error chain.
#[test]
fn a_message_the_service_cannot_take_now_is_deferred_and_the_output_says_nothing_internal() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let raw = b"From: petra@acme.example\r\nTo: support@docket.localhost\r\nSubject: Printer jammed\r\n\r\nJammed.\r\n";
    let quiet = |output: &Output| {
        let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        for internal in ["127.0.0.1", &closed.to_string(), "refused", "transport error", "Error:"] {
            assert!(!all.contains(internal), "the output shows {internal:?}: {all}");
        }
        all
    };
    // Nothing listening (the service stopped, restarting, not yet up).
    let down = ingest(closed, raw);
    assert_eq!(down.status.code(), Some(75), "EX_TEMPFAIL while the service is down");
    assert!(quiet(&down).contains("will be retried"));

    // A misconfigured pipe (no token) keeps the mail too, and reads no settings file.
    let mut child = docket()
        .args(["mail", "ingest", "--server", &format!("http://127.0.0.1:{closed}")])
        .env_remove("DOCKET_TOKEN")
        .env("DOCKET_CONFIG", "/nonexistent/docket.toml")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let misconfigured = child.wait_with_output().unwrap();
    assert_eq!(misconfigured.status.code(), Some(75), "{}", String::from_utf8_lossy(&misconfigured.stderr));
    quiet(&misconfigured);

    // A message over the size limit can never be taken: bounced, without asking the service.
    let mut huge = raw.to_vec();
    huge.extend(std::iter::repeat_n(b'x', docket_notification::grpc::MAX_EMAIL_BYTES));
    let too_large = ingest(closed, &huge);
    assert_eq!(too_large.status.code(), Some(65), "EX_DATAERR for a message too large");
    assert!(quiet(&too_large).contains("too large"));
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_from_the_command_line() {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let exchange = format!("docket.test.{unique}");
    let prefix = format!("test.{unique}.");
    let queue = format!("{prefix}notification");
    let _cleanup = Cleanup { exchange: exchange.clone(), queues: vec![queue.clone()] };
    let run = |args: &[&str]| {
        let output = docket()
            .args(["events", "dead-letters", "--service", "notification"])
            .args(args)
            .env("DOCKET__EVENTS__URL", rabbitmq_url())
            .env("DOCKET__EVENTS__EXCHANGE", &exchange)
            .env("DOCKET__EVENTS__QUEUE_PREFIX", &prefix)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(run(&[]).contains("0 dead letter(s)"));

    // A dead letter as the consumer leaves it: its reason in a header.
    let connection = connect().await;
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let mut headers = FieldTable::default();
    headers.insert("x-docket-error".into(), lapin::types::AMQPValue::LongString("the printer is on fire".into()));
    headers.insert("x-docket-routing-key".into(), lapin::types::AMQPValue::LongString("case.created".into()));
    headers.insert("x-docket-attempts".into(), lapin::types::AMQPValue::LongLongInt(5));
    channel
        .basic_publish(
            "".into(),
            format!("{queue}.dead").as_str().into(),
            BasicPublishOptions::default(),
            b"payload",
            BasicProperties::default().with_message_id("event-1".into()).with_headers(headers),
        )
        .await
        .unwrap()
        .await
        .unwrap();

    let listed = run(&[]);
    assert!(listed.contains("1 dead letter(s)"), "{listed}");
    assert!(listed.contains("event-1 case.created attempts=5 reason=the printer is on fire"), "{listed}");
    assert!(run(&[]).contains("1 dead letter(s)"), "listing leaves them in place");
    assert!(run(&["--replay"]).contains("replayed 1 dead letter(s)"));
    assert!(run(&[]).contains("0 dead letter(s)"));
    let back = channel.basic_get(queue.as_str().into(), lapin::options::BasicGetOptions { no_ack: true }).await.unwrap();
    assert_eq!(back.expect("the replayed message is on the queue").delivery.data, b"payload");
    let _ = connection.close(200, "done".into()).await;
}
