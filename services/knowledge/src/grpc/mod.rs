//! The gRPC adapter: turns requests into validated commands, checks the
//! caller's role, calls the store, and turns records back into messages.
//! Proto types stop here.

mod articles;
mod attachments;
mod categories;
mod deflection;
mod links;
mod proposals;

use docket_kit::{audit::Actor, auth::Caller, error::FieldViolations, idempotency::Idempotency};

pub use self::{
    articles::ArticleApi, attachments::AttachmentApi, categories::CategoryApi, deflection::DeflectionApi, links::ArticleLinkApi,
    proposals::DraftProposalApi,
};

/// Longest reason, in characters.
const REASON_MAX: usize = 1_000;

fn idempotency<M: prost::Message>(violations: &mut FieldViolations, key: &str, request_without_key: &M) -> Option<Idempotency> {
    docket_kit::idempotency::from_request(violations, key, request_without_key)
}

fn reason(violations: &mut FieldViolations, reason: &str) -> String {
    violations.optional_text("reason", reason, REASON_MAX)
}

fn actor<'a>(caller: &'a Caller, reason: &'a str) -> Actor<'a> {
    Actor { actor: &caller.actor, reason, at: docket_kit::time::now() }
}
