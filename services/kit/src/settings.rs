//! Configuration layering: built-in defaults, then an optional file, then
//! environment variables `DOCKET__SECTION__KEY`. Sections shared by every
//! binary live here; a binary composes them into its own `Settings`.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

use serde::{Deserialize, de::DeserializeOwned};

use crate::auth::Role;

/// Loads `T` from `defaults` (TOML text), the optional `file`, and the environment.
///
/// Errors name the offending key, e.g. ``invalid type: string "x", expected u64 for key `grpc.request_timeout_secs```.
pub fn load<T: DeserializeOwned>(defaults: &str, file: Option<&Path>) -> Result<T, config::ConfigError> {
    load_with_env(defaults, file, config::Environment::with_prefix("DOCKET").prefix_separator("__").separator("__"))
}

/// Like [`load`], with the environment source given (tests pass a map).
pub fn load_with_env<T: DeserializeOwned>(
    defaults: &str,
    file: Option<&Path>,
    env: config::Environment,
) -> Result<T, config::ConfigError> {
    let mut builder = config::Config::builder().add_source(config::File::from_str(defaults, config::FileFormat::Toml));
    if let Some(file) = file {
        builder = builder.add_source(config::File::from(file).required(true));
    }
    builder.add_source(env.try_parsing(true)).build()?.try_deserialize()
}

/// A configuration value that parsed but makes no sense; names its key.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`: {message}")]
pub struct InvalidSetting {
    pub key: String,
    pub message: String,
}

impl InvalidSetting {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user@host/db` (each service in its own schema), or
    /// `sqlite://dir/{service}.db?mode=rwc` (each service in its own file).
    pub url: String,
    /// PostgreSQL only: schema names are this prefix plus the service name.
    pub schema_prefix: String,
    /// Largest number of pooled connections per service (SQLite always uses one).
    pub max_connections: u32,
    /// Seconds to wait for a connection before failing a call.
    pub connect_timeout_secs: u64,
    /// Apply pending migrations when a service starts (on for `docket dev`;
    /// production runs `docket migrate up` as a separate step).
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let is_pg = self.url.starts_with("postgres://") || self.url.starts_with("postgresql://");
        let is_sqlite = self.url.starts_with("sqlite:");
        if !is_pg && !is_sqlite {
            return Err(InvalidSetting::new(
                "database.url",
                "must start with postgres:// or sqlite: (see README, Configuration)",
            ));
        }
        if is_sqlite && !self.url.contains("{service}") {
            return Err(InvalidSetting::new(
                "database.url",
                "a SQLite URL must contain {service}, so that each service gets its own file",
            ));
        }
        if !self.schema_prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(InvalidSetting::new("database.schema_prefix", "only a-z, 0-9 and _ are allowed"));
        }
        if self.max_connections == 0 {
            return Err(InvalidSetting::new("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcSettings {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// A call that takes longer is cancelled with DEADLINE_EXCEEDED.
    pub request_timeout_secs: u64,
    /// Seconds between database checks behind `grpc.health.v1`.
    pub health_check_interval_secs: u64,
}

impl GrpcSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.request_timeout_secs == 0 {
            return Err(InvalidSetting::new("grpc.request_timeout_secs", "must be at least 1"));
        }
        if self.health_check_interval_secs == 0 {
            return Err(InvalidSetting::new("grpc.health_check_interval_secs", "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info,docket_case=debug`; `RUST_LOG` wins when set.
    pub log_filter: String,
    /// Where `docket serve` and `docket dev` serve Prometheus metrics
    /// (`address:port`, e.g. `0.0.0.0:9464`); empty: nowhere.
    pub metrics_listen: String,
}

impl TelemetrySettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let listen = self.metrics_listen.trim();
        if !listen.is_empty() && listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(InvalidSetting::new(
                "telemetry.metrics_listen",
                format!("{listen:?} is not an address:port (e.g. 0.0.0.0:9464), nor empty"),
            ));
        }
        Ok(())
    }
}

/// One bearer token a caller may present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The secret itself; at least 16 characters.
    pub token: String,
    pub role: Role,
    /// For staff tokens: the staff user who acts. Without it the actor is
    /// `<role>:<token name>`.
    #[serde(default)]
    pub staff_id: Option<String>,
    /// Whether this (service) token may act for a customer contact with
    /// `x-docket-on-behalf-of`: only the portal service's needs it.
    #[serde(default)]
    pub acts_for_contacts: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Tokens by name, e.g. `[auth.tokens.billing]` or
    /// `DOCKET__AUTH__TOKENS__BILLING__TOKEN=...` with `..._ROLE=service`.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenSettings>,
}

impl AuthSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (name, token) in &self.tokens {
            if token.token.len() < 16 {
                return Err(InvalidSetting::new(format!("auth.tokens.{name}.token"), "must be at least 16 characters"));
            }
            if token.acts_for_contacts && token.role != crate::auth::Role::Service {
                return Err(InvalidSetting::new(
                    format!("auth.tokens.{name}.acts_for_contacts"),
                    format!("only a token of role service may act for contacts; this one is {}", token.role),
                ));
            }
        }
        Ok(())
    }
}
