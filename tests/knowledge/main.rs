//! The knowledge-base service against real PostgreSQL and SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod articles;
mod attachments;
mod categories;
mod migrations;
mod search;
