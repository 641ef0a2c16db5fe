//! Assembles the chosen services into one process on one gRPC server, the
//! way `docket serve <service>...` and `docket dev` run them.

use std::future::Future;

use clap::ValueEnum;
use docket_case::store::Store;
use docket_kit::{
    auth::TokenTable,
    events::outbox::{Relay, RelayWaker},
    grpc::{Mounted, ServerParts},
};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tonic::service::RoutesBuilder;

use crate::settings::Settings;

/// A service `docket serve` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Accounts, contacts, staff directory, cases, activities, audit trail.
    Case,
}

impl Target {
    pub const ALL: &'static [Target] = &[Target::Case];

    pub fn name(self) -> &'static str {
        match self {
            Target::Case => docket_case::SERVICE,
        }
    }
}

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
    let broker = docket_kit::events::broker(&settings.events);
    let (stop, stopping) = watch::channel(false);
    let mut background = JoinSet::new();
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
                background.spawn(Relay::new(db.clone(), broker.clone(), &settings.events, relay).run(stopping.clone()));
                mounted.push(Mounted { names: docket_case::GRPC_SERVICES.to_vec(), db });
            }
        }
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
