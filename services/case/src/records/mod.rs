//! The records the case service keeps: its sea-orm entities, and the
//! records that span several tables (a case with its contacts and tags, a
//! team with its members). The store writes them, the wire module shows
//! them, the events carry them.

pub mod entities;

use docket_kit::{audit::Changes, db::NewRows, mutation::Record};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryResult,
    Statement, Value,
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
        let (case, _) = self.case.insert_rows(backend)?;
        Some((case, link_rows(self, true, true)))
    }

    async fn update(&self, txn: &DatabaseTransaction, expected: i64, changes: &Changes) -> Result<bool, DbErr> {
        if !self.case.update(txn, expected, changes).await? {
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
    let (column, value): (&str, Value) = match key {
        CaseKey::Id(id) => ("id", id.into()),
        CaseKey::Number(number) => ("number", number.into()),
    };
    let placeholder = if backend == DbBackend::Postgres { "$1" } else { "?" };
    let page = Statement::from_sql_and_values(backend, format!("SELECT * FROM cases WHERE {column} = {placeholder}"), [value]);
    Ok(with_links(db, page, "").await?.pop())
}

/// The cases `page` selects (whole rows of `cases`, at most one per id),
/// each with its contacts and tags, in one query. `order` is the page's
/// ORDER BY over columns of `cases`, ending in a unique one, with a trailing
/// comma (empty for a single case).
///
/// Each link table is read by the page's case ids through its primary key,
/// whatever the planner's statistics say. Joined to a page as one relation,
/// PostgreSQL guessed a case's share of the links, and with a few thousand
/// contacts it hashed the page and read every contact for each page (issue
/// 15); a `LATERAL` subquery it cannot flatten (`OFFSET 0`) is looked up per
/// case. SQLite looks each up by its index anyway.
pub async fn with_links(db: &impl ConnectionTrait, page: Statement, order: &str) -> Result<Vec<CaseRecord>, DbErr> {
    let (contacts, tags) = match db.get_database_backend() {
        DbBackend::Postgres => (
            "LEFT JOIN LATERAL (SELECT contact_id, is_primary, position FROM case_contacts WHERE case_id = page.id OFFSET 0) c \
             ON TRUE",
            "JOIN LATERAL (SELECT tag FROM case_tags WHERE case_id = page.id OFFSET 0) t ON TRUE",
        ),
        _ => ("LEFT JOIN case_contacts c ON c.case_id = page.id", "JOIN case_tags t ON t.case_id = page.id"),
    };
    let sql = format!(
        "WITH page AS ({}) \
         SELECT page.*, 0 AS link_kind, c.contact_id AS link_value, c.is_primary AS link_is_primary, \
           c.position AS link_position \
         FROM page {contacts} \
         UNION ALL \
         SELECT page.*, 1, t.tag, FALSE, 0 FROM page {tags} \
         ORDER BY {order} link_kind, link_position, link_value",
        page.sql
    );
    let rows = db.query_all_raw(Statement { sql, ..page }).await?;
    // A case's rows are consecutive: one per link, or one without any.
    let mut records: Vec<CaseRecord> = Vec::new();
    for row in &rows {
        let id: String = row.try_get("", "id")?;
        if records.last().is_none_or(|last| last.case.id != id) {
            let case = case::Model::from_query_result(row, "")?;
            records.push(CaseRecord { case, contacts: Vec::new(), tags: Vec::new() });
        }
        if let Some(record) = records.last_mut() {
            add_link(record, row)?;
        }
    }
    Ok(records)
}

/// Adds the link a row of [`with_links`] holds, if any (a case without
/// contacts has one row without a value).
fn add_link(record: &mut CaseRecord, row: &QueryResult) -> Result<(), DbErr> {
    let value: Option<String> = row.try_get("", "link_value")?;
    let Some(value) = value else { return Ok(()) };
    let kind: i32 = row.try_get("", "link_kind")?;
    if kind == 0 {
        let contact_id = value.parse().map_err(|_| DbErr::Type(format!("case_contacts.contact_id {value} is not a UUID")))?;
        let primary: bool = row.try_get("", "link_is_primary")?;
        record.contacts.push(CaseContactRef { contact_id, primary });
    } else {
        record.tags.push(value);
    }
    Ok(())
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
