//! Docket's shared runtime: what every service needs, written once.
//!
//! - [`settings`]: layered configuration (defaults → file → `DOCKET__*` env);
//! - [`telemetry`]: tracing, JSON logs, OTLP export, trace context over gRPC;
//! - [`client`]: calling another service with a service token and the trace;
//! - [`counter`]: gapless numbers for people (case, contract, invoice numbers);
//! - [`db`]: sea-orm connections, PostgreSQL (a schema per service) or SQLite (a file per service);
//! - [`grpc`]: the tonic server bootstrap (health, reflection, timeout, graceful shutdown);
//! - [`events`]: transactional outbox, relay, consumers with inbox/retry/dead letters, brokers;
//! - [`clients`]: the case service as other services call it;
//! - [`auth`]: bearer tokens, roles, and the caller who becomes the actor of a change;
//! - [`audit`]: the append-only audit trail of a service's records;
//! - [`error`]: field violations and the mapping to gRPC status with rich details;
//! - [`idempotency`]: idempotent creates;
//! - [`mutation`]: the one path of every change (etag, version, trail, outbox, commit);
//! - [`request`]: typed ids, parsed field masks, update targets;
//! - [`kv`]: expiring keys (sessions, counters, rate limits) in Redis or memory;
//! - [`secret`]: random tokens and the digests stored instead of them;
//! - [`page`], [`time`]: cursor pagination tokens and timestamp conversions.

pub mod audit;
pub mod auth;
pub mod clients;
pub mod counter;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc;
pub mod idempotency;
pub mod kv;
pub mod metrics;
pub mod mutation;
pub mod page;
pub mod request;
pub mod secret;
pub mod settings;
pub mod telemetry;
pub mod time;

pub use error::Error;
