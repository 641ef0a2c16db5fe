//! Bad input to the billing RPCs the other files do not try with bad data:
//! reads, lists and deletes. Each names the bad field (or answers NOT_FOUND
//! for a well-formed id nobody has) and nothing is written.

use docket_proto::billing::v1 as pb;
use tonic::Code;

use crate::{
    common::{AGENT, TestApp, VIEWER, assert_field_error},
    contracts::{BILLING_TABLES, contract_for, create_contract},
    fixtures::{customer, mask},
    on_both_backends,
    work::WORK_TABLES,
};

on_both_backends!(reads_lists_and_deletes_refuse_bad_input_and_write_nothing);

async fn reads_lists_and_deletes_refuse_bad_input_and_write_nothing(app: TestApp) {
    let acme = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Gold")).await;
    let mut tables: Vec<&str> = BILLING_TABLES.to_vec();
    tables.extend(WORK_TABLES.iter().filter(|t| !BILLING_TABLES.contains(t)));
    let before = app.table_counts("billing", &tables).await;
    let missing = uuid::Uuid::now_v7().to_string();
    let mut contracts = app.contracts(AGENT);
    let mut work = app.work(AGENT);
    let invalid = |status: tonic::Status, field: &str| assert_field_error(&status, Code::InvalidArgument, field);
    let not_found = |status: tonic::Status| assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // ContractService
    invalid(contracts.get_contract(pb::GetContractRequest { lookup: None }).await.unwrap_err(), "lookup");
    let by = |lookup| pb::GetContractRequest { lookup: Some(lookup) };
    invalid(contracts.get_contract(by(pb::get_contract_request::Lookup::Id("SC-1".into()))).await.unwrap_err(), "id");
    invalid(
        contracts.get_contract(by(pb::get_contract_request::Lookup::ContractNumber("SC 1!".into()))).await.unwrap_err(),
        "contract_number",
    );
    not_found(contracts.get_contract(by(pb::get_contract_request::Lookup::Id(missing.clone()))).await.unwrap_err());
    not_found(
        contracts.get_contract(by(pb::get_contract_request::Lookup::ContractNumber("SC-999999".into()))).await.unwrap_err(),
    );
    let refused = contracts
        .list_contract_history(pb::ListContractHistoryRequest { id: "x".into(), page_size: -1, page_token: "?".into() })
        .await
        .unwrap_err();
    for field in ["id", "page_size", "page_token"] {
        invalid(refused.clone(), field);
    }
    invalid(contracts.get_sub_contract(pb::GetSubContractRequest { id: String::new() }).await.unwrap_err(), "id");
    not_found(contracts.get_sub_contract(pb::GetSubContractRequest { id: missing.clone() }).await.unwrap_err());
    invalid(
        contracts
            .list_sub_contracts(pb::ListSubContractsRequest { contract_id: "x".into(), ..Default::default() })
            .await
            .unwrap_err(),
        "contract_id",
    );
    not_found(
        contracts
            .list_sub_contracts(pb::ListSubContractsRequest { contract_id: missing.clone(), ..Default::default() })
            .await
            .unwrap_err(),
    );
    invalid(
        contracts
            .list_ledger_entries(pb::ListLedgerEntriesRequest { sub_contract_id: "x".into(), ..Default::default() })
            .await
            .unwrap_err(),
        "sub_contract_id",
    );
    not_found(
        contracts
            .list_ledger_entries(pb::ListLedgerEntriesRequest { sub_contract_id: missing.clone(), ..Default::default() })
            .await
            .unwrap_err(),
    );
    let refused = contracts
        .set_contract_status(pb::SetContractStatusRequest {
            id: contract.id.clone(),
            status: pb::ContractStatus::Cancelled as i32,
            etag: "not-an-etag".into(),
            reason: "\u{0}".into(),
        })
        .await
        .unwrap_err();
    invalid(refused.clone(), "etag");
    invalid(refused, "reason");

    // WorkService
    invalid(work.get_booked_hours(pb::GetBookedHoursRequest { id: "1".into() }).await.unwrap_err(), "id");
    not_found(work.get_booked_hours(pb::GetBookedHoursRequest { id: missing.clone() }).await.unwrap_err());
    invalid(
        work.delete_booked_hours(pb::DeleteBookedHoursRequest { id: missing.clone(), etag: "x".into() }).await.unwrap_err(),
        "etag",
    );
    not_found(
        work.delete_booked_hours(pb::DeleteBookedHoursRequest { id: missing.clone(), etag: String::new() }).await.unwrap_err(),
    );
    let refused = work
        .list_service_parts(pb::ListServicePartsRequest { case_id: String::new(), page_size: -3, page_token: String::new() })
        .await
        .unwrap_err();
    invalid(refused.clone(), "case_id");
    invalid(refused, "page_size");
    let refused = work
        .update_service_part(pb::UpdateServicePartRequest {
            part: Some(pb::ServicePart {
                id: missing.clone(),
                etag: "1".into(),
                quantity_milli: 0,
                unit_price: Some(docket_proto::case::v1::Money { amount_minor: 5, currency: "??".into() }),
                ..Default::default()
            }),
            update_mask: mask(&["quantity_milli", "unit_price"]),
        })
        .await
        .unwrap_err();
    invalid(refused.clone(), "part.quantity_milli");
    invalid(refused, "part.unit_price.currency");
    invalid(
        work.delete_service_part(pb::DeleteServicePartRequest { id: "?".into(), etag: String::new() }).await.unwrap_err(),
        "id",
    );
    not_found(
        work.delete_service_part(pb::DeleteServicePartRequest { id: missing.clone(), etag: String::new() }).await.unwrap_err(),
    );
    invalid(
        app.work(crate::common::ADMIN)
            .reject_timesheet(pb::ReviewTimesheetRequest { id: missing.clone(), etag: String::new(), note: "x".repeat(1_001) })
            .await
            .unwrap_err(),
        "note",
    );
    invalid(work.get_case_costs(pb::GetCaseCostsRequest { case_id: "C-000001".into() }).await.unwrap_err(), "case_id");
    invalid(work.get_case_costs(pb::GetCaseCostsRequest { case_id: missing.clone() }).await.unwrap_err(), "case_id");
    invalid(work.get_invoice(pb::GetInvoiceRequest { id: "INV-000001".into() }).await.unwrap_err(), "id");
    not_found(work.get_invoice(pb::GetInvoiceRequest { id: missing.clone() }).await.unwrap_err());
    let refused = app
        .work(VIEWER)
        .list_invoices(pb::ListInvoicesRequest { statuses: vec![0, 17], account_id: "acme".into(), ..Default::default() })
        .await
        .unwrap_err();
    for field in ["statuses[0]", "statuses[1]", "account_id"] {
        invalid(refused.clone(), field);
    }
    let refused =
        app.work(VIEWER).delete_service_part(pb::DeleteServicePartRequest { id: missing.clone(), etag: String::new() }).await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied, "viewers change nothing");

    assert_eq!(app.table_counts("billing", &tables).await, before, "nothing was written");
}
