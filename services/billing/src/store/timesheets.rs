//! Timesheets: a staff user's hours of a week or a month, gathered from the
//! hours they booked; submitted, then approved or sent back.

use chrono::NaiveDate;
use docket_kit::{
    audit::{Actor, Changes},
    mutation::Edit,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use super::{IdCursor, Store, new_id};
use crate::{
    domain::timesheet::{Period, SheetStatus},
    error::{Error, Result},
    events,
    records::{
        Sheet,
        entities::{booked_hours, timesheet},
    },
};
use docket_kit::page;

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
        let (rows, next) = page::by_id(&self.db, query, timesheet::Column::Id, after, limit, |row| &row.id).await?;
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
        self.mutations
            .run(by, async |tx| {
                let sheet = load_sheet(&*tx, staff_id, period, day).await?;
                let status = sheet.status();
                if !status.can_submit() {
                    return Err(Error::Precondition(format!(
                        "the {} timesheet from {} is {}; only an open or rejected timesheet can be submitted",
                        period.key(),
                        sheet.start,
                        status.key()
                    )));
                }
                let mut changes = Changes::new();
                changes.diff("status", status.key(), SheetStatus::Submitted.key());
                let event = |sheet: &Sheet| vec![events::timesheet_changed("timesheet.submitted", sheet)];
                let row = match &sheet.row {
                    Some(current) => {
                        if let Some(etag) = etag
                            && etag != current.version
                        {
                            return Err(Error::stale("timesheet", &current.id, etag, current.version));
                        }
                        let mut after = current.clone();
                        after.status = SheetStatus::Submitted.key().to_owned();
                        after.submitted_by = by.actor.to_owned();
                        after.submitted_at = by.at;
                        let sheet = &sheet;
                        tx.save(current, Edit { after, changes }, |_, saved, _| {
                            event(&Sheet { row: Some(saved.clone()), ..sheet.clone() })
                        })
                        .await?
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
                        match row.clone().into_active_model().reset_all().insert(&*tx).await {
                            Ok(_) => {}
                            // Submitted by someone else at the same moment.
                            Err(err) if docket_kit::error::is_unique_violation(&err) => {
                                return Err(Error::Stale("the timesheet was submitted meanwhile; read it again".into()));
                            }
                            Err(err) => return Err(err.into()),
                        }
                        tx.record("timesheet", &row.id, &changes, event(&Sheet { row: Some(row.clone()), ..sheet.clone() }))
                            .await?;
                        row
                    }
                };
                Ok(Sheet { row: Some(row), ..sheet })
            })
            .await
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
        let to = if approve { SheetStatus::Approved } else { SheetStatus::Rejected };
        let event = if approve { "timesheet.approved" } else { "timesheet.rejected" };
        self.mutations
            .run(by, async |tx| {
                let current = timesheet::Entity::find_by_id(id.to_owned())
                    .one(&*tx)
                    .await?
                    .ok_or_else(|| Error::not_found("timesheet", id))?;
                if let Some(etag) = etag
                    && etag != current.version
                {
                    return Err(Error::stale("timesheet", id, etag, current.version));
                }
                let status = SheetStatus::from_key(&current.status).unwrap_or(SheetStatus::Open);
                if !status.can_review() {
                    return Err(Error::Precondition(format!(
                        "timesheet {id} is {}; only a submitted timesheet can be reviewed",
                        status.key()
                    )));
                }
                let mut after = current.clone();
                after.status = to.key().to_owned();
                after.reviewed_by = by.actor.to_owned();
                after.reviewed_at = Some(by.at);
                after.review_note = note.to_owned();
                let mut changes = Changes::new();
                changes.diff("status", status.key(), to.key());
                changes.diff("review_note", &current.review_note, note);
                let period = Period::from_key(&current.period).unwrap_or(Period::Week);
                let sheet = load_sheet(&*tx, &current.staff_id, period, parse_day(&current.period_start)).await?;
                let saved = tx
                    .save(&current, Edit { after, changes }, |_, saved, _| {
                        vec![events::timesheet_changed(event, &Sheet { row: Some(saved.clone()), ..sheet.clone() })]
                    })
                    .await?;
                Ok(Sheet { row: Some(saved), ..sheet })
            })
            .await
    }
}
