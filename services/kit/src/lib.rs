//! Docket's shared runtime: what every service needs, written once.
//!
//! - [`settings`]: layered configuration (defaults → file → `DOCKET__*` env);
//! - [`telemetry`]: tracing, JSON logs, OTLP export, trace context over gRPC;
//! - [`db`]: sea-orm connections, PostgreSQL (a schema per service) or SQLite (a file per service);
//! - [`grpc`]: the tonic server bootstrap (health, reflection, timeout, graceful shutdown);
//! - [`events`]: transactional outbox, relay, consumers with inbox/retry/dead letters, brokers;
//! - [`auth`]: bearer tokens, roles, and the caller who becomes the actor of a change;
//! - [`error`]: field violations and the mapping to gRPC status with rich details;
//! - [`idempotency`]: idempotent creates;
//! - [`page`], [`time`]: cursor pagination tokens and timestamp conversions.

pub mod auth;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc;
pub mod idempotency;
pub mod page;
pub mod settings;
pub mod telemetry;
pub mod time;
