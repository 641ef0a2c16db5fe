//! The patched sqlx-postgres (vendor/README.md) against a real PostgreSQL:
//! a connection with nothing pending goes back to the pool without a
//! round trip, a ping after more than a second is a real one, and what the
//! pool's ping was for still holds: a dropped transaction's locks are freed
//! at once, and an answer a dropped future left unread never reaches the
//! next user. Needs PostgreSQL at `DOCKET_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

fn database_url() -> String {
    std::env::var("DOCKET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `host:port` of the database URL.
fn server_address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    if host.contains(':') { host.to_owned() } else { format!("{host}:5432") }
}

/// A TCP proxy in front of PostgreSQL that reads what clients send and
/// counts pings: a `Sync` message with no other message since the last
/// one (a query's own `Sync` follows its `Parse`, `Bind` and `Execute`).
struct CountingProxy {
    url: String,
    pings: Arc<AtomicUsize>,
}

impl CountingProxy {
    async fn start() -> Self {
        let url = database_url();
        let server = server_address(&url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let pings = Arc::new(AtomicUsize::new(0));
        let counted = pings.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = TcpStream::connect(&server).await.unwrap_or_else(|err| {
                    panic!("PostgreSQL is not reachable at {server}: {err}; start it (tests/run.sh shows how)")
                });
                tokio::spawn(relay(client, upstream, counted.clone()));
            }
        });
        let (head, tail) = url.split_once("://").unwrap();
        let (user, rest) = tail.rsplit_once('@').map_or(("", tail), |(user, rest)| (user, rest));
        let path = rest.find(['/', '?']).map_or("", |at| &rest[at..]);
        let at = if user.is_empty() { String::new() } else { format!("{user}@") };
        // Plain text, so the proxy can read the messages.
        let separator = if path.contains('?') { '&' } else { '?' };
        Self { url: format!("{head}://{at}{local}{path}{separator}sslmode=disable"), pings }
    }

    fn pings(&self) -> usize {
        self.pings.load(Ordering::SeqCst)
    }

    /// A pool of one connection through the proxy, never pinged on checkout.
    async fn pool(&self) -> DatabaseConnection {
        let mut options = ConnectOptions::new(self.url.clone());
        options.max_connections(1).min_connections(1).test_before_acquire(false).sqlx_logging(false);
        Database::connect(options).await.unwrap()
    }
}

async fn relay(client: TcpStream, server: TcpStream, pings: Arc<AtomicUsize>) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let upstream = async move {
        let mut messages = ClientMessages::default();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pings.fetch_add(messages.read(&buffer[..n]), Ordering::SeqCst);
            if to_server.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// The client's side of the protocol, message by message: the startup
/// message (a length, no type byte), then type byte and length each.
#[derive(Default)]
struct ClientMessages {
    pending: Vec<u8>,
    started: bool,
    /// Whether a message other than `Sync` came since the last `Sync`.
    since_sync: bool,
}

impl ClientMessages {
    /// Takes in what was read; answers how many pings it completed.
    fn read(&mut self, bytes: &[u8]) -> usize {
        self.pending.extend_from_slice(bytes);
        let mut pings = 0;
        loop {
            let header = if self.started { 5 } else { 4 };
            if self.pending.len() < header {
                return pings;
            }
            let length_at = header - 4;
            let length = u32::from_be_bytes(self.pending[length_at..header].try_into().unwrap()) as usize;
            let total = length_at + length;
            if self.pending.len() < total {
                return pings;
            }
            if !self.started {
                self.started = true;
            } else if self.pending[0] == b'S' {
                if !self.since_sync {
                    pings += 1;
                }
                self.since_sync = false;
            } else {
                self.since_sync = true;
            }
            self.pending.drain(..total);
        }
    }
}

async fn number(db: &impl ConnectionTrait, sql: &str) -> i32 {
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_nothing_pending_goes_back_without_a_ping() {
    let proxy = CountingProxy::start().await;
    let db = proxy.pool().await;
    let before = proxy.pings();
    // One connection: each call waits for the one before to give it back.
    for n in 0..20 {
        assert_eq!(number(&db, &format!("SELECT {n}::int4 AS n")).await, n);
    }
    let txn = db.begin().await.unwrap();
    assert_eq!(number(&txn, "SELECT 7::int4 AS n").await, 7);
    txn.commit().await.unwrap();
    assert_eq!(number(&db, "SELECT 8::int4 AS n").await, 8);
    assert_eq!(proxy.pings() - before, 0, "21 checkouts, no ping on their release");
    db.close().await.unwrap();
}

/// The ping is skipped only right after the server said it was ready: a
/// connection that sat longer (Docket pings one idle for 5 s before use)
/// still gets the round trip that finds it dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_after_more_than_a_second_is_sent() {
    use sea_orm::sqlx::Connection as _;
    let proxy = CountingProxy::start().await;
    let db = proxy.pool().await;
    let mut conn = db.get_postgres_connection_pool().acquire().await.unwrap();
    let before = proxy.pings();
    conn.ping().await.unwrap();
    assert_eq!(proxy.pings() - before, 0, "ready moments ago: answered without a round trip");
    // The window being measured, not a wait for something to happen.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    conn.ping().await.unwrap();
    assert_eq!(proxy.pings() - before, 1, "ready over a second ago: pinged");
    conn.ping().await.unwrap();
    assert_eq!(proxy.pings() - before, 1, "the ping's own answer counts as ready");
    drop(conn);
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_frees_its_locks_at_once() {
    let proxy = CountingProxy::start().await;
    let db = proxy.pool().await;
    let other = Database::connect(database_url()).await.unwrap();
    let key: i64 = rand_key();
    let txn = db.begin().await.unwrap();
    let sql = format!("SELECT 1 AS n FROM (SELECT pg_advisory_xact_lock({key})) AS locked");
    assert_eq!(number(&txn, &sql).await, 1);
    let try_lock = format!("SELECT CASE WHEN pg_try_advisory_xact_lock({key}) THEN 1 ELSE 0 END AS n");
    assert_eq!(number(&other, &try_lock).await, 0, "held by the open transaction");
    // Dropped, not committed (a failed request): its rollback is sent on
    // release. `db` is not used again, which would also send it.
    drop(txn);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while number(&other, &try_lock).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the dropped transaction still holds its lock after 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.close().await.unwrap();
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_left_unread_by_a_dropped_call_does_not_reach_the_next_one() {
    let proxy = CountingProxy::start().await;
    let db = proxy.pool().await;
    let slow = number(&db, "SELECT 1 AS n FROM (SELECT pg_sleep(0.5)) AS slept");
    assert!(tokio::time::timeout(Duration::from_millis(50), slow).await.is_err(), "the slow call was cut off");
    // The same (only) connection: its first call reads the old answer away.
    assert_eq!(number(&db, "SELECT 2::int4 AS n").await, 2);
    assert_eq!(number(&db, "SELECT 3::int4 AS n").await, 3);
    db.close().await.unwrap();
}

/// An advisory lock key no other test takes.
fn rand_key() -> i64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    0x7d0c_0000_0000 + i64::from(nanos)
}
