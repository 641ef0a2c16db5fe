//! `docket.case.v1.ReportService`: the counts roll up here from the
//! store's finest grain, so each breakdown adds up to the same total.

use std::collections::HashMap;

use docket_kit::{auth::caller, error::FieldViolations};
use docket_proto::case::v1::{self as pb, report_service_server::ReportService};
use tonic::{Request, Response, Status};

use crate::{
    domain::{Priority, TeamId},
    store::{
        Store,
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
        })
        .collect();
    let by_priority = Priority::ALL
        .iter()
        .rev()
        .map(|priority| pb::PriorityCount {
            priority: priority.to_wire() as i32,
            count: cells.iter().filter(|cell| cell.priority == *priority).map(|cell| cell.count).sum(),
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

#[tonic::async_trait]
impl ReportService for ReportApi {
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
        let mut priorities = Vec::new();
        for priority in violations.enum_values("priorities", &request.priorities, Priority::from_wire) {
            if !priorities.contains(&priority) {
                priorities.push(priority);
            }
        }
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
