//! The one path every change of a record takes, on PostgreSQL and SQLite
//! alike:
//!
//! begin → idempotency look-up → load with the caller's etag → the domain's
//! change → guarded version bump → audit trail rows → outbox events → commit
//! → wake the relay.
//!
//! A service supplies the domain part (an async closure that gets the open
//! transaction for the reads its rules need) and the mapping from records
//! to events; [`Mutations`] does the rest, so no command can forget its
//! trail, its events or its version check.

use std::{
    future::Future,
    ops::Deref,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use docket_proto::events::v1::Envelope;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait};

use crate::{
    audit::{self, Actor, Changes},
    db::{self, NewRows},
    error::{DomainError, Error, is_unique_violation, violated_constraint},
    events::{envelope, outbox, outbox::RelayWaker, pack},
    idempotency::{self, Idempotency},
    request::{FieldMask, MaskField, RecordId, UpdateTarget},
};

/// The etag of a record: its version number as text.
pub fn etag(version: i64) -> String {
    version.to_string()
}

/// What every record shows on the wire beside its fields: when it was
/// created and last changed, and its etag.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamps {
    pub create_time: Option<prost_types::Timestamp>,
    pub update_time: Option<prost_types::Timestamp>,
    pub etag: String,
}

impl Stamps {
    pub fn of(created_at: DateTime<Utc>, updated_at: DateTime<Utc>, version: i64) -> Self {
        let (create_time, update_time) = (crate::time::to_proto(created_at), crate::time::to_proto(updated_at));
        Self { create_time: Some(create_time), update_time: Some(update_time), etag: etag(version) }
    }
}

/// A record that changes through [`Mutations`]: a row (or a row with its
/// link rows) that carries a version number, its etag.
pub trait Record: Clone + Send + Sync + Sized {
    /// Its record type in the audit trail and in messages ("case", "contact").
    const KIND: &'static str;

    fn id(&self) -> &str;

    fn version(&self) -> i64;

    /// Its kind as people read it in messages ("staff user").
    fn noun() -> String {
        Self::KIND.replace('_', " ")
    }

    /// How people name it in messages: its number where it has one.
    fn name(&self) -> String {
        self.id().to_owned()
    }

    /// Sets the version and update time of a change about to be written.
    fn stamp(&mut self, version: i64, at: DateTime<Utc>);

    /// The field and message of the refusal when a unique index refuses it.
    fn already_exists(&self) -> (String, String) {
        ("id".to_owned(), format!("{} {} already exists", Self::KIND, self.id()))
    }

    fn load<C: ConnectionTrait + Sync>(db: &C, id: &str) -> impl Future<Output = Result<Option<Self>, DbErr>> + Send;

    /// The statements inserting it: its row (a plain `INSERT … VALUES`) and
    /// the rows of its link tables, so that a create writes them with its
    /// trail and events in one round trip on PostgreSQL. A record that
    /// cannot say answers `None` and implements [`Record::insert`].
    fn insert_rows(&self, _backend: DbBackend) -> Option<(Statement, Vec<NewRows>)> {
        None
    }

    /// Inserts it, where [`Record::insert_rows`] cannot say how.
    fn insert(&self, txn: &DatabaseTransaction) -> impl Future<Output = Result<(), DbErr>> + Send {
        let rows = self.insert_rows(txn.get_database_backend());
        async move {
            let Some((first, rows)) = rows else {
                return Err(DbErr::Custom(format!("a {} record implements neither insert_rows nor insert", Self::KIND)));
            };
            db::insert_all(txn, Some(first), rows).await
        }
    }

    /// Writes the changed record over the stored one if that is still at
    /// `expected` version; `false` when someone else changed it first.
    /// `changes` says which parts changed (a record with link rows rewrites
    /// only those).
    fn update(
        &self,
        txn: &DatabaseTransaction,
        expected: i64,
        changes: &Changes,
    ) -> impl Future<Output = Result<bool, DbErr>> + Send;
}

/// [`Record`] for a sea-orm model whose table has `id` (text), `version`
/// and `updated_at` columns, where `contact` is the entity module:
///
/// ```ignore
/// docket_kit::versioned_record!(contact, "contact",
///     taken = |m| ("contact.email".into(), format!("{} is taken", m.email)));
/// ```
///
/// `key = contact_id / ContactId` names the key field and column of a table
/// keyed otherwise than by `id`; `name = |m| ...` says how messages name it; `taken = |m| ...` which field
/// a unique index refused, and why; `guard = condition` what must also still
/// hold for an update to be written (else it is stale); `; untimed` at the
/// end marks a table without an `updated_at` column.
#[macro_export]
macro_rules! versioned_record {
    (@touch $model:ident, $at:ident) => {
        $model.updated_at = $at;
    };
    (@touch $model:ident, $at:ident, untimed) => {
        let _ = $at;
    };
    ($entity:ident, $kind:literal, key = $key:ident / $column:ident $($rest:tt)*) => {
        $crate::versioned_record!(@record $entity, $kind, $key, $column $($rest)*);
    };
    ($entity:ident, $kind:literal $($rest:tt)*) => {
        $crate::versioned_record!(@record $entity, $kind, id, Id $($rest)*);
    };
    (@record $entity:ident, $kind:literal, $key:ident, $column:ident $(, name = |$nm:ident| $name:expr)? $(, taken = |$tm:ident| $taken:expr)? $(, guard = $guard:expr)? $(,)? $(; $untimed:ident)?) => {
        impl $crate::mutation::Record for $entity::Model {
            const KIND: &'static str = $kind;

            fn id(&self) -> &str {
                &self.$key
            }

            fn version(&self) -> i64 {
                self.version
            }

            $(fn name(&self) -> String {
                let $nm = self;
                $name
            })?

            $(fn already_exists(&self) -> (String, String) {
                let $tm = self;
                $taken
            })?

            fn stamp(&mut self, version: i64, at: ::chrono::DateTime<::chrono::Utc>) {
                self.version = version;
                $crate::versioned_record!(@touch self, at $(, $untimed)?);
            }

            async fn load<C: ::sea_orm::ConnectionTrait + Sync>(
                db: &C,
                id: &str,
            ) -> Result<Option<Self>, ::sea_orm::DbErr> {
                use ::sea_orm::EntityTrait as _;
                $entity::Entity::find_by_id(id.to_owned()).one(db).await
            }

            fn insert_rows(
                &self,
                backend: ::sea_orm::DbBackend,
            ) -> Option<(::sea_orm::Statement, Vec<$crate::db::NewRows>)> {
                use ::sea_orm::{ActiveModelTrait as _, EntityTrait as _, IntoActiveModel as _, QueryTrait as _};
                Some(($entity::Entity::insert(self.clone().into_active_model().reset_all()).build(backend), Vec::new()))
            }

            async fn update(
                &self,
                txn: &::sea_orm::DatabaseTransaction,
                expected: i64,
                _changes: &$crate::audit::Changes,
            ) -> Result<bool, ::sea_orm::DbErr> {
                use ::sea_orm::{ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _, QueryFilter as _};
                let updated = $entity::Entity::update_many()
                    .set(self.clone().into_active_model().reset_all())
                    .filter($entity::Column::$column.eq(self.$key.clone()))
                    .filter($entity::Column::Version.eq(expected))
                    $(.filter($guard))?
                    .exec(txn)
                    .await?;
                Ok(updated.rows_affected == 1)
            }
        }
    };
}

/// Declares a service's `Store`: its database for reads, and the
/// [`Mutations`] every change goes through. `source` names the service in
/// the events it writes. The service adds its commands and queries in its
/// own `impl Store` blocks.
///
/// ```ignore
/// docket_kit::service_store!(
///     /// The case service's database. Cheap to clone.
///     pub struct Store, source = crate::events::SOURCE
/// );
/// ```
///
/// Fields after the source (`, routing: RoutingCache`) are kept beside
/// the database, each starting as its type's `Default` (shared by clones
/// when the type shares its state, as an `Arc` does).
#[macro_export]
macro_rules! service_store {
    ($(#[$meta:meta])* $vis:vis struct $name:ident, source = $source:expr $(, $field:ident: $type:ty)* $(,)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            db: ::sea_orm::DatabaseConnection,
            /// Every change goes through here: etag, version, trail, outbox, commit.
            mutations: $crate::mutation::Mutations,
            $($field: $type,)*
        }

        impl $name {
            /// A store whose events wait for the relay's next poll.
            pub fn new(db: ::sea_orm::DatabaseConnection) -> Self {
                Self::with_relay(db, $crate::events::outbox::RelayWaker::default())
            }

            /// A store that wakes `relay` after each commit that wrote events.
            pub fn with_relay(db: ::sea_orm::DatabaseConnection, relay: $crate::events::outbox::RelayWaker) -> Self {
                Self {
                    mutations: $crate::mutation::Mutations::new(db.clone(), relay, $source),
                    db,
                    $($field: ::core::default::Default::default(),)*
                }
            }

            pub fn connection(&self) -> &::sea_orm::DatabaseConnection {
                &self.db
            }
        }
    };
}

/// An event to write to the outbox with the change: its type (the routing
/// key), the record it is about, and its payload.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_type: &'static str,
    pub subject: String,
    pub payload: prost_types::Any,
}

impl Event {
    /// `payload_name` is the payload's full proto name (`docket.events.v1.CaseCreated`).
    pub fn new(event_type: &'static str, subject: &str, payload_name: &str, payload: &impl prost::Message) -> Self {
        Self { event_type, subject: subject.to_owned(), payload: pack(payload_name, payload) }
    }
}

/// A domain change of a record: the record as it should be, and its changed
/// fields (no changes: nothing is written).
#[derive(Debug, Clone)]
pub struct Edit<R> {
    pub after: R,
    pub changes: Changes,
}

/// What the domain builds for [`Mutations::create_alone`]: the new record,
/// its creation's trail, the events that announce it, and other new
/// records inserted with it (see [`Mutations::also_new`]).
#[derive(Debug)]
pub struct Creation<R> {
    pub record: R,
    pub trail: Changes,
    pub events: Vec<Event>,
    pub with: Vec<AlsoNew>,
}

impl<R> Creation<R> {
    pub fn new(record: R, trail: Changes, events: Vec<Event>) -> Self {
        Self { record, trail, events, with: Vec::new() }
    }
}

/// A new record a create inserts with its own, in the same statement (a
/// web form's sender's contact with their case); see [`Mutations::also_new`].
#[derive(Debug)]
pub struct AlsoNew {
    insert: Statement,
    rows: Vec<NewRows>,
    /// The unique constraint that refuses it as taken, and the refusal
    /// (field, message).
    unique: &'static str,
    taken: (String, String),
}

/// A create that may be a retry: the method it belongs to (`CreateCase`)
/// and the caller's idempotency key.
/// `Once::default()` is a call that is not retried (a seed, a consumer).
#[derive(Debug, Clone, Copy, Default)]
pub struct Once<'a> {
    pub scope: &'static str,
    pub key: Option<&'a Idempotency>,
}

/// Who makes a change, owned so a [`Tx`] carries no borrowed lifetimes.
#[derive(Debug)]
struct Author {
    actor: String,
    reason: String,
    at: DateTime<Utc>,
}

/// A record a change saved: its kind (`Record::KIND`), id and new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub kind: &'static str,
    pub id: String,
    pub version: i64,
}

/// Told of the records a change saved after its work is done and before it
/// commits (a cache fences them, so no reader can keep the version before).
/// An error (what could not be told, and why) rolls the change back as
/// UNAVAILABLE: the caller retries, and nothing changed unseen.
#[async_trait::async_trait]
pub trait BeforeCommit: Send + Sync + std::fmt::Debug {
    async fn saved(&self, saved: &[Saved]) -> Result<(), String>;
}

/// One change in progress: its open transaction and who makes it. Reads
/// for the domain's rules go through it (`&*tx` is the transaction). It is
/// handed to the domain's closure by value (a cheap clone), because the
/// compiler cannot yet prove futures `Send` that borrow a closure argument.
#[derive(Debug, Clone)]
pub struct Tx {
    txn: Arc<DatabaseTransaction>,
    by: Arc<Author>,
    source: &'static str,
    /// What the change saved, for [`BeforeCommit`].
    saved: Arc<Mutex<Vec<Saved>>>,
}

impl Tx {
    pub fn by(&self) -> Actor<'_> {
        Actor { actor: &self.by.actor, reason: &self.by.reason, at: self.by.at }
    }

    /// Appends the audit rows of a record's changed fields.
    pub async fn trail(&self, kind: &str, id: &str, changes: &Changes) -> Result<(), DbErr> {
        audit::write(&*self.txn, kind, id, &self.by(), changes).await
    }

    /// Writes events to the outbox, stamped with the actor, the time and the
    /// current trace.
    pub async fn emit(&self, events: impl IntoIterator<Item = Event>) -> Result<(), DbErr> {
        emit(&self.txn, &self.by(), self.source, events).await
    }

    /// [`Tx::trail`] and [`Tx::emit`] of one change, in one round trip
    /// where the database allows (see [`record_change`]).
    pub async fn record(
        &self,
        kind: &str,
        id: &str,
        changes: &Changes,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<(), DbErr> {
        record_change(&self.txn, &self.by(), self.source, (kind, id), changes, events).await
    }

    /// Inserts a new record with its creation's trail (one row, see
    /// [`audit`]) and the events that announce it: one round trip where the
    /// record gives its rows ([`Record::insert_rows`]) and the database allows.
    pub async fn insert_new<R: Record>(
        &self,
        record: &R,
        trail: &Changes,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<(), DbErr> {
        self.insert_new_with(record, trail, events, None).await
    }

    /// [`Tx::insert_new`], with `also` rows (a create's idempotency key) in
    /// the same round trip.
    async fn insert_new_with<R: Record>(
        &self,
        record: &R,
        trail: &Changes,
        events: impl IntoIterator<Item = Event>,
        also: Option<NewRows>,
    ) -> Result<(), DbErr> {
        let by = self.by();
        let mut announced = with_events(audit::creation_rows(R::KIND, record.id(), &by, trail), &by, self.source, events);
        announced.extend(also);
        match record.insert_rows(self.get_database_backend()) {
            Some((first, mut rows)) => {
                rows.extend(announced);
                db::insert_all(&*self.txn, Some(first), rows).await
            }
            None => {
                record.insert(&self.txn).await?;
                db::insert_all(&*self.txn, None, announced).await
            }
        }
    }

    /// Writes an edit the domain made of `before`: the guarded version bump,
    /// the trail and the events. The saved record, or `Stale` when someone
    /// changed it since it was read.
    pub async fn save<R: Record, D: DomainError>(
        &self,
        before: &R,
        edit: Edit<R>,
        events: impl FnOnce(&R, &R, &Changes) -> Vec<Event>,
    ) -> Result<R, Error<D>> {
        let saved = save(&self.txn, &self.by(), self.source, before, edit, events).await?;
        self.note_saved(R::KIND, saved.id(), saved.version());
        Ok(saved)
    }

    /// Notes a record this change saved other than by [`Tx::save`] (a
    /// version bumped by a statement of its own), for [`BeforeCommit`].
    pub fn note_saved(&self, kind: &'static str, id: &str, version: i64) {
        let mut saved = self.saved.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        saved.push(Saved { kind, id: id.to_owned(), version });
    }
}

impl Deref for Tx {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// Writes events to the outbox of `txn`, stamped with who and when and the
/// current trace; `source` names the service.
pub async fn emit(
    txn: &DatabaseTransaction,
    by: &Actor<'_>,
    source: &str,
    events: impl IntoIterator<Item = Event>,
) -> Result<(), DbErr> {
    outbox::append(txn, &envelopes(by, source, events)).await
}

fn envelopes(by: &Actor<'_>, source: &str, events: impl IntoIterator<Item = Event>) -> Vec<Envelope> {
    events.into_iter().map(|event| envelope(source, event.event_type, &event.subject, by.actor, by.at, event.payload)).collect()
}

/// Writes a change's trail rows (of the record `kind` `id`) and its events:
/// on PostgreSQL in one statement, else one each. Every command writes
/// both, so this is a round trip less for each.
pub async fn record_change(
    txn: &DatabaseTransaction,
    by: &Actor<'_>,
    source: &str,
    (kind, id): (&str, &str),
    changes: &Changes,
    events: impl IntoIterator<Item = Event>,
) -> Result<(), DbErr> {
    db::insert_all(txn, None, with_events(audit::new_rows(kind, id, by, changes), by, source, events)).await
}

/// The id of what an earlier call with `once`'s key made, if any.
async fn first_id<D: DomainError>(
    keys: &impl ConnectionTrait,
    by: &Actor<'_>,
    once: Once<'_>,
) -> Result<Option<String>, Error<D>> {
    match once.key {
        Some(key) => Ok(idempotency::find(keys, once.scope, by.actor, key).await?),
        None => Ok(None),
    }
}

/// A change's trail rows and the outbox rows of its events.
fn with_events(trail: NewRows, by: &Actor<'_>, source: &str, events: impl IntoIterator<Item = Event>) -> Vec<NewRows> {
    vec![trail, outbox::new_rows(&envelopes(by, source, events))]
}

/// [`Tx::save`] inside a transaction someone else owns and commits (an event
/// consumer's, whose inbox row commits with the change).
pub async fn save<R: Record, D: DomainError>(
    txn: &DatabaseTransaction,
    by: &Actor<'_>,
    source: &str,
    before: &R,
    edit: Edit<R>,
    events: impl FnOnce(&R, &R, &Changes) -> Vec<Event>,
) -> Result<R, Error<D>> {
    let Edit { mut after, changes } = edit;
    let expected = before.version();
    after.stamp(expected + 1, by.at);
    match after.update(txn, expected, &changes).await {
        Ok(true) => {}
        Ok(false) => return Err(Error::stale(&R::noun(), &before.name(), expected, expected + 1)),
        Err(err) if is_unique_violation(&err) => return Err(already_exists(&after)),
        Err(err) => return Err(err.into()),
    }
    let events = events(before, &after, &changes);
    record_change(txn, by, source, (R::KIND, after.id()), &changes, events).await?;
    Ok(after)
}

/// The stored record `id`, or NotFound naming it as people read it.
pub async fn find<R: Record, D: DomainError>(db: &impl ConnectionTrait, id: impl std::fmt::Display) -> Result<R, Error<D>> {
    let key = id.to_string();
    R::load(db, &key).await?.ok_or_else(|| Error::not_found(&R::noun(), id))
}

/// The check of an update whose record has no rules beyond its fields.
pub fn unchecked<R, D: DomainError>(_tx: Tx, _before: R, _after: R) -> std::future::Ready<Result<(), Error<D>>> {
    std::future::ready(Ok(()))
}

/// The refusal of a record whose unique field (an email, a name) is taken.
pub fn already_exists<R: Record, D: DomainError>(record: &R) -> Error<D> {
    let (field, message) = record.already_exists();
    Error::AlreadyExists { field, message }
}

/// Whether a create looks its idempotency key up before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyLookUp {
    #[default]
    First,
    /// The create does not look it up first: the caller did, in a read it
    /// needed anyway (see [`idempotency::first_made`]), or a used key is
    /// rare enough on its path to be found by its refusal. A call with a
    /// used key (or racing one with it) is refused by the key's unique
    /// index, and answered with what the first call made.
    Done,
}

/// How many times a change without an etag is tried again on the fresh
/// record when a concurrent change beat it.
const UNVERSIONED_ATTEMPTS: usize = 5;

/// Where one service's changes are written: its database, and the relay
/// that publishes its outbox. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Mutations {
    db: DatabaseConnection,
    relay: RelayWaker,
    source: &'static str,
    before_commit: Option<Arc<dyn BeforeCommit>>,
}

impl Mutations {
    /// `source` names the service in the events it writes.
    pub fn new(db: DatabaseConnection, relay: RelayWaker, source: &'static str) -> Self {
        Self { db, relay, source, before_commit: None }
    }

    /// Mutations that tell `hook` what each change saved before it commits.
    pub fn with_before_commit(self, hook: Arc<dyn BeforeCommit>) -> Self {
        Self { before_commit: Some(hook), ..self }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Runs `work` in one transaction, and commits and wakes the relay when
    /// it succeeds; on an error nothing it wrote stays.
    pub async fn run<T, D: DomainError>(
        &self,
        by: &Actor<'_>,
        work: impl AsyncFnOnce(Tx) -> Result<T, Error<D>>,
    ) -> Result<T, Error<D>> {
        let author = Author { actor: by.actor.to_owned(), reason: by.reason.to_owned(), at: by.at };
        let txn = Arc::new(self.db.begin().await?);
        let saved = Arc::new(Mutex::new(Vec::new()));
        let tx = Tx { txn: Arc::clone(&txn), by: Arc::new(author), source: self.source, saved: Arc::clone(&saved) };
        let value = work(tx).await?;
        let Ok(txn) = Arc::try_unwrap(txn) else {
            return Err(Error::Database(DbErr::Custom("a change kept its transaction past its end".to_owned())));
        };
        let saved = std::mem::take(&mut *saved.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if let Some(hook) = &self.before_commit
            && !saved.is_empty()
        {
            hook.saved(&saved).await.map_err(Error::Unavailable)?;
        }
        txn.commit().await?;
        self.relay.wake();
        Ok(value)
    }

    /// Runs `work` like [`Mutations::run`], and again on fresh data when a
    /// concurrent change made a record it saves stale: for changes that
    /// carry no etag of the caller's, a concurrent change is not the
    /// caller's problem (see [`Mutations::update`]). `work` is a plain
    /// closure returning a future for the reason `update`'s `change` is.
    pub async fn run_fresh<T, D: DomainError, F: Future<Output = Result<T, Error<D>>>>(
        &self,
        by: &Actor<'_>,
        work: impl Fn(Tx) -> F,
    ) -> Result<T, Error<D>> {
        let mut attempt = 1;
        loop {
            match self.run(by, async |tx| work(tx).await).await {
                Err(Error::Stale(_)) if attempt < UNVERSIONED_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    /// Runs a create-like `work` (it makes one new thing, named by `id_of`)
    /// at most once per idempotency key: a retry gets what the first call
    /// made (read by `first`), and the key is remembered in the work's
    /// transaction. A retry racing its own first attempt finds the key, or
    /// the thing's unique name, taken by it, and is answered the same way.
    ///
    /// `first` is a plain closure returning a future (not an async closure)
    /// because it may be called twice, and a future borrowing an async
    /// closure cannot yet be proven `Send`.
    pub async fn run_once<T, D: DomainError, F: Future<Output = Result<T, Error<D>>>>(
        &self,
        by: &Actor<'_>,
        once: Once<'_>,
        work: impl AsyncFnOnce(Tx) -> Result<T, Error<D>>,
        id_of: impl Fn(&T) -> &str,
        first: impl Fn(String) -> F,
    ) -> Result<T, Error<D>> {
        let done = self.run(by, async |tx| {
            let value = work(tx.clone()).await?;
            if let Some(key) = once.key
                && !idempotency::remember(&*tx, once.scope, by.actor, key, id_of(&value), by.at).await?
            {
                return Err(Error::AlreadyExists {
                    field: "idempotency_key".to_owned(),
                    message: "a call with this idempotency key is still running; retry".to_owned(),
                });
            }
            Ok(value)
        });
        Self::at_most_once(&self.db, by, once, KeyLookUp::First, done, first).await
    }

    /// `done` (a change that remembers `once`'s key), unless an earlier call
    /// with the key made its thing already: then that, read by `first`;
    /// also when `done` is refused as `AlreadyExists` because such a call
    /// got there meanwhile. The key is looked up on `keys`.
    async fn at_most_once<T, D: DomainError, F: Future<Output = Result<T, Error<D>>>>(
        keys: &impl ConnectionTrait,
        by: &Actor<'_>,
        once: Once<'_>,
        look_up: KeyLookUp,
        done: impl Future<Output = Result<T, Error<D>>>,
        first: impl Fn(String) -> F,
    ) -> Result<T, Error<D>> {
        if look_up == KeyLookUp::First
            && let Some(id) = first_id(keys, by, once).await?
        {
            return first(id).await;
        }
        let done = done.await;
        if let Err(Error::AlreadyExists { .. }) = done
            && let Some(id) = first_id(keys, by, once).await?
        {
            return first(id).await;
        }
        done
    }

    /// Creates a record: the domain `build`s it, its trail and the events
    /// that announce it; it is inserted with them, and with its idempotency
    /// key, in one statement, at most once per key (see
    /// [`Mutations::run_once`]: a key taken meanwhile refuses the insert as
    /// a unique violation, answered with what the other call made).
    pub async fn create<R: Record, D: DomainError>(
        &self,
        by: &Actor<'_>,
        once: Once<'_>,
        build: impl AsyncFnOnce(Tx) -> Result<(R, Changes, Vec<Event>), Error<D>>,
    ) -> Result<R, Error<D>> {
        self.create_with(by, once, KeyLookUp::First, build).await
    }

    /// [`Mutations::create`], looking `once`'s key up first or not (the
    /// caller did, see [`KeyLookUp::Done`]).
    pub async fn create_with<R: Record, D: DomainError>(
        &self,
        by: &Actor<'_>,
        once: Once<'_>,
        look_up: KeyLookUp,
        build: impl AsyncFnOnce(Tx) -> Result<(R, Changes, Vec<Event>), Error<D>>,
    ) -> Result<R, Error<D>> {
        let done = self.run(by, async |tx| {
            let (record, trail, events) = build(tx.clone()).await?;
            let key = once.key.map(|key| idempotency::new_rows(once.scope, by.actor, key, record.id(), by.at));
            match tx.insert_new_with(&record, &trail, events, key).await {
                Ok(()) => Ok(record),
                Err(err) if is_unique_violation(&err) => Err(already_exists(&record)),
                Err(err) => Err(err.into()),
            }
        });
        let first = |id: String| async move { R::load(&self.db, &id).await?.ok_or_else(|| Error::not_found(&R::noun(), id)) };
        Self::at_most_once(&self.db, by, once, look_up, done, first).await
    }

    /// [`Mutations::create_with`] without BEGIN and COMMIT, for a create
    /// whose `build` only reads: the reads and the one insert of the
    /// record, its trail, events and key (and of the records it makes
    /// with it, [`Creation::with`]) go over `conn` (one checkout), and the
    /// insert commits alone. In READ COMMITTED each statement of a
    /// transaction reads its own snapshot anyway, and plain reads hold
    /// nothing, so the transaction bought such a create nothing but two
    /// round trips. `build` answers `None` when the create turns out to
    /// need one (it would write more than its insert): nothing was written,
    /// and the caller runs [`Mutations::create_with`].
    pub async fn create_alone<R: Record, D: DomainError>(
        &self,
        by: &Actor<'_>,
        once: Once<'_>,
        look_up: KeyLookUp,
        conn: &db::Held,
        build: impl AsyncFnOnce(&db::Held) -> Result<Option<Creation<R>>, Error<D>>,
    ) -> Result<Option<R>, Error<D>> {
        let done = async {
            let Some(Creation { record, trail, events, with }) = build(conn).await? else { return Ok(None) };
            let Some((first, own)) = record.insert_rows(DbBackend::Postgres) else { return Ok(None) };
            let mut firsts = Vec::with_capacity(with.len() + 1);
            let mut rows = Vec::new();
            let mut refusals = Vec::with_capacity(with.len());
            for also in with {
                firsts.push(also.insert);
                rows.extend(also.rows);
                refusals.push((also.unique, also.taken));
            }
            firsts.push(first);
            rows.extend(own);
            rows.extend(with_events(audit::creation_rows(R::KIND, record.id(), by, &trail), by, self.source, events));
            rows.extend(once.key.map(|key| idempotency::new_rows(once.scope, by.actor, key, record.id(), by.at)));
            // One insert per table: the events of the records made together
            // keep their order in the outbox.
            match db::insert_all(conn, firsts, db::merge_rows(rows)).await {
                Ok(()) => {
                    self.relay.wake();
                    Ok(Some(record))
                }
                Err(err) if is_unique_violation(&err) => {
                    let broken = violated_constraint(&err);
                    match refusals.into_iter().find(|(unique, _)| broken == Some(*unique)) {
                        Some((_, (field, message))) => Err(Error::AlreadyExists { field, message }),
                        None => Err(already_exists(&record)),
                    }
                }
                Err(err) => Err(err.into()),
            }
        };
        let first = async |id: String| R::load(conn, &id).await?.ok_or_else(|| Error::not_found(&R::noun(), id)).map(Some);
        // On `conn`: a second checkout while this one is held could wait on
        // a pool that busy creates all hold.
        Self::at_most_once(conn, by, once, look_up, done, first).await
    }

    /// `record`, new, to insert with a create's own record in its one
    /// statement ([`Creation::with`]), with its creation's `trail` and the
    /// `events` that announce it. `unique` names the constraint (as
    /// PostgreSQL names it) that refuses it as taken: the create is then
    /// refused as the record's [`Record::already_exists`].
    pub fn also_new<R: Record>(
        &self,
        record: &R,
        trail: &Changes,
        by: &Actor<'_>,
        events: impl IntoIterator<Item = Event>,
        unique: &'static str,
    ) -> Result<AlsoNew, DbErr> {
        let Some((insert, mut rows)) = record.insert_rows(DbBackend::Postgres) else {
            return Err(DbErr::Custom(format!("a {} record cannot say its insert", R::KIND)));
        };
        rows.extend(with_events(audit::creation_rows(R::KIND, record.id(), by, trail), by, self.source, events));
        Ok(AlsoNew { insert, rows, unique, taken: record.already_exists() })
    }

    /// The masked update: `apply` copies the masked `fields` onto the record
    /// and records each change; when anything changed, `check` (given the
    /// transaction, the record before and after) refuses what the domain's
    /// rules do not allow. [`unchecked`] is the check of a record without
    /// such rules.
    pub async fn update_fields<R, V, I, F, D, C>(
        &self,
        by: &Actor<'_>,
        target: &UpdateTarget<I, F>,
        fields: &V,
        apply: impl Fn(&mut R, &V, &FieldMask<F>, &mut Changes),
        check: impl Fn(Tx, R, R) -> C,
        events: impl Fn(&R, &R, &Changes) -> Vec<Event>,
    ) -> Result<R, Error<D>>
    where
        R: Record,
        I: RecordId,
        F: MaskField,
        D: DomainError,
        C: Future<Output = Result<(), Error<D>>>,
    {
        let change = |tx: Tx, before: R| {
            let mut after = before.clone();
            let mut changes = Changes::new();
            apply(&mut after, fields, &target.mask, &mut changes);
            let checked = (!changes.is_empty()).then(|| check(tx, before, after.clone()));
            async move {
                if let Some(checked) = checked {
                    checked.await?;
                }
                Ok(Edit { after, changes })
            }
        };
        self.update(by, &target.id.to_string(), Some(target.etag), change, events).await
    }

    /// Changes the record `id`: loads it (checking the caller's `etag` when
    /// one was sent), lets the domain `change` it, and saves the edit with
    /// its trail and events. An edit without changes writes nothing. Without
    /// an etag, a concurrent change is not the caller's problem: the change
    /// runs again on the fresh record, which is why `change` is a plain
    /// closure returning a future (see [`Mutations::run_once`]).
    pub async fn update<R: Record, D: DomainError, F: Future<Output = Result<Edit<R>, Error<D>>>>(
        &self,
        by: &Actor<'_>,
        id: &str,
        etag: Option<i64>,
        change: impl Fn(Tx, R) -> F,
        events: impl Fn(&R, &R, &Changes) -> Vec<Event>,
    ) -> Result<R, Error<D>> {
        let mut attempt = 1;
        loop {
            let result = self
                .run(by, async |tx| {
                    let before = R::load(&*tx, id).await?.ok_or_else(|| Error::not_found(&R::noun(), id))?;
                    if let Some(etag) = etag
                        && etag != before.version()
                    {
                        return Err(Error::stale(&R::noun(), &before.name(), etag, before.version()));
                    }
                    let edit = change(tx.clone(), before.clone()).await?;
                    if edit.changes.is_empty() {
                        return Ok(before);
                    }
                    tx.save(&before, edit, &events).await
                })
                .await;
            match result {
                Err(Error::Stale(_)) if etag.is_none() && attempt < UNVERSIONED_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }
}
