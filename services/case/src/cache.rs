//! Cases as GetCase answers them, kept in Redis by version (issue 15): a
//! case is read far more often than it changes, and one Redis lookup costs a
//! fraction of the query that assembles a case from three tables.
//!
//! Every replica sees every change: a change fences the case's key with its
//! new version before it commits ([`BeforeCommit`]), so a reader that read
//! the case just before the commit cannot put the old version back, and a
//! change made through any replica empties the key for all of them. After
//! the commit, the writer offers the new version, so the next read finds it.
//! A read that misses offers what it read.
//!
//! Nothing here is the system of record. Redis unreachable: reads go to the
//! database and new cases are still made, but a change of a case is refused
//! as UNAVAILABLE (and rolled back) when its fence cannot be set, since
//! another replica could otherwise go on showing the case as it was.
//! Consumers retry such a change later; callers are told to.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use docket_kit::{
    kv::{KeyValue, KvError},
    mutation::{BeforeCommit, Record, Saved},
};
use docket_proto::case::v1 as pb;
use prost::Message as _;

use crate::{records::CaseRecord, wire};

/// How long a case (or a fence) stays in Redis after it was last offered:
/// longer than any reader takes from its query to its offer.
pub const KEPT_FOR: Duration = Duration::from_secs(300);

/// How long reads leave Redis alone after it failed one: where Redis is
/// cut off and every call would wait `kv.timeout_ms`, reads go straight to
/// the database instead, and try Redis again after this.
const RESTS_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The cache of cases; `Default` keeps nothing (every read goes to the database).
#[derive(Clone, Default)]
pub struct CaseCache {
    kv: Option<Arc<dyn KeyValue>>,
    /// Until when reads skip Redis (see [`RESTS_AFTER_FAILURE`]).
    resting_until: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl std::fmt::Debug for CaseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseCache").field("enabled", &self.kv.is_some()).finish()
    }
}

fn key(id: &str) -> String {
    format!("case:{id}")
}

impl CaseCache {
    /// Cases kept in `kv`: Redis shared by every replica of the case
    /// service (or, under `docket dev`, its one process's memory).
    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self { kv: Some(kv), resting_until: Arc::default() }
    }

    /// Redis for a read, unless reads leave it alone for now.
    fn for_reads(&self) -> Option<&Arc<dyn KeyValue>> {
        let resting = self.resting_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if resting.is_some_and(|until| tokio::time::Instant::now() < until) {
            return None;
        }
        self.kv.as_ref()
    }

    fn failed(&self, err: &KvError) {
        tracing::debug!(error = %err, "case cache unavailable; reading the database");
        let mut resting = self.resting_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *resting = Some(tokio::time::Instant::now() + RESTS_AFTER_FAILURE);
    }

    /// The case `id` as last offered, unless a change fenced it since.
    pub async fn get(&self, id: &str) -> Option<pb::Case> {
        match self.for_reads()?.get_versioned(&key(id)).await {
            Ok(Some((_, bytes))) => pb::Case::decode(bytes.as_slice()).ok(),
            Ok(None) => None,
            Err(err) => {
                self.failed(&err);
                None
            }
        }
    }

    /// The case as GetCase shows it, kept for the next read unless a later
    /// version (or its fence) is there already.
    pub async fn answer(&self, record: CaseRecord) -> pb::Case {
        let version = record.version();
        let case = wire::case(record);
        if let Some(kv) = self.for_reads()
            && let Err(err) = kv.put_versioned(&key(&case.id), version, Some(&case.encode_to_vec()), KEPT_FOR).await
        {
            self.failed(&err);
        }
        case
    }

    /// Keeps every version older than `version` of the case `id` out; an
    /// error says the change must not commit. Always tried, resting or not.
    pub async fn fence(&self, id: &str, version: i64) -> Result<(), String> {
        match &self.kv {
            Some(kv) => kv.put_versioned(&key(id), version, None, KEPT_FOR).await.map(|_| ()).map_err(|err| {
                format!("the case cache could not be told of the change ({err}); nothing was changed, retry later")
            }),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl BeforeCommit for CaseCache {
    async fn saved(&self, saved: &[Saved]) -> Result<(), String> {
        for case in saved.iter().filter(|saved| saved.kind == CaseRecord::KIND) {
            self.fence(&case.id, case.version).await?;
        }
        Ok(())
    }
}
