//! The operator's configuration of the notification service (`[notification]`).

use serde::Deserialize;

use docket_kit::settings::InvalidSetting;

/// How outgoing email leaves the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTransportKind {
    /// An SMTP server (production).
    Smtp,
    /// `.eml` files in `mailbox_dir` (`docket dev`): what would have been sent.
    Mailbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Where the case service answers, e.g. `http://127.0.0.1:50051`.
    pub case_service_url: String,
    /// Where the portal service answers: invitation, reset and confirmation
    /// emails ask it for their link's secret as they are written.
    pub portal_service_url: String,
    /// A `service` token the case and portal services accept (see `auth.tokens`).
    pub service_token: String,
    /// `smtp` or `mailbox`.
    pub transport: MailTransportKind,
    /// Where `mailbox` writes `.eml` files.
    pub mailbox_dir: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    pub smtp_password: String,
    /// How long one SMTP command may take; one email may take twice that.
    pub smtp_timeout_secs: u64,
    /// Emails sent at once, each over its own pooled SMTP connection.
    pub smtp_pool_size: u32,
    /// How often due emails are sent.
    pub send_interval_ms: u64,
    /// Attempts before an email is marked failed.
    pub max_attempts: i32,
    /// First retry delay of a failed send; doubles per attempt, at most an hour.
    pub retry_base_secs: u64,
    /// The domain in Message-IDs, e.g. `support.example.com`.
    pub message_id_domain: String,
    /// The account that receives contacts first met by email.
    pub unassigned_account_name: String,
    /// Comma-separated authserv-ids of our own MTA (`mx.support.example`):
    /// only `Authentication-Results` fields naming one are believed, since
    /// anyone can write the others. Empty: none are.
    pub trusted_authserv_ids: String,
}

impl NotificationSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !(self.case_service_url.starts_with("http://") || self.case_service_url.starts_with("https://")) {
            return Err(InvalidSetting::new("notification.case_service_url", "must start with http:// or https://"));
        }
        if !(self.portal_service_url.starts_with("http://") || self.portal_service_url.starts_with("https://")) {
            return Err(InvalidSetting::new("notification.portal_service_url", "must start with http:// or https://"));
        }
        if self.transport == MailTransportKind::Smtp && self.smtp_host.trim().is_empty() {
            return Err(InvalidSetting::new("notification.smtp_host", "is required for the smtp transport"));
        }
        if self.max_attempts < 1 {
            return Err(InvalidSetting::new("notification.max_attempts", "must be at least 1"));
        }
        if self.smtp_pool_size == 0 || self.smtp_pool_size > 100 {
            return Err(InvalidSetting::new("notification.smtp_pool_size", "must be between 1 and 100"));
        }
        if self.send_interval_ms == 0 {
            return Err(InvalidSetting::new("notification.send_interval_ms", "must be at least 1"));
        }
        if self.message_id_domain.trim().is_empty() || self.message_id_domain.contains(['<', '>', '@', ' ']) {
            return Err(InvalidSetting::new("notification.message_id_domain", "must be a domain name"));
        }
        if self
            .trusted_authserv_ids()
            .iter()
            .any(|id| id.contains(|c: char| c.is_whitespace() || c.is_control() || ";()\"".contains(c)))
        {
            return Err(InvalidSetting::new(
                "notification.trusted_authserv_ids",
                "must be comma-separated authserv-ids (host names) without spaces, quotes, parentheses or `;`",
            ));
        }
        Ok(())
    }

    /// The entries of `trusted_authserv_ids`, trimmed, without empty ones.
    pub fn trusted_authserv_ids(&self) -> Vec<String> {
        self.trusted_authserv_ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect()
    }

    /// Checked when the notification service starts (other targets do not need it).
    pub fn validate_for_serving(&self) -> Result<(), InvalidSetting> {
        if self.service_token.len() < 16 {
            return Err(InvalidSetting::new(
                "notification.service_token",
                "is required to run the notification service: a service token of the case service (16+ characters)",
            ));
        }
        Ok(())
    }
}
