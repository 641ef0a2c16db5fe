//! Benchmarks of the billing service.
//!
//! `sla-sweep`: the SLA scheduler's cost grows with the clocks that fall
//! due, not with the open cases. Migrates a fresh `billing` schema in
//! PostgreSQL, writes `--clocks` open case clocks under a default policy
//! (in batches, with progress), of which `--due` are due now, then per
//! round: makes `--due` clocks due, sweeps once (the real
//! [`SlaScheduler::sweep`], which raises and writes their alerts), and
//! sweeps again with nothing due. It prints, per round, the sweep's time,
//! the clocks it read and the alerts it wrote, and the rows PostgreSQL read
//! for the sweep's query (from `EXPLAIN ANALYZE` of that query just before
//! the sweep), then the p50/p99 of the sweep times.
//!
//! `invoices`: starts the case and billing services in-process (PostgreSQL,
//! in-process events), creates a contract and, per concurrency level,
//! `--cases` cases each with three booked hours and a part (set-up, not
//! timed), then calls InvoiceCase once per case from that many client
//! tasks: invoices per second and latency percentiles.

use docket_kit::mutation::Once;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use clap::Args;
use docket::{
    app::{self, Target},
    settings::Settings,
};
use docket_billing::{
    scheduler::SlaScheduler,
    store::{PolicyFields, Store, StoredHours, StoredTarget},
};
use docket_kit::{audit::Actor, auth::Role, db::ServiceDatabase, events::outbox::RelayWaker, settings::TokenSettings};
use docket_proto::{
    billing::v1::{self as billing_pb, contract_service_client::ContractServiceClient, work_service_client::WorkServiceClient},
    case::v1 as pb,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::transport::{Channel, Endpoint};

use crate::{Auth, Row, authorize, bench_settings, drive, drive_clients, percentile_ms, print_table, wait_until_serving};

#[derive(Args)]
pub struct SlaSweepArgs {
    /// Open case clocks in the table.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..))]
    clocks: u32,
    /// Clocks that fall due before each sweep.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..))]
    due: u32,
    /// Sweeps to time.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// PostgreSQL to benchmark against; a fresh schema is created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
}

#[derive(Args)]
pub struct InvoicesArgs {
    /// Cases invoiced per concurrency level.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// Concurrency levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8], value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Vec<u32>,
    /// PostgreSQL to benchmark against; fresh schemas are created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
}

/// Drops the schemas of `services` (the bench's own prefix).
pub(crate) async fn drop_schemas(settings: &Settings, services: &[&str]) -> anyhow::Result<()> {
    for service in services {
        if let Some(schema) = ServiceDatabase::for_service(&settings.database, service).schema {
            let db = docket_kit::db::connect(&settings.database, service).await?;
            docket_kit::db::drop_schema(&db, &schema).await?;
            db.close().await?;
            eprintln!("dropped schema {schema}");
        }
    }
    Ok(())
}

pub async fn sla_sweep(args: SlaSweepArgs) -> anyhow::Result<()> {
    ensure!(args.due <= args.clocks, "--due cannot exceed --clocks");
    let settings = bench_settings(&args.database_url)?;
    let outcome = tokio::select! {
        outcome = sweep_rounds(&settings, &args) => outcome,
        () = crate::interrupted() => Err(anyhow!("interrupted")),
    };
    if let Err(err) = drop_schemas(&settings, &[docket_billing::SERVICE]).await {
        eprintln!("could not drop the bench schema: {err:#}");
    }
    outcome
}

/// A policy that is open around the clock, so every clock has deadlines.
fn always_open() -> PolicyFields {
    PolicyFields {
        name: "Bench: around the clock".into(),
        description: String::new(),
        time_zone: "UTC".into(),
        working_hours: (1..=7).map(|weekday| StoredHours { weekday, start: 0, end: 24 * 60 }).collect(),
        holidays: Vec::new(),
        targets: (1..=4)
            .map(|priority| StoredTarget {
                priority,
                first_response_minutes: 60 * i64::from(5 - priority),
                resolution_minutes: 240 * i64::from(5 - priority),
            })
            .collect(),
        pause_while_pending: true,
        warn_at_percent: 80,
        is_default: true,
    }
}

async fn exec(db: &DatabaseConnection, sql: String) -> anyhow::Result<u64> {
    Ok(db.execute_raw(Statement::from_string(DbBackend::Postgres, sql)).await?.rows_affected())
}

async fn sweep_rounds(settings: &Settings, args: &SlaSweepArgs) -> anyhow::Result<()> {
    ensure!(settings.database.url.starts_with("postgres"), "sla-sweep needs PostgreSQL");
    let db = docket_kit::db::connect(&settings.database, docket_billing::SERVICE).await?;
    docket_migrations::up(&db, docket_billing::SERVICE).await?;
    let store = Store::new(db.clone());
    let by = Actor { actor: "bench", reason: "", at: docket_kit::time::now() };
    let policy = store.create_policy(always_open(), &by, Once::default()).await?;

    // Open cases, opened within the last five hours, not due for a month.
    let started = Instant::now();
    let batch = 100_000u32;
    let mut written = 0u32;
    while written < args.clocks {
        let upto = (written + batch).min(args.clocks);
        exec(
            &db,
            format!(
                "INSERT INTO case_clocks (case_id, case_number, account_id, contract_id, sla_policy_id, resolve_policy, priority, status, \
                 case_version, opened_at, first_response_at, closed_at, status_log, first_response_warn_at, first_response_due, \
                 resolution_warn_at, resolution_due, next_due_at, first_response_warned, first_response_breached, resolution_warned, \
                 resolution_breached, first_response_outcome, resolution_outcome, next_check_at, updated_at) \
                 SELECT 'bench-' || g, 'C-' || lpad(g::text, 7, '0'), 'bench-account', NULL, '{policy}', false, 1 + g % 4, 'active_new', \
                 1, o, NULL, NULL, '[{{\"at\":\"' || to_char(o AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || '\",\"status\":\"active\"}}]', \
                 NULL, NULL, NULL, NULL, NULL, false, false, false, false, 'open', 'open', now() + interval '30 days' + g * interval '1 second', now() \
                 FROM generate_series({from}, {to}) AS g, LATERAL (SELECT now() - (g % 300) * interval '1 minute' AS o) AS opened",
                policy = policy.id,
                from = written + 1,
                to = upto,
            ),
        )
        .await
        .context("writing clocks")?;
        written = upto;
        eprintln!("  {written} of {} clocks written ({:.1} s)", args.clocks, started.elapsed().as_secs_f64());
    }
    exec(&db, "ANALYZE case_clocks".to_owned()).await?;

    let scheduler = SlaScheduler::new(db.clone(), Duration::from_secs(1), 500, RelayWaker::default());
    let mut times = Vec::new();
    println!(
        "{:>5} {:>10} {:>6} {:>9} {:>7} {:>10} {:>10} {:>14}",
        "round", "clocks", "due", "examined", "raised", "rows read", "sweep ms", "idle sweep ms"
    );
    for round in 0..args.rounds {
        // The next `due` clocks by id fall due now.
        let from = round * args.due % args.clocks.max(1) + 1;
        let to = from + args.due - 1;
        exec(
            &db,
            format!(
                "UPDATE case_clocks SET next_check_at = now() - interval '1 second' \
                 WHERE case_id IN (SELECT 'bench-' || g FROM generate_series({from}, {to}) AS g)"
            ),
        )
        .await?;
        let rows_read = plan_rows_read(&db).await?;
        let now = docket_kit::time::now();
        let start = Instant::now();
        let sweep = scheduler.sweep(now).await?;
        let elapsed = start.elapsed();
        let idle_start = Instant::now();
        let idle = scheduler.sweep(now).await?;
        let idle_elapsed = idle_start.elapsed();
        ensure!(idle.examined == 0, "a second sweep found {} clocks due", idle.examined);
        times.push(elapsed);
        println!(
            "{:>5} {:>10} {:>6} {:>9} {:>7} {:>10} {:>10.1} {:>14.2}",
            round + 1,
            args.clocks,
            args.due,
            sweep.examined,
            sweep.raised,
            rows_read,
            elapsed.as_secs_f64() * 1000.0,
            idle_elapsed.as_secs_f64() * 1000.0
        );
        ensure!(sweep.examined == u64::from(args.due), "the sweep read {} clocks, {} were due", sweep.examined, args.due);
    }
    times.sort_unstable();
    println!(
        "sweep of {} due among {} open clocks: p50 {:.1} ms, p99 {:.1} ms ({:.0} due clocks per second)",
        args.due,
        args.clocks,
        percentile_ms(&times, 0.5),
        percentile_ms(&times, 0.99),
        f64::from(args.due) / times[times.len() / 2].as_secs_f64()
    );
    db.close().await?;
    Ok(())
}

/// Rows PostgreSQL reads to find the clocks due now, by `EXPLAIN ANALYZE` of
/// the sweep's query: what the table scan or index scan returned plus what
/// its filter removed.
async fn plan_rows_read(db: &DatabaseConnection) -> anyhow::Result<u64> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "EXPLAIN (ANALYZE, FORMAT TEXT) SELECT * FROM case_clocks WHERE next_check_at <= now() ORDER BY next_check_at LIMIT 500",
        ))
        .await?;
    let mut read = 0u64;
    for row in rows {
        let line: String = row.try_get_by_index(0)?;
        // "->  Index Scan using case_clocks_next_check ... (actual time=... rows=1000 loops=1)"
        if line.contains("Scan") {
            read += number_after(&line, "rows=", true).unwrap_or(0);
        }
        if line.contains("Rows Removed by Filter:") {
            read += number_after(&line, "Rows Removed by Filter:", false).unwrap_or(0);
        }
    }
    Ok(read)
}

/// The number after `key` in `line`; with `last`, after its last occurrence
/// (the actual rows come after the estimated ones).
fn number_after(line: &str, key: &str, last: bool) -> Option<u64> {
    let at = if last { line.rfind(key)? } else { line.find(key)? };
    let digits: String = line[at + key.len()..].trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The service token the billing and case services call each other with.
pub(crate) const SERVICE_TOKEN: &str = "docket-bench-service-token";
/// The admin token that creates the staff user who books the hours.
pub(crate) const ADMIN_TOKEN: &str = "docket-bench-admin-token";

pub(crate) fn as_admin(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    // A constant ASCII value: `from_static` cannot panic here.
    request
        .metadata_mut()
        .insert("authorization", tonic::metadata::MetadataValue::from_static("Bearer docket-bench-admin-token"));
    Ok(request)
}

type Work = WorkServiceClient<tonic::service::interceptor::InterceptedService<Channel, Auth>>;

pub async fn invoices(args: InvoicesArgs) -> anyhow::Result<()> {
    let mut settings = bench_settings(&args.database_url)?;
    let service =
        TokenSettings { token: SERVICE_TOKEN.to_owned(), role: Role::Service, staff_id: None, acts_for_contacts: false };
    settings.auth.tokens.insert("bench-service".to_owned(), service);
    let admin = TokenSettings { token: ADMIN_TOKEN.to_owned(), role: Role::Admin, staff_id: None, acts_for_contacts: false };
    settings.auth.tokens.insert("bench-admin".to_owned(), admin);
    settings.billing.service_token = SERVICE_TOKEN.to_owned();
    settings.case.service_token = SERVICE_TOKEN.to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    settings.billing.case_service_url.clone_from(&url);
    settings.case.billing_service_url.clone_from(&url);
    let (stop, stopped) = oneshot::channel::<()>();
    let server_settings = settings.clone();
    let server = tokio::spawn(async move {
        app::run(&server_settings, &[Target::Case, Target::Billing], listener, async {
            let _ = stopped.await;
        })
        .await
    });
    eprintln!("starting the case and billing services at {url}");
    let outcome = async {
        wait_until_serving(Endpoint::from_shared(url.clone())?.connect_lazy(), &server).await?;
        tokio::select! {
            outcome = invoice_phases(&url, &args) => outcome,
            () = crate::interrupted() => Err(anyhow!("interrupted")),
        }
    }
    .await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    if let Err(err) = drop_schemas(&settings, &[docket_case::SERVICE, docket_billing::SERVICE]).await {
        eprintln!("could not drop the bench schemas: {err:#}");
    }
    let rows = outcome?;
    print_table(&rows);
    let errors: usize = rows.iter().map(|row| row.errors).sum();
    ensure!(errors == 0, "{errors} calls failed");
    Ok(())
}

fn eur(minor: i64) -> Option<pb::Money> {
    Some(pb::Money { amount_minor: minor, currency: "EUR".into() })
}

async fn invoice_phases(url: &str, args: &InvoicesArgs) -> anyhow::Result<Vec<Row>> {
    let template = crate::case_template(url).await?;
    let setup = Endpoint::from_shared(url.to_owned())?.connect().await?;
    let contract = ContractServiceClient::with_interceptor(setup.clone(), authorize as Auth)
        .create_contract(billing_pb::CreateContractRequest {
            contract: Some(billing_pb::ServiceContract {
                account_id: template.account_id.clone(),
                name: "Bench maintenance".into(),
                start_date: "2026-01-01".into(),
                end_date: "2036-12-31".into(),
                status: billing_pb::ContractStatus::Active as i32,
                rates: Some(billing_pb::BillingRates {
                    currency: "EUR".into(),
                    hourly_rate_minor: 9_500,
                    tax_rate_basis_points: 1_900,
                }),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .context("creating the contract")?
        .into_inner();
    let staff_id = pb::staff_service_client::StaffServiceClient::with_interceptor(setup, as_admin as Auth)
        .create_staff_user(pb::CreateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                name: "Terry Technician".into(),
                email: "terry@bench.example".into(),
                role: pb::StaffRole::Agent as i32,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .context("creating the technician")?
        .into_inner()
        .id;
    let cases = args.cases as usize;
    let mut rows = Vec::new();
    for &concurrency in &args.concurrency {
        let mut channels = Vec::new();
        for _ in 0..concurrency {
            channels.push(Endpoint::from_shared(url.to_owned())?.connect().await?);
        }
        // Set-up, not timed: cases under the contract with hours and a part.
        let case = pb::Case { service_contract_id: contract.id.clone(), ..template.clone() };
        let (_, ids) = drive("set-up: CreateCase", &channels, cases, move |mut client, i| {
            let case = pb::Case { subject: format!("Bench visit {i}"), ..case.clone() };
            async move {
                Ok(client
                    .create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
                    .await?
                    .into_inner()
                    .id)
            }
        })
        .await?;
        ensure!(ids.len() == cases, "set-up created {} of {cases} cases", ids.len());
        let work_client = |channel: Channel| WorkServiceClient::with_interceptor(channel, authorize as Auth);
        let (ids_for_work, staff) = (std::sync::Arc::new(ids.clone()), staff_id.clone());
        let work_clients = || channels.iter().cloned().map(work_client).collect::<Vec<_>>();
        let (setup_row, _) = drive_clients("set-up: hours and parts", work_clients(), cases, move |mut work: Work, i| {
            let (case_id, staff_id) = (ids_for_work[i].clone(), staff.clone());
            async move {
                for (minutes, day) in [(45, "2026-11-23"), (90, "2026-11-24"), (20, "2026-11-25")] {
                    let hours = billing_pb::BookedHours {
                        staff_id: staff_id.clone(),
                        case_id: case_id.clone(),
                        work_date: day.into(),
                        minutes,
                        billable: true,
                        description: "On-site work".into(),
                        ..Default::default()
                    };
                    work.book_hours(billing_pb::BookHoursRequest { hours: Some(hours), idempotency_key: String::new() }).await?;
                }
                let part = billing_pb::ServicePart {
                    case_id,
                    part_number: "CB-7".into(),
                    description: "Controller board".into(),
                    quantity_milli: 1_500,
                    unit_price: eur(12_990),
                    billable: true,
                    ..Default::default()
                };
                work.add_service_part(billing_pb::AddServicePartRequest { part: Some(part), idempotency_key: String::new() })
                    .await?;
                Ok::<_, tonic::Status>(())
            }
        })
        .await?;
        ensure!(setup_row.errors == 0, "{} set-up calls failed", setup_row.errors);

        let ids = std::sync::Arc::new(ids);
        let (row, invoices) = drive_clients("InvoiceCase", work_clients(), cases, move |mut work: Work, i| {
            let case_id = ids[i].clone();
            async move {
                let invoice =
                    work.invoice_case(billing_pb::InvoiceCaseRequest { case_id, idempotency_key: String::new() }).await?;
                Ok::<_, tonic::Status>(invoice.into_inner().gross.map_or(0, |g| g.amount_minor))
            }
        })
        .await?;
        // 155 min at 95.00 (245.42) + 1.5 x 129.90 (194.85) = 440.27 net, 19 % tax 83.65: 523.92.
        ensure!(invoices.iter().all(|gross| *gross == 52_392), "an invoice total is off: {:?}", invoices.first());
        rows.push(row);
    }
    Ok(rows)
}
