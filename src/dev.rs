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
];

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
    settings.notification.service_token = "docket-dev-service-token".to_owned();
    settings.notification.transport = docket_notification::config::MailTransportKind::Mailbox;
    settings.notification.mailbox_dir = data_dir.join("mailbox").display().to_string();
    let mut auth = AuthSettings { tokens: settings.auth.tokens.clone() };
    for (name, token, role) in DEV_TOKENS {
        auth.tokens.entry(format!("dev-{name}")).or_insert_with(|| TokenSettings {
            token: (*token).to_owned(),
            role: *role,
            staff_id: None,
        });
    }
    settings.auth = auth;
    settings
}

/// Migrates the case service's file and seeds the demo data once; returns
/// the staff ids the dev admin, agent and viewer tokens act as.
pub async fn prepare(settings: &Settings) -> anyhow::Result<bool> {
    let db = docket_kit::db::connect(&settings.database, docket_case::SERVICE).await?;
    docket_migrations::up(&db, docket_case::SERVICE).await?;
    let store = docket_case::store::Store::new(db.clone());
    let seeded = docket_case::demo::seed(&store).await?;
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
