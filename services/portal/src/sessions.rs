//! Portal sessions and login counters, in the kit's expiring key store
//! (Redis in production, memory under `docket dev`).
//!
//! A session id is a 256-bit random secret; the store keeps the session
//! under the id's digest, so a copy of Redis holds no usable session. A
//! session remembers the user's session epoch when it was made: raising the
//! epoch in the database (password change, disabling, RevokeSessions) ends
//! every session of the user at once, in the same transaction as the change.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use docket_kit::{kv::KeyValue, secret};
use serde::{Deserialize, Serialize};

use crate::{
    config::PortalSettings,
    error::{Error, Result, internal, locked_out, session_store, unauthenticated},
};

/// What the store keeps of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    pub contact_id: String,
    /// The user's session epoch when the session was made.
    pub epoch: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_ip: String,
}

/// The answer to a session id that is not (or no longer) valid.
pub fn ended() -> Error {
    unauthenticated("the session has ended (expired, logged out or revoked); log in again")
}

fn session_key(id: &str) -> String {
    format!("portal:session:{}", secret::digest(id))
}

/// Keys of an email's counters carry its digest, not the address.
fn email_key(kind: &str, email: &str) -> String {
    format!("portal:{kind}:{}", secret::digest(&email.trim().to_lowercase()))
}

/// How many times the per-address lock-out's failures lock an email for
/// every address.
pub const EMAIL_WIDE_FACTOR: u64 = 10;

/// Web-form confirmation links one address gets per hour; submissions past
/// it still wait for an agent, with no link.
pub const CONFIRMATIONS_PER_HOUR: u64 = 3;

/// How long a browser stays known after a login in it.
pub const DEVICE_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

fn device_key(token: &str) -> String {
    format!("portal:device:{}", secret::digest(token))
}

/// Where a login attempt comes from, as the lock-out counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFrom {
    /// A client address.
    Address(String),
    /// A browser the user has proved the password in: a known device, or
    /// the session a password change is made in (by the digest).
    Browser(String),
}

impl LoginFrom {
    fn key(&self) -> &str {
        match self {
            LoginFrom::Address(client) => client,
            LoginFrom::Browser(key) => key,
        }
    }

    /// The session a password change is made in.
    pub fn session(session_id: &str) -> Self {
        LoginFrom::Browser(format!("session:{}", secret::digest(session_id)))
    }
}

/// Sessions, the login lock-out and the reset-request limit.
#[derive(Clone)]
pub struct Sessions {
    kv: Arc<dyn KeyValue>,
    ttl: Duration,
    lockout_attempts: u64,
    lockout_window: Duration,
    lockout: Duration,
    resets_per_hour: u64,
}

impl Sessions {
    pub fn new(kv: Arc<dyn KeyValue>, settings: &PortalSettings) -> Self {
        Self {
            kv,
            ttl: settings.session_ttl(),
            lockout_attempts: u64::from(settings.lockout_attempts),
            lockout_window: settings.lockout_window(),
            lockout: settings.lockout(),
            resets_per_hour: u64::from(settings.reset_requests_per_hour),
        }
    }

    /// A new session for a user; returns its secret id.
    pub async fn start(&self, contact_id: &str, epoch: i64, client_ip: &str) -> Result<(String, SessionData)> {
        let id = secret::token().map_err(|err| internal(format!("no random session id: {err}")))?;
        let now = docket_kit::time::now();
        let data = SessionData {
            contact_id: contact_id.to_owned(),
            epoch,
            created_at: now,
            expires_at: now + chrono::Duration::from_std(self.ttl).unwrap_or_else(|_| chrono::Duration::hours(8)),
            client_ip: client_ip.to_owned(),
        };
        let value = serde_json::to_vec(&data).map_err(|err| internal(format!("encoding a session: {err}")))?;
        self.kv.put(&session_key(&id), &value, self.ttl).await.map_err(session_store)?;
        Ok((id, data))
    }

    /// The session behind an id, if it is still in the store.
    pub async fn find(&self, id: &str) -> Result<Option<SessionData>> {
        let id = id.trim();
        // Not one of our ids: no need to ask the store.
        if id.len() != 43 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Ok(None);
        }
        let Some(value) = self.kv.get(&session_key(id)).await.map_err(session_store)? else { return Ok(None) };
        Ok(serde_json::from_slice(&value).ok())
    }

    /// Ends one session.
    pub async fn end(&self, id: &str) -> Result<()> {
        self.kv.delete(&session_key(id.trim())).await.map_err(session_store)?;
        Ok(())
    }

    /// A new device token: it marks the browser the user just proved the
    /// password in (the gateway keeps it in a long-lived cookie) for
    /// [`DEVICE_TTL`].
    pub async fn remember_device(&self, email: &str) -> Result<String> {
        let token = secret::token().map_err(|err| internal(format!("no random device token: {err}")))?;
        let owner = secret::digest(&email.trim().to_lowercase());
        self.kv.put(&device_key(&token), owner.as_bytes(), DEVICE_TTL).await.map_err(session_store)?;
        Ok(token)
    }

    /// Where a login for `email` comes from: the browser of `device_token`
    /// when the user has logged in there before, else the client address.
    pub async fn login_from(&self, email: &str, client: &str, device_token: &str) -> Result<LoginFrom> {
        let device_token = device_token.trim();
        if device_token.len() == 43 {
            let owner = secret::digest(&email.trim().to_lowercase());
            if self.kv.get(&device_key(device_token)).await.map_err(session_store)?.is_some_and(|v| v == owner.as_bytes()) {
                return Ok(LoginFrom::Browser(format!("device:{}", secret::digest(device_token))));
            }
        }
        Ok(LoginFrom::Address(client.to_owned()))
    }

    /// What the lock-out counts a login from `from` under, with the number
    /// of failures that locks each: an address counts for itself and, ten
    /// times over, for the whole email; a known browser only for itself.
    fn counted(&self, email: &str, from: &LoginFrom) -> Vec<(String, u64)> {
        let own = format!("{}\n{}", email.trim().to_lowercase(), from.key());
        match from {
            LoginFrom::Address(_) => {
                vec![(email.trim().to_lowercase(), self.lockout_attempts * EMAIL_WIDE_FACTOR), (own, self.lockout_attempts)]
            }
            LoginFrom::Browser(_) => vec![(own, self.lockout_attempts)],
        }
    }

    /// Refuses a login while the email is locked out where it comes from.
    pub async fn check_lockout(&self, email: &str, from: &LoginFrom) -> Result<()> {
        for (counted, _) in self.counted(email, from) {
            if let Some(left) = self.kv.ttl(&email_key("locked", &counted)).await.map_err(session_store)? {
                return Err(locked_out(left.min(self.lockout)));
            }
        }
        Ok(())
    }

    /// Counts a failed login. The `lockout_attempts`-th within the window
    /// from one client address (or known browser) locks the email there
    /// only, so a stranger elsewhere cannot lock the owner out; only
    /// [`EMAIL_WIDE_FACTOR`] times as many from addresses, anywhere, lock
    /// it for every address (guessing spread over many addresses), but not
    /// for the browsers the owner has logged in from. Returns the
    /// lock-out, if it started now.
    pub async fn login_failed(&self, email: &str, from: &LoginFrom) -> Result<Option<Error>> {
        let mut locked = None;
        for (counted, limit) in self.counted(email, from) {
            let failures = self
                .kv
                .incr_with_ttl(&email_key("login-failures", &counted), self.lockout_window)
                .await
                .map_err(session_store)?;
            if failures >= limit {
                self.kv.put(&email_key("locked", &counted), b"1", self.lockout).await.map_err(session_store)?;
                self.kv.delete(&email_key("login-failures", &counted)).await.map_err(session_store)?;
                locked = Some(locked_out(self.lockout));
            }
        }
        Ok(locked)
    }

    /// Forgets the failures of an email after a successful login or reset
    /// (the password is known), from where it came and everywhere.
    pub async fn login_succeeded(&self, email: &str, from: &LoginFrom) -> Result<()> {
        let mut counted = self.counted(email, from);
        counted.push((email.trim().to_lowercase(), 0));
        for (counted, _) in counted {
            self.kv.delete(&email_key("login-failures", &counted)).await.map_err(session_store)?;
            self.kv.delete(&email_key("locked", &counted)).await.map_err(session_store)?;
        }
        Ok(())
    }

    /// Whether another reset email may go to this address this hour.
    pub async fn reset_allowed(&self, email: &str) -> Result<bool> {
        self.allowed_this_hour("reset-requests", email, self.resets_per_hour).await
    }

    /// Whether another web-form confirmation link may go to this address
    /// this hour: whoever names a customer's address in forms cannot flood
    /// their mailbox from many client addresses.
    pub async fn confirmation_allowed(&self, email: &str) -> Result<bool> {
        self.allowed_this_hour("confirmation-requests", email, CONFIRMATIONS_PER_HOUR).await
    }

    async fn allowed_this_hour(&self, kind: &str, email: &str, limit: u64) -> Result<bool> {
        let count = self.kv.incr_with_ttl(&email_key(kind, email), Duration::from_secs(3600)).await.map_err(session_store)?;
        Ok(count <= limit)
    }
}
