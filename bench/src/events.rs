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
//! With `--drain`, the notification service is not running while the cases
//! are created: their events wait in its RabbitMQ queue. Once all are
//! published, the bench starts the notification service (a second app in
//! this process, calling the first over gRPC) and measures how fast it
//! drains the queue: events handled per second (first to last handled, from
//! the inbox) and emails per second (first to last accepted by the sink).
//!
//! Docket's warnings and errors are logged to stderr (`RUST_LOG` overrides
//! the `warn` filter) and counted in the summary. Schemas, queues and the
//! exchange are removed at the end, also after a failure, Ctrl-C or
//! SIGTERM. It exits non-zero if a call fails, an email is missing after
//! the timeout (30 s + 100 ms per case), the app fails, or clean-up fails.

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
    /// Queue every event first (the notification service stopped), then
    /// start the notification service and measure how fast it drains them.
    #[arg(long, conflicts_with = "rate")]
    drain: bool,
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
    let mut apps = Apps::default();
    if args.drain {
        eprintln!(
            "starting case at {url} (schema prefix {}, exchange {}); notification starts once every event is queued",
            settings.database.schema_prefix, settings.events.exchange
        );
        // The notification queue is declared (and fills) without its consumer.
        let mut case_only = settings.clone();
        case_only.events.consumers = docket_notification::SERVICE.to_owned();
        apps.start(case_only, &[Target::Case], listener);
    } else {
        eprintln!(
            "starting case + notification at {url} (schema prefix {}, exchange {}, SMTP sink on port {})",
            settings.database.schema_prefix, settings.events.exchange, sink.port
        );
        apps.start(settings.clone(), &[Target::Case, Target::Notification], listener);
    }

    let outcome = tokio::select! {
        outcome = measure(&url, &args, &settings, &sink, &mut apps) => outcome,
        () = crate::interrupted() => Err(anyhow!("interrupted")),
    };

    // Stop the apps first: the mailer commits what it sent, and nothing
    // writes to what is removed next.
    let stopped = apps.stop().await;
    let (stages, handled) = match (&outcome, &stopped) {
        (Ok(_), Ok(())) => {
            let stages = stages(&settings).await.unwrap_or_else(|err| {
                eprintln!("skipping the per-stage latencies: {err:#}");
                Vec::new()
            });
            let handled = handled_span(&settings).await.unwrap_or_else(|err| {
                eprintln!("skipping the handling rate: {err:#}");
                None
            });
            (stages, handled)
        }
        _ => (Vec::new(), None),
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
            report.print(&stages, handled, problems.load(Ordering::Relaxed));
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
    settings.kv.key_prefix = format!("bench_{unique}:");

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

/// Waits for the app, creates the cases (with `--drain`: waits until their
/// events are queued, then starts the notification service), waits for
/// their emails.
async fn measure(
    url: &str,
    args: &EventsArgs,
    settings: &Settings,
    sink: &SmtpAcceptor,
    apps: &mut Apps,
) -> anyhow::Result<Report> {
    apps.serving(url).await?;
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
            let request = pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };
            let number = client.create_case(request).await?.into_inner().case_number;
            Ok((number, Instant::now()))
        }
    })
    .await?;
    ensure!(create.errors == 0, "{} of {cases} CreateCase calls failed", create.errors);
    let committed: HashMap<String, Instant> = created.into_iter().collect();
    ensure!(committed.len() == cases, "CreateCase returned {} distinct case numbers for {cases} cases", committed.len());

    let drain_started = if args.drain {
        wait_until_published(settings, cases, apps).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the notification service's port")?;
        eprintln!("all {cases} events queued; starting notification at {}", listener.local_addr()?);
        let at = Instant::now();
        apps.start(settings.clone(), &[Target::Notification], listener);
        Some(at)
    } else {
        None
    };

    let emails = wait_for_emails(sink, &committed, apps).await?;
    let first = emails.accepted.values().min().copied().unwrap_or(started);
    let last = emails.accepted.values().max().copied().unwrap_or(started);
    let mut latencies: Vec<Duration> =
        committed.iter().map(|(number, at)| emails.accepted[number].saturating_duration_since(*at)).collect();
    latencies.sort_unstable();
    Ok(Report {
        concurrency: channels.len(),
        rate,
        create,
        end_to_end: last.saturating_duration_since(started),
        drain: drain_started.map(|at| Drain {
            to_last_email: last.saturating_duration_since(at),
            first_to_last_email: last.saturating_duration_since(first),
        }),
        latencies,
        duplicates: emails.duplicates,
        strangers: emails.strangers,
    })
}

/// Waits until the relay published every `case.created` (`--drain`).
async fn wait_until_published(settings: &Settings, cases: usize, apps: &Apps) -> anyhow::Result<()> {
    let case = ServiceDatabase::for_service(&settings.database, docket_case::SERVICE).schema.unwrap_or_default();
    let sql = format!(
        r#"SELECT count(*)::int8 AS published FROM "{case}".outbox WHERE event_type = 'case.created' AND sent_at IS NOT NULL"#
    );
    let db = sea_orm::Database::connect(settings.database.url.as_str()).await.context("connecting to PostgreSQL")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = loop {
        let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.clone())).await;
        let published: i64 = match row {
            Ok(Some(row)) => row.try_get("", "published")?,
            Ok(None) => 0,
            Err(err) => break Err(anyhow!("reading the outbox: {err}")),
        };
        if published as usize >= cases {
            break Ok(());
        }
        if apps.any_stopped() {
            break Err(anyhow!("the app stopped with {published} of {cases} events published"));
        }
        if Instant::now() > deadline {
            break Err(anyhow!("only {published} of {cases} events published within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = db.close().await;
    outcome
}

/// The Docket apps this bench runs in-process, each until its sender fires.
#[derive(Default)]
struct Apps(Vec<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>);

impl Apps {
    fn start(&mut self, settings: Settings, targets: &'static [Target], listener: TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app::run(&settings, targets, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        self.0.push((stop, server));
    }

    /// Waits until the app started last serves at `url`.
    async fn serving(&self, url: &str) -> anyhow::Result<()> {
        let (_, server) = self.0.last().context("no app started")?;
        wait_until_serving(Endpoint::from_shared(url.to_owned())?.connect_lazy(), server).await
    }

    fn any_stopped(&self) -> bool {
        self.0.iter().any(|(_, server)| server.is_finished())
    }

    /// Stops the apps, the last started first (notification before the
    /// case service it calls), each letting relays, consumer and mailer
    /// finish what they hold.
    async fn stop(self) -> anyhow::Result<()> {
        let mut outcome = Ok(());
        for (stop, server) in self.0.into_iter().rev() {
            let _ = stop.send(());
            if let Err(err) = stop_app(server).await {
                eprintln!("{err:#}");
                outcome = Err(err);
            }
        }
        outcome
    }
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
async fn wait_for_emails(sink: &SmtpAcceptor, committed: &HashMap<String, Instant>, apps: &Apps) -> anyhow::Result<Emails> {
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
        ensure!(!apps.any_stopped(), "an app stopped with {got} of {want} emails sent");
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

/// How many `case.created` the consumer handled, and the time from the
/// first to the last (the inbox's `handled_at`).
async fn handled_span(settings: &Settings) -> anyhow::Result<Option<(i64, Duration)>> {
    let notification = ServiceDatabase::for_service(&settings.database, docket_notification::SERVICE).schema.unwrap_or_default();
    let sql = format!(
        r#"SELECT count(*)::int8 AS handled,
                  COALESCE(EXTRACT(EPOCH FROM max(handled_at) - min(handled_at))::float8, 0) AS seconds
           FROM "{notification}".inbox WHERE event_type = 'case.created'"#
    );
    let db = sea_orm::Database::connect(settings.database.url.as_str()).await.context("connecting to PostgreSQL")?;
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await;
    let _ = db.close().await;
    let Some(row) = row.context("reading the inbox")? else { return Ok(None) };
    let (handled, seconds): (i64, f64) = (row.try_get("", "handled")?, row.try_get("", "seconds")?);
    Ok(Some((handled, Duration::from_secs_f64(seconds.max(0.0)))))
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
    /// With `--drain`: how the queued events drained.
    drain: Option<Drain>,
    /// CreateCase returned → its email accepted, per case, sorted.
    latencies: Vec<Duration>,
    duplicates: usize,
    strangers: usize,
}

/// How a queue of events drained once the notification service started.
struct Drain {
    /// From starting the notification service (migrations included) to the last email.
    to_last_email: Duration,
    /// From the first email accepted to the last.
    first_to_last_email: Duration,
}

impl Report {
    fn print(&self, stages: &[(&'static str, Vec<Duration>)], handled: Option<(i64, Duration)>, problems: usize) {
        let cases = self.create.requests;
        match (self.rate, &self.drain) {
            (_, Some(_)) => println!(
                "events: {cases} cases queued (CreateCase at concurrency {}), then drained by the notification service",
                self.concurrency
            ),
            (0, None) => println!("events: a burst of {cases} cases, CreateCase at concurrency {}", self.concurrency),
            (rate, None) => {
                println!("events: {cases} cases at {rate} per second, CreateCase at concurrency {}", self.concurrency)
            }
        }
        print_table(std::slice::from_ref(&self.create));
        println!();
        println!("{:<40} {:>8} {:>10} {:>10}", "throughput", "events", "seconds", "per s");
        let row = |label: &str, count: usize, elapsed: Duration| {
            let seconds = elapsed.as_secs_f64();
            println!("{label:<40} {count:>8} {seconds:>10.2} {:>10.1}", count as f64 / seconds);
        };
        row("cases created", cases, self.create.elapsed);
        match &self.drain {
            None => row("events handled end to end", cases, self.end_to_end),
            Some(drain) => {
                row("drain: notification start → last email", cases, drain.to_last_email);
                row("drain: first → last email", cases, drain.first_to_last_email);
            }
        }
        if let Some((count, span)) = handled {
            row("events handled, first → last", usize::try_from(count).unwrap_or(0), span);
        }
        println!();
        if self.drain.is_some() {
            println!("(latencies from commit include the time the events waited for the notification service)");
        }
        println!("{:<40} {:>8} {:>10} {:>10} {:>10} {:>10}", "latency", "count", "p50 ms", "p90 ms", "p99 ms", "max ms");
        let row = |label: &str, sorted: &[Duration]| {
            let ms = |p| percentile_ms(sorted, p);
            println!(
                "{label:<40} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
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
