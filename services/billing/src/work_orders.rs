//! A case's work order: gathers the case, its customer, contract, booked
//! hours and parts, and prints them ([`domain::work_order`]).

use std::collections::HashMap;

use docket_proto::{billing::v1 as pb, case::v1 as case_pb};

use crate::{
    clients::CaseClients,
    domain::{
        money::{Currency, Money},
        work_order::{ContractInfo, Customer, HoursLine, PartLine, WorkOrder, render_pdf},
    },
    error::{Error, Result},
    store::{Store, work::HoursFilter},
};

/// Most hours and parts lines one work order prints.
const LINES_MAX: u64 = 5_000;

fn status_label(raw: i32) -> &'static str {
    match case_pb::CaseStatus::try_from(raw) {
        Ok(case_pb::CaseStatus::ActiveNew) => "Active – New",
        Ok(case_pb::CaseStatus::ActiveAssigned) => "Active – Assigned",
        Ok(case_pb::CaseStatus::Pending) => "Pending",
        Ok(case_pb::CaseStatus::ClosedComplete) => "Closed – Complete",
        Ok(case_pb::CaseStatus::ClosedNoFault) => "Closed – No Fault",
        _ => "",
    }
}

fn priority_label(raw: i32) -> &'static str {
    match case_pb::CasePriority::try_from(raw) {
        Ok(case_pb::CasePriority::Low) => "Low",
        Ok(case_pb::CasePriority::Medium) => "Medium",
        Ok(case_pb::CasePriority::High) => "High",
        Ok(case_pb::CasePriority::Critical) => "Critical",
        _ => "",
    }
}

fn address_lines(address: Option<&case_pb::Address>) -> Vec<String> {
    let Some(a) = address else { return Vec::new() };
    let town = [a.postal_code.as_str(), a.city.as_str()].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ");
    [a.street.clone(), town, a.region.clone(), a.country.clone()].into_iter().filter(|l| !l.trim().is_empty()).collect()
}

/// The work order of a case as a PDF, with everything on it read now.
pub async fn print(store: &Store, clients: &CaseClients, business_name: &str, case_id: &str) -> Result<pb::WorkOrder> {
    let case = clients.case("case_id", case_id).await.map_err(|err| match err {
        Error::Invalid(_) => Error::NotFound(format!("case {case_id} not found")),
        other => other,
    })?;
    let account = clients.account("case.account_id", &case.account_id).await.ok();
    let contact = match case.contacts.iter().find(|c| c.primary).or(case.contacts.first()) {
        Some(link) => clients.contact(&link.contact_id).await?,
        None => None,
    };
    let contract =
        if case.service_contract_id.is_empty() { None } else { store.get_contract(&case.service_contract_id).await.ok() };
    let filter = HoursFilter { case_id: Some(case.id.clone()), ..Default::default() };
    let (hours, _) = store.list_hours(&filter, None, LINES_MAX).await?;
    let (parts, _) = store.list_parts(&case.id, None, LINES_MAX).await?;

    let mut staff_names: HashMap<String, String> = HashMap::new();
    for booked in &hours {
        if !staff_names.contains_key(&booked.staff_id) {
            let name = match clients.staff_user("staff_id", &booked.staff_id).await {
                Ok(user) => user.name,
                Err(Error::Invalid(_)) => booked.staff_id.clone(),
                Err(err) => return Err(err),
            };
            staff_names.insert(booked.staff_id.clone(), name);
        }
    }
    let mut hour_lines: Vec<HoursLine> = hours
        .iter()
        .map(|h| HoursLine {
            date: h.work_date.clone(),
            staff_name: staff_names.get(&h.staff_id).cloned().unwrap_or_default(),
            description: h.description.clone(),
            minutes: i64::from(h.minutes),
            billable: h.billable,
        })
        .collect();
    hour_lines.sort_by(|a, b| a.date.cmp(&b.date));
    let mut part_lines = Vec::with_capacity(parts.len());
    for part in &parts {
        let currency = Currency::parse(&part.currency).map_err(|err| Error::Precondition(format!("part {}: {err}", part.id)))?;
        part_lines.push(PartLine {
            part_number: part.part_number.clone(),
            description: part.description.clone(),
            quantity_milli: part.quantity_milli,
            unit_price: Money::new(part.unit_price_minor, currency),
            billable: part.billable,
        });
    }
    let opened_on =
        case.create_time.as_ref().and_then(docket_kit::time::from_proto).map(|t| t.date_naive().to_string()).unwrap_or_default();
    let order = WorkOrder {
        business_name: business_name.to_owned(),
        case_number: case.case_number.clone(),
        subject: case.subject.clone(),
        description: case.description.clone(),
        status: status_label(case.status).to_owned(),
        priority: priority_label(case.priority).to_owned(),
        opened_on,
        customer: Customer {
            account_name: account.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            address_lines: address_lines(account.as_ref().and_then(|a| a.address.as_ref())),
            contact_name: contact.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
            email: contact.as_ref().map(|c| c.email.clone()).unwrap_or_default(),
            phone: contact.as_ref().map(|c| c.phone.clone()).unwrap_or_default(),
        },
        asset_description: case.asset_description.clone(),
        asset_serial_number: case.asset_serial_number.clone(),
        contract: contract.map(|c| ContractInfo {
            number: c.contract.contract_number.clone(),
            name: c.contract.name.clone(),
            term: format!("{} to {}", c.contract.start_date, c.contract.end_date),
        }),
        hours: hour_lines,
        parts: part_lines,
        generated_at: docket_kit::time::now().format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let pdf = render_pdf(&order).map_err(|err| Error::Precondition(format!("the work order cannot be printed: {err}")))?;
    Ok(pb::WorkOrder { file_name: format!("work-order-{}.pdf", case.case_number), case_number: case.case_number, pdf })
}
