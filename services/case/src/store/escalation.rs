//! Escalation rules, and applying them to a case when an SLA alert arrives.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait,
};

use super::{
    Actor, Store,
    cases::{check_owner, load_for_change, opt_text, save_change},
    entities::{escalation_rule, staff_user, team},
    find_idempotent, new_id, remember_idempotent, stale, write_trail,
};
use crate::{
    domain::{
        Changes, Priority,
        commands::Idempotency,
        escalation::{Rule, Target, Trigger, raised},
        status,
    },
    error::{Error, Result},
};

/// Fields an update may change.
pub const RULE_FIELDS: &[&str] = &[
    "name",
    "trigger",
    "target",
    "priorities",
    "raise_priority",
    "reassign_team_id",
    "reassign_owner_id",
    "notify_owner",
    "notify_staff_ids",
    "active",
    "position",
];

/// A rule's fields as validated from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFields {
    pub rule: Rule,
    pub active: bool,
    pub position: i32,
}

const SCOPE: &str = "CreateEscalationRule";

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// The stored rule as the domain sees it.
pub fn rule_of(model: &escalation_rule::Model) -> Option<Rule> {
    let ranks: Vec<i16> = serde_json::from_str(&model.priorities).unwrap_or_default();
    Some(Rule {
        id: model.id.clone(),
        name: model.name.clone(),
        trigger: Trigger::from_key(&model.trigger)?,
        target: Target::from_key(&model.target),
        priorities: ranks.into_iter().filter_map(Priority::from_rank).collect(),
        raise_priority: model.raise_priority,
        reassign_team_id: model.reassign_team_id.clone(),
        reassign_owner_id: model.reassign_owner_id.clone(),
        notify_owner: model.notify_owner,
        notify_staff_ids: serde_json::from_str(&model.notify_staff_ids).unwrap_or_default(),
    })
}

/// Copies the masked fields onto the model, recording each change.
fn apply(model: &mut escalation_rule::Model, fields: &RuleFields, mask: &[&str], changes: &mut Changes) {
    let rule = &fields.rule;
    let ranks: Vec<i16> = rule.priorities.iter().map(|p| p.rank()).collect();
    for field in mask {
        match *field {
            "name" => {
                changes.diff("name", &model.name, &rule.name);
                model.name.clone_from(&rule.name);
            }
            "trigger" => {
                changes.diff("trigger", &model.trigger, rule.trigger.key());
                model.trigger = rule.trigger.key().to_owned();
            }
            "target" => {
                let target = rule.target.map(Target::key).unwrap_or("");
                changes.diff("target", &model.target, target);
                model.target = target.to_owned();
            }
            "priorities" => {
                changes.diff("priorities", &model.priorities, json(&ranks));
                model.priorities = json(&ranks);
            }
            "raise_priority" => {
                changes.diff("raise_priority", model.raise_priority, rule.raise_priority);
                model.raise_priority = rule.raise_priority;
            }
            "reassign_team_id" => {
                changes.diff("reassign_team_id", opt_text(&model.reassign_team_id), opt_text(&rule.reassign_team_id));
                model.reassign_team_id.clone_from(&rule.reassign_team_id);
            }
            "reassign_owner_id" => {
                changes.diff("reassign_owner_id", opt_text(&model.reassign_owner_id), opt_text(&rule.reassign_owner_id));
                model.reassign_owner_id.clone_from(&rule.reassign_owner_id);
            }
            "notify_owner" => {
                changes.diff("notify_owner", model.notify_owner, rule.notify_owner);
                model.notify_owner = rule.notify_owner;
            }
            "notify_staff_ids" => {
                changes.diff("notify_staff_ids", &model.notify_staff_ids, json(&rule.notify_staff_ids));
                model.notify_staff_ids = json(&rule.notify_staff_ids);
            }
            "active" => {
                changes.diff("active", model.active, fields.active);
                model.active = fields.active;
            }
            "position" => {
                changes.diff("position", model.position, fields.position);
                model.position = fields.position;
            }
            _ => {}
        }
    }
}

/// The staff and team a rule names must exist.
async fn check_rule_references(txn: &DatabaseTransaction, model: &escalation_rule::Model, mask: &[&str]) -> Result<()> {
    if mask.contains(&"reassign_owner_id")
        && let Some(owner) = &model.reassign_owner_id
    {
        check_owner(txn, "rule.reassign_owner_id", owner).await?;
    }
    if mask.contains(&"reassign_team_id")
        && let Some(team_id) = &model.reassign_team_id
        && team::Entity::find_by_id(team_id.clone()).one(txn).await?.is_none()
    {
        return Err(Error::field("rule.reassign_team_id", format!("no team has the id {team_id}")));
    }
    if mask.contains(&"notify_staff_ids") {
        let ids: Vec<String> = serde_json::from_str(&model.notify_staff_ids).unwrap_or_default();
        for (i, id) in ids.iter().enumerate() {
            if staff_user::Entity::find_by_id(id.clone()).one(txn).await?.is_none() {
                return Err(Error::field(format!("rule.notify_staff_ids[{i}]"), format!("no staff user has the id {id}")));
            }
        }
    }
    Ok(())
}

fn name_taken(name: &str) -> Error {
    Error::AlreadyExists { field: "rule.name".into(), message: format!("an escalation rule named {name} already exists") }
}

/// The actions one rule took, for the trail and the escalation event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub rule: Rule,
    pub actions: String,
    /// Staff to email: the rule's list, plus the owner when it says so.
    pub notify: Vec<String>,
}

impl Store {
    pub async fn create_escalation_rule(
        &self,
        fields: RuleFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<escalation_rule::Model> {
        if let Some(key) = idempotency
            && let Some(id) = find_idempotent(&self.db, SCOPE, by.actor, key).await?
        {
            return self.get_escalation_rule(&id).await;
        }
        let txn = self.db.begin().await?;
        let mut model = escalation_rule::Model {
            id: new_id(),
            name: String::new(),
            trigger: String::new(),
            target: String::new(),
            priorities: "[]".into(),
            raise_priority: false,
            reassign_team_id: None,
            reassign_owner_id: None,
            notify_owner: false,
            notify_staff_ids: "[]".into(),
            active: true,
            position: 0,
            version: 1,
            created_at: by.at,
            updated_at: by.at,
        };
        let mut changes = Changes::new();
        changes.set("created", "", &fields.rule.name);
        apply(&mut model, &fields, RULE_FIELDS, &mut changes);
        check_rule_references(&txn, &model, RULE_FIELDS).await?;
        match model.clone().into_active_model().reset_all().insert(&txn).await {
            Ok(_) => {}
            Err(err) if docket_kit::error::is_unique_violation(&err) => return Err(name_taken(&model.name)),
            Err(err) => return Err(err.into()),
        }
        write_trail(&txn, "escalation_rule", &model.id, by, &changes).await?;
        if let Some(key) = idempotency
            && !remember_idempotent(&txn, SCOPE, by.actor, key, &model.id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_escalation_rule(fields, by, idempotency)).await;
        }
        self.commit(txn).await?;
        Ok(model)
    }

    pub async fn get_escalation_rule(&self, id: &str) -> Result<escalation_rule::Model> {
        escalation_rule::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("escalation rule {id} not found")))
    }

    /// Rules in the order they apply.
    pub async fn list_escalation_rules(&self, include_inactive: bool) -> Result<Vec<escalation_rule::Model>> {
        let mut query = escalation_rule::Entity::find();
        if !include_inactive {
            query = query.filter(escalation_rule::Column::Active.eq(true));
        }
        Ok(query
            .order_by_asc(escalation_rule::Column::Position)
            .order_by_asc(escalation_rule::Column::Name)
            .all(&self.db)
            .await?)
    }

    pub async fn update_escalation_rule(
        &self,
        id: &str,
        etag: i64,
        fields: RuleFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<escalation_rule::Model> {
        let txn = self.db.begin().await?;
        let current = escalation_rule::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("escalation rule {id} not found")))?;
        if current.version != etag {
            return Err(stale("escalation rule", id, etag, current.version));
        }
        let mut next = current.clone();
        let mut changes = Changes::new();
        apply(&mut next, &fields, mask, &mut changes);
        if changes.is_empty() {
            return Ok(current);
        }
        check_rule_references(&txn, &next, mask).await?;
        next.version += 1;
        next.updated_at = by.at;
        let updated = escalation_rule::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(escalation_rule::Column::Id.eq(id))
            .filter(escalation_rule::Column::Version.eq(current.version))
            .exec(&txn)
            .await;
        match updated {
            Ok(done) if done.rows_affected == 1 => {}
            Ok(_) => return Err(stale("escalation rule", id, etag, etag + 1)),
            Err(err) if docket_kit::error::is_unique_violation(&err) => return Err(name_taken(&next.name)),
            Err(err) => return Err(err.into()),
        }
        write_trail(&txn, "escalation_rule", id, by, &changes).await?;
        self.commit(txn).await?;
        Ok(next)
    }

    pub async fn delete_escalation_rule(&self, id: &str, etag: Option<i64>, by: &Actor<'_>) -> Result<()> {
        let txn = self.db.begin().await?;
        let current = escalation_rule::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("escalation rule {id} not found")))?;
        if let Some(etag) = etag
            && current.version != etag
        {
            return Err(stale("escalation rule", id, etag, current.version));
        }
        escalation_rule::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
        let mut changes = Changes::new();
        changes.set("deleted", &current.name, "");
        write_trail(&txn, "escalation_rule", id, by, &changes).await?;
        self.commit(txn).await?;
        Ok(())
    }
}

/// Applies every active rule that matches an SLA alert to the case, inside
/// the consumer's transaction (its inbox row commits with the changes, so a
/// redelivered alert escalates nothing twice). Each rule's actions are one
/// change of the case, in its trail under the rule's name, followed by a
/// `case.escalated` event. A closed case is left alone.
pub async fn escalate(
    txn: &DatabaseTransaction,
    case_id: &str,
    trigger: Trigger,
    target: Target,
    by: &Actor<'_>,
) -> Result<Vec<Escalation>> {
    let rules: Vec<Rule> = escalation_rule::Entity::find()
        .filter(escalation_rule::Column::Active.eq(true))
        .order_by_asc(escalation_rule::Column::Position)
        .order_by_asc(escalation_rule::Column::Name)
        .all(txn)
        .await?
        .iter()
        .filter_map(rule_of)
        .collect();
    let mut done = Vec::new();
    for rule in rules {
        let before = match load_for_change(txn, case_id, None).await {
            Ok(case) => case,
            Err(Error::NotFound(_)) => return Ok(done),
            Err(err) => return Err(err),
        };
        let priority = Priority::from_rank(before.case.priority).unwrap_or(Priority::Medium);
        if before.status().is_closed() || !rule.matches(trigger, target, priority) {
            continue;
        }
        let reason = format!("{} ({}): escalation rule \"{}\"", trigger.label(), target.label(), rule.name);
        let by = Actor { actor: by.actor, reason: &reason, at: by.at };
        let mut after = before.clone();
        let mut changes = Changes::new();
        let mut actions = Vec::new();
        if rule.raise_priority {
            let up = raised(priority);
            if up != priority {
                changes.diff("priority", priority.label(), up.label());
                after.case.priority = up.rank();
                actions.push(format!("priority {} -> {}", priority.label(), up.label()));
            }
        }
        let mut reassigned = false;
        if let Some(team_id) = &rule.reassign_team_id
            && before.case.team_id.as_ref() != Some(team_id)
            && team::Entity::find_by_id(team_id.clone()).one(txn).await?.is_some()
        {
            changes.diff("team_id", opt_text(&before.case.team_id), team_id);
            after.case.team_id = Some(team_id.clone());
            actions.push(format!("team -> {team_id}"));
            reassigned = true;
        }
        if let Some(owner) = &rule.reassign_owner_id
            && before.case.owner_id.as_ref() != Some(owner)
            && check_owner(txn, "reassign_owner_id", owner).await.is_ok()
        {
            let next = status::assign(before.status(), before.case.owner_id.is_some(), true)?;
            changes.diff("owner_id", opt_text(&before.case.owner_id), owner);
            changes.diff("status", before.status().label(), next.label());
            after.case.owner_id = Some(owner.clone());
            after.case.status = next.key().to_owned();
            actions.push(format!("owner -> {owner}"));
            reassigned = true;
        }
        let mut notify = rule.notify_staff_ids.clone();
        if rule.notify_owner
            && let Some(owner) = &after.case.owner_id
            && !notify.contains(owner)
        {
            notify.push(owner.clone());
        }
        if !notify.is_empty() {
            actions.push(format!("notified {}", notify.join(", ")));
        }
        if actions.is_empty() {
            continue;
        }
        let actions = actions.join("; ");
        changes.set("escalation", "", format!("{}: {actions}", rule.name));
        let saved = save_change(txn, &before, after, &changes, &by).await?;
        if rule.raise_priority && saved.case.priority != before.case.priority {
            let mut priority_change = Changes::new();
            priority_change.diff("priority", priority.label(), raised(priority).label());
            crate::events::case_updated(txn, &saved, &priority_change, &by).await?;
        }
        if reassigned {
            crate::events::case_assigned(txn, &before, &saved, &by).await?;
        }
        let escalation = Escalation { rule, actions, notify };
        crate::events::case_escalated(txn, &saved, &escalation, trigger, target, &by).await?;
        done.push(escalation);
    }
    Ok(done)
}
