//! The one `Settings` of the `docket` binary: built-in defaults, then the
//! optional `--config` file, then `DOCKET__SECTION__KEY` environment variables.

use std::path::Path;

use docket_kit::{
    events::EventSettings,
    settings::{AuthSettings, DatabaseSettings, GrpcSettings, InvalidSetting, TelemetrySettings},
};
use docket_notification::config::NotificationSettings;
use serde::Deserialize;

/// The built-in defaults: every key an operator can set, with its default.
pub const DEFAULTS: &str = r#"
[database]
url = "postgres://postgres@127.0.0.1:5432/docket"
schema_prefix = "docket_"
max_connections = 10
connect_timeout_secs = 5
migrate_on_start = false

[grpc]
listen = "0.0.0.0:50051"
request_timeout_secs = 30
health_check_interval_secs = 5

[telemetry]
log_format = "text"
log_filter = "info"

[events]
backend = "rabbitmq"
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
exchange = "docket.events"
queue_prefix = "docket."
prefetch = 32
max_attempts = 5
retry_base_ms = 1000
retry_max_ms = 60000
relay_batch = 100
relay_poll_ms = 500
retention_hours = 168

[notification]
case_service_url = "http://127.0.0.1:50051"
service_token = ""
transport = "smtp"
mailbox_dir = ".docket/mailbox"
smtp_host = "127.0.0.1"
smtp_port = 25
smtp_tls = "none"
smtp_username = ""
smtp_password = ""
smtp_timeout_secs = 10
send_interval_ms = 500
max_attempts = 8
retry_base_secs = 5
message_id_domain = "docket.localhost"
unassigned_account_name = "Unassigned"

[auth]
"#;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where each service keeps its tables.
    pub database: DatabaseSettings,
    /// The gRPC server all services of this process share.
    pub grpc: GrpcSettings,
    /// Logs and traces.
    pub telemetry: TelemetrySettings,
    /// The event bus: outbox relay, consumers, broker.
    pub events: EventSettings,
    /// Email out and in.
    pub notification: NotificationSettings,
    /// Bearer tokens and their roles.
    #[serde(default)]
    pub auth: AuthSettings,
}

/// Why settings could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Parse(#[from] config::ConfigError),
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
}

impl Settings {
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let settings: Settings = docket_kit::settings::load(DEFAULTS, file)?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.database.validate()?;
        self.grpc.validate()?;
        self.auth.validate()?;
        self.events.validate()?;
        self.notification.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_env(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env = config::Environment::with_prefix("DOCKET")
            .prefix_separator("__")
            .separator("__")
            .source(Some(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()));
        let settings: Settings = docket_kit::settings::load_with_env(DEFAULTS, None, env)?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn defaults_load() {
        let settings = load_env(&[]).expect("defaults are valid");
        assert_eq!(settings.grpc.listen.port(), 50051);
        assert!(settings.auth.tokens.is_empty());
    }

    #[test]
    fn environment_overrides_defaults() {
        let settings = load_env(&[
            ("DOCKET__DATABASE__URL", "sqlite://data/{service}.db?mode=rwc"),
            ("DOCKET__GRPC__REQUEST_TIMEOUT_SECS", "7"),
            ("DOCKET__AUTH__TOKENS__BILLING__TOKEN", "0123456789abcdef0123"),
            ("DOCKET__AUTH__TOKENS__BILLING__ROLE", "service"),
        ])
        .expect("valid");
        assert_eq!(settings.database.url, "sqlite://data/{service}.db?mode=rwc");
        assert_eq!(settings.grpc.request_timeout_secs, 7);
        assert_eq!(settings.auth.tokens["billing"].role, docket_kit::auth::Role::Service);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = load_env(&[("DOCKET__GRPC__REQUEST_TIMEOUT_SECS", "soon")]).unwrap_err().to_string();
        assert!(err.contains("grpc.request_timeout_secs"), "{err}");

        let err = load_env(&[("DOCKET__DATABASE__URL", "mysql://x")]).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");

        let err = load_env(&[("DOCKET__GRPC__LISTEN", "not an address")]).unwrap_err().to_string();
        assert!(err.contains("grpc.listen"), "{err}");

        let err = load_env(&[("DOCKET__AUTH__TOKENS__X__TOKEN", "short"), ("DOCKET__AUTH__TOKENS__X__ROLE", "admin")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.tokens.x.token"), "{err}");

        let err =
            load_env(&[("DOCKET__AUTH__TOKENS__X__TOKEN", "0123456789abcdef0123"), ("DOCKET__AUTH__TOKENS__X__ROLE", "king")])
                .unwrap_err()
                .to_string();
        assert!(err.contains("auth.tokens.x.role"), "{err}");
    }
}
