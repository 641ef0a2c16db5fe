//! Integration tests of the case service over real gRPC, each on
//! PostgreSQL (a fresh schema) and on SQLite (a fresh file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod fixtures;

mod accounts;
mod activities;
mod auth;
mod bad_input;
mod cache;
mod cases;
mod concurrency;
mod contacts;
mod health;
mod period_reports;
mod properties;
mod report_backfill;
mod reports;
mod routing;
mod routing_changes;
mod staff;
mod totals;
