//! Contacts: the people of an account, unique by email (case-insensitively).

use docket_kit::{
    mutation::{self, Once, Tx, already_exists},
    request::{FieldMask, RecordId},
};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Actor, Store, contains_ci, exists};
use crate::{
    domain::{
        AccountId, AccountTier, Changes, ContactId,
        commands::{AccountFields, Address, ContactField, ContactFields, ContactUpdate},
    },
    error::{Error, Result},
    events,
    records::entities::{account, contact},
};
use docket_kit::page::{self, NameCursor};

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub query: String,
    pub account_id: Option<AccountId>,
}

fn email_key(email: &str) -> Option<String> {
    (!email.is_empty()).then(|| email.to_lowercase())
}

fn apply(model: &mut contact::Model, fields: &ContactFields, mask: &FieldMask<ContactField>, changes: &mut Changes) {
    for field in mask.iter() {
        match field {
            ContactField::AccountId => {
                let account_id = fields.account_id.to_string();
                changes.diff("account_id", &model.account_id, &account_id);
                model.account_id = account_id;
            }
            ContactField::Name => changes.assign("name", &mut model.name, &fields.name),
            ContactField::Email => {
                changes.diff("email", &model.email, &fields.email);
                model.email.clone_from(&fields.email);
                model.email_key = email_key(&fields.email);
            }
            ContactField::Phone => changes.assign("phone", &mut model.phone, &fields.phone),
            ContactField::Title => changes.assign("title", &mut model.title, &fields.title),
            ContactField::PortalEnabled => changes.assign("portal_enabled", &mut model.portal_enabled, &fields.portal_enabled),
        }
    }
}

/// A new contact with `fields`, and its creation's trail rows.
fn draft(fields: &ContactFields, at: chrono::DateTime<chrono::Utc>) -> (contact::Model, Changes) {
    let mut model = contact::Model {
        id: ContactId::generate().to_string(),
        account_id: String::new(),
        name: String::new(),
        email: String::new(),
        email_key: None,
        phone: String::new(),
        title: String::new(),
        portal_enabled: false,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let mut changes = Changes::new();
    changes.set("created", "", "");
    apply(&mut model, fields, &FieldMask::all(), &mut changes);
    (model, changes)
}

/// Checks references and uniqueness before writing, so the caller gets a
/// field-level error rather than a constraint failure.
async fn check(db: &impl ConnectionTrait, model: &contact::Model, mask: &FieldMask<ContactField>) -> Result<()> {
    if mask.contains(ContactField::AccountId) && !exists::<account::Entity>(db, account::Column::Id, &model.account_id).await? {
        return Err(Error::field("contact.account_id", format!("no account has the id {}", model.account_id)));
    }
    if mask.contains(ContactField::Email)
        && let Some(key) = &model.email_key
    {
        let other = contact::Entity::find()
            .filter(contact::Column::EmailKey.eq(key.clone()))
            .filter(contact::Column::Id.ne(model.id.clone()))
            .one(db)
            .await?;
        if other.is_some() {
            return Err(already_exists(model));
        }
    }
    Ok(())
}

/// The id of the oldest account named exactly `name`, if any.
async fn oldest_account_named(db: &impl ConnectionTrait, name: &str) -> Result<Option<String>> {
    let found = account::Entity::find()
        .filter(account::Column::Name.eq(name))
        .order_by_asc(account::Column::CreatedAt)
        .order_by_asc(account::Column::Id)
        .one(db)
        .await?;
    Ok(found.map(|account| account.id))
}

/// Where a new contact goes.
#[derive(Debug, Clone, Copy)]
enum NewContactHome<'a> {
    /// An account the caller named: checked to exist.
    Named(AccountId),
    /// The unassigned account of this name (see [`unassigned_account`]).
    Unassigned(&'a str),
}

impl<'a> NewContactHome<'a> {
    /// `account_id` when given, else the unassigned account named `unassigned`.
    fn of(account_id: Option<AccountId>, unassigned: &'a str) -> Self {
        account_id.map_or(Self::Unassigned(unassigned), Self::Named)
    }
}

/// PostgreSQL's name for the unique index on contacts' email (migration
/// 000001): it refuses a contact whose address another call just took.
pub(super) const EMAIL_TAKEN: &str = "contacts_email_key_key";

/// A new contact for `person` (whose address no contact had, as the
/// create read) in the account `named` (checked to exist) or the unassigned
/// one, `unassigned_id`, with its creation's trail, to insert with their
/// case. A concurrent call may insert the same address first: the draft's
/// insert is then refused with `AlreadyExists` on `contact.email`, and the
/// create runs again, finding the contact.
pub(super) async fn draft_sender(
    db: &impl ConnectionTrait,
    person: &ContactFields,
    named: Option<AccountId>,
    unassigned_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(contact::Model, Changes)> {
    let account_id = match named {
        Some(id) => named_account(db, id).await?,
        None => unassigned_id.to_owned(),
    };
    let mut fields = person.clone();
    fields.account_id = AccountId::stored(&account_id)?;
    Ok(draft(&fields, at))
}

/// The id of the account `id`, checked to exist.
async fn named_account(db: &impl ConnectionTrait, id: AccountId) -> Result<String> {
    let id = id.to_string();
    if !exists::<account::Entity>(db, account::Column::Id, &id).await? {
        return Err(Error::field("account_id", format!("no account has the id {id}")));
    }
    Ok(id)
}

/// Inserts a drafted contact with its trail and event; `AlreadyExists`
/// when another contact has the email.
pub(super) async fn insert_contact(tx: &Tx, model: &contact::Model, changes: &Changes) -> Result<()> {
    let by = tx.by();
    match tx.insert_new(model, changes, [events::contact_changed(true, model, changes, by.reason)]).await {
        Ok(()) => Ok(()),
        Err(err) if docket_kit::error::is_unique_violation(&err) => Err(already_exists(model)),
        Err(err) => Err(err.into()),
    }
}

/// What the caller of a create settled before it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadFirst {
    /// Whether the create looks its idempotency key up before it runs
    /// (`First`), or in the read that checks its references (`Done`).
    pub key: docket_kit::mutation::KeyLookUp,
    /// A case from a sender is made in the unassigned account's id as kept
    /// in memory ([`Store::kept_unassigned_account_id`]): the create reads
    /// whether that is still the oldest account of its name, and is refused
    /// as [`Error::Stale`] when not.
    pub unassigned_kept: bool,
}

/// The ids of the unassigned accounts, by name, once read or made: every
/// case from a public door is made in one. Kept without a time limit: each
/// create that uses one checks it in its own read (see [`ReadFirst`]).
#[derive(Debug, Clone, Default)]
pub struct UnassignedAccounts(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>);

impl UnassignedAccounts {
    fn kept(&self, name: &str) -> Option<String> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(name).cloned()
    }

    fn keep(&self, name: &str, id: &str) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(name.to_owned(), id.to_owned());
    }

    fn forget(&self, name: &str) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(name);
    }
}

/// A new contact for `person` in `home`; `AlreadyExists` when another
/// contact has the email.
async fn create_contact_in(tx: &Tx, person: &ContactFields, home: NewContactHome<'_>) -> Result<contact::Model> {
    let account_id = match home {
        NewContactHome::Named(id) => named_account(&**tx, id).await?,
        NewContactHome::Unassigned(name) => unassigned_account(tx, name).await?,
    };
    let mut fields = person.clone();
    fields.account_id = AccountId::stored(&account_id)?;
    let (model, changes) = draft(&fields, tx.by().at);
    insert_contact(tx, &model, &changes).await?;
    Ok(model)
}

/// The refusal of a find-or-create that lost to concurrent calls too often.
pub(super) fn being_created(email: &str) -> Error {
    Error::Unavailable(format!("the contact {email} is being created by another call; retry"))
}

async fn contact_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<contact::Model>> {
    Ok(contact::Entity::find().filter(contact::Column::EmailKey.eq(email.to_lowercase())).one(db).await?)
}

/// The oldest account named exactly `name`, created when there is none.
/// Concurrent first calls make one: on PostgreSQL they queue on a lock for
/// that name until the first commits (SQLite has one writer anyway). Only
/// the first calls take the lock: once the account exists, holding it to
/// commit would queue every new contact behind every other.
async fn unassigned_account(tx: &Tx, name: &str) -> Result<String> {
    if let Some(id) = oldest_account_named(&**tx, name).await? {
        return Ok(id);
    }
    if tx.get_database_backend() == sea_orm::DbBackend::Postgres {
        docket_kit::db::lock_until_commit(&**tx, &format!("docket.unassigned-account:{name}")).await?;
        // A statement's snapshot is taken after the lock: a first call that
        // held it has committed its account by now.
        if let Some(id) = oldest_account_named(&**tx, name).await? {
            return Ok(id);
        }
    }
    let fields = AccountFields {
        name: name.to_owned(),
        industry: String::new(),
        tier: AccountTier::Standard,
        annual_value: None,
        address: Address::default(),
        notes: "People first met by email or web form, until staff place them.".to_owned(),
    };
    let (model, changes) = super::accounts::draft(&fields, tx.by().at);
    tx.insert_new(&model, &changes, [events::account_changed(true, &model, &changes, tx.by().reason)]).await?;
    Ok(model.id)
}

impl Store {
    pub async fn create_contact(&self, fields: ContactFields, by: &Actor<'_>, once: Once<'_>) -> Result<contact::Model> {
        self.mutations
            .create(by, once, async |tx| {
                let (model, changes) = draft(&fields, by.at);
                check(&*tx, &model, &FieldMask::all()).await?;
                let events = vec![events::contact_changed(true, &model, &changes, by.reason)];
                Ok((model, changes, events))
            })
            .await
    }

    pub async fn get_contact(&self, id: ContactId) -> Result<contact::Model> {
        mutation::find(&self.db, id).await
    }

    /// The contact of `person`'s email, or a new one for that person under
    /// `account_id`, or else under the account named `unassigned` (the
    /// oldest of exactly that name, created when missing). `true` when this
    /// call created the contact. Concurrent calls for one email, or for the
    /// first unassigned account, make one of each.
    pub async fn find_or_create_contact(
        &self,
        person: &ContactFields,
        account_id: Option<AccountId>,
        unassigned: &str,
        by: &Actor<'_>,
    ) -> Result<(contact::Model, bool)> {
        for _ in 0..3 {
            match self.get_contact_by_email(&person.email).await {
                Ok(found) => return Ok((found, false)),
                Err(Error::NotFound(_)) => {}
                Err(err) => return Err(err),
            }
            let created = self
                .mutations
                .run(by, async |tx| create_contact_in(&tx, person, NewContactHome::of(account_id, unassigned)).await)
                .await;
            match created {
                Ok(model) => return Ok((model, true)),
                // Another call for the same person, or for the first unassigned
                // account, got there first: look again.
                Err(Error::AlreadyExists { .. }) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(being_created(&person.email))
    }

    /// The id of the account named exactly `name` (the oldest), created when
    /// there is none.
    pub async fn unassigned_account_id(&self, name: &str, by: &Actor<'_>) -> Result<String> {
        match oldest_account_named(&self.db, name).await? {
            Some(id) => Ok(id),
            None => self.mutations.run(by, async |tx| unassigned_account(&tx, name).await).await,
        }
    }

    /// [`Store::unassigned_account_id`], kept in memory after the first
    /// call for a name: for a create that checks it ([`ReadFirst`]).
    pub async fn kept_unassigned_account_id(&self, name: &str, by: &Actor<'_>) -> Result<String> {
        if let Some(id) = self.unassigned.kept(name) {
            return Ok(id);
        }
        let id = self.unassigned_account_id(name, by).await?;
        self.unassigned.keep(name, &id);
        Ok(id)
    }

    /// Forgets the kept id of the unassigned account `name`: a create found
    /// it is no longer the oldest account of that name (renamed, say).
    pub fn forget_unassigned_account_id(&self, name: &str) {
        self.unassigned.forget(name);
    }

    pub async fn get_contact_by_email(&self, email: &str) -> Result<contact::Model> {
        contact_by_email(&self.db, email)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no contact has the email address {email}")))
    }

    pub async fn update_contact(&self, target: ContactUpdate, fields: ContactFields, by: &Actor<'_>) -> Result<contact::Model> {
        let mask = &target.mask;
        let check = |tx: Tx, _, after: contact::Model| async move { check(&*tx, &after, mask).await };
        let events = |_: &_, after: &_, trail: &_| vec![events::contact_changed(false, after, trail, by.reason)];
        self.mutations.update_fields(by, &target, &fields, apply, check, events).await
    }

    pub async fn list_contacts(
        &self,
        filter: &ContactFilter,
        after: Option<NameCursor>,
        limit: u64,
    ) -> Result<(Vec<contact::Model>, Option<NameCursor>)> {
        let order = (contact::Column::Name, contact::Column::Id);
        Ok(page::by_name(&self.db, contacts_matching(filter), order, after, limit, |row| (&row.name, &row.id)).await?)
    }

    /// How many contacts the filters select (a list's `total_size`).
    pub async fn count_contacts(&self, filter: &ContactFilter) -> Result<i64> {
        super::count(&self.db, contacts_matching(filter)).await
    }
}

fn contacts_matching(filter: &ContactFilter) -> sea_orm::Select<contact::Entity> {
    let mut query = contact::Entity::find();
    if !filter.query.is_empty() {
        query = query.filter(
            Condition::any()
                .add(contains_ci(contact::Column::Name, &filter.query))
                .add(contains_ci(contact::Column::Email, &filter.query)),
        );
    }
    if let Some(account_id) = filter.account_id {
        query = query.filter(contact::Column::AccountId.eq(account_id.to_string()));
    }
    query
}
