//! Tracing for every binary: text or JSON logs, and OpenTelemetry traces
//! exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. W3C trace
//! context is carried in gRPC metadata both ways, so one call across several
//! services is one trace.

use opentelemetry::{
    global,
    propagation::{Extractor, Injector},
    trace::TracerProvider as _,
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::settings::{LogFormat, TelemetrySettings};

/// Flushes the last spans when dropped: keep it alive in `main`.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {err}");
        }
    }
}

/// Makes W3C trace context the format read from and written to gRPC metadata.
pub fn install_propagator() {
    global::set_text_map_propagator(TraceContextPropagator::new());
}

/// Installs the global subscriber. Call once, early in `main`. Traces
/// name the process `service_name` unless `OTEL_SERVICE_NAME` is set;
/// `OTEL_RESOURCE_ATTRIBUTES` (namespace, pod, version) is read as well.
pub fn init(settings: &TelemetrySettings, service_name: &str) -> anyhow::Result<TelemetryGuard> {
    install_propagator();
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&settings.log_filter))?;

    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
            // The default detectors read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
            let mut resource = Resource::builder();
            if std::env::var("OTEL_SERVICE_NAME").unwrap_or_default().trim().is_empty() {
                resource = resource.with_service_name(service_name.to_owned());
            }
            let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
            global::set_tracer_provider(provider.clone());
            Some(provider)
        }
        _ => None,
    };
    let otel_layer = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service_name.to_owned())));

    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    match settings.log_format {
        LogFormat::Json => registry.with(tracing_subscriber::fmt::layer().json().with_current_span(true)).try_init()?,
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init()?,
    }
    Ok(TelemetryGuard { provider })
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) =
            (tonic::metadata::MetadataKey::from_bytes(key.as_bytes()), tonic::metadata::MetadataValue::try_from(value))
        {
            self.0.insert(key, value);
        }
    }
}

/// The span of one incoming gRPC call, a child of the caller's trace when the
/// request carries a `traceparent` header.
pub fn server_span(request: &http::Request<impl Sized>) -> tracing::Span {
    let path = request.uri().path();
    let span = tracing::info_span!("grpc", otel.name = %path, rpc.method = %path, actor = tracing::field::Empty);
    continue_trace(&span, request.headers());
    span
}

/// The span of one incoming HTTP request (the gateway), a child of the
/// caller's trace when the request carries a `traceparent` header. The
/// status is recorded into `http.response.status_code` when known.
///
/// It names the matched `route` (`/portal/reset/{token}`), never the path:
/// paths carry secrets (reset and invitation links) that must not reach
/// logs or the trace store. A request that matched no route is `unmatched`.
pub fn http_server_span(request: &http::Request<impl Sized>, route: Option<&str>) -> tracing::Span {
    let method = request.method();
    let route = route.unwrap_or("unmatched");
    let span = tracing::info_span!(
        "http",
        otel.name = %format!("{method} {route}"),
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    continue_trace(&span, request.headers());
    span
}

/// The W3C `traceparent` of the current span (empty outside any trace), to
/// keep with work that continues later elsewhere.
pub fn current_traceparent() -> String {
    let mut carrier = std::collections::HashMap::new();
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&context, &mut carrier));
    carrier.remove("traceparent").unwrap_or_default()
}

/// Makes `span` a child of the trace a kept `traceparent` names, if any.
pub fn continue_traceparent(span: &tracing::Span, traceparent: &str) {
    if traceparent.is_empty() {
        return;
    }
    let carrier = std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = global::get_text_map_propagator(|p| p.extract(&carrier));
    let _ = span.set_parent(parent);
}

/// Makes `span` a child of the W3C trace context in `headers`, if any.
fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    // Fails only when no OpenTelemetry layer is installed, which is fine.
    let _ = span.set_parent(parent);
}

/// A client interceptor that puts the current span's context into the
/// outgoing metadata: `Client::with_interceptor(channel, propagate_trace)`.
#[allow(clippy::result_large_err)]
pub fn propagate_trace(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&context, &mut MetadataInjector(request.metadata_mut())));
    Ok(request)
}
