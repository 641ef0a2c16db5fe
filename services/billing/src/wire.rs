//! The billing service's records as `docket.billing.v1` messages: what the
//! API answers and what the events carry, in one place so both say the same.

use chrono::{DateTime, Utc};
use docket_kit::time;
use docket_proto::{billing::v1 as pb, case::v1 as case_pb};

use crate::{
    domain::{
        contract::ContractStatus,
        invoice::InvoiceStatus,
        timesheet::{Period, SheetStatus},
    },
    records::{
        ContractRecord, InvoiceRecord, Sheet,
        entities::{booked_hours, invoice_line, ledger_entry, service_part, sub_contract},
    },
};

pub fn contract_status(status: ContractStatus) -> pb::ContractStatus {
    match status {
        ContractStatus::Draft => pb::ContractStatus::Draft,
        ContractStatus::Active => pb::ContractStatus::Active,
        ContractStatus::Expired => pb::ContractStatus::Expired,
        ContractStatus::Cancelled => pb::ContractStatus::Cancelled,
    }
}

/// The contract as of `now` (an active contract past its end reads as expired).
pub fn contract(record: ContractRecord, now: DateTime<Utc>) -> pb::ServiceContract {
    let status = record.status_on(now.date_naive());
    let contract = record.contract;
    pb::ServiceContract {
        id: contract.id,
        contract_number: contract.contract_number,
        account_id: contract.account_id,
        name: contract.name,
        contract_type: contract.contract_type,
        status: contract_status(status) as i32,
        start_date: contract.start_date,
        end_date: contract.end_date,
        sla_policy_id: contract.sla_policy_id.unwrap_or_default(),
        covered_assets: record
            .assets
            .into_iter()
            .map(|a| pb::CoveredAsset { description: a.description, serial_number: a.serial_number })
            .collect(),
        rates: Some(pb::BillingRates {
            currency: contract.currency,
            hourly_rate_minor: contract.hourly_rate_minor,
            tax_rate_basis_points: contract.tax_rate_bp,
        }),
        description: contract.description,
        create_time: Some(time::to_proto(contract.created_at)),
        update_time: Some(time::to_proto(contract.updated_at)),
        etag: contract.version.to_string(),
    }
}

fn balance_kind_to_proto(kind: &str) -> pb::BalanceKind {
    match kind {
        "money" => pb::BalanceKind::Money,
        "hours" => pb::BalanceKind::Hours,
        _ => pb::BalanceKind::Unspecified,
    }
}

pub fn sub_contract(model: sub_contract::Model, currency: &str) -> pb::SubContract {
    pb::SubContract {
        balance_kind: balance_kind_to_proto(&model.balance_kind) as i32,
        currency: if model.balance_kind == "money" { currency.to_owned() } else { String::new() },
        create_time: Some(time::to_proto(model.created_at)),
        update_time: Some(time::to_proto(model.updated_at)),
        etag: model.version.to_string(),
        id: model.id,
        contract_id: model.contract_id,
        name: model.name,
        balance: model.balance,
        allow_overdraft: model.allow_overdraft,
    }
}

pub fn ledger_entry(model: ledger_entry::Model) -> pb::LedgerEntry {
    pb::LedgerEntry {
        kind: match model.kind.as_str() {
            "credit" => pb::LedgerEntryKind::Credit,
            "debit" => pb::LedgerEntryKind::Debit,
            _ => pb::LedgerEntryKind::Unspecified,
        } as i32,
        create_time: Some(time::to_proto(model.created_at)),
        id: model.id,
        sub_contract_id: model.sub_contract_id,
        amount: model.amount,
        balance_after: model.balance_after,
        case_id: model.case_id.unwrap_or_default(),
        description: model.description,
        actor: model.actor,
    }
}

pub fn money(minor: i64, currency: &str) -> case_pb::Money {
    case_pb::Money { amount_minor: minor, currency: currency.to_owned() }
}

fn billing_of(invoice_id: &Option<String>, ledger_entry_id: &Option<String>) -> Option<pb::Billing> {
    (invoice_id.is_some() || ledger_entry_id.is_some()).then(|| pb::Billing {
        invoice_id: invoice_id.clone().unwrap_or_default(),
        ledger_entry_id: ledger_entry_id.clone().unwrap_or_default(),
    })
}

pub fn hours(model: booked_hours::Model) -> pb::BookedHours {
    pb::BookedHours {
        billed: billing_of(&model.invoice_id, &model.ledger_entry_id),
        rate: Some(money(model.rate_minor, &model.currency)),
        create_time: Some(time::to_proto(model.created_at)),
        update_time: Some(time::to_proto(model.updated_at)),
        etag: model.version.to_string(),
        id: model.id,
        staff_id: model.staff_id,
        case_id: model.case_id.unwrap_or_default(),
        project_code: model.project_code.unwrap_or_default(),
        work_date: model.work_date,
        minutes: model.minutes,
        billable: model.billable,
        description: model.description,
    }
}

pub fn part(model: service_part::Model) -> pb::ServicePart {
    pb::ServicePart {
        billed: billing_of(&model.invoice_id, &model.ledger_entry_id),
        unit_price: Some(money(model.unit_price_minor, &model.currency)),
        create_time: Some(time::to_proto(model.created_at)),
        update_time: Some(time::to_proto(model.updated_at)),
        etag: model.version.to_string(),
        id: model.id,
        case_id: model.case_id,
        part_number: model.part_number,
        description: model.description,
        quantity_milli: model.quantity_milli,
        billable: model.billable,
    }
}

pub fn period(period: Period) -> pb::TimesheetPeriod {
    match period {
        Period::Week => pb::TimesheetPeriod::Week,
        Period::Month => pb::TimesheetPeriod::Month,
    }
}

fn sheet_status_to_proto(status: SheetStatus) -> pb::TimesheetStatus {
    match status {
        SheetStatus::Open => pb::TimesheetStatus::Open,
        SheetStatus::Submitted => pb::TimesheetStatus::Submitted,
        SheetStatus::Approved => pb::TimesheetStatus::Approved,
        SheetStatus::Rejected => pb::TimesheetStatus::Rejected,
    }
}

pub fn minutes(total: i64) -> i32 {
    i32::try_from(total).unwrap_or(i32::MAX)
}

pub fn sheet(sheet: &Sheet) -> pb::Timesheet {
    let mut days: Vec<pb::TimesheetDay> = Vec::new();
    let mut lines: Vec<pb::TimesheetLine> = Vec::new();
    for hours in &sheet.hours {
        match days.iter_mut().find(|d| d.date == hours.work_date) {
            Some(day) => day.minutes += hours.minutes,
            None => days.push(pb::TimesheetDay { date: hours.work_date.clone(), minutes: hours.minutes }),
        }
        let (case_id, project) = (hours.case_id.clone().unwrap_or_default(), hours.project_code.clone().unwrap_or_default());
        let line = match lines.iter_mut().position(|l| l.case_id == case_id && l.project_code == project) {
            Some(i) => &mut lines[i],
            None => {
                lines.push(pb::TimesheetLine { case_id, project_code: project, minutes: 0, billable_minutes: 0 });
                let last = lines.len() - 1;
                &mut lines[last]
            }
        };
        line.minutes += hours.minutes;
        if hours.billable {
            line.billable_minutes += hours.minutes;
        }
    }
    let total: i64 = sheet.hours.iter().map(|h| i64::from(h.minutes)).sum();
    let billable: i64 = sheet.hours.iter().filter(|h| h.billable).map(|h| i64::from(h.minutes)).sum();
    let row = sheet.row.as_ref();
    pb::Timesheet {
        id: row.map(|r| r.id.clone()).unwrap_or_default(),
        staff_id: sheet.staff_id.clone(),
        period: period(sheet.period) as i32,
        period_start: sheet.start.to_string(),
        period_end: sheet.end.to_string(),
        status: sheet_status_to_proto(sheet.status()) as i32,
        days,
        lines,
        total_minutes: minutes(total),
        billable_minutes: minutes(billable),
        submitted_by: row.map(|r| r.submitted_by.clone()).unwrap_or_default(),
        submit_time: row.map(|r| time::to_proto(r.submitted_at)),
        reviewed_by: row.map(|r| r.reviewed_by.clone()).unwrap_or_default(),
        review_time: row.and_then(|r| time::to_proto_opt(r.reviewed_at)),
        review_note: row.map(|r| r.review_note.clone()).unwrap_or_default(),
        etag: row.map(|r| r.version.to_string()).unwrap_or_default(),
    }
}

fn invoice_status_to_proto(key: &str) -> pb::InvoiceStatus {
    match InvoiceStatus::from_key(key) {
        Some(InvoiceStatus::Draft) => pb::InvoiceStatus::Draft,
        Some(InvoiceStatus::Issued) => pb::InvoiceStatus::Issued,
        Some(InvoiceStatus::Paid) => pb::InvoiceStatus::Paid,
        Some(InvoiceStatus::Void) => pb::InvoiceStatus::Void,
        None => pb::InvoiceStatus::Unspecified,
    }
}

fn line_to_proto(line: invoice_line::Model, currency: &str) -> pb::InvoiceLine {
    pb::InvoiceLine {
        amount: Some(money(line.amount_minor, currency)),
        source: line.source,
        source_id: line.source_id,
        description: line.description,
    }
}

pub fn invoice(record: InvoiceRecord) -> pb::Invoice {
    let invoice = record.invoice;
    let currency = invoice.currency.clone();
    pb::Invoice {
        invoice_number: invoice.invoice_number.unwrap_or_default(),
        status: invoice_status_to_proto(&invoice.status) as i32,
        lines: record.lines.into_iter().map(|l| line_to_proto(l, &currency)).collect(),
        net: Some(money(invoice.net_minor, &currency)),
        tax_rate_basis_points: invoice.tax_rate_bp,
        tax: Some(money(invoice.tax_minor, &currency)),
        gross: Some(money(invoice.gross_minor, &currency)),
        create_time: Some(time::to_proto(invoice.created_at)),
        issue_time: time::to_proto_opt(invoice.issued_at),
        paid_time: time::to_proto_opt(invoice.paid_at),
        void_time: time::to_proto_opt(invoice.voided_at),
        etag: invoice.version.to_string(),
        id: invoice.id,
        case_id: invoice.case_id,
        account_id: invoice.account_id,
        contract_id: invoice.contract_id.unwrap_or_default(),
    }
}
