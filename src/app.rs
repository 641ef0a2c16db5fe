//! Assembles the chosen services into one process on one gRPC server, the
//! way `docket serve <service>...` and `docket dev` run them.

use std::future::Future;

use clap::ValueEnum;
use std::sync::Arc;

use docket_case::store::Store;
use docket_kit::{
    auth::TokenTable,
    events::{
        consumer::{ConsumerSpec, consume},
        outbox::{Relay, RelayWaker},
    },
    grpc::{Mounted, ServerParts},
};
use docket_notification::{
    clients::CaseClients, grpc::NotificationApi, handler::Notifier, inbound::InboundSettings, mailer::Mailer,
};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tonic::service::RoutesBuilder;

use crate::settings::Settings;

/// A service `docket serve` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Accounts, contacts, staff directory, cases, activities, audit trail.
    Case,
    /// Who hears about case events; email out (SMTP) and in (email-to-case).
    Notification,
    /// Contracts and billing; today its SLA policies.
    Billing,
}

impl Target {
    pub const ALL: &'static [Target] = &[Target::Case, Target::Notification, Target::Billing];

    pub fn name(self) -> &'static str {
        match self {
            Target::Case => docket_case::SERVICE,
            Target::Notification => docket_notification::SERVICE,
            Target::Billing => docket_billing::SERVICE,
        }
    }
}

/// Every service that consumes events, with what it binds: their queues
/// exist before any relay publishes, whichever services this process runs.
pub const CONSUMERS: &[(&str, &[&str])] = &[(docket_notification::SERVICE, docket_notification::handler::BINDINGS)];

/// Connects each target to its database (migrating first when configured)
/// and serves them all on `listener` until `shutdown` resolves.
pub async fn run(
    settings: &Settings,
    targets: &[Target],
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let mut routes = RoutesBuilder::default();
    let mut mounted = Vec::new();
    let broker = docket_kit::events::broker(&settings.events, CONSUMERS);
    let (stop, stopping) = watch::channel(false);
    let mut background = JoinSet::new();
    let mut relays = Vec::new();
    for target in targets {
        let db = docket_kit::db::connect(&settings.database, target.name()).await.map_err(|err| {
            anyhow::anyhow!(
                "connecting the {} service to its database ({}): {err}",
                target.name(),
                redact(&settings.database.url)
            )
        })?;
        if settings.database.migrate_on_start {
            docket_migrations::up(&db, target.name()).await?;
        }
        match target {
            Target::Case => {
                let relay = RelayWaker::default();
                docket_case::add_routes(&mut routes, Store::with_relay(db.clone(), relay.clone()));
                relays.push(Relay::new(db.clone(), broker.clone(), &settings.events, relay));
                mounted.push(Mounted { names: docket_case::GRPC_SERVICES.to_vec(), db });
            }
            Target::Notification => {
                let config = &settings.notification;
                config.validate_for_serving()?;
                let clients = CaseClients::new(&config.case_service_url, &config.service_token)?;
                let inbound = InboundSettings {
                    unassigned_account_name: config.unassigned_account_name.clone(),
                    own_addresses: Vec::new(),
                };
                docket_notification::add_routes(&mut routes, NotificationApi::new(db.clone(), clients.clone(), inbound));
                let consumer = ConsumerSpec {
                    service: docket_notification::SERVICE.to_owned(),
                    bindings: docket_notification::handler::BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
                };
                background.spawn(consume(
                    broker.clone(),
                    db.clone(),
                    settings.events.clone(),
                    consumer,
                    Arc::new(Notifier::new(clients)),
                    stopping.clone(),
                ));
                let transport = docket_notification::mailer::transport(config)?;
                background.spawn(Mailer::new(db.clone(), transport, config.clone()).run(stopping.clone()));
                mounted.push(Mounted { names: docket_notification::GRPC_SERVICES.to_vec(), db });
            }
            Target::Billing => {
                docket_billing::add_routes(&mut routes, docket_billing::store::Store::new(db.clone()));
                mounted.push(Mounted { names: docket_billing::GRPC_SERVICES.to_vec(), db });
            }
        }
    }
    for relay in relays {
        background.spawn(relay.run(stopping.clone()));
    }
    tracing::info!(address = %listener.local_addr()?, services = ?targets, "gRPC server listening");
    let parts = ServerParts {
        routes,
        mounted,
        tokens: TokenTable::from_settings(&settings.auth),
        descriptor_set: docket_proto::FILE_DESCRIPTOR_SET,
    };
    let shutdown = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let served = docket_kit::grpc::serve(&settings.grpc, listener, parts, shutdown).await;
    // Relays and consumers finish the batch or event in hand.
    let finished =
        tokio::time::timeout(std::time::Duration::from_secs(10), async { while background.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::warn!("background tasks did not stop within 10 s");
    }
    served
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
