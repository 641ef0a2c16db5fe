//! Integration tests of the contract & billing service.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod sla_policies;
