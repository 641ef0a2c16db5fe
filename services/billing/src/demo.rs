//! Demo data for `docket dev`: a default SLA policy in business hours, and
//! an active service contract with a covered asset and a prepaid
//! sub-contract for the first demo account. Written through the store, so it
//! has its audit trail and events like any other data.

use chrono::NaiveDate;
use docket_kit::audit::Actor;
use docket_kit::mutation::Once;

use crate::{
    error::Result,
    store::{ContractFields, NewSubContract, PolicyFields, Store, StoredHours, StoredTarget},
};

/// Seeds the demo data unless a policy exists already. Returns whether it seeded.
pub async fn seed(store: &Store, account_id: Option<&str>) -> Result<bool> {
    if !store.list_policies(None, 1).await?.is_empty() {
        return Ok(false);
    }
    let by = Actor { actor: "system:demo", reason: "demo data for docket dev", at: docket_kit::time::now() };
    let target = |priority: u8, first_hours: i64, resolution_hours: i64| StoredTarget {
        priority,
        first_response_minutes: first_hours * 60,
        resolution_minutes: resolution_hours * 60,
    };
    let policy = store
        .create_policy(
            PolicyFields {
                name: "Standard support".into(),
                description: "Weekdays 08:00 to 18:00 Berlin time".into(),
                time_zone: "Europe/Berlin".into(),
                working_hours: (1..=5).map(|weekday| StoredHours { weekday, start: 8 * 60, end: 18 * 60 }).collect(),
                holidays: vec!["2026-12-24".into(), "2026-12-25".into(), "2026-12-26".into(), "2027-01-01".into()],
                targets: vec![target(1, 8, 40), target(2, 4, 24), target(3, 2, 8), target(4, 1, 4)],
                pause_while_pending: true,
                warn_at_percent: 80,
                is_default: true,
            },
            &by,
            Once::default(),
        )
        .await?;
    let Some(account_id) = account_id else { return Ok(true) };
    let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default();
    let contract = store
        .create_contract(
            ContractFields {
                contract_number: None,
                account_id: account_id.to_owned(),
                name: "Gold maintenance".into(),
                contract_type: "maintenance".into(),
                start_date: date("2026-01-01"),
                end_date: date("2027-12-31"),
                sla_policy_id: Some(policy.id),
                covered_assets: vec![("Conveyor controller".into(), "CX-1001".into())],
                currency: "EUR".into(),
                hourly_rate_minor: 9_500,
                tax_rate_bp: 1_900,
                description: "On-site repairs within one business day".into(),
            },
            true,
            &by,
            Once::default(),
        )
        .await?;
    let prepaid = store
        .create_sub_contract(
            NewSubContract {
                contract_id: contract.contract.id,
                name: "Prepaid service 2026".into(),
                balance_kind: "money",
                allow_overdraft: false,
            },
            &by,
            None,
        )
        .await?;
    store.credit_sub_contract(&prepaid.id, 200_000, "Purchase order PO-2026-014", &by, None).await?;
    Ok(true)
}
