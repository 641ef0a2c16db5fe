//! The events this service writes to its outbox (`docket.events.v1`,
//! routing key = event type): pure mappings from records to events. The
//! mutation runner writes them in the transaction of the change they report.

use chrono::{DateTime, Utc};
use docket_kit::{audit::Changes, mutation::Event};
use docket_proto::events::v1 as ev;

use crate::{
    records::{
        ContractRecord, InvoiceRecord, Sheet,
        entities::{booked_hours, ledger_entry, service_part, sub_contract},
    },
    wire,
};

fn changes(changes: &Changes) -> Vec<ev::FieldChange> {
    changes
        .fields()
        .map(|c| ev::FieldChange { field: c.field.to_owned(), old_value: c.old.clone(), new_value: c.new.clone() })
        .collect()
}

/// contract.created, contract.updated, contract.status_changed; the contract as of `at`.
pub fn contract_changed(
    event_type: &'static str,
    record: &ContractRecord,
    trail: &Changes,
    reason: &str,
    at: DateTime<Utc>,
) -> Event {
    let payload = ev::ContractChanged {
        contract: Some(wire::contract(record.clone(), at)),
        changes: changes(trail),
        reason: reason.to_owned(),
    };
    Event::new(event_type, &record.contract.id, "docket.events.v1.ContractChanged", &payload)
}

/// subcontract.created, subcontract.credited, subcontract.debited
pub fn sub_contract_changed(
    event_type: &'static str,
    model: &sub_contract::Model,
    currency: &str,
    entry: Option<&ledger_entry::Model>,
) -> Event {
    let payload = ev::SubContractChanged {
        sub_contract: Some(wire::sub_contract(model.clone(), currency)),
        entry: entry.cloned().map(wire::ledger_entry),
    };
    Event::new(event_type, &model.id, "docket.events.v1.SubContractChanged", &payload)
}

/// hours.booked, hours.updated, hours.deleted
pub fn hours_changed(event_type: &'static str, model: &booked_hours::Model) -> Event {
    let payload = ev::HoursBooked { hours: Some(wire::hours(model.clone())) };
    Event::new(event_type, &model.id, "docket.events.v1.HoursBooked", &payload)
}

/// part.added, part.updated, part.deleted
pub fn part_changed(event_type: &'static str, model: &service_part::Model) -> Event {
    let payload = ev::ServicePartChanged { part: Some(wire::part(model.clone())) };
    Event::new(event_type, &model.id, "docket.events.v1.ServicePartChanged", &payload)
}

/// timesheet.submitted, timesheet.approved, timesheet.rejected
pub fn timesheet_changed(event_type: &'static str, sheet: &Sheet) -> Event {
    let payload = ev::TimesheetChanged { timesheet: Some(wire::sheet(sheet)) };
    let subject = sheet.row.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    Event::new(event_type, &subject, "docket.events.v1.TimesheetChanged", &payload)
}

/// invoice.created, invoice.issued, invoice.paid, invoice.voided
pub fn invoice_changed(event_type: &'static str, record: &InvoiceRecord, reason: &str) -> Event {
    let payload = ev::InvoiceChanged { invoice: Some(wire::invoice(record.clone())), reason: reason.to_owned() };
    Event::new(event_type, &record.invoice.id, "docket.events.v1.InvoiceChanged", &payload)
}
