//! The gRPC adapter: turns requests into validated commands, checks the
//! caller's role, calls the store, and turns results back into messages.
//! Proto types stop here.

mod contracts;
mod policies;
mod sla;
mod work;

use chrono::NaiveDate;
use docket_kit::{audit::Actor, auth::Caller, error::FieldViolations};
use docket_proto::case::v1 as case_pb;

pub use self::{contracts::ContractApi, policies::SlaPolicyApi, sla::CaseSlaApi, work::WorkApi};
use crate::domain::{money::Currency, sla::Priority};

/// Longest reason or description of a ledger entry, in characters.
const REASON_MAX: usize = 1_000;

fn actor<'a>(caller: &'a Caller, reason: &'a str) -> Actor<'a> {
    Actor { actor: &caller.actor, reason, at: docket_kit::time::now() }
}

/// A date like "2026-11-23".
fn date(violations: &mut FieldViolations, field: &str, value: &str, required: bool) -> Option<NaiveDate> {
    let value = value.trim();
    if value.is_empty() {
        if required {
            violations.add(field, "is required: a date like 2026-11-23");
        }
        return None;
    }
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
    if parsed.is_none() {
        violations.add(field, format!("`{}` is not a date like 2026-11-23", value.chars().take(32).collect::<String>()));
    }
    parsed
}

/// An ISO 4217 currency code.
fn currency(violations: &mut FieldViolations, field: &str, value: &str) -> Option<Currency> {
    match Currency::parse(value.trim()) {
        Ok(currency) => Some(currency),
        Err(err) => {
            violations.add(field, err.to_string());
            None
        }
    }
}

fn priority_from_proto(raw: i32) -> Option<Priority> {
    Some(match case_pb::CasePriority::try_from(raw).ok()? {
        case_pb::CasePriority::Unspecified => return None,
        case_pb::CasePriority::Low => Priority::Low,
        case_pb::CasePriority::Medium => Priority::Medium,
        case_pb::CasePriority::High => Priority::High,
        case_pb::CasePriority::Critical => Priority::Critical,
    })
}

fn priority_to_proto(priority: Priority) -> case_pb::CasePriority {
    match priority {
        Priority::Low => case_pb::CasePriority::Low,
        Priority::Medium => case_pb::CasePriority::Medium,
        Priority::High => case_pb::CasePriority::High,
        Priority::Critical => case_pb::CasePriority::Critical,
    }
}
