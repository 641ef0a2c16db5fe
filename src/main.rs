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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("docket: {err}");
            std::process::exit(2);
        }
    };
    let _telemetry = docket_kit::telemetry::init(&settings.telemetry, "docket")?;
    match cli.command {
        Command::Serve { services } => serve(settings, &services).await,
        Command::Dev { data_dir, grpc_port, http_port } => run_dev(settings, &data_dir, grpc_port, http_port).await,
        Command::Migrate { action, database_url, service } => migrate(settings, action, database_url, service).await,
        Command::Mail { action: MailAction::Ingest { server, token } } => ingest_mail(&server, &token).await,
        Command::Events { action: EventsAction::DeadLetters { service, replay } } => {
            dead_letters(&settings, &service, replay).await
        }
    }
}

async fn ingest_mail(server: &str, token: &str) -> anyhow::Result<()> {
    use std::io::Read;

    use docket_proto::notification::v1::{
        IngestEmailRequest, ingest_email_response::Outcome, notification_service_client::NotificationServiceClient,
    };

    let mut raw = Vec::new();
    std::io::stdin()
        .take(docket_notification::grpc::MAX_EMAIL_BYTES as u64 + 1)
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    let channel = tonic::transport::Endpoint::from_shared(server.to_owned())?
        .connect()
        .await
        .with_context(|| format!("connecting to {server}"))?;
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().context("the token is not a valid header value")?;
    let mut client = NotificationServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", bearer.clone());
        Ok(request)
    })
    .max_encoding_message_size(docket_notification::grpc::MAX_EMAIL_BYTES + 64 * 1024);
    let answer = match client.ingest_email(IngestEmailRequest { raw_message: raw }).await {
        Ok(answer) => answer.into_inner(),
        Err(status) => {
            eprintln!("docket mail ingest: {} ({:?})", status.message(), status.code());
            // EX_DATAERR for bad mail, EX_TEMPFAIL for anything an MTA should retry.
            std::process::exit(if status.code() == tonic::Code::InvalidArgument { 65 } else { 75 });
        }
    };
    match Outcome::try_from(answer.outcome) {
        Ok(Outcome::AddedToCase) => println!("added to case {}", answer.case_number),
        Ok(Outcome::CreatedCase) if answer.reason.is_empty() => println!("created case {}", answer.case_number),
        Ok(Outcome::CreatedCase) => println!("created case {} ({})", answer.case_number, answer.reason),
        Ok(Outcome::Ignored) => println!("ignored: {}", answer.reason),
        _ => println!("done"),
    }
    Ok(())
}

async fn dead_letters(settings: &Settings, service: &str, replay: bool) -> anyhow::Result<()> {
    if settings.events.backend == docket_kit::events::EventBackend::InProcess {
        anyhow::bail!(
            "events.backend is in_process: its dead letters live inside the running process; this command reads RabbitMQ"
        );
    }
    let broker = docket_kit::events::broker(&settings.events, docket::app::CONSUMERS);
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

async fn serve(settings: Settings, services: &[Target]) -> anyhow::Result<()> {
    if services.contains(&Target::Gateway) {
        settings.gateway.validate_for_serving()?;
    }
    let listeners = app::Listeners::bind(&settings, services).await?;
    let options = docket_gateway::GatewayOptions::default();
    app::serve(&settings, services, listeners, options, docket_kit::grpc::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn run_dev(settings: Settings, data_dir: &std::path::Path, grpc_port: u16, http_port: u16) -> anyhow::Result<()> {
    let settings = dev::embedded(settings, data_dir, grpc_port);
    let mut settings = dev::embedded_gateway(settings, http_port)?;
    let seeded = dev::prepare(&settings).await.context("preparing the dev database")?;
    dev::prepare_portal(&settings).await.context("preparing the portal's dev data")?;
    dev::prepare_notification(&settings).await.context("pointing the dev emails at this portal")?;
    dev::bind_staff_tokens(&mut settings).await?;
    let targets: Vec<Target> = Target::ALL.iter().copied().chain([Target::Gateway]).collect();
    let listeners =
        app::Listeners::bind(&settings, &targets).await.context("is another docket dev running? (--grpc-port, --http-port)")?;
    let address = listeners.grpc.as_ref().map(|l| l.local_addr()).transpose()?.unwrap_or(settings.grpc.listen);
    let web = listeners.http.as_ref().map(|l| l.local_addr()).transpose()?.unwrap_or(settings.gateway.listen);
    println!("Docket dev is running.");
    println!("  data folder  {}{}", data_dir.display(), if seeded { " (new: seeded with demo data)" } else { "" });
    println!("  gRPC         {address} (reflection on; health: grpc.health.v1)");
    println!("  HTTP         http://{web}/ (REST API http://{web}/api/v1, OpenAPI /api/v1/openapi.json)");
    println!("  dev mailbox  http://{web}/dev/mail (the emails Docket would have sent)");
    println!("  tokens       (send as `authorization: Bearer <token>`)");
    for (name, token, role) in dev::DEV_TOKENS {
        let scope = if *token == dev::DEV_PORTAL_TOKEN { ", the portal service's: acts for customer contacts" } else { "" };
        println!("    {name:<8} {token}  ({role}{scope})");
    }
    println!("  portal       log in as (password {}):", docket_portal::demo::DEV_PASSWORD);
    for (email, manager) in dev::PORTAL_LOGINS {
        println!("    {email}{}", if *manager { "  (portal manager: sees all of Acme's cases)" } else { "" });
    }
    println!("  web form     slug `support` (docket.portal.v1.WebFormService/SubmitForm)");
    println!("  mailbox      {} (every email that would have been sent)", settings.notification.mailbox_dir);
    println!(
        "  try          grpcurl -plaintext -H 'authorization: Bearer docket-dev-agent-token' {address} docket.case.v1.CaseService/ListCases"
    );
    println!("  try          curl -H 'Authorization: Bearer docket-dev-agent-token' http://{web}/api/v1/cases");
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
