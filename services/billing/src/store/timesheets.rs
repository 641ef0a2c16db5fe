//! Timesheets: a staff user's hours of a week or a month, gathered from the
//! hours they booked; submitted, then approved or sent back.

use chrono::NaiveDate;
use docket_kit::audit::{Actor, Changes};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::{
    Store,
    contracts::IdCursor,
    entities::{booked_hours, timesheet},
    new_id, page_end, stale, write_trail,
};
use crate::{
    domain::timesheet::{Period, SheetStatus},
    error::{Error, Result},
    events,
};

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

async fn load_sheet(db: &impl ConnectionTrait, staff_id: &str, period: Period, day: NaiveDate) -> Result<Sheet> {
    let (start, end) = period.bounds(day);
    let row = timesheet::Entity::find()
        .filter(timesheet::Column::StaffId.eq(staff_id))
        .filter(timesheet::Column::Period.eq(period.key()))
        .filter(timesheet::Column::PeriodStart.eq(start.to_string()))
        .one(db)
        .await?;
    let hours = booked_hours::Entity::find()
        .filter(booked_hours::Column::StaffId.eq(staff_id))
        .filter(booked_hours::Column::WorkDate.gte(start.to_string()))
        .filter(booked_hours::Column::WorkDate.lte(end.to_string()))
        .order_by_asc(booked_hours::Column::WorkDate)
        .order_by_asc(booked_hours::Column::Id)
        .all(db)
        .await?;
    Ok(Sheet { row, staff_id: staff_id.to_owned(), period, start, end, hours })
}

fn parse_day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
}

impl Store {
    /// The period of `day`, with every hour the staff user booked in it.
    pub async fn timesheet(&self, staff_id: &str, period: Period, day: NaiveDate) -> Result<Sheet> {
        load_sheet(&self.db, staff_id, period, day).await
    }

    /// Timesheets that were submitted at least once, newest period first.
    pub async fn list_timesheets(
        &self,
        staff_id: Option<&str>,
        statuses: &[SheetStatus],
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<Sheet>, Option<IdCursor>)> {
        let mut query = timesheet::Entity::find();
        if let Some(staff) = staff_id {
            query = query.filter(timesheet::Column::StaffId.eq(staff));
        }
        if !statuses.is_empty() {
            query = query.filter(timesheet::Column::Status.is_in(statuses.iter().map(|s| s.key())));
        }
        if let Some(after) = after {
            query = query.filter(timesheet::Column::Id.gt(after.id));
        }
        let mut rows = query.order_by_asc(timesheet::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| IdCursor { id: last.id.clone() });
        let mut sheets = Vec::with_capacity(rows.len());
        for row in rows {
            let period = Period::from_key(&row.period).unwrap_or(Period::Week);
            sheets.push(load_sheet(&self.db, &row.staff_id, period, parse_day(&row.period_start)).await?);
        }
        Ok((sheets, next))
    }

    /// Submits the period of `day`: its hours freeze until it is reviewed.
    pub async fn submit_timesheet(
        &self,
        staff_id: &str,
        period: Period,
        day: NaiveDate,
        etag: Option<i64>,
        by: &Actor<'_>,
    ) -> Result<Sheet> {
        let txn = self.db.begin().await?;
        let sheet = load_sheet(&txn, staff_id, period, day).await?;
        let status = sheet.status();
        if !status.can_submit() {
            return Err(Error::Precondition(format!(
                "the {} timesheet from {} is {}; only an open or rejected timesheet can be submitted",
                period.key(),
                sheet.start,
                status.key()
            )));
        }
        let row = match &sheet.row {
            Some(current) => {
                if let Some(etag) = etag
                    && etag != current.version
                {
                    return Err(stale("timesheet", &current.id, etag, current.version));
                }
                let mut next = current.clone();
                next.status = SheetStatus::Submitted.key().to_owned();
                next.submitted_by = by.actor.to_owned();
                next.submitted_at = by.at;
                next.version += 1;
                let updated = timesheet::Entity::update_many()
                    .set(next.clone().into_active_model().reset_all())
                    .filter(timesheet::Column::Id.eq(&current.id))
                    .filter(timesheet::Column::Version.eq(current.version))
                    .exec(&txn)
                    .await?;
                if updated.rows_affected != 1 {
                    return Err(Error::Stale(format!("timesheet {} was changed meanwhile", current.id)));
                }
                next
            }
            None => {
                if etag.is_some() {
                    return Err(Error::field("etag", "this timesheet was never submitted: send no etag"));
                }
                let row = timesheet::Model {
                    id: new_id(),
                    staff_id: staff_id.to_owned(),
                    period: period.key().to_owned(),
                    period_start: sheet.start.to_string(),
                    period_end: sheet.end.to_string(),
                    status: SheetStatus::Submitted.key().to_owned(),
                    submitted_by: by.actor.to_owned(),
                    submitted_at: by.at,
                    reviewed_by: String::new(),
                    reviewed_at: None,
                    review_note: String::new(),
                    version: 1,
                };
                match row.clone().into_active_model().reset_all().insert(&txn).await {
                    Ok(_) => row,
                    // Submitted by someone else at the same moment.
                    Err(err) if docket_kit::error::is_unique_violation(&err) => {
                        return Err(Error::Stale("the timesheet was submitted meanwhile; read it again".into()));
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        };
        let mut changes = Changes::new();
        changes.diff("status", status.key(), SheetStatus::Submitted.key());
        write_trail(&txn, "timesheet", &row.id, by, &changes).await?;
        let sheet = Sheet { row: Some(row), ..sheet };
        events::timesheet_changed(&txn, "timesheet.submitted", &sheet, by).await?;
        self.commit(txn).await?;
        Ok(sheet)
    }

    /// Approves or rejects a submitted timesheet.
    pub async fn review_timesheet(
        &self,
        id: &str,
        etag: Option<i64>,
        approve: bool,
        note: &str,
        by: &Actor<'_>,
    ) -> Result<Sheet> {
        let txn = self.db.begin().await?;
        let current = timesheet::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("timesheet {id} not found")))?;
        if let Some(etag) = etag
            && etag != current.version
        {
            return Err(stale("timesheet", id, etag, current.version));
        }
        let status = SheetStatus::from_key(&current.status).unwrap_or(SheetStatus::Open);
        if !status.can_review() {
            return Err(Error::Precondition(format!(
                "timesheet {id} is {}; only a submitted timesheet can be reviewed",
                status.key()
            )));
        }
        let to = if approve { SheetStatus::Approved } else { SheetStatus::Rejected };
        let mut next = current.clone();
        next.status = to.key().to_owned();
        next.reviewed_by = by.actor.to_owned();
        next.reviewed_at = Some(by.at);
        next.review_note = note.to_owned();
        next.version += 1;
        let updated = timesheet::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(timesheet::Column::Id.eq(id))
            .filter(timesheet::Column::Version.eq(current.version))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::Stale(format!("timesheet {id} was changed meanwhile")));
        }
        let mut changes = Changes::new();
        changes.diff("status", status.key(), to.key());
        changes.diff("review_note", &current.review_note, note);
        write_trail(&txn, "timesheet", id, by, &changes).await?;
        let period = Period::from_key(&next.period).unwrap_or(Period::Week);
        let sheet =
            Sheet { row: Some(next.clone()), ..load_sheet(&txn, &next.staff_id, period, parse_day(&next.period_start)).await? };
        let event = if approve { "timesheet.approved" } else { "timesheet.rejected" };
        events::timesheet_changed(&txn, event, &sheet, by).await?;
        self.commit(txn).await?;
        Ok(sheet)
    }
}
