//! Integration tests of the portal service and the key store under its
//! sessions: on PostgreSQL with Redis sessions and on SQLite with in-memory
//! sessions; emails through the dev mailbox and a real SMTP server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../case/fixtures.rs"]
mod fixtures;
mod support;

mod access;
mod auth;
mod cases;
mod confirmation;
mod dev;
mod email;
mod forms;
mod kv;
mod links;
mod timeline;
