//! What every change through the adapter needs: who makes it, and why.

use docket_kit::{auth::Caller, error::FieldViolations, time};

use crate::store::Actor;

/// Longest reason, in characters.
const REASON_MAX: usize = 1_000;

pub fn reason(violations: &mut FieldViolations, reason: &str) -> String {
    violations.optional_text("reason", reason, REASON_MAX)
}

pub fn actor<'a>(caller: &'a Caller, reason: &'a str) -> Actor<'a> {
    Actor { actor: &caller.actor, reason, at: time::now() }
}
