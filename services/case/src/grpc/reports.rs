//! `docket.case.v1.ReportService`: the counts roll up here from the
//! store's finest grain, so each breakdown adds up to the same total.

use std::collections::HashMap;

use docket_kit::{auth::caller, error::FieldViolations};
use docket_proto::case::v1::{self as pb, report_service_server::ReportService};
use tonic::{Request, Response, Status};

use super::unique_enum_values;

use crate::{
    domain::{
        Priority, TeamId,
        period::{Dimension, Granularity, Period, date_of, quantile, step_of},
    },
    store::{
        Store,
        period_reports::Durations,
        reports::{AGE_BUCKETS, OPEN, QueueCell, ReportScope},
    },
    wire::WireEnum,
};

pub struct ReportApi {
    store: Store,
}

impl ReportApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn team_scope(violations: &mut FieldViolations, team_id: &str) -> Option<TeamId> {
    violations.opt_id("team_id", team_id)
}

/// Counts by a key, largest first, then by name, then by key.
fn ranked(counts: HashMap<(String, String), i64>) -> Vec<(String, String, i64)> {
    let mut rows: Vec<_> = counts.into_iter().map(|((id, name), n)| (id, name, n)).collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)).then_with(|| a.0.cmp(&b.0)));
    rows
}

fn queue_counts(cells: &[QueueCell]) -> pb::QueueCounts {
    let open = cells.iter().map(|cell| cell.count).sum();
    let unassigned = cells.iter().filter(|cell| cell.owner.is_none()).map(|cell| cell.count).sum();
    let by_status = OPEN
        .iter()
        .map(|status| pb::StatusCount {
            status: status.to_wire() as i32,
            count: cells.iter().filter(|cell| cell.status == *status).map(|cell| cell.count).sum(),
            name: status.label().to_owned(),
        })
        .collect();
    let by_priority = Priority::ALL
        .iter()
        .rev()
        .map(|priority| pb::PriorityCount {
            priority: priority.to_wire() as i32,
            count: cells.iter().filter(|cell| cell.priority == *priority).map(|cell| cell.count).sum(),
            name: priority.label().to_owned(),
        })
        .collect();
    let mut teams: HashMap<(String, String), i64> = HashMap::new();
    let mut owners: HashMap<(String, String), i64> = HashMap::new();
    for cell in cells {
        *teams.entry(cell.team.clone().unwrap_or_default()).or_default() += cell.count;
        if let Some(owner) = &cell.owner {
            *owners.entry(owner.clone()).or_default() += cell.count;
        }
    }
    pb::QueueCounts {
        as_of: Some(docket_kit::time::to_proto(docket_kit::time::now())),
        open,
        unassigned,
        by_status,
        by_priority,
        by_team: ranked(teams)
            .into_iter()
            .map(|(team_id, team_name, count)| pb::TeamCount { team_id, team_name, count })
            .collect(),
        by_owner: ranked(owners)
            .into_iter()
            .map(|(owner_id, owner_name, count)| pb::OwnerCount { owner_id, owner_name, count })
            .collect(),
    }
}

/// The period of a report request: required, forwards, at most two years.
fn period(violations: &mut FieldViolations, period: Option<&pb::ReportPeriod>) -> Option<Period> {
    let Some(period) = period else {
        violations.add("period", "is required");
        return None;
    };
    let start = period.start_time.as_ref().and_then(docket_kit::time::from_proto);
    let end = period.end_time.as_ref().and_then(docket_kit::time::from_proto);
    if start.is_none() {
        violations.add("period.start_time", "is required");
    }
    if end.is_none() {
        violations.add("period.end_time", "is required");
    }
    match Period::of(start?, end?) {
        Ok(period) => Some(period),
        Err(why) => {
            violations.add("period", why);
            None
        }
    }
}

fn period_message(period: Period) -> pb::ReportPeriod {
    let at = |day: i32| Some(docket_kit::time::to_proto(date_of(day).and_time(chrono::NaiveTime::MIN).and_utc()));
    pb::ReportPeriod { start_time: at(period.start), end_time: at(period.end) }
}

fn grouping(violations: &mut FieldViolations, raw: i32) -> Dimension {
    match pb::ReportGrouping::try_from(raw) {
        Ok(pb::ReportGrouping::Unspecified) => Dimension::All,
        Ok(pb::ReportGrouping::Type) => Dimension::Type,
        Ok(pb::ReportGrouping::Channel) => Dimension::Channel,
        Ok(pb::ReportGrouping::Team) => Dimension::Team,
        Ok(pb::ReportGrouping::Priority) => Dimension::Priority,
        Ok(pb::ReportGrouping::Owner) => Dimension::Owner,
        Err(_) => {
            violations.add("group_by", format!("{raw} is not a known value"));
            Dimension::All
        }
    }
}

fn granularity(violations: &mut FieldViolations, raw: i32) -> Granularity {
    match pb::ReportGranularity::try_from(raw) {
        Ok(pb::ReportGranularity::Unspecified | pb::ReportGranularity::Day) => Granularity::Day,
        Ok(pb::ReportGranularity::Week) => Granularity::Week,
        Ok(pb::ReportGranularity::Month) => Granularity::Month,
        Err(_) => {
            violations.add("granularity", format!("{raw} is not a known value"));
            Granularity::Day
        }
    }
}

/// Seconds as minutes for people.
fn minutes(seconds: f64) -> f64 {
    seconds / 60.0
}

fn resolution_row(key: String, name: String, d: &Durations) -> pb::ResolutionRow {
    let stats =
        |count: i64, sum: i64, buckets: &[i64; crate::domain::period::BUCKETS], range: Option<(i64, i64)>| pb::DurationStats {
            count,
            mean_minutes: if count == 0 { 0.0 } else { minutes(sum as f64 / count as f64) },
            median_minutes: minutes(quantile(buckets, 0.5, range)),
            p90_minutes: minutes(quantile(buckets, 0.9, range)),
        };
    pb::ResolutionRow {
        key,
        name,
        resolution: Some(stats(d.resolved, d.resolution_seconds, &d.resolution_buckets, d.resolution_range)),
        first_response: Some(stats(
            d.first_responses,
            d.first_response_seconds,
            &d.first_response_buckets,
            d.first_response_range,
        )),
        reopened: d.reopened,
        reopen_rate: if d.closed == 0 { 0.0 } else { d.reopened as f64 / d.closed as f64 },
    }
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_case_volume(&self, request: Request<pb::GetCaseVolumeRequest>) -> Result<Response<pb::CaseVolume>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let period = period(&mut violations, request.period.as_ref());
        let granularity = granularity(&mut violations, request.granularity);
        let dimension = grouping(&mut violations, request.group_by);
        violations.into_result()?;
        let Some(period) = period else { return Err(Status::internal("a checked period went missing")) };
        let days = self.store.day_counts(period, dimension).await?;
        let keys: Vec<&str> = days.iter().map(|d| d.key.as_str()).collect();
        let names = self.store.key_names(dimension, &keys).await?;
        // Steps in order, then keys: the days come ordered by day.
        let mut rows: std::collections::BTreeMap<(i32, String), pb::VolumeRow> = std::collections::BTreeMap::new();
        for day in &days {
            let step = step_of(day.day, granularity).max(period.start);
            let row = rows.entry((step, day.key.clone())).or_insert_with(|| pb::VolumeRow {
                step: date_of(step).to_string(),
                key: day.key.clone(),
                name: names.get(&day.key).cloned().unwrap_or_default(),
                ..Default::default()
            });
            row.created += day.created;
            row.closed += day.closed;
            row.reopened += day.reopened;
            row.assigned += day.assigned;
        }
        let rows: Vec<pb::VolumeRow> = rows.into_values().collect();
        Ok(Response::new(pb::CaseVolume {
            period: Some(period_message(period)),
            created: rows.iter().map(|r| r.created).sum(),
            closed: rows.iter().map(|r| r.closed).sum(),
            reopened: rows.iter().map(|r| r.reopened).sum(),
            assigned: rows.iter().map(|r| r.assigned).sum(),
            rows,
        }))
    }

    async fn get_repeat_cases(&self, request: Request<pb::GetRepeatCasesRequest>) -> Result<Response<pb::RepeatCases>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let period = period(&mut violations, request.period.as_ref());
        if !(1..=365).contains(&request.within_days) {
            violations.add("within_days", "must be between 1 and 365");
        }
        let by_asset = match pb::RepeatKey::try_from(request.by) {
            Ok(pb::RepeatKey::Account) => false,
            Ok(pb::RepeatKey::Asset) => true,
            _ => {
                violations.add("by", "must be account or asset");
                false
            }
        };
        let limit = match request.limit {
            0 => 50,
            n @ 1..=500 => n as usize,
            _ => {
                violations.add("limit", "must be between 1 and 500");
                50
            }
        };
        violations.into_result()?;
        let Some(period) = period else { return Err(Status::internal("a checked period went missing")) };
        let mut counts = self.store.repeat_counts(period, request.within_days, by_asset).await?;
        let (cases, repeats) = counts.iter().fold((0, 0), |(c, r), row| (c + row.cases, r + row.repeats));
        counts.retain(|row| row.repeats > 0);
        counts.sort_by(|a, b| b.repeats.cmp(&a.repeats).then(b.cases.cmp(&a.cases)).then_with(|| a.key.cmp(&b.key)));
        counts.truncate(limit);
        let names = if by_asset {
            HashMap::new()
        } else {
            let ids: Vec<&str> = counts.iter().map(|row| row.key.as_str()).collect();
            self.store.account_names(&ids).await?
        };
        Ok(Response::new(pb::RepeatCases {
            period: Some(period_message(period)),
            within_days: request.within_days,
            rows: counts
                .into_iter()
                .map(|row| pb::RepeatRow {
                    name: names.get(&row.key).cloned().unwrap_or_default(),
                    key: row.key,
                    cases: row.cases,
                    repeats: row.repeats,
                })
                .collect(),
            cases,
            repeats,
        }))
    }

    async fn get_resolution_times(
        &self,
        request: Request<pb::GetResolutionTimesRequest>,
    ) -> Result<Response<pb::ResolutionTimes>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let period = period(&mut violations, request.period.as_ref());
        let dimension = grouping(&mut violations, request.group_by);
        violations.into_result()?;
        let Some(period) = period else { return Err(Status::internal("a checked period went missing")) };
        let total = self.store.durations(period, Dimension::All).await?.remove("").unwrap_or_default();
        let by_key =
            if dimension == Dimension::All { Default::default() } else { self.store.durations(period, dimension).await? };
        let keys: Vec<&str> = by_key.keys().map(String::as_str).collect();
        let names = self.store.key_names(dimension, &keys).await?;
        let mut rows: Vec<pb::ResolutionRow> = by_key
            .iter()
            .map(|(key, durations)| resolution_row(key.clone(), names.get(key).cloned().unwrap_or_default(), durations))
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.key.cmp(&b.key)));
        Ok(Response::new(pb::ResolutionTimes {
            period: Some(period_message(period)),
            rows,
            total: Some(resolution_row(String::new(), String::new(), &total)),
        }))
    }

    async fn get_queue_counts(&self, request: Request<pb::GetQueueCountsRequest>) -> Result<Response<pb::QueueCounts>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let scope = ReportScope { team_id: team_scope(&mut violations, &request.team_id), priorities: Vec::new() };
        violations.into_result()?;
        let cells = self.store.queue_cells(&scope).await?;
        Ok(Response::new(queue_counts(&cells)))
    }

    async fn get_backlog_aging(
        &self,
        request: Request<pb::GetBacklogAgingRequest>,
    ) -> Result<Response<pb::BacklogAging>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let team_id = team_scope(&mut violations, &request.team_id);
        let priorities: Vec<Priority> = unique_enum_values(&mut violations, "priorities", &request.priorities);
        violations.into_result()?;
        let now = docket_kit::time::now();
        let aging = self.store.backlog_aging(&ReportScope { team_id, priorities }, now).await?;
        let buckets = AGE_BUCKETS
            .iter()
            .zip(&aging.counts)
            .map(|((label, from, until), count)| pb::AgingBucket {
                label: (*label).to_owned(),
                min_age_hours: *from,
                max_age_hours: until.unwrap_or(0),
                count: *count,
            })
            .collect();
        Ok(Response::new(pb::BacklogAging {
            as_of: Some(docket_kit::time::to_proto(now)),
            open: aging.counts.iter().sum(),
            buckets,
            oldest_create_time: docket_kit::time::to_proto_opt(aging.oldest),
        }))
    }
}
