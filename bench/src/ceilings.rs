//! The two ceilings of this machine that `case-create` measures its paths
//! against, in the same run:
//!
//! - **3-row insert** ([`insert_ceiling`]): pgbench, prepared statements,
//!   synchronous commit, one transaction inserting a case row, an audit row
//!   and an outbox row into copies of the case service's own tables (same
//!   columns, indexes and defaults; the service's rows are left alone). No
//!   service can commit a create faster than PostgreSQL commits these rows.
//! - **tonic echo** ([`serve_echo`]): a bare tonic server that answers
//!   `docket.case.v1.CaseService/GetCase` with a case held in memory: the same
//!   client, connection, HTTP/2 framing and messages as a real GetCase,
//!   without authentication, tracing, or a database.

use std::{
    convert::Infallible,
    path::{Path, PathBuf},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail, ensure};
use docket_proto::case::v1 as pb;
use tokio::{net::TcpListener, process::Command, sync::oneshot, task::JoinHandle};
use tonic::{
    Request, Response, Status,
    body::Body,
    codegen::{BoxFuture, Service, http},
    server::{NamedService, UnaryService},
    transport::{Server, server::TcpIncoming},
};

/// What pgbench measured: transactions per second while all its clients
/// were busy ([`while_all_busy`]; connections excluded, as `drive`
/// excludes them) and each transaction's latency, sorted.
pub struct InsertCeiling {
    pub per_second: f64,
    pub latencies: Vec<Duration>,
}

/// One pgbench transaction: the three rows a CreateCase commits at least.
/// pgbench's `:client_id` and the random `:n` keep ids unique.
const INSERT_SCRIPT: &str = r"\set n random(1, 2000000000)
BEGIN;
INSERT INTO ceiling_cases (id, number, subject, description, type_id, priority, status, channel, account_id, service_contract_id, service_contract_number, asset_description, asset_serial_number, resolution_summary, created_by, version, created_at, updated_at) VALUES (gen_random_uuid()::text, nextval('ceiling_case_numbers'), 'Bench case ' || :n, 'The conveyor stops every hour.', 'technical_issue', 3, 'new', 'phone', 'pgbench-account', '', '', '', '', '', 'bench', 1, now(), now());
INSERT INTO ceiling_audit_entries (id, record_type, record_id, actor, at, field, old_value, new_value, reason) VALUES (gen_random_uuid()::text, 'case', :client_id || '-' || :n, 'bench', now(), 'created', '', 'C-' || :n, '');
INSERT INTO ceiling_outbox (event_id, event_type, subject, envelope, traceparent, created_at) VALUES (gen_random_uuid()::text, 'case.created', :client_id || '-' || :n, decode(repeat('ab', 400), 'hex'), '', now());
END;
";

/// Creates the ceiling's tables in `schema` as copies of the case service's.
const SETUP: &str = "
CREATE TABLE ceiling_cases (LIKE cases INCLUDING ALL);
CREATE SEQUENCE ceiling_case_numbers;
CREATE TABLE ceiling_audit_entries (LIKE audit_entries INCLUDING ALL);
CREATE TABLE ceiling_outbox (LIKE outbox INCLUDING ALL);
";

/// Prepares the copies of the tables pgbench inserts into (in the schema the
/// connection's search path names).
pub async fn prepare_insert_ceiling(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait as _;
    db.execute_unprepared(SETUP).await.context("creating the 3-row insert ceiling's tables")?;
    Ok(())
}

/// Runs pgbench's 3-row insert with `clients` connections, `transactions`
/// in all, in `schema` of `database_url`.
pub async fn insert_ceiling(
    database_url: &str,
    schema: &str,
    clients: usize,
    transactions: usize,
) -> anyhow::Result<InsertCeiling> {
    let pgbench = find_pgbench()?;
    let dir = std::env::temp_dir().join(format!("docket-bench-pgbench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let outcome = run_pgbench(&pgbench, &dir, database_url, schema, clients, transactions).await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn run_pgbench(
    pgbench: &Path,
    dir: &Path,
    database_url: &str,
    schema: &str,
    clients: usize,
    transactions: usize,
) -> anyhow::Result<InsertCeiling> {
    let script = dir.join("insert.sql");
    std::fs::write(&script, INSERT_SCRIPT)?;
    let threads = clients.min(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let per_client = transactions.div_ceil(clients);
    eprintln!("3-row insert ceiling (pgbench): {} transactions at concurrency {clients} …", per_client * clients);
    let output = Command::new(pgbench)
        .args(["--no-vacuum", "--protocol=prepared", "--log", "--log-prefix"])
        .arg(dir.join("tx"))
        .args(["--client", &clients.to_string(), "--jobs", &threads.to_string()])
        .args(["--transactions", &per_client.to_string(), "--file"])
        .arg(&script)
        .arg(database_url)
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .output()
        .await
        .with_context(|| format!("running {}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "pgbench failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let transactions = transaction_log(dir)?;
    ensure!(
        transactions.len() == per_client * clients,
        "pgbench logged {} of {} transactions",
        transactions.len(),
        per_client * clients
    );
    let per_second = while_all_busy(&transactions)
        .ok_or_else(|| anyhow!("pgbench's log leaves no time in which all its clients were busy"))?;
    let mut latencies: Vec<Duration> = transactions.iter().map(|tx| tx.latency).collect();
    latencies.sort_unstable();
    Ok(InsertCeiling { per_second, latencies })
}

/// One transaction of pgbench's log.
struct Logged {
    client: u32,
    /// When it ended, in microseconds since the epoch.
    ended: u64,
    latency: Duration,
}

/// Transactions per second ended while every client was still busy: from
/// the first start to the end of the first client's last transaction.
/// pgbench gives each client a fixed count, so towards the end fewer and
/// fewer clients run; its own `tps` counts that tail, which on this
/// machine read 7 % below the busy rate for 94 transactions per client
/// (2.5 % for 282), while `drive`'s clients share one count and stay busy
/// to the end.
fn while_all_busy(transactions: &[Logged]) -> Option<f64> {
    let mut last_end: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    for tx in transactions {
        let end = last_end.entry(tx.client).or_default();
        *end = (*end).max(tx.ended);
    }
    let busy_until = *last_end.values().min()?;
    let started = transactions.iter().map(|tx| tx.ended.saturating_sub(tx.latency.as_micros() as u64)).min()?;
    let ended = transactions.iter().filter(|tx| tx.ended <= busy_until).count();
    let micros = busy_until.checked_sub(started).filter(|&micros| micros > 0)?;
    Some(ended as f64 * 1e6 / micros as f64)
}

/// The transactions in pgbench's per-transaction logs (`tx.<pid>[.<thread>]`):
/// `client transaction latency_us script epoch_s epoch_us` per line.
fn transaction_log(dir: &Path) -> anyhow::Result<Vec<Logged>> {
    let mut transactions = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("tx.")) {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let fields: Vec<u64> = line.split_whitespace().take(6).filter_map(|field| field.parse().ok()).collect();
            let [client, _, micros, _, epoch, us] = fields[..] else {
                bail!("unexpected pgbench log line in {}: {line}", path.display());
            };
            transactions.push(Logged {
                client: u32::try_from(client)?,
                ended: epoch * 1_000_000 + us,
                latency: Duration::from_micros(micros),
            });
        }
    }
    Ok(transactions)
}

/// pgbench on the PATH, else the newest PostgreSQL's own (Debian keeps it
/// in `/usr/lib/postgresql/<version>/bin`).
fn find_pgbench() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("PGBENCH") {
        return Ok(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("pgbench"))
        .find(|candidate| candidate.is_file());
    if let Some(path) = on_path {
        return Ok(path);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin/pgbench")))
        .filter(|candidate| candidate.is_file())
        .collect();
    versions.sort();
    match versions.pop() {
        Some(path) => Ok(path),
        None => bail!("pgbench not found: install PostgreSQL's client tools (Debian: postgresql-client) or set PGBENCH"),
    }
}

/// A running echo server: its URL, and how to stop it.
pub struct Echo {
    pub url: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Echo {
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await.context("the echo server task failed")?.context("the echo server failed")
    }
}

/// Serves GetCase answered with `case` on a random loopback port, with the
/// transport settings Docket's own servers use (TCP_NODELAY).
pub async fn serve_echo(case: pb::Case) -> anyhow::Result<Echo> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(Server::builder().add_service(EchoCases(Arc::new(case))).serve_with_incoming_shutdown(
        TcpIncoming::from(listener).with_nodelay(Some(true)),
        async {
            let _ = stopped.await;
        },
    ));
    Ok(Echo { url, stop, server })
}

/// The whole server: every call is answered as GetCase.
#[derive(Clone)]
struct EchoCases(Arc<pb::Case>);

impl NamedService for EchoCases {
    const NAME: &'static str = "docket.case.v1.CaseService";
}

impl Service<http::Request<Body>> for EchoCases {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let answer = Answer(Arc::clone(&self.0));
        Box::pin(async move { Ok(tonic::server::Grpc::new(tonic_prost::ProstCodec::default()).unary(answer, request).await) })
    }
}

struct Answer(Arc<pb::Case>);

impl UnaryService<pb::GetCaseRequest> for Answer {
    type Response = pb::Case;
    type Future = std::future::Ready<Result<Response<pb::Case>, Status>>;

    fn call(&mut self, _request: Request<pb::GetCaseRequest>) -> Self::Future {
        std::future::ready(Ok(Response::new(pb::Case::clone(&self.0))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(client: u32, ended: u64, latency: u64) -> Logged {
        Logged { client, ended, latency: Duration::from_micros(latency) }
    }

    #[test]
    fn the_rate_leaves_out_the_tail_in_which_clients_had_finished() {
        // Two clients start at 0 and take 1 ms a transaction; client 1
        // stops after 2, client 2 goes on alone for 2 more.
        let log = [
            tx(1, 1_000, 1_000),
            tx(1, 2_000, 1_000),
            tx(2, 1_000, 1_000),
            tx(2, 2_000, 1_000),
            tx(2, 3_000, 1_000),
            tx(2, 4_000, 1_000),
        ];
        // 4 transactions ended in the 2 ms both were busy (pgbench: 6 in 4 ms).
        assert_eq!(while_all_busy(&log), Some(2_000.0));
    }

    #[test]
    fn a_log_without_time_has_no_rate() {
        assert_eq!(while_all_busy(&[]), None);
        assert_eq!(while_all_busy(&[tx(1, 5_000, 0)]), None);
    }
}
