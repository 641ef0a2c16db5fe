//! The operator's configuration of the knowledge service (`[knowledge]`).

use docket_kit::settings::InvalidSetting;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeSettings {
    /// Where the case service answers: the knowledge service reads a closed
    /// case's contacts, account and public notes there to propose a draft.
    pub case_service_url: String,
    /// A `service` token the case service accepts (see `auth.tokens`).
    pub service_token: String,
}

impl KnowledgeSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !(self.case_service_url.starts_with("http://") || self.case_service_url.starts_with("https://")) {
            return Err(InvalidSetting::new("knowledge.case_service_url", "must start with http:// or https://"));
        }
        Ok(())
    }

    pub fn validate_for_serving(&self) -> Result<(), InvalidSetting> {
        if self.service_token.len() < 16 {
            return Err(InvalidSetting::new(
                "knowledge.service_token",
                "is required to run the knowledge service: a service token of the case service (16+ characters)",
            ));
        }
        Ok(())
    }
}
