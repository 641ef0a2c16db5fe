//! The records the billing service keeps: its sea-orm entities, and the
//! records that span several tables (a contract with its covered assets, an
//! invoice with its lines, a staff user's timesheet with its hours). The
//! store writes them, the wire module shows them, the events carry them.

pub mod entities;

use chrono::NaiveDate;
use docket_kit::{audit::Changes, mutation::Record};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder};

use self::entities::{
    booked_hours, covered_asset, invoice, invoice_line, service_contract, service_part, sla_policy, sub_contract, timesheet,
};
use crate::domain::{
    contract::{ContractStatus, Terms},
    timesheet::{Period, SheetStatus},
};

docket_kit::versioned_record!(
    service_contract,
    "contract",
    name = |m| m.contract_number.clone(),
    taken = |m| ("contract.contract_number".to_owned(), format!("a contract numbered {} already exists", m.contract_number)),
);
docket_kit::versioned_record!(
    sla_policy,
    "sla_policy",
    name = |m| m.name.clone(),
    taken = |m| ("policy.name".to_owned(), format!("an SLA policy named {} already exists", m.name)),
);
// Billed work is locked: an edit racing the billing finds it billed.
docket_kit::versioned_record!(
    booked_hours,
    "booked_hours",
    guard = sea_orm::Condition::all()
        .add(booked_hours::Column::InvoiceId.is_null())
        .add(booked_hours::Column::LedgerEntryId.is_null()),
);
docket_kit::versioned_record!(
    service_part,
    "service_part",
    guard = sea_orm::Condition::all()
        .add(service_part::Column::InvoiceId.is_null())
        .add(service_part::Column::LedgerEntryId.is_null()),
);
docket_kit::versioned_record!(sub_contract, "sub_contract");
docket_kit::versioned_record!(timesheet, "timesheet"; untimed);
docket_kit::versioned_record!(invoice, "invoice"; untimed);

/// A contract with its covered assets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRecord {
    pub contract: service_contract::Model,
    pub assets: Vec<covered_asset::Model>,
}

impl ContractRecord {
    pub fn start_date(&self) -> NaiveDate {
        parse_date(&self.contract.start_date)
    }

    pub fn end_date(&self) -> NaiveDate {
        parse_date(&self.contract.end_date)
    }

    /// The status on `today` (an active contract past its end is expired).
    pub fn status_on(&self, today: NaiveDate) -> ContractStatus {
        ContractStatus::from_key(&self.contract.status).unwrap_or(ContractStatus::Draft).effective(self.end_date(), today)
    }

    pub fn terms(&self) -> Terms {
        Terms {
            number: self.contract.contract_number.clone(),
            account_id: self.contract.account_id.clone(),
            status: ContractStatus::from_key(&self.contract.status).unwrap_or(ContractStatus::Draft),
            start_date: self.start_date(),
            end_date: self.end_date(),
            asset_keys: self.assets.iter().map(|a| a.serial_key.clone()).collect(),
        }
    }
}

/// Stored dates were validated when written.
fn parse_date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
}

pub fn format_contract_number(n: i64) -> String {
    format!("SC-{n:06}")
}

impl Record for ContractRecord {
    const KIND: &'static str = "contract";

    fn id(&self) -> &str {
        &self.contract.id
    }

    fn version(&self) -> i64 {
        self.contract.version
    }

    fn noun() -> String {
        "service contract".to_owned()
    }

    fn name(&self) -> String {
        self.contract.contract_number.clone()
    }

    fn stamp(&mut self, version: i64, at: chrono::DateTime<chrono::Utc>) {
        self.contract.stamp(version, at);
    }

    fn already_exists(&self) -> (String, String) {
        self.contract.already_exists()
    }

    async fn load<C: ConnectionTrait + Sync>(db: &C, id: &str) -> Result<Option<Self>, DbErr> {
        let Some(contract) = service_contract::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
        let assets = load_assets(db, std::slice::from_ref(&contract.id)).await?;
        Ok(Some(ContractRecord { contract, assets }))
    }

    async fn insert(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        self.contract.insert(txn).await?;
        write_assets(txn, &self.contract.id, &self.assets).await
    }

    async fn update(&self, txn: &DatabaseTransaction, expected: i64, changes: &Changes) -> Result<bool, DbErr> {
        if !self.contract.update(txn, expected, changes).await? {
            return Ok(false);
        }
        if changes.touches("covered_assets") {
            write_assets(txn, &self.contract.id, &self.assets).await?;
        }
        Ok(true)
    }
}

/// The covered assets of contracts, in their order.
pub async fn load_assets(db: &impl ConnectionTrait, contract_ids: &[String]) -> Result<Vec<covered_asset::Model>, DbErr> {
    if contract_ids.is_empty() {
        return Ok(Vec::new());
    }
    covered_asset::Entity::find()
        .filter(covered_asset::Column::ContractId.is_in(contract_ids.iter().cloned()))
        .order_by_asc(covered_asset::Column::ContractId)
        .order_by_asc(covered_asset::Column::Position)
        .all(db)
        .await
}

/// Replaces a contract's covered assets with `assets`.
async fn write_assets(txn: &DatabaseTransaction, contract_id: &str, assets: &[covered_asset::Model]) -> Result<(), DbErr> {
    use sea_orm::IntoActiveModel;
    covered_asset::Entity::delete_many().filter(covered_asset::Column::ContractId.eq(contract_id)).exec(txn).await?;
    if assets.is_empty() {
        return Ok(());
    }
    let rows = assets.iter().cloned().map(|asset| asset.into_active_model());
    covered_asset::Entity::insert_many(rows).exec(txn).await?;
    Ok(())
}

/// An invoice with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub invoice: invoice::Model,
    pub lines: Vec<invoice_line::Model>,
}

/// One staff user's period with the hours booked in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// `None` until first submitted.
    pub row: Option<timesheet::Model>,
    pub staff_id: String,
    pub period: Period,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub hours: Vec<booked_hours::Model>,
}

impl Sheet {
    pub fn status(&self) -> SheetStatus {
        self.row.as_ref().and_then(|r| SheetStatus::from_key(&r.status)).unwrap_or(SheetStatus::Open)
    }
}
