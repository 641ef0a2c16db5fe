//! `docket`: one binary, services chosen by target. Parses the command line
//! and dispatches; the work lives in the library and the service crates.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use docket::{
    app::{self, Target},
    dev,
    settings::Settings,
};

#[derive(Debug, Parser)]
#[command(name = "docket", version, about = "Docket: open-source case management. One binary runs any set of its services.")]
struct Cli {
    /// A TOML file of settings, layered over the built-in defaults and under
    /// `DOCKET__SECTION__KEY` environment variables.
    #[arg(long, global = true, env = "DOCKET_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the named services in this process, on one gRPC server
    /// (production: one Deployment per service).
    Serve {
        /// The services to run.
        #[arg(required = true, value_enum)]
        services: Vec<Target>,
    },
    /// Run every service on the embedded default: SQLite files in a data
    /// folder, migrated and seeded with demo data on first start.
    Dev {
        /// Where the SQLite files live.
        #[arg(long, default_value = ".docket")]
        data_dir: PathBuf,
        /// gRPC port on 127.0.0.1.
        #[arg(long, default_value_t = 50051)]
        grpc_port: u16,
        /// HTTP port of the gateway on 127.0.0.1.
        #[arg(long, default_value_t = 8080)]
        http_port: u16,
        /// Port of the Prometheus metrics on 127.0.0.1 (0: none), unless
        /// `telemetry.metrics_listen` says otherwise.
        #[arg(long, default_value_t = 9464)]
        metrics_port: u16,
    },
    /// Email-to-case: hand an incoming email to a running notification service.
    Mail {
        #[command(subcommand)]
        action: MailAction,
    },
    /// Operate the event bus: list and replay dead letters.
    Events {
        #[command(subcommand)]
        action: EventsAction,
    },
    /// Apply, roll back or show database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        /// Database URL; defaults to `database.url` from the settings.
        #[arg(long, global = true, env = "DOCKET_MIGRATE_DATABASE_URL")]
        database_url: Option<String>,
        /// Only this service's schema (default: all).
        #[arg(long, global = true, value_enum)]
        service: Option<Target>,
    },
}

#[derive(Debug, Subcommand)]
enum MailAction {
    /// Read one raw RFC 5322 message from standard input (as an MTA pipe
    /// delivers it) and add it to its case, or open a new case.
    Ingest {
        /// The gRPC address of the notification service.
        #[arg(long, env = "DOCKET_SERVER", default_value = "http://127.0.0.1:50051")]
        server: String,
        /// A token with the agent or service role.
        #[arg(long, env = "DOCKET_TOKEN")]
        token: String,
    },
}

#[derive(Debug, Subcommand)]
enum EventsAction {
    /// List the events a service's consumer gave up on, with the reason.
    DeadLetters {
        /// The consuming service, e.g. `notification`.
        #[arg(long)]
        service: String,
        /// Put them back on the service's queue (attempts reset).
        #[arg(long)]
        replay: bool,
    },
    /// Re-declare the consumers' queues as `events.queue_type` (e.g. from
    /// classic to quorum), keeping their messages. Stop the consumers first.
    MigrateQueues {
        /// Only this consuming service's queues (default: every consumer's).
        #[arg(long)]
        service: Option<String>,
    },
}

/// Whether the command line asks for `mail ingest`.
fn mail_ingest_invoked() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.windows(2).any(|pair| pair[0] == "mail" && pair[1] == "ingest")
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the most recent migrations.
    Down {
        /// How many migrations to roll back, per service.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// mimalloc: glibc's malloc cost a tenth of a busy service's CPU (issue 15).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // An MTA bounces on any status but 65 and 75: a misconfigured pipe
        // keeps the mail queued while the operator fixes it.
        Err(err) if mail_ingest_invoked() && err.use_stderr() => docket::mail_ingest::exit(docket::mail_ingest::NotTaken {
            exit_code: docket::mail_ingest::EX_TEMPFAIL,
            public: "docket mail ingest is misconfigured; the message will be retried",
            detail: err.to_string(),
        }),
        Err(err) => err.exit(),
    };
    // `mail ingest` needs no settings (an MTA host may have none), and
    // must exit only as `docket::mail_ingest` says.
    if let Command::Mail { action: MailAction::Ingest { server, token } } = &cli.command {
        docket::mail_ingest::run(server, token).await;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("docket: {err}");
            std::process::exit(2);
        }
    };
    let service_name = match &cli.command {
        Command::Serve { services } => app::service_name(services),
        _ => "docket".to_owned(),
    };
    let _telemetry = docket_kit::telemetry::init(&settings.telemetry, &service_name)?;
    match cli.command {
        Command::Serve { services } => serve(settings, &services).await,
        Command::Dev { data_dir, grpc_port, http_port, metrics_port } => {
            run_dev(settings, &data_dir, grpc_port, http_port, metrics_port).await
        }
        Command::Migrate { action, database_url, service } => migrate(settings, action, database_url, service).await,
        // Handled before the settings: see below.
        Command::Mail { .. } => unreachable!("mail ingest runs before the settings are read"),
        Command::Events { action: EventsAction::DeadLetters { service, replay } } => {
            dead_letters(&settings, &service, replay).await
        }
        Command::Events { action: EventsAction::MigrateQueues { service } } => {
            migrate_queues(&settings, service.as_deref()).await
        }
    }
}

async fn dead_letters(settings: &Settings, service: &str, replay: bool) -> anyhow::Result<()> {
    if settings.events.backend == docket_kit::events::EventBackend::InProcess {
        anyhow::bail!(
            "events.backend is in_process: its dead letters live inside the running process; this command reads RabbitMQ"
        );
    }
    let consumer: Vec<(&str, &[&str])> = docket::app::CONSUMERS.iter().filter(|(name, _)| *name == service).copied().collect();
    if consumer.is_empty() {
        let known: Vec<&str> = docket::app::CONSUMERS.iter().map(|(name, _)| *name).collect();
        anyhow::bail!("{service} consumes no events; the consumers are {}", known.join(", "));
    }
    let broker = docket_kit::events::broker(&settings.events, &consumer);
    let queue = settings.events.queue(service);
    if replay {
        let count = broker.replay_dead_letters(&queue).await?;
        println!("{queue}: replayed {count} dead letter(s)");
        return Ok(());
    }
    let letters = broker.dead_letters(&queue).await?;
    println!("{queue}: {} dead letter(s)", letters.len());
    for letter in letters {
        println!("  {} {} attempts={} reason={}", letter.id, letter.routing_key, letter.attempts, letter.reason);
    }
    Ok(())
}

async fn migrate_queues(settings: &Settings, service: Option<&str>) -> anyhow::Result<()> {
    if settings.events.backend == docket_kit::events::EventBackend::InProcess {
        anyhow::bail!("events.backend is in_process: there are no RabbitMQ queues to migrate");
    }
    let consumers: Vec<(&str, &[&str])> =
        docket::app::CONSUMERS.iter().filter(|(name, _)| service.is_none_or(|wanted| wanted == *name)).copied().collect();
    if consumers.is_empty() {
        let known: Vec<&str> = docket::app::CONSUMERS.iter().map(|(name, _)| *name).collect();
        anyhow::bail!("{} consumes no events; the consumers are {}", service.unwrap_or_default(), known.join(", "));
    }
    // No known queues: this broker must not declare any on connecting.
    let broker = docket_kit::events::rabbit::RabbitBroker::new(&settings.events.url, &settings.events.exchange)
        .with_queue_type(settings.events.queue_type);
    let progress = |line: &str| println!("  {line}");
    for (name, bindings) in consumers {
        let queue = settings.events.queue(name);
        let bindings: Vec<String> = bindings.iter().map(|b| (*b).to_owned()).collect();
        println!("{queue}: moving to {} queues", settings.events.queue_type.name());
        match broker.migrate_queues(&queue, &bindings, &progress).await? {
            docket_kit::events::rabbit::Migration::InPlace => {
                println!("{queue}: already {}", settings.events.queue_type.name())
            }
            docket_kit::events::rabbit::Migration::Moved(count) => {
                println!("{queue}: now {}, {count} message(s) kept", settings.events.queue_type.name())
            }
        }
    }
    Ok(())
}

async fn serve(settings: Settings, services: &[Target]) -> anyhow::Result<()> {
    if services.contains(&Target::Gateway) {
        settings.gateway.validate_for_serving()?;
    }
    let listeners = app::Listeners::bind(&settings, services).await?;
    docket_kit::metrics::serve(&settings.telemetry.metrics_listen)?;
    let options = docket_gateway::GatewayOptions::default();
    app::serve(&settings, services, listeners, options, docket_kit::grpc::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn run_dev(
    mut settings: Settings,
    data_dir: &std::path::Path,
    grpc_port: u16,
    http_port: u16,
    metrics_port: u16,
) -> anyhow::Result<()> {
    if settings.telemetry.metrics_listen.trim().is_empty() && metrics_port != 0 {
        settings.telemetry.metrics_listen = format!("127.0.0.1:{metrics_port}");
    }
    let settings = dev::embedded(settings, data_dir, grpc_port);
    let mut settings = dev::embedded_gateway(settings, http_port)?;
    let seeded = dev::prepare(&settings).await.context("preparing the dev database")?;
    dev::prepare_portal(&settings).await.context("preparing the portal's dev data")?;
    dev::prepare_notification(&settings).await.context("pointing the dev emails at this portal")?;
    dev::bind_staff_tokens(&mut settings).await?;
    let targets: Vec<Target> = Target::ALL.iter().copied().chain([Target::Gateway]).collect();
    let listeners =
        app::Listeners::bind(&settings, &targets).await.context("is another docket dev running? (--grpc-port, --http-port)")?;
    let metrics = docket_kit::metrics::serve(&settings.telemetry.metrics_listen)
        .context("is another docket dev running? (--metrics-port)")?;
    let address = listeners.grpc.as_ref().map(|l| l.local_addr()).transpose()?.unwrap_or(settings.grpc.listen);
    let web = listeners.http.as_ref().map(|l| l.local_addr()).transpose()?.unwrap_or(settings.gateway.listen);
    println!("Docket dev is running.");
    println!("  data folder  {}{}", data_dir.display(), if seeded { " (new: seeded with demo data)" } else { "" });
    println!("  gRPC         {address} (reflection on; health: grpc.health.v1)");
    println!("  HTTP         http://{web}/ (REST API http://{web}/api/v1, OpenAPI /api/v1/openapi.json)");
    println!("  dev mailbox  http://{web}/dev/mail (the emails Docket would have sent)");
    if let Some(metrics) = metrics {
        println!("  metrics      http://{metrics}/metrics (Prometheus)");
    }
    println!("  tokens       (send as `authorization: Bearer <token>`)");
    for (name, token, role) in dev::DEV_TOKENS {
        let scope = match *token {
            dev::DEV_PORTAL_TOKEN => ", the portal service's: acts for customer contacts",
            dev::DEV_GATEWAY_TOKEN => ", the gateway's: acts for logged-in customers in the help center",
            _ => "",
        };
        println!("    {name:<8} {token}  ({role}{scope})");
    }
    println!("  portal       log in as (password {}):", docket_portal::demo::DEV_PASSWORD);
    for (email, manager) in dev::PORTAL_LOGINS {
        println!("    {email}{}", if *manager { "  (portal manager: sees all of Acme's cases)" } else { "" });
    }
    println!("  help center  http://{web}/help (public articles; logged in to the portal, customers' articles too)");
    println!("  web form     slug `support` (docket.portal.v1.WebFormService/SubmitForm)");
    println!(
        "  knowledge    {} demo categories, {} published articles, drafts proposed from the closed demo cases",
        docket_knowledge::demo::CATEGORIES.len(),
        docket_knowledge::demo::ARTICLES.len()
    );
    println!("  mailbox      {} (every email that would have been sent)", settings.notification.mailbox_dir);
    println!(
        "  try          grpcurl -plaintext -H 'authorization: Bearer docket-dev-agent-token' {address} docket.case.v1.CaseService/ListCases"
    );
    println!("  try          curl -H 'Authorization: Bearer docket-dev-agent-token' http://{web}/api/v1/cases");
    println!(
        "  try          grpcurl -plaintext -H 'authorization: Bearer docket-dev-agent-token' -d '{{\"query\": \"printer jam\"}}' {address} docket.knowledge.v1.ArticleService/SearchArticles"
    );
    println!("Stop with Ctrl-C.");
    let options = dev::gateway_options(&settings);
    app::serve(&settings, &targets, listeners, options, docket_kit::grpc::shutdown_signal()).await
}

async fn migrate(
    mut settings: Settings,
    action: MigrateAction,
    database_url: Option<String>,
    service: Option<Target>,
) -> anyhow::Result<()> {
    if let Some(url) = database_url {
        settings.database.url = url;
        settings.validate()?;
    }
    if service == Some(Target::Gateway) {
        anyhow::bail!("the gateway has no tables: it keeps nothing of its own");
    }
    let targets = service.map_or_else(|| Target::ALL.to_vec(), |s| vec![s]);
    for target in targets {
        let name = target.name();
        let db = docket_kit::db::connect(&settings.database, name)
            .await
            .with_context(|| format!("connecting to {}", app::redact(&settings.database.url)))?;
        match action {
            MigrateAction::Up => {
                docket_migrations::up(&db, name).await?;
                println!("{name}: up to date");
            }
            MigrateAction::Down { steps } => {
                docket_migrations::down(&db, name, steps).await?;
                println!("{name}: rolled back {steps} migration(s)");
            }
            MigrateAction::Status => {
                for (migration, applied) in docket_migrations::status(&db, name).await? {
                    println!("{name}: {migration} {}", if applied { "applied" } else { "pending" });
                }
            }
        }
        db.close().await?;
    }
    Ok(())
}
