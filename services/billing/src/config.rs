//! The operator's configuration of the billing service (`[billing]`).

use docket_kit::settings::InvalidSetting;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// Where the case service answers, e.g. `http://127.0.0.1:50051`: the
    /// billing service checks accounts, cases and staff there.
    pub case_service_url: String,
    /// A `service` token the case service accepts (see `auth.tokens`).
    pub service_token: String,
    /// How often the SLA scheduler looks for clocks that fall due.
    pub sla_sweep_interval_ms: u64,
    /// Clocks one sweep transaction handles at most.
    pub sla_sweep_batch: u64,
    /// Currency of cases without a contract (ISO 4217).
    pub default_currency: String,
    /// Hourly rate of cases without a contract, in minor units.
    pub default_hourly_rate_minor: i64,
    /// Tax of invoices of cases without a contract, in basis points (1900 = 19 %).
    pub default_tax_rate_bp: i32,
    /// Who issues work orders: printed at their top.
    pub business_name: String,
}

impl BillingSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.sla_sweep_interval_ms == 0 {
            return Err(InvalidSetting::new("billing.sla_sweep_interval_ms", "must be at least 1"));
        }
        if self.sla_sweep_batch == 0 {
            return Err(InvalidSetting::new("billing.sla_sweep_batch", "must be at least 1"));
        }
        if crate::domain::money::Currency::parse(&self.default_currency).is_err() {
            return Err(InvalidSetting::new("billing.default_currency", "must be an ISO 4217 code such as EUR"));
        }
        if self.default_hourly_rate_minor < 0 {
            return Err(InvalidSetting::new("billing.default_hourly_rate_minor", "must not be negative"));
        }
        if self.business_name.trim().is_empty() || self.business_name.chars().count() > 200 {
            return Err(InvalidSetting::new("billing.business_name", "must be 1 to 200 characters"));
        }
        if !(0..=10_000).contains(&self.default_tax_rate_bp) {
            return Err(InvalidSetting::new("billing.default_tax_rate_bp", "must be between 0 and 10000"));
        }
        Ok(())
    }

    /// Checked when the billing service starts (other targets do not need it).
    pub fn validate_for_serving(&self) -> Result<(), InvalidSetting> {
        if self.service_token.len() < 16 {
            return Err(InvalidSetting::new(
                "billing.service_token",
                "is required to run the billing service: a service token of the case service (16+ characters)",
            ));
        }
        Ok(())
    }
}
