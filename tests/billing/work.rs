//! WorkService: booked hours, parts, timesheets, invoices and prepaid debits.

use docket_proto::{billing::v1 as pb, case::v1 as case_pb};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, Backend, TestApp, VIEWER, assert_field_error},
    contracts::{contract_for, create_contract},
    fixtures::{Customer, customer, mask, new_case, staff_user},
    on_both_backends,
};

on_both_backends!(
    hours_are_booked_at_the_rate_that_applies_and_can_be_corrected,
    a_timesheet_gathers_the_period_and_freezes_it_once_submitted,
    an_invoice_bills_hours_and_parts_once_with_exact_totals,
    a_prepaid_balance_pays_for_a_case_unless_it_is_short,
    bad_work_requests_are_refused_and_write_nothing,
);

pub const WORK_TABLES: &[&str] = &[
    "booked_hours",
    "service_parts",
    "timesheets",
    "invoices",
    "invoice_lines",
    "sub_contracts",
    "ledger_entries",
    "audit_entries",
    "idempotency_keys",
    "outbox",
];

fn eur(minor: i64) -> Option<case_pb::Money> {
    Some(case_pb::Money { amount_minor: minor, currency: "EUR".into() })
}

/// A customer with a contract (95.00 EUR/h, 19 % tax) and a case under it.
async fn contracted_case(app: &TestApp) -> (Customer, pb::ServiceContract, case_pb::Case) {
    let acme = customer(app).await;
    let contract = create_contract(app, contract_for(&acme, "Gold")).await;
    let case = app
        .cases(AGENT)
        .create_case(case_pb::CreateCaseRequest {
            case: Some(case_pb::Case { service_contract_id: contract.id.clone(), ..new_case(&acme, "Conveyor repair") }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.service_contract_id, contract.id);
    (acme, contract, case)
}

fn hours_on(case_id: &str, staff_id: &str, date: &str, minutes: i32) -> pb::BookedHours {
    pb::BookedHours {
        staff_id: staff_id.to_owned(),
        case_id: case_id.to_owned(),
        work_date: date.to_owned(),
        minutes,
        billable: true,
        description: "On-site repair".into(),
        ..Default::default()
    }
}

async fn book(app: &TestApp, hours: pb::BookedHours) -> pb::BookedHours {
    app.work(AGENT)
        .book_hours(pb::BookHoursRequest { hours: Some(hours), idempotency_key: String::new() })
        .await
        .expect("book hours")
        .into_inner()
}

async fn add_part(
    app: &TestApp,
    case_id: &str,
    number: &str,
    quantity_milli: i64,
    price: i64,
    billable: bool,
) -> pb::ServicePart {
    app.work(AGENT)
        .add_service_part(pb::AddServicePartRequest {
            part: Some(pb::ServicePart {
                case_id: case_id.to_owned(),
                part_number: number.to_owned(),
                description: "Controller board".into(),
                quantity_milli,
                unit_price: eur(price),
                billable,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("add part")
        .into_inner()
}

async fn hours_on_a_case_and_a_project_at_their_rates(app: &TestApp) -> (case_pb::Case, case_pb::StaffUser, pb::BookedHours) {
    let (_, _, case) = contracted_case(app).await;
    let tech = staff_user(app, "Terry Technician").await;
    let at_contract_rate = book(app, hours_on(&case.id, &tech.id, "2026-11-23", 90)).await;
    assert_eq!(at_contract_rate.rate, eur(9_500));
    let own_rate = book(app, pb::BookedHours { rate: eur(12_000), ..hours_on(&case.id, &tech.id, "2026-11-24", 30) }).await;
    assert_eq!(own_rate.rate, eur(12_000));
    let internal = book(
        app,
        pb::BookedHours {
            case_id: String::new(),
            project_code: "INTERNAL-TRAINING".into(),
            billable: false,
            ..hours_on("", &tech.id, "2026-11-24", 60)
        },
    )
    .await;
    // The test settings' default rate.
    assert_eq!(internal.rate, eur(6_000));
    (case, tech, at_contract_rate)
}

async fn hours_are_booked_at_the_rate_that_applies_and_can_be_corrected(app: TestApp) {
    let (case, tech, booked) = hours_on_a_case_and_a_project_at_their_rates(&app).await;
    let mut work = app.work(AGENT);
    let on_case = work
        .list_booked_hours(pb::ListBookedHoursRequest { case_id: case.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .hours;
    assert_eq!(on_case.len(), 2);
    let of_monday = work
        .list_booked_hours(pb::ListBookedHoursRequest {
            staff_id: tech.id.clone(),
            from_date: "2026-11-23".into(),
            to_date: "2026-11-23".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .hours;
    assert_eq!(of_monday, std::slice::from_ref(&booked));

    let corrected = work
        .update_booked_hours(pb::UpdateBookedHoursRequest {
            hours: Some(pb::BookedHours { id: booked.id.clone(), etag: booked.etag.clone(), minutes: 75, ..Default::default() }),
            update_mask: mask(&["minutes"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(corrected.minutes, 75);
    let stale = work
        .update_booked_hours(pb::UpdateBookedHoursRequest {
            hours: Some(pb::BookedHours { id: booked.id.clone(), etag: booked.etag.clone(), minutes: 60, ..Default::default() }),
            update_mask: mask(&["minutes"]),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    work.delete_booked_hours(pb::DeleteBookedHoursRequest { id: booked.id.clone(), etag: corrected.etag.clone() }).await.unwrap();
    let gone = work.get_booked_hours(pb::GetBookedHoursRequest { id: booked.id.clone() }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

async fn a_timesheet_gathers_the_period_and_freezes_it_once_submitted(app: TestApp) {
    let (case, tech, monday) = hours_on_a_case_and_a_project_at_their_rates(&app).await;
    let mut work = app.work(AGENT);
    let week = |date: &str| pb::GetTimesheetRequest {
        staff_id: tech.id.clone(),
        period: pb::TimesheetPeriod::Week as i32,
        date: date.to_owned(),
    };
    let sheet = work.get_timesheet(week("2026-11-26")).await.unwrap().into_inner();
    assert_eq!((sheet.period_start.as_str(), sheet.period_end.as_str()), ("2026-11-23", "2026-11-29"));
    assert_eq!(sheet.status(), pb::TimesheetStatus::Open);
    assert_eq!(sheet.total_minutes, 180);
    assert_eq!(sheet.billable_minutes, 120);
    let days: Vec<_> = sheet.days.iter().map(|d| (d.date.as_str(), d.minutes)).collect();
    assert_eq!(days, [("2026-11-23", 90), ("2026-11-24", 90)]);
    let case_line = sheet.lines.iter().find(|l| l.case_id == case.id).unwrap();
    assert_eq!((case_line.minutes, case_line.billable_minutes), (120, 120));
    let project = sheet.lines.iter().find(|l| l.project_code == "INTERNAL-TRAINING").unwrap();
    assert_eq!((project.minutes, project.billable_minutes), (60, 0));
    let month = work
        .get_timesheet(pb::GetTimesheetRequest {
            staff_id: tech.id.clone(),
            period: pb::TimesheetPeriod::Month as i32,
            date: "2026-11-01".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((month.period_start.as_str(), month.period_end.as_str(), month.total_minutes), ("2026-11-01", "2026-11-30", 180));

    let submit = pb::SubmitTimesheetRequest {
        staff_id: tech.id.clone(),
        period: pb::TimesheetPeriod::Week as i32,
        date: "2026-11-25".into(),
        etag: String::new(),
    };
    let submitted = work.submit_timesheet(submit.clone()).await.unwrap().into_inner();
    assert_eq!(submitted.status(), pb::TimesheetStatus::Submitted);
    assert_eq!(submitted.submitted_by, "agent:agent");
    assert!(!submitted.id.is_empty());
    // The week's hours are frozen: no new booking, correction or deletion.
    let refused = work
        .book_hours(pb::BookHoursRequest {
            hours: Some(hours_on(&case.id, &tech.id, "2026-11-27", 15)),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("submitted"), "{}", refused.message());
    let refused = work
        .update_booked_hours(pb::UpdateBookedHoursRequest {
            hours: Some(pb::BookedHours { id: monday.id.clone(), etag: monday.etag.clone(), minutes: 10, ..Default::default() }),
            update_mask: mask(&["minutes"]),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let refused =
        work.delete_booked_hours(pb::DeleteBookedHoursRequest { id: monday.id.clone(), etag: String::new() }).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    // The week after is open.
    book(&app, hours_on(&case.id, &tech.id, "2026-11-30", 15)).await;
    // Submitted twice is refused; only admins review.
    assert_eq!(work.submit_timesheet(submit.clone()).await.unwrap_err().code(), Code::FailedPrecondition);
    let review = |etag: &str, note: &str| pb::ReviewTimesheetRequest {
        id: submitted.id.clone(),
        etag: etag.to_owned(),
        note: note.to_owned(),
    };
    assert_eq!(work.approve_timesheet(review("", "")).await.unwrap_err().code(), Code::PermissionDenied);
    let rejected =
        app.work(ADMIN).reject_timesheet(review(&submitted.etag, "Tuesday is missing a description")).await.unwrap().into_inner();
    assert_eq!(rejected.status(), pb::TimesheetStatus::Rejected);
    assert_eq!(rejected.review_note, "Tuesday is missing a description");
    // Rejected: the hours can be corrected, then the week submitted again and approved.
    let corrected = work
        .update_booked_hours(pb::UpdateBookedHoursRequest {
            hours: Some(pb::BookedHours { id: monday.id.clone(), etag: monday.etag.clone(), minutes: 80, ..Default::default() }),
            update_mask: mask(&["minutes"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(corrected.minutes, 80);
    let again =
        work.submit_timesheet(pb::SubmitTimesheetRequest { etag: rejected.etag.clone(), ..submit }).await.unwrap().into_inner();
    assert_eq!(again.total_minutes, 170);
    let approved = app.work(ADMIN).approve_timesheet(review(&again.etag, "")).await.unwrap().into_inner();
    assert_eq!(approved.status(), pb::TimesheetStatus::Approved);
    let listed = work
        .list_timesheets(pb::ListTimesheetsRequest {
            staff_id: tech.id.clone(),
            statuses: vec![pb::TimesheetStatus::Approved as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .timesheets;
    assert_eq!(listed, [approved]);
}

async fn an_invoice_bills_hours_and_parts_once_with_exact_totals(app: TestApp) {
    let (_, contract, case) = contracted_case(&app).await;
    let tech = staff_user(&app, "Terry Technician").await;
    // 20 min at 95.00 = 31.666.. -> 31.67; 90 min at 12.50 = 18.75; 60 min not billable.
    let first = book(&app, hours_on(&case.id, &tech.id, "2026-11-23", 20)).await;
    book(&app, pb::BookedHours { rate: eur(1_250), ..hours_on(&case.id, &tech.id, "2026-11-23", 90) }).await;
    book(&app, pb::BookedHours { billable: false, ..hours_on(&case.id, &tech.id, "2026-11-23", 60) }).await;
    // 2.5 m of cable at 3.99 = 9.975 -> 9.98; a free part.
    let cable = add_part(&app, &case.id, "CB-7", 2_500, 399, true).await;
    add_part(&app, &case.id, "SCREW", 1_000, 5, false).await;
    let mut work = app.work(AGENT);

    let costs = work.get_case_costs(pb::GetCaseCostsRequest { case_id: case.id.clone() }).await.unwrap().into_inner();
    assert_eq!(costs.contract_id, contract.id);
    assert_eq!(costs.net, eur(6_040));
    assert_eq!(costs.billable_minutes, 110);

    let invoice = work
        .invoice_case(pb::InvoiceCaseRequest { case_id: case.id.clone(), idempotency_key: "inv-1".into() })
        .await
        .unwrap()
        .into_inner();
    let amounts: Vec<i64> = invoice.lines.iter().map(|l| l.amount.as_ref().unwrap().amount_minor).collect();
    assert_eq!(amounts, [3_167, 1_875, 998]);
    assert_eq!(invoice.net, eur(6_040));
    assert_eq!(invoice.tax_rate_basis_points, 1_900);
    // 19 % of 60.40 = 11.476 -> 11.48
    assert_eq!(invoice.tax, eur(1_148));
    assert_eq!(invoice.gross, eur(7_188));
    assert_eq!(invoice.status(), pb::InvoiceStatus::Draft);
    assert!(invoice.invoice_number.is_empty(), "numbered when issued");
    assert_eq!(invoice.account_id, case.account_id);
    // The same request again (a retry) is the same invoice.
    let retried = work
        .invoice_case(pb::InvoiceCaseRequest { case_id: case.id.clone(), idempotency_key: "inv-1".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, invoice);

    // Nothing is billed twice: a second invoice finds nothing to bill.
    let refused =
        work.invoice_case(pb::InvoiceCaseRequest { case_id: case.id.clone(), idempotency_key: String::new() }).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("nothing to bill"), "{}", refused.message());
    // And billed hours and parts are locked.
    let billed = work.get_booked_hours(pb::GetBookedHoursRequest { id: first.id.clone() }).await.unwrap().into_inner();
    assert_eq!(billed.billed.as_ref().unwrap().invoice_id, invoice.id);
    let refused = work
        .update_booked_hours(pb::UpdateBookedHoursRequest {
            hours: Some(pb::BookedHours { id: first.id.clone(), etag: first.etag.clone(), minutes: 5, ..Default::default() }),
            update_mask: mask(&["minutes"]),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let refused =
        work.delete_service_part(pb::DeleteServicePartRequest { id: cable.id.clone(), etag: String::new() }).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    // draft -> issued (numbered) -> paid; a paid invoice cannot be voided.
    let set = |id: &str, status: pb::InvoiceStatus| pb::SetInvoiceStatusRequest {
        id: id.to_owned(),
        status: status as i32,
        etag: String::new(),
        reason: String::new(),
    };
    let issued = work.set_invoice_status(set(&invoice.id, pb::InvoiceStatus::Issued)).await.unwrap().into_inner();
    assert_eq!(issued.invoice_number, "INV-000001");
    assert!(issued.issue_time.is_some());
    let paid = work.set_invoice_status(set(&invoice.id, pb::InvoiceStatus::Paid)).await.unwrap().into_inner();
    assert_eq!(paid.status(), pb::InvoiceStatus::Paid);
    let refused = work.set_invoice_status(set(&invoice.id, pb::InvoiceStatus::Void)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    // Voiding a draft gives its work back to be billed again.
    let extra = book(&app, hours_on(&case.id, &tech.id, "2026-11-24", 60)).await;
    let second = work
        .invoice_case(pb::InvoiceCaseRequest { case_id: case.id.clone(), idempotency_key: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.net, eur(9_500));
    work.set_invoice_status(set(&second.id, pb::InvoiceStatus::Void)).await.unwrap();
    let released = work.get_booked_hours(pb::GetBookedHoursRequest { id: extra.id.clone() }).await.unwrap().into_inner();
    assert!(released.billed.is_none());
    let third = work
        .invoice_case(pb::InvoiceCaseRequest { case_id: case.id.clone(), idempotency_key: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(third.gross, eur(11_305));
    let listed = work
        .list_invoices(pb::ListInvoicesRequest { case_id: case.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .invoices;
    let statuses: Vec<_> = listed.iter().map(|i| i.status()).collect();
    assert_eq!(statuses, [pb::InvoiceStatus::Paid, pb::InvoiceStatus::Void, pb::InvoiceStatus::Draft]);
}

async fn prepaid(
    app: &TestApp,
    contract: &pb::ServiceContract,
    kind: pb::BalanceKind,
    overdraft: bool,
    credit: i64,
) -> pb::SubContract {
    let mut contracts = app.contracts(AGENT);
    let sub = contracts
        .create_sub_contract(pb::CreateSubContractRequest {
            sub_contract: Some(pb::SubContract {
                contract_id: contract.id.clone(),
                name: format!("Prepaid {kind:?}"),
                balance_kind: kind as i32,
                allow_overdraft: overdraft,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    if credit > 0 {
        contracts
            .credit_sub_contract(pb::CreditSubContractRequest {
                sub_contract_id: sub.id.clone(),
                amount: credit,
                description: "Prepaid".into(),
                idempotency_key: String::new(),
            })
            .await
            .unwrap();
    }
    sub
}

async fn balance(app: &TestApp, id: &str) -> i64 {
    app.contracts(VIEWER).get_sub_contract(pb::GetSubContractRequest { id: id.to_owned() }).await.unwrap().into_inner().balance
}

async fn a_prepaid_balance_pays_for_a_case_unless_it_is_short(app: TestApp) {
    let (_, contract, case) = contracted_case(&app).await;
    let tech = staff_user(&app, "Terry Technician").await;
    // 60 min at 95.00 and a part of 9.98: 104.98 net.
    book(&app, hours_on(&case.id, &tech.id, "2026-11-23", 60)).await;
    add_part(&app, &case.id, "CB-7", 2_500, 399, true).await;
    let money = prepaid(&app, &contract, pb::BalanceKind::Money, false, 10_000).await;
    let mut work = app.work(AGENT);
    let debit = |sub: &pb::SubContract, key: &str| pb::DebitCaseRequest {
        case_id: case.id.clone(),
        sub_contract_id: sub.id.clone(),
        idempotency_key: key.to_owned(),
    };

    let before = app.table_counts("billing", WORK_TABLES).await;
    let refused = work.debit_case(debit(&money, "")).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("does not cover 10498 EUR"), "{}", refused.message());
    assert_eq!(app.table_counts("billing", WORK_TABLES).await, before, "a refused debit writes nothing");
    assert_eq!(balance(&app, &money.id).await, 10_000);

    app.contracts(AGENT)
        .credit_sub_contract(pb::CreditSubContractRequest {
            sub_contract_id: money.id.clone(),
            amount: 1_000,
            description: "Top-up".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let paid = work.debit_case(debit(&money, "debit-1")).await.unwrap().into_inner();
    let entry = paid.entry.unwrap();
    assert_eq!((entry.amount, entry.balance_after), (-10_498, 502));
    assert_eq!(entry.case_id, case.id);
    assert_eq!(paid.lines.len(), 2);
    let retried = work.debit_case(debit(&money, "debit-1")).await.unwrap().into_inner();
    assert_eq!(retried.entry.unwrap().id, entry.id, "a retry debits once");
    assert_eq!(balance(&app, &money.id).await, 502);
    // Paid for: nothing left to invoice or debit.
    let refused =
        work.invoice_case(pb::InvoiceCaseRequest { case_id: case.id.clone(), idempotency_key: String::new() }).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    // An hours balance takes the booked minutes; overdraft lets it go below zero.
    book(&app, hours_on(&case.id, &tech.id, "2026-11-24", 90)).await;
    let hours = prepaid(&app, &contract, pb::BalanceKind::Hours, true, 60).await;
    let paid = work.debit_case(debit(&hours, "")).await.unwrap().into_inner();
    assert_eq!(paid.entry.unwrap().balance_after, -30);
    let ledger = app
        .contracts(VIEWER)
        .list_ledger_entries(pb::ListLedgerEntriesRequest { sub_contract_id: hours.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let amounts: Vec<_> = ledger.iter().map(|e| (e.amount, e.balance_after)).collect();
    assert_eq!(amounts, [(60, 60), (-90, -30)]);

    // A sub-contract of another contract cannot pay for this case.
    let other = create_contract(&app, contract_for(&customer(&app).await, "Other")).await;
    let foreign = prepaid(&app, &other, pb::BalanceKind::Money, true, 0).await;
    let refused = work.debit_case(debit(&foreign, "")).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

async fn bad_work_requests_are_refused_and_write_nothing(app: TestApp) {
    let (_, _, case) = contracted_case(&app).await;
    let tech = staff_user(&app, "Terry Technician").await;
    let booked = book(&app, hours_on(&case.id, &tech.id, "2026-11-23", 30)).await;
    let part = add_part(&app, &case.id, "CB-7", 1_000, 100, true).await;
    let before = app.table_counts("billing", WORK_TABLES).await;
    let mut work = app.work(AGENT);
    let missing = uuid::Uuid::now_v7().to_string();
    let good = hours_on(&case.id, &tech.id, "2026-11-23", 30);
    let book_req = |h: pb::BookedHours| pb::BookHoursRequest { hours: Some(h), idempotency_key: String::new() };
    for (bad, field) in [
        (pb::BookedHours { staff_id: String::new(), ..good.clone() }, "hours.staff_id"),
        (pb::BookedHours { staff_id: missing.clone(), ..good.clone() }, "hours.staff_id"),
        (pb::BookedHours { case_id: missing.clone(), ..good.clone() }, "hours.case_id"),
        (pb::BookedHours { case_id: String::new(), ..good.clone() }, "hours.case_id"),
        (pb::BookedHours { project_code: "P1".into(), ..good.clone() }, "hours.project_code"),
        (
            pb::BookedHours { case_id: String::new(), project_code: "bad code!".into(), billable: false, ..good.clone() },
            "hours.project_code",
        ),
        (pb::BookedHours { case_id: String::new(), project_code: "P1".into(), billable: true, ..good.clone() }, "hours.billable"),
        (pb::BookedHours { work_date: "23.11.2026".into(), ..good.clone() }, "hours.work_date"),
        (pb::BookedHours { minutes: 0, ..good.clone() }, "hours.minutes"),
        (pb::BookedHours { minutes: 1_441, ..good.clone() }, "hours.minutes"),
        (
            pb::BookedHours { rate: Some(case_pb::Money { amount_minor: -1, currency: "EUR".into() }), ..good.clone() },
            "hours.rate.amount_minor",
        ),
        (
            pb::BookedHours { rate: Some(case_pb::Money { amount_minor: 1, currency: "eur".into() }), ..good.clone() },
            "hours.rate.currency",
        ),
        (pb::BookedHours { description: "x".repeat(2_001), ..good.clone() }, "hours.description"),
    ] {
        let refused = work.book_hours(book_req(bad)).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    assert_eq!(app.work(VIEWER).book_hours(book_req(good.clone())).await.unwrap_err().code(), Code::PermissionDenied);
    let update = |h: pb::BookedHours, paths: &[&str]| pb::UpdateBookedHoursRequest { hours: Some(h), update_mask: mask(paths) };
    let id_etag = pb::BookedHours { id: booked.id.clone(), etag: booked.etag.clone(), ..Default::default() };
    for (request, field) in [
        (update(id_etag.clone(), &[]), "update_mask"),
        (update(id_etag.clone(), &["staff_id"]), "update_mask"),
        (update(pb::BookedHours { etag: String::new(), minutes: 5, ..id_etag.clone() }, &["minutes"]), "hours.etag"),
        (update(pb::BookedHours { minutes: -5, ..id_etag.clone() }, &["minutes"]), "hours.minutes"),
        (update(id_etag.clone(), &["rate"]), "hours.rate"),
    ] {
        assert_field_error(&work.update_booked_hours(request).await.unwrap_err(), Code::InvalidArgument, field);
    }

    let part_req = |p: pb::ServicePart| pb::AddServicePartRequest { part: Some(p), idempotency_key: String::new() };
    let good_part = pb::ServicePart {
        case_id: case.id.clone(),
        part_number: "CB-7".into(),
        quantity_milli: 1_000,
        unit_price: eur(100),
        billable: true,
        ..Default::default()
    };
    for (bad, field) in [
        (pb::ServicePart { case_id: String::new(), ..good_part.clone() }, "part.case_id"),
        (pb::ServicePart { case_id: missing.clone(), ..good_part.clone() }, "part.case_id"),
        (pb::ServicePart { part_number: " ".into(), ..good_part.clone() }, "part.part_number"),
        (pb::ServicePart { quantity_milli: 0, ..good_part.clone() }, "part.quantity_milli"),
        (pb::ServicePart { unit_price: None, ..good_part.clone() }, "part.unit_price"),
        (pb::ServicePart { unit_price: eur(-5), ..good_part.clone() }, "part.unit_price.amount_minor"),
    ] {
        assert_field_error(&work.add_service_part(part_req(bad)).await.unwrap_err(), Code::InvalidArgument, field);
    }
    let refused = work
        .update_service_part(pb::UpdateServicePartRequest {
            part: Some(pb::ServicePart { id: part.id.clone(), etag: part.etag.clone(), ..Default::default() }),
            update_mask: mask(&["case_id"]),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "update_mask");

    let sheet =
        |staff: &str, period: i32, date: &str| pb::GetTimesheetRequest { staff_id: staff.into(), period, date: date.into() };
    for (request, field) in [
        (sheet("", 1, "2026-11-23"), "staff_id"),
        (sheet(&tech.id, 0, "2026-11-23"), "period"),
        (sheet(&tech.id, 7, "2026-11-23"), "period"),
        (sheet(&tech.id, 1, "tomorrow"), "date"),
    ] {
        assert_field_error(&work.get_timesheet(request).await.unwrap_err(), Code::InvalidArgument, field);
    }
    let refused = work
        .submit_timesheet(pb::SubmitTimesheetRequest {
            staff_id: missing.clone(),
            period: 1,
            date: "2026-11-23".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "staff_id");
    let refused = work
        .submit_timesheet(pb::SubmitTimesheetRequest {
            staff_id: tech.id.clone(),
            period: 1,
            date: "2026-11-23".into(),
            etag: "3".into(),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "etag");
    let refused = app
        .work(ADMIN)
        .approve_timesheet(pb::ReviewTimesheetRequest { id: missing.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    let refused = work
        .list_timesheets(pb::ListTimesheetsRequest { statuses: vec![pb::TimesheetStatus::Open as i32], ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "statuses[0]");

    for (request, field) in [
        (pb::InvoiceCaseRequest { case_id: "C-1".into(), idempotency_key: String::new() }, "case_id"),
        (pb::InvoiceCaseRequest { case_id: missing.clone(), idempotency_key: String::new() }, "case_id"),
    ] {
        assert_field_error(&work.invoice_case(request).await.unwrap_err(), Code::InvalidArgument, field);
    }
    let refused = work
        .set_invoice_status(pb::SetInvoiceStatusRequest { id: missing.clone(), status: 0, ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "status");
    let refused = work
        .set_invoice_status(pb::SetInvoiceStatusRequest {
            id: missing.clone(),
            status: pb::InvoiceStatus::Issued as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    for (request, field) in [
        (
            pb::DebitCaseRequest { case_id: case.id.clone(), sub_contract_id: String::new(), ..Default::default() },
            "sub_contract_id",
        ),
        (
            pb::DebitCaseRequest { case_id: case.id.clone(), sub_contract_id: missing.clone(), ..Default::default() },
            "sub_contract_id",
        ),
        (pb::DebitCaseRequest { case_id: String::new(), sub_contract_id: missing.clone(), ..Default::default() }, "case_id"),
    ] {
        assert_field_error(&work.debit_case(request).await.unwrap_err(), Code::InvalidArgument, field);
    }
    let refused = work
        .list_booked_hours(pb::ListBookedHoursRequest {
            from_date: "x".into(),
            case_id: "y".into(),
            page_token: "z".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    for field in ["from_date", "case_id", "page_token"] {
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    assert_eq!(app.table_counts("billing", WORK_TABLES).await, before, "nothing was written");
}

/// PostgreSQL, many callers at once: one balance is never overdrawn, and
/// one case is never invoiced twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_overdraw_and_concurrent_invoices_bill_once() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let acme = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Prepaid")).await;
    let tech = staff_user(&app, "Terry Technician").await;
    let mut cases = Vec::new();
    for i in 0..8 {
        let case = app
            .cases(AGENT)
            .create_case(case_pb::CreateCaseRequest {
                case: Some(case_pb::Case { service_contract_id: contract.id.clone(), ..new_case(&acme, &format!("Visit {i}")) }),
                idempotency_key: String::new(),
                sender: None,
            })
            .await
            .unwrap()
            .into_inner();
        // One hour at 95.00 each.
        book(&app, hours_on(&case.id, &tech.id, "2026-11-23", 60)).await;
        cases.push(case);
    }
    let sub = prepaid(&app, &contract, pb::BalanceKind::Money, false, 3 * 9_500).await;
    let debits = cases.iter().map(|case| {
        let mut work = app.work(AGENT);
        let request =
            pb::DebitCaseRequest { case_id: case.id.clone(), sub_contract_id: sub.id.clone(), idempotency_key: String::new() };
        async move { work.debit_case(request).await }
    });
    let results = futures::future::join_all(debits).await;
    let paid = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(paid, 3, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|s| s.code() == Code::FailedPrecondition), "{results:?}");
    assert_eq!(balance(&app, &sub.id).await, 0);
    let ledger = app
        .contracts(VIEWER)
        .list_ledger_entries(pb::ListLedgerEntriesRequest { sub_contract_id: sub.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(ledger.len(), 4);
    assert_eq!(ledger.iter().map(|e| e.amount).sum::<i64>(), 0);

    // Five invoices of one unpaid case at once: one bills it.
    let unpaid = results.iter().position(|r| r.is_err()).unwrap();
    let invoices = (0..5).map(|_| {
        let mut work = app.work(AGENT);
        let request = pb::InvoiceCaseRequest { case_id: cases[unpaid].id.clone(), idempotency_key: String::new() };
        async move { work.invoice_case(request).await }
    });
    let results = futures::future::join_all(invoices).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(
        results.iter().filter_map(|r| r.as_ref().err()).all(|s| matches!(s.code(), Code::FailedPrecondition | Code::Aborted))
    );
    let all = app
        .work(VIEWER)
        .list_invoices(pb::ListInvoicesRequest { case_id: cases[unpaid].id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .invoices;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].net, eur(9_500));
}
