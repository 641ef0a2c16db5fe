//! Cases: numbering, descriptive fields, the status verbs, queues.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait, sea_query::Query,
};
use serde::{Deserialize, Serialize};

use super::{
    Actor, Store,
    accounts::page_end,
    contains_ci,
    entities::{account, case, case_contact, case_tag, case_type, contact, staff_user, team},
    find_idempotent, new_id, remember_idempotent, stale, write_trail,
};
use crate::{
    domain::{
        CaseStatus, Changes, Channel, Priority,
        commands::{CaseContactRef, CaseFields, Idempotency, NewCase},
        format_case_number, status,
    },
    error::{Error, Result},
};

pub const CASE_FIELDS: &[&str] = &[
    "subject",
    "description",
    "type_id",
    "priority",
    "channel",
    "account_id",
    "contacts",
    "team_id",
    "service_contract_id",
    "service_contract_number",
    "asset_description",
    "asset_serial_number",
    "tags",
];

/// A case with its contacts and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub case: case::Model,
    pub contacts: Vec<CaseContactRef>,
    pub tags: Vec<String>,
}

impl CaseRecord {
    pub fn status(&self) -> CaseStatus {
        CaseStatus::from_key(&self.case.status).unwrap_or(CaseStatus::New)
    }
}

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
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub created_after: Option<chrono::DateTime<chrono::Utc>>,
    pub created_before: Option<chrono::DateTime<chrono::Utc>>,
    pub text: String,
    pub unassigned_only: bool,
    pub tag: Option<String>,
}

fn contacts_text(contacts: &[CaseContactRef]) -> String {
    contacts
        .iter()
        .map(|c| if c.primary { format!("{} (primary)", c.contact_id) } else { c.contact_id.clone() })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn opt_text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

fn priority_label(rank: i16) -> &'static str {
    Priority::from_rank(rank).map(Priority::label).unwrap_or("")
}

fn channel_label(key: &str) -> &'static str {
    Channel::from_key(key).map(Channel::label).unwrap_or("")
}

/// Copies the masked descriptive fields onto `record`, recording each change.
fn apply(record: &mut CaseRecord, fields: &CaseFields, mask: &[&str], changes: &mut Changes) {
    let model = &mut record.case;
    macro_rules! text_field {
        ($name:literal, $field:ident) => {{
            changes.diff($name, &model.$field, &fields.$field);
            model.$field.clone_from(&fields.$field);
        }};
    }
    for field in mask {
        match *field {
            "subject" => text_field!("subject", subject),
            "description" => text_field!("description", description),
            "type_id" => text_field!("type_id", type_id),
            "account_id" => text_field!("account_id", account_id),
            "service_contract_id" => text_field!("service_contract_id", service_contract_id),
            "service_contract_number" => text_field!("service_contract_number", service_contract_number),
            "asset_description" => text_field!("asset_description", asset_description),
            "asset_serial_number" => text_field!("asset_serial_number", asset_serial_number),
            "priority" => {
                changes.diff("priority", priority_label(model.priority), fields.priority.label());
                model.priority = fields.priority.rank();
            }
            "channel" => {
                changes.diff("channel", channel_label(&model.channel), fields.channel.label());
                model.channel = fields.channel.key().to_owned();
            }
            "team_id" => {
                changes.diff("team_id", opt_text(&model.team_id), opt_text(&fields.team_id));
                model.team_id.clone_from(&fields.team_id);
            }
            "contacts" => {
                changes.diff("contacts", contacts_text(&record.contacts), contacts_text(&fields.contacts));
                record.contacts.clone_from(&fields.contacts);
            }
            "tags" => {
                changes.diff("tags", record.tags.join(", "), fields.tags.join(", "));
                record.tags.clone_from(&fields.tags);
            }
            _ => {}
        }
    }
}

/// Checks what the fields refer to, inside the command's transaction.
async fn check_references(
    txn: &DatabaseTransaction,
    before: Option<&CaseRecord>,
    after: &CaseRecord,
    mask: &[&str],
) -> Result<()> {
    let model = &after.case;
    let changed = |field: &str| mask.contains(&field);
    if changed("type_id") && before.is_none_or(|b| b.case.type_id != model.type_id) {
        match case_type::Entity::find_by_id(model.type_id.clone()).one(txn).await? {
            None => return Err(Error::field("case.type_id", format!("no case type has the id {}", model.type_id))),
            Some(t) if !t.active => {
                return Err(Error::field("case.type_id", format!("the case type {} is no longer offered", t.id)));
            }
            Some(_) => {}
        }
    }
    if changed("account_id") && account::Entity::find_by_id(model.account_id.clone()).one(txn).await?.is_none() {
        return Err(Error::field("case.account_id", format!("no account has the id {}", model.account_id)));
    }
    if changed("account_id") || changed("contacts") {
        for (i, link) in after.contacts.iter().enumerate() {
            match contact::Entity::find_by_id(link.contact_id.clone()).one(txn).await? {
                None => {
                    return Err(Error::field(
                        format!("case.contacts[{i}].contact_id"),
                        format!("no contact has the id {}", link.contact_id),
                    ));
                }
                Some(c) if c.account_id != model.account_id => {
                    return Err(Error::field(
                        format!("case.contacts[{i}].contact_id"),
                        format!("contact {} belongs to another account than the case", c.id),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if changed("team_id")
        && let Some(team_id) = &model.team_id
        && team::Entity::find_by_id(team_id.clone()).one(txn).await?.is_none()
    {
        return Err(Error::field("case.team_id", format!("no team has the id {team_id}")));
    }
    Ok(())
}

pub(super) async fn check_owner(txn: &DatabaseTransaction, field: &str, owner_id: &str) -> Result<()> {
    match staff_user::Entity::find_by_id(owner_id.to_owned()).one(txn).await? {
        None => Err(Error::field(field, format!("no staff user has the id {owner_id}"))),
        Some(user) if !user.active => Err(Error::field(field, format!("staff user {} is inactive", user.name))),
        Some(_) => Ok(()),
    }
}

/// Replaces a case's contacts and tags with the record's.
async fn write_links(txn: &DatabaseTransaction, record: &CaseRecord, contacts: bool, tags: bool) -> Result<()> {
    let id = &record.case.id;
    if contacts {
        case_contact::Entity::delete_many().filter(case_contact::Column::CaseId.eq(id.clone())).exec(txn).await?;
        if !record.contacts.is_empty() {
            let rows = record.contacts.iter().enumerate().map(|(i, c)| case_contact::ActiveModel {
                case_id: Set(id.clone()),
                contact_id: Set(c.contact_id.clone()),
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

/// Loads contacts and tags for a set of cases.
async fn load_links(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<(HashMap<String, Vec<CaseContactRef>>, HashMap<String, Vec<String>>)> {
    let mut contacts: HashMap<String, Vec<CaseContactRef>> = HashMap::new();
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok((contacts, tags));
    }
    for row in case_contact::Entity::find()
        .filter(case_contact::Column::CaseId.is_in(ids.iter().cloned()))
        .order_by_asc(case_contact::Column::CaseId)
        .order_by_asc(case_contact::Column::Position)
        .all(db)
        .await?
    {
        contacts.entry(row.case_id).or_default().push(CaseContactRef { contact_id: row.contact_id, primary: row.is_primary });
    }
    for row in case_tag::Entity::find()
        .filter(case_tag::Column::CaseId.is_in(ids.iter().cloned()))
        .order_by_asc(case_tag::Column::CaseId)
        .order_by_asc(case_tag::Column::Tag)
        .all(db)
        .await?
    {
        tags.entry(row.case_id).or_default().push(row.tag);
    }
    Ok((contacts, tags))
}

async fn load_record(db: &impl ConnectionTrait, model: case::Model) -> Result<CaseRecord> {
    let (mut contacts, mut tags) = load_links(db, std::slice::from_ref(&model.id)).await?;
    Ok(CaseRecord {
        contacts: contacts.remove(&model.id).unwrap_or_default(),
        tags: tags.remove(&model.id).unwrap_or_default(),
        case: model,
    })
}

/// A case with its links, read inside a transaction.
pub(crate) async fn load_case(db: &impl ConnectionTrait, id: &str) -> Result<CaseRecord> {
    let model =
        case::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or_else(|| Error::NotFound(format!("case {id} not found")))?;
    load_record(db, model).await
}

/// Reads a case for a change, checking the etag the caller sent, if any.
pub(super) async fn load_for_change(txn: &DatabaseTransaction, id: &str, etag: Option<i64>) -> Result<CaseRecord> {
    let model =
        case::Entity::find_by_id(id.to_owned()).one(txn).await?.ok_or_else(|| Error::NotFound(format!("case {id} not found")))?;
    if let Some(etag) = etag
        && etag != model.version
    {
        return Err(stale("case", &format_case_number(model.number), etag, model.version));
    }
    load_record(txn, model).await
}

/// Writes a changed case: bumps its version only if nobody else did first,
/// then its links and its trail rows.
pub(super) async fn save_change(
    txn: &DatabaseTransaction,
    before: &CaseRecord,
    mut after: CaseRecord,
    changes: &Changes,
    by: &Actor<'_>,
) -> Result<CaseRecord> {
    after.case.version = before.case.version + 1;
    after.case.updated_at = by.at;
    let updated = case::Entity::update_many()
        .set(after.case.clone().into_active_model().reset_all())
        .filter(case::Column::Id.eq(before.case.id.clone()))
        .filter(case::Column::Version.eq(before.case.version))
        .exec(txn)
        .await?;
    if updated.rows_affected == 0 {
        let number = format_case_number(before.case.number);
        return Err(stale("case", &number, before.case.version, before.case.version + 1));
    }
    write_links(txn, &after, changes.touches("contacts"), changes.touches("tags")).await?;
    write_trail(txn, "case", &after.case.id, by, changes).await?;
    Ok(after)
}

/// Runs a verb; when the caller sent no etag, a concurrent change is not its
/// problem, so the verb runs again on the fresh case a few times.
macro_rules! retry_unversioned {
    ($etag:expr, $run:expr) => {{
        let mut attempt = 0;
        loop {
            match $run {
                Err(Error::Stale(_)) if $etag.is_none() && attempt < 5 => attempt += 1,
                other => break other,
            }
        }
    }};
}

impl Store {
    pub async fn create_case(&self, new: NewCase, by: &Actor<'_>, idempotency: Option<&Idempotency>) -> Result<CaseRecord> {
        const SCOPE: &str = "CreateCase";
        if let Some(key) = idempotency
            && let Some(id) = find_idempotent(&self.db, SCOPE, by.actor, key).await?
        {
            return self.get_case(&id).await;
        }
        let txn = self.db.begin().await?;
        let status = if new.owner_id.is_some() { CaseStatus::Assigned } else { CaseStatus::New };
        let mut record = CaseRecord {
            case: case::Model {
                id: new_id(),
                number: 0,
                subject: String::new(),
                description: String::new(),
                type_id: String::new(),
                priority: 0,
                status: status.key().to_owned(),
                channel: String::new(),
                account_id: String::new(),
                owner_id: new.owner_id.clone(),
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
            },
            contacts: Vec::new(),
            tags: Vec::new(),
        };
        let mut changes = Changes::new();
        apply(&mut record, &new.fields, CASE_FIELDS, &mut changes);
        check_references(&txn, None, &record, CASE_FIELDS).await?;
        if let Some(owner) = &new.owner_id {
            check_owner(&txn, "case.owner_id", owner).await?;
        }
        // The counter row is locked until commit, so numbers are unique and
        // follow the order in which cases are created.
        record.case.number = docket_kit::counter::next(&txn, "case_number").await?;
        let number = format_case_number(record.case.number);
        let mut trail = Changes::new();
        trail.set("created", "", &number);
        trail.set("status", "", status.label());
        if let Some(owner) = &new.owner_id {
            trail.set("owner_id", "", owner);
        }
        for change in changes.fields() {
            trail.set(change.field, &change.old, &change.new);
        }
        record.case.clone().into_active_model().reset_all().insert(&txn).await?;
        write_links(&txn, &record, true, true).await?;
        write_trail(&txn, "case", &record.case.id, by, &trail).await?;
        crate::events::case_created(&txn, &record, by).await?;
        if let Some(key) = idempotency
            && !remember_idempotent(&txn, SCOPE, by.actor, key, &record.case.id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_case(new, by, idempotency)).await;
        }
        self.commit(txn).await?;
        Ok(record)
    }

    pub async fn get_case(&self, id: &str) -> Result<CaseRecord> {
        let model = case::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("case {id} not found")))?;
        load_record(&self.db, model).await
    }

    pub async fn get_case_by_number(&self, number: i64) -> Result<CaseRecord> {
        let model = case::Entity::find()
            .filter(case::Column::Number.eq(number))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("case {} not found", format_case_number(number))))?;
        load_record(&self.db, model).await
    }

    pub async fn list_cases(
        &self,
        filter: &CaseFilter,
        order: CaseOrder,
        after: Option<CaseCursor>,
        limit: u64,
    ) -> Result<(Vec<CaseRecord>, Option<CaseCursor>)> {
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
            query = query.filter(case::Column::OwnerId.eq(owner.clone()));
        }
        if filter.unassigned_only {
            query = query.filter(case::Column::OwnerId.is_null());
        }
        if let Some(team) = &filter.team_id {
            query = query.filter(case::Column::TeamId.eq(team.clone()));
        }
        if let Some(account) = &filter.account_id {
            query = query.filter(case::Column::AccountId.eq(account.clone()));
        }
        if let Some(contact) = &filter.contact_id {
            query = query.filter(
                case::Column::Id.in_subquery(
                    Query::select()
                        .column(case_contact::Column::CaseId)
                        .from(case_contact::Entity)
                        .and_where(case_contact::Column::ContactId.eq(contact.clone()))
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
        let mut rows = query.limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| CaseCursor {
            key: match order {
                CaseOrder::Newest | CaseOrder::Oldest => 0,
                CaseOrder::RecentlyUpdated => last.updated_at.timestamp_micros(),
                CaseOrder::Priority => i64::from(last.priority),
            },
            number: last.number,
        });
        let ids: Vec<String> = rows.iter().map(|c| c.id.clone()).collect();
        let (mut contacts, mut tags) = load_links(&self.db, &ids).await?;
        let records = rows
            .into_iter()
            .map(|case| CaseRecord {
                contacts: contacts.remove(&case.id).unwrap_or_default(),
                tags: tags.remove(&case.id).unwrap_or_default(),
                case,
            })
            .collect();
        Ok((records, next))
    }

    pub async fn update_case(
        &self,
        id: &str,
        etag: i64,
        fields: CaseFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<CaseRecord> {
        let txn = self.db.begin().await?;
        let before = load_for_change(&txn, id, Some(etag)).await?;
        let mut after = before.clone();
        let mut changes = Changes::new();
        apply(&mut after, &fields, mask, &mut changes);
        if changes.is_empty() {
            return Ok(before);
        }
        check_references(&txn, Some(&before), &after, mask).await?;
        let saved = save_change(&txn, &before, after, &changes, by).await?;
        crate::events::case_updated(&txn, &saved, &changes, by).await?;
        self.commit(txn).await?;
        Ok(saved)
    }

    /// Sets or clears the owner (and optionally the team).
    pub async fn assign_case(
        &self,
        id: &str,
        etag: Option<i64>,
        owner_id: Option<String>,
        team_id: Option<String>,
        by: &Actor<'_>,
    ) -> Result<CaseRecord> {
        retry_unversioned!(
            etag,
            async {
                let txn = self.db.begin().await?;
                let before = load_for_change(&txn, id, etag).await?;
                let next_status = status::assign(before.status(), before.case.owner_id.is_some(), owner_id.is_some())?;
                if let Some(owner) = &owner_id {
                    check_owner(&txn, "owner_id", owner).await?;
                }
                if let Some(team) = &team_id
                    && team::Entity::find_by_id(team.clone()).one(&txn).await?.is_none()
                {
                    return Err(Error::field("team_id", format!("no team has the id {team}")));
                }
                let mut after = before.clone();
                let mut changes = Changes::new();
                changes.diff("owner_id", opt_text(&before.case.owner_id), opt_text(&owner_id));
                after.case.owner_id.clone_from(&owner_id);
                if team_id.is_some() {
                    changes.diff("team_id", opt_text(&before.case.team_id), opt_text(&team_id));
                    after.case.team_id.clone_from(&team_id);
                }
                changes.diff("status", before.status().label(), next_status.label());
                after.case.status = next_status.key().to_owned();
                if changes.is_empty() {
                    return Ok(before);
                }
                let saved = save_change(&txn, &before, after, &changes, by).await?;
                crate::events::case_assigned(&txn, &before, &saved, by).await?;
                self.commit(txn).await?;
                Ok(saved)
            }
            .await
        )
    }

    pub async fn set_case_status(&self, id: &str, etag: Option<i64>, to: CaseStatus, by: &Actor<'_>) -> Result<CaseRecord> {
        retry_unversioned!(
            etag,
            async {
                let txn = self.db.begin().await?;
                let before = load_for_change(&txn, id, etag).await?;
                let next = status::set_status(before.status(), before.case.owner_id.is_some(), to)?;
                self.change_status(txn, before, next, |_| {}, by).await
            }
            .await
        )
    }

    pub async fn close_case(
        &self,
        id: &str,
        etag: Option<i64>,
        to: CaseStatus,
        resolution: &str,
        by: &Actor<'_>,
    ) -> Result<CaseRecord> {
        retry_unversioned!(
            etag,
            async {
                let txn = self.db.begin().await?;
                let before = load_for_change(&txn, id, etag).await?;
                let next = status::close(before.status(), before.case.owner_id.is_some(), to)?;
                self.change_status(
                    txn,
                    before,
                    next,
                    |after| {
                        after.case.resolution_summary = resolution.to_owned();
                        after.case.resolved_at = Some(by.at);
                        after.case.closed_at = Some(by.at);
                    },
                    by,
                )
                .await
            }
            .await
        )
    }

    pub async fn reopen_case(&self, id: &str, etag: Option<i64>, by: &Actor<'_>) -> Result<CaseRecord> {
        retry_unversioned!(
            etag,
            async {
                let txn = self.db.begin().await?;
                let before = load_for_change(&txn, id, etag).await?;
                let next = status::reopen(before.status(), before.case.owner_id.is_some())?;
                self.change_status(
                    txn,
                    before,
                    next,
                    |after| {
                        after.case.resolved_at = None;
                        after.case.closed_at = None;
                    },
                    by,
                )
                .await
            }
            .await
        )
    }

    /// Moves a case to `next`, with whatever else the verb changes, and one
    /// trail row per changed field.
    async fn change_status(
        &self,
        txn: DatabaseTransaction,
        before: CaseRecord,
        next: CaseStatus,
        also: impl FnOnce(&mut CaseRecord),
        by: &Actor<'_>,
    ) -> Result<CaseRecord> {
        let mut after = before.clone();
        after.case.status = next.key().to_owned();
        also(&mut after);
        let mut changes = Changes::new();
        changes.diff("status", before.status().label(), next.label());
        changes.diff("resolution_summary", &before.case.resolution_summary, &after.case.resolution_summary);
        changes.diff("resolved_time", time_text(before.case.resolved_at), time_text(after.case.resolved_at));
        changes.diff("closed_time", time_text(before.case.closed_at), time_text(after.case.closed_at));
        if changes.is_empty() {
            return Ok(before);
        }
        let saved = save_change(&txn, &before, after, &changes, by).await?;
        crate::events::status_events(&txn, &before, &saved, by).await?;
        self.commit(txn).await?;
        Ok(saved)
    }

    pub async fn list_case_types(&self, include_inactive: bool) -> Result<Vec<case_type::Model>> {
        let mut query = case_type::Entity::find();
        if !include_inactive {
            query = query.filter(case_type::Column::Active.eq(true));
        }
        Ok(query.order_by_asc(case_type::Column::Position).order_by_asc(case_type::Column::Id).all(&self.db).await?)
    }

    pub async fn create_case_type(&self, id: &str, name: &str, by: &Actor<'_>) -> Result<case_type::Model> {
        let txn = self.db.begin().await?;
        if case_type::Entity::find_by_id(id.to_owned()).one(&txn).await?.is_some() {
            return Err(Error::AlreadyExists {
                field: "case_type.id".to_owned(),
                message: format!("a case type with the id {id} already exists"),
            });
        }
        let position = case_type::Entity::find().all(&txn).await?.iter().map(|t| t.position).max().unwrap_or(0) + 1;
        let model = case_type::ActiveModel {
            id: Set(id.to_owned()),
            name: Set(name.to_owned()),
            active: Set(true),
            position: Set(position),
        }
        .insert(&txn)
        .await?;
        let mut changes = Changes::new();
        changes.set("created", "", id);
        changes.set("name", "", name);
        write_trail(&txn, "case_type", id, by, &changes).await?;
        txn.commit().await?;
        Ok(model)
    }

    pub async fn update_case_type(
        &self,
        id: &str,
        name: Option<&str>,
        active: Option<bool>,
        by: &Actor<'_>,
    ) -> Result<case_type::Model> {
        let txn = self.db.begin().await?;
        let current = case_type::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("case type {id} not found")))?;
        let mut next = current.clone();
        let mut changes = Changes::new();
        if let Some(name) = name {
            changes.diff("name", &current.name, name);
            next.name = name.to_owned();
        }
        if let Some(active) = active {
            changes.diff("active", current.active, active);
            next.active = active;
        }
        if changes.is_empty() {
            return Ok(current);
        }
        let next = next.into_active_model().reset_all().update(&txn).await?;
        write_trail(&txn, "case_type", id, by, &changes).await?;
        txn.commit().await?;
        Ok(next)
    }
}

fn time_text(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    time.map(|t| t.to_rfc3339()).unwrap_or_default()
}
