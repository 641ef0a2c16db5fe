//! The operator's configuration of the HTTP gateway (`[gateway]`).

use std::{net::SocketAddr, time::Duration};

use docket_kit::settings::InvalidSetting;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where the case service answers gRPC, e.g. `http://case:50051`.
    pub case_service_url: String,
    /// Where the portal service answers gRPC (portal pages, web forms).
    pub portal_service_url: String,
    /// Where the billing service answers gRPC (SLA state, work orders).
    pub billing_service_url: String,
    /// Where the knowledge service answers gRPC (the help center, `/api/v1/kb`).
    pub knowledge_service_url: String,
    /// The gateway's own `service` token: the portal pages and web forms
    /// call the portal service with it on a visitor's behalf (required to
    /// serve the gateway). Staff API calls carry the caller's own token.
    pub service_token: String,
    /// The product's name in page titles and headers, e.g. `Acme Support`.
    pub product_name: String,
    /// The business that runs this installation, shown in the page footer.
    pub business_name: String,
    /// Brand colour of the page header and buttons, `#rrggbb`. Must reach a
    /// contrast of 4.5:1 with `brand_text_color` (WCAG AA).
    pub brand_color: String,
    /// Colour of text on the brand colour, `#rrggbb`.
    pub brand_text_color: String,
    /// The address people reach the gateway at, e.g. `https://support.example.com`;
    /// links in pages and emails start with it. `https://` turns on HSTS.
    pub public_base_url: String,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub body_limit_bytes: usize,
    /// A request that takes longer is answered with 504.
    pub request_timeout_secs: u64,
    /// How long `/readyz` waits for each upstream's health answer.
    pub readiness_timeout_ms: u64,
    /// The key that signs CSRF tokens: 32+ characters, the same on every
    /// replica (required to serve the gateway; `docket dev` makes one).
    pub secret_key: String,
    /// Mark cookies `Secure` (only sent over HTTPS). Off only for plain-HTTP
    /// development (`docket dev` turns it off).
    pub cookie_secure: bool,
    /// Portal logins one client address may try per minute; the next ones
    /// are refused (429) until the minute is over.
    pub login_attempts_per_minute: u32,
    /// Password-reset requests one client address may send per minute,
    /// whatever the addresses they name (the portal service limits each
    /// email on its own).
    pub reset_requests_per_minute: u32,
    /// Web form submissions one client address may send to one form per
    /// minute.
    pub form_submissions_per_minute: u32,
    /// Web form submissions one form takes per minute from everyone.
    pub form_submissions_per_form_per_minute: u32,
    /// Portal comments one session may send per minute (pages and JSON);
    /// the next ones are refused (429) with the text kept.
    pub comments_per_session_per_minute: u32,
    /// Portal comments one case takes per minute from all its customers'
    /// sessions together. Only comments the portal accepted count, so
    /// someone who cannot see a case cannot use up its minute.
    pub comments_per_case_per_minute: u32,
    /// How many proxies in front of the gateway (ingress, load balancer)
    /// append the address they saw to `X-Forwarded-For`; the client address
    /// is found counting that many hops from the right. 0: none, the header
    /// is ignored (unless `trusted_proxies` names networks).
    pub trusted_proxy_hops: u32,
    /// Networks of the proxies in front of the gateway, comma-separated
    /// CIDR (`10.0.0.0/8, fd00::/8`): a hop from one of them is a proxy, so
    /// the walk through `X-Forwarded-For` goes on past it. Empty: none.
    pub trusted_proxies: String,
    /// The old switch: `true` with neither `trusted_proxy_hops` nor
    /// `trusted_proxies` set means one trusted hop.
    pub trust_forwarded_for: bool,
    /// Host names the gateway answers to, comma-separated, any port
    /// (`localhost`, `*.localhost`, `127.0.0.1`, `[::1]`); a request for
    /// another host gets 421. Empty: any host. `docket dev` sets the
    /// loopback names, against DNS rebinding.
    pub allowed_hosts: String,
}

impl GatewaySettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn readiness_timeout(&self) -> Duration {
        Duration::from_millis(self.readiness_timeout_ms)
    }

    /// Checks what can be checked without serving; every binary loads the
    /// section, so a key only the gateway needs is checked in
    /// [`validate_for_serving`](Self::validate_for_serving).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (key, url) in [
            ("gateway.case_service_url", &self.case_service_url),
            ("gateway.portal_service_url", &self.portal_service_url),
            ("gateway.billing_service_url", &self.billing_service_url),
            ("gateway.knowledge_service_url", &self.knowledge_service_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(InvalidSetting::new(key, "must start with http:// or https://"));
            }
        }
        if self.product_name.trim().is_empty() || self.product_name.chars().count() > 80 {
            return Err(InvalidSetting::new("gateway.product_name", "must be 1 to 80 characters"));
        }
        if self.business_name.trim().is_empty() || self.business_name.chars().count() > 120 {
            return Err(InvalidSetting::new("gateway.business_name", "must be 1 to 120 characters"));
        }
        let brand = Rgb::parse(&self.brand_color)
            .ok_or_else(|| InvalidSetting::new("gateway.brand_color", "must be a colour written #rrggbb"))?;
        let text = Rgb::parse(&self.brand_text_color)
            .ok_or_else(|| InvalidSetting::new("gateway.brand_text_color", "must be a colour written #rrggbb"))?;
        let ratio = brand.contrast(text);
        if ratio < 4.5 {
            return Err(InvalidSetting::new(
                "gateway.brand_color",
                format!(
                    "{} on {} has a contrast of {ratio:.2}:1; text needs at least 4.5:1 (WCAG AA): \
                     choose a darker or lighter colour, or another gateway.brand_text_color",
                    self.brand_text_color, self.brand_color
                ),
            ));
        }
        let base = self.public_base_url.as_str();
        let valid_base = (base.starts_with("http://") || base.starts_with("https://"))
            && !base.ends_with('/')
            && base.parse::<http::Uri>().is_ok_and(|uri| uri.host().is_some() && uri.path() == "/" && uri.query().is_none());
        if !valid_base {
            return Err(InvalidSetting::new(
                "gateway.public_base_url",
                "must be an http:// or https:// address without a path or trailing slash, e.g. https://support.example.com",
            ));
        }
        if self.body_limit_bytes < 1024 {
            return Err(InvalidSetting::new("gateway.body_limit_bytes", "must be at least 1024"));
        }
        if self.request_timeout_secs == 0 {
            return Err(InvalidSetting::new("gateway.request_timeout_secs", "must be at least 1"));
        }
        if self.readiness_timeout_ms == 0 {
            return Err(InvalidSetting::new("gateway.readiness_timeout_ms", "must be at least 1"));
        }
        for (key, limit) in [
            ("gateway.login_attempts_per_minute", self.login_attempts_per_minute),
            ("gateway.reset_requests_per_minute", self.reset_requests_per_minute),
            ("gateway.form_submissions_per_minute", self.form_submissions_per_minute),
            ("gateway.form_submissions_per_form_per_minute", self.form_submissions_per_form_per_minute),
            ("gateway.comments_per_session_per_minute", self.comments_per_session_per_minute),
            ("gateway.comments_per_case_per_minute", self.comments_per_case_per_minute),
        ] {
            if limit == 0 {
                return Err(InvalidSetting::new(key, "must be at least 1"));
            }
        }
        crate::limits::ProxyTrust::from_settings(self)
            .map_err(|message| InvalidSetting::new("gateway.trusted_proxies", message))?;
        crate::security::AllowedHosts::parse(&self.allowed_hosts)
            .map_err(|message| InvalidSetting::new("gateway.allowed_hosts", message))?;
        Ok(())
    }

    /// Checked when the gateway starts (other targets do not need it).
    pub fn validate_for_serving(&self) -> Result<(), InvalidSetting> {
        if self.service_token.chars().count() < 16 {
            return Err(InvalidSetting::new(
                "gateway.service_token",
                "is required to run the gateway: a `service` token of the portal service (16+ characters)",
            ));
        }
        if self.secret_key.chars().count() < 32 {
            return Err(InvalidSetting::new(
                "gateway.secret_key",
                "is required to run the gateway: a random secret of at least 32 characters, the same on every replica",
            ));
        }
        Ok(())
    }

    /// Whether people reach the gateway over HTTPS (then browsers are told to
    /// keep to it).
    pub fn is_https(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }
}

/// A colour, for the contrast check of the brand colours.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgb([u8; 3]);

impl Rgb {
    fn parse(text: &str) -> Option<Rgb> {
        let hex = text.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()))?;
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb([channel(0)?, channel(2)?, channel(4)?]))
    }

    /// Relative luminance (WCAG 2.x).
    fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.03928 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * linear(self.0[0]) + 0.7152 * linear(self.0[1]) + 0.0722 * linear(self.0[2])
    }

    /// Contrast ratio between two colours, 1 to 21.
    fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_follows_wcag() {
        let white = Rgb::parse("#ffffff").unwrap();
        let black = Rgb::parse("#000000").unwrap();
        assert!((white.contrast(black) - 21.0).abs() < 0.01);
        assert!((white.contrast(white) - 1.0).abs() < 0.01);
        // The default brand colour passes with white text; a light yellow does not.
        assert!(Rgb::parse("#1f5fa8").unwrap().contrast(white) >= 4.5);
        assert!(Rgb::parse("#ffe066").unwrap().contrast(white) < 4.5);
        assert_eq!(Rgb::parse("1f5fa8"), None);
        assert_eq!(Rgb::parse("#1f5fa"), None);
        assert_eq!(Rgb::parse("#1g5fa8"), None);
    }
}
