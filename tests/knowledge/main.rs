//! The knowledge-base service against real PostgreSQL and SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../case/fixtures.rs"]
mod fixtures;

mod articles;
mod attachments;
mod categories;
mod deflection;
mod links;
mod migrations;
mod proposals;
mod search;
mod support;
