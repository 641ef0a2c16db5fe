//! `docket.case.v1.AccountService`.

use docket_kit::mutation::Once;
use docket_kit::{
    auth::caller,
    error::FieldViolations,
    page,
    request::{FieldMask, wanted},
};
use tonic::{Request, Response, Status};

use super::{actor, history, idempotency, reason};
use crate::{
    domain::{
        AccountId, AccountTier,
        commands::{AccountField, AccountFields, Address, LONG_TEXT_MAX, Money, NAME_MAX, SHORT_TEXT_MAX},
    },
    store::{AccountFilter, Store},
    wire::{self, WireEnum},
};
use docket_proto::case::v1::{self as pb, account_service_server::AccountService};

pub struct AccountApi {
    store: Store,
}

impl AccountApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Money: a non-negative amount in minor units and an ISO 4217 code.
pub(super) fn money(violations: &mut FieldViolations, field: &str, money: Option<&pb::Money>) -> Option<Money> {
    let money = money?;
    if money.amount_minor < 0 {
        violations.add(format!("{field}.amount_minor"), "must not be negative");
    }
    if money.currency.len() != 3 || !money.currency.chars().all(|c| c.is_ascii_uppercase()) {
        violations.add(format!("{field}.currency"), "must be an ISO 4217 code of three capital letters, e.g. EUR");
    }
    Some(Money { amount_minor: money.amount_minor, currency: money.currency.clone() })
}

/// Validates the fields a create sets (`mask: None`) or an update changes.
fn parse_fields(
    violations: &mut FieldViolations,
    account: &pb::Account,
    mask: Option<&FieldMask<AccountField>>,
) -> AccountFields {
    let name = if wanted(mask, AccountField::Name) {
        violations.required_text("account.name", &account.name, NAME_MAX)
    } else {
        String::new()
    };
    let tier = match (wanted(mask, AccountField::Tier), account.tier) {
        (false, _) => AccountTier::Standard,
        // On create, no tier means Standard.
        (true, 0) if mask.is_none() => AccountTier::Standard,
        (true, raw) => violations.enum_value("account.tier", raw, AccountTier::from_wire).unwrap_or(AccountTier::Standard),
    };
    let text = |v: &mut FieldViolations, field: AccountField, path: &str, value: &str, max: usize| {
        if wanted(mask, field) { v.optional_text(path, value, max) } else { String::new() }
    };
    let address = account.address.clone().unwrap_or_default();
    AccountFields {
        name,
        industry: text(violations, AccountField::Industry, "account.industry", &account.industry, SHORT_TEXT_MAX),
        tier,
        annual_value: if wanted(mask, AccountField::AnnualValue) {
            money(violations, "account.annual_value", account.annual_value.as_ref())
        } else {
            None
        },
        address: Address {
            street: text(violations, AccountField::Address, "account.address.street", &address.street, SHORT_TEXT_MAX),
            city: text(violations, AccountField::Address, "account.address.city", &address.city, SHORT_TEXT_MAX),
            region: text(violations, AccountField::Address, "account.address.region", &address.region, SHORT_TEXT_MAX),
            postal_code: text(
                violations,
                AccountField::Address,
                "account.address.postal_code",
                &address.postal_code,
                SHORT_TEXT_MAX,
            ),
            country: text(violations, AccountField::Address, "account.address.country", &address.country, SHORT_TEXT_MAX),
        },
        notes: text(violations, AccountField::Notes, "account.notes", &account.notes, LONG_TEXT_MAX),
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn create_account(&self, request: Request<pb::CreateAccountRequest>) -> Result<Response<pb::Account>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let account = request.account.clone().unwrap_or_default();
        let fields = parse_fields(&mut violations, &account, None);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateAccountRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let created =
            self.store.create_account(fields, &actor(&caller, ""), Once { scope: "CreateAccount", key: key.as_ref() }).await?;
        Ok(Response::new(wire::account(created)))
    }

    async fn get_account(&self, request: Request<pb::GetAccountRequest>) -> Result<Response<pb::Account>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id: AccountId = violations.id("id", &request.get_ref().id);
        violations.into_result()?;
        Ok(Response::new(wire::account(self.store.get_account(id).await?)))
    }

    async fn update_account(&self, request: Request<pb::UpdateAccountRequest>) -> Result<Response<pb::Account>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let account = request.account.unwrap_or_default();
        let target = violations.update_target("account", &account.id, &account.etag, request.update_mask.as_ref());
        let fields = parse_fields(&mut violations, &account, Some(&target.mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        let updated = self.store.update_account(target, fields, &actor(&caller, &reason)).await?;
        Ok(Response::new(wire::account(updated)))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<page::NameCursor> = page::decode(&mut violations, &request.page_token);
        let filter = AccountFilter {
            query: violations.optional_text("query", &request.query, SHORT_TEXT_MAX),
            industry: violations.optional_text("industry", &request.industry, SHORT_TEXT_MAX),
            tier: if request.tier == 0 { None } else { violations.enum_value("tier", request.tier, AccountTier::from_wire) },
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_accounts(&filter, after, limit).await?;
        let total_size = if request.include_total_size { Some(self.store.count_accounts(&filter).await?) } else { None };
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: rows.into_iter().map(wire::account).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
            total_size,
        }))
    }

    async fn list_account_history(
        &self,
        request: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(history(&self.store, &["account"], request.into_inner()).await?))
    }
}
