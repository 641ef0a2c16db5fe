//! The operator's configuration of the portal service (`[portal]`).

use std::time::Duration;

use docket_kit::settings::InvalidSetting;
use serde::Deserialize;

/// Case priorities by their configuration names.
pub const PRIORITY_NAMES: &[&str] = &["low", "medium", "high", "critical"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// Where the case service answers, e.g. `http://127.0.0.1:50051`.
    pub case_service_url: String,
    /// A `service` token the case service accepts (see `auth.tokens`).
    pub service_token: String,
    /// How long a session lasts after login, in seconds.
    pub session_ttl_secs: u64,
    /// Failed logins for one email within `lockout_window_secs` that lock it.
    pub lockout_attempts: u32,
    pub lockout_window_secs: u64,
    /// How long a locked email cannot log in, in seconds.
    pub lockout_secs: u64,
    /// How long an invitation link works, in hours.
    pub invitation_ttl_hours: u64,
    /// How long a password-reset link works, in minutes.
    pub reset_ttl_minutes: u64,
    /// Reset emails one address may ask for per hour (more are silently not sent).
    pub reset_requests_per_hour: u32,
    /// Days after closing during which a customer may reopen a case.
    pub reopen_window_days: u32,
    /// Shortest password, in characters.
    pub password_min_length: usize,
    /// Case types a customer may choose, comma-separated keys
    /// (e.g. `technical_issue,service_request`); empty: every active type.
    pub customer_case_types: String,
    /// Priorities a customer may choose, comma-separated: low, medium, high, critical.
    pub customer_priorities: String,
}

impl PortalSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !(self.case_service_url.starts_with("http://") || self.case_service_url.starts_with("https://")) {
            return Err(InvalidSetting::new("portal.case_service_url", "must start with http:// or https://"));
        }
        for (key, value) in [
            ("portal.session_ttl_secs", self.session_ttl_secs),
            ("portal.lockout_window_secs", self.lockout_window_secs),
            ("portal.lockout_secs", self.lockout_secs),
            ("portal.invitation_ttl_hours", self.invitation_ttl_hours),
            ("portal.reset_ttl_minutes", self.reset_ttl_minutes),
        ] {
            if value == 0 {
                return Err(InvalidSetting::new(key, "must be at least 1"));
            }
        }
        if self.lockout_attempts == 0 {
            return Err(InvalidSetting::new("portal.lockout_attempts", "must be at least 1"));
        }
        if !(8..=128).contains(&self.password_min_length) {
            return Err(InvalidSetting::new("portal.password_min_length", "must be between 8 and 128"));
        }
        for key in self.case_types() {
            if key.len() > 50 || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Err(InvalidSetting::new("portal.customer_case_types", format!("`{key}` is not a case type key")));
            }
        }
        let priorities = self.priorities();
        if priorities.is_empty() {
            return Err(InvalidSetting::new("portal.customer_priorities", "name at least one of low, medium, high, critical"));
        }
        if let Some(unknown) = priorities.iter().find(|p| !PRIORITY_NAMES.contains(p)) {
            return Err(InvalidSetting::new(
                "portal.customer_priorities",
                format!("`{unknown}` is not one of low, medium, high, critical"),
            ));
        }
        Ok(())
    }

    /// Checked when the portal service starts (other targets do not need it).
    pub fn validate_for_serving(&self) -> Result<(), InvalidSetting> {
        if self.service_token.len() < 16 {
            return Err(InvalidSetting::new(
                "portal.service_token",
                "is required to run the portal service: a service token of the case service (16+ characters)",
            ));
        }
        Ok(())
    }

    /// The case type keys customers may choose; empty means every active type.
    pub fn case_types(&self) -> Vec<&str> {
        split(&self.customer_case_types)
    }

    /// The priority names customers may choose.
    pub fn priorities(&self) -> Vec<&str> {
        split(&self.customer_priorities)
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_secs)
    }

    pub fn lockout_window(&self) -> Duration {
        Duration::from_secs(self.lockout_window_secs)
    }

    pub fn lockout(&self) -> Duration {
        Duration::from_secs(self.lockout_secs)
    }

    pub fn invitation_ttl(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::try_from(self.invitation_ttl_hours).unwrap_or(24 * 365))
    }

    pub fn reset_ttl(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::try_from(self.reset_ttl_minutes).unwrap_or(60 * 24))
    }
}

fn split(list: &str) -> Vec<&str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
}
