//! Contacts: the people of an account, unique by email (case-insensitively).

use docket_kit::error::is_unique_violation;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{
    Actor, Store,
    accounts::page_end,
    contains_ci,
    entities::{account, contact},
    exists, find_idempotent, new_id, remember_idempotent, stale, write_trail,
};
use crate::{
    domain::{
        Changes,
        commands::{ContactFields, Idempotency},
    },
    error::{Error, Result},
};

const SCOPE: &str = "CreateContact";
pub const CONTACT_FIELDS: &[&str] = &["account_id", "name", "email", "phone", "title", "portal_enabled"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactCursor {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub query: String,
    pub account_id: String,
}

fn email_key(email: &str) -> Option<String> {
    (!email.is_empty()).then(|| email.to_lowercase())
}

fn apply(model: &mut contact::Model, fields: &ContactFields, mask: &[&str], changes: &mut Changes) {
    for field in mask {
        match *field {
            "account_id" => {
                changes.diff("account_id", &model.account_id, &fields.account_id);
                model.account_id.clone_from(&fields.account_id);
            }
            "name" => {
                changes.diff("name", &model.name, &fields.name);
                model.name.clone_from(&fields.name);
            }
            "email" => {
                changes.diff("email", &model.email, &fields.email);
                model.email.clone_from(&fields.email);
                model.email_key = email_key(&fields.email);
            }
            "phone" => {
                changes.diff("phone", &model.phone, &fields.phone);
                model.phone.clone_from(&fields.phone);
            }
            "title" => {
                changes.diff("title", &model.title, &fields.title);
                model.title.clone_from(&fields.title);
            }
            "portal_enabled" => {
                changes.diff("portal_enabled", model.portal_enabled, fields.portal_enabled);
                model.portal_enabled = fields.portal_enabled;
            }
            _ => {}
        }
    }
}

fn email_taken(email: &str) -> Error {
    Error::AlreadyExists {
        field: "contact.email".to_owned(),
        message: format!("another contact already has the email address {email}"),
    }
}

/// Checks references and uniqueness before writing, so the caller gets a
/// field-level error rather than a constraint failure.
async fn check(db: &impl ConnectionTrait, model: &contact::Model, mask: &[&str]) -> Result<()> {
    if mask.contains(&"account_id") && !exists::<account::Entity>(db, account::Column::Id, &model.account_id).await? {
        return Err(Error::field("contact.account_id", format!("no account has the id {}", model.account_id)));
    }
    if mask.contains(&"email")
        && let Some(key) = &model.email_key
    {
        let other = contact::Entity::find()
            .filter(contact::Column::EmailKey.eq(key.clone()))
            .filter(contact::Column::Id.ne(model.id.clone()))
            .one(db)
            .await?;
        if other.is_some() {
            return Err(email_taken(&model.email));
        }
    }
    Ok(())
}

impl Store {
    /// Creates it; a retry that races its own first attempt (and so finds
    /// the email or name taken by it) answers with that first result.
    pub async fn create_contact(
        &self,
        fields: ContactFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<contact::Model> {
        match self.create_contact_once(fields, by, idempotency).await {
            Err(taken @ Error::AlreadyExists { .. }) => match idempotency {
                Some(key) => match find_idempotent(&self.db, SCOPE, by.actor, key).await? {
                    Some(id) => self.get_contact(&id).await,
                    None => Err(taken),
                },
                None => Err(taken),
            },
            other => other,
        }
    }

    async fn create_contact_once(
        &self,
        fields: ContactFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<contact::Model> {
        if let Some(key) = idempotency
            && let Some(id) = find_idempotent(&self.db, SCOPE, by.actor, key).await?
        {
            return self.get_contact(&id).await;
        }
        let txn = self.db.begin().await?;
        let mut model = contact::Model {
            id: new_id(),
            account_id: String::new(),
            name: String::new(),
            email: String::new(),
            email_key: None,
            phone: String::new(),
            title: String::new(),
            portal_enabled: false,
            version: 1,
            created_at: by.at,
            updated_at: by.at,
        };
        let mut changes = Changes::new();
        changes.set("created", "", "");
        apply(&mut model, &fields, CONTACT_FIELDS, &mut changes);
        check(&txn, &model, CONTACT_FIELDS).await?;
        let model = match model.clone().into_active_model().reset_all().insert(&txn).await {
            Ok(model) => model,
            Err(err) if is_unique_violation(&err) => return Err(email_taken(&model.email)),
            Err(err) => return Err(err.into()),
        };
        write_trail(&txn, "contact", &model.id, by, &changes).await?;
        crate::events::contact_changed(&txn, true, &model, &changes, by).await?;
        if let Some(key) = idempotency
            && !remember_idempotent(&txn, SCOPE, by.actor, key, &model.id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_contact(fields, by, idempotency)).await;
        }
        self.commit(txn).await?;
        Ok(model)
    }

    pub async fn get_contact(&self, id: &str) -> Result<contact::Model> {
        contact::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("contact {id} not found")))
    }

    pub async fn get_contact_by_email(&self, email: &str) -> Result<contact::Model> {
        contact::Entity::find()
            .filter(contact::Column::EmailKey.eq(email.to_lowercase()))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no contact has the email address {email}")))
    }

    pub async fn update_contact(
        &self,
        id: &str,
        etag: i64,
        fields: ContactFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<contact::Model> {
        let txn = self.db.begin().await?;
        let current = contact::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("contact {id} not found")))?;
        if current.version != etag {
            return Err(stale("contact", id, etag, current.version));
        }
        let mut next = current.clone();
        let mut changes = Changes::new();
        apply(&mut next, &fields, mask, &mut changes);
        if changes.is_empty() {
            return Ok(current);
        }
        check(&txn, &next, mask).await?;
        next.version += 1;
        next.updated_at = by.at;
        let updated = contact::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(contact::Column::Id.eq(id))
            .filter(contact::Column::Version.eq(current.version))
            .exec(&txn)
            .await;
        let updated = match updated {
            Ok(updated) => updated,
            Err(err) if is_unique_violation(&err) => return Err(email_taken(&next.email)),
            Err(err) => return Err(err.into()),
        };
        if updated.rows_affected == 0 {
            return Err(stale("contact", id, etag, current.version + 1));
        }
        write_trail(&txn, "contact", id, by, &changes).await?;
        crate::events::contact_changed(&txn, false, &next, &changes, by).await?;
        self.commit(txn).await?;
        Ok(next)
    }

    pub async fn list_contacts(
        &self,
        filter: &ContactFilter,
        after: Option<ContactCursor>,
        limit: u64,
    ) -> Result<(Vec<contact::Model>, Option<ContactCursor>)> {
        let mut query = contact::Entity::find();
        if !filter.query.is_empty() {
            query = query.filter(
                Condition::any()
                    .add(contains_ci(contact::Column::Name, &filter.query))
                    .add(contains_ci(contact::Column::Email, &filter.query)),
            );
        }
        if !filter.account_id.is_empty() {
            query = query.filter(contact::Column::AccountId.eq(filter.account_id.clone()));
        }
        if let Some(after) = after {
            query = query.filter(
                Condition::any()
                    .add(contact::Column::Name.gt(after.name.clone()))
                    .add(Condition::all().add(contact::Column::Name.eq(after.name)).add(contact::Column::Id.gt(after.id))),
            );
        }
        let mut rows =
            query.order_by_asc(contact::Column::Name).order_by_asc(contact::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| ContactCursor { name: last.name.clone(), id: last.id.clone() });
        Ok((rows, next))
    }
}
