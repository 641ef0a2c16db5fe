//! The gRPC server every service runs in: auth and tracing layers, a request
//! timeout, `grpc.health.v1` that follows the database, reflection, and a
//! graceful shutdown that lets calls in flight finish.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tonic::{service::RoutesBuilder, transport::server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::{
    auth::{AuthLayer, TokenTable},
    settings::GrpcSettings,
};

/// One mounted service: the gRPC service names it serves, and the database
/// whose reachability decides its health.
pub struct Mounted {
    pub names: Vec<&'static str>,
    pub db: DatabaseConnection,
    /// The methods (`/package.Service/Method`) a service token that
    /// `acts_for_contacts` may call for a customer contact.
    pub contact_calls: &'static [&'static str],
}

/// Everything the server needs besides its listener.
pub struct ServerParts {
    pub routes: RoutesBuilder,
    pub mounted: Vec<Mounted>,
    pub tokens: TokenTable,
    /// The encoded `FileDescriptorSet` reflection serves
    /// (`docket_proto::FILE_DESCRIPTOR_SET`).
    pub descriptor_set: &'static [u8],
}

/// Serves until `shutdown` resolves, then stops taking new calls and waits
/// for the ones in flight.
pub async fn serve(
    settings: &GrpcSettings,
    listener: TcpListener,
    parts: ServerParts,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(parts.descriptor_set)
    };
    let mut routes = parts.routes;
    // Both reflection versions: many clients (grpcurl, grpcio) still ask v1alpha.
    routes.add_service(health_service).add_service(reflection().build_v1()?).add_service(reflection().build_v1alpha()?);

    // The reporter starts with "" SERVING and knows no other service: until
    // the first database check, report every service, and so the whole
    // server, as NOT_SERVING rather than ready or unknown.
    reporter.set_service_status("", ServingStatus::NotServing).await;
    for service in &parts.mounted {
        for name in &service.names {
            reporter.set_service_status(*name, ServingStatus::NotServing).await;
        }
    }
    let contact_calls = parts.mounted.iter().flat_map(|service| service.contact_calls.iter().copied()).collect();
    let health_task =
        tokio::spawn(watch_health(reporter, parts.mounted, Duration::from_secs(settings.health_check_interval_secs)));

    let layers = tower::ServiceBuilder::new().layer(SpanLayer).layer(AuthLayer::new(parts.tokens, contact_calls)).into_inner();
    let result = tonic::transport::Server::builder()
        .timeout(settings.request_timeout())
        .layer(layers)
        .add_routes(routes.routes())
        // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to
        // larger responses (a page of cases).
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await;
    health_task.abort();
    result?;
    Ok(())
}

/// Reports SERVING for each mounted service while its database answers, and
/// NOT_SERVING while it does not; the overall status ("") is SERVING only
/// when all are.
async fn watch_health(reporter: HealthReporter, mounted: Vec<Mounted>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    let mut last: Option<bool> = None;
    loop {
        ticker.tick().await;
        let mut all_up = true;
        for service in &mounted {
            let up = tokio::time::timeout(interval.max(Duration::from_secs(1)), crate::db::ping(&service.db))
                .await
                .is_ok_and(|r| r.is_ok());
            all_up &= up;
            let status = if up { ServingStatus::Serving } else { ServingStatus::NotServing };
            for name in &service.names {
                reporter.set_service_status(*name, status).await;
            }
        }
        let status = if all_up { ServingStatus::Serving } else { ServingStatus::NotServing };
        reporter.set_service_status("", status).await;
        if last != Some(all_up) {
            if all_up {
                tracing::info!("database reachable: serving");
            } else {
                tracing::warn!("database unreachable: health reports NOT_SERVING");
            }
            last = Some(all_up);
        }
    }
}

/// Resolves on SIGTERM (Kubernetes stopping a pod) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: finishing calls in flight"),
        () = term => tracing::info!("SIGTERM: finishing calls in flight"),
    }
}

/// The status of a unary call's response: a refusal travels in the headers
/// (a trailers-only response); a success's `OK` comes in the trailers.
fn grpc_code<RB>(response: &http::Response<RB>) -> &'static str {
    let code = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i32>().ok());
    match code.map(tonic::Code::from) {
        None | Some(tonic::Code::Ok) => "OK",
        Some(code) => code_name(code),
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Cancelled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

/// Runs each call inside a span that continues the caller's trace, and
/// counts it (method, status, duration) for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct SpanLayer;

impl<S> Layer<S> for SpanLayer {
    type Service = SpanService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SpanService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct SpanService<S> {
    inner: S,
}

impl<S, B, RB> Service<http::Request<B>> for SpanService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = crate::telemetry::server_span(&request);
        let method = request.uri().path().to_owned();
        let started = std::time::Instant::now();
        let future = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let response = future.await;
                if let Ok(response) = &response {
                    crate::metrics::grpc_call(&method, grpc_code(response), started.elapsed().as_secs_f64());
                }
                response
            }
            .instrument(span),
        )
    }
}
