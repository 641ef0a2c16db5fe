//! Escalation rules, and applying them to a case when an SLA alert arrives.

use docket_kit::{
    mask_fields,
    mutation::{self, Edit, Once, Tx},
    request::{FieldMask, RecordId, UpdateTarget},
};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use super::{
    Actor, Store,
    cases::{check_owner, opt_text},
};
use crate::{
    cache::CaseCache,
    domain::{
        Changes, EscalationRuleId, Priority,
        escalation::{Rule, Target, Trigger, raised},
        status,
    },
    error::{Error, Result},
    events::{self, Escalated},
    records::{
        CaseRecord,
        entities::{escalation_rule, staff_user, team},
        rule_of,
    },
};

mask_fields!(
    /// What UpdateEscalationRule may change.
    pub enum RuleField {
        Name,
        Trigger,
        Target,
        Priorities,
        RaisePriority,
        ReassignTeamId,
        ReassignOwnerId,
        NotifyOwner,
        NotifyStaffIds,
        Active,
        Position,
    }
);

pub type RuleUpdate = UpdateTarget<EscalationRuleId, RuleField>;

/// A rule's fields as validated from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFields {
    pub rule: Rule,
    pub active: bool,
    pub position: i32,
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// Copies the masked fields onto the model, recording each change.
fn apply(model: &mut escalation_rule::Model, fields: &RuleFields, mask: &FieldMask<RuleField>, changes: &mut Changes) {
    let rule = &fields.rule;
    let ranks: Vec<i16> = rule.priorities.iter().map(|p| p.rank()).collect();
    for field in mask.iter() {
        match field {
            RuleField::Name => changes.assign("name", &mut model.name, &rule.name),
            RuleField::Trigger => {
                changes.diff("trigger", &model.trigger, rule.trigger.key());
                model.trigger = rule.trigger.key().to_owned();
            }
            RuleField::Target => {
                let target = rule.target.map(Target::key).unwrap_or("");
                changes.diff("target", &model.target, target);
                model.target = target.to_owned();
            }
            RuleField::Priorities => {
                changes.diff("priorities", &model.priorities, json(&ranks));
                model.priorities = json(&ranks);
            }
            RuleField::RaisePriority => changes.assign("raise_priority", &mut model.raise_priority, &rule.raise_priority),
            RuleField::ReassignTeamId => {
                changes.diff("reassign_team_id", opt_text(&model.reassign_team_id), opt_text(&rule.reassign_team_id));
                model.reassign_team_id.clone_from(&rule.reassign_team_id);
            }
            RuleField::ReassignOwnerId => {
                changes.diff("reassign_owner_id", opt_text(&model.reassign_owner_id), opt_text(&rule.reassign_owner_id));
                model.reassign_owner_id.clone_from(&rule.reassign_owner_id);
            }
            RuleField::NotifyOwner => changes.assign("notify_owner", &mut model.notify_owner, &rule.notify_owner),
            RuleField::NotifyStaffIds => {
                changes.diff("notify_staff_ids", &model.notify_staff_ids, json(&rule.notify_staff_ids));
                model.notify_staff_ids = json(&rule.notify_staff_ids);
            }
            RuleField::Active => changes.assign("active", &mut model.active, &fields.active),
            RuleField::Position => changes.assign("position", &mut model.position, &fields.position),
        }
    }
}

/// The staff and team a rule names must exist.
async fn check_rule_references(
    txn: &DatabaseTransaction,
    model: &escalation_rule::Model,
    mask: &FieldMask<RuleField>,
) -> Result<()> {
    if mask.contains(RuleField::ReassignOwnerId)
        && let Some(owner) = &model.reassign_owner_id
    {
        check_owner(txn, "rule.reassign_owner_id", owner).await?;
    }
    if mask.contains(RuleField::ReassignTeamId)
        && let Some(team_id) = &model.reassign_team_id
        && team::Entity::find_by_id(team_id.clone()).one(txn).await?.is_none()
    {
        return Err(Error::field("rule.reassign_team_id", format!("no team has the id {team_id}")));
    }
    if mask.contains(RuleField::NotifyStaffIds) {
        let ids: Vec<String> = serde_json::from_str(&model.notify_staff_ids).unwrap_or_default();
        for (i, id) in ids.iter().enumerate() {
            if staff_user::Entity::find_by_id(id.clone()).one(txn).await?.is_none() {
                return Err(Error::field(format!("rule.notify_staff_ids[{i}]"), format!("no staff user has the id {id}")));
            }
        }
    }
    Ok(())
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
        once: Once<'_>,
    ) -> Result<escalation_rule::Model> {
        self.mutations
            .create(by, once, async |tx| {
                let mut model = escalation_rule::Model {
                    id: EscalationRuleId::generate().to_string(),
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
                apply(&mut model, &fields, &FieldMask::all(), &mut changes);
                check_rule_references(&tx, &model, &FieldMask::all()).await?;
                Ok((model, changes, Vec::new()))
            })
            .await
    }

    pub async fn get_escalation_rule(&self, id: EscalationRuleId) -> Result<escalation_rule::Model> {
        mutation::find(&self.db, id).await
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
        target: RuleUpdate,
        fields: RuleFields,
        by: &Actor<'_>,
    ) -> Result<escalation_rule::Model> {
        let mask = &target.mask;
        let check = |tx: Tx, _, after: escalation_rule::Model| async move { check_rule_references(&tx, &after, mask).await };
        self.mutations.update_fields(by, &target, &fields, apply, check, |_, _, _| Vec::new()).await
    }

    pub async fn delete_escalation_rule(&self, id: EscalationRuleId, etag: Option<i64>, by: &Actor<'_>) -> Result<()> {
        self.delete_rule::<escalation_rule::Entity>(&id.to_string(), etag, by, |rule| &rule.name).await
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
    cache: &CaseCache,
) -> Result<Vec<Escalation>> {
    use docket_kit::mutation::Record;
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
        let Some(before) = CaseRecord::load(txn, case_id).await? else { return Ok(done) };
        let priority = Priority::from_rank(before.case.priority).unwrap_or(Priority::Medium);
        let status = before.status()?;
        if status.is_closed() || !rule.matches(trigger, target, priority) {
            continue;
        }
        let reason = format!("{} ({}): escalation rule \"{}\"", trigger.label(), target.label(), rule.name);
        let by = Actor { actor: by.actor, reason: &reason, at: by.at };
        let mut after = before.clone();
        let mut changes = Changes::new();
        let mut actions = Vec::new();
        let mut priority_change = Changes::new();
        if rule.raise_priority {
            let up = raised(priority);
            if up != priority {
                priority_change.diff("priority", priority.key(), up.key());
                after.case.priority = up.rank();
                actions.push(format!("priority {} -> {}", priority.label(), up.label()));
            }
        }
        for change in priority_change.fields() {
            changes.set(change.field, &change.old, &change.new);
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
            let next = status::assign(status, before.case.owner_id.is_some(), true)?;
            changes.diff("owner_id", opt_text(&before.case.owner_id), owner);
            changes.diff("status", status.key(), next.key());
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
        let escalated =
            Escalated { rule_id: &rule.id, rule_name: &rule.name, trigger, target, actions: &actions, notify_staff_ids: &notify };
        let saved = mutation::save::<_, std::convert::Infallible>(
            txn,
            &by,
            events::SOURCE,
            &before,
            Edit { after, changes },
            |before, saved, _| {
                let mut events = Vec::new();
                if !priority_change.is_empty() {
                    events.push(events::case_updated(saved, &priority_change, &reason));
                }
                if reassigned {
                    events.extend(events::case_assigned(before, saved, &reason));
                }
                events.push(events::case_escalated(saved, &escalated));
                events
            },
        )
        .await?;
        // The consumer commits this change: fence the case before it does.
        cache.fence(&saved.case.id, saved.case.version).await.map_err(Error::Unavailable)?;
        done.push(Escalation { rule, actions, notify });
    }
    Ok(done)
}
