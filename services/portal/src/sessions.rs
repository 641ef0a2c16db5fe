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

/// What the lock-out of one email at one client address counts under.
fn from(email: &str, client: &str) -> String {
    format!("{}\n{client}", email.trim().to_lowercase())
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

    /// Refuses a login while the email is locked out for this client
    /// address, or for every address.
    pub async fn check_lockout(&self, email: &str, client: &str) -> Result<()> {
        for key in [email_key("locked", &from(email, client)), email_key("locked", email)] {
            if let Some(left) = self.kv.ttl(&key).await.map_err(session_store)? {
                return Err(locked_out(left.min(self.lockout)));
            }
        }
        Ok(())
    }

    /// Counts a failed login. The `lockout_attempts`-th within the window
    /// from one client address locks the email for that address only, so
    /// a stranger elsewhere cannot lock the owner out; only
    /// [`EMAIL_WIDE_FACTOR`] times as many, from anywhere, lock it for
    /// every address (guessing spread over many addresses). Returns the
    /// lock-out, if it started now.
    pub async fn login_failed(&self, email: &str, client: &str) -> Result<Option<Error>> {
        let pair = from(email, client);
        let mut locked = None;
        // The email-wide count goes first: every failure counts there too.
        for (counted, limit) in [(email, self.lockout_attempts * EMAIL_WIDE_FACTOR), (pair.as_str(), self.lockout_attempts)] {
            let failures =
                self.kv.incr_with_ttl(&email_key("login-failures", counted), self.lockout_window).await.map_err(session_store)?;
            if failures >= limit {
                self.kv.put(&email_key("locked", counted), b"1", self.lockout).await.map_err(session_store)?;
                self.kv.delete(&email_key("login-failures", counted)).await.map_err(session_store)?;
                locked = Some(locked_out(self.lockout));
            }
        }
        Ok(locked)
    }

    /// Forgets the failures of an email after a successful login or reset
    /// (the password is known), from this address and everywhere.
    pub async fn login_succeeded(&self, email: &str, client: &str) -> Result<()> {
        for counted in [from(email, client), email.to_owned()] {
            self.kv.delete(&email_key("login-failures", &counted)).await.map_err(session_store)?;
            self.kv.delete(&email_key("locked", &counted)).await.map_err(session_store)?;
        }
        Ok(())
    }

    /// Whether another reset email may go to this address this hour.
    pub async fn reset_allowed(&self, email: &str) -> Result<bool> {
        let count =
            self.kv.incr_with_ttl(&email_key("reset-requests", email), Duration::from_secs(3600)).await.map_err(session_store)?;
        Ok(count <= self.resets_per_hour)
    }
}
