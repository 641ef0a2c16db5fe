//! The records the case service keeps: its sea-orm entities, and the
//! records that span several tables (a case with its contacts and tags, a
//! team with its members). The store writes them, the wire module shows
//! them, the events carry them.

pub mod entities;

use docket_kit::{audit::Changes, mutation::Record};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder};

use self::entities::{account, case, case_contact, case_tag, contact, escalation_rule, staff_user, team};
use crate::{
    domain::{
        CaseStatus, Priority,
        commands::{CaseContactRef, Money},
        escalation::{Rule, Target, Trigger},
        format_case_number,
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
        match case::Entity::find_by_id(id.to_owned()).one(db).await? {
            Some(model) => Ok(Some(with_links(db, model).await?)),
            None => Ok(None),
        }
    }

    async fn insert(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        self.case.insert(txn).await?;
        write_links(txn, self, true, true).await
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

/// A case row with its contacts and tags.
pub async fn with_links(db: &impl ConnectionTrait, model: case::Model) -> Result<CaseRecord, DbErr> {
    let mut records = with_links_all(db, vec![model]).await?;
    records.pop().ok_or_else(|| DbErr::RecordNotFound("case".to_owned()))
}

/// Case rows with their contacts and tags, in the order given.
pub async fn with_links_all(db: &impl ConnectionTrait, cases: Vec<case::Model>) -> Result<Vec<CaseRecord>, DbErr> {
    use std::collections::HashMap;
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    let mut contacts: HashMap<String, Vec<CaseContactRef>> = HashMap::new();
    for row in case_contact::Entity::find()
        .filter(case_contact::Column::CaseId.is_in(ids.iter().cloned()))
        .order_by_asc(case_contact::Column::CaseId)
        .order_by_asc(case_contact::Column::Position)
        .all(db)
        .await?
    {
        let contact_id = row
            .contact_id
            .parse()
            .map_err(|_| DbErr::Type(format!("case_contacts.contact_id {} is not a UUID", row.contact_id)))?;
        contacts.entry(row.case_id).or_default().push(CaseContactRef { contact_id, primary: row.is_primary });
    }
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for row in case_tag::Entity::find()
        .filter(case_tag::Column::CaseId.is_in(ids))
        .order_by_asc(case_tag::Column::CaseId)
        .order_by_asc(case_tag::Column::Tag)
        .all(db)
        .await?
    {
        tags.entry(row.case_id).or_default().push(row.tag);
    }
    Ok(cases
        .into_iter()
        .map(|case| CaseRecord {
            contacts: contacts.remove(&case.id).unwrap_or_default(),
            tags: tags.remove(&case.id).unwrap_or_default(),
            case,
        })
        .collect())
}

/// Replaces a case's contacts and/or tags with the record's.
async fn write_links(txn: &DatabaseTransaction, record: &CaseRecord, contacts: bool, tags: bool) -> Result<(), DbErr> {
    use sea_orm::ActiveValue::Set;
    let id = &record.case.id;
    if contacts {
        case_contact::Entity::delete_many().filter(case_contact::Column::CaseId.eq(id.clone())).exec(txn).await?;
        if !record.contacts.is_empty() {
            let rows = record.contacts.iter().enumerate().map(|(i, c)| case_contact::ActiveModel {
                case_id: Set(id.clone()),
                contact_id: Set(c.contact_id.to_string()),
                is_primary: Set(c.primary),
                position: Set(i as i32),
            });
            case_contact::Entity::insert_many(rows).exec(txn).await?;
        }
    }
    if tags {
        case_tag::Entity::delete_many().filter(case_tag::Column::CaseId.eq(id.clone())).exec(txn).await?;
        if !record.tags.is_empty() {
            let rows = record.tags.iter().map(|t| case_tag::ActiveModel { case_id: Set(id.clone()), tag: Set(t.clone()) });
            case_tag::Entity::insert_many(rows).exec(txn).await?;
        }
    }
    Ok(())
}

/// A team with its members' ids in the order they joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub team: team::Model,
    pub member_ids: Vec<String>,
}
