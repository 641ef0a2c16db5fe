//! Integration tests of the contract & billing service.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../case/fixtures.rs"]
mod fixtures;

mod bad_input;
mod consumers;
mod contracts;
mod escalation;
mod faults;
mod sla_policies;
mod sla_tracking;
mod work;
mod work_orders;
