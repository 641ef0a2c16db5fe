//! Cases: numbering, descriptive fields, the status verbs, queues.

use docket_kit::{
    clients::UNCONFIRMED_TAG,
    mutation::{Creation, Edit, KeyLookUp, Once, Tx},
    request::{FieldMask, RecordId},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QueryTrait, sea_query::Query,
};
use serde::{Deserialize, Serialize};

use super::{
    Actor, ReadFirst, Store,
    contacts::{EMAIL_TAKEN, draft_sender, insert_contact},
    contains_ci, routing,
};
use crate::domain::routing::Routed;
use crate::{
    domain::{
        AccountId, CaseId, CaseStatus, Changes, ContactId, Priority, StaffId, TeamId,
        commands::{CaseContactRef, CaseField, CaseFields, CaseTypeField, CaseUpdate, NewCase},
        format_case_number, status,
    },
    error::{Error, Result},
    events,
    records::{
        CaseKey, CaseRecord,
        entities::{case, case_contact, case_tag, case_type, contact, staff_user, team},
        load_case, with_links,
    },
};
use docket_kit::page::page_end;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaseOrder {
    /// Newest first (by case number, which follows creation).
    #[default]
    Newest,
    Oldest,
    RecentlyUpdated,
    /// Critical first, newest first within a priority.
    Priority,
}

/// Where the last page ended: the sort key and the case number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaseCursor {
    pub key: i64,
    pub number: i64,
}

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub statuses: Vec<CaseStatus>,
    pub priorities: Vec<Priority>,
    pub type_id: Option<String>,
    pub owner_id: Option<StaffId>,
    pub team_id: Option<TeamId>,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub created_after: Option<chrono::DateTime<chrono::Utc>>,
    pub created_before: Option<chrono::DateTime<chrono::Utc>>,
    pub text: String,
    pub unassigned_only: bool,
    pub tag: Option<String>,
}

fn contacts_text(contacts: &[CaseContactRef]) -> String {
    contacts
        .iter()
        .map(|c| if c.primary { format!("{} (primary)", c.contact_id) } else { c.contact_id.to_string() })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn opt_text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// The trail keeps machine keys (`high`, `web_form`), never display labels.
fn priority_key(rank: i16) -> &'static str {
    Priority::from_rank(rank).map(Priority::key).unwrap_or("")
}

/// Copies the masked descriptive fields onto `record`, recording each change.
fn apply(record: &mut CaseRecord, fields: &CaseFields, mask: &FieldMask<CaseField>, changes: &mut Changes) {
    let model = &mut record.case;
    macro_rules! text_field {
        ($name:literal, $field:ident) => {{
            changes.diff($name, &model.$field, &fields.$field);
            model.$field.clone_from(&fields.$field);
        }};
    }
    for field in mask.iter() {
        match field {
            CaseField::Subject => text_field!("subject", subject),
            CaseField::Description => text_field!("description", description),
            CaseField::TypeId => text_field!("type_id", type_id),
            CaseField::ServiceContractId => text_field!("service_contract_id", service_contract_id),
            CaseField::ServiceContractNumber => text_field!("service_contract_number", service_contract_number),
            CaseField::AssetDescription => text_field!("asset_description", asset_description),
            CaseField::AssetSerialNumber => text_field!("asset_serial_number", asset_serial_number),
            CaseField::AccountId => {
                let account_id = fields.account_id.to_string();
                changes.diff("account_id", &model.account_id, &account_id);
                model.account_id = account_id;
            }
            CaseField::Priority => {
                changes.diff("priority", priority_key(model.priority), fields.priority.key());
                model.priority = fields.priority.rank();
            }
            CaseField::Channel => {
                changes.diff("channel", &model.channel, fields.channel.key());
                model.channel = fields.channel.key().to_owned();
            }
            CaseField::TeamId => {
                let team_id = fields.team_id.map(|id| id.to_string());
                changes.diff("team_id", opt_text(&model.team_id), opt_text(&team_id));
                model.team_id = team_id;
            }
            CaseField::Contacts => {
                changes.diff("contacts", contacts_text(&record.contacts), contacts_text(&fields.contacts));
                record.contacts.clone_from(&fields.contacts);
            }
            CaseField::Tags => {
                changes.diff("tags", record.tags.join(", "), fields.tags.join(", "));
                record.tags.clone_from(&fields.tags);
            }
        }
    }
}

/// A kind of record a case's fields refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reference {
    CaseType,
    Account,
    Contact,
    Team,
    Owner,
}

impl Reference {
    const ALL: [Reference; 5] = [Self::CaseType, Self::Account, Self::Contact, Self::Team, Self::Owner];

    fn key(self) -> &'static str {
        match self {
            Self::CaseType => "case_type",
            Self::Account => "account",
            Self::Contact => "contact",
            Self::Team => "team",
            Self::Owner => "owner",
        }
    }

    /// Its table, whether a row is active, and what else a check needs of
    /// it (a contact's account, a staff user's name), as SQL.
    fn select(self) -> (&'static str, &'static str, &'static str) {
        const ACTIVE: &str = "CASE WHEN active THEN 1 ELSE 0 END";
        match self {
            Self::CaseType => ("case_types", ACTIVE, "''"),
            Self::Account => ("accounts", "1", "''"),
            Self::Contact => ("contacts", "1", "account_id"),
            Self::Team => ("teams", "1", "''"),
            Self::Owner => ("staff_users", ACTIVE, "name"),
        }
    }
}

/// The sequence (PostgreSQL) or counter (SQLite) of case numbers.
const CASE_NUMBERS: &str = "case_number";

/// What a case's fields refer to, as found: (kind, id) → (active, extra);
/// and what a create reads with them.
#[derive(Default)]
struct Referenced {
    found: std::collections::HashMap<(Reference, String), (bool, String)>,
    /// The version of the assignment rules and the default team.
    routing: Option<(i64, Option<String>)>,
    /// The new case's number, taken only when every reference was found,
    /// active and of the case's account (see [`AlsoRead::number_in`]).
    number: Option<i64>,
    /// The contact of the sender's address, if one has it ([`AlsoRead::sender`]).
    sender: Option<String>,
    /// The oldest account of the unassigned name, if there is one
    /// ([`AlsoRead::unassigned`]).
    unassigned: Option<String>,
    /// The row of the call's idempotency key, if an earlier call used it:
    /// (`resource_id`, `request_hash`) ([`AlsoRead::earlier`]).
    earlier: Option<(String, String)>,
}

/// What a create reads besides its references, in the same round trip.
#[derive(Clone, Copy, Default)]
struct AlsoRead<'a> {
    routing: bool,
    /// The next case number, for a case of this account (PostgreSQL: a
    /// sequence, see [`docket_kit::counter::next_unique`]), a round trip of
    /// its own otherwise.
    number_in: Option<&'a str>,
    /// The contact of a sender's address (its email key).
    sender: Option<&'a str>,
    /// The oldest account named so: a sender's case is made in the
    /// unassigned account's id kept in memory, checked by this read.
    unassigned: Option<&'a str>,
    /// What an earlier call with this idempotency key made (its scope,
    /// actor and key): then no number is taken.
    earlier: Option<(&'a str, &'a str, &'a str)>,
}

impl Referenced {
    /// Reads every `(kind, id)` wanted in one round trip: a create checks
    /// four or five references, which were as many queries; it also reads
    /// the routing version and default team, and takes its case number.
    async fn look_up(txn: &impl sea_orm::ConnectionTrait, wanted: &[(Reference, &str)], also: AlsoRead<'_>) -> Result<Self> {
        use sea_orm::{Statement, Value};
        let mut referenced = Self::default();
        let backend = txn.get_database_backend();
        let mut branches = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        for (n, (kind, id)) in wanted.iter().enumerate() {
            let (table, active, extra) = kind.select();
            let placeholder = docket_kit::db::placeholder(backend, n + 1);
            branches.push(format!(
                "SELECT '{}' AS kind, id, {active} AS active, {extra} AS extra FROM {table} WHERE id = {placeholder}",
                kind.key()
            ));
            values.push((*id).into());
        }
        if also.routing {
            branches.push(routing::VERSION_AND_DEFAULT_TEAM.to_owned());
        }
        if let Some((scope, actor, key)) = also.earlier {
            let at = |n| docket_kit::db::placeholder(backend, values.len() + n);
            branches.push(format!(
                "SELECT 'earlier' AS kind, resource_id AS id, 1 AS active, request_hash AS extra FROM idempotency_keys \
                 WHERE scope = {} AND actor = {} AND key = {}",
                at(1),
                at(2),
                at(3)
            ));
            values.extend([scope.into(), actor.into(), key.into()]);
        }
        let mut sql = branches.join(" UNION ALL ");
        if let Some(account) = also.number_in
            && backend == sea_orm::DbBackend::Postgres
            && !sql.is_empty()
        {
            // Taken only when every reference is there, active and of the
            // case's account, as `check_references` will find, and the
            // call's key is unused: a create refused for one, or a retry,
            // leaves no gap.
            values.push(account.into());
            sql = format!(
                "WITH found AS ({sql}) SELECT kind, id, active, extra FROM found UNION ALL \
                 SELECT 'number', CAST({} AS TEXT), 1, '' \
                 WHERE (SELECT count(*) FROM found WHERE kind NOT IN ('routing', 'earlier') AND active = 1) = {} \
                 AND NOT EXISTS (SELECT 1 FROM found WHERE kind = 'contact' AND extra <> {}) \
                 AND NOT EXISTS (SELECT 1 FROM found WHERE kind = 'earlier')",
                docket_kit::counter::next_unique_sql(CASE_NUMBERS),
                wanted.len(),
                docket_kit::db::placeholder(backend, values.len())
            );
        }
        // Not references: outside the count that guards the number.
        let mut reads: Vec<String> = Some(sql).filter(|sql| !sql.is_empty()).into_iter().collect();
        if let Some(email_key) = also.sender {
            values.push(email_key.into());
            let at = docket_kit::db::placeholder(backend, values.len());
            reads.push(format!("SELECT 'sender' AS kind, id, 1 AS active, '' AS extra FROM contacts WHERE email_key = {at}"));
        }
        if let Some(name) = also.unassigned {
            values.push(name.into());
            let at = docket_kit::db::placeholder(backend, values.len());
            reads.push(format!(
                "SELECT 'unassigned' AS kind, id, 1 AS active, '' AS extra FROM \
                 (SELECT a.id FROM accounts a WHERE a.name = {at} ORDER BY a.created_at, a.id LIMIT 1) oldest"
            ));
        }
        let sql = reads.join(" UNION ALL ");
        if !sql.is_empty() {
            for row in txn.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await? {
                let key: String = row.try_get("", "kind")?;
                let id: String = row.try_get("", "id")?;
                let extra: String = row.try_get("", "extra")?;
                match key.as_str() {
                    "number" => {
                        let number = id
                            .parse()
                            .map_err(|_| Error::Database(sea_orm::DbErr::Custom(format!("a case number of {id:?}"))))?;
                        referenced.number = Some(number);
                    }
                    "sender" => referenced.sender = Some(id),
                    "earlier" => referenced.earlier = Some((id, extra)),
                    "unassigned" => referenced.unassigned = Some(id),
                    "routing" => {
                        let version = id
                            .parse()
                            .map_err(|_| Error::Database(sea_orm::DbErr::Custom(format!("a routing version of {id:?}"))))?;
                        referenced.routing = Some((version, Some(extra).filter(|team| !team.is_empty())));
                    }
                    _ => {
                        let Some(kind) = Reference::ALL.into_iter().find(|kind| kind.key() == key) else { continue };
                        let active: i32 = row.try_get("", "active")?;
                        referenced.found.insert((kind, id), (active != 0, extra));
                    }
                }
            }
        }
        Ok(referenced)
    }

    fn get(&self, kind: Reference, id: &str) -> Option<(bool, &str)> {
        self.found.get(&(kind, id.to_owned())).map(|(active, extra)| (*active, extra.as_str()))
    }
}

/// What a change's fields refer to (and the new owner of a case being
/// created), to read and then judge. `new_contact` is a contact made with
/// the case (a sender's, in the case's account): not there to read.
struct ReferenceChecks<'a> {
    model: &'a case::Model,
    check_type: bool,
    check_account: bool,
    /// The case's contacts to check, by their position.
    contact_ids: Option<Vec<(usize, String)>>,
    team_id: Option<&'a str>,
    owner_id: Option<&'a str>,
}

impl<'a> ReferenceChecks<'a> {
    fn of(
        before: Option<&CaseRecord>,
        after: &'a CaseRecord,
        mask: &FieldMask<CaseField>,
        owner_id: Option<&'a str>,
        new_contact: Option<&str>,
    ) -> Self {
        let model = &after.case;
        let changed = |field: CaseField| mask.contains(field);
        let contact_ids = (changed(CaseField::AccountId) || changed(CaseField::Contacts)).then(|| {
            (after.contacts.iter().map(|link| link.contact_id.to_string()).enumerate())
                .filter(|(_, id)| Some(id.as_str()) != new_contact)
                .collect()
        });
        Self {
            model,
            check_type: changed(CaseField::TypeId) && before.is_none_or(|b| b.case.type_id != model.type_id),
            check_account: changed(CaseField::AccountId),
            contact_ids,
            team_id: model.team_id.as_deref().filter(|_| changed(CaseField::TeamId)),
            owner_id,
        }
    }

    fn wanted(&self) -> Vec<(Reference, &str)> {
        let mut wanted: Vec<(Reference, &str)> = Vec::new();
        if self.check_type {
            wanted.push((Reference::CaseType, &self.model.type_id));
        }
        if self.check_account {
            wanted.push((Reference::Account, &self.model.account_id));
        }
        for (_, id) in self.contact_ids.iter().flatten() {
            wanted.push((Reference::Contact, id));
        }
        wanted.extend(self.team_id.map(|id| (Reference::Team, id)));
        wanted.extend(self.owner_id.map(|id| (Reference::Owner, id)));
        wanted
    }

    /// Refuses a reference `found` says is missing, inactive or of another
    /// account than the case.
    fn judge(&self, found: &Referenced) -> Result<()> {
        let model = self.model;
        if self.check_type {
            match found.get(Reference::CaseType, &model.type_id) {
                None => return Err(Error::field("case.type_id", format!("no case type has the id {}", model.type_id))),
                Some((false, _)) => {
                    return Err(Error::field("case.type_id", format!("the case type {} is no longer offered", model.type_id)));
                }
                Some(_) => {}
            }
        }
        if self.check_account && found.get(Reference::Account, &model.account_id).is_none() {
            return Err(Error::field("case.account_id", format!("no account has the id {}", model.account_id)));
        }
        for (i, id) in self.contact_ids.iter().flatten() {
            match found.get(Reference::Contact, id) {
                None => {
                    return Err(Error::field(format!("case.contacts[{i}].contact_id"), format!("no contact has the id {id}")));
                }
                Some((_, account_id)) if account_id != model.account_id => {
                    return Err(Error::field(
                        format!("case.contacts[{i}].contact_id"),
                        format!("contact {id} belongs to another account than the case"),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(team_id) = self.team_id
            && found.get(Reference::Team, team_id).is_none()
        {
            return Err(Error::field("case.team_id", format!("no team has the id {team_id}")));
        }
        if let Some(owner_id) = self.owner_id {
            match found.get(Reference::Owner, owner_id) {
                None => return Err(Error::field("case.owner_id", format!("no staff user has the id {owner_id}"))),
                Some((false, name)) => return Err(Error::field("case.owner_id", format!("staff user {name} is inactive"))),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Checks what the fields of a change refer to, in its transaction.
async fn check_references(
    txn: &impl sea_orm::ConnectionTrait,
    before: &CaseRecord,
    after: &CaseRecord,
    mask: &FieldMask<CaseField>,
) -> Result<()> {
    let checks = ReferenceChecks::of(Some(before), after, mask, None, None);
    checks.judge(&Referenced::look_up(txn, &checks.wanted(), AlsoRead::default()).await?)
}

pub(super) async fn check_owner(txn: &DatabaseTransaction, field: &str, owner_id: &str) -> Result<()> {
    match staff_user::Entity::find_by_id(owner_id.to_owned()).one(txn).await? {
        None => Err(Error::field(field, format!("no staff user has the id {owner_id}"))),
        Some(user) if !user.active => Err(Error::field(field, format!("staff user {} is inactive", user.name))),
        Some(_) => Ok(()),
    }
}

/// Routes `after` (which has no owner) within its team, or through every
/// rule when it has none, and sets the status that follows from its new
/// owner (an active case's; a closed one's is the caller's).
async fn route_into(
    txn: &DatabaseTransaction,
    before: &CaseRecord,
    after: &mut CaseRecord,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Routed>> {
    let routed = routing::route_case(txn, after, at).await?;
    let from = before.status()?;
    if !from.is_closed() {
        let next = match (from, after.case.owner_id.is_some()) {
            (CaseStatus::Pending, true) => CaseStatus::Pending,
            (_, true) => CaseStatus::Assigned,
            (_, false) => CaseStatus::New,
        };
        after.case.status = next.key().to_owned();
    }
    Ok(routed)
}

/// Records where the case now is (owner, team, status: each unless already
/// recorded) and the rule that put it there.
fn record_placement(changes: &mut Changes, before: &CaseRecord, after: &CaseRecord, routed: Option<&Routed>) {
    let (b, a) = (&before.case, &after.case);
    for (field, old, new) in [
        ("owner_id", opt_text(&b.owner_id), opt_text(&a.owner_id)),
        ("team_id", opt_text(&b.team_id), opt_text(&a.team_id)),
        ("status", b.status.as_str(), a.status.as_str()),
    ] {
        if !changes.touches(field) {
            changes.diff(field, old, new);
        }
    }
    if let Some(routed) = routed {
        changes.set("routed_by", "", routed.decided_by());
    }
}

/// The events of a change that may have moved the case's owner and team
/// and routed it: its status events, `case.assigned` when the owner or team
/// changed (unless a rule chose the new owner: `case.routed` tells them,
/// and both would tell them twice), and `case.routed`.
fn placement_events(
    before: &CaseRecord,
    saved: &CaseRecord,
    routed: Option<&Routed>,
    reason: &str,
) -> Vec<docket_kit::mutation::Event> {
    let mut events = Vec::new();
    let placed = before.case.owner_id != saved.case.owner_id || before.case.team_id != saved.case.team_id;
    let told = routed.is_some() && saved.case.owner_id.is_some();
    if placed && !told {
        events.push(events::owner_changed(before, saved, reason));
    }
    events.extend(events::status_events(before, saved, reason));
    events.extend(routed.map(|routed| events::case_routed(saved, routed, Some(before))));
    events
}

/// The fields a status move changes besides the status, as trail rows.
fn status_changes(before: &CaseRecord, after: &CaseRecord) -> Changes {
    let mut changes = Changes::new();
    changes.diff("status", &before.case.status, &after.case.status);
    changes.diff("resolution_summary", &before.case.resolution_summary, &after.case.resolution_summary);
    changes.diff("resolved_time", time_text(before.case.resolved_at), time_text(after.case.resolved_at));
    changes.diff("closed_time", time_text(before.case.closed_at), time_text(after.case.closed_at));
    changes
}

/// A new case before its fields: its id, status, owner, author and times.
/// (Routing may give it a team, an owner, and so a status.)
fn blank_case(new: &NewCase, by: &Actor<'_>) -> CaseRecord {
    let status = if new.owner_id.is_some() { CaseStatus::Assigned } else { CaseStatus::New };
    CaseRecord {
        case: case::Model {
            id: CaseId::generate().to_string(),
            number: 0,
            subject: String::new(),
            description: String::new(),
            type_id: String::new(),
            priority: 0,
            status: status.key().to_owned(),
            channel: String::new(),
            account_id: String::new(),
            owner_id: new.owner_id.map(|id| id.to_string()),
            team_id: None,
            service_contract_id: String::new(),
            service_contract_number: String::new(),
            asset_description: String::new(),
            asset_serial_number: String::new(),
            resolution_summary: String::new(),
            created_by: by.actor.to_owned(),
            version: 1,
            created_at: by.at,
            updated_at: by.at,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            web_form_id: new.web_form_id.map(|id| id.to_string()),
            links: None,
            links_version: None,
        },
        contacts: Vec::new(),
        tags: Vec::new(),
    }
}

/// What a create does once its case is drafted and its reads are in
/// (`found`, see [`draft_and_look_up`]), on its transaction or a held
/// connection: routes a case without an owner and numbers it; its trail and
/// events. `None` on a held connection when routing may take a team's turn
/// (a write: the transaction must route).
async fn place_and_number(
    conn: &impl routing::RoutesOn,
    routing_cache: &routing::RoutingCache,
    record: &mut CaseRecord,
    changes: &Changes,
    found: &Referenced,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<(Changes, Vec<docket_kit::mutation::Event>)>> {
    let routed = match (record.case.owner_id.is_some(), &found.routing) {
        (true, _) => None,
        (false, Some((version, default_team))) => {
            let rules = routing_cache.rules(conn, *version).await?;
            if conn.transaction().is_none() && routing::may_take_turns(&rules, record.case.team_id.as_deref()) {
                // Rules changed since the create chose to go without a
                // transaction; its number stays unused (numbers are unique
                // and increasing, not gapless).
                return Ok(None);
            }
            routing::route_with(conn, record, at, &rules, default_team.clone()).await?
        }
        // No version kept (never so after the migrations): read them.
        (false, None) => match conn.transaction() {
            Some(txn) => routing::route_case(txn, record, at).await?,
            None => return Ok(None),
        },
    };
    if record.case.owner_id.is_some() {
        record.case.status = CaseStatus::Assigned.key().to_owned();
    }
    // Unique and increasing, not gapless: no create waits for another's
    // commit to be numbered. (Taken once the case is known to be good, a
    // refused one leaves no gap: with the references where that tells,
    // else now.)
    record.case.number = match found.number {
        Some(number) => number,
        None => docket_kit::counter::next_unique(conn, CASE_NUMBERS).await?,
    };
    Ok(Some(creation(record, changes, routed.as_ref())))
}

/// A new case's trail (its number, status, placement and fields) and the
/// events that announce it.
fn creation(record: &CaseRecord, changes: &Changes, routed: Option<&Routed>) -> (Changes, Vec<docket_kit::mutation::Event>) {
    let mut trail = Changes::new();
    trail.set("created", "", format_case_number(record.case.number));
    trail.set("status", "", &record.case.status);
    if let Some(owner) = &record.case.owner_id {
        trail.set("owner_id", "", owner);
    }
    for change in changes.fields().filter(|change| change.field != "team_id") {
        trail.set(change.field, &change.old, &change.new);
    }
    if let Some(team) = &record.case.team_id {
        trail.set("team_id", "", team);
    }
    let mut events = vec![events::case_created(record)];
    if let Some(routed) = routed {
        trail.set("routed_by", "", routed.decided_by());
        events.push(events::case_routed(record, routed, None));
    }
    (trail, events)
}

/// A new case with its fields set, and their changes. A case from a sender
/// names the sender's contact when this create makes it for an address
/// nobody had (`sender_known` false), else it is tagged unconfirmed; the
/// sender's new contact, with its trail, is to be inserted with the case.
async fn draft_case(conn: &impl sea_orm::ConnectionTrait, new: &NewCase, sender_known: bool, by: &Actor<'_>) -> Result<Drafted> {
    let mut record = blank_case(new, by);
    let mut changes = Changes::new();
    let Some(sender) = &new.sender else {
        apply(&mut record, &new.fields, &FieldMask::all(), &mut changes);
        return Ok(Drafted { record, changes, new_contact: None });
    };
    let mut fields = new.fields.clone();
    // The case's account is the unassigned one, read or made by the caller.
    let unassigned = fields.account_id.to_string();
    let new_contact = match sender_known {
        true => None,
        false => Some(draft_sender(conn, &sender.person, sender.contact_account_id, &unassigned, by.at).await?),
    };
    match &new_contact {
        Some((contact, _)) if sender.contact_account_id.is_none() => {
            fields.contacts = vec![CaseContactRef { contact_id: ContactId::stored(&contact.id)?, primary: true }];
        }
        _ => {
            fields.tags.push(UNCONFIRMED_TAG.to_owned());
            fields.tags.sort();
            fields.tags.dedup();
        }
    }
    apply(&mut record, &fields, &FieldMask::all(), &mut changes);
    Ok(Drafted { record, changes, new_contact })
}

/// A drafted case, its fields' changes, and a sender's new contact with its trail.
struct Drafted {
    record: CaseRecord,
    changes: Changes,
    new_contact: Option<(contact::Model, Changes)>,
}

/// Drafts a new case and reads what its create needs in one round trip
/// ([`Referenced::look_up`]): its references, checked; the routing version
/// and default team; its number; for a case from a sender, whether a
/// contact has the address; and for one made in the unassigned account's
/// id as kept in memory (`unassigned_kept`), whether that is still the
/// oldest account of its name ([`Error::Stale`] when not). When the caller
/// did not look the call's idempotency key up, it is read too: a used one
/// refuses the create as `AlreadyExists`, answered with what the first call
/// made (see [`docket_kit::mutation::KeyLookUp::Done`]).
async fn draft_and_look_up(
    conn: &impl sea_orm::ConnectionTrait,
    new: &NewCase,
    read: ReadFirst,
    by: &Actor<'_>,
    once: Once<'_>,
) -> Result<(Drafted, Referenced)> {
    // Drafted as if a contact had the sender's address: the references to
    // read are the same either way (a case from a sender names no other
    // contact, and a new one is not there to read).
    let drafted = draft_case(conn, new, true, by).await?;
    let model = &drafted.record.case;
    let checks = ReferenceChecks::of(None, &drafted.record, &FieldMask::all(), model.owner_id.as_deref(), None);
    let email_key = new.sender.as_ref().map(|sender| sender.person.email.to_lowercase());
    let also = AlsoRead {
        routing: model.owner_id.is_none(),
        number_in: Some(&model.account_id),
        sender: email_key.as_deref(),
        unassigned: new.sender.as_ref().filter(|_| read.unassigned_kept).map(|sender| sender.unassigned.as_str()),
        earlier: (once.key.filter(|_| read.key == KeyLookUp::Done)).map(|key| (once.scope, by.actor, key.key.as_str())),
    };
    let found = Referenced::look_up(conn, &checks.wanted(), also).await?;
    if found.earlier.is_some() {
        return Err(Error::AlreadyExists {
            field: "idempotency_key".to_owned(),
            message: "an earlier call with this idempotency key created a case".to_owned(),
        });
    }
    if let Some(name) = also.unassigned
        && found.unassigned.as_deref() != Some(model.account_id.as_str())
    {
        return Err(Error::Stale(format!("the unassigned account {name:?} is no longer {}", model.account_id)));
    }
    checks.judge(&found)?;
    if new.sender.is_none() || found.sender.is_some() {
        return Ok((drafted, found));
    }
    Ok((draft_case(conn, new, false, by).await?, found))
}

impl Store {
    /// Creates a case; one with a sender finds or creates its contact.
    /// `read` is what the caller settled first.
    pub async fn create_case(&self, new: NewCase, read: ReadFirst, by: &Actor<'_>, once: Once<'_>) -> Result<CaseRecord> {
        // Another call may create the sender's contact at the same moment,
        // refusing this one's: the next attempt finds the contact.
        for _ in 0..3 {
            match self.create_case_attempt(&new, read, by, once).await {
                Err(Error::AlreadyExists { field, .. }) if new.sender.is_some() && field == "contact.email" => {}
                done => return done,
            }
        }
        let email = new.sender.as_ref().map(|sender| sender.person.email.as_str()).unwrap_or_default();
        Err(super::contacts::being_created(email))
    }

    /// One try of [`Store::create_case`]: without a transaction unless
    /// routing may take a team's turn (as far as the kept rules tell; see
    /// `place_and_number`).
    async fn create_case_attempt(&self, new: &NewCase, read: ReadFirst, by: &Actor<'_>, once: Once<'_>) -> Result<CaseRecord> {
        let alone =
            new.owner_id.is_some() || !self.routing.may_take_turns(new.fields.team_id.map(|id| id.to_string()).as_deref());
        if alone && let Some(held) = docket_kit::db::Held::take(self.mutations.db()).await? {
            let created = self.create_case_alone(new, read, by, once, &held).await?;
            // Back to the pool before a transaction takes another.
            drop(held);
            if let Some(created) = created {
                return Ok(created);
            }
        }
        self.create_case_once(new, read, by, once).await
    }

    /// A create that only reads before its insert, without a transaction
    /// (see [`docket_kit::mutation::Mutations::create_alone`]): a sender's
    /// new contact is inserted with the case. `None` when routing may take
    /// a team's turn (a write of its own), and the transaction must make it.
    async fn create_case_alone(
        &self,
        new: &NewCase,
        read: ReadFirst,
        by: &Actor<'_>,
        once: Once<'_>,
        held: &docket_kit::db::Held,
    ) -> Result<Option<CaseRecord>> {
        let routing_cache = &self.routing;
        let mutations = &self.mutations;
        self.mutations
            .create_alone(by, once, read.key, held, async |conn| {
                let (Drafted { mut record, changes, new_contact }, found) = draft_and_look_up(conn, new, read, by, once).await?;
                let Some((trail, events)) = place_and_number(conn, routing_cache, &mut record, &changes, &found, by.at).await?
                else {
                    return Ok(None);
                };
                let mut creation = Creation::new(record, trail, events);
                if let Some((contact, trail)) = new_contact {
                    let announced = [events::contact_changed(true, &contact, &trail, by.reason)];
                    creation.with.push(mutations.also_new(&contact, &trail, by, announced, EMAIL_TAKEN)?);
                }
                Ok(Some(creation))
            })
            .await
    }

    async fn create_case_once(&self, new: &NewCase, read: ReadFirst, by: &Actor<'_>, once: Once<'_>) -> Result<CaseRecord> {
        let routing_cache = &self.routing;
        self.mutations
            .create_with(by, once, read.key, async |tx| {
                let (Drafted { mut record, changes, new_contact }, found) = draft_and_look_up(&*tx, new, read, by, once).await?;
                if let Some((contact, trail)) = &new_contact {
                    insert_contact(&tx, contact, trail).await?;
                }
                let (trail, events) = place_and_number(&*tx, routing_cache, &mut record, &changes, &found, by.at)
                    .await?
                    .ok_or_else(|| Error::Database(sea_orm::DbErr::Custom("a transaction could not route a case".to_owned())))?;
                Ok((record, trail, events))
            })
            .await
    }

    pub async fn get_case(&self, id: CaseId) -> Result<CaseRecord> {
        load_case(&self.db, CaseKey::Id(&id.to_string())).await?.ok_or_else(|| Error::not_found("case", id))
    }

    pub async fn get_case_by_number(&self, number: i64) -> Result<CaseRecord> {
        load_case(&self.db, CaseKey::Number(number)).await?.ok_or_else(|| Error::not_found("case", format_case_number(number)))
    }

    pub async fn list_cases(
        &self,
        filter: &CaseFilter,
        order: CaseOrder,
        after: Option<CaseCursor>,
        limit: u64,
    ) -> Result<(Vec<CaseRecord>, Option<CaseCursor>)> {
        let mut query = cases_matching(filter);
        query = match (order, &after) {
            (CaseOrder::Newest, Some(c)) => query.filter(case::Column::Number.lt(c.number)),
            (CaseOrder::Oldest, Some(c)) => query.filter(case::Column::Number.gt(c.number)),
            (CaseOrder::RecentlyUpdated, Some(c)) => {
                let at = chrono::DateTime::from_timestamp_micros(c.key).unwrap_or_default();
                query.filter(
                    Condition::any()
                        .add(case::Column::UpdatedAt.lt(at))
                        .add(Condition::all().add(case::Column::UpdatedAt.eq(at)).add(case::Column::Number.lt(c.number))),
                )
            }
            (CaseOrder::Priority, Some(c)) => query.filter(
                Condition::any()
                    .add(case::Column::Priority.lt(c.key as i16))
                    .add(Condition::all().add(case::Column::Priority.eq(c.key as i16)).add(case::Column::Number.lt(c.number))),
            ),
            (_, None) => query,
        };
        query = match order {
            CaseOrder::Newest => query.order_by_desc(case::Column::Number),
            CaseOrder::Oldest => query.order_by_asc(case::Column::Number),
            CaseOrder::RecentlyUpdated => query.order_by_desc(case::Column::UpdatedAt).order_by_desc(case::Column::Number),
            CaseOrder::Priority => query.order_by_desc(case::Column::Priority).order_by_desc(case::Column::Number),
        };
        let mut page = query.build(self.db.get_database_backend());
        // A literal LIMIT, not a bound one: with a parameter there, PostgreSQL
        // finds its generic plan too costly and plans every call anew, which
        // cost more than running the query (issue 15).
        page.sql = format!("{} LIMIT {}", page.sql, limit + 1);
        let mut records = with_links(&self.db, page).await?;
        let next = page_end(&mut records, limit).map(|last| CaseCursor {
            key: match order {
                CaseOrder::Newest | CaseOrder::Oldest => 0,
                CaseOrder::RecentlyUpdated => last.case.updated_at.timestamp_micros(),
                CaseOrder::Priority => i64::from(last.case.priority),
            },
            number: last.case.number,
        });
        Ok((records, next))
    }

    /// How many cases the filters select (a list's `total_size`).
    pub async fn count_cases(&self, filter: &CaseFilter) -> Result<i64> {
        super::count(&self.db, cases_matching(filter)).await
    }

    /// A change of a case's team to one where it has no owner routes it
    /// among the new team's members (by the rules that route to that team).
    pub async fn update_case(&self, target: CaseUpdate, fields: CaseFields, by: &Actor<'_>) -> Result<CaseRecord> {
        let mask = &target.mask;
        let fields = &fields;
        self.change_case(
            &target.id.to_string(),
            Some(target.etag),
            by,
            |tx, before| async move {
                let mut after = before.clone();
                let mut changes = Changes::new();
                apply(&mut after, fields, mask, &mut changes);
                if changes.is_empty() {
                    return Ok((Edit { after, changes }, None));
                }
                check_references(&*tx, &before, &after, mask).await?;
                let moved = before.case.team_id != after.case.team_id && after.case.team_id.is_some();
                let routed = if moved && after.case.owner_id.is_none() {
                    route_into(&tx, &before, &mut after, by.at).await?
                } else {
                    None
                };
                record_placement(&mut changes, &before, &after, routed.as_ref());
                Ok((Edit { after, changes }, routed))
            },
            |before, saved, changes, routed| {
                let mut events = vec![events::case_updated(saved, changes, by.reason)];
                if let Some(routed) = routed {
                    events.extend(events::status_events(before, saved, by.reason));
                    events.push(events::case_routed(saved, routed, Some(before)));
                }
                events
            },
        )
        .await
    }

    /// Sets or clears the owner (and optionally the team). Clearing the
    /// owner while moving the case to another team routes it there.
    pub async fn assign_case(
        &self,
        id: CaseId,
        etag: Option<i64>,
        owner_id: Option<StaffId>,
        team_id: Option<TeamId>,
        by: &Actor<'_>,
    ) -> Result<CaseRecord> {
        let owner_id = &owner_id.map(|id| id.to_string());
        let team_id = &team_id.map(|id| id.to_string());
        self.change_case(
            &id.to_string(),
            etag,
            by,
            |tx, before: CaseRecord| async move {
                let next_status = status::assign(before.status()?, before.case.owner_id.is_some(), owner_id.is_some())?;
                if let Some(owner) = owner_id {
                    check_owner(&tx, "owner_id", owner).await?;
                }
                if let Some(team) = team_id
                    && team::Entity::find_by_id(team.clone()).one(&*tx).await?.is_none()
                {
                    return Err(Error::field("team_id", format!("no team has the id {team}")));
                }
                let mut after = before.clone();
                after.case.owner_id.clone_from(owner_id);
                if team_id.is_some() {
                    after.case.team_id.clone_from(team_id);
                }
                after.case.status = next_status.key().to_owned();
                let moved = team_id.is_some() && before.case.team_id != after.case.team_id;
                let routed = if moved && owner_id.is_none() { route_into(&tx, &before, &mut after, by.at).await? } else { None };
                let mut changes = Changes::new();
                record_placement(&mut changes, &before, &after, routed.as_ref());
                Ok((Edit { after, changes }, routed))
            },
            |before, saved, _, routed| placement_events(before, saved, routed, by.reason),
        )
        .await
    }

    pub async fn set_case_status(&self, id: CaseId, etag: Option<i64>, to: CaseStatus, by: &Actor<'_>) -> Result<CaseRecord> {
        self.move_case(id, etag, by, |before| {
            let next = status::set_status(before.status()?, before.case.owner_id.is_some(), to)?;
            let mut after = before.clone();
            after.case.status = next.key().to_owned();
            Ok(after)
        })
        .await
    }

    pub async fn close_case(
        &self,
        id: CaseId,
        etag: Option<i64>,
        to: CaseStatus,
        resolution: &str,
        by: &Actor<'_>,
    ) -> Result<CaseRecord> {
        self.move_case(id, etag, by, |before| {
            let next = status::close(before.status()?, before.case.owner_id.is_some(), to)?;
            let mut after = before.clone();
            after.case.status = next.key().to_owned();
            after.case.resolution_summary = resolution.to_owned();
            after.case.resolved_at = Some(by.at);
            after.case.closed_at = Some(by.at);
            Ok(after)
        })
        .await
    }

    /// A reopened case stays with its owner if they can take it now;
    /// otherwise (or when it had none) it goes through the rules again.
    pub async fn reopen_case(&self, id: CaseId, etag: Option<i64>, by: &Actor<'_>) -> Result<CaseRecord> {
        self.change_case(
            &id.to_string(),
            etag,
            by,
            |tx, before: CaseRecord| async move {
                status::reopen(before.status()?, before.case.owner_id.is_some())?;
                let mut after = before.clone();
                let owner_stays = match &before.case.owner_id {
                    Some(owner) => routing::can_take_cases(&tx, owner, by.at).await?,
                    None => false,
                };
                let routed = if owner_stays {
                    None
                } else {
                    after.case.owner_id = None;
                    route_into(&tx, &before, &mut after, by.at).await?
                };
                let next = status::reopen(before.status()?, after.case.owner_id.is_some())?;
                after.case.status = next.key().to_owned();
                after.case.resolved_at = None;
                after.case.closed_at = None;
                let mut changes = status_changes(&before, &after);
                record_placement(&mut changes, &before, &after, routed.as_ref());
                Ok((Edit { after, changes }, routed))
            },
            |before, saved, _, routed| placement_events(before, saved, routed, by.reason),
        )
        .await
    }

    /// Takes the open cases from a staff user who cannot take cases now
    /// (inactive, unavailable, or out of office at `by.at`): each goes back
    /// through the rules of its team (all rules when it has none), or into
    /// its team's queue when the team requeues on absence; pending cases
    /// stay when the team keeps them. One transaction per case, each in the
    /// case's trail with the reason. The cases moved.
    pub async fn reroute_from_absent(&self, staff_id: &str, by: &Actor<'_>) -> Result<Vec<CaseRecord>> {
        let Some(user) = staff_user::Entity::find_by_id(staff_id.to_owned()).one(&self.db).await? else { return Ok(Vec::new()) };
        let absences = crate::records::absences(&user.out_of_office);
        let Some(why) = crate::domain::routing::absence(user.active, user.available, &absences, by.at) else {
            return Ok(Vec::new());
        };
        let owned = case::Entity::find()
            .filter(case::Column::OwnerId.eq(staff_id))
            .filter(case::Column::Status.is_in([CaseStatus::Assigned.key(), CaseStatus::Pending.key()]))
            .order_by_desc(case::Column::Priority)
            .order_by_asc(case::Column::Number)
            .all(&self.db)
            .await?;
        let reason = format!("{} is {why}", user.name);
        let by = &Actor { actor: by.actor, reason: &reason, at: by.at };
        let mut moved = Vec::new();
        for case in owned {
            let saved = self
                .change_case(
                    &case.id,
                    None,
                    by,
                    |tx, before: CaseRecord| async move {
                        let mut after = before.clone();
                        let status = before.status()?;
                        let team = match &before.case.team_id {
                            Some(team_id) => team::Entity::find_by_id(team_id.clone()).one(&*tx).await?,
                            None => None,
                        };
                        let keeps = status == CaseStatus::Pending && team.as_ref().is_some_and(|t| t.keep_pending_on_absence);
                        if before.case.owner_id.as_deref() != Some(staff_id) || status.is_closed() || keeps {
                            return Ok((Edit { after, changes: Changes::new() }, None));
                        }
                        after.case.owner_id = None;
                        let routed = if team.as_ref().is_some_and(|t| t.requeue_on_absence) {
                            after.case.status = CaseStatus::New.key().to_owned();
                            None
                        } else {
                            route_into(&tx, &before, &mut after, by.at).await?
                        };
                        let mut changes = Changes::new();
                        record_placement(&mut changes, &before, &after, routed.as_ref());
                        Ok((Edit { after, changes }, routed))
                    },
                    |before, saved, _, routed| placement_events(before, saved, routed, by.reason),
                )
                .await?;
            if saved.case.owner_id.as_deref() != Some(staff_id) {
                moved.push(saved);
            }
        }
        Ok(moved)
    }

    /// Changes the case `id` like [`Mutations::update`], for a change that
    /// may route the case: `change` answers the edit and the routing it
    /// did, which `events` announces.
    async fn change_case<F>(
        &self,
        id: &str,
        etag: Option<i64>,
        by: &Actor<'_>,
        change: impl Fn(Tx, CaseRecord) -> F,
        events: impl Fn(&CaseRecord, &CaseRecord, &Changes, Option<&Routed>) -> Vec<docket_kit::mutation::Event>,
    ) -> Result<CaseRecord>
    where
        F: Future<Output = Result<(Edit<CaseRecord>, Option<Routed>)>>,
    {
        use docket_kit::mutation::Record as _;
        self.mutations
            .run_fresh(by, |tx: Tx| {
                let (change, events) = (&change, &events);
                async move {
                    let before = CaseRecord::load(&*tx, id).await?.ok_or_else(|| Error::not_found("case", id))?;
                    if let Some(etag) = etag
                        && etag != before.version()
                    {
                        return Err(Error::stale("case", &before.name(), etag, before.version()));
                    }
                    let (edit, routed) = change(tx.clone(), before.clone()).await?;
                    if edit.changes.is_empty() {
                        return Ok(before);
                    }
                    tx.save(&before, edit, |before, saved, changes| events(before, saved, changes, routed.as_ref())).await
                }
            })
            .await
    }

    /// A status verb: `to` decides the case after the move (or refuses it);
    /// one trail row per changed field, and the status events.
    async fn move_case(
        &self,
        id: CaseId,
        etag: Option<i64>,
        by: &Actor<'_>,
        to: impl Fn(&CaseRecord) -> Result<CaseRecord>,
    ) -> Result<CaseRecord> {
        self.mutations
            .update(
                by,
                &id.to_string(),
                etag,
                |_tx, before: CaseRecord| {
                    let edit = to(&before).map(|after| Edit { changes: status_changes(&before, &after), after });
                    async move { edit }
                },
                |before, saved, _| events::status_events(before, saved, by.reason),
            )
            .await
    }

    pub async fn list_case_types(&self, include_inactive: bool) -> Result<Vec<case_type::Model>> {
        let mut query = case_type::Entity::find();
        if !include_inactive {
            query = query.filter(case_type::Column::Active.eq(true));
        }
        Ok(query.order_by_asc(case_type::Column::Position).order_by_asc(case_type::Column::Id).all(&self.db).await?)
    }

    pub async fn create_case_type(&self, id: &str, name: &str, by: &Actor<'_>) -> Result<case_type::Model> {
        self.mutations
            .run(by, async |tx| {
                if case_type::Entity::find_by_id(id.to_owned()).one(&*tx).await?.is_some() {
                    return Err(Error::AlreadyExists {
                        field: "case_type.id".to_owned(),
                        message: format!("a case type with the id {id} already exists"),
                    });
                }
                let position = case_type::Entity::find().all(&*tx).await?.iter().map(|t| t.position).max().unwrap_or(0) + 1;
                let model = case_type::ActiveModel {
                    id: Set(id.to_owned()),
                    name: Set(name.to_owned()),
                    active: Set(true),
                    position: Set(position),
                }
                .insert(&*tx)
                .await?;
                let mut changes = Changes::new();
                changes.set("created", "", id);
                changes.set("name", "", name);
                tx.trail("case_type", id, &changes).await?;
                Ok(model)
            })
            .await
    }

    /// Case types carry no version: the last change wins, each one trailed.
    pub async fn update_case_type(
        &self,
        id: &str,
        mask: &FieldMask<CaseTypeField>,
        name: &str,
        active: bool,
        by: &Actor<'_>,
    ) -> Result<case_type::Model> {
        self.mutations
            .run(by, async |tx| {
                let current = case_type::Entity::find_by_id(id.to_owned())
                    .one(&*tx)
                    .await?
                    .ok_or_else(|| Error::not_found("case type", id))?;
                let mut next = current.clone();
                let mut changes = Changes::new();
                for field in mask.iter() {
                    match field {
                        CaseTypeField::Name => {
                            changes.diff("name", &current.name, name);
                            next.name = name.to_owned();
                        }
                        CaseTypeField::Active => {
                            changes.diff("active", current.active, active);
                            next.active = active;
                        }
                    }
                }
                if changes.is_empty() {
                    return Ok(current);
                }
                let next = next.into_active_model().reset_all().update(&*tx).await?;
                tx.trail("case_type", id, &changes).await?;
                Ok(next)
            })
            .await
    }
}

/// The cases a list's filters select, unordered and unpaged.
fn cases_matching(filter: &CaseFilter) -> sea_orm::Select<case::Entity> {
    let mut query = case::Entity::find();
    if !filter.statuses.is_empty() {
        query = query.filter(case::Column::Status.is_in(filter.statuses.iter().map(|s| s.key())));
    }
    if !filter.priorities.is_empty() {
        query = query.filter(case::Column::Priority.is_in(filter.priorities.iter().map(|p| p.rank())));
    }
    if let Some(type_id) = &filter.type_id {
        query = query.filter(case::Column::TypeId.eq(type_id.clone()));
    }
    if let Some(owner) = &filter.owner_id {
        query = query.filter(case::Column::OwnerId.eq(owner.to_string()));
    }
    if filter.unassigned_only {
        query = query.filter(case::Column::OwnerId.is_null());
    }
    if let Some(team) = &filter.team_id {
        query = query.filter(case::Column::TeamId.eq(team.to_string()));
    }
    if let Some(account) = &filter.account_id {
        query = query.filter(case::Column::AccountId.eq(account.to_string()));
    }
    if let Some(contact) = &filter.contact_id {
        query = query.filter(
            case::Column::Id.in_subquery(
                Query::select()
                    .column(case_contact::Column::CaseId)
                    .from(case_contact::Entity)
                    .and_where(case_contact::Column::ContactId.eq(contact.to_string()))
                    .to_owned(),
            ),
        );
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(
            case::Column::Id.in_subquery(
                Query::select()
                    .column(case_tag::Column::CaseId)
                    .from(case_tag::Entity)
                    .and_where(case_tag::Column::Tag.eq(tag.clone()))
                    .to_owned(),
            ),
        );
    }
    if let Some(after) = filter.created_after {
        query = query.filter(case::Column::CreatedAt.gte(after));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(case::Column::CreatedAt.lt(before));
    }
    if !filter.text.is_empty() {
        query = query.filter(
            Condition::any()
                .add(contains_ci(case::Column::Subject, &filter.text))
                .add(contains_ci(case::Column::Description, &filter.text)),
        );
    }
    query
}

fn time_text(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    time.map(|t| t.to_rfc3339()).unwrap_or_default()
}
