//! The JSON shapes of the case service's reports (`ReportService`), and
//! their rows as CSV.

use chrono::{DateTime, Utc};
use docket_proto::case::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{CasePriority, CaseStatus, reference, time};

/// How a report is answered: JSON, or CSV (RFC 4180, a header row, UTF-8).
/// `Accept: text/csv` asks for CSV too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Csv,
}

/// Which open cases `GET /reports/queue` counts.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueReportQuery {
    /// Only this team's cases.
    pub team_id: Option<String>,
    pub format: Option<ReportFormat>,
}

/// Which open cases `GET /reports/backlog-aging` counts.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BacklogAgingQuery {
    /// Only this team's cases.
    pub team_id: Option<String>,
    /// Only cases of these priorities (repeat the parameter).
    #[serde(default)]
    pub priority: Vec<CasePriority>,
    pub format: Option<ReportFormat>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusCount {
    pub status: Option<CaseStatus>,
    /// How people read it: "Active – New".
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PriorityCount {
    pub priority: Option<CasePriority>,
    /// How people read it: "Critical".
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TeamCount {
    /// `null`: cases in no team's queue.
    pub team_id: Option<String>,
    pub team_name: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OwnerCount {
    pub owner_id: String,
    pub owner_name: String,
    pub count: i64,
}

/// Open cases now (Active – New, Active – Assigned, Pending), counted by
/// status, priority, team and owner; each breakdown adds up to `open`
/// (owners to `open - unassigned`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueCounts {
    pub as_of: Option<DateTime<Utc>>,
    pub open: i64,
    /// Open cases without an owner.
    pub unassigned: i64,
    /// Every open status, zero counts included.
    pub by_status: Vec<StatusCount>,
    /// Every priority, most urgent first, zero counts included.
    pub by_priority: Vec<PriorityCount>,
    /// Teams with open cases, most first.
    pub by_team: Vec<TeamCount>,
    /// Owners with open cases, most first.
    pub by_owner: Vec<OwnerCount>,
}

impl From<pb::QueueCounts> for QueueCounts {
    fn from(q: pb::QueueCounts) -> Self {
        Self {
            as_of: time(q.as_of),
            open: q.open,
            unassigned: q.unassigned,
            by_status: q
                .by_status
                .into_iter()
                .map(|s| StatusCount { status: CaseStatus::from_proto(s.status), name: s.name, count: s.count })
                .collect(),
            by_priority: q
                .by_priority
                .into_iter()
                .map(|p| PriorityCount { priority: CasePriority::from_proto(p.priority), name: p.name, count: p.count })
                .collect(),
            by_team: q
                .by_team
                .into_iter()
                .map(|t| TeamCount { team_id: reference(t.team_id), team_name: t.team_name, count: t.count })
                .collect(),
            by_owner: q
                .by_owner
                .into_iter()
                .map(|o| OwnerCount { owner_id: o.owner_id, owner_name: o.owner_name, count: o.count })
                .collect(),
        }
    }
}

/// A JSON enum value as its word (`active_new`), for CSV cells.
fn word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl QueueCounts {
    /// One row per count: `dimension,key,name,count`, the totals first.
    pub fn csv_rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let mut rows = vec![
            vec!["total".to_owned(), "open".to_owned(), "Open".to_owned(), self.open.to_string()],
            vec!["total".to_owned(), "unassigned".to_owned(), "Unassigned".to_owned(), self.unassigned.to_string()],
        ];
        for s in &self.by_status {
            rows.push(vec!["status".to_owned(), word(&s.status), s.name.clone(), s.count.to_string()]);
        }
        for p in &self.by_priority {
            rows.push(vec!["priority".to_owned(), word(&p.priority), p.name.clone(), p.count.to_string()]);
        }
        for t in &self.by_team {
            rows.push(vec!["team".to_owned(), t.team_id.clone().unwrap_or_default(), t.team_name.clone(), t.count.to_string()]);
        }
        for o in &self.by_owner {
            rows.push(vec!["owner".to_owned(), o.owner_id.clone(), o.owner_name.clone(), o.count.to_string()]);
        }
        (vec!["dimension", "key", "name", "count"], rows)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgingBucket {
    /// "under 1 day", "1–3 days", ..., "over 30 days".
    pub label: String,
    /// Open at least this many hours ...
    pub min_age_hours: i64,
    /// ... and less than this many; `null` for the last bucket.
    pub max_age_hours: Option<i64>,
    pub count: i64,
}

/// Open cases now, by how long they have been open, youngest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BacklogAging {
    pub as_of: Option<DateTime<Utc>>,
    pub open: i64,
    pub buckets: Vec<AgingBucket>,
    /// When the oldest open case was created; `null` when none is open.
    pub oldest_create_time: Option<DateTime<Utc>>,
}

impl From<pb::BacklogAging> for BacklogAging {
    fn from(b: pb::BacklogAging) -> Self {
        Self {
            as_of: time(b.as_of),
            open: b.open,
            buckets: b
                .buckets
                .into_iter()
                .map(|bucket| AgingBucket {
                    label: bucket.label,
                    min_age_hours: bucket.min_age_hours,
                    max_age_hours: (bucket.max_age_hours > 0).then_some(bucket.max_age_hours),
                    count: bucket.count,
                })
                .collect(),
            oldest_create_time: time(b.oldest_create_time),
        }
    }
}

impl BacklogAging {
    /// One row per bucket: `label,min_age_hours,max_age_hours,count`.
    pub fn csv_rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .buckets
            .iter()
            .map(|b| {
                vec![
                    b.label.clone(),
                    b.min_age_hours.to_string(),
                    b.max_age_hours.map(|h| h.to_string()).unwrap_or_default(),
                    b.count.to_string(),
                ]
            })
            .collect();
        (vec!["label", "min_age_hours", "max_age_hours", "count"], rows)
    }
}

wire_enum!(
    /// The steps of a volume report: days, weeks from Monday, calendar months.
    ReportGranularity => pb::ReportGranularity { Day, Week, Month }
);
wire_enum!(
    /// What a period report breaks its counts down by.
    ReportGrouping => pb::ReportGrouping { Type, Channel, Team, Priority, Owner }
);

/// The period of `GET /reports/volume`, its steps and breakdown.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VolumeReportQuery {
    /// From the day (UTC) of this time (RFC 3339) ...
    pub start_time: Option<DateTime<Utc>>,
    /// ... up to, not including, the day of this one; at most two years.
    pub end_time: Option<DateTime<Utc>>,
    /// `day` unless told otherwise.
    pub granularity: Option<ReportGranularity>,
    /// No breakdown unless told.
    pub group_by: Option<ReportGrouping>,
    pub format: Option<ReportFormat>,
}

/// The period of `GET /reports/resolution-times` and its breakdown.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolutionReportQuery {
    /// From the day (UTC) of this time (RFC 3339) ...
    pub start_time: Option<DateTime<Utc>>,
    /// ... up to, not including, the day of this one; at most two years.
    pub end_time: Option<DateTime<Utc>>,
    /// No breakdown unless told.
    pub group_by: Option<ReportGrouping>,
    pub format: Option<ReportFormat>,
}

/// The period of a request, for the case service.
pub fn period(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<pb::ReportPeriod> {
    Some(pb::ReportPeriod { start_time: start.map(docket_kit::time::to_proto), end_time: end.map(docket_kit::time::to_proto) })
}

/// One step and group of a volume report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VolumeRow {
    /// The step's first day, `2026-12-01`.
    pub step: String,
    /// The group's key (type id, channel, team id, priority, owner id);
    /// `null` without a breakdown or for cases of no team or owner.
    pub key: Option<String>,
    pub name: String,
    pub created: i64,
    pub closed: i64,
    pub reopened: i64,
    /// Handed to an owner, by hand or by a rule.
    pub assigned: i64,
}

/// Cases created, closed, reopened and assigned per step of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseVolume {
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub rows: Vec<VolumeRow>,
    pub created: i64,
    pub closed: i64,
    pub reopened: i64,
    pub assigned: i64,
}

impl From<pb::CaseVolume> for CaseVolume {
    fn from(v: pb::CaseVolume) -> Self {
        let period = v.period.unwrap_or_default();
        Self {
            start_time: time(period.start_time),
            end_time: time(period.end_time),
            rows: v
                .rows
                .into_iter()
                .map(|r| VolumeRow {
                    step: r.step,
                    key: reference(r.key),
                    name: r.name,
                    created: r.created,
                    closed: r.closed,
                    reopened: r.reopened,
                    assigned: r.assigned,
                })
                .collect(),
            created: v.created,
            closed: v.closed,
            reopened: v.reopened,
            assigned: v.assigned,
        }
    }
}

impl CaseVolume {
    /// One row per step and group: `step,key,name,created,closed,reopened,assigned`.
    pub fn csv_rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.step.clone(),
                    r.key.clone().unwrap_or_default(),
                    r.name.clone(),
                    r.created.to_string(),
                    r.closed.to_string(),
                    r.reopened.to_string(),
                    r.assigned.to_string(),
                ]
            })
            .collect();
        (vec!["step", "key", "name", "created", "closed", "reopened", "assigned"], rows)
    }
}

/// Durations in minutes: the mean exact, the median and 90th percentile
/// within the kept histogram's bucket of the nearest-rank value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DurationStats {
    pub count: i64,
    pub mean_minutes: f64,
    pub median_minutes: f64,
    pub p90_minutes: f64,
}

impl From<Option<pb::DurationStats>> for DurationStats {
    fn from(s: Option<pb::DurationStats>) -> Self {
        let s = s.unwrap_or_default();
        Self { count: s.count, mean_minutes: s.mean_minutes, median_minutes: s.median_minutes, p90_minutes: s.p90_minutes }
    }
}

/// One group's times over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResolutionRow {
    /// `null`: the total, or cases of no team or owner.
    pub key: Option<String>,
    pub name: String,
    /// Cases closed in the period, from creation to close.
    pub resolution: DurationStats,
    /// Cases first answered in the period, from creation to the first public staff reply.
    pub first_response: DurationStats,
    pub reopened: i64,
    /// Reopened per case closed in the period.
    pub reopen_rate: f64,
}

impl From<pb::ResolutionRow> for ResolutionRow {
    fn from(r: pb::ResolutionRow) -> Self {
        Self {
            key: reference(r.key),
            name: r.name,
            resolution: r.resolution.into(),
            first_response: r.first_response.into(),
            reopened: r.reopened,
            reopen_rate: r.reopen_rate,
        }
    }
}

/// Resolution and first-response times, and reopens, over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResolutionTimes {
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub rows: Vec<ResolutionRow>,
    pub total: ResolutionRow,
}

impl From<pb::ResolutionTimes> for ResolutionTimes {
    fn from(t: pb::ResolutionTimes) -> Self {
        let period = t.period.unwrap_or_default();
        Self {
            start_time: time(period.start_time),
            end_time: time(period.end_time),
            rows: t.rows.into_iter().map(Into::into).collect(),
            total: t.total.unwrap_or_default().into(),
        }
    }
}

impl ResolutionTimes {
    /// The total first, then one row per group.
    pub fn csv_rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let row = |r: &ResolutionRow, key: &str, name: &str| {
            let mut cells = vec![key.to_owned(), name.to_owned()];
            for stats in [&r.resolution, &r.first_response] {
                cells.extend([
                    stats.count.to_string(),
                    stats.mean_minutes.to_string(),
                    stats.median_minutes.to_string(),
                    stats.p90_minutes.to_string(),
                ]);
            }
            cells.extend([r.reopened.to_string(), r.reopen_rate.to_string()]);
            cells
        };
        let mut rows = vec![row(&self.total, "", "All cases")];
        rows.extend(self.rows.iter().map(|r| row(r, r.key.as_deref().unwrap_or_default(), &r.name)));
        let header = vec![
            "key",
            "name",
            "resolved",
            "resolution_mean_minutes",
            "resolution_median_minutes",
            "resolution_p90_minutes",
            "first_responses",
            "first_response_mean_minutes",
            "first_response_median_minutes",
            "first_response_p90_minutes",
            "reopened",
            "reopen_rate",
        ];
        (header, rows)
    }
}

wire_enum!(
    /// What repeat cases are counted by: the account, or the asset serial number.
    RepeatKey => pb::RepeatKey { Account, Asset }
);

/// The period, window and key of `GET /reports/repeat-cases`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepeatReportQuery {
    /// From the day (UTC) of this time (RFC 3339) ...
    pub start_time: Option<DateTime<Utc>>,
    /// ... up to, not including, the day of this one; at most two years.
    pub end_time: Option<DateTime<Utc>>,
    /// A case is a repeat when the same account or asset had one within this many days before it (1 to 365).
    pub within_days: Option<i32>,
    pub by: Option<RepeatKey>,
    /// Most accounts or assets answered: 1 to 500, 50 when absent.
    pub limit: Option<i32>,
    pub format: Option<ReportFormat>,
}

/// An account or asset whose cases came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepeatRow {
    /// The account id or the asset serial number.
    pub key: String,
    /// The account's name (empty for assets).
    pub name: String,
    /// Its cases created in the period ...
    pub cases: i64,
    /// ... and how many of them were repeats.
    pub repeats: i64,
}

/// Cases that came within N days after an earlier one of the same account or asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepeatCases {
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub within_days: i32,
    /// Most repeats first.
    pub rows: Vec<RepeatRow>,
    pub cases: i64,
    pub repeats: i64,
}

impl From<pb::RepeatCases> for RepeatCases {
    fn from(r: pb::RepeatCases) -> Self {
        let period = r.period.unwrap_or_default();
        Self {
            start_time: time(period.start_time),
            end_time: time(period.end_time),
            within_days: r.within_days,
            rows: r
                .rows
                .into_iter()
                .map(|row| RepeatRow { key: row.key, name: row.name, cases: row.cases, repeats: row.repeats })
                .collect(),
            cases: r.cases,
            repeats: r.repeats,
        }
    }
}

impl RepeatCases {
    /// One row per account or asset: `key,name,cases,repeats`.
    pub fn csv_rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows =
            self.rows.iter().map(|r| vec![r.key.clone(), r.name.clone(), r.cases.to_string(), r.repeats.to_string()]).collect();
        (vec!["key", "name", "cases", "repeats"], rows)
    }
}
