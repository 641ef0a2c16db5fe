//! ContractService: contracts, their status machine, entitlement,
//! sub-contracts and their ledger.

use docket_proto::billing::v1::{self as pb, check_entitlement_response::Refusal};
use prost_types::Timestamp;
use sea_orm::ConnectionTrait;
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{Customer, customer, mask, unique},
    on_both_backends,
};

on_both_backends!(
    a_contract_is_created_read_listed_updated_and_its_history_kept,
    the_contract_status_machine_allows_only_its_moves,
    an_active_contract_past_its_end_date_reads_as_expired,
    entitlement_answers_whether_and_by_which_contract_a_case_is_covered,
    sub_contracts_keep_a_ledger_of_every_credit,
    creating_a_contract_twice_with_one_key_creates_one,
    bad_contract_requests_are_refused_and_write_nothing,
);

pub const BILLING_TABLES: &[&str] = &[
    "service_contracts",
    "covered_assets",
    "sub_contracts",
    "ledger_entries",
    "audit_entries",
    "idempotency_keys",
    "outbox",
    "counters",
];

pub fn contract_for(customer: &Customer, name: &str) -> pb::ServiceContract {
    pb::ServiceContract {
        account_id: customer.account.id.clone(),
        name: name.to_owned(),
        contract_type: "maintenance".into(),
        start_date: "2026-01-01".into(),
        end_date: "2030-12-31".into(),
        covered_assets: vec![pb::CoveredAsset { description: "Conveyor controller".into(), serial_number: "CX-1001".into() }],
        rates: Some(pb::BillingRates { currency: "EUR".into(), hourly_rate_minor: 9_500, tax_rate_basis_points: 1_900 }),
        description: "Next-business-day on-site service".into(),
        status: pb::ContractStatus::Active as i32,
        ..Default::default()
    }
}

pub async fn create_contract(app: &TestApp, contract: pb::ServiceContract) -> pb::ServiceContract {
    app.contracts(AGENT)
        .create_contract(pb::CreateContractRequest { contract: Some(contract), idempotency_key: String::new() })
        .await
        .expect("create contract")
        .into_inner()
}

async fn entitlement(app: &TestApp, request: pb::CheckEntitlementRequest) -> pb::CheckEntitlementResponse {
    app.contracts(VIEWER).check_entitlement(request).await.expect("check entitlement").into_inner()
}

async fn a_contract_is_created_read_listed_updated_and_its_history_kept(app: TestApp) {
    let acme = customer(&app).await;
    let created = create_contract(&app, contract_for(&acme, "Gold support")).await;
    assert_eq!(created.contract_number, "SC-000001");
    assert_eq!(created.status(), pb::ContractStatus::Active);
    assert_eq!(created.covered_assets.len(), 1);
    assert_eq!(created.rates.as_ref().unwrap().hourly_rate_minor, 9_500);
    let second =
        create_contract(&app, pb::ServiceContract { contract_number: "ACME/2026-7".into(), ..contract_for(&acme, "Spare") })
            .await;
    assert_eq!(second.contract_number, "ACME/2026-7");

    let mut contracts = app.contracts(VIEWER);
    let by_number = contracts
        .get_contract(pb::GetContractRequest {
            lookup: Some(pb::get_contract_request::Lookup::ContractNumber("SC-000001".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_number, created);
    let listed = contracts
        .list_contracts(pb::ListContractsRequest { account_id: acme.account.id.clone(), page_size: 1, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.contracts, std::slice::from_ref(&created));
    let rest = contracts
        .list_contracts(pb::ListContractsRequest {
            account_id: acme.account.id.clone(),
            page_size: 1,
            page_token: listed.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.contracts, [second]);
    assert!(rest.next_page_token.is_empty());

    let updated = app
        .contracts(AGENT)
        .update_contract(pb::UpdateContractRequest {
            contract: Some(pb::ServiceContract {
                id: created.id.clone(),
                etag: created.etag.clone(),
                name: "Platinum support".into(),
                covered_assets: vec![
                    pb::CoveredAsset { description: "Conveyor controller".into(), serial_number: "CX-1001".into() },
                    pb::CoveredAsset { description: "Label printer".into(), serial_number: "LP-77".into() },
                ],
                ..Default::default()
            }),
            update_mask: mask(&["name", "covered_assets"]),
            reason: "upgraded at renewal".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name, "Platinum support");
    assert_eq!(updated.covered_assets.len(), 2);
    assert_ne!(updated.etag, created.etag);

    let stale = app
        .contracts(AGENT)
        .update_contract(pb::UpdateContractRequest {
            contract: Some(pb::ServiceContract {
                id: created.id.clone(),
                etag: created.etag.clone(),
                name: "X".into(),
                ..Default::default()
            }),
            update_mask: mask(&["name"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let history = contracts
        .list_contract_history(pb::ListContractHistoryRequest { id: created.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let name_change = history.iter().find(|e| e.field == "name" && e.new_value == "Platinum support").expect("name change");
    assert_eq!(name_change.old_value, "Gold support");
    assert_eq!(name_change.reason, "upgraded at renewal");
    assert!(history.iter().any(|e| e.field == "created" && e.new_value == "SC-000001"));
    assert!(history.iter().any(|e| e.field == "covered_assets" && e.new_value.contains("LP-77")));
}

async fn the_contract_status_machine_allows_only_its_moves(app: TestApp) {
    let acme = customer(&app).await;
    let draft = create_contract(&app, pb::ServiceContract { status: 0, ..contract_for(&acme, "Draft") }).await;
    assert_eq!(draft.status(), pb::ContractStatus::Draft);
    let mut contracts = app.contracts(AGENT);
    let set = |id: &str, status: pb::ContractStatus| pb::SetContractStatusRequest {
        id: id.to_owned(),
        status: status as i32,
        etag: String::new(),
        reason: "signed".into(),
    };
    let refused = contracts.set_contract_status(set(&draft.id, pb::ContractStatus::Expired)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("allowed: active, cancelled"), "{}", refused.message());
    let active = contracts.set_contract_status(set(&draft.id, pb::ContractStatus::Active)).await.unwrap().into_inner();
    assert_eq!(active.status(), pb::ContractStatus::Active);
    let cancelled = contracts.set_contract_status(set(&draft.id, pb::ContractStatus::Cancelled)).await.unwrap().into_inner();
    assert_eq!(cancelled.status(), pb::ContractStatus::Cancelled);
    let refused = contracts.set_contract_status(set(&draft.id, pb::ContractStatus::Active)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("final"), "{}", refused.message());

    // A contract that has already ended cannot be activated.
    let ended = create_contract(
        &app,
        pb::ServiceContract {
            status: 0,
            start_date: "2020-01-01".into(),
            end_date: "2020-12-31".into(),
            ..contract_for(&acme, "Old")
        },
    )
    .await;
    let refused = contracts.set_contract_status(set(&ended.id, pb::ContractStatus::Active)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    // Nor be created active.
    let refused = app
        .contracts(AGENT)
        .create_contract(pb::CreateContractRequest {
            contract: Some(pb::ServiceContract {
                start_date: "2020-01-01".into(),
                end_date: "2020-12-31".into(),
                ..contract_for(&acme, "Old")
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "contract.end_date");

    let history = contracts
        .list_contract_history(pb::ListContractHistoryRequest { id: draft.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let moves: Vec<_> =
        history.iter().filter(|e| e.field == "status").map(|e| (e.old_value.as_str(), e.new_value.as_str())).collect();
    assert_eq!(moves, [("", "draft"), ("draft", "active"), ("active", "cancelled")]);
}

async fn an_active_contract_past_its_end_date_reads_as_expired(app: TestApp) {
    let acme = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Gold")).await;
    // Time passes: the contract's end date is now behind us.
    let db = app.service_db("billing").await;
    db.execute_unprepared(&format!("UPDATE service_contracts SET end_date = '2026-01-31' WHERE id = '{}'", contract.id))
        .await
        .unwrap();
    let read = app
        .contracts(VIEWER)
        .get_contract(pb::GetContractRequest { lookup: Some(pb::get_contract_request::Lookup::Id(contract.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.status(), pb::ContractStatus::Expired);
    let expired = app
        .contracts(VIEWER)
        .list_contracts(pb::ListContractsRequest {
            account_id: acme.account.id.clone(),
            statuses: vec![pb::ContractStatus::Expired as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contracts;
    assert_eq!(expired.len(), 1);
    let active = app
        .contracts(VIEWER)
        .list_contracts(pb::ListContractsRequest { statuses: vec![pb::ContractStatus::Active as i32], ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .contracts;
    assert!(active.is_empty());
    let answer = entitlement(
        &app,
        pb::CheckEntitlementRequest {
            account_id: acme.account.id.clone(),
            contract_id: contract.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(!answer.covered);
    assert_eq!(answer.refusal(), Refusal::Expired);
    assert!(answer.reason.contains("expired on 2026-01-31"), "{}", answer.reason);
}

async fn entitlement_answers_whether_and_by_which_contract_a_case_is_covered(app: TestApp) {
    let acme = customer(&app).await;
    let globex = customer(&app).await;
    let specific = create_contract(&app, contract_for(&acme, "Controller cover")).await;
    let general = create_contract(&app, pb::ServiceContract { covered_assets: vec![], ..contract_for(&acme, "General") }).await;
    let account = |c: &Customer| c.account.id.clone();

    // By asset serial number: the contract that lists it.
    let answer = entitlement(
        &app,
        pb::CheckEntitlementRequest { account_id: account(&acme), asset_serial_number: " cx-1001 ".into(), ..Default::default() },
    )
    .await;
    assert!(answer.covered);
    assert_eq!(answer.contract.unwrap().id, specific.id);
    // By account alone: the general one also covers it.
    let answer = entitlement(&app, pb::CheckEntitlementRequest { account_id: account(&acme), ..Default::default() }).await;
    assert!(answer.covered);
    // An asset the specific contract does not list, named by number.
    let answer = entitlement(
        &app,
        pb::CheckEntitlementRequest {
            account_id: account(&acme),
            contract_number: specific.contract_number.clone(),
            asset_serial_number: "ZZ-9".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!answer.covered);
    assert_eq!(answer.refusal(), Refusal::AssetNotCovered);
    // The same asset under the general contract is fine.
    let answer = entitlement(
        &app,
        pb::CheckEntitlementRequest {
            account_id: account(&acme),
            contract_id: general.id.clone(),
            asset_serial_number: "ZZ-9".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(answer.covered);
    // Someone else's contract.
    let answer = entitlement(
        &app,
        pb::CheckEntitlementRequest { account_id: account(&globex), contract_id: specific.id.clone(), ..Default::default() },
    )
    .await;
    assert_eq!(answer.refusal(), Refusal::OtherAccount);
    // No contract at all.
    let answer = entitlement(&app, pb::CheckEntitlementRequest { account_id: account(&globex), ..Default::default() }).await;
    assert_eq!(answer.refusal(), Refusal::NoContract);
    // A number nobody has.
    let answer = entitlement(
        &app,
        pb::CheckEntitlementRequest { account_id: account(&acme), contract_number: "SC-999999".into(), ..Default::default() },
    )
    .await;
    assert_eq!(answer.refusal(), Refusal::NotFound);
    // Before the contract starts.
    let answer = entitlement(
        &app,
        pb::CheckEntitlementRequest {
            account_id: account(&acme),
            contract_id: specific.id.clone(),
            at: Some(Timestamp { seconds: 1_735_689_600, nanos: 0 }), // 2025-01-01
            ..Default::default()
        },
    )
    .await;
    assert_eq!(answer.refusal(), Refusal::NotStarted);
}

async fn sub_contracts_keep_a_ledger_of_every_credit(app: TestApp) {
    let acme = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Prepaid")).await;
    let mut contracts = app.contracts(AGENT);
    let sub = contracts
        .create_sub_contract(pb::CreateSubContractRequest {
            sub_contract: Some(pb::SubContract {
                contract_id: contract.id.clone(),
                name: "Prepaid hours 2026".into(),
                balance_kind: pb::BalanceKind::Money as i32,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sub.balance, 0);
    assert_eq!(sub.currency, "EUR");
    let credit = |amount: i64, key: &str| pb::CreditSubContractRequest {
        sub_contract_id: sub.id.clone(),
        amount,
        description: "Purchase order".into(),
        idempotency_key: key.to_owned(),
    };
    let first = contracts.credit_sub_contract(credit(100_000, "po-1")).await.unwrap().into_inner();
    assert_eq!(first.balance_after, 100_000);
    assert_eq!(first.kind(), pb::LedgerEntryKind::Credit);
    // A retry of the same credit is the same entry, not a second credit.
    let retried = contracts.credit_sub_contract(credit(100_000, "po-1")).await.unwrap().into_inner();
    assert_eq!(retried, first);
    contracts.credit_sub_contract(credit(25_050, "po-2")).await.unwrap();
    let read = contracts.get_sub_contract(pb::GetSubContractRequest { id: sub.id.clone() }).await.unwrap().into_inner();
    assert_eq!(read.balance, 125_050);
    let ledger = contracts
        .list_ledger_entries(pb::ListLedgerEntriesRequest { sub_contract_id: sub.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let amounts: Vec<_> = ledger.iter().map(|e| (e.amount, e.balance_after)).collect();
    assert_eq!(amounts, [(100_000, 100_000), (25_050, 125_050)]);
    assert!(ledger.iter().all(|e| e.actor == "agent:agent"));
    let listed = contracts
        .list_sub_contracts(pb::ListSubContractsRequest { contract_id: contract.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .sub_contracts;
    assert_eq!(listed, [read]);
}

async fn creating_a_contract_twice_with_one_key_creates_one(app: TestApp) {
    let acme = customer(&app).await;
    let request = pb::CreateContractRequest { contract: Some(contract_for(&acme, "Gold")), idempotency_key: unique("key") };
    let first = app.contracts(AGENT).create_contract(request.clone()).await.unwrap().into_inner();
    let again = app.contracts(AGENT).create_contract(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, again);
    let other = pb::CreateContractRequest { contract: Some(contract_for(&acme, "Silver")), ..request };
    let refused = app.contracts(AGENT).create_contract(other).await.unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "idempotency_key");
    let counts = app.table_counts("billing", &["service_contracts"]).await;
    assert_eq!(counts[0].1, 1);
}

async fn bad_contract_requests_are_refused_and_write_nothing(app: TestApp) {
    let acme = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Gold")).await;
    let before = app.table_counts("billing", BILLING_TABLES).await;
    let mut contracts = app.contracts(AGENT);
    let create = |c: pb::ServiceContract| pb::CreateContractRequest { contract: Some(c), idempotency_key: String::new() };

    let cases: Vec<(pb::ServiceContract, &str)> = vec![
        (pb::ServiceContract { name: " ".into(), ..contract_for(&acme, "") }, "contract.name"),
        (pb::ServiceContract { account_id: "nope".into(), ..contract_for(&acme, "X") }, "contract.account_id"),
        (pb::ServiceContract { account_id: uuid::Uuid::now_v7().to_string(), ..contract_for(&acme, "X") }, "contract.account_id"),
        (pb::ServiceContract { start_date: "2026-13-01".into(), ..contract_for(&acme, "X") }, "contract.start_date"),
        (pb::ServiceContract { end_date: String::new(), ..contract_for(&acme, "X") }, "contract.end_date"),
        (
            pb::ServiceContract { start_date: "2027-01-01".into(), end_date: "2026-01-01".into(), ..contract_for(&acme, "X") },
            "contract.end_date",
        ),
        (pb::ServiceContract { contract_type: "Gold Plus!".into(), ..contract_for(&acme, "X") }, "contract.contract_type"),
        (pb::ServiceContract { contract_number: "SC 1".into(), ..contract_for(&acme, "X") }, "contract.contract_number"),
        (
            pb::ServiceContract { contract_number: contract.contract_number.clone(), ..contract_for(&acme, "X") },
            "contract.contract_number",
        ),
        (
            pb::ServiceContract { sla_policy_id: uuid::Uuid::now_v7().to_string(), ..contract_for(&acme, "X") },
            "contract.sla_policy_id",
        ),
        (pb::ServiceContract { rates: None, ..contract_for(&acme, "X") }, "contract.rates"),
        (
            pb::ServiceContract {
                rates: Some(pb::BillingRates { currency: "euro".into(), hourly_rate_minor: -1, tax_rate_basis_points: 20_000 }),
                ..contract_for(&acme, "X")
            },
            "contract.rates.currency",
        ),
        (
            pb::ServiceContract {
                covered_assets: vec![
                    pb::CoveredAsset { description: "A".into(), serial_number: "S-1".into() },
                    pb::CoveredAsset { description: "B".into(), serial_number: " s-1".into() },
                ],
                ..contract_for(&acme, "X")
            },
            "contract.covered_assets[1].serial_number",
        ),
        (
            pb::ServiceContract { covered_assets: vec![pb::CoveredAsset::default()], ..contract_for(&acme, "X") },
            "contract.covered_assets[0].serial_number",
        ),
        (pb::ServiceContract { status: pb::ContractStatus::Cancelled as i32, ..contract_for(&acme, "X") }, "contract.status"),
        (pb::ServiceContract { description: "\u{7}".into(), ..contract_for(&acme, "X") }, "contract.description"),
    ];
    for (bad, field) in cases {
        let refused = contracts.create_contract(create(bad)).await.unwrap_err();
        let code = if field == "contract.contract_number" && refused.code() == Code::AlreadyExists {
            Code::AlreadyExists
        } else {
            Code::InvalidArgument
        };
        assert_field_error(&refused, code, field);
    }
    let refused = app.contracts(VIEWER).create_contract(create(contract_for(&acme, "X"))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = app.contracts("").create_contract(create(contract_for(&acme, "X"))).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    let update = |c: pb::ServiceContract, paths: &[&str]| pb::UpdateContractRequest {
        contract: Some(c),
        update_mask: mask(paths),
        reason: String::new(),
    };
    let id_and_etag = pb::ServiceContract { id: contract.id.clone(), etag: contract.etag.clone(), ..Default::default() };
    for (request, field) in [
        (update(id_and_etag.clone(), &[]), "update_mask"),
        (update(id_and_etag.clone(), &["account_id"]), "update_mask"),
        (update(pb::ServiceContract { etag: String::new(), ..id_and_etag.clone() }, &["name"]), "contract.etag"),
        (update(pb::ServiceContract { id: "x".into(), ..id_and_etag.clone() }, &["description"]), "contract.id"),
        (
            update(pb::ServiceContract { end_date: "2025-01-01".into(), ..id_and_etag.clone() }, &["end_date"]),
            "contract.end_date",
        ),
        (update(id_and_etag.clone(), &["rates"]), "contract.rates"),
    ] {
        let refused = contracts.update_contract(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let missing = update(pb::ServiceContract { id: uuid::Uuid::now_v7().to_string(), ..id_and_etag.clone() }, &["description"]);
    assert_eq!(contracts.update_contract(missing).await.unwrap_err().code(), Code::NotFound);

    let refused = contracts
        .set_contract_status(pb::SetContractStatusRequest { id: contract.id.clone(), status: 99, ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "status");
    let refused = contracts
        .set_contract_status(pb::SetContractStatusRequest {
            id: contract.id.clone(),
            status: pb::ContractStatus::Cancelled as i32,
            etag: "7".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);

    for (request, field) in [
        (pb::CheckEntitlementRequest::default(), "account_id"),
        (pb::CheckEntitlementRequest { account_id: "x".into(), ..Default::default() }, "account_id"),
        (
            pb::CheckEntitlementRequest {
                account_id: acme.account.id.clone(),
                contract_id: contract.id.clone(),
                contract_number: contract.contract_number.clone(),
                ..Default::default()
            },
            "contract_number",
        ),
        (
            pb::CheckEntitlementRequest {
                account_id: acme.account.id.clone(),
                at: Some(Timestamp { seconds: i64::MAX, nanos: 0 }),
                ..Default::default()
            },
            "at",
        ),
    ] {
        let refused = app.contracts(VIEWER).check_entitlement(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }

    let sub = |s: pb::SubContract| pb::CreateSubContractRequest { sub_contract: Some(s), idempotency_key: String::new() };
    for (request, field) in [
        (sub(pb::SubContract { name: "P".into(), balance_kind: 1, ..Default::default() }), "sub_contract.contract_id"),
        (sub(pb::SubContract { contract_id: contract.id.clone(), balance_kind: 1, ..Default::default() }), "sub_contract.name"),
        (
            sub(pb::SubContract { contract_id: contract.id.clone(), name: "P".into(), ..Default::default() }),
            "sub_contract.balance_kind",
        ),
        (
            sub(pb::SubContract {
                contract_id: contract.id.clone(),
                name: "P".into(),
                balance_kind: 1,
                balance: 5,
                ..Default::default()
            }),
            "sub_contract.balance",
        ),
        (
            sub(pb::SubContract {
                contract_id: uuid::Uuid::now_v7().to_string(),
                name: "P".into(),
                balance_kind: 1,
                ..Default::default()
            }),
            "sub_contract.contract_id",
        ),
    ] {
        let refused = contracts.create_sub_contract(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    for (request, field) in [
        (pb::CreditSubContractRequest { amount: 5, ..Default::default() }, "sub_contract_id"),
        (
            pb::CreditSubContractRequest { sub_contract_id: uuid::Uuid::now_v7().to_string(), amount: 0, ..Default::default() },
            "amount",
        ),
        (
            pb::CreditSubContractRequest { sub_contract_id: uuid::Uuid::now_v7().to_string(), amount: -5, ..Default::default() },
            "amount",
        ),
    ] {
        let refused = contracts.credit_sub_contract(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let missing =
        pb::CreditSubContractRequest { sub_contract_id: uuid::Uuid::now_v7().to_string(), amount: 5, ..Default::default() };
    assert_eq!(contracts.credit_sub_contract(missing).await.unwrap_err().code(), Code::NotFound);
    let refused = app
        .contracts(VIEWER)
        .list_contracts(pb::ListContractsRequest { page_token: "garbage".into(), statuses: vec![42], ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "page_token");
    assert_field_error(&refused, Code::InvalidArgument, "statuses[0]");

    assert_eq!(app.table_counts("billing", BILLING_TABLES).await, before);
    // The contract is unchanged, and admins may manage contracts too.
    let read = app
        .contracts(ADMIN)
        .get_contract(pb::GetContractRequest { lookup: Some(pb::get_contract_request::Lookup::Id(contract.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, contract);
}
