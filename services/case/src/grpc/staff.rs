//! `docket.case.v1.StaffService`: the staff directory. Reads need any role;
//! changes need the admin role.

use docket_kit::mutation::Once;
use docket_kit::{
    auth::caller,
    error::FieldViolations,
    page,
    request::{FieldMask, wanted},
    time,
};
use tonic::{Request, Response, Status};

use super::{actor, history, idempotency, reason};
use crate::{
    domain::{
        StaffId, StaffRole, TeamId,
        commands::{LONG_TEXT_MAX, NAME_MAX, SHORT_TEXT_MAX, StaffField, StaffFields, TeamField, TeamFields},
        routing::{Absence, CAPACITY_MAX},
    },
    store::{StaffFilter, Store},
    wire::{self, WireEnum},
};
use docket_proto::case::v1::{self as pb, staff_service_server::StaffService};

pub struct StaffApi {
    store: Store,
}

impl StaffApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn parse_staff(violations: &mut FieldViolations, user: &pb::StaffUser, mask: Option<&FieldMask<StaffField>>) -> StaffFields {
    StaffFields {
        name: if wanted(mask, StaffField::Name) {
            violations.required_text("staff_user.name", &user.name, NAME_MAX)
        } else {
            String::new()
        },
        email: if wanted(mask, StaffField::Email) {
            violations.email("staff_user.email", &user.email, true);
            user.email.trim().to_owned()
        } else {
            String::new()
        },
        role: if wanted(mask, StaffField::Role) {
            violations.enum_value("staff_user.role", user.role, StaffRole::from_wire).unwrap_or(StaffRole::Viewer)
        } else {
            StaffRole::Viewer
        },
        // A new user is active and available unless the request says otherwise
        // on update; proto3 booleans cannot tell "false" from "unset" on create.
        active: if mask.is_none() { true } else { user.active },
        available: if mask.is_none() { true } else { user.available },
        case_capacity: if wanted(mask, StaffField::CaseCapacity) {
            if !(0..=CAPACITY_MAX).contains(&user.case_capacity) {
                violations.add("staff_user.case_capacity", format!("must be between 0 (the rule's limit) and {CAPACITY_MAX}"));
            }
            user.case_capacity
        } else {
            0
        },
        out_of_office: if wanted(mask, StaffField::OutOfOffice) {
            parse_absences(violations, &user.out_of_office)
        } else {
            Vec::new()
        },
    }
}

/// Most out-of-office periods one staff user keeps.
const ABSENCES_MAX: usize = 50;

/// Out-of-office periods: each with a start and a later end, at most a year
/// long (a longer absence is a deactivation), sorted by start.
fn parse_absences(violations: &mut FieldViolations, periods: &[pb::OutOfOffice]) -> Vec<Absence> {
    if periods.len() > ABSENCES_MAX {
        violations.add("staff_user.out_of_office", format!("has {} periods; the most allowed is {ABSENCES_MAX}", periods.len()));
        return Vec::new();
    }
    let mut parsed = Vec::new();
    for (i, period) in periods.iter().enumerate() {
        let field = |name: &str| format!("staff_user.out_of_office[{i}].{name}");
        let start = period.start_time.as_ref().and_then(time::from_proto);
        let end = period.end_time.as_ref().and_then(time::from_proto);
        if start.is_none() {
            violations.add(field("start_time"), "is required");
        }
        if end.is_none() {
            violations.add(field("end_time"), "is required");
        }
        let note = violations.optional_text(&field("note"), &period.note, SHORT_TEXT_MAX);
        let (Some(start), Some(end)) = (start, end) else { continue };
        if end <= start {
            violations.add(field("end_time"), "must be after start_time");
        } else if end - start > chrono::Duration::days(366) {
            violations.add(field("end_time"), "makes the period longer than a year");
        } else {
            parsed.push(Absence { start, end, note });
        }
    }
    parsed.sort_by_key(|a| a.start);
    parsed
}

fn parse_team(violations: &mut FieldViolations, team: &pb::Team, mask: Option<&FieldMask<TeamField>>) -> TeamFields {
    TeamFields {
        name: if wanted(mask, TeamField::Name) {
            violations.required_text("team.name", &team.name, NAME_MAX)
        } else {
            String::new()
        },
        description: if wanted(mask, TeamField::Description) {
            violations.optional_text("team.description", &team.description, LONG_TEXT_MAX)
        } else {
            String::new()
        },
        requeue_on_absence: team.requeue_on_absence,
        keep_pending_on_absence: team.keep_pending_on_absence,
    }
}

#[tonic::async_trait]
impl StaffService for StaffApi {
    async fn create_staff_user(&self, request: Request<pb::CreateStaffUserRequest>) -> Result<Response<pb::StaffUser>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let fields = parse_staff(&mut violations, &request.staff_user.clone().unwrap_or_default(), None);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateStaffUserRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        Ok(Response::new(wire::staff_user(
            self.store
                .create_staff_user(fields, &actor(&caller, ""), Once { scope: "CreateStaffUser", key: key.as_ref() })
                .await?,
        )))
    }

    async fn get_staff_user(&self, request: Request<pb::GetStaffUserRequest>) -> Result<Response<pb::StaffUser>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id: StaffId = violations.id("id", &request.get_ref().id);
        violations.into_result()?;
        Ok(Response::new(wire::staff_user(self.store.get_staff_user(id).await?)))
    }

    async fn update_staff_user(&self, request: Request<pb::UpdateStaffUserRequest>) -> Result<Response<pb::StaffUser>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let user = request.staff_user.unwrap_or_default();
        let target = violations.update_target("staff_user", &user.id, &user.etag, request.update_mask.as_ref());
        let fields = parse_staff(&mut violations, &user, Some(&target.mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        let updated = self.store.update_staff_user(target, fields, &actor(&caller, &reason)).await?;
        // Away now: their cases move; back (or given room): they get waiting ones.
        self.store.settle_routing_for(&updated.id).await;
        Ok(Response::new(wire::staff_user(updated)))
    }

    async fn list_staff_users(
        &self,
        request: Request<pb::ListStaffUsersRequest>,
    ) -> Result<Response<pb::ListStaffUsersResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<page::NameCursor> = page::decode(&mut violations, &request.page_token);
        let filter = StaffFilter {
            query: violations.optional_text("query", &request.query, SHORT_TEXT_MAX),
            team_id: violations.opt_id("team_id", &request.team_id),
            active_only: request.active_only,
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_staff_users(&filter, after, limit).await?;
        let total_size = if request.include_total_size { Some(self.store.count_staff_users(&filter).await?) } else { None };
        Ok(Response::new(pb::ListStaffUsersResponse {
            staff_users: rows.into_iter().map(wire::staff_user).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
            total_size,
        }))
    }

    async fn create_team(&self, request: Request<pb::CreateTeamRequest>) -> Result<Response<pb::Team>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let fields = parse_team(&mut violations, &request.team.clone().unwrap_or_default(), None);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateTeamRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        Ok(Response::new(wire::team(
            self.store.create_team(fields, &actor(&caller, ""), Once { scope: "CreateTeam", key: key.as_ref() }).await?,
        )))
    }

    async fn get_team(&self, request: Request<pb::GetTeamRequest>) -> Result<Response<pb::Team>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id: TeamId = violations.id("id", &request.get_ref().id);
        violations.into_result()?;
        Ok(Response::new(wire::team(self.store.get_team(id).await?)))
    }

    async fn update_team(&self, request: Request<pb::UpdateTeamRequest>) -> Result<Response<pb::Team>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let team = request.team.unwrap_or_default();
        let target = violations.update_target("team", &team.id, &team.etag, request.update_mask.as_ref());
        let fields = parse_team(&mut violations, &team, Some(&target.mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        Ok(Response::new(wire::team(self.store.update_team(target, fields, &actor(&caller, &reason)).await?)))
    }

    async fn list_teams(&self, request: Request<pb::ListTeamsRequest>) -> Result<Response<pb::ListTeamsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<page::NameCursor> = page::decode(&mut violations, &request.page_token);
        violations.into_result()?;
        let (teams, next) = self.store.list_teams(after, limit).await?;
        let total_size = if request.include_total_size { Some(self.store.count_teams().await?) } else { None };
        Ok(Response::new(pb::ListTeamsResponse {
            teams: teams.into_iter().map(wire::team).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
            total_size,
        }))
    }

    async fn add_team_member(&self, request: Request<pb::TeamMemberRequest>) -> Result<Response<pb::Team>, Status> {
        self.set_member(request, true).await
    }

    async fn remove_team_member(&self, request: Request<pb::TeamMemberRequest>) -> Result<Response<pb::Team>, Status> {
        self.set_member(request, false).await
    }

    async fn list_staff_history(
        &self,
        request: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(history(&self.store, &["staff_user", "team"], request.into_inner()).await?))
    }
}

impl StaffApi {
    async fn set_member(&self, request: Request<pb::TeamMemberRequest>, add: bool) -> Result<Response<pb::Team>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let team_id: TeamId = violations.id("team_id", &request.team_id);
        let staff_id: StaffId = violations.id("staff_user_id", &request.staff_user_id);
        violations.into_result()?;
        let team = self.store.set_team_member(team_id, staff_id, add, &actor(&caller, "")).await?;
        if add {
            self.store.settle_routing_for(&staff_id.to_string()).await;
        }
        Ok(Response::new(wire::team(team)))
    }
}
