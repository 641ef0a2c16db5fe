//! `docket.billing.v1.ContractService`: contracts, entitlement, sub-contracts.

use docket_kit::mutation::Once;
use docket_kit::{
    audit::HistoryPage,
    auth::caller,
    error::{FieldViolations, invalid_argument},
    page,
    request::{FieldMask, wanted},
    time,
};
use docket_proto::billing::v1::{
    self as pb, check_entitlement_response::Refusal as PbRefusal, contract_service_server::ContractService,
    get_contract_request::Lookup,
};
use tonic::{Request, Response, Status};

use super::{REASON_MAX, actor, currency, date};
use crate::{
    clients::CaseClients,
    domain::contract::{ContractStatus, Refusal},
    error::Error,
    store::{
        ContractFields, ContractFilter, IdCursor, NewSubContract, Store,
        contracts::{ContractField, ContractId, ContractLookup, Entitlement},
    },
    wire,
};

pub struct ContractApi {
    store: Store,
    clients: CaseClients,
}

impl ContractApi {
    pub fn new(store: Store, clients: CaseClients) -> Self {
        Self { store, clients }
    }
}

const NUMBER_MAX: usize = 50;
const ASSETS_MAX: usize = 500;

fn status_from_proto(raw: i32) -> Option<ContractStatus> {
    Some(match pb::ContractStatus::try_from(raw).ok()? {
        pb::ContractStatus::Unspecified => return None,
        pb::ContractStatus::Draft => ContractStatus::Draft,
        pb::ContractStatus::Active => ContractStatus::Active,
        pb::ContractStatus::Expired => ContractStatus::Expired,
        pb::ContractStatus::Cancelled => ContractStatus::Cancelled,
    })
}

/// A contract number people choose: letters, digits and `-_./`.
fn contract_number(violations: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.chars().count() > NUMBER_MAX || !value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        violations.add(field, format!("must be 1 to {NUMBER_MAX} of letters, digits and - _ . /"));
    }
    Some(value.to_owned())
}

/// Validates what a create sets (`mask: None`) or an update changes.
fn parse_fields(
    violations: &mut FieldViolations,
    contract: &pb::ServiceContract,
    mask: Option<&FieldMask<ContractField>>,
) -> ContractFields {
    let creating = mask.is_none();
    let mut fields = ContractFields {
        contract_number: None,
        account_id: String::new(),
        name: String::new(),
        contract_type: String::new(),
        start_date: chrono::NaiveDate::MIN,
        end_date: chrono::NaiveDate::MIN,
        sla_policy_id: None,
        covered_assets: Vec::new(),
        currency: String::new(),
        hourly_rate_minor: 0,
        tax_rate_bp: 0,
        description: String::new(),
    };
    if creating {
        fields.contract_number = contract_number(violations, "contract.contract_number", &contract.contract_number);
        fields.account_id = violations.id_text("contract.account_id", &contract.account_id);
    }
    if wanted(mask, ContractField::Name) {
        fields.name = violations.required_text("contract.name", &contract.name, 200);
    }
    if wanted(mask, ContractField::ContractType) {
        fields.contract_type = if contract.contract_type.trim().is_empty() && creating {
            "support".to_owned()
        } else {
            violations.key("contract.contract_type", &contract.contract_type)
        };
    }
    if wanted(mask, ContractField::StartDate) {
        fields.start_date = date(violations, "contract.start_date", &contract.start_date, true).unwrap_or_default();
    }
    if wanted(mask, ContractField::EndDate) {
        fields.end_date = date(violations, "contract.end_date", &contract.end_date, true).unwrap_or_default();
    }
    if creating && fields.end_date < fields.start_date && violations.is_empty() {
        violations.add("contract.end_date", "must not be before the start date");
    }
    if wanted(mask, ContractField::SlaPolicyId) {
        fields.sla_policy_id = violations.opt_id_text("contract.sla_policy_id", &contract.sla_policy_id);
    }
    if wanted(mask, ContractField::CoveredAssets) {
        if contract.covered_assets.len() > ASSETS_MAX {
            violations.add("contract.covered_assets", format!("lists more than {ASSETS_MAX} assets"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, asset) in contract.covered_assets.iter().enumerate().take(ASSETS_MAX) {
            let field = format!("contract.covered_assets[{i}]");
            let description = violations.optional_text(&format!("{field}.description"), &asset.description, 200);
            let serial = violations.required_text(&format!("{field}.serial_number"), &asset.serial_number, 100);
            if !serial.is_empty() && !seen.insert(crate::domain::contract::serial_key(&serial)) {
                violations.add(format!("{field}.serial_number"), "is listed twice");
            }
            fields.covered_assets.push((description, serial));
        }
    }
    if wanted(mask, ContractField::Rates) {
        match &contract.rates {
            None => violations.add("contract.rates", "is required: currency, hourly rate and tax rate"),
            Some(rates) => {
                fields.currency = currency(violations, "contract.rates.currency", &rates.currency)
                    .map(|c| c.code().to_owned())
                    .unwrap_or_default();
                if rates.hourly_rate_minor < 0 {
                    violations.add("contract.rates.hourly_rate_minor", "must not be negative");
                }
                if !(0..=10_000).contains(&rates.tax_rate_basis_points) {
                    violations.add("contract.rates.tax_rate_basis_points", "must be between 0 and 10000 (100 %)");
                }
                fields.hourly_rate_minor = rates.hourly_rate_minor;
                fields.tax_rate_bp = rates.tax_rate_basis_points;
            }
        }
    }
    if wanted(mask, ContractField::Description) {
        fields.description = violations.optional_text("contract.description", &contract.description, 5_000);
    }
    fields
}

fn refusal_to_proto(refusal: &Refusal) -> PbRefusal {
    match refusal {
        Refusal::NotFound(_) => PbRefusal::NotFound,
        Refusal::OtherAccount(_) => PbRefusal::OtherAccount,
        Refusal::NotActive { .. } => PbRefusal::NotActive,
        Refusal::Expired { .. } => PbRefusal::Expired,
        Refusal::NotStarted { .. } => PbRefusal::NotStarted,
        Refusal::NoContract => PbRefusal::NoContract,
        Refusal::AssetNotCovered { .. } => PbRefusal::AssetNotCovered,
    }
}

fn cursor(violations: &mut FieldViolations, token: &str) -> Option<IdCursor> {
    page::decode(violations, token)
}

fn next_token(next: Option<IdCursor>) -> String {
    next.map(|c| page::encode(&c)).unwrap_or_default()
}

#[tonic::async_trait]
impl ContractService for ContractApi {
    async fn create_contract(
        &self,
        request: Request<pb::CreateContractRequest>,
    ) -> Result<Response<pb::ServiceContract>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let contract = request.contract.clone().unwrap_or_default();
        let mut violations = FieldViolations::new();
        let fields = parse_fields(&mut violations, &contract, None);
        let activate = match pb::ContractStatus::try_from(contract.status) {
            Ok(pb::ContractStatus::Unspecified | pb::ContractStatus::Draft) => false,
            Ok(pb::ContractStatus::Active) => true,
            _ => {
                violations.add("contract.status", "a new contract is DRAFT (the default) or ACTIVE");
                false
            }
        };
        let key = docket_kit::idempotency::from_request(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateContractRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        self.clients.account("contract.account_id", &fields.account_id).await?;
        let by = actor(&caller, "");
        let created =
            self.store.create_contract(fields, activate, &by, Once { scope: "CreateContract", key: key.as_ref() }).await?;
        Ok(Response::new(wire::contract(created, by.at)))
    }

    async fn get_contract(&self, request: Request<pb::GetContractRequest>) -> Result<Response<pb::ServiceContract>, Status> {
        caller(&request)?;
        let found = match &request.get_ref().lookup {
            Some(Lookup::Id(id)) => {
                let mut violations = FieldViolations::new();
                let id = violations.id_text("id", id);
                violations.into_result()?;
                self.store.get_contract(&id).await?
            }
            Some(Lookup::ContractNumber(number)) => {
                let mut violations = FieldViolations::new();
                let number = contract_number(&mut violations, "contract_number", number);
                violations.into_result()?;
                let number = number.ok_or_else(|| Error::field("contract_number", "is required"))?;
                self.store.get_contract_by_number(&number).await?
            }
            None => return Err(Error::field("lookup", "send either id or contract_number").into()),
        };
        Ok(Response::new(wire::contract(found, time::now())))
    }

    async fn list_contracts(
        &self,
        request: Request<pb::ListContractsRequest>,
    ) -> Result<Response<pb::ListContractsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after = cursor(&mut violations, &request.page_token);
        let statuses = violations.enum_values("statuses", &request.statuses, status_from_proto);
        let filter = ContractFilter { account_id: violations.opt_id_text("account_id", &request.account_id), statuses };
        violations.into_result()?;
        let now = time::now();
        let (rows, next) = self.store.list_contracts(&filter, now.date_naive(), after, limit).await?;
        Ok(Response::new(pb::ListContractsResponse {
            contracts: rows.into_iter().map(|r| wire::contract(r, now)).collect(),
            next_page_token: next_token(next),
        }))
    }

    async fn update_contract(
        &self,
        request: Request<pb::UpdateContractRequest>,
    ) -> Result<Response<pb::ServiceContract>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let contract = request.contract.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let target = violations.update_target("contract", &contract.id, &contract.etag, request.update_mask.as_ref());
        let fields = parse_fields(&mut violations, &contract, Some(&target.mask));
        let reason = violations.optional_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        let by = actor(&caller, &reason);
        let updated = self.store.update_contract(target, fields, &by).await?;
        Ok(Response::new(wire::contract(updated, by.at)))
    }

    async fn set_contract_status(
        &self,
        request: Request<pb::SetContractStatusRequest>,
    ) -> Result<Response<pb::ServiceContract>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: ContractId = violations.id("id", &request.id);
        // Refused when missing: the placeholder is never used.
        let status = violations.enum_value("status", request.status, status_from_proto).unwrap_or(ContractStatus::Draft);
        let version = violations.etag("etag", &request.etag, false);
        let reason = violations.optional_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        let by = actor(&caller, &reason);
        let updated = self.store.set_contract_status(id, version, status, &by).await?;
        Ok(Response::new(wire::contract(updated, by.at)))
    }

    async fn list_contract_history(
        &self,
        request: Request<pb::ListContractHistoryRequest>,
    ) -> Result<Response<pb::ListContractHistoryResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.id_text("id", &request.id);
        let page = HistoryPage::parse(&mut violations, request.page_size, &request.page_token);
        violations.into_result()?;
        let history = self.store.contract_history(&id, page).await?;
        Ok(Response::new(pb::ListContractHistoryResponse { entries: history.entries, next_page_token: history.next_page_token }))
    }

    async fn check_entitlement(
        &self,
        request: Request<pb::CheckEntitlementRequest>,
    ) -> Result<Response<pb::CheckEntitlementResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let account_id = violations.id_text("account_id", &request.account_id);
        let contract_id = violations.opt_id_text("contract_id", &request.contract_id);
        let number = contract_number(&mut violations, "contract_number", &request.contract_number);
        let serial = violations.optional_text("asset_serial_number", &request.asset_serial_number, 100);
        let at = match &request.at {
            Some(ts) => time::from_proto(ts).unwrap_or_else(|| {
                violations.add("at", "is not a valid timestamp");
                time::now()
            }),
            None => time::now(),
        };
        let named = match (contract_id, number) {
            (Some(_), Some(_)) => {
                violations.add("contract_number", "send contract_id or contract_number, not both");
                None
            }
            (Some(id), None) => Some(ContractLookup::Id(id)),
            (None, Some(number)) => Some(ContractLookup::Number(number)),
            (None, None) => None,
        };
        violations.into_result()?;
        let answer = match self.store.check_entitlement(&account_id, named, &serial, at.date_naive()).await? {
            Entitlement::Covered(record) => pb::CheckEntitlementResponse {
                covered: true,
                contract: Some(wire::contract(*record, at)),
                reason: String::new(),
                refusal: PbRefusal::Unspecified as i32,
            },
            Entitlement::Refused(refusal) => pb::CheckEntitlementResponse {
                covered: false,
                contract: None,
                reason: refusal.to_string(),
                refusal: refusal_to_proto(&refusal) as i32,
            },
        };
        Ok(Response::new(answer))
    }

    async fn create_sub_contract(
        &self,
        request: Request<pb::CreateSubContractRequest>,
    ) -> Result<Response<pb::SubContract>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let sub = request.sub_contract.clone().unwrap_or_default();
        let mut violations = FieldViolations::new();
        let contract_id = violations.id_text("sub_contract.contract_id", &sub.contract_id);
        let name = violations.required_text("sub_contract.name", &sub.name, 200);
        let balance_kind = match pb::BalanceKind::try_from(sub.balance_kind) {
            Ok(pb::BalanceKind::Money) => "money",
            Ok(pb::BalanceKind::Hours) => "hours",
            _ => {
                violations.add("sub_contract.balance_kind", "must be MONEY or HOURS");
                "money"
            }
        };
        if sub.balance != 0 {
            violations.add("sub_contract.balance", "starts at zero; add credit with CreditSubContract");
        }
        let key = docket_kit::idempotency::from_request(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateSubContractRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let new = NewSubContract { contract_id, name, balance_kind, allow_overdraft: sub.allow_overdraft };
        let created = self.store.create_sub_contract(new, &actor(&caller, ""), key.as_ref()).await?;
        let currency = self.store.sub_contract_currency(&created).await?;
        Ok(Response::new(wire::sub_contract(created, &currency)))
    }

    async fn get_sub_contract(&self, request: Request<pb::GetSubContractRequest>) -> Result<Response<pb::SubContract>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id = violations.id_text("id", &request.get_ref().id);
        violations.into_result()?;
        let found = self.store.get_sub_contract(&id).await?;
        let currency = self.store.sub_contract_currency(&found).await?;
        Ok(Response::new(wire::sub_contract(found, &currency)))
    }

    async fn list_sub_contracts(
        &self,
        request: Request<pb::ListSubContractsRequest>,
    ) -> Result<Response<pb::ListSubContractsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let contract_id = violations.id_text("contract_id", &request.contract_id);
        let limit = page::page_size(&mut violations, request.page_size);
        let after = cursor(&mut violations, &request.page_token);
        violations.into_result()?;
        let contract = self.store.get_contract(&contract_id).await?;
        let (rows, next) = self.store.list_sub_contracts(&contract_id, after, limit).await?;
        Ok(Response::new(pb::ListSubContractsResponse {
            sub_contracts: rows.into_iter().map(|r| wire::sub_contract(r, &contract.contract.currency)).collect(),
            next_page_token: next_token(next),
        }))
    }

    async fn credit_sub_contract(
        &self,
        request: Request<pb::CreditSubContractRequest>,
    ) -> Result<Response<pb::LedgerEntry>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.id_text("sub_contract_id", &request.sub_contract_id);
        if request.amount <= 0 {
            violations.add("amount", "must be positive (minor units of money, or minutes)");
        }
        let description = violations.optional_text("description", &request.description, REASON_MAX);
        let key = docket_kit::idempotency::from_request(
            &mut violations,
            &request.idempotency_key,
            &pb::CreditSubContractRequest { idempotency_key: String::new(), ..request.clone() },
        );
        if !violations.is_empty() {
            return Err(invalid_argument(&violations));
        }
        let entry = self.store.credit_sub_contract(&id, request.amount, &description, &actor(&caller, ""), key.as_ref()).await?;
        Ok(Response::new(wire::ledger_entry(entry)))
    }

    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.id_text("sub_contract_id", &request.sub_contract_id);
        let limit = page::page_size(&mut violations, request.page_size);
        let after = cursor(&mut violations, &request.page_token);
        violations.into_result()?;
        self.store.get_sub_contract(&id).await?;
        let (rows, next) = self.store.list_ledger_entries(&id, after, limit).await?;
        Ok(Response::new(pb::ListLedgerEntriesResponse {
            entries: rows.into_iter().map(wire::ledger_entry).collect(),
            next_page_token: next_token(next),
        }))
    }
}
