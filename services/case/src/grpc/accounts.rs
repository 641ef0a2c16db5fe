//! `docket.case.v1.AccountService`.

use docket_kit::{auth::caller, error::FieldViolations, page, time};
use tonic::{Request, Response, Status};

use super::{actor, history, idempotency, reason, wanted};
use crate::{
    domain::{
        AccountTier,
        commands::{AccountFields, Address, LONG_TEXT_MAX, Money, NAME_MAX, SHORT_TEXT_MAX},
    },
    error::Error,
    store::{ACCOUNT_FIELDS, AccountCursor, AccountFilter, Store, etag as etag_of, model_money},
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

fn tier_from_proto(raw: i32) -> Option<AccountTier> {
    match pb::AccountTier::try_from(raw).ok()? {
        pb::AccountTier::Unspecified => None,
        pb::AccountTier::Standard => Some(AccountTier::Standard),
        pb::AccountTier::Premium => Some(AccountTier::Premium),
        pb::AccountTier::Enterprise => Some(AccountTier::Enterprise),
    }
}

fn tier_to_proto(key: &str) -> pb::AccountTier {
    match AccountTier::from_key(key) {
        Some(AccountTier::Standard) => pb::AccountTier::Standard,
        Some(AccountTier::Premium) => pb::AccountTier::Premium,
        Some(AccountTier::Enterprise) => pb::AccountTier::Enterprise,
        None => pb::AccountTier::Unspecified,
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
fn parse_fields(violations: &mut FieldViolations, account: &pb::Account, mask: Option<&[&str]>) -> AccountFields {
    let name =
        if wanted(mask, "name") { violations.required_text("account.name", &account.name, NAME_MAX) } else { String::new() };
    let tier = match (wanted(mask, "tier"), account.tier) {
        (false, _) => AccountTier::Standard,
        // On create, no tier means Standard.
        (true, 0) if mask.is_none() => AccountTier::Standard,
        (true, raw) => violations.enum_value("account.tier", raw, tier_from_proto).unwrap_or(AccountTier::Standard),
    };
    let text = |v: &mut FieldViolations, field: &str, path: &str, value: &str, max: usize| {
        if wanted(mask, field) { v.optional_text(path, value, max) } else { String::new() }
    };
    let address = account.address.clone().unwrap_or_default();
    AccountFields {
        name,
        industry: text(violations, "industry", "account.industry", &account.industry, SHORT_TEXT_MAX),
        tier,
        annual_value: if wanted(mask, "annual_value") {
            money(violations, "account.annual_value", account.annual_value.as_ref())
        } else {
            None
        },
        address: Address {
            street: text(violations, "address", "account.address.street", &address.street, SHORT_TEXT_MAX),
            city: text(violations, "address", "account.address.city", &address.city, SHORT_TEXT_MAX),
            region: text(violations, "address", "account.address.region", &address.region, SHORT_TEXT_MAX),
            postal_code: text(violations, "address", "account.address.postal_code", &address.postal_code, SHORT_TEXT_MAX),
            country: text(violations, "address", "account.address.country", &address.country, SHORT_TEXT_MAX),
        },
        notes: text(violations, "notes", "account.notes", &account.notes, LONG_TEXT_MAX),
    }
}

pub fn to_proto(model: crate::store::entities::account::Model) -> pb::Account {
    let annual_value = model_money(&model).map(|m| pb::Money { amount_minor: m.amount_minor, currency: m.currency });
    pb::Account {
        tier: tier_to_proto(&model.tier) as i32,
        annual_value,
        address: Some(pb::Address {
            street: model.address_street,
            city: model.address_city,
            region: model.address_region,
            postal_code: model.address_postal_code,
            country: model.address_country,
        }),
        create_time: Some(time::to_proto(model.created_at)),
        update_time: Some(time::to_proto(model.updated_at)),
        etag: etag_of(model.version),
        id: model.id,
        name: model.name,
        industry: model.industry,
        notes: model.notes,
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
        violations.into_result().map_err(Error::from)?;
        let created = self.store.create_account(fields, &actor(&caller, ""), key.as_ref()).await?;
        Ok(Response::new(to_proto(created)))
    }

    async fn get_account(&self, request: Request<pb::GetAccountRequest>) -> Result<Response<pb::Account>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id = violations.required_id("id", &request.get_ref().id);
        violations.into_result().map_err(Error::from)?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        Ok(Response::new(to_proto(self.store.get_account(&id).await?)))
    }

    async fn update_account(&self, request: Request<pb::UpdateAccountRequest>) -> Result<Response<pb::Account>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let account = request.account.unwrap_or_default();
        let id = violations.required_id("account.id", &account.id);
        let version = violations.etag("account.etag", &account.etag, true);
        let mask = violations.update_mask(request.update_mask.as_ref(), ACCOUNT_FIELDS);
        let fields = parse_fields(&mut violations, &account, Some(&mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result().map_err(Error::from)?;
        let (Some(id), Some(version)) = (id, version) else { return Err(Status::internal("validated fields missing")) };
        let updated = self.store.update_account(&id.to_string(), version, fields, &mask, &actor(&caller, &reason)).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<AccountCursor> = page::decode(&mut violations, &request.page_token);
        let filter = AccountFilter {
            query: violations.optional_text("query", &request.query, SHORT_TEXT_MAX),
            industry: violations.optional_text("industry", &request.industry, SHORT_TEXT_MAX),
            tier: if request.tier == 0 { None } else { violations.enum_value("tier", request.tier, tier_from_proto) },
        };
        violations.into_result().map_err(Error::from)?;
        let (rows, next) = self.store.list_accounts(&filter, after, limit).await?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: rows.into_iter().map(to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
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
