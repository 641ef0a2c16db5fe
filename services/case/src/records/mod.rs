//! The records the case service keeps: its sea-orm entities, and the
//! records that span several tables (a case with its contacts and tags, a
//! team with its members). The store writes them, the wire module shows
//! them, the events carry them.

pub mod entities;

use std::collections::HashMap;

use docket_kit::{audit::Changes, db::NewRows, mutation::Record};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    QueryFilter, QueryOrder, QueryResult, QueryTrait, Statement, Value,
};

use self::entities::{account, assignment_rule, case, case_contact, case_tag, contact, escalation_rule, staff_user, team};
use crate::{
    domain::{
        AccountTier, CaseStatus, Channel, Priority,
        commands::{CaseContactRef, Money},
        escalation::{Rule, Target, Trigger},
        format_case_number,
        routing::{self, Absence},
    },
    error::Error,
};

docket_kit::versioned_record!(account, "account");
docket_kit::versioned_record!(
    contact,
    "contact",
    taken = |m| ("contact.email".to_owned(), format!("another contact already has the email address {}", m.email)),
);
docket_kit::versioned_record!(
    staff_user,
    "staff_user",
    taken = |m| ("staff_user.email".to_owned(), format!("another staff user already has the email address {}", m.email)),
);
docket_kit::versioned_record!(
    team,
    "team",
    taken = |m| ("team.name".to_owned(), format!("a team named {} already exists", m.name)),
);
docket_kit::versioned_record!(
    escalation_rule,
    "escalation_rule",
    taken = |m| ("rule.name".to_owned(), format!("an escalation rule named {} already exists", m.name)),
);

docket_kit::versioned_record!(
    assignment_rule,
    "assignment_rule",
    taken = |m| ("rule.name".to_owned(), format!("an assignment rule named {} already exists", m.name)),
);

/// The stored assignment rule as the domain sees it; `None` for a method
/// this version does not know.
pub fn assignment_rule_of(model: &assignment_rule::Model) -> Option<routing::Rule> {
    fn list<T: serde::de::DeserializeOwned>(stored: &str) -> Vec<T> {
        serde_json::from_str(stored).unwrap_or_default()
    }
    let ranks: Vec<i16> = list(&model.priorities);
    let channels: Vec<String> = list(&model.channels);
    let tiers: Vec<String> = list(&model.account_tiers);
    Some(routing::Rule {
        id: model.id.clone(),
        name: model.name.clone(),
        conditions: routing::Conditions {
            case_type_ids: list(&model.case_type_ids),
            priorities: ranks.into_iter().filter_map(Priority::from_rank).collect(),
            channels: channels.iter().filter_map(|c| Channel::from_key(c)).collect(),
            account_ids: list(&model.account_ids),
            account_tiers: tiers.iter().filter_map(|t| AccountTier::from_key(t)).collect(),
            web_form_ids: list(&model.web_form_ids),
            tags: list(&model.tags),
            subject_words: list(&model.subject_words),
        },
        method: routing::Method::from_key(&model.method)?,
        team_id: model.team_id.clone(),
        owner_id: model.owner_id.clone(),
        capacity: model.capacity,
    })
}

pub fn model_money(model: &account::Model) -> Option<Money> {
    model.annual_value_minor.map(|amount_minor| Money { amount_minor, currency: model.annual_value_currency.clone() })
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

/// A staff user's stored out-of-office periods (none when unreadable).
pub fn absences(stored: &str) -> Vec<Absence> {
    serde_json::from_str(stored).unwrap_or_default()
}

/// A case with its contacts and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub case: case::Model,
    pub contacts: Vec<CaseContactRef>,
    pub tags: Vec<String>,
}

impl CaseRecord {
    /// Its status; a stored status this version does not know is an error
    /// (a newer writer, or a damaged row), never quietly "New".
    pub fn status(&self) -> Result<CaseStatus, Error> {
        CaseStatus::from_key(&self.case.status).ok_or_else(|| {
            Error::Database(DbErr::Type(format!("case {} has the unknown status `{}`", self.case.id, self.case.status)))
        })
    }

    /// The `cases` row to write: the case with its contacts and tags
    /// (`links`), marked as those of the version it is written at.
    fn stored_case(&self) -> case::Model {
        let links = StoredLinks {
            contacts: self.contacts.iter().map(|c| (c.contact_id.to_string(), c.primary)).collect(),
            tags: self.tags.clone(),
        };
        // Strings and booleans always serialize; were it ever not so, the
        // reads would take the link tables.
        let links = serde_json::to_string(&links).ok();
        case::Model { links_version: links.as_ref().map(|_| self.case.version), links, ..self.case.clone() }
    }
}

/// What `cases.links` holds: the contacts (id, primary) in their order and
/// the tags, as the case's link tables hold them.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLinks {
    contacts: Vec<(String, bool)>,
    tags: Vec<String>,
}

impl Record for CaseRecord {
    const KIND: &'static str = "case";

    fn id(&self) -> &str {
        &self.case.id
    }

    fn version(&self) -> i64 {
        self.case.version
    }

    fn name(&self) -> String {
        format_case_number(self.case.number)
    }

    fn stamp(&mut self, version: i64, at: chrono::DateTime<chrono::Utc>) {
        self.case.version = version;
        self.case.updated_at = at;
    }

    async fn load<C: ConnectionTrait + Sync>(db: &C, id: &str) -> Result<Option<Self>, DbErr> {
        load_case(db, CaseKey::Id(id)).await
    }

    fn insert_rows(&self, backend: DbBackend) -> Option<(Statement, Vec<NewRows>)> {
        let (case, _) = self.stored_case().insert_rows(backend)?;
        Some((case, link_rows(self, true, true)))
    }

    async fn update(&self, txn: &DatabaseTransaction, expected: i64, changes: &Changes) -> Result<bool, DbErr> {
        if !self.stored_case().update(txn, expected, changes).await? {
            return Ok(false);
        }
        write_links(txn, self, changes.touches("contacts"), changes.touches("tags")).await?;
        Ok(true)
    }
}

docket_kit::versioned_record!(case, "case", name = |m| format_case_number(m.number));

/// Which case [`load_case`] reads.
#[derive(Debug, Clone, Copy)]
pub enum CaseKey<'a> {
    Id(&'a str),
    Number(i64),
}

/// A case with its contacts and tags, in one query.
pub async fn load_case(db: &impl ConnectionTrait, key: CaseKey<'_>) -> Result<Option<CaseRecord>, DbErr> {
    let backend = db.get_database_backend();
    let (column, value): (case::Column, Value) = match key {
        CaseKey::Id(id) => (case::Column::Id, id.into()),
        CaseKey::Number(number) => (case::Column::Number, number.into()),
    };
    let page = case::Entity::find().filter(column.eq(value)).build(backend);
    Ok(with_links(db, page).await?.pop())
}

/// The cases `page` selects (whole rows of `cases`, as `case::Entity`'s
/// selects name them), in its order, each with its contacts and tags: from
/// the row's `links`, in the same query.
///
/// Read from the link tables instead, a page of 50 cases cost PostgreSQL
/// 100 index look-ups, most of a list's time in the database (issue 15).
/// Those tables are read only for rows whose `links` are not their current
/// ones: written by a release that did not keep them, or before them.
pub async fn with_links(db: &impl ConnectionTrait, page: Statement) -> Result<Vec<CaseRecord>, DbErr> {
    let rows = db.query_all_raw(page).await?;
    let mut records = Vec::with_capacity(rows.len());
    let mut not_kept = Vec::new();
    let by_position = rows.first().is_some_and(columns_in_model_order);
    for row in &rows {
        let mut case = if by_position { case_by_position(row)? } else { case::Model::from_query_result(row, "")? };
        let kept = kept_links(&case)?;
        // In memory a case is its fields; `stored_case` writes the links anew.
        case.links = None;
        case.links_version = None;
        let (contacts, tags) = kept.unwrap_or_else(|| {
            not_kept.push(records.len());
            Default::default()
        });
        records.push(CaseRecord { case, contacts, tags });
    }
    if !not_kept.is_empty() {
        read_link_tables(db, &mut records, &not_kept).await?;
    }
    Ok(records)
}

/// Whether a result's columns are `case::Model`'s fields, in order (as
/// sea-orm selects an entity).
fn columns_in_model_order(row: &QueryResult) -> bool {
    row.column_names().iter().map(String::as_str).eq(case::Column::iter().map(|column| column.as_str()))
}

/// A row of `cases` whose columns are in the model's order
/// ([`columns_in_model_order`]), read by position: by name, sqlx looked up
/// each column of each row among the row's columns, and sea-orm formatted
/// its name, about a tenth of a busy ListCases (issue 15). The fields are
/// read in the order written.
fn case_by_position(row: &QueryResult) -> Result<case::Model, DbErr> {
    let mut columns = 0..;
    let mut next = || columns.next().unwrap_or_default();
    Ok(case::Model {
        id: row.try_get_by_index(next())?,
        number: row.try_get_by_index(next())?,
        subject: row.try_get_by_index(next())?,
        description: row.try_get_by_index(next())?,
        type_id: row.try_get_by_index(next())?,
        priority: row.try_get_by_index(next())?,
        status: row.try_get_by_index(next())?,
        channel: row.try_get_by_index(next())?,
        account_id: row.try_get_by_index(next())?,
        owner_id: row.try_get_by_index(next())?,
        team_id: row.try_get_by_index(next())?,
        service_contract_id: row.try_get_by_index(next())?,
        service_contract_number: row.try_get_by_index(next())?,
        asset_description: row.try_get_by_index(next())?,
        asset_serial_number: row.try_get_by_index(next())?,
        resolution_summary: row.try_get_by_index(next())?,
        created_by: row.try_get_by_index(next())?,
        version: row.try_get_by_index(next())?,
        created_at: row.try_get_by_index(next())?,
        updated_at: row.try_get_by_index(next())?,
        first_response_at: row.try_get_by_index(next())?,
        resolved_at: row.try_get_by_index(next())?,
        closed_at: row.try_get_by_index(next())?,
        web_form_id: row.try_get_by_index(next())?,
        links: row.try_get_by_index(next())?,
        links_version: row.try_get_by_index(next())?,
    })
}

/// A case's contacts and tags.
type Links = (Vec<CaseContactRef>, Vec<String>);

/// The contacts and tags the row keeps in `links`, if they are those of
/// its current version.
fn kept_links(case: &case::Model) -> Result<Option<Links>, DbErr> {
    let Some(links) = case.links.as_deref().filter(|_| case.links_version == Some(case.version)) else { return Ok(None) };
    let stored: StoredLinks = serde_json::from_str(links)
        .map_err(|err| DbErr::Type(format!("cases.links of case {} is not readable: {err}", case.id)))?;
    let contacts =
        stored.contacts.iter().map(|(contact_id, primary)| contact_ref(contact_id, *primary)).collect::<Result<_, _>>()?;
    Ok(Some((contacts, stored.tags)))
}

/// Fills in the contacts and tags of the cases at `which` (in `records`)
/// from the link tables.
async fn read_link_tables(db: &impl ConnectionTrait, records: &mut [CaseRecord], which: &[usize]) -> Result<(), DbErr> {
    let at: HashMap<String, usize> = which.iter().map(|&i| (records[i].case.id.clone(), i)).collect();
    let ids = || at.keys().cloned();
    let contacts = case_contact::Entity::find()
        .filter(case_contact::Column::CaseId.is_in(ids()))
        .order_by_asc(case_contact::Column::Position)
        .all(db)
        .await?;
    for link in contacts {
        if let Some(&i) = at.get(&link.case_id) {
            records[i].contacts.push(contact_ref(&link.contact_id, link.is_primary)?);
        }
    }
    for link in case_tag::Entity::find().filter(case_tag::Column::CaseId.is_in(ids())).all(db).await? {
        if let Some(&i) = at.get(&link.case_id) {
            records[i].tags.push(link.tag);
        }
    }
    // In byte order, as the service sorts them, whatever the database's collation.
    for &i in which {
        records[i].tags.sort();
    }
    Ok(())
}

fn contact_ref(contact_id: &str, primary: bool) -> Result<CaseContactRef, DbErr> {
    let contact_id = contact_id.parse().map_err(|_| DbErr::Type(format!("case contact id {contact_id} is not a UUID")))?;
    Ok(CaseContactRef { contact_id, primary })
}

/// Replaces a case's stored contacts and/or tags with the record's.
async fn write_links(txn: &DatabaseTransaction, record: &CaseRecord, contacts: bool, tags: bool) -> Result<(), DbErr> {
    if contacts {
        case_contact::Entity::delete_many().filter(case_contact::Column::CaseId.eq(record.case.id.clone())).exec(txn).await?;
    }
    if tags {
        case_tag::Entity::delete_many().filter(case_tag::Column::CaseId.eq(record.case.id.clone())).exec(txn).await?;
    }
    insert_links(txn, record, contacts, tags).await
}

/// Inserts a case's contacts and/or tags (a new case has none to replace).
async fn insert_links(txn: &DatabaseTransaction, record: &CaseRecord, contacts: bool, tags: bool) -> Result<(), DbErr> {
    docket_kit::db::insert_all(txn, None, link_rows(record, contacts, tags)).await
}

/// The rows of a case's contacts and/or tags.
fn link_rows(record: &CaseRecord, contacts: bool, tags: bool) -> Vec<NewRows> {
    let id = &record.case.id;
    let mut rows = Vec::new();
    if contacts {
        let mut links = NewRows::new("INSERT INTO case_contacts (case_id, contact_id, is_primary, position)", 4, "");
        for (position, contact) in record.contacts.iter().enumerate() {
            links.push([
                id.as_str().into(),
                contact.contact_id.to_string().into(),
                contact.primary.into(),
                (position as i32).into(),
            ]);
        }
        rows.push(links);
    }
    if tags {
        let mut links = NewRows::new("INSERT INTO case_tags (case_id, tag)", 2, "");
        for tag in &record.tags {
            links.push([id.as_str().into(), tag.as_str().into()]);
        }
        rows.push(links);
    }
    rows
}

/// A team with its members' ids in the order they joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub team: team::Model,
    pub member_ids: Vec<String>,
}
