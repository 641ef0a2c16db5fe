//! Service contracts, their covered assets, prepaid sub-contracts and the
//! ledger of every credit and debit.

use chrono::NaiveDate;
use docket_kit::{
    audit::{Actor, Changes, HistoryPage},
    idempotency::Idempotency,
    mask_fields,
    mutation::{Edit, Once, Tx},
    request::{FieldMask, UpdateTarget},
};
use docket_proto::case::v1::ListHistoryResponse;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::{IdCursor, Store, new_id};
use crate::{
    domain::contract::{self, ContractStatus, Refusal, Terms, serial_key},
    error::{Error, Result},
    events,
    records::{
        ContractRecord,
        entities::{covered_asset, ledger_entry, service_contract, sla_policy, sub_contract},
        format_contract_number, load_assets,
    },
};
use docket_kit::page;

mask_fields!(
    /// What UpdateContract may change.
    pub enum ContractField {
        Name,
        ContractType,
        StartDate,
        EndDate,
        SlaPolicyId,
        CoveredAssets,
        Rates,
        Description,
    }
);

/// What UpdateContract names: the contract, its etag, the fields.
pub type ContractUpdate = UpdateTarget<ContractId, ContractField>;

docket_kit::record_ids!(ContractId);

/// Validated contract fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFields {
    /// Create only: the creator's own number, or `None` for the next SC-nnnnnn.
    pub contract_number: Option<String>,
    pub account_id: String,
    pub name: String,
    pub contract_type: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub sla_policy_id: Option<String>,
    /// (description, serial number)
    pub covered_assets: Vec<(String, String)>,
    pub currency: String,
    pub hourly_rate_minor: i64,
    pub tax_rate_bp: i32,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct ContractFilter {
    pub account_id: Option<String>,
    pub statuses: Vec<ContractStatus>,
}

/// A new prepaid sub-contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubContract {
    pub contract_id: String,
    pub name: String,
    /// "money" or "hours".
    pub balance_kind: &'static str,
    pub allow_overdraft: bool,
}

/// The outcome of an entitlement check.
#[derive(Debug, Clone)]
pub enum Entitlement {
    Covered(Box<ContractRecord>),
    Refused(Refusal),
}

fn rates_text(model: &service_contract::Model) -> String {
    format!("{} {}/h, tax {} bp", model.currency, model.hourly_rate_minor, model.tax_rate_bp)
}

fn assets_text(assets: &[(String, String)]) -> String {
    assets.iter().map(|(d, s)| format!("{d} [{s}]")).collect::<Vec<_>>().join("; ")
}

/// Copies masked fields onto the record, recording each change.
fn apply(record: &mut ContractRecord, fields: &ContractFields, mask: &FieldMask<ContractField>, changes: &mut Changes) {
    let model = &mut record.contract;
    for field in mask.iter() {
        match field {
            ContractField::Name => changes.assign("name", &mut model.name, &fields.name),
            ContractField::ContractType => changes.assign("contract_type", &mut model.contract_type, &fields.contract_type),
            ContractField::StartDate => {
                let value = fields.start_date.to_string();
                changes.diff("start_date", &model.start_date, &value);
                model.start_date = value;
            }
            ContractField::EndDate => {
                let value = fields.end_date.to_string();
                changes.diff("end_date", &model.end_date, &value);
                model.end_date = value;
            }
            ContractField::SlaPolicyId => {
                changes.diff(
                    "sla_policy_id",
                    model.sla_policy_id.as_deref().unwrap_or(""),
                    fields.sla_policy_id.as_deref().unwrap_or(""),
                );
                model.sla_policy_id.clone_from(&fields.sla_policy_id);
            }
            ContractField::CoveredAssets => {
                let before: Vec<(String, String)> =
                    record.assets.iter().map(|a| (a.description.clone(), a.serial_number.clone())).collect();
                changes.diff("covered_assets", assets_text(&before), assets_text(&fields.covered_assets));
                record.assets = fields
                    .covered_assets
                    .iter()
                    .enumerate()
                    .map(|(i, (description, serial))| covered_asset::Model {
                        contract_id: model.id.clone(),
                        position: i32::try_from(i).unwrap_or(i32::MAX),
                        description: description.clone(),
                        serial_number: serial.clone(),
                        serial_key: serial_key(serial),
                    })
                    .collect();
            }
            ContractField::Rates => {
                let before = rates_text(model);
                model.currency.clone_from(&fields.currency);
                model.hourly_rate_minor = fields.hourly_rate_minor;
                model.tax_rate_bp = fields.tax_rate_bp;
                changes.diff("rates", before, rates_text(model));
            }
            ContractField::Description => changes.assign("description", &mut model.description, &fields.description),
        }
    }
}

async fn check_policy(txn: &impl ConnectionTrait, policy_id: Option<&str>) -> Result<()> {
    if let Some(id) = policy_id
        && sla_policy::Entity::find_by_id(id.to_owned()).one(txn).await?.is_none()
    {
        return Err(Error::field("contract.sla_policy_id", format!("no SLA policy {id} exists")));
    }
    Ok(())
}

fn check_dates(start: &str, end: &str) -> Result<()> {
    if end < start {
        return Err(Error::field("contract.end_date", format!("ends ({end}) before it starts ({start})")));
    }
    Ok(())
}

async fn with_assets(db: &impl ConnectionTrait, contracts: Vec<service_contract::Model>) -> Result<Vec<ContractRecord>> {
    let ids: Vec<String> = contracts.iter().map(|c| c.id.clone()).collect();
    let mut assets = load_assets(db, &ids).await?;
    Ok(contracts
        .into_iter()
        .map(|contract| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                std::mem::take(&mut assets).into_iter().partition(|a| a.contract_id == contract.id);
            assets = rest;
            ContractRecord { contract, assets: mine }
        })
        .collect())
}

pub(crate) async fn find_contract(db: &impl ConnectionTrait, id: &str) -> Result<Option<ContractRecord>> {
    use docket_kit::mutation::Record;
    Ok(ContractRecord::load(db, id).await?)
}

impl Store {
    pub async fn create_contract(
        &self,
        fields: ContractFields,
        activate: bool,
        by: &Actor<'_>,
        once: Once<'_>,
    ) -> Result<ContractRecord> {
        self.mutations
            .create(by, once, async |tx| {
                check_policy(&*tx, fields.sla_policy_id.as_deref()).await?;
                let start = fields.start_date.to_string();
                let end = fields.end_date.to_string();
                check_dates(&start, &end)?;
                let status = if activate { ContractStatus::Active } else { ContractStatus::Draft };
                if activate && fields.end_date < by.at.date_naive() {
                    return Err(Error::field(
                        "contract.end_date",
                        format!("an active contract cannot have ended already ({end})"),
                    ));
                }
                let number = match &fields.contract_number {
                    Some(number) => number.clone(),
                    None => format_contract_number(docket_kit::counter::next(&*tx, "contract_number").await?),
                };
                let mut record = ContractRecord {
                    contract: service_contract::Model {
                        id: new_id(),
                        contract_number: number.clone(),
                        account_id: fields.account_id.clone(),
                        name: String::new(),
                        contract_type: String::new(),
                        status: status.key().to_owned(),
                        start_date: start,
                        end_date: end,
                        sla_policy_id: None,
                        currency: String::new(),
                        hourly_rate_minor: 0,
                        tax_rate_bp: 0,
                        description: String::new(),
                        version: 1,
                        created_at: by.at,
                        updated_at: by.at,
                    },
                    assets: Vec::new(),
                };
                let mut changes = Changes::new();
                changes.set("created", "", &number);
                changes.set("account_id", "", &fields.account_id);
                changes.set("status", "", status.key());
                apply(&mut record, &fields, &FieldMask::all(), &mut changes);
                let events = vec![events::contract_changed("contract.created", &record, &changes, by.reason, by.at)];
                Ok((record, changes, events))
            })
            .await
    }

    pub async fn get_contract(&self, id: &str) -> Result<ContractRecord> {
        find_contract(&self.db, id).await?.ok_or_else(|| Error::not_found("service contract", id))
    }

    pub async fn get_contract_by_number(&self, number: &str) -> Result<ContractRecord> {
        let contract = service_contract::Entity::find()
            .filter(service_contract::Column::ContractNumber.eq(number))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service contract {number} not found")))?;
        let assets = load_assets(&self.db, std::slice::from_ref(&contract.id)).await?;
        Ok(ContractRecord { contract, assets })
    }

    /// Contracts by number order (ids are v7, so id order is creation order).
    pub async fn list_contracts(
        &self,
        filter: &ContractFilter,
        today: NaiveDate,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<ContractRecord>, Option<IdCursor>)> {
        let mut query = service_contract::Entity::find();
        if let Some(account) = &filter.account_id {
            query = query.filter(service_contract::Column::AccountId.eq(account));
        }
        if !filter.statuses.is_empty() {
            let today = today.to_string();
            let mut any = Condition::any();
            for status in &filter.statuses {
                any = any.add(match status {
                    // Active means: stored active, not past its end.
                    ContractStatus::Active => Condition::all()
                        .add(service_contract::Column::Status.eq("active"))
                        .add(service_contract::Column::EndDate.gte(today.clone())),
                    ContractStatus::Expired => Condition::any().add(service_contract::Column::Status.eq("expired")).add(
                        Condition::all()
                            .add(service_contract::Column::Status.eq("active"))
                            .add(service_contract::Column::EndDate.lt(today.clone())),
                    ),
                    other => Condition::all().add(service_contract::Column::Status.eq(other.key())),
                });
            }
            query = query.filter(any);
        }
        let (rows, next) = page::by_id(&self.db, query, service_contract::Column::Id, after, limit, |row| &row.id).await?;
        Ok((with_assets(&self.db, rows).await?, next))
    }

    pub async fn update_contract(
        &self,
        target: ContractUpdate,
        fields: ContractFields,
        by: &Actor<'_>,
    ) -> Result<ContractRecord> {
        let (fields, mask) = (&fields, &target.mask);
        let updated = self
            .mutations
            .update(
                by,
                &target.id.to_string(),
                Some(target.etag),
                |tx, current: ContractRecord| async move {
                    if mask.contains(ContractField::SlaPolicyId) {
                        check_policy(&*tx, fields.sla_policy_id.as_deref()).await?;
                    }
                    let mut after = current.clone();
                    let mut changes = Changes::new();
                    apply(&mut after, fields, mask, &mut changes);
                    check_dates(&after.contract.start_date, &after.contract.end_date)?;
                    if changes.touches("sla_policy_id") {
                        crate::clocks::contract_changed(&*tx, &current.contract.id, by.at).await?;
                    }
                    Ok(Edit { after, changes })
                },
                |_, after, trail| vec![events::contract_changed("contract.updated", after, trail, by.reason, by.at)],
            )
            .await?;
        // The assets as stored, in their order.
        self.get_contract(&updated.contract.id).await
    }

    pub async fn set_contract_status(
        &self,
        id: ContractId,
        etag: Option<i64>,
        to: ContractStatus,
        by: &Actor<'_>,
    ) -> Result<ContractRecord> {
        self.mutations
            .update(
                by,
                &id.to_string(),
                etag,
                |_tx, current: ContractRecord| {
                    let today = by.at.date_naive();
                    let from = current.status_on(today);
                    let edit = contract::check_move(from, to)
                        .map_err(|refused| Error::Precondition(refused.to_string()))
                        .and_then(|()| {
                            if to == ContractStatus::Active && current.end_date() < today {
                                return Err(Error::Precondition(format!(
                                    "contract {} ended on {}; change its end date before activating it",
                                    current.contract.contract_number, current.contract.end_date
                                )));
                            }
                            let mut after = current.clone();
                            after.contract.status = to.key().to_owned();
                            let mut changes = Changes::new();
                            changes.set("status", from.key(), to.key());
                            Ok(Edit { after, changes })
                        });
                    async move { edit }
                },
                |_, after, trail| vec![events::contract_changed("contract.status_changed", after, trail, by.reason, by.at)],
            )
            .await
    }

    /// The trail of a contract and of its sub-contracts' own rows.
    pub async fn contract_history(&self, id: &str, page: HistoryPage) -> Result<ListHistoryResponse> {
        Ok(docket_kit::audit::history(&self.db, &["contract", "sub_contract"], id, page).await?)
    }

    /// Whether a case of `account_id` (asset `serial`) on `day` is covered:
    /// by the named contract, or else by the one that fits best.
    pub async fn check_entitlement(
        &self,
        account_id: &str,
        named: Option<ContractLookup>,
        serial: &str,
        day: NaiveDate,
    ) -> Result<Entitlement> {
        if let Some(lookup) = named {
            let found = match &lookup {
                ContractLookup::Id(id) => find_contract(&self.db, id).await?,
                ContractLookup::Number(number) => match self.get_contract_by_number(number).await {
                    Ok(record) => Some(record),
                    Err(Error::NotFound(_)) => None,
                    Err(err) => return Err(err),
                },
            };
            let Some(record) = found else {
                let name = match lookup {
                    ContractLookup::Id(id) | ContractLookup::Number(id) => id,
                };
                return Ok(Entitlement::Refused(Refusal::NotFound(name)));
            };
            return Ok(match contract::covers(&record.terms(), account_id, serial, day) {
                Ok(()) => Entitlement::Covered(Box::new(record)),
                Err(refusal) => Entitlement::Refused(refusal),
            });
        }
        let candidates = service_contract::Entity::find()
            .filter(service_contract::Column::AccountId.eq(account_id))
            .filter(service_contract::Column::Status.eq(ContractStatus::Active.key()))
            .all(&self.db)
            .await?;
        let records = with_assets(&self.db, candidates).await?;
        let terms: Vec<Terms> = records.iter().map(ContractRecord::terms).collect();
        Ok(match contract::find_cover(&terms, account_id, serial, day) {
            Some(found) => {
                let record = records.iter().find(|r| r.contract.contract_number == found.number).cloned();
                record.map_or(Entitlement::Refused(Refusal::NoContract), |r| Entitlement::Covered(Box::new(r)))
            }
            None => Entitlement::Refused(Refusal::NoContract),
        })
    }

    pub async fn create_sub_contract(
        &self,
        new: NewSubContract,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<sub_contract::Model> {
        self.mutations
            .run_once(
                by,
                Once { scope: "CreateSubContract", key },
                async |tx| {
                    let Some(contract) = find_contract(&*tx, &new.contract_id).await? else {
                        return Err(Error::field(
                            "sub_contract.contract_id",
                            format!("no service contract {} exists", new.contract_id),
                        ));
                    };
                    if matches!(ContractStatus::from_key(&contract.contract.status), Some(ContractStatus::Cancelled)) {
                        return Err(Error::Precondition(format!("contract {} is cancelled", contract.contract.contract_number)));
                    }
                    let model = sub_contract::Model {
                        id: new_id(),
                        contract_id: new.contract_id.clone(),
                        name: new.name.clone(),
                        balance_kind: new.balance_kind.to_owned(),
                        balance: 0,
                        allow_overdraft: new.allow_overdraft,
                        version: 1,
                        created_at: by.at,
                        updated_at: by.at,
                    };
                    model.clone().into_active_model().reset_all().insert(&*tx).await?;
                    let mut changes = Changes::new();
                    changes.set(
                        "sub_contract",
                        "",
                        format!("{} ({}, overdraft {})", model.name, model.balance_kind, model.allow_overdraft),
                    );
                    // The sub-contract's creation is part of its contract's trail.
                    tx.record(
                        "sub_contract",
                        &model.contract_id,
                        &changes,
                        [events::sub_contract_changed("subcontract.created", &model, &contract.contract.currency, None)],
                    )
                    .await?;
                    Ok(model)
                },
                |model| &model.id,
                |id| async move { self.get_sub_contract(&id).await },
            )
            .await
    }

    pub async fn get_sub_contract(&self, id: &str) -> Result<sub_contract::Model> {
        sub_contract::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("sub-contract {id} not found")))
    }

    /// The sub-contract with the currency of its contract.
    pub async fn sub_contract_currency(&self, model: &sub_contract::Model) -> Result<String> {
        Ok(service_contract::Entity::find_by_id(model.contract_id.clone())
            .one(&self.db)
            .await?
            .map(|c| c.currency)
            .unwrap_or_default())
    }

    pub async fn list_sub_contracts(
        &self,
        contract_id: &str,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<sub_contract::Model>, Option<IdCursor>)> {
        let query = sub_contract::Entity::find().filter(sub_contract::Column::ContractId.eq(contract_id));
        let (rows, next) = page::by_id(&self.db, query, sub_contract::Column::Id, after, limit, |row| &row.id).await?;
        Ok((rows, next))
    }

    pub async fn credit_sub_contract(
        &self,
        id: &str,
        amount: i64,
        description: &str,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<ledger_entry::Model> {
        self.mutations
            .run_once(
                by,
                Once { scope: "CreditSubContract", key },
                async |tx| {
                    post(&tx, id, amount, "credit", None, description)
                        .await?
                        .ok_or_else(|| Error::Precondition("the credit would take the balance beyond what can be stored".into()))
                },
                |entry| &entry.id,
                |entry| async move {
                    ledger_entry::Entity::find_by_id(entry)
                        .one(&self.db)
                        .await?
                        .ok_or_else(|| Error::NotFound("the ledger entry of this key is gone".into()))
                },
            )
            .await
    }

    pub async fn list_ledger_entries(
        &self,
        sub_contract_id: &str,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<ledger_entry::Model>, Option<IdCursor>)> {
        let query = ledger_entry::Entity::find().filter(ledger_entry::Column::SubContractId.eq(sub_contract_id));
        let (rows, next) = page::by_id(&self.db, query, ledger_entry::Column::Id, after, limit, |row| &row.id).await?;
        Ok((rows, next))
    }
}

/// A contract named by id or by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractLookup {
    Id(String),
    Number(String),
}

/// Posts `amount` (positive credit, negative debit) to a sub-contract's
/// balance in one conditional UPDATE, so concurrent debits can never take
/// it below zero unless overdraft is allowed, and writes the ledger entry.
/// `Ok(None)` when the balance does not cover a debit.
pub(crate) async fn post(
    tx: &Tx,
    sub_contract_id: &str,
    amount: i64,
    kind: &str,
    case_id: Option<&str>,
    description: &str,
) -> Result<Option<ledger_entry::Model>> {
    let (txn, by): (&DatabaseTransaction, _) = (tx, tx.by());
    let Some(current) = sub_contract::Entity::find_by_id(sub_contract_id.to_owned()).one(txn).await? else {
        return Err(Error::NotFound(format!("sub-contract {sub_contract_id} not found")));
    };
    // The balance column is checked and moved in the same statement.
    let mut update = sub_contract::Entity::update_many()
        .col_expr(sub_contract::Column::Balance, Expr::col(sub_contract::Column::Balance).add(amount))
        .col_expr(sub_contract::Column::Version, Expr::col(sub_contract::Column::Version).add(1))
        .col_expr(sub_contract::Column::UpdatedAt, Expr::value(by.at))
        .filter(sub_contract::Column::Id.eq(sub_contract_id));
    if amount < 0 {
        update = update.filter(
            Condition::any()
                .add(sub_contract::Column::AllowOverdraft.eq(true))
                .add(sub_contract::Column::Balance.gte(amount.checked_neg().unwrap_or(i64::MAX))),
        );
    } else {
        update = update.filter(sub_contract::Column::Balance.lte(i64::MAX - amount));
    }
    let updated = update.exec_with_returning(txn).await?;
    let Some(after) = updated.into_iter().next() else { return Ok(None) };
    let entry = ledger_entry::Model {
        id: new_id(),
        sub_contract_id: sub_contract_id.to_owned(),
        kind: kind.to_owned(),
        amount,
        balance_after: after.balance,
        case_id: case_id.map(str::to_owned),
        description: description.to_owned(),
        actor: by.actor.to_owned(),
        created_at: by.at,
    };
    entry.clone().into_active_model().reset_all().insert(txn).await?;
    let contract = find_contract(txn, &current.contract_id).await?;
    if let Some(contract) = contract {
        let event = if amount < 0 { "subcontract.debited" } else { "subcontract.credited" };
        tx.emit([events::sub_contract_changed(event, &after, &contract.contract.currency, Some(&entry))]).await?;
    }
    Ok(Some(entry))
}
