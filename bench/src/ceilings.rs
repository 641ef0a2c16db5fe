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

/// What pgbench measured: transactions per second (connections excluded, as
/// `drive` excludes them) and each transaction's latency, sorted.
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
    let per_second = stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse::<f64>().ok())
        .ok_or_else(|| anyhow!("pgbench printed no `tps = ` line:\n{stdout}"))?;
    let mut latencies = transaction_log(dir)?;
    ensure!(
        latencies.len() == per_client * clients,
        "pgbench logged {} of {} transactions",
        latencies.len(),
        per_client * clients
    );
    latencies.sort_unstable();
    Ok(InsertCeiling { per_second, latencies })
}

/// The latencies in pgbench's per-transaction logs (`tx.<pid>[.<thread>]`):
/// `client transaction latency_us script epoch_s epoch_us` per line.
fn transaction_log(dir: &Path) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("tx.")) {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let micros = line
                .split_whitespace()
                .nth(2)
                .and_then(|field| field.parse::<u64>().ok())
                .ok_or_else(|| anyhow!("unexpected pgbench log line in {}: {line}", path.display()))?;
            latencies.push(Duration::from_micros(micros));
        }
    }
    Ok(latencies)
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
