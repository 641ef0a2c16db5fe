//! `docket-bench`: load benchmarks of Docket over real gRPC and HTTP.
//!
//! `cargo run --release -p docket-bench -- case-create` starts the case
//! service in-process on a random loopback port against a fresh PostgreSQL
//! schema (migrated on start, dropped at the end), creates one account and
//! contact, writes `--seed-cases` cases in bulk (100,000 by default, most of
//! them closed), creates 300 cases through the service and settles the
//! schema ([`settle`]: statistics as autovacuum leaves them after a service's
//! first minute; none of this is timed), and then, for each concurrency level, drives `--requests`
//! calls of CreateCase, GetCase (random ids among the cases created so far)
//! ListCases (the queue screen: open cases, most urgent first, 50 per
//! page) and GetQueueCounts (the report counting every open case) from that
//! many client tasks, each with its own connection. It
//! prints one row per phase and level: calls, errors, throughput (calls per
//! second of wall time, errors included) and latency percentiles of the
//! successful calls. Beside CreateCase and
//! GetCase it measures, at the same concurrency and in the same run, the
//! machine's ceilings for them (see [`ceilings`]: pgbench's 3-row insert, a
//! bare tonic echo of GetCase), taking turns with them in `--rounds` rounds
//! ([`take_turns`]), and prints each path's share of its ceiling.
//! It exits non-zero if any call failed, so `--requests 20 --concurrency 1,2`
//! (with `--seed-cases 1000`) doubles as a smoke test.
//!
//! The server runs on Docket's built-in defaults (`docket::settings::DEFAULTS`,
//! e.g. 10 pooled connections), which `DOCKET__SECTION__KEY` variables
//! override as for `docket` itself. Client and server share this process and
//! its cores, so the numbers include the client's own work.
//!
//! `cargo run --release -p docket-bench -- events` measures the event path
//! end to end (see [`events`]): CreateCase commits, the outbox relay
//! publishes `case.created` to RabbitMQ, the notification consumer writes a
//! delivery, the mailer sends it over SMTP to a measuring sink in this
//! process. It prints cases and events per second and commit-to-email
//! latency percentiles; `--drain` queues every event first and measures how
//! fast the notification service drains them. `--cases 30 --concurrency 2`
//! (with and without `--drain`) is its smoke test.
//!
//! `sla-sweep` and `invoices` measure the billing service (see [`billing`]):
//! the SLA scheduler's sweep time and rows read with a million open cases of
//! which a thousand fall due, and invoices created per second.
//!
//! `web-forms` and `portal-pages` measure the HTTP gateway in front of the
//! case and portal services (see [`gateway`]): public web form submissions
//! per second to a committed case, and a logged-in customer's portal pages
//! (the case list of 1,000 cases, a search, a case page). Their smoke tests
//! are `web-forms --submissions 20 --concurrency 1,2` and
//! `portal-pages --cases 30 --requests 20 --concurrency 1,2`.
//!
//! `kb-search` measures the knowledge base at the size of a real help
//! center (see [`knowledge`]): 100,000 published articles seeded in bulk
//! through the store's own write path, then SearchArticles as an anonymous
//! reader (queries that match, and typos that fall back to trigrams on
//! titles) and the article page through the gateway. Its smoke test is
//! `kb-search --articles 300 --requests 50 --concurrency 1,2`.

mod billing;
mod ceilings;
mod events;
mod gateway;
mod knowledge;
mod smtp;

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, ensure};
use clap::{Args, Parser, Subcommand};
use docket::{
    app::{self, Target},
    settings::Settings,
};
use docket_kit::{auth::Role, db::ServiceDatabase, settings::TokenSettings};
use docket_proto::case::v1::{
    self as pb, account_service_client::AccountServiceClient, case_service_client::CaseServiceClient,
    contact_service_client::ContactServiceClient, get_case_request::Lookup, report_service_client::ReportServiceClient,
};
use tokio::{
    net::TcpListener,
    sync::oneshot,
    task::{JoinError, JoinHandle, JoinSet},
};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// The agent token every client presents (the server only listens on loopback).
const BEARER: &str = "Bearer docket-bench-agent-token";
/// The contact of [`case_template`]'s cases.
const CONTACT_NAME: &str = "Petra Schmidt";
const CONTACT_EMAIL: &str = "petra@bench.example";

#[derive(Parser)]
#[command(about = "Docket's load benchmarks: throughput and latency percentiles over real gRPC and HTTP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// CreateCase, GetCase and ListCases against the case service.
    CaseCreate(CaseCreateArgs),
    /// CreateCase → outbox → RabbitMQ → notification consumer → SMTP:
    /// events per second and commit-to-email latency.
    Events(events::EventsArgs),
    /// The SLA scheduler's sweep among many open cases of which few fall due.
    SlaSweep(billing::SlaSweepArgs),
    /// InvoiceCase over gRPC: invoices per second and latency.
    Invoices(billing::InvoicesArgs),
    /// Public web form submissions through the HTTP gateway: submissions
    /// per second to a committed case, and latency.
    WebForms(gateway::WebFormsArgs),
    /// A logged-in customer's portal pages through the HTTP gateway: the
    /// case list, a search and a case page.
    PortalPages(gateway::PortalPagesArgs),
    /// The knowledge base at 100,000 articles: SearchArticles (matches and
    /// typos) over gRPC and article pages through the HTTP gateway.
    KbSearch(knowledge::KbSearchArgs),
}

#[derive(Args)]
struct CaseCreateArgs {
    /// Calls per phase and concurrency level.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,
    /// Concurrency levels, comma-separated: client tasks calling at once.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32], value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Vec<u32>,
    /// PostgreSQL to benchmark against; a fresh schema is created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
    /// Cases written in bulk before the phases, so that ListCases reads a
    /// queue of a grown service: one in three open (New, Pending), the rest
    /// closed, priorities and ages spread out.
    #[arg(long, default_value_t = 100_000)]
    seed_cases: u32,
    /// Rounds in which each path and its ceiling take turns, the calls of
    /// a phase split among them: the machine's speed drifts from one
    /// second to the next, and a share is only a share of a ceiling
    /// measured alongside.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
}

/// mimalloc: glibc's malloc cost a tenth of a busy service's CPU (issue 15).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::CaseCreate(args) => case_create(args).await,
        Command::Events(args) => events::run(args).await,
        Command::SlaSweep(args) => billing::sla_sweep(args).await,
        Command::Invoices(args) => billing::invoices(args).await,
        Command::WebForms(args) => gateway::web_forms(args).await,
        Command::PortalPages(args) => gateway::portal_pages(args).await,
        Command::KbSearch(args) => knowledge::kb_search(args).await,
    }
}

async fn case_create(args: CaseCreateArgs) -> anyhow::Result<()> {
    let settings = bench_settings(&args.database_url)?;
    let outcome = tokio::select! {
        outcome = run_against_server(&settings, &args) => outcome,
        () = crate::interrupted() => Err(anyhow!("interrupted")),
    };
    if let Err(err) = drop_schema(&settings).await {
        eprintln!("could not drop the bench schema: {err:#}");
    }
    let rows = outcome?;
    print_table(&rows);
    let errors: usize = rows.iter().map(|row| row.errors).sum();
    ensure!(errors == 0, "{errors} calls failed");
    Ok(())
}

/// Ctrl-C, or SIGTERM (`kill`, a job's time limit): every command stops its
/// phases and still drops the schemas it made.
pub(crate) async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        },
        Err(err) => {
            eprintln!("cannot watch for SIGTERM ({err}); Ctrl-C still stops the bench");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Docket's defaults, with a schema of our own, migrations on start and the bench token.
fn bench_settings(database_url: &str) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(None).context("loading Docket's default settings")?;
    let unique = uuid::Uuid::now_v7().simple().to_string();
    settings.database.url = database_url.to_owned();
    settings.database.schema_prefix = format!("bench_{}_", &unique[unique.len() - 12..]);
    // The case cache's keys (Redis by default), expiring on their own.
    settings.kv.key_prefix = format!("bench_{}:", &unique[unique.len() - 12..]);
    settings.database.migrate_on_start = true;
    // The case phases measure the gRPC path; events stay in this process.
    settings.events.backend = docket_kit::events::EventBackend::InProcess;
    let token = TokenSettings {
        token: BEARER.trim_start_matches("Bearer ").to_owned(),
        role: Role::Agent,
        staff_id: None,
        acts_for_contacts: false,
    };
    settings.auth.tokens.insert("bench".to_owned(), token);
    settings.validate()?;
    Ok(settings)
}

async fn drop_schema(settings: &Settings) -> anyhow::Result<()> {
    let Some(schema) = ServiceDatabase::for_service(&settings.database, docket_case::SERVICE).schema else {
        return Ok(());
    };
    let db = docket_kit::db::connect(&settings.database, docket_case::SERVICE).await?;
    docket_kit::db::drop_schema(&db, &schema).await?;
    db.close().await?;
    eprintln!("dropped schema {schema}");
    Ok(())
}

/// Serves the case service on a random port, runs every phase, stops the server.
async fn run_against_server(settings: &Settings, args: &CaseCreateArgs) -> anyhow::Result<Vec<Row>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let server_settings = settings.clone();
    let server = tokio::spawn(async move {
        app::run(&server_settings, &[Target::Case], listener, async {
            let _ = stopped.await;
        })
        .await
    });
    eprintln!("starting the case service at {url} (schema prefix {})", settings.database.schema_prefix);
    if let Err(err) = wait_until_serving(Endpoint::from_shared(url.clone())?.connect_lazy(), &server).await {
        if server.is_finished() {
            server_result(server.await)?;
        }
        return Err(err);
    }

    let outcome = run_phases(&url, settings, args).await;

    let _ = stop.send(());
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await.context("the server did not stop within 10 s")?;
    server_result(stopped)?;
    outcome
}

/// Waits for `grpc.health.v1` to report SERVING (migrations done); fails
/// if the server stops first (its own error is in `server`).
async fn wait_until_serving(channel: Channel, server: &JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    let mut health = HealthClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        ensure!(!server.is_finished(), "the server stopped before serving");
        let remaining = deadline.saturating_duration_since(Instant::now());
        ensure!(!remaining.is_zero(), "the server did not become SERVING within 60 s");
        let answer = tokio::time::timeout(remaining, health.check(HealthCheckRequest { service: String::new() })).await;
        if let Ok(Ok(answer)) = answer
            && answer.into_inner().status == ServingStatus::Serving as i32
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn server_result(joined: Result<anyhow::Result<()>, JoinError>) -> anyhow::Result<()> {
    joined.context("the server task failed")?.context("the case service failed")
}

type Auth = fn(Request<()>) -> Result<Request<()>, Status>;
type CaseClient = CaseServiceClient<InterceptedService<Channel, Auth>>;

fn authorize(mut request: Request<()>) -> Result<Request<()>, Status> {
    // A constant ASCII value: `from_static` cannot panic here.
    request.metadata_mut().insert("authorization", MetadataValue::from_static(BEARER));
    Ok(request)
}

/// Creates one account and one contact; returns a case of theirs to copy.
async fn case_template(url: &str) -> anyhow::Result<pb::Case> {
    let setup = Endpoint::from_shared(url.to_owned())?.connect().await?;
    let account = AccountServiceClient::with_interceptor(setup.clone(), authorize as Auth)
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account {
                name: "Bench Industries".into(),
                industry: "Manufacturing".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .context("creating the account")?
        .into_inner();
    let contact = ContactServiceClient::with_interceptor(setup, authorize as Auth)
        .create_contact(pb::CreateContactRequest {
            contact: Some(pb::Contact {
                account_id: account.id.clone(),
                name: CONTACT_NAME.into(),
                email: CONTACT_EMAIL.into(),
                // `portal-pages` logs in to the portal as this contact.
                portal_enabled: true,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .context("creating the contact")?
        .into_inner();
    Ok(pb::Case {
        description: "The conveyor stops every hour.".into(),
        type_id: "technical_issue".into(),
        priority: pb::CasePriority::High as i32,
        channel: pb::CaseChannel::Phone as i32,
        account_id: account.id,
        contacts: vec![pb::CaseContact { contact_id: contact.id, primary: true }],
        ..Default::default()
    })
}

async fn run_phases(url: &str, settings: &Settings, args: &CaseCreateArgs) -> anyhow::Result<Vec<Row>> {
    let template = case_template(url).await?;
    let schema = ServiceDatabase::for_service(&settings.database, docket_case::SERVICE)
        .schema
        .context("the bench needs a schema of its own for the 3-row insert ceiling")?;
    let db = docket_kit::db::connect(&settings.database, docket_case::SERVICE).await?;
    ceilings::prepare_insert_ceiling(&db).await?;
    seed_cases(&db, &template, args.seed_cases).await?;
    warm_up_creates(url, &template).await?;
    settle(&db).await?;
    db.close().await?;
    let requests = args.requests as usize;
    let mut rows = Vec::new();
    let mut created: Vec<String> = Vec::new();
    let mut echo: Option<ceilings::Echo> = None;
    for &concurrency in &args.concurrency {
        // One connection per client task, opened before the clock starts.
        let mut channels = Vec::new();
        for _ in 0..concurrency {
            channels.push(Endpoint::from_shared(url.to_owned())?.connect().await?);
        }

        let template = template.clone();
        let create = Arc::new(move |mut client: CaseClient, i: usize| {
            let case = pb::Case { subject: format!("Bench case {i}"), ..template.clone() };
            async move {
                let request = pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };
                Ok(client.create_case(request).await?.into_inner().id)
            }
        });
        let (ceiling, row, ids) = take_turns(
            args.rounds,
            requests,
            async |transactions| {
                let insert = ceilings::insert_ceiling(&args.database_url, &schema, concurrency as usize, transactions).await?;
                let transactions = insert.latencies.len();
                Ok(Row {
                    phase: "ceiling: 3-row insert (pgbench)",
                    concurrency: concurrency as usize,
                    requests: transactions,
                    errors: 0,
                    elapsed: Duration::from_secs_f64(transactions as f64 / insert.per_second),
                    latencies: insert.latencies,
                    share: None,
                })
            },
            async |calls, first| {
                let create = create.clone();
                drive("CreateCase", &channels, calls, move |client, i| create(client, first + i)).await
            },
        )
        .await?;
        rows.extend([ceiling, row]);
        created.extend(ids);
        ensure!(!created.is_empty(), "no case was created, so GetCase has nothing to read");

        // The echo answers with a real case, read once.
        let echo_url = match &echo {
            Some(echo) => echo.url.clone(),
            None => {
                let mut client = CaseServiceClient::with_interceptor(channels[0].clone(), authorize as Auth);
                let lookup = Some(Lookup::Id(created[0].clone()));
                let case = client.get_case(pb::GetCaseRequest { lookup }).await?.into_inner();
                let started = ceilings::serve_echo(case).await?;
                let url = started.url.clone();
                echo = Some(started);
                url
            }
        };
        let mut echo_channels = Vec::new();
        for _ in 0..concurrency {
            echo_channels.push(Endpoint::from_shared(echo_url.clone())?.connect().await?);
        }
        let ids = Arc::new(created.clone());
        let get = |ids: Arc<Vec<String>>| {
            move |mut client: CaseClient, i: usize| {
                let id = ids[pick(i, ids.len())].clone();
                async move { client.get_case(pb::GetCaseRequest { lookup: Some(Lookup::Id(id)) }).await.map(|_| ()) }
            }
        };
        let (echo_row, row, _) = take_turns(
            args.rounds,
            requests,
            async |calls| Ok(drive("ceiling: tonic echo (GetCase)", &echo_channels, calls, get(ids.clone())).await?.0),
            async |calls, first| {
                let read = get(ids.clone());
                drive("GetCase", &channels, calls, move |client, i| read(client, first + i)).await
            },
        )
        .await?;
        rows.extend([echo_row, row]);

        // The queue screen: every open case, most urgent first, 50 a page.
        let (row, _) = drive("ListCases (queue)", &channels, requests, |mut client, _| async move {
            let statuses = [pb::CaseStatus::ActiveNew, pb::CaseStatus::ActiveAssigned, pb::CaseStatus::Pending];
            let request = pb::ListCasesRequest {
                page_size: 50,
                statuses: statuses.map(|status| status as i32).to_vec(),
                order_by: pb::CaseOrder::PriorityDesc as i32,
                ..Default::default()
            };
            client.list_cases(request).await.map(|_| ())
        })
        .await?;
        rows.push(row);

        // The manager's view of the same queue: every open case counted by
        // status, priority, team and owner.
        let reports: Vec<_> =
            channels.iter().map(|channel| ReportServiceClient::with_interceptor(channel.clone(), authorize as Auth)).collect();
        let (row, _) = drive_clients("GetQueueCounts", reports.clone(), requests, |mut client, _| async move {
            client.get_queue_counts(pb::GetQueueCountsRequest::default()).await.map(|_| ())
        })
        .await?;
        rows.push(row);

        // The period reports over every seeded case (a year of them): the
        // monthly volume per owner, resolution times per team, and the
        // assets whose cases came back within 30 days.
        fn year() -> Option<pb::ReportPeriod> {
            let now = docket_kit::time::now();
            Some(pb::ReportPeriod {
                start_time: Some(docket_kit::time::to_proto(now - chrono::Duration::days(366))),
                end_time: Some(docket_kit::time::to_proto(now + chrono::Duration::days(1))),
            })
        }
        let (row, _) =
            drive_clients("GetCaseVolume (year, months, owners)", reports.clone(), requests, |mut client, _| async move {
                let request = pb::GetCaseVolumeRequest {
                    period: year(),
                    granularity: pb::ReportGranularity::Month as i32,
                    group_by: pb::ReportGrouping::Owner as i32,
                };
                client.get_case_volume(request).await.map(|_| ())
            })
            .await?;
        rows.push(row);
        let (row, _) = drive_clients("GetResolutionTimes (year, teams)", reports.clone(), requests, |mut client, _| async move {
            let request = pb::GetResolutionTimesRequest { period: year(), group_by: pb::ReportGrouping::Team as i32 };
            client.get_resolution_times(request).await.map(|_| ())
        })
        .await?;
        rows.push(row);
        let (row, _) = drive_clients("GetRepeatCases (year, 30 d, assets)", reports, requests, |mut client, _| async move {
            let request =
                pb::GetRepeatCasesRequest { period: year(), within_days: 30, by: pb::RepeatKey::Asset as i32, limit: 50 };
            client.get_repeat_cases(request).await.map(|_| ())
        })
        .await?;
        rows.push(row);
    }
    if let Some(echo) = echo {
        echo.stop().await?;
    }
    Ok(rows)
}

/// Calls before the clock starts, so that every table the phases write
/// has rows when [`settle`] gathers its statistics.
const WARM_UP: usize = 300;

/// [`WARM_UP`] creates (not timed, not counted).
async fn warm_up_creates(url: &str, template: &pb::Case) -> anyhow::Result<()> {
    let mut channels = Vec::new();
    for _ in 0..8 {
        channels.push(Endpoint::from_shared(url.to_owned())?.connect().await?);
    }
    let template = template.clone();
    let (row, _) = drive("warm-up: CreateCase", &channels, WARM_UP, move |mut client, i| {
        let case = pb::Case { subject: format!("Warm-up case {i}"), ..template.clone() };
        async move {
            let request = pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };
            client.create_case(request).await.map(|_| ())
        }
    })
    .await?;
    ensure!(row.errors == 0, "{} warm-up creates failed", row.errors);
    Ok(())
}

/// `VACUUM ANALYZE` of every table in the connection's schema, as
/// autovacuum leaves a service that has run for a minute: statistics for
/// the tables that were empty when the service started, the visibility map
/// that lets the reports count from an index alone. Without it the phases
/// measure a service in its first minute: PostgreSQL plans a lookup in a
/// table it last saw empty (a web form's earlier submissions, a consumer's
/// inbox) as a scan of the whole table, and keeps that plan, prepared, until
/// the table's first automatic ANALYZE.
pub(crate) async fn settle(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename";
    let tables = db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    for table in tables {
        let table: String = table.try_get_by_index(0)?;
        // One statement each: VACUUM cannot run in the implicit transaction of several.
        db.execute_unprepared(&format!("VACUUM ANALYZE \"{table}\"")).await.with_context(|| format!("VACUUM ANALYZE {table}"))?;
    }
    Ok(())
}

/// Writes `count` cases of the template's account and contact in bulk
/// (numbers from the service's own sequence): one in three open (New or
/// Pending, no owner), the others closed with a resolution; priorities
/// cycle, ages spread out.
async fn seed_cases(db: &sea_orm::DatabaseConnection, case: &pb::Case, count: u32) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    if count == 0 {
        return Ok(());
    }
    let account_id = case.account_id.as_str();
    let contact_id = case.contacts.first().map(|c| c.contact_id.as_str()).unwrap_or_default();
    eprintln!("seeding {count} cases …");
    let started = Instant::now();
    let sql = "INSERT INTO cases (id, number, subject, description, type_id, priority, status, channel, account_id, \
           service_contract_id, service_contract_number, asset_description, asset_serial_number, resolution_summary, \
           created_by, version, created_at, updated_at, resolved_at, closed_at, links, links_version) \
         SELECT gen_random_uuid()::text, nextval('case_number_seq'), 'Seeded case ' || g, 'Seeded for the queue screens.', \
           'technical_issue', 1 + g % 4, \
           CASE g % 6 WHEN 0 THEN 'new' WHEN 1 THEN 'pending' WHEN 2 THEN 'closed_no_fault' ELSE 'closed_complete' END, \
           'phone', $1, '', '', '', '', CASE WHEN g % 6 < 2 THEN '' ELSE 'Fixed on site.' END, 'bench', 1, \
           t, t, CASE WHEN g % 6 < 2 THEN NULL ELSE t END, CASE WHEN g % 6 < 2 THEN NULL ELSE t END, $3, 1 \
         FROM generate_series(1, $2::int) g, LATERAL (SELECT now() - (($2::int - g) * interval '5 minutes') / 10 AS t) at";
    // The contact the link table gets below, kept on the row as the service keeps it.
    let links = format!(r#"{{"contacts":[["{contact_id}",true]],"tags":[]}}"#);
    let statement =
        Statement::from_sql_and_values(DbBackend::Postgres, sql, [account_id.into(), i64::from(count).into(), links.into()]);
    db.execute_raw(statement).await.context("seeding cases")?;
    let link = "INSERT INTO case_contacts (case_id, contact_id, is_primary, position) \
         SELECT id, $1, TRUE, 0 FROM cases WHERE created_by = 'bench'";
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, link, [contact_id.into()])).await?;
    seed_report_rows(db).await?;
    eprintln!("  done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Writes what the case service's consumer would have kept for the period
/// reports had the seeded cases come through it: their day rows, duration
/// buckets and extremes, and repeat rows with their gaps. The seeded cases all share a type, channel and
/// account and have no team, owner or asset, so the report rows spread them
/// over 5 types, 10 teams, 50 owners, 20,000 accounts and 5,000 assets by
/// their number, and give closed ones a resolution of up to ~38 hours: a
/// realistic number of groups for the reports to read.
async fn seed_report_rows(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use docket_case::domain::period::BUCKET_BOUNDS;
    use sea_orm::ConnectionTrait as _;
    let bucket = {
        let arms: String =
            BUCKET_BOUNDS.iter().enumerate().map(|(i, bound)| format!(" WHEN seconds < {bound} THEN {i}")).collect();
        format!("CASE{arms} ELSE {} END", BUCKET_BOUNDS.len())
    };
    let facts = "SELECT FLOOR(EXTRACT(EPOCH FROM created_at) / 86400)::int AS created_day,            FLOOR(EXTRACT(EPOCH FROM closed_at) / 86400)::int AS closed_day,            (ARRAY['technical_issue','complaint','warranty_claim','billing_query','service_request'])[1 + number % 5] AS type,            channel, 'bench-team-' || number % 10 AS team,            CASE priority WHEN 1 THEN 'low' WHEN 2 THEN 'medium' WHEN 3 THEN 'high' ELSE 'critical' END AS priority,            'bench-owner-' || number % 50 AS owner, (number % 1000) * 137 AS seconds          FROM cases WHERE created_by = 'bench'";
    for (dimension, key) in
        [("all", "''"), ("type", "type"), ("channel", "channel"), ("team", "team"), ("priority", "priority"), ("owner", "owner")]
    {
        let days = format!(
            "INSERT INTO report_days (dimension, day, key, created, closed, resolved, resolution_seconds, resolution_min, resolution_max)              SELECT '{dimension}', day, key, SUM(created), SUM(closed), SUM(closed), SUM(seconds),                MIN(seconds) FILTER (WHERE closed = 1), MAX(seconds) FILTER (WHERE closed = 1) FROM (                SELECT created_day AS day, {key} AS key, 1 AS created, 0 AS closed, 0 AS seconds FROM facts                UNION ALL SELECT closed_day, {key}, 0, 1, seconds FROM facts WHERE closed_day IS NOT NULL) d              GROUP BY day, key"
        );
        db.execute_unprepared(&format!("WITH facts AS ({facts}) {days}")).await.context("seeding report days")?;
        let buckets = format!(
            "INSERT INTO report_day_buckets (dimension, day, key, metric, bucket, count)              SELECT '{dimension}', closed_day, {key}, 'resolution', {bucket}, COUNT(*) FROM facts              WHERE closed_day IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
        );
        db.execute_unprepared(&format!("WITH facts AS ({facts}) {buckets}")).await.context("seeding report buckets")?;
    }
    let cases = "INSERT INTO report_cases (case_id, created_epoch, account_id, asset)          SELECT id, EXTRACT(EPOCH FROM created_at)::bigint, 'bench-account-' || number % 20000, 'SN-' || number % 5000          FROM cases WHERE created_by = 'bench'";
    db.execute_unprepared(cases).await.context("seeding report cases")?;
    docket_case::store::report_backfill::measure_gaps(db).await.context("measuring the repeat gaps")?;
    Ok(())
}

/// A spread-out index below `len` for call `i` (splitmix64; no RNG crate needed).
fn pick(i: usize, len: usize) -> usize {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % len as u64) as usize
}

/// `requests` calls of a path and about as many of its ceiling, in `rounds`
/// turns (ceiling first); the two merged rows, the path's with its share of
/// the ceiling over all turns, and the path's outputs. `path` is given the
/// calls of its turn and the number of its first call.
async fn take_turns<T>(
    rounds: u32,
    requests: usize,
    mut ceiling: impl AsyncFnMut(usize) -> anyhow::Result<Row>,
    mut path: impl AsyncFnMut(usize, usize) -> anyhow::Result<(Row, Vec<T>)>,
) -> anyhow::Result<(Row, Row, Vec<T>)> {
    let rounds = (rounds as usize).clamp(1, requests);
    let (mut ceiling_rows, mut path_rows, mut outputs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let first = requests * round / rounds;
        let calls = requests * (round + 1) / rounds - first;
        ceiling_rows.push(ceiling(calls).await?);
        let (row, out) = path(calls, first).await?;
        path_rows.push(row);
        outputs.extend(out);
    }
    let ceiling = Row::merged(ceiling_rows);
    let mut path = Row::merged(path_rows);
    path.share = Some(path.per_second() / ceiling.per_second());
    Ok((ceiling, path, outputs))
}

/// What one phase measured.
struct Row {
    phase: &'static str,
    concurrency: usize,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    /// Latencies of the successful calls, sorted.
    latencies: Vec<Duration>,
    /// Its throughput as a fraction of the ceiling it is measured against.
    share: Option<f64>,
}

impl Row {
    /// Calls per second of wall time, errors included.
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// One row of the turns of a phase: their calls, errors and time summed.
    fn merged(turns: Vec<Row>) -> Row {
        let mut turns = turns.into_iter();
        let mut all = turns.next().expect("a phase has at least one turn");
        for turn in turns {
            all.requests += turn.requests;
            all.errors += turn.errors;
            all.elapsed += turn.elapsed;
            all.latencies.extend(turn.latencies);
        }
        all.latencies.sort_unstable();
        all
    }
}

/// What one client task saw.
struct Sample<T, E> {
    latencies: Vec<Duration>,
    outputs: Vec<T>,
    errors: usize,
    first_error: Option<E>,
}

/// Makes `requests` calls of `call(client, i)` from one task per channel and
/// times each; returns the row and the successful calls' outputs.
async fn drive<T, F, Fut>(phase: &'static str, channels: &[Channel], requests: usize, call: F) -> anyhow::Result<(Row, Vec<T>)>
where
    T: Send + 'static,
    F: Fn(CaseClient, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Status>> + Send + 'static,
{
    let clients = channels.iter().map(|channel| CaseServiceClient::with_interceptor(channel.clone(), authorize as Auth));
    drive_clients(phase, clients.collect(), requests, call).await
}

/// [`drive`] with any clients (a gRPC client, an HTTP client) and any error
/// to report: one task per client, each calling with clones of its own.
async fn drive_clients<C, T, E, F, Fut>(
    phase: &'static str,
    clients: Vec<C>,
    requests: usize,
    call: F,
) -> anyhow::Result<(Row, Vec<T>)>
where
    C: Clone + Send + 'static,
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
    F: Fn(C, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let concurrency = clients.len();
    eprintln!("{phase}: {requests} calls at concurrency {concurrency} …");
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for client in clients {
        let (call, next) = (call.clone(), next.clone());
        tasks.spawn(async move {
            let mut sample = Sample { latencies: Vec::new(), outputs: Vec::new(), errors: 0, first_error: None };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return sample;
                }
                let start = Instant::now();
                let result = call(client.clone(), i).await;
                let latency = start.elapsed();
                match result {
                    Ok(output) => {
                        sample.latencies.push(latency);
                        sample.outputs.push(output);
                    }
                    Err(err) => {
                        sample.errors += 1;
                        sample.first_error.get_or_insert(err);
                    }
                }
            }
        });
    }
    let (mut latencies, mut outputs, mut errors, mut first_error) = (Vec::new(), Vec::new(), 0, None);
    while let Some(joined) = tasks.join_next().await {
        let sample = joined.context("a client task failed")?;
        latencies.extend(sample.latencies);
        outputs.extend(sample.outputs);
        errors += sample.errors;
        first_error = first_error.or(sample.first_error);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    eprintln!("  done in {:.2} s, {errors} errors", elapsed.as_secs_f64());
    if let Some(err) = first_error {
        eprintln!("  first error: {err}");
    }
    Ok((Row { phase, concurrency, requests, errors, elapsed, latencies, share: None }, outputs))
}

/// The latency at or below which a fraction `p` of the sorted calls fall, in ms (nearest rank).
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// One line per row; a `share` column (of the ceiling measured beside it)
/// when any row has one.
fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|row| row.phase.len()).max().unwrap_or(0).max(10);
    let shares = rows.iter().any(|row| row.share.is_some());
    print!(
        "{:<width$} {:>11} {:>8} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "phase", "concurrency", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    println!("{}", if shares { format!(" {:>7}", "share") } else { String::new() });
    for row in rows {
        let ms = |p| percentile_ms(&row.latencies, p);
        print!(
            "{:<width$} {:>11} {:>8} {:>6} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            row.phase,
            row.concurrency,
            row.requests,
            row.errors,
            row.per_second(),
            ms(0.50),
            ms(0.90),
            ms(0.99),
            ms(1.0),
        );
        match row.share {
            Some(share) => println!(" {:>6.1}%", share * 100.0),
            None => println!(),
        }
    }
}
