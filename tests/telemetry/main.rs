//! Trace context travels across gRPC: a call continues its caller's trace,
//! and the kit's client interceptor passes the current trace on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../case/fixtures.rs"]
mod fixtures;

use common::{AGENT, Backend, Bearer, TestApp};
use docket_proto::case::v1 as pb;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tonic::{Request, service::Interceptor};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

fn server_spans(exporter: &InMemorySpanExporter, provider: &SdkTracerProvider, method: &str) -> Vec<String> {
    provider.force_flush().expect("flush spans");
    exporter
        .get_finished_spans()
        .expect("finished spans")
        .into_iter()
        .filter(|span| span.name.contains(method))
        .map(|span| span.span_context.trace_id().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_is_carried_across_grpc_calls() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    docket_kit::telemetry::install_propagator();
    let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber of this process");

    let app = TestApp::spawn(Backend::Sqlite).await;

    // A caller that sends W3C traceparent metadata.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = Request::new(pb::ListAccountsRequest::default());
    request.metadata_mut().insert("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01").parse().unwrap());
    app.accounts(AGENT).list_accounts(request).await.expect("list accounts");
    assert!(
        server_spans(&exporter, &provider, "ListAccounts").contains(&trace_id.to_owned()),
        "the server span continues the caller's trace"
    );

    // A Docket client inside a span passes that span's trace on.
    let caller = tracing::info_span!("caller");
    let caller_trace = caller.context().span().span_context().trace_id().to_string();
    let mut bearer = Bearer(Some(format!("Bearer {AGENT}").parse().unwrap()));
    let mut client = pb::contact_service_client::ContactServiceClient::with_interceptor(app.channel(), move |request| {
        bearer.call(docket_kit::telemetry::propagate_trace(request)?)
    });
    client.list_contacts(pb::ListContactsRequest::default()).instrument(caller).await.expect("list contacts");
    assert!(
        server_spans(&exporter, &provider, "ListContacts").contains(&caller_trace),
        "the server span joins the calling span's trace {caller_trace}"
    );

    // A case created in a trace: its event carries the trace, and the
    // notification service's handling of it (and its calls back to the case
    // service for the contact) continue that same trace.
    let customer = fixtures::customer(&app).await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let mut request = Request::new(pb::CreateCaseRequest {
        case: Some(fixtures::new_case(&customer, "Traced")),
        idempotency_key: String::new(),
        sender: None,
    });
    request.metadata_mut().insert("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01").parse().unwrap());
    app.cases(AGENT).create_case(request).await.expect("create case");
    let in_trace = |name: &str| server_spans(&exporter, &provider, name).contains(&trace_id.to_owned());
    common::eventually("the consumer's span to continue the trace of the change", async || {
        if in_trace("consume case.created") { Ok(()) } else { Err("no consumer span in the trace yet") }
    })
    .await;
    // The case service's own consumer of case.created (its reports) makes a
    // "consume case.created" span of this trace too, and may be done before
    // the notifier has asked for the contact.
    common::eventually("the notifier's call back to the case service to be in the same trace", async || {
        if in_trace("GetContact") { Ok(()) } else { Err("no GetContact span in the trace yet") }
    })
    .await;
    common::eventually("sending the email to join the trace of the change that caused it", async || {
        if in_trace("send email") { Ok(()) } else { Err("no send span in the trace yet") }
    })
    .await;

    // Through the HTTP gateway: the request's span continues the caller's
    // W3C trace, and the gRPC call the gateway makes for it joins it too.
    let gateway = common::gateway::GatewayApp::in_front_of(app, false).await;
    let trace_id = "5d0c0f6b8a1e4c7d9b2a3f4e5d6c7b8a";
    let traceparent = format!("00-{trace_id}-a1b2c3d4e5f60718-01");
    let answer =
        gateway.send(http::Method::GET, "/api/v1/accounts", Some(AGENT), &[("traceparent", traceparent.as_str())], None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        server_spans(&exporter, &provider, "GET /api/v1/accounts").contains(&trace_id.to_owned()),
        "the gateway's request span continues the caller's trace"
    );
    assert!(
        server_spans(&exporter, &provider, "ListAccounts").contains(&trace_id.to_owned()),
        "the gateway's call to the case service is in the caller's trace"
    );

    // A path that carries a secret (a reset link's token) is recorded as
    // its route only: the token reaches no span.
    let secret = "s3cr3t-reset-token-QmFzZTY0";
    gateway.send(http::Method::GET, &format!("/portal/reset/{secret}"), None, &[], None).await;
    gateway.send(http::Method::GET, &format!("/no/such/page/{secret}"), None, &[], None).await;
    provider.force_flush().expect("flush spans");
    let spans = exporter.get_finished_spans().expect("finished spans");
    let names: Vec<String> = spans.iter().map(|span| span.name.to_string()).collect();
    assert!(names.iter().any(|name| name == "GET /portal/reset/{token}"), "{names:?}");
    assert!(names.iter().any(|name| name == "GET unmatched"), "{names:?}");
    let leaked: Vec<_> =
        spans.iter().filter(|span| format!("{span:?}").contains(secret)).map(|span| span.name.to_string()).collect();
    assert!(leaked.is_empty(), "spans carry the secret: {leaked:?}");
}
