//! The expiring key store behind sessions, login counters and rate limits,
//! on both backends: Redis over a real connection and memory.

use std::{sync::Arc, time::Duration};

use docket_kit::kv::{KeyValue, KvBackend, KvError, KvSettings, connect};

use crate::common::{eventually_within, proxy::TcpProxy, redis::RedisPrefix};

/// Runs each listed `async fn name(kv: Arc<dyn KeyValue>)` on Redis (a
/// unique key prefix, cleaned up after) and on memory.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    let prefix = crate::common::redis::RedisPrefix::new().await;
                    super::$test(prefix.store()).await;
                    prefix.clean().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    super::$test(super::memory()).await;
                }
            }
        )*
    };
}

/// Waits until the store says `key` has no time left (it expired), failing
/// the test if it still lives after five seconds.
async fn expired(kv: &Arc<dyn KeyValue>, key: &str) {
    eventually_within(Duration::from_secs(5), &format!("{key} to expire"), async || match kv.ttl(key).await.unwrap() {
        None => Ok(()),
        Some(left) => Err(format!("{left:?} left")),
    })
    .await;
}

fn memory() -> Arc<dyn KeyValue> {
    connect(&KvSettings { backend: KvBackend::Memory, url: String::new(), key_prefix: "t:".to_owned(), timeout_ms: 1000 })
        .unwrap()
}

on_both_stores!(
    a_value_is_read_back_until_it_is_deleted_or_expires,
    a_counter_counts_within_its_window_and_starts_again_after_it,
    concurrent_increments_are_each_counted_once,
    a_versioned_value_is_kept_only_over_older_versions_and_fences,
    concurrent_versioned_puts_keep_the_newest,
);

/// The rules the case cache relies on (`docket_case::cache`): a fence of
/// version N keeps every older version out, and is filled by version N.
async fn a_versioned_value_is_kept_only_over_older_versions_and_fences(kv: Arc<dyn KeyValue>) {
    let ttl = Duration::from_secs(60);
    assert_eq!(kv.get_versioned("case:1").await.unwrap(), None);
    assert!(kv.put_versioned("case:1", 3, Some(&b"three"[..]), ttl).await.unwrap(), "an empty key takes any version");
    assert_eq!(kv.get_versioned("case:1").await.unwrap(), Some((3, b"three".to_vec())));
    assert!(!kv.put_versioned("case:1", 2, Some(&b"two"[..]), ttl).await.unwrap(), "an older version is refused");
    assert!(!kv.put_versioned("case:1", 3, Some(&b"again"[..]), ttl).await.unwrap(), "the same version is kept as it was");
    assert_eq!(kv.get_versioned("case:1").await.unwrap(), Some((3, b"three".to_vec())));

    // A change fences its version before it commits: a reader that read
    // the version before cannot put it back, and nobody reads the fence.
    assert!(kv.put_versioned("case:1", 4, None, ttl).await.unwrap());
    assert_eq!(kv.get_versioned("case:1").await.unwrap(), None, "a fence is no value");
    assert!(!kv.put_versioned("case:1", 3, Some(&b"three"[..]), ttl).await.unwrap(), "the version before the fence is refused");
    assert!(!kv.put_versioned("case:1", 4, None, ttl).await.unwrap(), "a fence does not replace itself");
    assert!(kv.put_versioned("case:1", 4, Some(&b"four"[..]), ttl).await.unwrap(), "the fenced version fills its fence");
    assert_eq!(kv.get_versioned("case:1").await.unwrap(), Some((4, b"four".to_vec())));
    assert!(!kv.put_versioned("case:1", 4, None, ttl).await.unwrap(), "a late fence of the stored version is refused");
    assert!(kv.put_versioned("case:1", 6, None, ttl).await.unwrap(), "a later fence replaces a value");
    assert!(!kv.put_versioned("case:1", 5, Some(&b"five"[..]), ttl).await.unwrap());
    assert_eq!(kv.get_versioned("case:1").await.unwrap(), None);

    // Values of any bytes, including the separator, come back whole.
    let bytes = [0_u8, b':', b'd', 255, b':', b'f'];
    assert!(kv.put_versioned("case:2", 1, Some(&bytes[..]), ttl).await.unwrap());
    assert_eq!(kv.get_versioned("case:2").await.unwrap(), Some((1, bytes.to_vec())));
    // Whatever else a key holds is no versioned value, and any version replaces it.
    kv.put("case:3", b"not versioned", ttl).await.unwrap();
    assert_eq!(kv.get_versioned("case:3").await.unwrap(), None);
    assert!(kv.put_versioned("case:3", 1, Some(&b"one"[..]), ttl).await.unwrap());
    assert_eq!(kv.get_versioned("case:3").await.unwrap(), Some((1, b"one".to_vec())));

    assert!(kv.put_versioned("case:short", 1, Some(&b"x"[..]), Duration::from_millis(200)).await.unwrap());
    expired(&kv, "case:short").await;
    assert_eq!(kv.get_versioned("case:short").await.unwrap(), None, "an expired version is gone");
    assert!(kv.put_versioned("case:short", 1, Some(&b"x"[..]), Duration::from_secs(60)).await.unwrap(), "and its key free again");
    for key in ["case:1", "case:2", "case:3", "case:short"] {
        kv.delete(key).await.unwrap();
    }
}

/// Readers and writers racing on one key: whatever order they land in,
/// the newest version stays.
async fn concurrent_versioned_puts_keep_the_newest(kv: Arc<dyn KeyValue>) {
    let mut puts = tokio::task::JoinSet::new();
    for version in 1..=40_i64 {
        let kv = kv.clone();
        puts.spawn(async move {
            let value = format!("v{version}");
            // Every third is a fence, as a change's would be.
            let value = (version % 3 != 0).then_some(value.as_bytes());
            kv.put_versioned("case:race", version, value, Duration::from_secs(60)).await.unwrap()
        });
    }
    while let Some(done) = puts.join_next().await {
        done.unwrap();
    }
    assert_eq!(kv.get_versioned("case:race").await.unwrap(), Some((40, b"v40".to_vec())));
    kv.delete("case:race").await.unwrap();
}

async fn a_value_is_read_back_until_it_is_deleted_or_expires(kv: Arc<dyn KeyValue>) {
    assert_eq!(kv.get("session:a").await.unwrap(), None);
    kv.put("session:a", b"ann", Duration::from_secs(60)).await.unwrap();
    assert_eq!(kv.get("session:a").await.unwrap().as_deref(), Some(&b"ann"[..]));
    let ttl = kv.ttl("session:a").await.unwrap().expect("a live key has a ttl");
    assert!(ttl <= Duration::from_secs(60) && ttl > Duration::from_secs(50), "{ttl:?}");
    // Replacing keeps one value.
    kv.put("session:a", b"bob", Duration::from_secs(60)).await.unwrap();
    assert_eq!(kv.get("session:a").await.unwrap().as_deref(), Some(&b"bob"[..]));
    assert!(kv.delete("session:a").await.unwrap());
    assert!(!kv.delete("session:a").await.unwrap(), "deleting twice finds nothing the second time");
    assert_eq!(kv.get("session:a").await.unwrap(), None);
    assert_eq!(kv.ttl("session:a").await.unwrap(), None);

    kv.put("session:short", b"x", Duration::from_millis(200)).await.unwrap();
    expired(&kv, "session:short").await;
    assert_eq!(kv.get("session:short").await.unwrap(), None, "an expired key is gone");
    assert_eq!(kv.ttl("session:short").await.unwrap(), None);
    assert!(!kv.delete("session:short").await.unwrap());
}

async fn a_counter_counts_within_its_window_and_starts_again_after_it(kv: Arc<dyn KeyValue>) {
    let window = Duration::from_millis(400);
    for expected in 1..=3 {
        assert_eq!(kv.incr_with_ttl("failures:ann", window).await.unwrap(), expected);
    }
    // The window runs from the first increment; later ones do not extend it.
    let left = kv.ttl("failures:ann").await.unwrap().expect("a counter expires");
    assert!(left <= window, "{left:?}");
    expired(&kv, "failures:ann").await;
    assert_eq!(kv.incr_with_ttl("failures:ann", window).await.unwrap(), 1, "a new window starts at one");
    assert!(kv.delete("failures:ann").await.unwrap());
    assert_eq!(kv.incr_with_ttl("failures:ann", window).await.unwrap(), 1);
}

async fn concurrent_increments_are_each_counted_once(kv: Arc<dyn KeyValue>) {
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move { kv.incr_with_ttl("rate:form", Duration::from_secs(60)).await.unwrap() }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=40).collect::<Vec<u64>>(), "every increment saw its own count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installations_with_other_key_prefixes_share_one_redis_without_seeing_each_other() {
    let mine = RedisPrefix::new().await;
    let theirs = RedisPrefix::new().await;
    mine.store().put("session:1", b"mine", Duration::from_secs(60)).await.unwrap();
    assert_eq!(theirs.store().get("session:1").await.unwrap(), None);
    theirs.store().put("session:1", b"theirs", Duration::from_secs(60)).await.unwrap();
    assert_eq!(mine.store().get("session:1").await.unwrap().as_deref(), Some(&b"mine"[..]));
    mine.clean().await;
    assert_eq!(
        theirs.store().get("session:1").await.unwrap().as_deref(),
        Some(&b"theirs"[..]),
        "cleaning one prefix left the other"
    );
    theirs.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_redis_is_down_answers_unavailable_instead_of_hanging() {
    // Nothing listens on this port: the store is built (connecting lazily)
    // and every call fails fast with Unavailable instead of hanging.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kv = connect(&KvSettings {
        backend: KvBackend::Redis,
        url: format!("redis://127.0.0.1:{port}"),
        key_prefix: "down:".into(),
        timeout_ms: 500,
    })
    .expect("a lazily connected store");
    assert!(matches!(kv.get("x").await, Err(KvError::Unavailable(_))));
    assert!(matches!(kv.put("x", b"1", Duration::from_secs(1)).await, Err(KvError::Unavailable(_))));
    assert!(matches!(kv.incr_with_ttl("x", Duration::from_secs(1)).await, Err(KvError::Unavailable(_))));
    assert!(matches!(kv.put_versioned("x", 1, None, Duration::from_secs(1)).await, Err(KvError::Unavailable(_))));
    assert!(matches!(kv.get_versioned("x").await, Err(KvError::Unavailable(_))));
    let status: tonic::Status = kv.delete("x").await.unwrap_err().into();
    assert_eq!(status.code(), tonic::Code::Unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_connection_is_cut_answers_unavailable_then_reconnects_by_itself() {
    let prefix = RedisPrefix::new().await;
    let redis: std::net::SocketAddr = "127.0.0.1:6379".parse().unwrap();
    let proxy = TcpProxy::start(redis).await;
    let kv = connect(&KvSettings {
        backend: KvBackend::Redis,
        url: format!("redis://{}", proxy.addr),
        key_prefix: prefix.prefix().to_owned(),
        timeout_ms: 500,
    })
    .unwrap();
    kv.put("session:kept", b"ann", Duration::from_secs(60)).await.unwrap();

    proxy.cut();
    assert!(matches!(kv.get("session:kept").await, Err(KvError::Unavailable(_))));
    proxy.restore();
    // The connection manager reconnects on a later call; nothing stored was lost.
    let value =
        eventually_within(Duration::from_secs(5), "the store to answer again", async || kv.get("session:kept").await).await;
    assert_eq!(value.as_deref(), Some(&b"ann"[..]));
    prefix.clean().await;
}
