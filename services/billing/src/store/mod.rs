//! The billing service's commands on its records. Every change goes through
//! the kit's mutation runner, so it writes its audit rows and its events in
//! its own transaction.

pub mod clocks;
pub mod contracts;
pub mod invoices;
pub mod policies;
pub mod timesheets;
pub mod work;

pub use self::{
    contracts::{ContractFields, ContractFilter, NewSubContract},
    policies::{PolicyFields, StoredHours, StoredTarget, holidays_of, hours_of, policy_of, targets_of},
};

/// The `source` of every event this service writes.
pub const SOURCE: &str = "billing";

docket_kit::service_store!(
    /// The billing service's database. Cheap to clone.
    pub struct Store, source = SOURCE
);

/// A new record id: UUID v7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub use docket_kit::page::IdCursor;

pub(crate) use docket_kit::page::page_end;
