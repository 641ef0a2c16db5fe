//! The operator's configuration of the case service (`[case]`).

use docket_kit::settings::InvalidSetting;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSettings {
    /// Where the billing service answers, e.g. `http://127.0.0.1:50051`: a
    /// case's service contract is checked there when a case is created or
    /// its contract changes, and a covering contract is attached to a new
    /// case that names none. Empty: contract references are not checked.
    pub billing_service_url: String,
    /// A `service` token the billing service accepts.
    pub service_token: String,
    /// How often out-of-office periods that began or ended move cases,
    /// and capacity queues hand out what they can (see `sweeper`).
    pub routing_sweep_interval_ms: u64,
}

impl CaseSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let url = self.billing_service_url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(InvalidSetting::new("case.billing_service_url", "must start with http:// or https://, or be empty"));
        }
        if self.routing_sweep_interval_ms < 100 {
            return Err(InvalidSetting::new("case.routing_sweep_interval_ms", "must be at least 100"));
        }
        if !url.is_empty() && self.service_token.len() < 16 {
            return Err(InvalidSetting::new(
                "case.service_token",
                "is required when case.billing_service_url is set: a service token of the billing service (16+ characters)",
            ));
        }
        Ok(())
    }
}
