//! End-to-end tests of the real `docket` binary, started the way an
//! operator starts it: configuration from the environment, signals to stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod install;
mod mail;
mod mailer;
mod metrics;
mod outage;
mod postfix;
mod queues;
mod shutdown;
