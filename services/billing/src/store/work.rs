//! Booked hours and service parts. Once invoiced or debited they are
//! locked; hours are also frozen while their week's or month's timesheet is
//! submitted or approved.

use chrono::NaiveDate;
use docket_kit::{
    audit::{Actor, Changes},
    mask_fields,
    mutation::{self, Edit, Once, Record},
    request::UpdateTarget,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{IdCursor, Store, new_id};
use crate::{
    domain::timesheet::SheetStatus,
    error::{Error, Result},
    events,
    records::entities::{booked_hours, service_part, timesheet},
};
use docket_kit::page;

docket_kit::record_ids!(HoursId, PartId);

mask_fields!(
    /// What UpdateHours may change.
    pub enum HoursField {
        WorkDate,
        Minutes,
        Billable,
        Rate,
        Description,
    }
);

mask_fields!(
    /// What UpdateServicePart may change.
    pub enum PartField {
        PartNumber,
        Description,
        QuantityMilli,
        UnitPrice,
        Billable,
    }
);

pub type HoursUpdate = UpdateTarget<HoursId, HoursField>;
pub type PartUpdate = UpdateTarget<PartId, PartField>;

/// Validated booked hours. The rate is the one that applies: given, or
/// the case's contract's, or the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursFields {
    pub staff_id: String,
    pub case_id: Option<String>,
    pub project_code: Option<String>,
    pub work_date: NaiveDate,
    pub minutes: i32,
    pub billable: bool,
    pub rate_minor: i64,
    pub currency: String,
    pub description: String,
}

/// Validated service part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFields {
    pub case_id: String,
    pub part_number: String,
    pub description: String,
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub currency: String,
    pub billable: bool,
}

#[derive(Debug, Clone, Default)]
pub struct HoursFilter {
    pub case_id: Option<String>,
    pub staff_id: Option<String>,
    pub project_code: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn billed(invoice: &Option<String>, ledger: &Option<String>) -> bool {
    invoice.is_some() || ledger.is_some()
}

/// Refuses a change to hours on a day whose timesheet is submitted or approved.
async fn check_open_day(db: &impl ConnectionTrait, staff_id: &str, day: NaiveDate) -> Result<()> {
    let day = day.to_string();
    let frozen = timesheet::Entity::find()
        .filter(timesheet::Column::StaffId.eq(staff_id))
        .filter(timesheet::Column::PeriodStart.lte(day.clone()))
        .filter(timesheet::Column::PeriodEnd.gte(day.clone()))
        .all(db)
        .await?
        .into_iter()
        .find(|sheet| SheetStatus::from_key(&sheet.status).is_some_and(SheetStatus::locks_hours));
    match frozen {
        Some(sheet) => Err(Error::Precondition(format!(
            "the {} timesheet from {} is {}: hours of {day} cannot change",
            sheet.period, sheet.period_start, sheet.status
        ))),
        None => Ok(()),
    }
}

/// Billed work is locked: it can no longer change or go.
fn check_unbilled(what: &str, id: &str, invoice: &Option<String>, ledger: &Option<String>, verb: &str) -> Result<()> {
    if billed(invoice, ledger) {
        return Err(Error::Precondition(format!("{what} {id} {verb}")));
    }
    Ok(())
}

/// Deletes unbilled work and trails it; `Stale` if it changed since it was read.
async fn delete_work<R: Record>(
    store: &Store,
    id: &str,
    etag: Option<i64>,
    by: &Actor<'_>,
    check: impl AsyncFnOnce(&sea_orm::DatabaseTransaction, &R) -> Result<String>,
    delete: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<u64, sea_orm::DbErr>,
    event: impl FnOnce(&R) -> docket_kit::mutation::Event,
) -> Result<()> {
    store
        .mutations
        .run(by, async |tx| {
            let current = R::load(&*tx, id).await?.ok_or_else(|| Error::not_found(&R::noun(), id))?;
            if let Some(etag) = etag
                && current.version() != etag
            {
                return Err(Error::stale(&R::noun(), id, etag, current.version()));
            }
            let gone = check(&tx, &current).await?;
            if delete(&tx).await? != 1 {
                return Err(Error::Stale(format!("{} {id} was billed meanwhile", R::noun())));
            }
            let mut changes = Changes::new();
            changes.set("deleted", gone, "");
            tx.record(R::KIND, id, &changes, [event(&current)]).await?;
            Ok(())
        })
        .await
}

fn hours_text(model: &booked_hours::Model) -> String {
    format!("{} min on {} at {} {}/h", model.minutes, model.work_date, model.rate_minor, model.currency)
}

impl Store {
    pub async fn book_hours(&self, fields: HoursFields, by: &Actor<'_>, once: Once<'_>) -> Result<booked_hours::Model> {
        self.mutations
            .create(by, once, async |tx| {
                check_open_day(&*tx, &fields.staff_id, fields.work_date).await?;
                let model = booked_hours::Model {
                    id: new_id(),
                    staff_id: fields.staff_id.clone(),
                    case_id: fields.case_id.clone(),
                    project_code: fields.project_code.clone(),
                    work_date: fields.work_date.to_string(),
                    minutes: fields.minutes,
                    billable: fields.billable,
                    rate_minor: fields.rate_minor,
                    currency: fields.currency.clone(),
                    description: fields.description.clone(),
                    invoice_id: None,
                    ledger_entry_id: None,
                    version: 1,
                    created_at: by.at,
                    updated_at: by.at,
                };
                let mut changes = Changes::new();
                changes.set("booked", "", hours_text(&model));
                changes.set("staff_id", "", &model.staff_id);
                changes.set("billable", "", model.billable);
                let events = vec![events::hours_changed("hours.booked", &model)];
                Ok((model, changes, events))
            })
            .await
    }

    pub async fn get_hours(&self, id: &str) -> Result<booked_hours::Model> {
        mutation::find(&self.db, id).await
    }

    /// Booked hours by date, then id.
    pub async fn list_hours(
        &self,
        filter: &HoursFilter,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<booked_hours::Model>, Option<IdCursor>)> {
        let mut query = booked_hours::Entity::find();
        if let Some(case) = &filter.case_id {
            query = query.filter(booked_hours::Column::CaseId.eq(case));
        }
        if let Some(staff) = &filter.staff_id {
            query = query.filter(booked_hours::Column::StaffId.eq(staff));
        }
        if let Some(project) = &filter.project_code {
            query = query.filter(booked_hours::Column::ProjectCode.eq(project));
        }
        if let Some(from) = filter.from {
            query = query.filter(booked_hours::Column::WorkDate.gte(from.to_string()));
        }
        if let Some(to) = filter.to {
            query = query.filter(booked_hours::Column::WorkDate.lte(to.to_string()));
        }
        let (rows, next) = page::by_id(&self.db, query, booked_hours::Column::Id, after, limit, |row| &row.id).await?;
        Ok((rows, next))
    }

    pub async fn update_hours(&self, target: HoursUpdate, fields: HoursFields, by: &Actor<'_>) -> Result<booked_hours::Model> {
        let (fields, mask) = (&fields, &target.mask);
        self.mutations
            .update(
                by,
                &target.id.to_string(),
                Some(target.etag),
                |tx, current: booked_hours::Model| async move {
                    check_unbilled(
                        "booked hours",
                        &current.id,
                        &current.invoice_id,
                        &current.ledger_entry_id,
                        "are billed and can no longer change",
                    )?;
                    let current_day = NaiveDate::parse_from_str(&current.work_date, "%Y-%m-%d").unwrap_or(fields.work_date);
                    check_open_day(&*tx, &current.staff_id, current_day).await?;
                    let mut next = current.clone();
                    let mut changes = Changes::new();
                    for field in mask.iter() {
                        match field {
                            HoursField::WorkDate => {
                                check_open_day(&*tx, &current.staff_id, fields.work_date).await?;
                                changes.diff("work_date", &next.work_date, fields.work_date);
                                next.work_date = fields.work_date.to_string();
                            }
                            HoursField::Minutes => changes.assign("minutes", &mut next.minutes, &fields.minutes),
                            HoursField::Billable => {
                                if fields.billable && next.project_code.is_some() {
                                    return Err(Error::field("hours.billable", "hours on an internal project are not billed"));
                                }
                                changes.diff("billable", next.billable, fields.billable);
                                next.billable = fields.billable;
                            }
                            HoursField::Rate => {
                                changes.diff(
                                    "rate",
                                    format!("{} {}", next.rate_minor, next.currency),
                                    format!("{} {}", fields.rate_minor, fields.currency),
                                );
                                next.rate_minor = fields.rate_minor;
                                next.currency.clone_from(&fields.currency);
                            }
                            HoursField::Description => changes.assign("description", &mut next.description, &fields.description),
                        }
                    }
                    Ok(Edit { after: next, changes })
                },
                |_, after, _| vec![events::hours_changed("hours.updated", after)],
            )
            .await
    }

    pub async fn delete_hours(&self, id: &str, etag: Option<i64>, by: &Actor<'_>) -> Result<()> {
        delete_work(
            self,
            id,
            etag,
            by,
            async |txn, current: &booked_hours::Model| {
                check_unbilled(
                    "booked hours",
                    id,
                    &current.invoice_id,
                    &current.ledger_entry_id,
                    "are billed and cannot be deleted",
                )?;
                let day = NaiveDate::parse_from_str(&current.work_date, "%Y-%m-%d").unwrap_or_default();
                check_open_day(txn, &current.staff_id, day).await?;
                Ok(hours_text(current))
            },
            async |txn| {
                let deleted = booked_hours::Entity::delete_many()
                    .filter(booked_hours::Column::Id.eq(id))
                    .filter(booked_hours::Column::InvoiceId.is_null())
                    .filter(booked_hours::Column::LedgerEntryId.is_null())
                    .exec(txn)
                    .await?;
                Ok(deleted.rows_affected)
            },
            |current| events::hours_changed("hours.deleted", current),
        )
        .await
    }

    pub async fn add_part(&self, fields: PartFields, by: &Actor<'_>, once: Once<'_>) -> Result<service_part::Model> {
        self.mutations
            .create(by, once, async |_tx| {
                let model = service_part::Model {
                    id: new_id(),
                    case_id: fields.case_id.clone(),
                    part_number: fields.part_number.clone(),
                    description: fields.description.clone(),
                    quantity_milli: fields.quantity_milli,
                    unit_price_minor: fields.unit_price_minor,
                    currency: fields.currency.clone(),
                    billable: fields.billable,
                    invoice_id: None,
                    ledger_entry_id: None,
                    version: 1,
                    created_at: by.at,
                    updated_at: by.at,
                };
                let mut changes = Changes::new();
                changes.set(
                    "added",
                    "",
                    format!("{} x{} at {} {}", model.part_number, model.quantity_milli, model.unit_price_minor, model.currency),
                );
                let events = vec![events::part_changed("part.added", &model)];
                Ok((model, changes, events))
            })
            .await
    }

    pub async fn get_part(&self, id: &str) -> Result<service_part::Model> {
        mutation::find(&self.db, id).await
    }

    pub async fn list_parts(
        &self,
        case_id: &str,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<service_part::Model>, Option<IdCursor>)> {
        let query = service_part::Entity::find().filter(service_part::Column::CaseId.eq(case_id));
        let (rows, next) = page::by_id(&self.db, query, service_part::Column::Id, after, limit, |row| &row.id).await?;
        Ok((rows, next))
    }

    pub async fn update_part(&self, target: PartUpdate, fields: PartFields, by: &Actor<'_>) -> Result<service_part::Model> {
        let (fields, mask) = (&fields, &target.mask);
        self.mutations
            .update(
                by,
                &target.id.to_string(),
                Some(target.etag),
                |_tx, current: service_part::Model| {
                    let edit = check_unbilled(
                        "service part",
                        &current.id,
                        &current.invoice_id,
                        &current.ledger_entry_id,
                        "is billed and can no longer change",
                    )
                    .map(|()| {
                        let mut next = current.clone();
                        let mut changes = Changes::new();
                        for field in mask.iter() {
                            match field {
                                PartField::PartNumber => {
                                    changes.assign("part_number", &mut next.part_number, &fields.part_number)
                                }
                                PartField::Description => {
                                    changes.assign("description", &mut next.description, &fields.description)
                                }
                                PartField::QuantityMilli => {
                                    changes.assign("quantity_milli", &mut next.quantity_milli, &fields.quantity_milli)
                                }
                                PartField::UnitPrice => {
                                    changes.diff(
                                        "unit_price",
                                        format!("{} {}", next.unit_price_minor, next.currency),
                                        format!("{} {}", fields.unit_price_minor, fields.currency),
                                    );
                                    next.unit_price_minor = fields.unit_price_minor;
                                    next.currency.clone_from(&fields.currency);
                                }
                                PartField::Billable => changes.assign("billable", &mut next.billable, &fields.billable),
                            }
                        }
                        Edit { after: next, changes }
                    });
                    async move { edit }
                },
                |_, after, _| vec![events::part_changed("part.updated", after)],
            )
            .await
    }

    pub async fn delete_part(&self, id: &str, etag: Option<i64>, by: &Actor<'_>) -> Result<()> {
        delete_work(
            self,
            id,
            etag,
            by,
            async |_txn, current: &service_part::Model| {
                check_unbilled(
                    "service part",
                    id,
                    &current.invoice_id,
                    &current.ledger_entry_id,
                    "is billed and cannot be deleted",
                )?;
                Ok(current.part_number.clone())
            },
            async |txn| {
                let deleted = service_part::Entity::delete_many()
                    .filter(service_part::Column::Id.eq(id))
                    .filter(service_part::Column::InvoiceId.is_null())
                    .filter(service_part::Column::LedgerEntryId.is_null())
                    .exec(txn)
                    .await?;
                Ok(deleted.rows_affected)
            },
            |current| events::part_changed("part.deleted", current),
        )
        .await
    }
}
