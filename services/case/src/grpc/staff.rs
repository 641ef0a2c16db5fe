//! `docket.case.v1.StaffService`: the staff directory. Reads need any role;
//! changes need the admin role.

use docket_kit::{auth::caller, error::FieldViolations, page, time};
use tonic::{Request, Response, Status};

use super::{actor, history, idempotency, reason, wanted};
use crate::{
    domain::{
        StaffRole,
        commands::{LONG_TEXT_MAX, NAME_MAX, SHORT_TEXT_MAX, StaffFields, TeamFields},
    },
    error::Error,
    store::{NameCursor, STAFF_FIELDS, StaffFilter, Store, TEAM_FIELDS, TeamRecord, entities::staff_user, etag as etag_of},
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

fn role_from_proto(raw: i32) -> Option<StaffRole> {
    match pb::StaffRole::try_from(raw).ok()? {
        pb::StaffRole::Unspecified => None,
        pb::StaffRole::Admin => Some(StaffRole::Admin),
        pb::StaffRole::Agent => Some(StaffRole::Agent),
        pb::StaffRole::Viewer => Some(StaffRole::Viewer),
    }
}

fn role_to_proto(key: &str) -> pb::StaffRole {
    match StaffRole::from_key(key) {
        Some(StaffRole::Admin) => pb::StaffRole::Admin,
        Some(StaffRole::Agent) => pb::StaffRole::Agent,
        Some(StaffRole::Viewer) => pb::StaffRole::Viewer,
        None => pb::StaffRole::Unspecified,
    }
}

fn parse_staff(violations: &mut FieldViolations, user: &pb::StaffUser, mask: Option<&[&str]>) -> StaffFields {
    StaffFields {
        name: if wanted(mask, "name") {
            violations.required_text("staff_user.name", &user.name, NAME_MAX)
        } else {
            String::new()
        },
        email: if wanted(mask, "email") {
            violations.email("staff_user.email", &user.email, true);
            user.email.trim().to_owned()
        } else {
            String::new()
        },
        role: if wanted(mask, "role") {
            violations.enum_value("staff_user.role", user.role, role_from_proto).unwrap_or(StaffRole::Viewer)
        } else {
            StaffRole::Viewer
        },
        // A new user is active and available unless the request says otherwise
        // on update; proto3 booleans cannot tell "false" from "unset" on create.
        active: if mask.is_none() { true } else { user.active },
        available: if mask.is_none() { true } else { user.available },
    }
}

fn parse_team(violations: &mut FieldViolations, team: &pb::Team, mask: Option<&[&str]>) -> TeamFields {
    TeamFields {
        name: if wanted(mask, "name") { violations.required_text("team.name", &team.name, NAME_MAX) } else { String::new() },
        description: if wanted(mask, "description") {
            violations.optional_text("team.description", &team.description, LONG_TEXT_MAX)
        } else {
            String::new()
        },
    }
}

fn staff_to_proto(model: staff_user::Model) -> pb::StaffUser {
    pb::StaffUser {
        role: role_to_proto(&model.role) as i32,
        create_time: Some(time::to_proto(model.created_at)),
        update_time: Some(time::to_proto(model.updated_at)),
        etag: etag_of(model.version),
        id: model.id,
        name: model.name,
        email: model.email,
        active: model.active,
        available: model.available,
    }
}

fn team_to_proto(record: TeamRecord) -> pb::Team {
    pb::Team {
        create_time: Some(time::to_proto(record.team.created_at)),
        update_time: Some(time::to_proto(record.team.updated_at)),
        etag: etag_of(record.team.version),
        id: record.team.id,
        name: record.team.name,
        description: record.team.description,
        member_ids: record.member_ids,
    }
}

fn required_id(violations: &mut FieldViolations, field: &str, id: &str) -> String {
    violations.required_id(field, id).map(|id| id.to_string()).unwrap_or_default()
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
        violations.into_result().map_err(Error::from)?;
        Ok(Response::new(staff_to_proto(self.store.create_staff_user(fields, &actor(&caller, ""), key.as_ref()).await?)))
    }

    async fn get_staff_user(&self, request: Request<pb::GetStaffUserRequest>) -> Result<Response<pb::StaffUser>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.get_ref().id);
        violations.into_result().map_err(Error::from)?;
        Ok(Response::new(staff_to_proto(self.store.get_staff_user(&id).await?)))
    }

    async fn update_staff_user(&self, request: Request<pb::UpdateStaffUserRequest>) -> Result<Response<pb::StaffUser>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let user = request.staff_user.unwrap_or_default();
        let id = required_id(&mut violations, "staff_user.id", &user.id);
        let version = violations.etag("staff_user.etag", &user.etag, true);
        let mask = violations.update_mask(request.update_mask.as_ref(), STAFF_FIELDS);
        let fields = parse_staff(&mut violations, &user, Some(&mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result().map_err(Error::from)?;
        let Some(version) = version else { return Err(Status::internal("validated fields missing")) };
        let updated = self.store.update_staff_user(&id, version, fields, &mask, &actor(&caller, &reason)).await?;
        Ok(Response::new(staff_to_proto(updated)))
    }

    async fn list_staff_users(
        &self,
        request: Request<pb::ListStaffUsersRequest>,
    ) -> Result<Response<pb::ListStaffUsersResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<NameCursor> = page::decode(&mut violations, &request.page_token);
        let filter = StaffFilter {
            query: violations.optional_text("query", &request.query, SHORT_TEXT_MAX),
            team_id: violations.optional_id("team_id", &request.team_id).map(|id| id.to_string()).unwrap_or_default(),
            active_only: request.active_only,
        };
        violations.into_result().map_err(Error::from)?;
        let (rows, next) = self.store.list_staff_users(&filter, after, limit).await?;
        Ok(Response::new(pb::ListStaffUsersResponse {
            staff_users: rows.into_iter().map(staff_to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
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
        violations.into_result().map_err(Error::from)?;
        Ok(Response::new(team_to_proto(self.store.create_team(fields, &actor(&caller, ""), key.as_ref()).await?)))
    }

    async fn get_team(&self, request: Request<pb::GetTeamRequest>) -> Result<Response<pb::Team>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.get_ref().id);
        violations.into_result().map_err(Error::from)?;
        Ok(Response::new(team_to_proto(self.store.get_team(&id).await?)))
    }

    async fn update_team(&self, request: Request<pb::UpdateTeamRequest>) -> Result<Response<pb::Team>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let team = request.team.unwrap_or_default();
        let id = required_id(&mut violations, "team.id", &team.id);
        let version = violations.etag("team.etag", &team.etag, true);
        let mask = violations.update_mask(request.update_mask.as_ref(), TEAM_FIELDS);
        let fields = parse_team(&mut violations, &team, Some(&mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result().map_err(Error::from)?;
        let Some(version) = version else { return Err(Status::internal("validated fields missing")) };
        Ok(Response::new(team_to_proto(self.store.update_team(&id, version, fields, &mask, &actor(&caller, &reason)).await?)))
    }

    async fn list_teams(&self, request: Request<pb::ListTeamsRequest>) -> Result<Response<pb::ListTeamsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<NameCursor> = page::decode(&mut violations, &request.page_token);
        violations.into_result().map_err(Error::from)?;
        let (teams, next) = self.store.list_teams(after, limit).await?;
        Ok(Response::new(pb::ListTeamsResponse {
            teams: teams.into_iter().map(team_to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
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
        let team_id = required_id(&mut violations, "team_id", &request.team_id);
        let staff_id = required_id(&mut violations, "staff_user_id", &request.staff_user_id);
        violations.into_result().map_err(Error::from)?;
        let team = self.store.set_team_member(&team_id, &staff_id, add, &actor(&caller, "")).await?;
        Ok(Response::new(team_to_proto(team)))
    }
}
