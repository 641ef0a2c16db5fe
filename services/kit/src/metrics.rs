//! Prometheus metrics. A process serves them on `telemetry.metrics_listen`
//! (the Helm chart sets it on every pod; empty: none). Every metric Docket
//! records is named here, once, so that the chart's alerts and dashboard
//! and this file agree.

use std::net::SocketAddr;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::settings::InvalidSetting;

/// Histogram buckets, in seconds: from a fast local call to a slow SMTP server.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Starts serving `/metrics` (any path answers) on `listen`; nothing when
/// it is empty. Needs a running tokio runtime.
pub fn serve(listen: &str) -> Result<Option<SocketAddr>, InvalidSetting> {
    if listen.trim().is_empty() {
        return Ok(None);
    }
    let bad = |reason: String| InvalidSetting::new("telemetry.metrics_listen", reason);
    let address: SocketAddr = listen.parse().map_err(|err| bad(format!("{listen:?} is not an address:port ({err})")))?;
    // Bind first, so that a port in use is an error that names the key.
    drop(std::net::TcpListener::bind(address).map_err(|err| bad(format!("cannot listen on {address}: {err}")))?);
    PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets(BUCKETS)
        .and_then(PrometheusBuilder::install)
        .map_err(|err| bad(format!("cannot serve metrics on {address}: {err}")))?;
    tracing::info!(%address, "serving Prometheus metrics");
    Ok(Some(address))
}

/// One gRPC call answered: its method (`/docket.case.v1.CaseService/GetCase`,
/// or `unknown` for a path no service has) and status code name.
pub fn grpc_call(method: &str, code: &str, seconds: f64) {
    let method = if code == "Unimplemented" { "unknown".to_owned() } else { method.to_owned() };
    counter!("docket_grpc_requests_total", "method" => method.clone(), "code" => code.to_owned()).increment(1);
    histogram!("docket_grpc_request_duration_seconds", "method" => method).record(seconds);
}

/// One HTTP request the gateway answered, by matched route (never the path:
/// paths carry link secrets) and status.
pub fn http_request(method: &str, route: &str, status: u16, seconds: f64) {
    // Any token is a method in HTTP: only the known ones get a label each.
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    };
    let (method, route) = (method.to_owned(), route.to_owned());
    counter!("docket_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!("docket_http_request_duration_seconds", "method" => method, "route" => route).record(seconds);
}

/// Events of `event_type` a relay published from `service`'s outbox.
pub fn events_published(service: &str, event_type: &str, count: usize) {
    counter!("docket_events_published_total", "service" => service.to_owned(), "type" => event_type.to_owned())
        .increment(count as u64);
}

/// Events in `service`'s outbox not yet published.
pub fn outbox_backlog(service: &str, rows: u64) {
    gauge!("docket_outbox_backlog", "service" => service.to_owned()).set(rows as f64);
}

/// What a consumer did with one event of `event_type`: `handled`,
/// `duplicate`, `retried` or `dead_lettered`.
pub fn event_consumed(consumer: &str, event_type: &str, outcome: &'static str) {
    counter!(
        "docket_events_consumed_total",
        "consumer" => consumer.to_owned(),
        "type" => event_type.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Messages waiting in a consumer's dead-letter queue now.
pub fn dead_letters(consumer: &str, waiting: u32) {
    gauge!("docket_events_dead_letters", "consumer" => consumer.to_owned()).set(f64::from(waiting));
}

/// One email handed to the SMTP server (or the dev mailbox), and how long it took.
pub fn email_sent(seconds: f64) {
    counter!("docket_emails_sent_total").increment(1);
    histogram!("docket_email_send_duration_seconds").record(seconds);
}

/// One email not accepted: `retry` (sent again later) or `final` (given up).
pub fn email_failed(kind: &'static str) {
    counter!("docket_emails_failed_total", "kind" => kind).increment(1);
}

/// Deliveries waiting to be sent (due or not).
pub fn emails_pending(count: u64) {
    gauge!("docket_emails_pending").set(count as f64);
}

/// One SLA target missed (`first_response` or `resolution`).
pub fn sla_breached(target: &str) {
    counter!("docket_sla_breaches_total", "target" => target.to_owned()).increment(1);
}

/// One SLA target about to be missed (the warning before the breach).
pub fn sla_warned(target: &str) {
    counter!("docket_sla_warnings_total", "target" => target.to_owned()).increment(1);
}

/// SLA clocks the scheduler read because they fell due.
pub fn sla_clocks_due(count: u64) {
    counter!("docket_sla_clocks_due_total").increment(count);
}

/// A portal login attempt: `ok`, `wrong_password`, `locked_out` or `switched_off`.
pub fn portal_login(outcome: &'static str) {
    counter!("docket_portal_logins_total", "outcome" => outcome).increment(1);
}

/// How old the oldest event not yet published from `service`'s outbox is
/// (0 when none waits): a broker away shows here first.
pub fn outbox_oldest_age(service: &str, seconds: f64) {
    gauge!("docket_outbox_oldest_unsent_age_seconds", "service" => service.to_owned()).set(seconds);
}

/// Connections of `service`'s database pool: open, and of those in use.
pub fn db_pool(service: &str, open: u32, in_use: u32) {
    gauge!("docket_db_pool_connections", "service" => service.to_owned()).set(f64::from(open));
    gauge!("docket_db_pool_connections_in_use", "service" => service.to_owned()).set(f64::from(in_use));
}

/// How often [`report_db_pool`] reads a pool.
const POOL_SAMPLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Keeps `docket_db_pool_connections*` of `service` current until
/// `shutdown`, and times taking a connection from the pool each round
/// (`docket_db_pool_acquire_seconds`): the pool hides how long its callers
/// wait, so a probe waits like one of them. Long acquires mean a pool too
/// small for the load, or a database that is slow to hand out connections.
pub async fn report_db_pool(service: String, db: sea_orm::DatabaseConnection, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    use sea_orm::DbBackend;
    loop {
        let started = std::time::Instant::now();
        // Each getter panics on the other backend: the match picks the right one.
        let (open, idle, acquired) = match db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = db.get_postgres_connection_pool();
                let acquired = tokio::select! {
                    acquired = pool.acquire() => acquired.is_ok(),
                    _ = shutdown.changed() => return,
                };
                (pool.size(), pool.num_idle(), acquired)
            }
            DbBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                let acquired = tokio::select! {
                    acquired = pool.acquire() => acquired.is_ok(),
                    _ = shutdown.changed() => return,
                };
                (pool.size(), pool.num_idle(), acquired)
            }
            _ => return,
        };
        if acquired {
            histogram!("docket_db_pool_acquire_seconds", "service" => service.clone()).record(started.elapsed().as_secs_f64());
        }
        db_pool(&service, open, open.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX)));
        tokio::select! {
            () = tokio::time::sleep(POOL_SAMPLE) => {}
            _ = shutdown.changed() => return,
        }
    }
}
