//! `docket dev`: every service in one process on the embedded defaults
//! (SQLite files in a data folder), migrated and seeded with demo data.

use std::path::Path;

use docket_kit::{
    auth::Role,
    settings::{AuthSettings, TokenSettings},
};

use crate::settings::Settings;

/// The tokens `docket dev` accepts, printed at start: (name, token, role).
pub const DEV_TOKENS: &[(&str, &str, Role)] = &[
    ("admin", "docket-dev-admin-token", Role::Admin),
    ("agent", "docket-dev-agent-token", Role::Agent),
    ("viewer", "docket-dev-viewer-token", Role::Viewer),
    ("service", "docket-dev-service-token", Role::Service),
    ("portal", DEV_PORTAL_TOKEN, Role::Service),
    ("gateway", DEV_GATEWAY_TOKEN, Role::Service),
];

/// The portal service's own token under `docket dev`: it acts for customer
/// contacts (`acts_for_contacts`) towards the case service.
pub const DEV_PORTAL_TOKEN: &str = "docket-dev-portal-token";

/// The gateway's own token under `docket dev`: it acts for a logged-in
/// customer towards the knowledge service (the help center).
pub const DEV_GATEWAY_TOKEN: &str = "docket-dev-gateway-token";

/// Turns loaded settings into the embedded default: SQLite under `data_dir`,
/// the in-process event bus, migrations on start, gRPC on loopback, and the dev tokens (tokens set in
/// configuration are kept too).
pub fn embedded(mut settings: Settings, data_dir: &Path, grpc_port: u16) -> Settings {
    settings.database.url = format!("sqlite://{}/{{service}}.db?mode=rwc", data_dir.display());
    settings.database.migrate_on_start = true;
    settings.events.backend = docket_kit::events::EventBackend::InProcess;
    settings.grpc.listen = std::net::SocketAddr::from(([127, 0, 0, 1], grpc_port));
    // The notification service calls the case service in this same process,
    // and writes what it would send into the dev mailbox.
    settings.notification.case_service_url = format!("http://127.0.0.1:{grpc_port}");
    settings.notification.portal_service_url = format!("http://127.0.0.1:{grpc_port}");
    settings.notification.service_token = "docket-dev-service-token".to_owned();
    settings.notification.transport = docket_notification::config::MailTransportKind::Mailbox;
    settings.notification.mailbox_dir = data_dir.join("mailbox").display().to_string();
    settings.billing.case_service_url = format!("http://127.0.0.1:{grpc_port}");
    settings.case.billing_service_url = format!("http://127.0.0.1:{grpc_port}");
    settings.case.service_token = "docket-dev-service-token".to_owned();
    settings.billing.service_token = "docket-dev-service-token".to_owned();
    // Sessions and counters in memory; the portal calls the case service in this process.
    settings.kv.backend = docket_kit::kv::KvBackend::Memory;
    settings.portal.case_service_url = format!("http://127.0.0.1:{grpc_port}");
    settings.portal.service_token = DEV_PORTAL_TOKEN.to_owned();
    settings.knowledge.case_service_url = format!("http://127.0.0.1:{grpc_port}");
    settings.knowledge.service_token = "docket-dev-service-token".to_owned();
    let mut auth = AuthSettings { tokens: settings.auth.tokens.clone() };
    for (name, token, role) in DEV_TOKENS {
        auth.tokens.entry(format!("dev-{name}")).or_insert_with(|| TokenSettings {
            token: (*token).to_owned(),
            role: *role,
            staff_id: None,
            acts_for_contacts: *token == DEV_PORTAL_TOKEN || *token == DEV_GATEWAY_TOKEN,
        });
    }
    settings.auth = auth;
    settings
}

/// The host names `docket dev`'s gateway answers to: loopback only, so a
/// web page the developer visits cannot reach it by DNS rebinding.
pub const LOOPBACK_HOSTS: &str = "localhost, *.localhost, 127.0.0.1, [::1]";

/// Points the gateway at the gRPC server of this same process (loopback)
/// on `127.0.0.1:http_port`, over plain HTTP, answering only to loopback
/// host names unless others are configured, with a fresh CSRF key unless
/// one is configured.
pub fn embedded_gateway(mut settings: Settings, http_port: u16) -> anyhow::Result<Settings> {
    let gateway = &mut settings.gateway;
    gateway.listen = std::net::SocketAddr::from(([127, 0, 0, 1], http_port));
    gateway.case_service_url = format!("http://{}", settings.grpc.listen);
    gateway.portal_service_url = format!("http://{}", settings.grpc.listen);
    gateway.billing_service_url = format!("http://{}", settings.grpc.listen);
    gateway.knowledge_service_url = format!("http://{}", settings.grpc.listen);
    gateway.service_token = DEV_GATEWAY_TOKEN.to_owned();
    gateway.public_base_url = format!("http://127.0.0.1:{http_port}");
    // Browsers drop `Secure` cookies sent over plain HTTP.
    gateway.cookie_secure = false;
    // The dev tokens are public and /dev/mail shows reset links.
    if gateway.allowed_hosts.trim().is_empty() {
        gateway.allowed_hosts = LOOPBACK_HOSTS.to_owned();
    }
    if gateway.secret_key.is_empty() {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no randomness for gateway.secret_key: {err}"))?;
        gateway.secret_key = bytes.iter().map(|b| format!("{b:02x}")).collect();
    }
    Ok(settings)
}

/// What only `docket dev`'s gateway has: the dev mailbox page.
pub fn gateway_options(settings: &Settings) -> docket_gateway::GatewayOptions {
    docket_gateway::GatewayOptions { dev_mailbox: Some(settings.notification.mailbox_dir.clone().into()), kv: None }
}

/// Migrates the case, billing and knowledge files and seeds their demo data once;
/// returns whether the case data was new.
pub async fn prepare(settings: &Settings) -> anyhow::Result<bool> {
    let db = docket_kit::db::connect(&settings.database, docket_case::SERVICE).await?;
    docket_migrations::up(&db, docket_case::SERVICE).await?;
    let store = docket_case::store::Store::new(db.clone());
    let seeded = docket_case::demo::seed(&store).await?;
    let (accounts, _) = store.list_accounts(&Default::default(), None, 1).await?;
    db.close().await?;

    let db = docket_kit::db::connect(&settings.database, docket_billing::SERVICE).await?;
    docket_migrations::up(&db, docket_billing::SERVICE).await?;
    docket_billing::demo::seed(&docket_billing::store::Store::new(db.clone()), accounts.first().map(|a| a.id.as_str())).await?;
    db.close().await?;

    let db = docket_kit::db::connect(&settings.database, docket_knowledge::SERVICE).await?;
    docket_migrations::up(&db, docket_knowledge::SERVICE).await?;
    docket_knowledge::demo::seed(&docket_knowledge::store::Store::new(db.clone())).await?;
    db.close().await?;
    Ok(seeded)
}

/// Points the links in emails at the portal this `docket dev` serves
/// (`--http-port`): the notification settings keep a loopback portal
/// address from an earlier run on another port, or the built-in one.
pub async fn prepare_notification(settings: &Settings) -> anyhow::Result<()> {
    use docket_kit::request::FieldMask;
    use docket_notification::domain::settings::{NotifySettings, SettingsChange, SettingsField};
    let portal = format!("{}/portal", settings.gateway.public_base_url.trim_end_matches('/'));
    let db = docket_kit::db::connect(&settings.database, docket_notification::SERVICE).await?;
    docket_migrations::up(&db, docket_notification::SERVICE).await?;
    let store = docket_notification::store::Store::new(db.clone());
    let current = store.settings().await?;
    let loopback = ["http://127.0.0.1:", "http://localhost:"].iter().any(|p| current.settings.portal_base_url.starts_with(p));
    if loopback && current.settings.portal_base_url != portal {
        let change = SettingsChange {
            etag: current.version,
            mask: FieldMask::of(&[SettingsField::PortalBaseUrl]),
            values: NotifySettings { portal_base_url: portal, ..current.settings },
        };
        let by = docket_kit::audit::Actor {
            actor: "system:dev",
            reason: "docket dev serves the portal here",
            at: docket_kit::time::now(),
        };
        store.update_settings(change, &by).await?;
    }
    db.close().await?;
    Ok(())
}

/// Demo contacts who can log in to the portal under `docket dev`, with the
/// password [`docket_portal::demo::DEV_PASSWORD`]: (email, portal manager).
pub const PORTAL_LOGINS: &[(&str, bool)] =
    &[("petra.schmidt@acme.example", true), ("jonas.weber@acme.example", false), ("lena.vogel@brightdental.example", false)];

/// Migrates the portal service's file and gives the demo contacts portal
/// access and the demo `support` web form, once.
pub async fn prepare_portal(settings: &Settings) -> anyhow::Result<bool> {
    let case_db = docket_kit::db::connect(&settings.database, docket_case::SERVICE).await?;
    let cases = docket_case::store::Store::new(case_db.clone());
    let mut users = Vec::new();
    for (email, portal_manager) in PORTAL_LOGINS {
        let filter = docket_case::store::ContactFilter { query: (*email).to_owned(), ..Default::default() };
        let (found, _) = cases.list_contacts(&filter, None, 1).await?;
        if let Some(contact) = found.into_iter().next() {
            users.push(docket_portal::demo::DemoUser {
                contact: docket_portal::store::ContactFacts {
                    contact_id: contact.id,
                    account_id: contact.account_id,
                    email: contact.email.to_lowercase(),
                    name: contact.name,
                },
                portal_manager: *portal_manager,
            });
        }
    }
    case_db.close().await?;
    let db = docket_kit::db::connect(&settings.database, docket_portal::SERVICE).await?;
    docket_migrations::up(&db, docket_portal::SERVICE).await?;
    let store = docket_portal::store::Store::new(db.clone());
    let seeded = docket_portal::demo::seed(&store, &users).await?;
    db.close().await?;
    Ok(seeded)
}

/// Binds each dev staff token to its demo staff user, so changes made with
/// it are recorded as that person's.
pub async fn bind_staff_tokens(settings: &mut Settings) -> anyhow::Result<()> {
    let db = docket_kit::db::connect(&settings.database, docket_case::SERVICE).await?;
    let store = docket_case::store::Store::new(db.clone());
    for (name, email) in [
        ("dev-admin", docket_case::demo::ADMIN_EMAIL),
        ("dev-agent", docket_case::demo::AGENT_EMAIL),
        ("dev-viewer", docket_case::demo::VIEWER_EMAIL),
    ] {
        let filter = docket_case::store::StaffFilter { query: email.to_owned(), ..Default::default() };
        let (users, _) = store.list_staff_users(&filter, None, 1).await?;
        if let (Some(user), Some(token)) = (users.first(), settings.auth.tokens.get_mut(name)) {
            token.staff_id = Some(user.id.clone());
        }
    }
    db.close().await?;
    Ok(())
}
