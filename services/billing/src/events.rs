//! The events this service writes to its outbox, in the transaction of the
//! change they report (`docket.events.v1`, routing key = event type).

use docket_kit::audit::{Actor, Changes};
use docket_proto::events::v1 as ev;
use sea_orm::ConnectionTrait;

use crate::{
    error::Result,
    grpc,
    store::{
        ContractRecord,
        entities::{booked_hours, ledger_entry, service_part, sub_contract},
        invoices::InvoiceRecord,
        timesheets::Sheet,
        write_event,
    },
};

fn changes(changes: &Changes) -> Vec<ev::FieldChange> {
    changes
        .fields()
        .map(|c| ev::FieldChange { field: c.field.to_owned(), old_value: c.old.clone(), new_value: c.new.clone() })
        .collect()
}

/// contract.created, contract.updated, contract.status_changed
pub(crate) async fn contract_changed(
    txn: &impl ConnectionTrait,
    event_type: &str,
    record: &ContractRecord,
    trail: &Changes,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::ContractChanged {
        contract: Some(grpc::contract_to_proto(record.clone(), by.at)),
        changes: changes(trail),
        reason: by.reason.to_owned(),
    };
    write_event(txn, event_type, &record.contract.id, by, "docket.events.v1.ContractChanged", &payload).await
}

/// subcontract.created, subcontract.credited, subcontract.debited
pub(crate) async fn sub_contract_changed(
    txn: &impl ConnectionTrait,
    event_type: &str,
    model: &sub_contract::Model,
    contract: &ContractRecord,
    entry: Option<&ledger_entry::Model>,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::SubContractChanged {
        sub_contract: Some(grpc::sub_contract_to_proto(model.clone(), &contract.contract.currency)),
        entry: entry.cloned().map(grpc::ledger_entry_to_proto),
    };
    write_event(txn, event_type, &model.id, by, "docket.events.v1.SubContractChanged", &payload).await
}

/// hours.booked, hours.updated, hours.deleted
pub(crate) async fn hours_changed(
    txn: &impl ConnectionTrait,
    event_type: &str,
    model: &booked_hours::Model,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::HoursBooked { hours: Some(grpc::hours_to_proto(model.clone())) };
    write_event(txn, event_type, &model.id, by, "docket.events.v1.HoursBooked", &payload).await
}

/// part.added, part.updated, part.deleted
pub(crate) async fn part_changed(
    txn: &impl ConnectionTrait,
    event_type: &str,
    model: &service_part::Model,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::ServicePartChanged { part: Some(grpc::part_to_proto(model.clone())) };
    write_event(txn, event_type, &model.id, by, "docket.events.v1.ServicePartChanged", &payload).await
}

/// timesheet.submitted, timesheet.approved, timesheet.rejected
pub(crate) async fn timesheet_changed(txn: &impl ConnectionTrait, event_type: &str, sheet: &Sheet, by: &Actor<'_>) -> Result<()> {
    let payload = ev::TimesheetChanged { timesheet: Some(grpc::sheet_to_proto(sheet)) };
    let subject = sheet.row.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    write_event(txn, event_type, &subject, by, "docket.events.v1.TimesheetChanged", &payload).await
}

/// invoice.created, invoice.issued, invoice.paid, invoice.voided
pub(crate) async fn invoice_changed(
    txn: &impl ConnectionTrait,
    event_type: &str,
    record: &InvoiceRecord,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::InvoiceChanged { invoice: Some(grpc::invoice_to_proto(record.clone())), reason: by.reason.to_owned() };
    write_event(txn, event_type, &record.invoice.id, by, "docket.events.v1.InvoiceChanged", &payload).await
}
