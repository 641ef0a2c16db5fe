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
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PriorityCount {
    pub priority: Option<CasePriority>,
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
                .map(|s| StatusCount { status: CaseStatus::from_proto(s.status), count: s.count })
                .collect(),
            by_priority: q
                .by_priority
                .into_iter()
                .map(|p| PriorityCount { priority: CasePriority::from_proto(p.priority), count: p.count })
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
            rows.push(vec!["status".to_owned(), word(&s.status), String::new(), s.count.to_string()]);
        }
        for p in &self.by_priority {
            rows.push(vec!["priority".to_owned(), word(&p.priority), String::new(), p.count.to_string()]);
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
