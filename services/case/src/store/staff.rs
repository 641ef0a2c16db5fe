//! The staff directory: staff users and teams (queues) with members.

use std::collections::BTreeMap;

use docket_kit::error::is_unique_violation;
use docket_kit::{
    mutation::{self, Edit, Once, unchecked},
    request::{FieldMask, RecordId},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    sea_query::Query,
};

use super::{Actor, Store, contains_ci};
use crate::{
    domain::{
        Changes, StaffId, TeamId,
        commands::{StaffField, StaffFields, StaffUpdate, TeamField, TeamFields, TeamUpdate},
    },
    error::{Error, Result},
    records::{
        TeamRecord,
        entities::{staff_user, team, team_member},
    },
};
use docket_kit::page::{self, NameCursor};

#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    pub query: String,
    pub team_id: Option<TeamId>,
    pub active_only: bool,
}

fn apply_staff(model: &mut staff_user::Model, fields: &StaffFields, mask: &FieldMask<StaffField>, changes: &mut Changes) {
    for field in mask.iter() {
        match field {
            StaffField::Name => changes.assign("name", &mut model.name, &fields.name),
            StaffField::Email => {
                changes.diff("email", &model.email, &fields.email);
                model.email.clone_from(&fields.email);
                model.email_key = fields.email.to_lowercase();
            }
            StaffField::Role => {
                changes.diff("role", &model.role, fields.role.key());
                model.role = fields.role.key().to_owned();
            }
            StaffField::Active => changes.assign("active", &mut model.active, &fields.active),
            StaffField::Available => changes.assign("available", &mut model.available, &fields.available),
            StaffField::CaseCapacity => changes.assign("case_capacity", &mut model.case_capacity, &fields.case_capacity),
            StaffField::OutOfOffice => {
                let periods = serde_json::to_string(&fields.out_of_office).unwrap_or_else(|_| "[]".to_owned());
                changes.diff("out_of_office", absences_text(&model.out_of_office), absences_text(&periods));
                model.out_of_office = periods;
            }
        }
    }
}

/// Out-of-office periods for the trail: `start/end` in RFC 3339, comma-separated.
fn absences_text(stored: &str) -> String {
    crate::records::absences(stored)
        .iter()
        .map(|a| format!("{}/{}", a.start.to_rfc3339(), a.end.to_rfc3339()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn apply_team(model: &mut team::Model, fields: &TeamFields, mask: &FieldMask<TeamField>, changes: &mut Changes) {
    for field in mask.iter() {
        match field {
            TeamField::Name => changes.assign("name", &mut model.name, &fields.name),
            TeamField::Description => changes.assign("description", &mut model.description, &fields.description),
            TeamField::RequeueOnAbsence => {
                changes.assign("requeue_on_absence", &mut model.requeue_on_absence, &fields.requeue_on_absence);
            }
            TeamField::KeepPendingOnAbsence => {
                changes.assign("keep_pending_on_absence", &mut model.keep_pending_on_absence, &fields.keep_pending_on_absence);
            }
        }
    }
}

impl Store {
    pub async fn create_staff_user(&self, fields: StaffFields, by: &Actor<'_>, once: Once<'_>) -> Result<staff_user::Model> {
        self.mutations
            .create(by, once, async |_tx| {
                let mut model = staff_user::Model {
                    id: StaffId::generate().to_string(),
                    name: String::new(),
                    email: String::new(),
                    email_key: String::new(),
                    role: String::new(),
                    active: true,
                    available: true,
                    case_capacity: 0,
                    out_of_office: "[]".to_owned(),
                    version: 1,
                    created_at: by.at,
                    updated_at: by.at,
                };
                let mut changes = Changes::new();
                changes.set("created", "", "");
                apply_staff(&mut model, &fields, &FieldMask::all(), &mut changes);
                Ok((model, changes, Vec::new()))
            })
            .await
    }

    pub async fn get_staff_user(&self, id: StaffId) -> Result<staff_user::Model> {
        mutation::find(&self.db, id).await
    }

    pub async fn update_staff_user(&self, target: StaffUpdate, fields: StaffFields, by: &Actor<'_>) -> Result<staff_user::Model> {
        self.mutations.update_fields(by, &target, &fields, apply_staff, unchecked, |_, _, _| Vec::new()).await
    }

    pub async fn list_staff_users(
        &self,
        filter: &StaffFilter,
        after: Option<NameCursor>,
        limit: u64,
    ) -> Result<(Vec<staff_user::Model>, Option<NameCursor>)> {
        let order = (staff_user::Column::Name, staff_user::Column::Id);
        Ok(page::by_name(&self.db, staff_matching(filter), order, after, limit, |row| (&row.name, &row.id)).await?)
    }

    /// How many staff users the filters select (a list's `total_size`).
    pub async fn count_staff_users(&self, filter: &StaffFilter) -> Result<i64> {
        super::count(&self.db, staff_matching(filter)).await
    }

    /// How many teams there are (a list's `total_size`).
    pub async fn count_teams(&self) -> Result<i64> {
        super::count(&self.db, team::Entity::find()).await
    }

    pub async fn create_team(&self, fields: TeamFields, by: &Actor<'_>, once: Once<'_>) -> Result<TeamRecord> {
        let team = self
            .mutations
            .create(by, once, async |_tx| {
                let mut model = team::Model {
                    id: TeamId::generate().to_string(),
                    name: String::new(),
                    description: String::new(),
                    requeue_on_absence: false,
                    keep_pending_on_absence: false,
                    version: 1,
                    created_at: by.at,
                    updated_at: by.at,
                };
                let mut changes = Changes::new();
                changes.set("created", "", "");
                apply_team(&mut model, &fields, &FieldMask::all(), &mut changes);
                Ok((model, changes, Vec::new()))
            })
            .await?;
        self.team_record(team).await
    }

    async fn team_record(&self, team: team::Model) -> Result<TeamRecord> {
        let mut members = self.team_members(std::slice::from_ref(&team.id)).await?;
        Ok(TeamRecord { member_ids: members.remove(&team.id).unwrap_or_default(), team })
    }

    pub async fn get_team(&self, id: TeamId) -> Result<TeamRecord> {
        let team = mutation::find(&self.db, id).await?;
        self.team_record(team).await
    }

    async fn team_members(&self, team_ids: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
        let rows = team_member::Entity::find()
            .filter(team_member::Column::TeamId.is_in(team_ids.iter().cloned()))
            .order_by_asc(team_member::Column::AddedAt)
            .order_by_asc(team_member::Column::StaffId)
            .all(&self.db)
            .await?;
        let mut by_team: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in rows {
            by_team.entry(row.team_id).or_default().push(row.staff_id);
        }
        Ok(by_team)
    }

    pub async fn update_team(&self, target: TeamUpdate, fields: TeamFields, by: &Actor<'_>) -> Result<TeamRecord> {
        let team = self.mutations.update_fields(by, &target, &fields, apply_team, unchecked, |_, _, _| Vec::new()).await?;
        self.team_record(team).await
    }

    /// Adds (`add = true`) or removes a member; doing what is already so
    /// changes nothing. A change of members is a change of the team.
    pub async fn set_team_member(&self, team_id: TeamId, staff_id: StaffId, add: bool, by: &Actor<'_>) -> Result<TeamRecord> {
        let (team_key, staff_key) = (&team_id.to_string(), &staff_id.to_string());
        let changed = self
            .mutations
            .update(
                by,
                team_key,
                None,
                |tx, current: team::Model| async move {
                    if staff_user::Entity::find_by_id(staff_key.clone()).one(&*tx).await?.is_none() {
                        return Err(Error::field("staff_user_id", format!("no staff user has the id {staff_id}")));
                    }
                    let existing = team_member::Entity::find_by_id((team_key.clone(), staff_key.clone())).one(&*tx).await?;
                    let mut changes = Changes::new();
                    match (add, existing) {
                        (true, None) => {
                            team_member::ActiveModel {
                                team_id: Set(team_key.clone()),
                                staff_id: Set(staff_key.clone()),
                                added_at: Set(by.at),
                            }
                            .insert(&*tx)
                            .await
                            .map_err(|err| match is_unique_violation(&err) {
                                true => {
                                    Error::AlreadyExists { field: "staff_user_id".into(), message: "already a member".into() }
                                }
                                false => err.into(),
                            })?;
                            changes.set("member_added", "", staff_key);
                        }
                        (false, Some(row)) => {
                            row.into_active_model().delete(&*tx).await?;
                            changes.set("member_removed", staff_key, "");
                        }
                        _ => {}
                    }
                    Ok(Edit { after: current.clone(), changes })
                },
                |_, _, _| Vec::new(),
            )
            .await;
        match changed {
            // A concurrent call added the same member: already so.
            Ok(team) => self.team_record(team).await,
            Err(Error::AlreadyExists { .. }) => self.get_team(team_id).await,
            Err(err) => Err(err),
        }
    }

    pub async fn list_teams(&self, after: Option<NameCursor>, limit: u64) -> Result<(Vec<TeamRecord>, Option<NameCursor>)> {
        let order = (team::Column::Name, team::Column::Id);
        let (rows, next) = page::by_name(&self.db, team::Entity::find(), order, after, limit, |row| (&row.name, &row.id)).await?;
        let ids: Vec<String> = rows.iter().map(|t| t.id.clone()).collect();
        let mut members = self.team_members(&ids).await?;
        let teams =
            rows.into_iter().map(|team| TeamRecord { member_ids: members.remove(&team.id).unwrap_or_default(), team }).collect();
        Ok((teams, next))
    }
}

fn staff_matching(filter: &StaffFilter) -> sea_orm::Select<staff_user::Entity> {
    let mut query = staff_user::Entity::find();
    if !filter.query.is_empty() {
        query = query.filter(
            Condition::any()
                .add(contains_ci(staff_user::Column::Name, &filter.query))
                .add(contains_ci(staff_user::Column::Email, &filter.query)),
        );
    }
    if filter.active_only {
        query = query.filter(staff_user::Column::Active.eq(true));
    }
    if let Some(team_id) = filter.team_id {
        query = query.filter(
            staff_user::Column::Id.in_subquery(
                Query::select()
                    .column(team_member::Column::StaffId)
                    .from(team_member::Entity)
                    .and_where(team_member::Column::TeamId.eq(team_id.to_string()))
                    .to_owned(),
            ),
        );
    }
    query
}
