//! Prometheus metrics of a real `docket serve` process: the gRPC calls it
//! answered, the events it published and consumed, the emails it sent, and
//! the dead letters an operator must look at.

use docket_proto::case::v1 as pb;
use lapin::{BasicProperties, options::BasicPublishOptions};

use crate::{
    common::{
        eventually,
        metrics::{sample, scrape},
        rabbit::connect,
    },
    install::{CaseService, Install, healthy, port, stop},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_calls_events_emails_and_dead_letters() {
    let install = Install::new().await;
    let (grpc_port, metrics_port) = (port(), port());
    let listen = format!("127.0.0.1:{metrics_port}");
    let env = [("DOCKET__TELEMETRY__METRICS_LISTEN", listen.as_str())];
    let mut docket = install.serve(&["case", "notification"], grpc_port, grpc_port, &env);
    healthy(grpc_port).await;

    let mut case_service = CaseService::at(grpc_port);
    case_service.open_case("petra@acme.example", "Printer").await;
    // A refused call: counted with its code.
    let missing = pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::Id("not-an-id".into())) };
    assert!(case_service.cases.get_case(missing).await.is_err());

    // An event no handler can read: dead-lettered at once.
    let connection = connect().await;
    let publisher = connection.create_channel().await.unwrap();
    publisher.confirm_select(Default::default()).await.unwrap();
    publisher
        .basic_publish(
            install.exchange.as_str().into(),
            "case.created".into(),
            BasicPublishOptions::default(),
            b"not an envelope",
            BasicProperties::default().with_message_id("garbage-1".into()).with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let _ = connection.close(200, "published".into()).await;

    eventually("the email, the dead letter and the calls in the metrics", async || {
        let text = scrape(metrics_port).await?;
        let wanted = [
            ("docket_grpc_requests_total", &["method=\"/docket.case.v1.CaseService/CreateCase\"", "code=\"OK\""][..], 1.0),
            ("docket_grpc_requests_total", &["method=\"/docket.case.v1.CaseService/GetCase\"", "code=\"InvalidArgument\""], 1.0),
            ("docket_events_published_total", &["service=\"case\"", "type=\"case.created\""], 1.0),
            ("docket_events_consumed_total", &["consumer=\"notification\"", "type=\"case.created\"", "outcome=\"handled\""], 1.0),
            (
                "docket_events_consumed_total",
                &["consumer=\"notification\"", "type=\"malformed\"", "outcome=\"dead_lettered\""],
                1.0,
            ),
            ("docket_events_dead_letters", &["consumer=\"notification\""], 1.0),
            ("docket_emails_sent_total", &[], 1.0),
        ];
        for (name, labels, at_least) in wanted {
            match sample(&text, name, labels) {
                Some(value) if value >= at_least => {}
                other => return Err(format!("{name}{labels:?} = {other:?}")),
            }
        }
        Ok(())
    })
    .await;
    let text = scrape(metrics_port).await.unwrap();
    assert!(text.contains("# TYPE docket_grpc_request_duration_seconds histogram"), "durations are histograms");
    assert!(sample(&text, "docket_outbox_backlog", &["service=\"case\""]).is_some(), "the outbox backlog is measured");
    assert!(sample(&text, "docket_outbox_oldest_unsent_age_seconds", &["service=\"case\""]).is_some(), "{text}");
    for service in ["case", "notification"] {
        let label = format!("service=\"{service}\"");
        let open = sample(&text, "docket_db_pool_connections", &[&label]);
        assert!(open.is_some_and(|open| open >= 1.0), "{service}'s database pool: {open:?}");
        let acquires = sample(&text, "docket_db_pool_acquire_seconds_count", &[&label]);
        assert!(acquires.is_some_and(|n| n >= 1.0), "{service}'s pool acquire probe: {acquires:?}");
    }
    assert_eq!(install.emails(), 1);
    stop(&mut docket);
    install.drop_schemas().await;
}
