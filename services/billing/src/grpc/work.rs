//! `docket.billing.v1.WorkService`: booked hours, service parts, timesheets,
//! invoices, prepaid debits and work orders.

use chrono::NaiveDate;
use docket_kit::mutation::Once;
use docket_kit::{
    auth::{Caller, caller},
    error::FieldViolations,
    idempotency, page,
    request::{FieldMask, wanted},
};
use docket_proto::{
    billing::v1::{self as pb, work_service_server::WorkService},
    case::v1 as case_pb,
};
use tonic::{Request, Response, Status};

use super::{REASON_MAX, actor, currency, date};
use crate::{
    clients::CaseClients,
    config::BillingSettings,
    domain::{
        invoice::{InvoiceDraft, InvoiceStatus},
        money::Currency,
        timesheet::{Period, SheetStatus},
    },
    error::Error,
    records::entities::booked_hours,
    store::{
        IdCursor, Store,
        invoices::{BillingTerms, InvoiceFilter},
        work::{HoursField, HoursFields, HoursFilter, PartField, PartFields},
    },
    wire,
};

pub struct WorkApi {
    store: Store,
    clients: CaseClients,
    settings: BillingSettings,
}

impl WorkApi {
    pub fn new(store: Store, clients: CaseClients, settings: BillingSettings) -> Self {
        Self { store, clients, settings }
    }

    /// The currency, rate and tax a case is billed at: its contract's, or the defaults.
    async fn terms(&self, case: &case_pb::Case) -> Result<(BillingTerms, i64), Error> {
        // Checked when the settings were loaded.
        let default_currency =
            Currency::parse(&self.settings.default_currency).map_err(|err| Error::Precondition(err.to_string()))?;
        if !case.service_contract_id.is_empty()
            && let Ok(contract) = self.store.get_contract(&case.service_contract_id).await
        {
            let currency = Currency::parse(&contract.contract.currency).unwrap_or(default_currency);
            return Ok((
                BillingTerms {
                    account_id: case.account_id.clone(),
                    contract_id: Some(contract.contract.id.clone()),
                    currency,
                    tax_rate_bp: i64::from(contract.contract.tax_rate_bp),
                },
                contract.contract.hourly_rate_minor,
            ));
        }
        Ok((
            BillingTerms {
                account_id: case.account_id.clone(),
                contract_id: None,
                currency: default_currency,
                tax_rate_bp: i64::from(self.settings.default_tax_rate_bp),
            },
            self.settings.default_hourly_rate_minor,
        ))
    }
}

const DESCRIPTION_MAX: usize = 2_000;
/// Most minutes one booking may hold: a day.
const MINUTES_MAX: i32 = 24 * 60;
/// Most thousandths of a unit on one part line: a million units.
const QUANTITY_MAX: i64 = 1_000_000_000;

fn period_from_proto(raw: i32) -> Option<Period> {
    match pb::TimesheetPeriod::try_from(raw).ok()? {
        pb::TimesheetPeriod::Week => Some(Period::Week),
        pb::TimesheetPeriod::Month => Some(Period::Month),
        pb::TimesheetPeriod::Unspecified => None,
    }
}

fn invoice_status_from_proto(raw: i32) -> Option<InvoiceStatus> {
    match pb::InvoiceStatus::try_from(raw).ok()? {
        pb::InvoiceStatus::Draft => Some(InvoiceStatus::Draft),
        pb::InvoiceStatus::Issued => Some(InvoiceStatus::Issued),
        pb::InvoiceStatus::Paid => Some(InvoiceStatus::Paid),
        pb::InvoiceStatus::Void => Some(InvoiceStatus::Void),
        pb::InvoiceStatus::Unspecified => None,
    }
}

fn cost_lines(draft: &InvoiceDraft, hours: &[booked_hours::Model]) -> Vec<pb::CostLine> {
    draft
        .lines
        .iter()
        .map(|line| pb::CostLine {
            source: line.source.key().to_owned(),
            source_id: line.source_id.clone(),
            description: line.description.clone(),
            amount: Some(wire::money(line.amount.minor, line.amount.currency.code())),
            minutes: hours.iter().find(|h| h.id == line.source_id).map_or(0, |h| h.minutes),
        })
        .collect()
}

/// A rate or price sent by the caller: non-negative, in a known currency.
fn price(violations: &mut FieldViolations, field: &str, value: Option<&case_pb::Money>) -> Option<(i64, String)> {
    let value = value?;
    if value.amount_minor < 0 {
        violations.add(format!("{field}.amount_minor"), "must not be negative");
    }
    let code = currency(violations, &format!("{field}.currency"), &value.currency)?;
    Some((value.amount_minor, code.code().to_owned()))
}

/// An internal project code: letters, digits, `-` and `_`.
fn project_code(violations: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.len() > 50 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        violations.add(field, "must be 1 to 50 of letters, digits, - and _");
    }
    Some(value.to_owned())
}

/// What a booking request says, validated; the rate is resolved later.
struct BookingRequest {
    fields: HoursFields,
    rate: Option<(i64, String)>,
}

fn parse_hours(
    violations: &mut FieldViolations,
    hours: &pb::BookedHours,
    mask: Option<&FieldMask<HoursField>>,
) -> BookingRequest {
    let wanted = |field: HoursField| wanted(mask, field);
    let creating = mask.is_none();
    let mut fields = HoursFields {
        staff_id: String::new(),
        case_id: None,
        project_code: None,
        work_date: NaiveDate::MIN,
        minutes: 0,
        billable: hours.billable,
        rate_minor: 0,
        currency: String::new(),
        description: String::new(),
    };
    if creating {
        fields.staff_id = violations.id_text("hours.staff_id", &hours.staff_id);
        fields.case_id = violations.opt_id_text("hours.case_id", &hours.case_id);
        fields.project_code = project_code(violations, "hours.project_code", &hours.project_code);
        match (&fields.case_id, &fields.project_code) {
            (Some(_), Some(_)) => violations.add("hours.project_code", "book to a case or to a project, not both"),
            (None, None) if !hours.case_id.trim().is_empty() => {}
            (None, None) => violations.add("hours.case_id", "is required (or a project_code for internal work)"),
            _ => {}
        }
        if fields.project_code.is_some() && hours.billable {
            violations.add("hours.billable", "hours on an internal project are not billed");
        }
    }
    if wanted(HoursField::WorkDate) {
        fields.work_date = date(violations, "hours.work_date", &hours.work_date, true).unwrap_or(NaiveDate::MIN);
    }
    if wanted(HoursField::Minutes) && !(1..=MINUTES_MAX).contains(&hours.minutes) {
        violations.add("hours.minutes", format!("must be between 1 and {MINUTES_MAX} (one day)"));
    }
    fields.minutes = hours.minutes;
    if wanted(HoursField::Description) {
        fields.description = violations.optional_text("hours.description", &hours.description, DESCRIPTION_MAX);
    }
    let rate = if wanted(HoursField::Rate) { price(violations, "hours.rate", hours.rate.as_ref()) } else { None };
    if !creating && wanted(HoursField::Rate) && hours.rate.is_none() {
        violations.add("hours.rate", "is required when the mask names it");
    }
    if let Some((minor, code)) = &rate {
        fields.rate_minor = *minor;
        fields.currency.clone_from(code);
    }
    BookingRequest { fields, rate }
}

fn parse_part(violations: &mut FieldViolations, part: &pb::ServicePart, mask: Option<&FieldMask<PartField>>) -> PartFields {
    let wanted = |field: PartField| wanted(mask, field);
    let mut fields = PartFields {
        case_id: String::new(),
        part_number: String::new(),
        description: String::new(),
        quantity_milli: part.quantity_milli,
        unit_price_minor: 0,
        currency: String::new(),
        billable: part.billable,
    };
    if mask.is_none() {
        fields.case_id = violations.id_text("part.case_id", &part.case_id);
    }
    if wanted(PartField::PartNumber) {
        fields.part_number = violations.required_text("part.part_number", &part.part_number, 100);
    }
    if wanted(PartField::Description) {
        fields.description = violations.optional_text("part.description", &part.description, 500);
    }
    if wanted(PartField::QuantityMilli) && !(1..=QUANTITY_MAX).contains(&part.quantity_milli) {
        violations.add("part.quantity_milli", "must be between 1 (0.001) and 1000000000 (a million units)");
    }
    if wanted(PartField::UnitPrice) {
        match price(violations, "part.unit_price", part.unit_price.as_ref()) {
            Some((minor, code)) => {
                fields.unit_price_minor = minor;
                fields.currency = code;
            }
            None if part.unit_price.is_none() => violations.add("part.unit_price", "is required"),
            None => {}
        }
    }
    fields
}

/// A read: any signed-in caller.
fn read<T>(request: Request<T>) -> Result<T, Status> {
    caller(&request)?;
    Ok(request.into_inner())
}

/// A change: a caller who may write, and what they sent.
fn change<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    let caller = caller(&request)?;
    writer(&caller)?;
    Ok((caller, request.into_inner()))
}

/// The one id a request names, in `field`.
fn one_id(field: &str, value: &str) -> Result<String, FieldViolations> {
    let mut violations = FieldViolations::new();
    let id = violations.id_text(field, value);
    violations.into_result()?;
    Ok(id)
}

/// The record a delete names: its id and, optionally, the etag it was read at.
fn id_and_etag(id: &str, etag: &str) -> Result<(String, Option<i64>), FieldViolations> {
    let mut violations = FieldViolations::new();
    let id = violations.id_text("id", id);
    let version = violations.etag("etag", etag, false);
    violations.into_result()?;
    Ok((id, version))
}

/// The page a list call asks for: how many rows, after which one.
fn page_of(violations: &mut FieldViolations, page_size: i32, page_token: &str) -> (u64, Option<IdCursor>) {
    (page::page_size(violations, page_size), page::decode(violations, page_token))
}

fn next_token(next: Option<IdCursor>) -> String {
    next.map(|c| page::encode(&c)).unwrap_or_default()
}

fn key_of<M: prost::Message>(violations: &mut FieldViolations, key: &str, without_key: &M) -> Option<idempotency::Idempotency> {
    idempotency::from_request(violations, key, without_key)
}

fn writer(caller: &Caller) -> Result<(), Status> {
    caller.require_write()
}

#[tonic::async_trait]
impl WorkService for WorkApi {
    async fn book_hours(&self, request: Request<pb::BookHoursRequest>) -> Result<Response<pb::BookedHours>, Status> {
        let caller = caller(&request)?;
        writer(&caller)?;
        let request = request.into_inner();
        let hours = request.hours.clone().unwrap_or_default();
        let mut violations = FieldViolations::new();
        let BookingRequest { mut fields, rate } = parse_hours(&mut violations, &hours, None);
        let key = key_of(
            &mut violations,
            &request.idempotency_key,
            &pb::BookHoursRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        self.clients.staff_user("hours.staff_id", &fields.staff_id).await?;
        let (terms, contract_rate) = match &fields.case_id {
            Some(case_id) => {
                let case = self.clients.case("hours.case_id", case_id).await?;
                let (terms, rate) = self.terms(&case).await?;
                (Some(terms), rate)
            }
            None => (None, self.settings.default_hourly_rate_minor),
        };
        if rate.is_none() {
            fields.rate_minor = contract_rate;
            fields.currency = terms.as_ref().map_or(self.settings.default_currency.clone(), |t| t.currency.code().to_owned());
        }
        let booked = self.store.book_hours(fields, &actor(&caller, ""), Once { scope: "BookHours", key: key.as_ref() }).await?;
        Ok(Response::new(wire::hours(booked)))
    }

    async fn get_booked_hours(&self, request: Request<pb::GetBookedHoursRequest>) -> Result<Response<pb::BookedHours>, Status> {
        let id = one_id("id", &read(request)?.id)?;
        Ok(Response::new(wire::hours(self.store.get_hours(&id).await?)))
    }

    async fn list_booked_hours(
        &self,
        request: Request<pb::ListBookedHoursRequest>,
    ) -> Result<Response<pb::ListBookedHoursResponse>, Status> {
        let request = read(request)?;
        let mut violations = FieldViolations::new();
        let (limit, after) = page_of(&mut violations, request.page_size, &request.page_token);
        let filter = HoursFilter {
            case_id: violations.opt_id_text("case_id", &request.case_id),
            staff_id: violations.opt_id_text("staff_id", &request.staff_id),
            project_code: project_code(&mut violations, "project_code", &request.project_code),
            from: date(&mut violations, "from_date", &request.from_date, false),
            to: date(&mut violations, "to_date", &request.to_date, false),
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_hours(&filter, after, limit).await?;
        Ok(Response::new(pb::ListBookedHoursResponse {
            hours: rows.into_iter().map(wire::hours).collect(),
            next_page_token: next_token(next),
        }))
    }

    async fn update_booked_hours(
        &self,
        request: Request<pb::UpdateBookedHoursRequest>,
    ) -> Result<Response<pb::BookedHours>, Status> {
        let (caller, request) = change(request)?;
        let hours = request.hours.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let target = violations.update_target("hours", &hours.id, &hours.etag, request.update_mask.as_ref());
        let BookingRequest { fields, .. } = parse_hours(&mut violations, &hours, Some(&target.mask));
        violations.into_result()?;
        let updated = self.store.update_hours(target, fields, &actor(&caller, "")).await?;
        Ok(Response::new(wire::hours(updated)))
    }

    async fn delete_booked_hours(
        &self,
        request: Request<pb::DeleteBookedHoursRequest>,
    ) -> Result<Response<pb::DeleteBookedHoursResponse>, Status> {
        let (caller, request) = change(request)?;
        let (id, version) = id_and_etag(&request.id, &request.etag)?;
        self.store.delete_hours(&id, version, &actor(&caller, "")).await?;
        Ok(Response::new(pb::DeleteBookedHoursResponse {}))
    }

    async fn add_service_part(&self, request: Request<pb::AddServicePartRequest>) -> Result<Response<pb::ServicePart>, Status> {
        let caller = caller(&request)?;
        writer(&caller)?;
        let request = request.into_inner();
        let part = request.part.clone().unwrap_or_default();
        let mut violations = FieldViolations::new();
        let fields = parse_part(&mut violations, &part, None);
        let key = key_of(
            &mut violations,
            &request.idempotency_key,
            &pb::AddServicePartRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        self.clients.case("part.case_id", &fields.case_id).await?;
        let added = self.store.add_part(fields, &actor(&caller, ""), Once { scope: "AddServicePart", key: key.as_ref() }).await?;
        Ok(Response::new(wire::part(added)))
    }

    async fn list_service_parts(
        &self,
        request: Request<pb::ListServicePartsRequest>,
    ) -> Result<Response<pb::ListServicePartsResponse>, Status> {
        let request = read(request)?;
        let mut violations = FieldViolations::new();
        let case_id = violations.id_text("case_id", &request.case_id);
        let (limit, after) = page_of(&mut violations, request.page_size, &request.page_token);
        violations.into_result()?;
        let (rows, next) = self.store.list_parts(&case_id, after, limit).await?;
        Ok(Response::new(pb::ListServicePartsResponse {
            parts: rows.into_iter().map(wire::part).collect(),
            next_page_token: next_token(next),
        }))
    }

    async fn update_service_part(
        &self,
        request: Request<pb::UpdateServicePartRequest>,
    ) -> Result<Response<pb::ServicePart>, Status> {
        let (caller, request) = change(request)?;
        let part = request.part.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let target = violations.update_target("part", &part.id, &part.etag, request.update_mask.as_ref());
        let fields = parse_part(&mut violations, &part, Some(&target.mask));
        violations.into_result()?;
        let updated = self.store.update_part(target, fields, &actor(&caller, "")).await?;
        Ok(Response::new(wire::part(updated)))
    }

    async fn delete_service_part(
        &self,
        request: Request<pb::DeleteServicePartRequest>,
    ) -> Result<Response<pb::DeleteServicePartResponse>, Status> {
        let (caller, request) = change(request)?;
        let (id, version) = id_and_etag(&request.id, &request.etag)?;
        self.store.delete_part(&id, version, &actor(&caller, "")).await?;
        Ok(Response::new(pb::DeleteServicePartResponse {}))
    }

    async fn get_timesheet(&self, request: Request<pb::GetTimesheetRequest>) -> Result<Response<pb::Timesheet>, Status> {
        let request = read(request)?;
        let mut violations = FieldViolations::new();
        let staff_id = violations.id_text("staff_id", &request.staff_id);
        let period = violations.enum_value("period", request.period, period_from_proto);
        let day = date(&mut violations, "date", &request.date, true);
        violations.into_result()?;
        // Refused above when missing: the placeholders are never used.
        let (period, day) = (period.unwrap_or(Period::Week), day.unwrap_or_default());
        let sheet = self.store.timesheet(&staff_id, period, day).await?;
        Ok(Response::new(wire::sheet(&sheet)))
    }

    async fn list_timesheets(
        &self,
        request: Request<pb::ListTimesheetsRequest>,
    ) -> Result<Response<pb::ListTimesheetsResponse>, Status> {
        let request = read(request)?;
        let mut violations = FieldViolations::new();
        let (limit, after) = page_of(&mut violations, request.page_size, &request.page_token);
        let staff_id = violations.opt_id_text("staff_id", &request.staff_id);
        let mut statuses = Vec::new();
        for (i, raw) in request.statuses.iter().enumerate() {
            let status = match pb::TimesheetStatus::try_from(*raw) {
                Ok(pb::TimesheetStatus::Submitted) => Some(SheetStatus::Submitted),
                Ok(pb::TimesheetStatus::Approved) => Some(SheetStatus::Approved),
                Ok(pb::TimesheetStatus::Rejected) => Some(SheetStatus::Rejected),
                _ => None,
            };
            match status {
                Some(status) => statuses.push(status),
                None => violations
                    .add(format!("statuses[{i}]"), "must be SUBMITTED, APPROVED or REJECTED (open timesheets are not stored)"),
            }
        }
        violations.into_result()?;
        let (sheets, next) = self.store.list_timesheets(staff_id.as_deref(), &statuses, after, limit).await?;
        Ok(Response::new(pb::ListTimesheetsResponse {
            timesheets: sheets.iter().map(wire::sheet).collect(),
            next_page_token: next_token(next),
        }))
    }

    async fn submit_timesheet(&self, request: Request<pb::SubmitTimesheetRequest>) -> Result<Response<pb::Timesheet>, Status> {
        let (caller, request) = change(request)?;
        let mut violations = FieldViolations::new();
        let staff_id = violations.id_text("staff_id", &request.staff_id);
        let period = violations.enum_value("period", request.period, period_from_proto);
        let day = date(&mut violations, "date", &request.date, true);
        let version = violations.etag("etag", &request.etag, false);
        violations.into_result()?;
        // Refused above when missing: the placeholders are never used.
        let (period, day) = (period.unwrap_or(Period::Week), day.unwrap_or_default());
        self.clients.staff_user("staff_id", &staff_id).await?;
        let sheet = self.store.submit_timesheet(&staff_id, period, day, version, &actor(&caller, "")).await?;
        Ok(Response::new(wire::sheet(&sheet)))
    }

    async fn approve_timesheet(&self, request: Request<pb::ReviewTimesheetRequest>) -> Result<Response<pb::Timesheet>, Status> {
        self.review(request, true).await
    }

    async fn reject_timesheet(&self, request: Request<pb::ReviewTimesheetRequest>) -> Result<Response<pb::Timesheet>, Status> {
        self.review(request, false).await
    }

    async fn get_case_costs(&self, request: Request<pb::GetCaseCostsRequest>) -> Result<Response<pb::CaseCosts>, Status> {
        let case_id = one_id("case_id", &read(request)?.case_id)?;
        let case = self.clients.case("case_id", &case_id).await?;
        let (terms, _) = self.terms(&case).await?;
        let costs = self.store.case_costs(&case_id, &terms).await?;
        let code = terms.currency.code();
        let zero = || Some(wire::money(0, code));
        let answer = match &costs.draft {
            Some(draft) => pb::CaseCosts {
                case_id,
                contract_id: terms.contract_id.clone().unwrap_or_default(),
                lines: cost_lines(draft, &costs.hours),
                net: Some(wire::money(draft.net.minor, code)),
                tax_rate_basis_points: i32::try_from(draft.tax_rate_bp).unwrap_or(0),
                tax: Some(wire::money(draft.tax.minor, code)),
                gross: Some(wire::money(draft.gross.minor, code)),
                billable_minutes: costs.billable_minutes,
            },
            None => pb::CaseCosts {
                case_id,
                contract_id: terms.contract_id.clone().unwrap_or_default(),
                lines: Vec::new(),
                net: zero(),
                tax_rate_basis_points: i32::try_from(terms.tax_rate_bp).unwrap_or(0),
                tax: zero(),
                gross: zero(),
                billable_minutes: 0,
            },
        };
        Ok(Response::new(answer))
    }

    async fn invoice_case(&self, request: Request<pb::InvoiceCaseRequest>) -> Result<Response<pb::Invoice>, Status> {
        let caller = caller(&request)?;
        writer(&caller)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case_id = violations.id_text("case_id", &request.case_id);
        let key = key_of(
            &mut violations,
            &request.idempotency_key,
            &pb::InvoiceCaseRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let case = self.clients.case("case_id", &case_id).await?;
        let (terms, _) = self.terms(&case).await?;
        let invoice = self.store.invoice_case(&case_id, &terms, &actor(&caller, ""), key.as_ref()).await?;
        Ok(Response::new(wire::invoice(invoice)))
    }

    async fn get_invoice(&self, request: Request<pb::GetInvoiceRequest>) -> Result<Response<pb::Invoice>, Status> {
        let id = one_id("id", &read(request)?.id)?;
        Ok(Response::new(wire::invoice(self.store.get_invoice(&id).await?)))
    }

    async fn list_invoices(
        &self,
        request: Request<pb::ListInvoicesRequest>,
    ) -> Result<Response<pb::ListInvoicesResponse>, Status> {
        let request = read(request)?;
        let mut violations = FieldViolations::new();
        let (limit, after) = page_of(&mut violations, request.page_size, &request.page_token);
        let statuses = violations.enum_values("statuses", &request.statuses, invoice_status_from_proto);
        let filter = InvoiceFilter {
            case_id: violations.opt_id_text("case_id", &request.case_id),
            account_id: violations.opt_id_text("account_id", &request.account_id),
            statuses,
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_invoices(&filter, after, limit).await?;
        Ok(Response::new(pb::ListInvoicesResponse {
            invoices: rows.into_iter().map(wire::invoice).collect(),
            next_page_token: next_token(next),
        }))
    }

    async fn set_invoice_status(&self, request: Request<pb::SetInvoiceStatusRequest>) -> Result<Response<pb::Invoice>, Status> {
        let (caller, request) = change(request)?;
        let mut violations = FieldViolations::new();
        let id = violations.id_text("id", &request.id);
        let status = violations.enum_value("status", request.status, invoice_status_from_proto);
        let version = violations.etag("etag", &request.etag, false);
        let reason = violations.optional_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        // Refused above when missing: the placeholder is never used.
        let status = status.unwrap_or(InvoiceStatus::Draft);
        let updated = self.store.set_invoice_status(&id, version, status, &actor(&caller, &reason)).await?;
        Ok(Response::new(wire::invoice(updated)))
    }

    async fn debit_case(&self, request: Request<pb::DebitCaseRequest>) -> Result<Response<pb::DebitCaseResponse>, Status> {
        let caller = caller(&request)?;
        writer(&caller)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let case_id = violations.id_text("case_id", &request.case_id);
        let sub_id = violations.id_text("sub_contract_id", &request.sub_contract_id);
        let key = key_of(
            &mut violations,
            &request.idempotency_key,
            &pb::DebitCaseRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let case = self.clients.case("case_id", &case_id).await?;
        let sub = match self.store.get_sub_contract(&sub_id).await {
            Ok(sub) => sub,
            Err(Error::NotFound(_)) => {
                return Err(Error::field("sub_contract_id", format!("no sub-contract {sub_id} exists")).into());
            }
            Err(err) => return Err(err.into()),
        };
        if case.service_contract_id != sub.contract_id {
            return Err(Error::Precondition(format!(
                "sub-contract {} belongs to another contract than case {}'s",
                sub.name, case.case_number
            ))
            .into());
        }
        let (terms, _) = self.terms(&case).await?;
        let debit = self.store.debit_case(&case_id, &sub, &terms, &actor(&caller, ""), key.as_ref()).await?;
        let lines = debit.draft.as_ref().map(|d| cost_lines(d, &debit.hours)).unwrap_or_default();
        Ok(Response::new(pb::DebitCaseResponse { entry: Some(wire::ledger_entry(debit.entry)), lines }))
    }

    async fn get_work_order(&self, request: Request<pb::GetWorkOrderRequest>) -> Result<Response<pb::WorkOrder>, Status> {
        let case_id = one_id("case_id", &read(request)?.case_id)?;
        let order = crate::work_orders::print(&self.store, &self.clients, &self.settings.business_name, &case_id).await?;
        Ok(Response::new(order))
    }
}

impl WorkApi {
    async fn review(
        &self,
        request: Request<pb::ReviewTimesheetRequest>,
        approve: bool,
    ) -> Result<Response<pb::Timesheet>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.id_text("id", &request.id);
        let version = violations.etag("etag", &request.etag, false);
        let note = violations.optional_text("note", &request.note, REASON_MAX);
        violations.into_result()?;
        let sheet = self.store.review_timesheet(&id, version, approve, &note, &actor(&caller, "")).await?;
        Ok(Response::new(wire::sheet(&sheet)))
    }
}
