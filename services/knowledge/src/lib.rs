//! Docket's knowledge-base service (issue 13, in steps). What stands so far
//! are the domain rules every later part builds on, each a pure function
//! with its own tests:
//!
//! - [`domain::markdown`]: an article's Markdown to HTML that is safe to
//!   serve whatever its author typed;
//! - [`domain::redaction`]: a solved case's text with the customer's
//!   personal data replaced by placeholders, and the list of what was
//!   replaced, before a draft article is proposed from it;
//! - [`domain::slug`]: readable, stable URL slugs.
//!
//! The API is `proto/docket/knowledge/v1/knowledge.proto`.

pub mod domain;

/// The service's name: its schema, queue and `docket serve` target.
pub const SERVICE: &str = "knowledge";
