//! Tests of the HTTP gateway in front of running services: the REST API
//! (cases, accounts, and the staff endpoints of the portal and billing
//! services) and its OpenAPI document (checked by schemathesis), bad input
//! to every endpoint, probes, security headers, the dev mailbox page, the
//! help center, and pages in a real browser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../case/fixtures.rs"]
mod fixtures;
#[path = "../knowledge/support.rs"]
mod knowledge;
#[path = "../portal/support.rs"]
mod support;

mod api;
mod bad_input;
mod browser;
mod help;
mod kb_api;
mod openapi;
mod portal_pages;
mod process;
mod reports;
mod routing;
mod staff_api;
mod web;
mod web_forms;
