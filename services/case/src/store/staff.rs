//! The staff directory: staff users and teams (queues) with members.

use std::collections::BTreeMap;

use docket_kit::error::is_unique_violation;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, sea_query::Query,
};
use serde::{Deserialize, Serialize};

use super::{
    Actor, Store,
    accounts::page_end,
    contains_ci,
    entities::{staff_user, team, team_member},
    find_idempotent, new_id, remember_idempotent, stale, write_trail,
};
use crate::{
    domain::{
        Changes,
        commands::{Idempotency, StaffFields, TeamFields},
    },
    error::{Error, Result},
};

const STAFF_SCOPE: &str = "CreateStaffUser";
const TEAM_SCOPE: &str = "CreateTeam";

pub const STAFF_FIELDS: &[&str] = &["name", "email", "role", "active", "available"];
pub const TEAM_FIELDS: &[&str] = &["name", "description"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameCursor {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    pub query: String,
    pub team_id: String,
    pub active_only: bool,
}

/// A team with its members' ids in the order they joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub team: team::Model,
    pub member_ids: Vec<String>,
}

fn apply_staff(model: &mut staff_user::Model, fields: &StaffFields, mask: &[&str], changes: &mut Changes) {
    for field in mask {
        match *field {
            "name" => {
                changes.diff("name", &model.name, &fields.name);
                model.name.clone_from(&fields.name);
            }
            "email" => {
                changes.diff("email", &model.email, &fields.email);
                model.email.clone_from(&fields.email);
                model.email_key = fields.email.to_lowercase();
            }
            "role" => {
                changes.diff("role", &model.role, fields.role.key());
                model.role = fields.role.key().to_owned();
            }
            "active" => {
                changes.diff("active", model.active, fields.active);
                model.active = fields.active;
            }
            "available" => {
                changes.diff("available", model.available, fields.available);
                model.available = fields.available;
            }
            _ => {}
        }
    }
}

fn apply_team(model: &mut team::Model, fields: &TeamFields, mask: &[&str], changes: &mut Changes) {
    for field in mask {
        match *field {
            "name" => {
                changes.diff("name", &model.name, &fields.name);
                model.name.clone_from(&fields.name);
            }
            "description" => {
                changes.diff("description", &model.description, &fields.description);
                model.description.clone_from(&fields.description);
            }
            _ => {}
        }
    }
}

fn staff_email_taken(email: &str) -> Error {
    Error::AlreadyExists {
        field: "staff_user.email".to_owned(),
        message: format!("another staff user already has the email address {email}"),
    }
}

fn team_name_taken(name: &str) -> Error {
    Error::AlreadyExists { field: "team.name".to_owned(), message: format!("a team named {name} already exists") }
}

impl Store {
    /// Creates it; a retry that races its own first attempt (and so finds
    /// the email or name taken by it) answers with that first result.
    pub async fn create_staff_user(
        &self,
        fields: StaffFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<staff_user::Model> {
        match self.create_staff_user_once(fields, by, idempotency).await {
            Err(taken @ Error::AlreadyExists { .. }) => match idempotency {
                Some(key) => match find_idempotent(&self.db, STAFF_SCOPE, by.actor, key).await? {
                    Some(id) => self.get_staff_user(&id).await,
                    None => Err(taken),
                },
                None => Err(taken),
            },
            other => other,
        }
    }

    async fn create_staff_user_once(
        &self,
        fields: StaffFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<staff_user::Model> {
        if let Some(key) = idempotency
            && let Some(id) = find_idempotent(&self.db, STAFF_SCOPE, by.actor, key).await?
        {
            return self.get_staff_user(&id).await;
        }
        let txn = self.db.begin().await?;
        let mut model = staff_user::Model {
            id: new_id(),
            name: String::new(),
            email: String::new(),
            email_key: String::new(),
            role: String::new(),
            active: true,
            available: true,
            version: 1,
            created_at: by.at,
            updated_at: by.at,
        };
        let mut changes = Changes::new();
        changes.set("created", "", "");
        apply_staff(&mut model, &fields, STAFF_FIELDS, &mut changes);
        let model = match model.clone().into_active_model().reset_all().insert(&txn).await {
            Ok(model) => model,
            Err(err) if is_unique_violation(&err) => return Err(staff_email_taken(&model.email)),
            Err(err) => return Err(err.into()),
        };
        write_trail(&txn, "staff_user", &model.id, by, &changes).await?;
        if let Some(key) = idempotency
            && !remember_idempotent(&txn, STAFF_SCOPE, by.actor, key, &model.id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_staff_user(fields, by, idempotency)).await;
        }
        txn.commit().await?;
        Ok(model)
    }

    pub async fn get_staff_user(&self, id: &str) -> Result<staff_user::Model> {
        staff_user::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("staff user {id} not found")))
    }

    pub async fn update_staff_user(
        &self,
        id: &str,
        etag: i64,
        fields: StaffFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<staff_user::Model> {
        let txn = self.db.begin().await?;
        let current = staff_user::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("staff user {id} not found")))?;
        if current.version != etag {
            return Err(stale("staff user", id, etag, current.version));
        }
        let mut next = current.clone();
        let mut changes = Changes::new();
        apply_staff(&mut next, &fields, mask, &mut changes);
        if changes.is_empty() {
            return Ok(current);
        }
        next.version += 1;
        next.updated_at = by.at;
        let updated = staff_user::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(staff_user::Column::Id.eq(id))
            .filter(staff_user::Column::Version.eq(current.version))
            .exec(&txn)
            .await;
        let updated = match updated {
            Ok(updated) => updated,
            Err(err) if is_unique_violation(&err) => return Err(staff_email_taken(&next.email)),
            Err(err) => return Err(err.into()),
        };
        if updated.rows_affected == 0 {
            return Err(stale("staff user", id, etag, current.version + 1));
        }
        write_trail(&txn, "staff_user", id, by, &changes).await?;
        txn.commit().await?;
        Ok(next)
    }

    pub async fn list_staff_users(
        &self,
        filter: &StaffFilter,
        after: Option<NameCursor>,
        limit: u64,
    ) -> Result<(Vec<staff_user::Model>, Option<NameCursor>)> {
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
        if !filter.team_id.is_empty() {
            query = query.filter(
                staff_user::Column::Id.in_subquery(
                    Query::select()
                        .column(team_member::Column::StaffId)
                        .from(team_member::Entity)
                        .and_where(team_member::Column::TeamId.eq(filter.team_id.clone()))
                        .to_owned(),
                ),
            );
        }
        if let Some(after) = after {
            query = query.filter(
                Condition::any()
                    .add(staff_user::Column::Name.gt(after.name.clone()))
                    .add(Condition::all().add(staff_user::Column::Name.eq(after.name)).add(staff_user::Column::Id.gt(after.id))),
            );
        }
        let mut rows = query
            .order_by_asc(staff_user::Column::Name)
            .order_by_asc(staff_user::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let next = page_end(&mut rows, limit).map(|last| NameCursor { name: last.name.clone(), id: last.id.clone() });
        Ok((rows, next))
    }

    /// Creates it; a retry that races its own first attempt (and so finds
    /// the name taken by it) answers with that first result.
    pub async fn create_team(&self, fields: TeamFields, by: &Actor<'_>, idempotency: Option<&Idempotency>) -> Result<TeamRecord> {
        match self.create_team_once(fields, by, idempotency).await {
            Err(taken @ Error::AlreadyExists { .. }) => match idempotency {
                Some(key) => match find_idempotent(&self.db, TEAM_SCOPE, by.actor, key).await? {
                    Some(id) => self.get_team(&id).await,
                    None => Err(taken),
                },
                None => Err(taken),
            },
            other => other,
        }
    }

    async fn create_team_once(
        &self,
        fields: TeamFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<TeamRecord> {
        if let Some(key) = idempotency
            && let Some(id) = find_idempotent(&self.db, TEAM_SCOPE, by.actor, key).await?
        {
            return self.get_team(&id).await;
        }
        let txn = self.db.begin().await?;
        let mut model = team::Model {
            id: new_id(),
            name: String::new(),
            description: String::new(),
            version: 1,
            created_at: by.at,
            updated_at: by.at,
        };
        let mut changes = Changes::new();
        changes.set("created", "", "");
        apply_team(&mut model, &fields, TEAM_FIELDS, &mut changes);
        let model = match model.clone().into_active_model().reset_all().insert(&txn).await {
            Ok(model) => model,
            Err(err) if is_unique_violation(&err) => return Err(team_name_taken(&model.name)),
            Err(err) => return Err(err.into()),
        };
        write_trail(&txn, "team", &model.id, by, &changes).await?;
        if let Some(key) = idempotency
            && !remember_idempotent(&txn, TEAM_SCOPE, by.actor, key, &model.id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_team(fields, by, idempotency)).await;
        }
        txn.commit().await?;
        Ok(TeamRecord { team: model, member_ids: Vec::new() })
    }

    pub async fn get_team(&self, id: &str) -> Result<TeamRecord> {
        let team = team::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("team {id} not found")))?;
        let mut members = self.team_members(std::slice::from_ref(&team.id)).await?;
        Ok(TeamRecord { member_ids: members.remove(&team.id).unwrap_or_default(), team })
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

    pub async fn update_team(
        &self,
        id: &str,
        etag: i64,
        fields: TeamFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<TeamRecord> {
        let txn = self.db.begin().await?;
        let current = team::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("team {id} not found")))?;
        if current.version != etag {
            return Err(stale("team", id, etag, current.version));
        }
        let mut next = current.clone();
        let mut changes = Changes::new();
        apply_team(&mut next, &fields, mask, &mut changes);
        if !changes.is_empty() {
            next.version += 1;
            next.updated_at = by.at;
            let updated = team::Entity::update_many()
                .set(next.clone().into_active_model().reset_all())
                .filter(team::Column::Id.eq(id))
                .filter(team::Column::Version.eq(current.version))
                .exec(&txn)
                .await;
            let updated = match updated {
                Ok(updated) => updated,
                Err(err) if is_unique_violation(&err) => return Err(team_name_taken(&next.name)),
                Err(err) => return Err(err.into()),
            };
            if updated.rows_affected == 0 {
                return Err(stale("team", id, etag, current.version + 1));
            }
            write_trail(&txn, "team", id, by, &changes).await?;
            txn.commit().await?;
        } else {
            // SQLite has one connection: release it before reading again.
            drop(txn);
        }
        self.get_team(id).await
    }

    /// Adds (`add = true`) or removes a member; doing what is already so changes nothing.
    pub async fn set_team_member(&self, team_id: &str, staff_id: &str, add: bool, by: &Actor<'_>) -> Result<TeamRecord> {
        let txn = self.db.begin().await?;
        let team = team::Entity::find_by_id(team_id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("team {team_id} not found")))?;
        if staff_user::Entity::find_by_id(staff_id.to_owned()).one(&txn).await?.is_none() {
            return Err(Error::field("staff_user_id", format!("no staff user has the id {staff_id}")));
        }
        let existing = team_member::Entity::find_by_id((team_id.to_owned(), staff_id.to_owned())).one(&txn).await?;
        let mut changes = Changes::new();
        match (add, existing) {
            (true, None) => {
                let added = team_member::ActiveModel {
                    team_id: Set(team_id.to_owned()),
                    staff_id: Set(staff_id.to_owned()),
                    added_at: Set(by.at),
                }
                .insert(&txn)
                .await;
                match added {
                    Ok(_) => changes.set("member_added", "", staff_id),
                    // A concurrent call added the same member: already so.
                    Err(err) if is_unique_violation(&err) => {
                        drop(txn);
                        return self.get_team(team_id).await;
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            (false, Some(row)) => {
                row.into_active_model().delete(&txn).await?;
                changes.set("member_removed", staff_id, "");
            }
            _ => {}
        }
        if !changes.is_empty() {
            let bumped = team::Entity::update_many()
                .set(team::ActiveModel { version: Set(team.version + 1), updated_at: Set(by.at), ..Default::default() })
                .filter(team::Column::Id.eq(team_id))
                .filter(team::Column::Version.eq(team.version))
                .exec(&txn)
                .await?;
            if bumped.rows_affected == 0 {
                return Err(stale("team", team_id, team.version, team.version + 1));
            }
            write_trail(&txn, "team", team_id, by, &changes).await?;
        }
        txn.commit().await?;
        self.get_team(team_id).await
    }

    pub async fn list_teams(&self, after: Option<NameCursor>, limit: u64) -> Result<(Vec<TeamRecord>, Option<NameCursor>)> {
        let mut query = team::Entity::find();
        if let Some(after) = after {
            query = query.filter(
                Condition::any()
                    .add(team::Column::Name.gt(after.name.clone()))
                    .add(Condition::all().add(team::Column::Name.eq(after.name)).add(team::Column::Id.gt(after.id))),
            );
        }
        let mut rows =
            query.order_by_asc(team::Column::Name).order_by_asc(team::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| NameCursor { name: last.name.clone(), id: last.id.clone() });
        let ids: Vec<String> = rows.iter().map(|t| t.id.clone()).collect();
        let mut members = self.team_members(&ids).await?;
        let teams =
            rows.into_iter().map(|team| TeamRecord { member_ids: members.remove(&team.id).unwrap_or_default(), team }).collect();
        Ok((teams, next))
    }
}
