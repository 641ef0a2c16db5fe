//! Booked hours and service parts. Once invoiced or debited they are
//! locked; hours are also frozen while their week's or month's timesheet is
//! submitted or approved.

use chrono::NaiveDate;
use docket_kit::{
    audit::{Actor, Changes},
    idempotency::Idempotency,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::{
    Store,
    contracts::IdCursor,
    entities::{booked_hours, service_part, timesheet},
    find_idempotent, new_id, page_end, remember_idempotent, stale, write_trail,
};
use crate::{
    domain::timesheet::SheetStatus,
    error::{Error, Result},
    events,
};

/// Fields an update of booked hours may change.
pub const HOURS_FIELDS: &[&str] = &["work_date", "minutes", "billable", "rate", "description"];
/// Fields an update of a service part may change.
pub const PART_FIELDS: &[&str] = &["part_number", "description", "quantity_milli", "unit_price", "billable"];

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

const BOOK_SCOPE: &str = "BookHours";
const PART_SCOPE: &str = "AddServicePart";

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

fn hours_text(model: &booked_hours::Model) -> String {
    format!("{} min on {} at {} {}/h", model.minutes, model.work_date, model.rate_minor, model.currency)
}

impl Store {
    pub async fn book_hours(
        &self,
        fields: HoursFields,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<booked_hours::Model> {
        if let Some(id) = find_idempotent(&self.db, BOOK_SCOPE, by.actor, key).await? {
            return self.get_hours(&id).await;
        }
        let txn = self.db.begin().await?;
        check_open_day(&txn, &fields.staff_id, fields.work_date).await?;
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
        model.clone().into_active_model().reset_all().insert(&txn).await?;
        let mut changes = Changes::new();
        changes.set("booked", "", hours_text(&model));
        changes.set("staff_id", "", &model.staff_id);
        changes.set("billable", "", model.billable);
        write_trail(&txn, "booked_hours", &model.id, by, &changes).await?;
        events::hours_changed(&txn, "hours.booked", &model, by).await?;
        if !remember_idempotent(&txn, BOOK_SCOPE, by.actor, key, &model.id, by.at).await? {
            txn.rollback().await?;
            return Box::pin(self.book_hours(fields, by, key)).await;
        }
        self.commit(txn).await?;
        Ok(model)
    }

    pub async fn get_hours(&self, id: &str) -> Result<booked_hours::Model> {
        booked_hours::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("booked hours {id} not found")))
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
        if let Some(after) = after {
            query = query.filter(booked_hours::Column::Id.gt(after.id));
        }
        let mut rows = query.order_by_asc(booked_hours::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| IdCursor { id: last.id.clone() });
        Ok((rows, next))
    }

    pub async fn update_hours(
        &self,
        id: &str,
        etag: i64,
        fields: HoursFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<booked_hours::Model> {
        let txn = self.db.begin().await?;
        let current = booked_hours::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("booked hours {id} not found")))?;
        if current.version != etag {
            return Err(stale("booked hours", id, etag, current.version));
        }
        if billed(&current.invoice_id, &current.ledger_entry_id) {
            return Err(Error::Precondition(format!("booked hours {id} are billed and can no longer change")));
        }
        let current_day = NaiveDate::parse_from_str(&current.work_date, "%Y-%m-%d").unwrap_or(fields.work_date);
        check_open_day(&txn, &current.staff_id, current_day).await?;
        let mut next = current.clone();
        let mut changes = Changes::new();
        for field in mask {
            match *field {
                "work_date" => {
                    check_open_day(&txn, &current.staff_id, fields.work_date).await?;
                    changes.diff("work_date", &next.work_date, fields.work_date);
                    next.work_date = fields.work_date.to_string();
                }
                "minutes" => {
                    changes.diff("minutes", next.minutes, fields.minutes);
                    next.minutes = fields.minutes;
                }
                "billable" => {
                    if fields.billable && next.project_code.is_some() {
                        return Err(Error::field("hours.billable", "hours on an internal project are not billed"));
                    }
                    changes.diff("billable", next.billable, fields.billable);
                    next.billable = fields.billable;
                }
                "rate" => {
                    changes.diff(
                        "rate",
                        format!("{} {}", next.rate_minor, next.currency),
                        format!("{} {}", fields.rate_minor, fields.currency),
                    );
                    next.rate_minor = fields.rate_minor;
                    next.currency.clone_from(&fields.currency);
                }
                "description" => {
                    changes.diff("description", &next.description, &fields.description);
                    next.description.clone_from(&fields.description);
                }
                _ => {}
            }
        }
        if changes.is_empty() {
            return Ok(current);
        }
        next.version += 1;
        next.updated_at = by.at;
        let updated = booked_hours::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(booked_hours::Column::Id.eq(id))
            .filter(booked_hours::Column::Version.eq(current.version))
            .filter(booked_hours::Column::InvoiceId.is_null())
            .filter(booked_hours::Column::LedgerEntryId.is_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::Stale(format!("booked hours {id} were changed or billed meanwhile; read them again")));
        }
        write_trail(&txn, "booked_hours", id, by, &changes).await?;
        events::hours_changed(&txn, "hours.updated", &next, by).await?;
        self.commit(txn).await?;
        Ok(next)
    }

    pub async fn delete_hours(&self, id: &str, etag: Option<i64>, by: &Actor<'_>) -> Result<()> {
        let txn = self.db.begin().await?;
        let current = booked_hours::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("booked hours {id} not found")))?;
        if let Some(etag) = etag
            && current.version != etag
        {
            return Err(stale("booked hours", id, etag, current.version));
        }
        if billed(&current.invoice_id, &current.ledger_entry_id) {
            return Err(Error::Precondition(format!("booked hours {id} are billed and cannot be deleted")));
        }
        let day = NaiveDate::parse_from_str(&current.work_date, "%Y-%m-%d").unwrap_or_default();
        check_open_day(&txn, &current.staff_id, day).await?;
        let deleted = booked_hours::Entity::delete_many()
            .filter(booked_hours::Column::Id.eq(id))
            .filter(booked_hours::Column::InvoiceId.is_null())
            .filter(booked_hours::Column::LedgerEntryId.is_null())
            .exec(&txn)
            .await?;
        if deleted.rows_affected != 1 {
            return Err(Error::Stale(format!("booked hours {id} were billed meanwhile")));
        }
        let mut changes = Changes::new();
        changes.set("deleted", hours_text(&current), "");
        write_trail(&txn, "booked_hours", id, by, &changes).await?;
        events::hours_changed(&txn, "hours.deleted", &current, by).await?;
        self.commit(txn).await?;
        Ok(())
    }

    pub async fn add_part(&self, fields: PartFields, by: &Actor<'_>, key: Option<&Idempotency>) -> Result<service_part::Model> {
        if let Some(id) = find_idempotent(&self.db, PART_SCOPE, by.actor, key).await? {
            return self.get_part(&id).await;
        }
        let txn = self.db.begin().await?;
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
        model.clone().into_active_model().reset_all().insert(&txn).await?;
        let mut changes = Changes::new();
        changes.set(
            "added",
            "",
            format!("{} x{} at {} {}", model.part_number, model.quantity_milli, model.unit_price_minor, model.currency),
        );
        write_trail(&txn, "service_part", &model.id, by, &changes).await?;
        events::part_changed(&txn, "part.added", &model, by).await?;
        if !remember_idempotent(&txn, PART_SCOPE, by.actor, key, &model.id, by.at).await? {
            txn.rollback().await?;
            return Box::pin(self.add_part(fields, by, key)).await;
        }
        self.commit(txn).await?;
        Ok(model)
    }

    pub async fn get_part(&self, id: &str) -> Result<service_part::Model> {
        service_part::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service part {id} not found")))
    }

    pub async fn list_parts(
        &self,
        case_id: &str,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<service_part::Model>, Option<IdCursor>)> {
        let mut query = service_part::Entity::find().filter(service_part::Column::CaseId.eq(case_id));
        if let Some(after) = after {
            query = query.filter(service_part::Column::Id.gt(after.id));
        }
        let mut rows = query.order_by_asc(service_part::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| IdCursor { id: last.id.clone() });
        Ok((rows, next))
    }

    pub async fn update_part(
        &self,
        id: &str,
        etag: i64,
        fields: PartFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<service_part::Model> {
        let txn = self.db.begin().await?;
        let current = service_part::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service part {id} not found")))?;
        if current.version != etag {
            return Err(stale("service part", id, etag, current.version));
        }
        if billed(&current.invoice_id, &current.ledger_entry_id) {
            return Err(Error::Precondition(format!("service part {id} is billed and can no longer change")));
        }
        let mut next = current.clone();
        let mut changes = Changes::new();
        for field in mask {
            match *field {
                "part_number" => {
                    changes.diff("part_number", &next.part_number, &fields.part_number);
                    next.part_number.clone_from(&fields.part_number);
                }
                "description" => {
                    changes.diff("description", &next.description, &fields.description);
                    next.description.clone_from(&fields.description);
                }
                "quantity_milli" => {
                    changes.diff("quantity_milli", next.quantity_milli, fields.quantity_milli);
                    next.quantity_milli = fields.quantity_milli;
                }
                "unit_price" => {
                    changes.diff(
                        "unit_price",
                        format!("{} {}", next.unit_price_minor, next.currency),
                        format!("{} {}", fields.unit_price_minor, fields.currency),
                    );
                    next.unit_price_minor = fields.unit_price_minor;
                    next.currency.clone_from(&fields.currency);
                }
                "billable" => {
                    changes.diff("billable", next.billable, fields.billable);
                    next.billable = fields.billable;
                }
                _ => {}
            }
        }
        if changes.is_empty() {
            return Ok(current);
        }
        next.version += 1;
        next.updated_at = by.at;
        let updated = service_part::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(service_part::Column::Id.eq(id))
            .filter(service_part::Column::Version.eq(current.version))
            .filter(service_part::Column::InvoiceId.is_null())
            .filter(service_part::Column::LedgerEntryId.is_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::Stale(format!("service part {id} was changed or billed meanwhile; read it again")));
        }
        write_trail(&txn, "service_part", id, by, &changes).await?;
        events::part_changed(&txn, "part.updated", &next, by).await?;
        self.commit(txn).await?;
        Ok(next)
    }

    pub async fn delete_part(&self, id: &str, etag: Option<i64>, by: &Actor<'_>) -> Result<()> {
        let txn = self.db.begin().await?;
        let current = service_part::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service part {id} not found")))?;
        if let Some(etag) = etag
            && current.version != etag
        {
            return Err(stale("service part", id, etag, current.version));
        }
        if billed(&current.invoice_id, &current.ledger_entry_id) {
            return Err(Error::Precondition(format!("service part {id} is billed and cannot be deleted")));
        }
        let deleted = service_part::Entity::delete_many()
            .filter(service_part::Column::Id.eq(id))
            .filter(service_part::Column::InvoiceId.is_null())
            .filter(service_part::Column::LedgerEntryId.is_null())
            .exec(&txn)
            .await?;
        if deleted.rows_affected != 1 {
            return Err(Error::Stale(format!("service part {id} was billed meanwhile")));
        }
        let mut changes = Changes::new();
        changes.set("deleted", &current.part_number, "");
        write_trail(&txn, "service_part", id, by, &changes).await?;
        events::part_changed(&txn, "part.deleted", &current, by).await?;
        self.commit(txn).await?;
        Ok(())
    }
}
