//! Short-lived keys that expire on their own: portal sessions, login
//! failure counters, rate limits. Redis in production (shared by every
//! replica), memory under `docket dev`; the code using it never knows which.
//!
//! Keys are prefixed with `kv.key_prefix`, so several installations (or
//! tests) can share one Redis. Nothing here is the system of record: losing
//! it logs people out and resets counters, nothing more.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Deserialize;
use tokio::time::Instant;

use crate::settings::InvalidSetting;

/// Which store keeps the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvBackend {
    /// Redis (production): every replica sees the same sessions and counters.
    Redis,
    /// This process's memory (`docket dev`): lost when it stops.
    Memory,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvSettings {
    /// `redis` or `memory`.
    pub backend: KvBackend,
    /// Redis URL, e.g. `redis://:password@127.0.0.1:6379/0` (TLS is not built in).
    pub url: String,
    /// Put before every key, e.g. `docket:`.
    pub key_prefix: String,
    /// Milliseconds to wait for Redis before a call fails with UNAVAILABLE.
    pub timeout_ms: u64,
}

impl KvSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.backend == KvBackend::Redis && !self.url.starts_with("redis://") {
            return Err(InvalidSetting::new("kv.url", "must start with redis:// (this build has no Redis TLS)"));
        }
        if self.timeout_ms == 0 {
            return Err(InvalidSetting::new("kv.timeout_ms", "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The store cannot be reached or did not answer in time; retry later.
    #[error("the session store is unavailable: {0}")]
    Unavailable(String),
}

impl From<KvError> for tonic::Status {
    fn from(err: KvError) -> Self {
        tracing::warn!(error = %err, "key-value store unavailable");
        tonic::Status::unavailable("the session store is unavailable; retry later")
    }
}

/// Expiring keys. Every value has a time to live; nothing is kept forever.
#[async_trait::async_trait]
pub trait KeyValue: Send + Sync {
    /// Sets `key` to `value`, replacing what was there, for `ttl`.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError>;
    /// The value of `key`, unless it is missing or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Removes `key`; `true` if it was there.
    async fn delete(&self, key: &str) -> Result<bool, KvError>;
    /// Adds one to the counter `key` and returns the new count. The first
    /// increment starts a window of `window`, after which the counter is gone:
    /// a fixed-window counter for lock-outs and rate limits.
    async fn incr_with_ttl(&self, key: &str, window: Duration) -> Result<u64, KvError>;
    /// How long `key` still lives; `None` when it is missing.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError>;
    /// Keeps `version` of a record under `key` for `ttl`: its `value`, or
    /// with `None` a fence, which says "version is on its way: keep nothing
    /// older". Refused (`false`) when the key holds a later version, or the
    /// same version other than as a fence to be filled: so a reader that
    /// read a record before a change committed cannot put it back over the
    /// change's fence, whichever of the two comes first.
    async fn put_versioned(&self, key: &str, version: i64, value: Option<&[u8]>, ttl: Duration) -> Result<bool, KvError>;
    /// The value [`KeyValue::put_versioned`] keeps under `key`, with its
    /// version; `None` when the key is missing, expired or a fence.
    async fn get_versioned(&self, key: &str) -> Result<Option<(i64, Vec<u8>)>, KvError> {
        Ok(self.get(key).await?.and_then(|stored| match Versioned::parse(&stored) {
            Some((version, Some(value))) => Some((version, value.to_vec())),
            _ => None,
        }))
    }
}

/// How [`KeyValue::put_versioned`] stores a version: `<version>:d:<value>`
/// or, for a fence, `<version>:f:`. Redis' script reads the same prefix.
struct Versioned;

impl Versioned {
    fn encode(version: i64, value: Option<&[u8]>) -> Vec<u8> {
        let mut stored = format!("{version}:{}:", if value.is_some() { 'd' } else { 'f' }).into_bytes();
        stored.extend_from_slice(value.unwrap_or_default());
        stored
    }

    /// The version and the value (`None`: a fence) of a stored entry.
    fn parse(stored: &[u8]) -> Option<(i64, Option<&[u8]>)> {
        let colon = stored.iter().position(|b| *b == b':')?;
        let version = std::str::from_utf8(&stored[..colon]).ok()?.parse().ok()?;
        match stored.get(colon + 1..colon + 3)? {
            b"d:" => Some((version, Some(&stored[colon + 3..]))),
            b"f:" => Some((version, None)),
            _ => None,
        }
    }

    /// Whether `new` (a value when `data`) may replace what is stored.
    fn replaces(stored: Option<&[u8]>, new: i64, data: bool) -> bool {
        match stored.and_then(Versioned::parse) {
            None => true,
            Some((version, value)) => version < new || (version == new && value.is_none() && data),
        }
    }
}

/// The store the settings name. Redis is connected on first use (and again
/// after a lost connection), so a process starts while Redis is down and its
/// calls answer UNAVAILABLE until Redis is back.
pub fn connect(settings: &KvSettings) -> Result<Arc<dyn KeyValue>, InvalidSetting> {
    Ok(match settings.backend {
        KvBackend::Memory => Arc::new(MemoryKv::new(&settings.key_prefix)),
        KvBackend::Redis => Arc::new(RedisKv::new(settings)?),
    })
}

/// Milliseconds of a TTL, at least 1 (0 would mean "no expiry" to Redis).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Keys in Redis.
pub struct RedisKv {
    connection: redis::aio::ConnectionManager,
    prefix: String,
    timeout: Duration,
    /// The scripts, hashed once: `Script::new` takes the SHA-1 of the
    /// source, which a busy cache write did on every call.
    incr_with_ttl: redis::Script,
    put_versioned: redis::Script,
}

/// Adds one, and starts the window when the counter is new (or somehow has
/// no expiry): atomic, so a crash between the two steps cannot leave a
/// counter that never expires.
const INCR_WITH_TTL: &str = r"
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
";

/// [`KeyValue::put_versioned`] in one step, so nothing comes between the
/// look at the stored version and the write (`Versioned::replaces`).
const PUT_VERSIONED: &str = r"
local stored = redis.call('GET', KEYS[1])
if stored then
  local version, kind = string.match(stored, '^(%-?%d+):(%a):')
  version = tonumber(version)
  local new = tonumber(ARGV[1])
  if version and (version > new or (version == new and not (kind == 'f' and ARGV[2] == 'd'))) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1
";

impl RedisKv {
    pub fn new(settings: &KvSettings) -> Result<Self, InvalidSetting> {
        let client = redis::Client::open(settings.url.as_str()).map_err(|err| InvalidSetting::new("kv.url", err.to_string()))?;
        let timeout = Duration::from_millis(settings.timeout_ms);
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2);
        let connection = redis::aio::ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|err| InvalidSetting::new("kv.url", err.to_string()))?;
        Ok(Self {
            connection,
            prefix: settings.key_prefix.clone(),
            timeout,
            incr_with_ttl: redis::Script::new(INCR_WITH_TTL),
            put_versioned: redis::Script::new(PUT_VERSIONED),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs a command with the call's time limit.
    async fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, KvError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.query_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(KvError::Unavailable(err.to_string())),
            Err(_) => Err(KvError::Unavailable(format!("no answer within {:?}", self.timeout))),
        }
    }

    /// Runs a script with the call's time limit.
    async fn invoke<T: redis::FromRedisValue>(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<T, KvError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(KvError::Unavailable(err.to_string())),
            Err(_) => Err(KvError::Unavailable(format!("no answer within {:?}", self.timeout))),
        }
    }
}

#[async_trait::async_trait]
impl KeyValue for RedisKv {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        self.run::<()>(redis::cmd("SET").arg(self.key(key)).arg(value).arg("PX").arg(millis(ttl))).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.run(redis::cmd("GET").arg(self.key(key))).await
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.run::<u64>(redis::cmd("DEL").arg(self.key(key))).await? > 0)
    }

    async fn incr_with_ttl(&self, key: &str, window: Duration) -> Result<u64, KvError> {
        let mut invocation = self.incr_with_ttl.key(self.key(key));
        invocation.arg(millis(window));
        self.invoke(&invocation).await
    }

    async fn put_versioned(&self, key: &str, version: i64, value: Option<&[u8]>, ttl: Duration) -> Result<bool, KvError> {
        let mut invocation = self.put_versioned.key(self.key(key));
        invocation
            .arg(version)
            .arg(if value.is_some() { "d" } else { "f" })
            .arg(Versioned::encode(version, value))
            .arg(millis(ttl));
        Ok(self.invoke::<i64>(&invocation).await? == 1)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        // -2: no such key; -1: no expiry (never written by this module).
        let ms: i64 = self.run(redis::cmd("PTTL").arg(self.key(key))).await?;
        Ok(match ms {
            -2 => None,
            ms if ms < 0 => Some(Duration::MAX),
            ms => Some(Duration::from_millis(ms.unsigned_abs())),
        })
    }
}

/// Keys in this process's memory, for `docket dev` and tests.
pub struct MemoryKv {
    prefix: String,
    entries: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    values: HashMap<String, (Vec<u8>, Instant)>,
    /// Writes since the last sweep of expired keys.
    writes: usize,
}

impl Memory {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (Vec<u8>, Instant)> {
        if self.values.get(key).is_some_and(|(_, expires)| *expires <= now) {
            self.values.remove(key);
        }
        self.values.get_mut(key)
    }

    /// Drops expired keys now and then, so memory follows the live keys.
    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes >= 1024 {
            self.writes = 0;
            self.values.retain(|_, (_, expires)| *expires > now);
        }
    }
}

impl MemoryKv {
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned(), entries: Mutex::new(Memory::default()) }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Memory, Instant) -> T) -> T {
        // A panic while holding the lock leaves plain data behind; keep using it.
        let mut memory = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut memory, Instant::now())
    }
}

#[async_trait::async_trait]
impl KeyValue for MemoryKv {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        let key = self.key(key);
        self.with(|memory, now| {
            memory.values.insert(key, (value.to_vec(), now + Duration::from_millis(millis(ttl))));
            memory.wrote(now);
        });
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let key = self.key(key);
        Ok(self.with(|memory, now| memory.live(&key, now).map(|(value, _)| value.clone())))
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let key = self.key(key);
        Ok(self.with(|memory, now| {
            let live = memory.live(&key, now).is_some();
            memory.values.remove(&key);
            live
        }))
    }

    async fn incr_with_ttl(&self, key: &str, window: Duration) -> Result<u64, KvError> {
        let key = self.key(key);
        Ok(self.with(|memory, now| {
            let count = match memory.live(&key, now) {
                Some((value, _)) => {
                    let count = std::str::from_utf8(value).ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
                    *value = count.to_string().into_bytes();
                    count
                }
                None => {
                    memory.values.insert(key, (b"1".to_vec(), now + Duration::from_millis(millis(window))));
                    1
                }
            };
            memory.wrote(now);
            count
        }))
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        let key = self.key(key);
        Ok(self.with(|memory, now| memory.live(&key, now).map(|(_, expires)| expires.saturating_duration_since(now))))
    }

    async fn put_versioned(&self, key: &str, version: i64, value: Option<&[u8]>, ttl: Duration) -> Result<bool, KvError> {
        let key = self.key(key);
        Ok(self.with(|memory, now| {
            let stored = memory.live(&key, now).map(|(stored, _)| stored.as_slice());
            if !Versioned::replaces(stored, version, value.is_some()) {
                return false;
            }
            memory.values.insert(key, (Versioned::encode(version, value), now + Duration::from_millis(millis(ttl))));
            memory.wrote(now);
            true
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_settings_need_a_redis_url() {
        let settings =
            KvSettings { backend: KvBackend::Redis, url: "http://x".into(), key_prefix: "docket:".into(), timeout_ms: 1000 };
        assert_eq!(settings.validate().unwrap_err().key, "kv.url");
        let memory = KvSettings { backend: KvBackend::Memory, ..settings };
        memory.validate().unwrap();
    }
}
