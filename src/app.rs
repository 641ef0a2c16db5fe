//! Assembles the chosen services into one process on one gRPC server, the
//! way `docket serve <service>...` and `docket dev` run them; the HTTP
//! gateway, when chosen, runs beside them on its own listener.

use std::future::Future;

use anyhow::Context;
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
    clients::{CaseClients, PortalLinks},
    grpc::NotificationApi,
    handler::Notifier,
    inbound::InboundSettings,
    mailer::Mailer,
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
    /// Contracts and billing: SLA policies and clocks, hours, parts, invoices.
    Billing,
    /// The customer portal: portal users, sessions, a customer's cases, web forms.
    Portal,
    /// The knowledge base: categories and articles (issue 13, in steps).
    Knowledge,
    /// The HTTP gateway: REST API, pages, probes. No database; it calls the
    /// services over gRPC (`gateway.*_service_url`).
    Gateway,
}

impl Target {
    /// Every gRPC service, each with its own database (the gateway has none
    /// and is not among them).
    pub const ALL: &'static [Target] = &[Target::Case, Target::Notification, Target::Billing, Target::Portal, Target::Knowledge];

    pub fn name(self) -> &'static str {
        match self {
            Target::Case => docket_case::SERVICE,
            Target::Notification => docket_notification::SERVICE,
            Target::Billing => docket_billing::SERVICE,
            Target::Portal => docket_portal::SERVICE,
            Target::Knowledge => docket_knowledge::SERVICE,
            Target::Gateway => docket_gateway::SERVICE,
        }
    }
}

/// The name a process running `targets` reports in traces: `docket-case`
/// for one target, `docket` for several (`OTEL_SERVICE_NAME` wins when set:
/// see `docket_kit::telemetry::init`).
pub fn service_name(targets: &[Target]) -> String {
    match targets {
        [one] => format!("docket-{}", one.name()),
        _ => "docket".to_owned(),
    }
}

/// The listeners of one process: gRPC for the services, HTTP for the gateway.
#[derive(Debug, Default)]
pub struct Listeners {
    pub grpc: Option<TcpListener>,
    pub http: Option<TcpListener>,
}

impl Listeners {
    /// Binds what `targets` need: `grpc.listen` when any gRPC service is
    /// among them, `gateway.listen` when the gateway is.
    pub async fn bind(settings: &Settings, targets: &[Target]) -> anyhow::Result<Self> {
        let mut listeners = Listeners::default();
        if targets.iter().any(|t| *t != Target::Gateway) {
            let address = settings.grpc.listen;
            listeners.grpc =
                Some(TcpListener::bind(address).await.with_context(|| format!("listening on {address} (grpc.listen)"))?);
        }
        if targets.contains(&Target::Gateway) {
            let address = settings.gateway.listen;
            listeners.http =
                Some(TcpListener::bind(address).await.with_context(|| format!("listening on {address} (gateway.listen)"))?);
        }
        Ok(listeners)
    }
}

/// Runs `targets` on `listeners` until `shutdown` resolves: the gRPC
/// services through [`run`], the gateway through [`run_gateway`]. Both stop
/// together, finishing the calls and requests in flight; if either fails,
/// the process ends with its error.
pub async fn serve(
    settings: &Settings,
    targets: &[Target],
    listeners: Listeners,
    gateway: docket_gateway::GatewayOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let services: Vec<Target> = targets.iter().copied().filter(|t| *t != Target::Gateway).collect();
    let (stop, stopping) = watch::channel(false);
    let stopped = |mut stopping: watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let grpc = async {
        match listeners.grpc {
            Some(listener) if !services.is_empty() => run(settings, &services, listener, stopped(stopping.clone())).await,
            _ => Ok(()),
        }
    };
    let http = async {
        match listeners.http {
            Some(listener) if targets.contains(&Target::Gateway) => {
                run_gateway(settings, gateway, listener, stopped(stopping.clone())).await
            }
            _ => Ok(()),
        }
    };
    let both = async { tokio::try_join!(grpc, http).map(drop) };
    tokio::pin!(both, shutdown);
    tokio::select! {
        result = &mut both => result,
        () = &mut shutdown => {
            let _ = stop.send(true);
            both.await
        }
    }
}

/// Serves the HTTP gateway on `listener` until `shutdown` resolves. It needs
/// no database: everything it shows comes from the services over gRPC.
pub async fn run_gateway(
    settings: &Settings,
    options: docket_gateway::GatewayOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut options = options;
    if options.kv.is_none() {
        options.kv = Some(docket_kit::kv::connect(&settings.kv)?);
    }
    docket_gateway::serve(&settings.gateway, options, listener, shutdown).await?;
    Ok(())
}

/// Every service that consumes events, with what it binds. A process
/// declares the queues of those it runs and of those `events.consumers`
/// names (see [`docket_kit::events::EventSettings::declared`]).
pub const CONSUMERS: &[(&str, &[&str])] = &[
    (docket_notification::SERVICE, docket_notification::handler::BINDINGS),
    (docket_billing::SERVICE, docket_billing::clocks::BINDINGS),
    (docket_case::SERVICE, docket_case::own_events::BINDINGS),
    (docket_portal::SERVICE, docket_portal::addresses::BINDINGS),
    (docket_knowledge::SERVICE, docket_knowledge::proposals::BINDINGS),
];

/// Stops start-up when RabbitMQ holds a queue of another type than
/// `events.queue_type` declares: retrying cannot fix that. A broker that is
/// away is no reason to stop; the relays and consumers wait for it.
async fn check_queues(
    settings: &docket_kit::events::EventSettings,
    broker: &dyn docket_kit::events::Broker,
    declared: &[(&str, &[&str])],
) -> anyhow::Result<()> {
    for (service, bindings) in declared {
        let bindings: Vec<String> = bindings.iter().map(|b| (*b).to_owned()).collect();
        match broker.declare(&settings.queue(service), &bindings).await {
            Ok(()) => {}
            Err(docket_kit::events::BusError::Conflict(conflict)) => anyhow::bail!(conflict),
            Err(err) => {
                tracing::warn!(error = %err, "RabbitMQ cannot be reached yet; publishing and consuming wait for it");
                break;
            }
        }
    }
    Ok(())
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
    let running: Vec<&str> = targets.iter().map(|t| t.name()).collect();
    let declared = settings.events.declared(CONSUMERS, &running)?;
    let broker = docket_kit::events::broker(&settings.events, &declared);
    check_queues(&settings.events, broker.as_ref(), &declared).await?;
    let (stop, stopping) = watch::channel(false);
    let mut background = JoinSet::new();
    let mut relays = Vec::new();
    // One expiring-key store per process, made when a target needs it.
    let mut kv: Option<Arc<dyn docket_kit::kv::KeyValue>> = None;
    // The gateway has no database and serves HTTP: see `run_gateway`.
    for target in targets.iter().filter(|t| **t != Target::Gateway) {
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
        background.spawn(docket_kit::metrics::report_db_pool(target.name().to_owned(), db.clone(), stopping.clone()));
        match target {
            Target::Case => {
                settings.case.validate()?;
                let contracts = docket_case::contracts::ContractChecks::new(
                    &settings.case.billing_service_url,
                    &settings.case.service_token,
                )?;
                let relay = RelayWaker::default();
                let cache = docket_case::cache::CaseCache::new(match &kv {
                    Some(kv) => kv.clone(),
                    None => kv.insert(docket_kit::kv::connect(&settings.kv)?).clone(),
                });
                let store = Store::with_relay(db.clone(), relay.clone()).with_case_cache(cache.clone());
                // Before the consumer counts anything (see `report_backfill`).
                store.backfill_reports().await.map_err(|err| anyhow::anyhow!("filling the period reports: {err}"))?;
                docket_case::add_routes(&mut routes, store.clone(), contracts);
                let sweep_every = std::time::Duration::from_millis(settings.case.routing_sweep_interval_ms);
                background.spawn(docket_case::sweeper::run(store, sweep_every, stopping.clone()));
                relays.push(Relay::new(docket_case::SERVICE, db.clone(), broker.clone(), &settings.events, relay));
                let consumer = ConsumerSpec {
                    service: docket_case::SERVICE.to_owned(),
                    bindings: docket_case::own_events::BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
                };
                background.spawn(consume(
                    broker.clone(),
                    db.clone(),
                    settings.events.clone(),
                    consumer,
                    Arc::new(docket_case::own_events::CaseEvents { cache }),
                    stopping.clone(),
                ));
                mounted.push(Mounted {
                    names: docket_case::GRPC_SERVICES.to_vec(),
                    db,
                    contact_calls: docket_case::CONTACT_CALLS,
                });
            }
            Target::Notification => {
                let config = &settings.notification;
                config.validate_for_serving()?;
                let clients = CaseClients::new("notification", &config.case_service_url, &config.service_token)?;
                let mail_waker = Arc::new(tokio::sync::Notify::new());
                let inbound = InboundSettings {
                    unassigned_account_name: config.unassigned_account_name.clone(),
                    own_addresses: Vec::new(),
                    trusted_authserv_ids: config.trusted_authserv_ids(),
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
                    Arc::new(Notifier::new(
                        clients,
                        PortalLinks::new(&config.portal_service_url, &config.service_token)?,
                        mail_waker.clone(),
                    )),
                    stopping.clone(),
                ));
                let transport = docket_notification::mailer::transport(config)?;
                background.spawn(Mailer::new(db.clone(), transport, config.clone(), mail_waker).run(stopping.clone()));
                mounted.push(Mounted { names: docket_notification::GRPC_SERVICES.to_vec(), db, contact_calls: &[] });
            }
            Target::Billing => {
                let config = &settings.billing;
                config.validate_for_serving()?;
                let clients = docket_billing::clients::CaseClients::new(&config.case_service_url, &config.service_token)?;
                let relay = RelayWaker::default();
                docket_billing::add_routes(
                    &mut routes,
                    docket_billing::store::Store::with_relay(db.clone(), relay.clone()),
                    clients,
                    config.clone(),
                );
                relays.push(Relay::new(docket_billing::SERVICE, db.clone(), broker.clone(), &settings.events, relay.clone()));
                let consumer = ConsumerSpec {
                    service: docket_billing::SERVICE.to_owned(),
                    bindings: docket_billing::clocks::BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
                };
                background.spawn(consume(
                    broker.clone(),
                    db.clone(),
                    settings.events.clone(),
                    consumer,
                    Arc::new(docket_billing::clocks::ClockKeeper),
                    stopping.clone(),
                ));
                let scheduler = docket_billing::scheduler::SlaScheduler::new(
                    db.clone(),
                    std::time::Duration::from_millis(config.sla_sweep_interval_ms),
                    config.sla_sweep_batch,
                    relay,
                );
                background.spawn(scheduler.run(stopping.clone()));
                mounted.push(Mounted { names: docket_billing::GRPC_SERVICES.to_vec(), db, contact_calls: &[] });
            }
            Target::Portal => {
                let config = &settings.portal;
                config.validate_for_serving()?;
                let clients = CaseClients::new("portal", &config.case_service_url, &config.service_token)?;
                let kv = match &kv {
                    Some(kv) => kv.clone(),
                    None => kv.insert(docket_kit::kv::connect(&settings.kv)?).clone(),
                };
                let relay = RelayWaker::default();
                let portal = docket_portal::grpc::Portal {
                    store: docket_portal::store::Store::with_relay(db.clone(), relay.clone()),
                    sessions: docket_portal::sessions::Sessions::new(kv, config),
                    clients,
                    settings: Arc::new(config.clone()),
                    unassigned_account_name: settings.notification.unassigned_account_name.clone(),
                };
                docket_portal::add_routes(&mut routes, portal);
                relays.push(
                    Relay::new(docket_portal::SERVICE, db.clone(), broker.clone(), &settings.events, relay)
                        .forgetting(docket_portal::events::CARRYING_SECRETS),
                );
                let consumer = ConsumerSpec {
                    service: docket_portal::SERVICE.to_owned(),
                    bindings: docket_portal::addresses::BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
                };
                background.spawn(consume(
                    broker.clone(),
                    db.clone(),
                    settings.events.clone(),
                    consumer,
                    Arc::new(docket_portal::addresses::AddressFollower),
                    stopping.clone(),
                ));
                mounted.push(Mounted { names: docket_portal::GRPC_SERVICES.to_vec(), db, contact_calls: &[] });
            }
            Target::Knowledge => {
                let config = &settings.knowledge;
                config.validate_for_serving()?;
                let clients = CaseClients::new("knowledge", &config.case_service_url, &config.service_token)?;
                let relay = RelayWaker::default();
                let store = docket_knowledge::store::Store::with_relay(db.clone(), relay.clone());
                docket_knowledge::add_routes(&mut routes, store.clone(), clients.clone());
                background.spawn(docket_knowledge::scheduler::run(store.clone(), stopping.clone()));
                relays.push(Relay::new(docket_knowledge::SERVICE, db.clone(), broker.clone(), &settings.events, relay));
                let consumer = ConsumerSpec {
                    service: docket_knowledge::SERVICE.to_owned(),
                    bindings: docket_knowledge::proposals::BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
                };
                background.spawn(consume(
                    broker.clone(),
                    db.clone(),
                    settings.events.clone(),
                    consumer,
                    Arc::new(docket_knowledge::proposals::ProposalWriter::new(clients, store)),
                    stopping.clone(),
                ));
                mounted.push(Mounted {
                    names: docket_knowledge::GRPC_SERVICES.to_vec(),
                    db,
                    contact_calls: docket_knowledge::CONTACT_CALLS,
                });
            }
            Target::Gateway => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_of_one_target_is_named_after_it_in_traces() {
        assert_eq!(service_name(&[Target::Case]), "docket-case");
        assert_eq!(service_name(&[Target::Gateway]), "docket-gateway");
        assert_eq!(service_name(&[Target::Case, Target::Notification]), "docket");
        assert_eq!(service_name(&[]), "docket");
    }
}
