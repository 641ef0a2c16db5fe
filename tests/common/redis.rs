//! Redis for tests: each test gets its own key prefix on the machine's
//! Redis, and deletes its keys when done (they also expire on their own).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use docket_kit::kv::{KeyValue, KvBackend, KvSettings, connect};

/// Redis the tests use; override with DOCKET_TEST_REDIS_URL.
pub fn redis_url() -> String {
    std::env::var("DOCKET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Kv settings of one test: Redis under a key prefix of its own.
pub fn test_kv(prefix: &str) -> KvSettings {
    KvSettings { backend: KvBackend::Redis, url: redis_url(), key_prefix: prefix.to_owned(), timeout_ms: 2000 }
}

/// A unique key prefix on the test Redis.
pub struct RedisPrefix {
    prefix: String,
}

impl RedisPrefix {
    /// Checks that Redis answers (failing the test with what to start if
    /// not) and picks a prefix no other test uses.
    pub async fn new() -> RedisPrefix {
        let url = redis_url();
        let client = redis::Client::open(url.as_str()).expect("a Redis URL");
        let mut connection = match tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(err)) => panic!(
                "Redis is not reachable at {url}: {err}.\nStart it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''"
            ),
            Err(_) => panic!("Redis at {url} did not answer within 5 s; is it running?"),
        };
        let _: String = redis::cmd("PING").query_async(&mut connection).await.expect("Redis answers PING");
        RedisPrefix { prefix: format!("docket-test:{}:", uuid::Uuid::now_v7().simple()) }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A store writing under this prefix.
    pub fn store(&self) -> Arc<dyn KeyValue> {
        connect(&test_kv(&self.prefix)).expect("a Redis store")
    }

    /// The keys under this prefix.
    pub async fn keys(&self) -> Vec<String> {
        let client = redis::Client::open(redis_url().as_str()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    /// Deletes every key under this prefix.
    pub async fn clean(&self) {
        let keys = self.keys().await;
        if keys.is_empty() {
            return;
        }
        let client = redis::Client::open(redis_url().as_str()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let _: u64 = redis::cmd("DEL").arg(keys).query_async(&mut connection).await.unwrap();
    }
}
