//! Integration tests of the notification service.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../case/fixtures.rs"]
mod fixtures;

mod inbound;
mod inbound_trust;
mod outbound;
mod review;
mod trail;
