//! AccountService over gRPC.

use docket_proto::case::v1 as pb;
use tonic::Code;

use crate::{
    common::{AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{account, mask, unique},
    on_both_backends,
};

on_both_backends!(
    an_account_is_created_read_and_listed,
    an_update_changes_only_masked_fields_and_leaves_a_trail,
    a_stale_etag_is_aborted_and_changes_nothing,
    listing_accounts_pages_through_all_of_them,
    the_same_idempotency_key_creates_one_account,
);

async fn an_account_is_created_read_and_listed(app: TestApp) {
    let mut accounts = app.accounts(AGENT);
    let created = accounts
        .create_account(pb::CreateAccountRequest {
            account: Some(pb::Account {
                name: "Bright Dental".into(),
                industry: "Healthcare".into(),
                tier: pb::AccountTier::Premium as i32,
                annual_value: Some(pb::Money { amount_minor: 85_000_000, currency: "EUR".into() }),
                address: Some(pb::Address { city: "Munich".into(), country: "DE".into(), ..Default::default() }),
                notes: "Six chairs".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    assert!(!created.id.is_empty());
    assert_eq!(created.tier, pb::AccountTier::Premium as i32);
    assert_eq!(created.etag, "1");

    let read = accounts.get_account(pb::GetAccountRequest { id: created.id.clone() }).await.expect("get").into_inner();
    assert_eq!(read, created);

    let listed = accounts
        .list_accounts(pb::ListAccountsRequest { query: "bright".into(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.accounts, vec![created.clone()]);

    let none = accounts
        .list_accounts(pb::ListAccountsRequest { query: "nobody%".into(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert!(none.accounts.is_empty());
}

async fn an_update_changes_only_masked_fields_and_leaves_a_trail(app: TestApp) {
    let created = account(&app, "Acme").await;
    let mut accounts = app.accounts(AGENT);
    let updated = accounts
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: created.id.clone(),
                etag: created.etag.clone(),
                name: "Acme Manufacturing".into(),
                industry: "ignored: not in the mask".into(),
                tier: pb::AccountTier::Enterprise as i32,
                ..Default::default()
            }),
            update_mask: mask(&["name", "tier"]),
            reason: "renamed after merger".into(),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.name, "Acme Manufacturing");
    assert_eq!(updated.industry, "Manufacturing");
    assert_eq!(updated.tier, pb::AccountTier::Enterprise as i32);
    assert_eq!(updated.etag, "2");

    let history = accounts
        .list_account_history(pb::ListHistoryRequest { id: created.id.clone(), ..Default::default() })
        .await
        .expect("history")
        .into_inner()
        .entries;
    let changes: Vec<_> = history
        .iter()
        .filter(|e| e.reason == "renamed after merger")
        .map(|e| (e.field.as_str(), e.old_value.as_str(), e.new_value.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![("name", "Acme", "Acme Manufacturing", "agent:agent"), ("tier", "standard", "enterprise", "agent:agent")]
    );
}

async fn a_stale_etag_is_aborted_and_changes_nothing(app: TestApp) {
    let created = account(&app, "Acme").await;
    let mut accounts = app.accounts(AGENT);
    let rename = |name: &str, etag: &str| pb::UpdateAccountRequest {
        account: Some(pb::Account { id: created.id.clone(), etag: etag.to_owned(), name: name.to_owned(), ..Default::default() }),
        update_mask: mask(&["name"]),
        reason: String::new(),
    };
    accounts.update_account(rename("First", &created.etag)).await.expect("first update");
    let before = app.row_counts().await;
    let stale = accounts.update_account(rename("Second", &created.etag)).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert_eq!(app.row_counts().await, before);
    let read = accounts.get_account(pb::GetAccountRequest { id: created.id }).await.unwrap().into_inner();
    assert_eq!(read.name, "First");
}

async fn listing_accounts_pages_through_all_of_them(app: TestApp) {
    let mut names = Vec::new();
    for i in 0..7 {
        names.push(account(&app, &format!("Account {i:02}")).await.name);
    }
    let mut accounts = app.accounts(VIEWER);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = accounts
            .list_accounts(pb::ListAccountsRequest { page_size: 3, page_token: token.clone(), ..Default::default() })
            .await
            .expect("list")
            .into_inner();
        assert!(page.accounts.len() <= 3);
        seen.extend(page.accounts.into_iter().map(|a| a.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, names);

    let bad = accounts
        .list_accounts(pb::ListAccountsRequest { page_token: "garbage!".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&bad, Code::InvalidArgument, "page_token");
}

async fn the_same_idempotency_key_creates_one_account(app: TestApp) {
    let mut accounts = app.accounts(AGENT);
    let key = unique("key");
    let request = |name: &str| pb::CreateAccountRequest {
        account: Some(pb::Account { name: name.to_owned(), ..Default::default() }),
        idempotency_key: key.clone(),
    };
    let first = accounts.create_account(request("Once")).await.expect("first").into_inner();
    let again = accounts.create_account(request("Once")).await.expect("retry").into_inner();
    assert_eq!(first, again);
    let before = app.row_counts().await;
    let other = accounts.create_account(request("Different body")).await.unwrap_err();
    assert_field_error(&other, Code::InvalidArgument, "idempotency_key");
    assert_eq!(app.row_counts().await, before);
}
