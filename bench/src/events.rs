//! `events`: how fast case events turn into customer emails, end to end.
//!
//! Starts an SMTP acceptor (a measuring sink, [`crate::smtp`]) and the case
//! and notification services in-process on a random loopback port, against a
//! fresh PostgreSQL schema per service and a RabbitMQ exchange and queues of
//! their own (`docket.bench.<unique>`, `bench.<unique>.notification`).
//! Creates one account and contact, then `--cases` cases from `--concurrency`
//! client tasks, noting when each CreateCase returned (its commit). Every
//! `case.created` goes outbox → relay → RabbitMQ → notification consumer
//! (which reads the contact back over gRPC and writes a delivery) → mailer →
//! SMTP, and the contact gets one email whose subject starts with the case
//! number. When every case's email has arrived it prints:
//!
//! - throughput: cases created per second, and events handled per second
//!   end to end (cases ÷ time from the first create to the last email);
//! - latency from CreateCase returning to the email being accepted, per case;
//! - where that time goes, from the services' own timestamps (read from the
//!   outbox, inbox and delivery log after the app stopped): event written →
//!   published, event written → handled by the consumer, delivery written →
//!   sent.
//!
//! Docket's warnings and errors are logged to stderr (`RUST_LOG` overrides
//! the `warn` filter) and counted in the summary. Schemas, queues and the
//! exchange are removed at the end, also after a failure or Ctrl-C. It exits
//! non-zero if a call fails, an email is missing after the timeout (30 s +
//! 100 ms per case), the app fails, or clean-up fails.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail, ensure};
use clap::Args;
use docket::{
    app::{self, Target},
    settings::Settings,
};
use docket_kit::{
    auth::Role,
    db::ServiceDatabase,
    events::{EventBackend, EventSettings},
    settings::TokenSettings,
};
use docket_notification::config::{MailTransportKind, SmtpTls};
use docket_proto::case::v1 as pb;
use lapin::{
    Connection, ConnectionProperties,
    options::{ExchangeDeleteOptions, QueueDeleteOptions},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::Endpoint;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::{BEARER, Row, drive, percentile_ms, print_table, smtp::SmtpAcceptor, wait_until_serving};

/// The notification service's token for its calls to the case service.
const SERVICE_TOKEN: &str = "docket-bench-service-token";

#[derive(Args)]
pub struct EventsArgs {
    /// Cases to create; each one becomes one email to the contact.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// Client tasks calling CreateCase at once, each with its own connection.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Cases created per second, at a steady pace (0: a burst, as fast as
    /// the clients can). With a rate, the CreateCase row's latency includes
    /// each call's wait for its turn; commit → email is unaffected.
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// PostgreSQL to benchmark against; fresh schemas are created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
    /// RabbitMQ to benchmark against; a fresh exchange and queues are declared and deleted.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    rabbitmq_url: String,
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let problems = log_to_stderr();
    let sink = SmtpAcceptor::start().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the gRPC port")?;
    let url = format!("http://{}", listener.local_addr()?);
    let settings = bench_settings(&args, &url, sink.port)?;
    eprintln!(
        "starting case + notification at {url} (schema prefix {}, exchange {}, SMTP sink on port {})",
        settings.database.schema_prefix, settings.events.exchange, sink.port
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let server_settings = settings.clone();
    let server = tokio::spawn(async move {
        app::run(&server_settings, &[Target::Case, Target::Notification], listener, async {
            let _ = stopped.await;
        })
        .await
    });

    let outcome = tokio::select! {
        outcome = measure(&url, &args, &sink, &server) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };

    // Stop the app first: its mailer commits the last batch, and nothing
    // writes to what is removed next.
    let _ = stop.send(());
    let stopped = stop_app(server).await;
    let stages = match (&outcome, &stopped) {
        (Ok(_), Ok(())) => stages(&settings).await.unwrap_or_else(|err| {
            eprintln!("skipping the per-stage latencies: {err:#}");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    let mut clean = true;
    if let Err(err) = drop_schemas(&settings).await {
        eprintln!("could not drop the bench schemas: {err:#}");
        clean = false;
    }
    if let Err(err) = delete_broker_objects(&settings.events).await {
        eprintln!("could not delete the bench queues and exchange: {err:#}");
        clean = false;
    }
    drop(sink);

    match (outcome, stopped) {
        // The app's own failure is the cause of the run's.
        (Err(err), Err(app)) => {
            eprintln!("{err:#}");
            Err(app)
        }
        (Err(err), Ok(())) => Err(err),
        (Ok(report), stopped) => {
            report.print(&stages, problems.load(Ordering::Relaxed));
            stopped?;
            ensure!(clean, "clean-up failed (see above)");
            Ok(())
        }
    }
}

/// Docket's defaults with schemas, exchange and queues of our own, fast
/// polling, the SMTP sink, and the agent and service tokens.
fn bench_settings(args: &EventsArgs, url: &str, smtp_port: u16) -> anyhow::Result<Settings> {
    let mut settings = Settings::load(None).context("loading Docket's default settings")?;
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let unique = &unique[unique.len() - 12..];
    settings.database.url = args.database_url.clone();
    settings.database.schema_prefix = format!("bench_{unique}_");
    settings.database.migrate_on_start = true;

    let events = &mut settings.events;
    events.backend = EventBackend::Rabbitmq;
    events.url = args.rabbitmq_url.clone();
    events.exchange = format!("docket.bench.{unique}");
    events.queue_prefix = format!("bench.{unique}.");
    events.relay_poll_ms = 50;

    let mail = &mut settings.notification;
    mail.transport = MailTransportKind::Smtp;
    mail.smtp_host = "127.0.0.1".to_owned();
    mail.smtp_port = smtp_port;
    mail.smtp_tls = SmtpTls::None;
    mail.smtp_username = String::new();
    mail.smtp_password = String::new();
    mail.send_interval_ms = 50;
    mail.case_service_url = url.to_owned();
    mail.service_token = SERVICE_TOKEN.to_owned();

    let token = |token: &str, role| TokenSettings { token: token.to_owned(), role, staff_id: None, acts_for_contacts: false };
    settings.auth.tokens.insert("bench".to_owned(), token(BEARER.trim_start_matches("Bearer "), Role::Agent));
    settings.auth.tokens.insert("bench-notification".to_owned(), token(SERVICE_TOKEN, Role::Service));
    settings.validate()?;
    Ok(settings)
}

/// Counts what Docket logs at WARN or ERROR.
#[derive(Clone, Default)]
struct ProblemCounter(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ProblemCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() <= tracing::Level::WARN {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Logs to stderr (stdout is the report); returns the count of warnings and errors.
fn log_to_stderr() -> Arc<AtomicUsize> {
    let counter = ProblemCounter::default();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(counter.clone())
        .try_init();
    if let Err(err) = installed {
        eprintln!("logging stays off: {err}");
    }
    counter.0
}

/// Waits for the app, creates the cases, waits for their emails.
async fn measure(
    url: &str,
    args: &EventsArgs,
    sink: &SmtpAcceptor,
    server: &JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<Report> {
    wait_until_serving(Endpoint::from_shared(url.to_owned())?.connect_lazy(), server).await?;
    let template = crate::case_template(url).await?;
    let cases = args.cases as usize;

    // One connection per client task, opened before the clock starts.
    let mut channels = Vec::new();
    for _ in 0..args.concurrency {
        channels.push(Endpoint::from_shared(url.to_owned())?.connect().await?);
    }
    let started = Instant::now();
    let rate = args.rate;
    let (create, created) = drive("CreateCase", &channels, cases, move |mut client, i| {
        let case = pb::Case { subject: format!("Bench event {i}"), ..template.clone() };
        async move {
            if rate > 0 {
                tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / f64::from(rate))).into()).await;
            }
            let request = pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new() };
            let number = client.create_case(request).await?.into_inner().case_number;
            Ok((number, Instant::now()))
        }
    })
    .await?;
    ensure!(create.errors == 0, "{} of {cases} CreateCase calls failed", create.errors);
    let committed: HashMap<String, Instant> = created.into_iter().collect();
    ensure!(committed.len() == cases, "CreateCase returned {} distinct case numbers for {cases} cases", committed.len());

    let emails = wait_for_emails(sink, &committed, server).await?;
    let last = emails.accepted.values().max().copied().unwrap_or(started);
    let mut latencies: Vec<Duration> =
        committed.iter().map(|(number, at)| emails.accepted[number].saturating_duration_since(*at)).collect();
    latencies.sort_unstable();
    Ok(Report {
        concurrency: channels.len(),
        rate,
        create,
        end_to_end: last.saturating_duration_since(started),
        latencies,
        duplicates: emails.duplicates,
        strangers: emails.strangers,
    })
}

/// What the SMTP sink saw of the bench's cases.
struct Emails {
    /// When the first email of each case number was accepted.
    accepted: HashMap<String, Instant>,
    /// Further emails for a case that already had one.
    duplicates: usize,
    /// Emails whose subject names none of the bench's cases.
    strangers: usize,
}

/// `C-000123` from a subject `[C-000123] …`.
fn case_number(subject: &str) -> Option<&str> {
    let (number, _) = subject.strip_prefix('[')?.split_once(']')?;
    number.starts_with("C-").then_some(number)
}

/// Waits until every case in `committed` has its email, printing progress.
async fn wait_for_emails(
    sink: &SmtpAcceptor,
    committed: &HashMap<String, Instant>,
    server: &JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<Emails> {
    let within = Duration::from_secs(30) + Duration::from_millis(100) * committed.len() as u32;
    eprintln!("waiting up to {} s for {} emails …", within.as_secs(), committed.len());
    let started = Instant::now();
    let mut emails = Emails { accepted: HashMap::new(), duplicates: 0, strangers: 0 };
    let (mut seen, mut last_progress) = (0, Instant::now());
    loop {
        let new = sink.since(seen);
        seen += new.len();
        for (at, subject) in new {
            match case_number(&subject).filter(|number| committed.contains_key(*number)) {
                Some(number) if emails.accepted.contains_key(number) => emails.duplicates += 1,
                Some(number) => drop(emails.accepted.insert(number.to_owned(), at)),
                None => emails.strangers += 1,
            }
        }
        let (got, want) = (emails.accepted.len(), committed.len());
        if got == want {
            eprintln!("  all {want} emails after {:.1} s", started.elapsed().as_secs_f64());
            return Ok(emails);
        }
        ensure!(!server.is_finished(), "the app stopped with {got} of {want} emails sent");
        if started.elapsed() > within {
            let mut missing: Vec<&str> =
                committed.keys().filter(|number| !emails.accepted.contains_key(*number)).map(String::as_str).collect();
            missing.sort_unstable();
            missing.truncate(5);
            bail!("only {got} of {want} emails within {} s; missing e.g. {}", within.as_secs(), missing.join(", "));
        }
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            eprintln!("  {got}/{want} emails after {:.1} s", started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stops the app (it lets relays, consumer and mailer finish their batch).
async fn stop_app(mut server: JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    match tokio::time::timeout(Duration::from_secs(20), &mut server).await {
        Ok(joined) => joined.context("the app task failed")?.context("the app failed"),
        Err(_) => {
            server.abort();
            bail!("the app did not stop within 20 s")
        }
    }
}

/// The services' own timestamps of each `case.created`, as milliseconds
/// between stages: (label, sorted durations).
async fn stages(settings: &Settings) -> anyhow::Result<Vec<(&'static str, Vec<Duration>)>> {
    let schema = |service| ServiceDatabase::for_service(&settings.database, service).schema.unwrap_or_default();
    let (case, notification) = (schema(docket_case::SERVICE), schema(docket_notification::SERVICE));
    let sql = format!(
        r#"SELECT EXTRACT(EPOCH FROM o.sent_at - o.created_at)::float8 * 1000 AS published,
                  EXTRACT(EPOCH FROM i.handled_at - o.created_at)::float8 * 1000 AS handled,
                  EXTRACT(EPOCH FROM d.sent_at - d.created_at)::float8 * 1000 AS mailed
           FROM "{case}".outbox o
           JOIN "{notification}".inbox i ON i.event_id = o.event_id
           JOIN "{notification}".deliveries d ON d.event_id = o.event_id
           WHERE o.event_type = 'case.created' AND o.sent_at IS NOT NULL AND d.sent_at IS NOT NULL"#
    );
    let db = sea_orm::Database::connect(settings.database.url.as_str()).await.context("connecting to PostgreSQL")?;
    let rows = db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await;
    let _ = db.close().await;
    let mut columns = [
        ("event written → published", Vec::new()),
        ("event written → handled", Vec::new()),
        ("delivery written → sent", Vec::new()),
    ];
    for row in rows.context("reading the outbox, inbox and delivery log")? {
        for (column, (_, values)) in ["published", "handled", "mailed"].into_iter().zip(columns.iter_mut()) {
            let ms: f64 = row.try_get("", column)?;
            values.push(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
        }
    }
    for (_, values) in &mut columns {
        values.sort_unstable();
    }
    Ok(columns.into())
}

/// Drops both services' schemas.
async fn drop_schemas(settings: &Settings) -> anyhow::Result<()> {
    let db = tokio::time::timeout(Duration::from_secs(10), sea_orm::Database::connect(settings.database.url.as_str()))
        .await
        .context("connecting to PostgreSQL timed out")??;
    let mut outcome = Ok(());
    for service in docket_migrations::SERVICES {
        let Some(schema) = ServiceDatabase::for_service(&settings.database, service).schema else { continue };
        match docket_kit::db::drop_schema(&db, &schema).await {
            Ok(()) => eprintln!("dropped schema {schema}"),
            Err(err) => outcome = Err(anyhow!("dropping schema {schema}: {err}")),
        }
    }
    let _ = db.close().await;
    outcome
}

/// Deletes the notification queue, its retry and dead-letter queues, and the exchange.
async fn delete_broker_objects(events: &EventSettings) -> anyhow::Result<()> {
    let connection =
        tokio::time::timeout(Duration::from_secs(10), Connection::connect(&events.url, ConnectionProperties::default()))
            .await
            .context("connecting to RabbitMQ timed out")?
            .context("connecting to RabbitMQ")?;
    let queue = events.queue(docket_notification::SERVICE);
    let mut failures = Vec::new();
    // A channel per deletion (a refused one closes its channel), closed after.
    for name in [format!("{queue}.dead"), format!("{queue}.retry"), queue] {
        let deleted = async {
            let channel = connection.create_channel().await?;
            channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await?;
            channel.close(200, "deleted".into()).await
        };
        match deleted.await {
            Ok(()) => eprintln!("deleted queue {name}"),
            Err(err) => failures.push(format!("queue {name}: {err}")),
        }
    }
    let deleted = async {
        let channel = connection.create_channel().await?;
        channel.exchange_delete(events.exchange.as_str().into(), ExchangeDeleteOptions::default()).await?;
        channel.close(200, "deleted".into()).await
    };
    match deleted.await {
        Ok(()) => eprintln!("deleted exchange {}", events.exchange),
        Err(err) => failures.push(format!("exchange {}: {err}", events.exchange)),
    }
    let _ = connection.close(200, "bench done".into()).await;
    ensure!(failures.is_empty(), "{}", failures.join("; "));
    Ok(())
}

/// What one run measured.
struct Report {
    concurrency: usize,
    /// Cases per second asked for (0: a burst).
    rate: u32,
    create: Row,
    /// From the first CreateCase call to the last email accepted.
    end_to_end: Duration,
    /// CreateCase returned → its email accepted, per case, sorted.
    latencies: Vec<Duration>,
    duplicates: usize,
    strangers: usize,
}

impl Report {
    fn print(&self, stages: &[(&'static str, Vec<Duration>)], problems: usize) {
        let cases = self.create.requests;
        match self.rate {
            0 => println!("events: a burst of {cases} cases, CreateCase at concurrency {}", self.concurrency),
            rate => println!("events: {cases} cases at {rate} per second, CreateCase at concurrency {}", self.concurrency),
        }
        print_table(std::slice::from_ref(&self.create));
        println!();
        println!("{:<32} {:>8} {:>10} {:>10}", "throughput", "events", "seconds", "per s");
        for (label, elapsed) in [("cases created", self.create.elapsed), ("events handled end to end", self.end_to_end)] {
            let seconds = elapsed.as_secs_f64();
            println!("{label:<32} {cases:>8} {seconds:>10.2} {:>10.1}", cases as f64 / seconds);
        }
        println!();
        println!("{:<32} {:>8} {:>10} {:>10} {:>10} {:>10}", "latency", "count", "p50 ms", "p90 ms", "p99 ms", "max ms");
        let row = |label: &str, sorted: &[Duration]| {
            let ms = |p| percentile_ms(sorted, p);
            println!(
                "{label:<32} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                sorted.len(),
                ms(0.50),
                ms(0.90),
                ms(0.99),
                ms(1.0)
            );
        };
        row("commit → email accepted", &self.latencies);
        for (label, sorted) in stages {
            row(&format!("  {label}"), sorted);
        }
        println!();
        println!(
            "emails: {} accepted, {} duplicates, {} not of this run; Docket logged {problems} warnings/errors",
            self.latencies.len(),
            self.duplicates,
            self.strangers
        );
    }
}
