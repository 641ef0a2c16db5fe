//! The event backbone against real RabbitMQ and PostgreSQL: what the case
//! service publishes, and faults that must lose nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../case/fixtures.rs"]
mod fixtures;

mod consuming;
mod publishing;
mod queue_types;
