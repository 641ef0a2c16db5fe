//! Assignment rules, the routing settings, and routing a new case: the rule
//! that matches it, and the team member who gets it.

use docket_kit::{
    db::placeholder,
    mask_fields,
    mutation::{self, Edit, Once, Record as _, Tx},
    request::{FieldMask, RecordId, UpdateTarget},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Statement, Value,
};

use super::{Actor, Store, cases::check_owner};
use crate::{
    domain::{
        AccountTier, AssignmentRuleId, Changes, Channel, Priority, StaffRole,
        routing::{self, Agent, CaseFacts, Method, Routed, Rule},
    },
    error::{Error, Result},
    records::{
        CaseRecord, absences, assignment_rule_of,
        entities::{account, assignment_rule, case_type, routing_settings, routing_wait, team},
    },
};

mask_fields!(
    /// What UpdateAssignmentRule may change.
    pub enum AssignmentRuleField {
        Name,
        Position,
        Active,
        CaseTypeIds,
        Priorities,
        Channels,
        AccountIds,
        AccountTiers,
        WebFormIds,
        Tags,
        SubjectWords,
        Method,
        TeamId,
        OwnerId,
        Capacity,
    }
);

pub type AssignmentRuleUpdate = UpdateTarget<AssignmentRuleId, AssignmentRuleField>;

/// A rule's fields as validated from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRuleFields {
    pub rule: Rule,
    pub active: bool,
    pub position: i32,
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// Copies the masked fields onto the model, recording each change.
fn apply(
    model: &mut assignment_rule::Model,
    fields: &AssignmentRuleFields,
    mask: &FieldMask<AssignmentRuleField>,
    changes: &mut Changes,
) {
    use AssignmentRuleField as F;
    let rule = &fields.rule;
    let when = &rule.conditions;
    let mut list = |name: &'static str, stored: &mut String, value: String| {
        changes.diff(name, stored.as_str(), &value);
        *stored = value;
    };
    for field in mask.iter() {
        match field {
            F::CaseTypeIds => list("case_type_ids", &mut model.case_type_ids, json(&when.case_type_ids)),
            F::Priorities => {
                let ranks: Vec<i16> = when.priorities.iter().map(|p| p.rank()).collect();
                list("priorities", &mut model.priorities, json(&ranks));
            }
            F::Channels => {
                let keys: Vec<&str> = when.channels.iter().map(|c| c.key()).collect();
                list("channels", &mut model.channels, json(&keys));
            }
            F::AccountIds => list("account_ids", &mut model.account_ids, json(&when.account_ids)),
            F::AccountTiers => {
                let keys: Vec<&str> = when.account_tiers.iter().map(|t| t.key()).collect();
                list("account_tiers", &mut model.account_tiers, json(&keys));
            }
            F::WebFormIds => list("web_form_ids", &mut model.web_form_ids, json(&when.web_form_ids)),
            F::Tags => list("tags", &mut model.tags, json(&when.tags)),
            F::SubjectWords => list("subject_words", &mut model.subject_words, json(&when.subject_words)),
            F::Method => list("method", &mut model.method, rule.method.key().to_owned()),
            _ => {}
        }
    }
    for field in mask.iter() {
        match field {
            F::Name => changes.assign("name", &mut model.name, &rule.name),
            F::Position => changes.assign("position", &mut model.position, &fields.position),
            F::Active => changes.assign("active", &mut model.active, &fields.active),
            F::TeamId => {
                changes.diff("team_id", model.team_id.as_deref().unwrap_or(""), rule.team_id.as_deref().unwrap_or(""));
                model.team_id.clone_from(&rule.team_id);
            }
            F::OwnerId => {
                changes.diff("owner_id", model.owner_id.as_deref().unwrap_or(""), rule.owner_id.as_deref().unwrap_or(""));
                model.owner_id.clone_from(&rule.owner_id);
            }
            F::Capacity => changes.assign("capacity", &mut model.capacity, &rule.capacity),
            _ => {}
        }
    }
}

/// What a rule names must exist, and its action must fit its method (an
/// update may change the method without the team, so this checks the rule
/// as it will be stored).
async fn check_rule(
    txn: &DatabaseTransaction,
    model: &assignment_rule::Model,
    mask: &FieldMask<AssignmentRuleField>,
) -> Result<()> {
    use AssignmentRuleField as F;
    let Some(rule) = assignment_rule_of(model) else {
        return Err(Error::field("rule.method", format!("`{}` is not a routing method", model.method)));
    };
    let shape_changed = [F::Method, F::TeamId, F::OwnerId, F::Capacity].into_iter().any(|f| mask.contains(f));
    if shape_changed {
        match (rule.method, &rule.team_id, &rule.owner_id) {
            (Method::Person, _, None) => return Err(Error::field("rule.owner_id", "a person rule names the person")),
            (Method::Person, _, Some(_)) => {}
            (_, None, _) => return Err(Error::field("rule.team_id", "the rule routes to a team: name it")),
            (_, Some(_), Some(_)) => return Err(Error::field("rule.owner_id", "only a person rule names an owner")),
            (_, Some(_), None) => {}
        }
        match rule.method {
            Method::Capacity if !(1..=routing::CAPACITY_MAX).contains(&rule.capacity) => {
                return Err(Error::field("rule.capacity", format!("must be between 1 and {}", routing::CAPACITY_MAX)));
            }
            Method::Capacity => {}
            _ if rule.capacity != 0 => return Err(Error::field("rule.capacity", "only a capacity rule has a capacity")),
            _ => {}
        }
    }
    if mask.contains(F::TeamId)
        && let Some(team_id) = &rule.team_id
        && team::Entity::find_by_id(team_id.clone()).one(txn).await?.is_none()
    {
        return Err(Error::field("rule.team_id", format!("no team has the id {team_id}")));
    }
    if mask.contains(F::OwnerId)
        && let Some(owner) = &rule.owner_id
    {
        check_owner(txn, "rule.owner_id", owner).await?;
    }
    if mask.contains(F::CaseTypeIds) {
        for (i, id) in rule.conditions.case_type_ids.iter().enumerate() {
            if case_type::Entity::find_by_id(id.clone()).one(txn).await?.is_none() {
                return Err(Error::field(format!("rule.case_type_ids[{i}]"), format!("no case type has the id {id}")));
            }
        }
    }
    if mask.contains(F::AccountIds) {
        for (i, id) in rule.conditions.account_ids.iter().enumerate() {
            if account::Entity::find_by_id(id.clone()).one(txn).await?.is_none() {
                return Err(Error::field(format!("rule.account_ids[{i}]"), format!("no account has the id {id}")));
            }
        }
    }
    Ok(())
}

/// The row of the routing settings.
const SETTINGS_ROW: i32 = 1;

impl Store {
    pub async fn create_assignment_rule(
        &self,
        fields: AssignmentRuleFields,
        by: &Actor<'_>,
        once: Once<'_>,
    ) -> Result<assignment_rule::Model> {
        self.mutations
            .create(by, once, async |tx| {
                let mut model = assignment_rule::Model {
                    id: AssignmentRuleId::generate().to_string(),
                    name: String::new(),
                    position: 0,
                    active: true,
                    case_type_ids: "[]".into(),
                    priorities: "[]".into(),
                    channels: "[]".into(),
                    account_ids: "[]".into(),
                    account_tiers: "[]".into(),
                    web_form_ids: "[]".into(),
                    tags: "[]".into(),
                    subject_words: "[]".into(),
                    method: String::new(),
                    team_id: None,
                    owner_id: None,
                    capacity: 0,
                    version: 1,
                    created_at: by.at,
                    updated_at: by.at,
                };
                let mut changes = Changes::new();
                changes.set("created", "", &fields.rule.name);
                apply(&mut model, &fields, &FieldMask::all(), &mut changes);
                check_rule(&tx, &model, &FieldMask::all()).await?;
                Ok((model, changes, Vec::new()))
            })
            .await
    }

    pub async fn get_assignment_rule(&self, id: AssignmentRuleId) -> Result<assignment_rule::Model> {
        mutation::find(&self.db, id).await
    }

    /// Rules in the order they are tried.
    pub async fn list_assignment_rules(&self, include_inactive: bool) -> Result<Vec<assignment_rule::Model>> {
        ordered_rules(&self.db, include_inactive).await
    }

    pub async fn update_assignment_rule(
        &self,
        target: AssignmentRuleUpdate,
        fields: AssignmentRuleFields,
        by: &Actor<'_>,
    ) -> Result<assignment_rule::Model> {
        let mask = &target.mask;
        let check = |tx: Tx, _, after: assignment_rule::Model| async move { check_rule(&tx, &after, mask).await };
        self.mutations.update_fields(by, &target, &fields, apply, check, |_, _, _| Vec::new()).await
    }

    pub async fn delete_assignment_rule(&self, id: AssignmentRuleId, etag: Option<i64>, by: &Actor<'_>) -> Result<()> {
        self.delete_rule::<assignment_rule::Entity>(&id.to_string(), etag, by, |rule| &rule.name).await
    }

    /// Puts every rule in the order of `ids` (each rule once), trailing
    /// each position that moved.
    pub async fn reorder_assignment_rules(&self, ids: &[String], by: &Actor<'_>) -> Result<Vec<assignment_rule::Model>> {
        self.mutations
            .run(by, async |tx| {
                let rules = ordered_rules(&*tx, true).await?;
                let mut wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
                wanted.sort_unstable();
                let mut have: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
                have.sort_unstable();
                if wanted != have {
                    return Err(Error::field("rule_ids", "must name every assignment rule exactly once"));
                }
                for rule in rules {
                    let position = ids.iter().position(|id| *id == rule.id).unwrap_or_default() as i32;
                    let mut after = rule.clone();
                    let mut changes = Changes::new();
                    changes.assign("position", &mut after.position, &position);
                    if !changes.is_empty() {
                        tx.save::<_, std::convert::Infallible>(&rule, Edit { after, changes }, |_, _, _| Vec::new()).await?;
                    }
                }
                ordered_rules(&*tx, true).await
            })
            .await
    }

    pub async fn routing_settings(&self) -> Result<routing_settings::Model> {
        Ok(settings(&self.db).await?)
    }

    pub async fn update_routing_settings(
        &self,
        default_team_id: Option<String>,
        by: &Actor<'_>,
    ) -> Result<routing_settings::Model> {
        self.mutations
            .run(by, async |tx| {
                if let Some(team_id) = &default_team_id
                    && team::Entity::find_by_id(team_id.clone()).one(&*tx).await?.is_none()
                {
                    return Err(Error::field("settings.default_team_id", format!("no team has the id {team_id}")));
                }
                let current = settings(&*tx).await?;
                let mut changes = Changes::new();
                changes.diff(
                    "default_team_id",
                    current.default_team_id.as_deref().unwrap_or(""),
                    default_team_id.as_deref().unwrap_or(""),
                );
                if changes.is_empty() {
                    return Ok(current);
                }
                let exists = routing_settings::Entity::find_by_id(SETTINGS_ROW).one(&*tx).await?.is_some();
                let row = routing_settings::ActiveModel {
                    id: Set(SETTINGS_ROW),
                    default_team_id: Set(default_team_id.clone()),
                    updated_at: Set(by.at),
                };
                let saved = if exists { row.update(&*tx).await? } else { row.insert(&*tx).await? };
                tx.trail("routing_settings", "default", &changes).await?;
                Ok(saved)
            })
            .await
    }
}

async fn ordered_rules(db: &impl ConnectionTrait, include_inactive: bool) -> Result<Vec<assignment_rule::Model>> {
    let mut query = assignment_rule::Entity::find();
    if !include_inactive {
        query = query.filter(assignment_rule::Column::Active.eq(true));
    }
    Ok(query.order_by_asc(assignment_rule::Column::Position).order_by_asc(assignment_rule::Column::Name).all(db).await?)
}

async fn settings(db: &impl ConnectionTrait) -> std::result::Result<routing_settings::Model, sea_orm::DbErr> {
    Ok(routing_settings::Entity::find_by_id(SETTINGS_ROW).one(db).await?.unwrap_or(routing_settings::Model {
        id: SETTINGS_ROW,
        default_team_id: None,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    }))
}

/// The version of the assignment rules (the `assignment_rules` counter,
/// which triggers move on every write to the rules: migration
/// `m20261205_000012_assignment_rules_version`) and the default team, as a
/// branch of the query a create reads its references with.
pub(super) const VERSION_AND_DEFAULT_TEAM: &str = "SELECT 'routing' AS kind, CAST(c.value AS TEXT) AS id, 1 AS active, \
     COALESCE((SELECT s.default_team_id FROM routing_settings s WHERE s.id = 1), '') AS extra \
     FROM counters c WHERE c.name = 'assignment_rules'";

/// The active assignment rules in order, as a store last read them, with
/// their version: a create reads the version with its references and
/// reads the rules again only when it moved (another replica's change
/// included), so routing a create costs no query of its own.
#[derive(Debug, Clone, Default)]
pub struct RoutingCache(std::sync::Arc<std::sync::Mutex<Option<KeptRules>>>);

/// Rules and the version they were read at.
type KeptRules = (i64, std::sync::Arc<Vec<Rule>>);

impl RoutingCache {
    /// Whether routing a case of `team` may take a team's turn by the kept
    /// rules; so when none are kept yet.
    pub(super) fn may_take_turns(&self, team: Option<&str>) -> bool {
        match self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
            Some((_, rules)) => may_take_turns(rules, team),
            None => true,
        }
    }

    /// The active rules as of `version` (read in `txn`): the kept ones
    /// when they are of that version, else read in `txn` and kept.
    pub(super) async fn rules(&self, txn: &impl ConnectionTrait, version: i64) -> Result<std::sync::Arc<Vec<Rule>>> {
        if let Some((kept, rules)) = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref()
            && *kept == version
        {
            return Ok(rules.clone());
        }
        // Read after the version: never older than it.
        let rules = std::sync::Arc::new(active_rules(txn).await?);
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((version, rules.clone()));
        Ok(rules)
    }
}

async fn active_rules(txn: &impl ConnectionTrait) -> Result<Vec<Rule>> {
    Ok(ordered_rules(txn, false).await?.iter().filter_map(assignment_rule_of).collect())
}

/// Routes a case without an owner (new, reopened, moved to a team, or
/// taken from an absent agent): sets its team and owner on `record` as the
/// first matching rule says, judging who can take a case at `at` (see the
/// AssignmentRuleService comment in `routing.proto`); the caller sets the
/// status that follows. `None` when nothing decided (no rule matched and
/// there is no default team, or the case has a team no rule routes to).
pub(super) async fn route_case(
    txn: &DatabaseTransaction,
    record: &mut CaseRecord,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Routed>> {
    let rules = active_rules(txn).await?;
    let default_team = settings(txn).await?.default_team_id;
    route_with(txn, record, at, &rules, default_team).await
}

/// A connection routing runs on: a change's transaction, or a create's
/// held connection (see `Store::create_case_alone`), which only reads and
/// so cannot take a team's turn.
pub(super) trait RoutesOn: ConnectionTrait {
    fn transaction(&self) -> Option<&DatabaseTransaction>;
}

impl RoutesOn for DatabaseTransaction {
    fn transaction(&self) -> Option<&DatabaseTransaction> {
        Some(self)
    }
}

impl RoutesOn for docket_kit::db::Held {
    fn transaction(&self) -> Option<&DatabaseTransaction> {
        None
    }
}

/// Whether routing a case of `team` (none: any) by `rules` may take a
/// team's turn, a write that needs the transaction.
pub(super) fn may_take_turns(rules: &[Rule], team: Option<&str>) -> bool {
    rules.iter().any(|rule| rule.method.takes_turns() && (team.is_none() || rule.team_id.as_deref() == team))
}

/// [`route_case`] with the active rules and default team read already.
pub(super) async fn route_with(
    txn: &impl RoutesOn,
    record: &mut CaseRecord,
    at: chrono::DateTime<chrono::Utc>,
    rules: &[Rule],
    default_team: Option<String>,
) -> Result<Option<Routed>> {
    let chosen_team = record.case.team_id.clone();
    let rules: Vec<&Rule> = rules.iter().filter(|rule| chosen_team.is_none() || rule.team_id == chosen_team).collect();
    let needs_tier = rules.iter().any(|r| !r.conditions.account_tiers.is_empty());
    let account_tier = if needs_tier {
        account::Entity::find_by_id(record.case.account_id.clone()).one(txn).await?.and_then(|a| AccountTier::from_key(&a.tier))
    } else {
        None
    };
    let case = &record.case;
    let facts = CaseFacts {
        type_id: &case.type_id,
        priority: Priority::from_rank(case.priority).unwrap_or(Priority::Medium),
        channel: Channel::from_key(&case.channel).unwrap_or(Channel::Api),
        account_id: &case.account_id,
        account_tier,
        web_form_id: case.web_form_id.as_deref(),
        tags: &record.tags,
        subject: &case.subject,
    };
    let Some(rule) = rules.into_iter().find(|rule| rule.conditions.matches(&facts)) else {
        if chosen_team.is_some() {
            return Ok(None);
        }
        let Some(default_team) = default_team else { return Ok(None) };
        let name = team_name(txn, &default_team).await?;
        record.case.team_id = Some(default_team);
        return Ok(Some(Routed { rule: None, method: None, reason: format!("no rule matched: {name}'s queue") }));
    };
    // Where the case goes, who takes it, why not (when nobody does), and the
    // team's name when the method read it already.
    let (team_id, owner, how, read_name) = match rule.method {
        Method::TeamQueue => (rule.team_id.clone(), None, "", None),
        Method::Person => {
            let person = rule.owner_id.clone().unwrap_or_default();
            // The team the case goes to either way, unless it is the
            // default team of a person who is away.
            let team = rule.team_id.clone().or(default_team);
            let (takes, name) = person_and_team_name(txn, &person, team.as_deref(), at).await?;
            if takes {
                (rule.team_id.clone(), Some(person), "", name)
            } else {
                (team, None, " (the person is away: into the queue)", name)
            }
        }
        Method::RoundRobin | Method::LeastLoaded | Method::Capacity => {
            let Some(txn) = txn.transaction() else {
                return Err(Error::Database(sea_orm::DbErr::Custom(format!(
                    "rule \"{}\" takes a team's turn, which needs a transaction",
                    rule.name
                ))));
            };
            let team_id = rule.team_id.clone().unwrap_or_default();
            let owner = distribute(txn, &team_id, rule, at).await?;
            let how = match (&owner, rule.method) {
                (None, Method::Capacity) => {
                    wait_for_room(txn, &record.case.id, &team_id, &rule.id, at).await?;
                    " (everyone is at capacity: waiting in the queue)"
                }
                (None, _) => " (nobody is available: into the queue)",
                (Some(_), _) => "",
            };
            (Some(team_id), owner, how, None)
        }
    };
    let target = match (&team_id, read_name) {
        (Some(team), None) => format!(" in {}", team_name(txn, team).await?),
        (Some(_), Some(name)) => format!(" in {name}"),
        (None, _) => String::new(),
    };
    record.case.team_id = team_id;
    record.case.owner_id = owner;
    let reason = format!("rule \"{}\": {}{target}{how}", rule.name, rule.method.label());
    Ok(Some(Routed { rule: Some((rule.id.clone(), rule.name.clone())), method: Some(rule.method), reason }))
}

async fn team_name(txn: &impl ConnectionTrait, team_id: &str) -> Result<String> {
    Ok(team::Entity::find_by_id(team_id.to_owned()).one(txn).await?.map(|t| t.name).unwrap_or_else(|| team_id.to_owned()))
}

/// [`can_take_cases`] for `staff_id`, and the name of `team_id` (when it
/// names a team that exists), in one read: a person rule needs both.
async fn person_and_team_name(
    txn: &impl ConnectionTrait,
    staff_id: &str,
    team_id: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(bool, Option<String>)> {
    let backend = txn.get_database_backend();
    let sql = format!(
        "SELECT (SELECT t.name FROM teams t WHERE t.id = {}) AS team_name, \
         s.active, s.available, s.role, s.out_of_office \
         FROM (SELECT 1 AS one) one LEFT JOIN staff_users s ON s.id = {}",
        placeholder(backend, 1),
        placeholder(backend, 2)
    );
    let values: [Value; 2] = [team_id.unwrap_or_default().into(), staff_id.into()];
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("a select of one row answered none".to_owned()))?;
    let name: Option<String> = row.try_get("", "team_name")?;
    let takes = match row.try_get::<Option<bool>>("", "active")? {
        Some(active) => takes_cases(
            active,
            row.try_get("", "available")?,
            &row.try_get::<String>("", "role")?,
            &row.try_get::<String>("", "out_of_office")?,
            at,
        ),
        None => false,
    };
    Ok((takes, name))
}

/// Whether a staff user can be handed a case now: active, available, not
/// away, and allowed to work cases.
pub(super) async fn can_take_cases(txn: &DatabaseTransaction, staff_id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<bool> {
    use crate::records::entities::staff_user;
    Ok(staff_user::Entity::find_by_id(staff_id.to_owned())
        .one(txn)
        .await?
        .is_some_and(|user| takes_cases(user.active, user.available, &user.role, &user.out_of_office, at)))
}

/// One staff user's presence as stored: active, available, not out of
/// office at `at`, and in a role that works cases.
fn takes_cases(active: bool, available: bool, role: &str, out_of_office: &str, at: chrono::DateTime<chrono::Utc>) -> bool {
    role != StaffRole::Viewer.key() && routing::absence(active, available, &absences(out_of_office), at).is_none()
}

/// Hands a case of `team_id` to a member as the rule's method says, or to
/// nobody when nobody can take it. Takes the team's turn row first: on
/// PostgreSQL a row lock held to commit, so concurrent distributions into
/// one team, on any replica, each see the others' choices (the turn, and
/// every agent's open cases); SQLite has one writer anyway.
async fn distribute(
    txn: &DatabaseTransaction,
    team_id: &str,
    rule: &Rule,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<String>> {
    let last = take_turn_row(txn, team_id).await?;
    let agents = team_agents(txn, team_id, at).await?;
    let chosen = match rule.method {
        Method::RoundRobin => routing::next_in_turn(&agents, last.as_deref()),
        Method::LeastLoaded => routing::least_loaded(&agents),
        Method::Capacity => routing::with_room(&agents, rule.capacity),
        Method::TeamQueue | Method::Person => None,
    };
    let Some(chosen) = chosen.map(|a| a.id.clone()) else { return Ok(None) };
    let backend = txn.get_database_backend();
    let sql = format!(
        "UPDATE routing_turns SET last_staff_id = {}, turns = turns + 1 WHERE team_id = {}",
        placeholder(backend, 1),
        placeholder(backend, 2)
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, [chosen.clone().into(), team_id.into()])).await?;
    Ok(Some(chosen))
}

/// Locks the team's turn row (making it on first use) and reads who had
/// the last turn.
async fn take_turn_row(txn: &DatabaseTransaction, team_id: &str) -> Result<Option<String>> {
    let backend = txn.get_database_backend();
    let p1 = placeholder(backend, 1);
    let insert = format!(
        "INSERT INTO routing_turns (team_id, last_staff_id, turns) VALUES ({p1}, NULL, 0) ON CONFLICT (team_id) DO NOTHING"
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, insert, [team_id.into()])).await?;
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE" } else { "" };
    let select = format!("SELECT last_staff_id FROM routing_turns WHERE team_id = {p1}{lock}");
    let row = txn.query_one_raw(Statement::from_sql_and_values(backend, select, [team_id.into()])).await?;
    Ok(match row {
        Some(row) => row.try_get("", "last_staff_id")?,
        None => None,
    })
}

/// The team's members in the team's order, with what distribution weighs:
/// whether they can take a case now, and their open cases (all teams).
async fn team_agents(txn: &DatabaseTransaction, team_id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<Vec<Agent>> {
    let backend = txn.get_database_backend();
    let (p1, p2) = (placeholder(backend, 1), placeholder(backend, 2));
    let open = super::reports::OPEN.iter().map(|s| format!("'{}'", s.key())).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT s.id, s.active, s.available, s.role, s.case_capacity, s.out_of_office, \
                COALESCE(w.open_cases, 0) AS open_cases, COALESCE(w.weighted, 0) AS weighted \
         FROM team_members m JOIN staff_users s ON s.id = m.staff_id \
         LEFT JOIN (SELECT owner_id, COUNT(*) AS open_cases, SUM(priority) AS weighted FROM cases \
                    WHERE status IN ({open}) \
                      AND owner_id IN (SELECT staff_id FROM team_members WHERE team_id = {p1}) \
                    GROUP BY owner_id) w ON w.owner_id = s.id \
         WHERE m.team_id = {p2} \
         ORDER BY m.added_at, m.staff_id"
    );
    let values: Vec<Value> = vec![team_id.into(), team_id.into()];
    let rows = txn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let mut agents = Vec::with_capacity(rows.len());
    for row in rows {
        let active: bool = row.try_get("", "active")?;
        let available: bool = row.try_get("", "available")?;
        let role: String = row.try_get("", "role")?;
        let out_of_office: String = row.try_get("", "out_of_office")?;
        let capacity: i32 = row.try_get("", "case_capacity")?;
        agents.push(Agent {
            id: row.try_get("", "id")?,
            eligible: takes_cases(active, available, &role, &out_of_office, at),
            open_cases: row.try_get("", "open_cases")?,
            load: row.try_get("", "weighted")?,
            capacity: (capacity > 0).then_some(capacity),
        });
    }
    Ok(agents)
}

/// Puts a case in its team's capacity queue.
async fn wait_for_room(
    txn: &DatabaseTransaction,
    case_id: &str,
    team_id: &str,
    rule_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    // A case waits in one queue: the one it was last routed into.
    routing_wait::Entity::delete_by_id(case_id.to_owned()).exec(txn).await?;
    routing_wait::ActiveModel {
        case_id: Set(case_id.to_owned()),
        team_id: Set(team_id.to_owned()),
        rule_id: Set(rule_id.to_owned()),
        queued_at: Set(at),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Hands out waiting cases of every team `staff_id` belongs to that has a
/// capacity queue, now that they may have room (a case of theirs closed or
/// went to someone else): most urgent first, then oldest, each to whoever
/// has room by its rule, until nobody has. Runs in the transaction of the
/// case service's consumer of its own events, so a crash before commit
/// hands the same cases out on redelivery, never twice.
pub async fn hand_out_waiting(txn: &DatabaseTransaction, staff_id: &str, by: &Actor<'_>) -> Result<Vec<CaseRecord>> {
    let backend = txn.get_database_backend();
    let sql = format!(
        "SELECT DISTINCT w.team_id FROM routing_waits w JOIN team_members m ON m.team_id = w.team_id \
         WHERE m.staff_id = {} ORDER BY w.team_id",
        placeholder(backend, 1)
    );
    let teams: Vec<String> = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [staff_id.into()]))
        .await?
        .iter()
        .map(|row| row.try_get("", "team_id"))
        .collect::<std::result::Result<_, _>>()?;
    let mut handed = Vec::new();
    for team_id in teams {
        handed.extend(hand_out_team(txn, &team_id, by).await?);
    }
    Ok(handed)
}

/// The cases a hand-out saved, noted on its change: they were saved with
/// the consumer's `mutation::save`, which `Tx` does not see (see [`Tx::note_saved`]).
fn noted(tx: &Tx, handed: Vec<CaseRecord>) -> Result<Vec<CaseRecord>> {
    for case in &handed {
        tx.note_saved(CaseRecord::KIND, &case.case.id, case.case.version);
    }
    Ok(handed)
}

/// [`hand_out_waiting`] for one team, under its turn row's lock.
async fn hand_out_team(txn: &DatabaseTransaction, team_id: &str, by: &Actor<'_>) -> Result<Vec<CaseRecord>> {
    take_turn_row(txn, team_id).await?;
    let backend = txn.get_database_backend();
    let sql = format!(
        "SELECT w.case_id, w.rule_id FROM routing_waits w JOIN cases c ON c.id = w.case_id \
         WHERE w.team_id = {} ORDER BY c.priority DESC, c.created_at, c.number",
        placeholder(backend, 1)
    );
    let waits = txn.query_all_raw(Statement::from_sql_and_values(backend, sql, [team_id.into()])).await?;
    let team = team_name(txn, team_id).await?;
    let mut handed = Vec::new();
    for wait in waits {
        let case_id: String = wait.try_get("", "case_id")?;
        let rule_id: String = wait.try_get("", "rule_id")?;
        let before = CaseRecord::load(txn, &case_id).await?;
        let rule = assignment_rule::Entity::find_by_id(rule_id.clone()).one(txn).await?.as_ref().and_then(assignment_rule_of);
        // A case someone took, closed or moved, or whose rule no longer
        // hands out by capacity, waits no more.
        let still_waiting = before.as_ref().is_some_and(|b| {
            b.case.owner_id.is_none() && b.case.team_id.as_deref() == Some(team_id) && b.status().is_ok_and(|s| !s.is_closed())
        });
        let (Some(before), Some(rule), true) = (before, rule, still_waiting) else {
            routing_wait::Entity::delete_by_id(case_id).exec(txn).await?;
            continue;
        };
        if rule.method != Method::Capacity {
            routing_wait::Entity::delete_by_id(case_id).exec(txn).await?;
            continue;
        }
        let agents = team_agents(txn, team_id, by.at).await?;
        let Some(owner) = routing::with_room(&agents, rule.capacity).map(|a| a.id.clone()) else { break };
        let status = before.status()?;
        let next = crate::domain::status::assign(status, false, true)?;
        let reason = format!("rule \"{}\": capacity in {team} (room came free)", rule.name);
        let routed = Routed { rule: Some((rule.id.clone(), rule.name.clone())), method: Some(Method::Capacity), reason };
        let mut after = before.clone();
        let mut changes = Changes::new();
        changes.diff("owner_id", "", &owner);
        changes.diff("status", status.key(), next.key());
        changes.set("routed_by", "", routed.decided_by());
        after.case.owner_id = Some(owner);
        after.case.status = next.key().to_owned();
        let by = Actor { actor: by.actor, reason: &routed.reason, at: by.at };
        let saved = mutation::save::<_, std::convert::Infallible>(
            txn,
            &by,
            crate::events::SOURCE,
            &before,
            Edit { after, changes },
            // `case.routed` tells the new owner; `case.assigned` as well
            // would tell them twice.
            |before, saved, _| {
                let mut events = crate::events::status_events(before, saved, by.reason);
                events.push(crate::events::case_routed(saved, &routed, Some(before)));
                events
            },
        )
        .await?;
        routing_wait::Entity::delete_by_id(case_id).exec(txn).await?;
        handed.push(saved);
    }
    Ok(handed)
}

/// Who moves cases for routing on its own (hand-outs, absences), as the
/// trail records it.
pub const ROUTING_ACTOR: &str = "system:routing";

/// What one routing sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoutingSweep {
    /// Cases taken from absent agents.
    pub rerouted: usize,
    /// Waiting cases handed out.
    pub handed_out: usize,
}

impl Store {
    /// What time does to routing, caught up: the cases of every agent who
    /// cannot take cases now (an out-of-office period began) go back
    /// through the rules, and every capacity queue hands out what it can
    /// (a period ended, a limit rose). Several replicas may sweep at once:
    /// each case moves in its own versioned change, and a queue hands out
    /// under its team's turn lock.
    pub async fn sweep_routing(&self) -> Result<RoutingSweep> {
        use crate::records::entities::staff_user;
        let by = Actor { actor: ROUTING_ACTOR, reason: "", at: docket_kit::time::now() };
        let mut sweep = RoutingSweep::default();
        for user in staff_user::Entity::find().all(&self.db).await? {
            let absences = absences(&user.out_of_office);
            if routing::absence(user.active, user.available, &absences, by.at).is_some() {
                sweep.rerouted += self.reroute_from_absent(&user.id, &by).await?.len();
            }
        }
        let teams: Vec<String> = routing_wait::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|wait| wait.team_id)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for team_id in teams {
            let hand_out = async |tx: Tx| noted(&tx, hand_out_team(&tx, &team_id, &by).await?);
            sweep.handed_out += self.mutations.run(&by, hand_out).await?.len();
        }
        Ok(sweep)
    }

    /// After a change of a staff user or of a team's members: their cases
    /// leave them if they can no longer take cases, and the capacity queues
    /// of their teams hand out to them if they can. Best effort: the
    /// sweep catches up with anything this misses.
    pub async fn settle_routing_for(&self, staff_id: &str) {
        let by = Actor { actor: ROUTING_ACTOR, reason: "", at: docket_kit::time::now() };
        if let Err(err) = self.reroute_from_absent(staff_id, &by).await {
            tracing::warn!(error = %err, staff = staff_id, "taking cases from an absent agent failed; the routing sweep retries");
        }
        let hand_out = async |tx: Tx| noted(&tx, hand_out_waiting(&tx, staff_id, &by).await?);
        if let Err(err) = self.mutations.run(&by, hand_out).await {
            tracing::warn!(error = %err, staff = staff_id, "handing out waiting cases failed; the routing sweep retries");
        }
    }
}
