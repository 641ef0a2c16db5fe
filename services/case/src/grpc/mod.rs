//! The gRPC adapter: turns requests into validated domain commands, checks
//! the caller's role, calls the store, and turns results back into messages.
//! Proto types stop here.

mod accounts;
mod cases;
mod contacts;
mod escalation;
mod reports;
mod routing;
mod staff;

use docket_kit::{
    audit::{self, HistoryPage},
    auth::Caller,
    error::FieldViolations,
};
use tonic::Status;

pub use self::{
    accounts::AccountApi, cases::CaseApi, contacts::ContactApi, escalation::EscalationRuleApi, reports::ReportApi,
    routing::AssignmentRuleApi, staff::StaffApi,
};
use crate::{
    domain::commands::Idempotency,
    error::Error,
    store::{Actor, Store},
    wire::WireEnum,
};
use docket_proto::case::v1 as pb;

/// Longest reason, in characters.
const REASON_MAX: usize = 1_000;

/// The idempotency of a create: the key, and a hash of the request without it.
fn idempotency<M: prost::Message>(violations: &mut FieldViolations, key: &str, request_without_key: &M) -> Option<Idempotency> {
    docket_kit::idempotency::from_request(violations, key, request_without_key)
}

/// A repeated enum field: each value known (else a violation naming it),
/// duplicates dropped, first order kept.
fn unique_enum_values<T: WireEnum + PartialEq>(violations: &mut FieldViolations, field: &str, raws: &[i32]) -> Vec<T> {
    let mut parsed: Vec<T> = Vec::new();
    for value in violations.enum_values(field, raws, T::from_wire) {
        if !parsed.contains(&value) {
            parsed.push(value);
        }
    }
    parsed
}

fn reason(violations: &mut FieldViolations, reason: &str) -> String {
    violations.optional_text("reason", reason, REASON_MAX)
}

fn actor<'a>(caller: &'a Caller, reason: &'a str) -> Actor<'a> {
    Actor { actor: &caller.actor, reason, at: docket_kit::time::now() }
}

/// Shared by every ListXHistory call.
async fn history(store: &Store, types: &[&str], request: pb::ListHistoryRequest) -> Result<pb::ListHistoryResponse, Status> {
    let mut violations = FieldViolations::new();
    let id = violations.required_id("id", &request.id);
    let page = HistoryPage::parse(&mut violations, request.page_size, &request.page_token);
    violations.into_result()?;
    let id = id.map(|id| id.to_string()).unwrap_or_default();
    Ok(audit::history(store.connection(), types, &id, page).await.map_err(Error::from)?)
}
