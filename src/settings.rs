//! The one `Settings` of the `docket` binary: built-in defaults, then the
//! optional `--config` file, then `DOCKET__SECTION__KEY` environment variables.

use std::path::Path;

use docket_billing::config::BillingSettings;
use docket_case::config::CaseSettings;
use docket_gateway::config::GatewaySettings;
use docket_kit::{
    events::EventSettings,
    kv::KvSettings,
    settings::{AuthSettings, DatabaseSettings, GrpcSettings, InvalidSetting, TelemetrySettings},
};
use docket_knowledge::config::KnowledgeSettings;
use docket_notification::config::NotificationSettings;
use docket_portal::config::PortalSettings;
use serde::Deserialize;

/// The built-in defaults: every key an operator can set, with its default.
pub const DEFAULTS: &str = r##"
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
metrics_listen = ""

[events]
backend = "rabbitmq"
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
exchange = "docket.events"
queue_prefix = "docket."
queue_type = "classic"
prefetch = 32
handlers = 8
batch = 16
retry_patience_secs = 21600
retry_base_ms = 1000
retry_max_ms = 60000
relay_batch = 100
relay_poll_ms = 500
relay_linger_ms = 10
retention_hours = 168
consumers = ""

[notification]
case_service_url = "http://127.0.0.1:50051"
portal_service_url = "http://127.0.0.1:50051"
service_token = ""
transport = "smtp"
mailbox_dir = ".docket/mailbox"
smtp_host = "127.0.0.1"
smtp_port = 25
smtp_tls = "none"
smtp_username = ""
smtp_password = ""
smtp_timeout_secs = 10
smtp_pool_size = 16
send_interval_ms = 500
max_attempts = 8
retry_base_secs = 5
message_id_domain = "docket.localhost"
unassigned_account_name = "Unassigned"
trusted_authserv_ids = ""

[case]
billing_service_url = ""
service_token = ""
routing_sweep_interval_ms = 30000

[billing]
case_service_url = "http://127.0.0.1:50051"
service_token = ""
sla_sweep_interval_ms = 5000
sla_sweep_batch = 500
default_currency = "EUR"
default_hourly_rate_minor = 0
default_tax_rate_bp = 0
business_name = "Docket Support"

[kv]
backend = "redis"
url = "redis://127.0.0.1:6379"
key_prefix = "docket:"
timeout_ms = 2000

[portal]
case_service_url = "http://127.0.0.1:50051"
service_token = ""
session_ttl_secs = 28800
lockout_attempts = 5
lockout_window_secs = 900
lockout_secs = 900
invitation_ttl_hours = 72
reset_ttl_minutes = 60
reset_requests_per_hour = 5
reopen_window_days = 14
password_min_length = 10
customer_case_types = ""
customer_priorities = "low,medium,high"

[knowledge]
case_service_url = "http://127.0.0.1:50051"
service_token = ""

[gateway]
listen = "0.0.0.0:8080"
case_service_url = "http://127.0.0.1:50051"
portal_service_url = "http://127.0.0.1:50051"
billing_service_url = "http://127.0.0.1:50051"
knowledge_service_url = "http://127.0.0.1:50051"
service_token = ""
product_name = "Docket"
business_name = "Docket"
brand_color = "#1f5fa8"
brand_text_color = "#ffffff"
public_base_url = "http://127.0.0.1:8080"
body_limit_bytes = 1048576
request_timeout_secs = 30
readiness_timeout_ms = 2000
secret_key = ""
cookie_secure = true
login_attempts_per_minute = 10
reset_requests_per_minute = 5
form_submissions_per_minute = 5
form_submissions_per_form_per_minute = 120
comments_per_session_per_minute = 5
comments_per_case_per_minute = 20
trusted_proxy_hops = 0
trusted_proxies = ""
trust_forwarded_for = false
allowed_hosts = ""

[auth]
"##;

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
    /// The case service's calls to other services.
    pub case: CaseSettings,
    /// Email out and in.
    pub notification: NotificationSettings,
    /// Contracts, SLA clocks and billing.
    pub billing: BillingSettings,
    /// Expiring keys: portal sessions, login counters, rate limits.
    pub kv: KvSettings,
    /// The customer portal: sessions, lock-out, links, what customers may choose.
    pub portal: PortalSettings,
    /// The knowledge base: where it reads closed cases.
    pub knowledge: KnowledgeSettings,
    /// The HTTP gateway: REST API, pages, probes.
    pub gateway: GatewaySettings,
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
        self.telemetry.validate()?;
        self.auth.validate()?;
        self.events.validate()?;
        self.case.validate()?;
        self.notification.validate()?;
        self.billing.validate()?;
        self.kv.validate()?;
        self.portal.validate()?;
        self.knowledge.validate()?;
        self.gateway.validate()?;
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
    fn proxy_settings_come_from_the_environment() {
        let settings = load_env(&[
            ("DOCKET__GATEWAY__TRUSTED_PROXY_HOPS", "2"),
            ("DOCKET__GATEWAY__TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"),
            ("DOCKET__GATEWAY__ALLOWED_HOSTS", "support.example.com"),
        ])
        .expect("valid");
        assert_eq!(settings.gateway.trusted_proxy_hops, 2);
        assert_eq!(settings.gateway.trusted_proxies, "10.0.0.0/8, fd00::/8");
        assert_eq!(settings.gateway.allowed_hosts, "support.example.com");
    }

    #[test]
    fn trusted_authserv_ids_come_from_the_environment() {
        assert!(load_env(&[]).expect("valid").notification.trusted_authserv_ids().is_empty(), "none trusted by default");
        let settings =
            load_env(&[("DOCKET__NOTIFICATION__TRUSTED_AUTHSERV_IDS", " mx.support.example,, relay.support.example ")])
                .expect("valid");
        assert_eq!(settings.notification.trusted_authserv_ids(), ["mx.support.example", "relay.support.example"]);
        let err = load_env(&[("DOCKET__NOTIFICATION__TRUSTED_AUTHSERV_IDS", "mx.support.example; dmarc=pass")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("notification.trusted_authserv_ids"), "{err}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = load_env(&[("DOCKET__GRPC__REQUEST_TIMEOUT_SECS", "soon")]).unwrap_err().to_string();
        assert!(err.contains("grpc.request_timeout_secs"), "{err}");

        let err = load_env(&[("DOCKET__DATABASE__URL", "mysql://x")]).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");

        let err = load_env(&[("DOCKET__GRPC__LISTEN", "not an address")]).unwrap_err().to_string();
        assert!(err.contains("grpc.listen"), "{err}");

        let err = load_env(&[("DOCKET__PORTAL__CUSTOMER_PRIORITIES", "low,urgent")]).unwrap_err().to_string();
        assert!(err.contains("portal.customer_priorities"), "{err}");

        let err = load_env(&[("DOCKET__PORTAL__LOCKOUT_ATTEMPTS", "0")]).unwrap_err().to_string();
        assert!(err.contains("portal.lockout_attempts"), "{err}");

        let err = load_env(&[("DOCKET__KV__URL", "http://127.0.0.1:6379")]).unwrap_err().to_string();
        assert!(err.contains("kv.url"), "{err}");
        for (var, key, value) in [
            ("DOCKET__GATEWAY__LISTEN", "gateway.listen", "8080"),
            ("DOCKET__GATEWAY__CASE_SERVICE_URL", "gateway.case_service_url", "case:50051"),
            ("DOCKET__GATEWAY__BRAND_COLOR", "gateway.brand_color", "blue"),
            // Pale yellow under white text cannot be read.
            ("DOCKET__GATEWAY__BRAND_COLOR", "gateway.brand_color", "#ffe066"),
            ("DOCKET__GATEWAY__BRAND_TEXT_COLOR", "gateway.brand_text_color", "#fff"),
            ("DOCKET__GATEWAY__PUBLIC_BASE_URL", "gateway.public_base_url", "https://support.example.com/"),
            ("DOCKET__GATEWAY__PUBLIC_BASE_URL", "gateway.public_base_url", "support.example.com"),
            ("DOCKET__GATEWAY__BODY_LIMIT_BYTES", "gateway.body_limit_bytes", "10"),
            ("DOCKET__GATEWAY__BODY_LIMIT_BYTES", "gateway.body_limit_bytes", "a lot"),
            ("DOCKET__GATEWAY__REQUEST_TIMEOUT_SECS", "gateway.request_timeout_secs", "0"),
            ("DOCKET__GATEWAY__PRODUCT_NAME", "gateway.product_name", " "),
            ("DOCKET__GATEWAY__COOKIE_SECURE", "gateway.cookie_secure", "maybe"),
            ("DOCKET__GATEWAY__LOGIN_ATTEMPTS_PER_MINUTE", "gateway.login_attempts_per_minute", "0"),
            ("DOCKET__GATEWAY__FORM_SUBMISSIONS_PER_MINUTE", "gateway.form_submissions_per_minute", "0"),
            ("DOCKET__GATEWAY__COMMENTS_PER_SESSION_PER_MINUTE", "gateway.comments_per_session_per_minute", "0"),
            ("DOCKET__GATEWAY__COMMENTS_PER_CASE_PER_MINUTE", "gateway.comments_per_case_per_minute", "0"),
            ("DOCKET__GATEWAY__TRUSTED_PROXIES", "gateway.trusted_proxies", "10.0.0.0/33"),
            ("DOCKET__GATEWAY__TRUSTED_PROXIES", "gateway.trusted_proxies", "10.0.0.0/8, proxy.internal"),
            ("DOCKET__GATEWAY__TRUSTED_PROXY_HOPS", "gateway.trusted_proxy_hops", "-1"),
            ("DOCKET__GATEWAY__ALLOWED_HOSTS", "gateway.allowed_hosts", "localhost:8080"),
        ] {
            let err = load_env(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(key), "{var}={value}: {err}");
        }
        // The secret is needed only to serve the gateway, and then it names its key.
        let settings = load_env(&[("DOCKET__GATEWAY__SECRET_KEY", "short")]).expect("other targets do not need it");
        let err = settings.gateway.validate_for_serving().unwrap_err().to_string();
        assert!(err.contains("gateway.service_token"), "{err}");
        let settings =
            load_env(&[("DOCKET__GATEWAY__SECRET_KEY", "short"), ("DOCKET__GATEWAY__SERVICE_TOKEN", "0123456789abcdef0123")])
                .expect("other targets do not need it");
        let err = settings.gateway.validate_for_serving().unwrap_err().to_string();
        assert!(err.contains("gateway.secret_key"), "{err}");

        let err = load_env(&[("DOCKET__AUTH__TOKENS__X__TOKEN", "short"), ("DOCKET__AUTH__TOKENS__X__ROLE", "admin")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.tokens.x.token"), "{err}");

        let err =
            load_env(&[("DOCKET__AUTH__TOKENS__X__TOKEN", "0123456789abcdef0123"), ("DOCKET__AUTH__TOKENS__X__ROLE", "king")])
                .unwrap_err()
                .to_string();
        assert!(err.contains("auth.tokens.x.role"), "{err}");

        // Only a service token may act for contacts, and it says so in the config.
        let err = load_env(&[
            ("DOCKET__AUTH__TOKENS__X__TOKEN", "0123456789abcdef0123"),
            ("DOCKET__AUTH__TOKENS__X__ROLE", "agent"),
            ("DOCKET__AUTH__TOKENS__X__ACTS_FOR_CONTACTS", "true"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("auth.tokens.x.acts_for_contacts"), "{err}");
        let settings = load_env(&[
            ("DOCKET__AUTH__TOKENS__PORTAL__TOKEN", "0123456789abcdef0123"),
            ("DOCKET__AUTH__TOKENS__PORTAL__ROLE", "service"),
            ("DOCKET__AUTH__TOKENS__PORTAL__ACTS_FOR_CONTACTS", "true"),
        ])
        .expect("a service token may");
        assert!(settings.auth.tokens["portal"].acts_for_contacts);
    }
}
