//! Accounts: create, read, update with etag, list by name.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{Actor, Store, contains_ci, entities::account, find_idempotent, new_id, remember_idempotent, stale, write_trail};
use crate::{
    domain::{
        AccountTier, Changes,
        commands::{AccountFields, Idempotency, Money},
    },
    error::{Error, Result},
};

const SCOPE: &str = "CreateAccount";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountCursor {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub query: String,
    pub industry: String,
    pub tier: Option<AccountTier>,
}

fn money_text(money: &Option<Money>) -> String {
    money.as_ref().map(|m| format!("{} {}", m.amount_minor, m.currency)).unwrap_or_default()
}

pub fn model_money(model: &account::Model) -> Option<Money> {
    model.annual_value_minor.map(|amount_minor| Money { amount_minor, currency: model.annual_value_currency.clone() })
}

/// Copies the masked fields onto `model`, recording each change.
fn apply(model: &mut account::Model, fields: &AccountFields, mask: &[&str], changes: &mut Changes) {
    for field in mask {
        match *field {
            "name" => {
                changes.diff("name", &model.name, &fields.name);
                model.name.clone_from(&fields.name);
            }
            "industry" => {
                changes.diff("industry", &model.industry, &fields.industry);
                model.industry.clone_from(&fields.industry);
            }
            "tier" => {
                changes.diff("tier", &model.tier, fields.tier.key());
                model.tier = fields.tier.key().to_owned();
            }
            "annual_value" => {
                changes.diff("annual_value", money_text(&model_money(model)), money_text(&fields.annual_value));
                model.annual_value_minor = fields.annual_value.as_ref().map(|m| m.amount_minor);
                model.annual_value_currency = fields.annual_value.as_ref().map(|m| m.currency.clone()).unwrap_or_default();
            }
            "address" => {
                let a = &fields.address;
                changes.diff("address.street", &model.address_street, &a.street);
                changes.diff("address.city", &model.address_city, &a.city);
                changes.diff("address.region", &model.address_region, &a.region);
                changes.diff("address.postal_code", &model.address_postal_code, &a.postal_code);
                changes.diff("address.country", &model.address_country, &a.country);
                model.address_street.clone_from(&a.street);
                model.address_city.clone_from(&a.city);
                model.address_region.clone_from(&a.region);
                model.address_postal_code.clone_from(&a.postal_code);
                model.address_country.clone_from(&a.country);
            }
            "notes" => {
                changes.diff("notes", &model.notes, &fields.notes);
                model.notes.clone_from(&fields.notes);
            }
            _ => {}
        }
    }
}

pub const ACCOUNT_FIELDS: &[&str] = &["name", "industry", "tier", "annual_value", "address", "notes"];

impl Store {
    pub async fn create_account(
        &self,
        fields: AccountFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<account::Model> {
        if let Some(key) = idempotency
            && let Some(id) = find_idempotent(&self.db, SCOPE, by.actor, key).await?
        {
            return self.get_account(&id).await;
        }
        let txn = self.db.begin().await?;
        let mut model = account::Model {
            id: new_id(),
            name: String::new(),
            industry: String::new(),
            tier: AccountTier::Standard.key().to_owned(),
            annual_value_minor: None,
            annual_value_currency: String::new(),
            address_street: String::new(),
            address_city: String::new(),
            address_region: String::new(),
            address_postal_code: String::new(),
            address_country: String::new(),
            notes: String::new(),
            version: 1,
            created_at: by.at,
            updated_at: by.at,
        };
        let mut changes = Changes::new();
        changes.set("created", "", "");
        apply(&mut model, &fields, ACCOUNT_FIELDS, &mut changes);
        let model = model.into_active_model().reset_all().insert(&txn).await?;
        write_trail(&txn, "account", &model.id, by, &changes).await?;
        crate::events::account_changed(&txn, true, &model, &changes, by).await?;
        if let Some(key) = idempotency
            && !remember_idempotent(&txn, SCOPE, by.actor, key, &model.id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_account(fields, by, idempotency)).await;
        }
        self.commit(txn).await?;
        Ok(model)
    }

    pub async fn get_account(&self, id: &str) -> Result<account::Model> {
        account::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("account {id} not found")))
    }

    pub async fn update_account(
        &self,
        id: &str,
        etag: i64,
        fields: AccountFields,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<account::Model> {
        let txn = self.db.begin().await?;
        let current = account::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("account {id} not found")))?;
        if current.version != etag {
            return Err(stale("account", id, etag, current.version));
        }
        let mut next = current.clone();
        let mut changes = Changes::new();
        apply(&mut next, &fields, mask, &mut changes);
        if changes.is_empty() {
            return Ok(current);
        }
        next.version += 1;
        next.updated_at = by.at;
        let updated = account::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(account::Column::Id.eq(id))
            .filter(account::Column::Version.eq(current.version))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(stale("account", id, etag, current.version + 1));
        }
        write_trail(&txn, "account", id, by, &changes).await?;
        crate::events::account_changed(&txn, false, &next, &changes, by).await?;
        self.commit(txn).await?;
        Ok(next)
    }

    pub async fn list_accounts(
        &self,
        filter: &AccountFilter,
        after: Option<AccountCursor>,
        limit: u64,
    ) -> Result<(Vec<account::Model>, Option<AccountCursor>)> {
        let mut query = account::Entity::find();
        if !filter.query.is_empty() {
            query = query.filter(contains_ci(account::Column::Name, &filter.query));
        }
        if !filter.industry.is_empty() {
            query = query.filter(account::Column::Industry.eq(filter.industry.clone()));
        }
        if let Some(tier) = filter.tier {
            query = query.filter(account::Column::Tier.eq(tier.key()));
        }
        if let Some(after) = after {
            query = query.filter(
                Condition::any()
                    .add(account::Column::Name.gt(after.name.clone()))
                    .add(Condition::all().add(account::Column::Name.eq(after.name)).add(account::Column::Id.gt(after.id))),
            );
        }
        let mut rows =
            query.order_by_asc(account::Column::Name).order_by_asc(account::Column::Id).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| AccountCursor { name: last.name.clone(), id: last.id.clone() });
        Ok((rows, next))
    }
}

/// Trims the look-ahead row; returns the last row kept when there is a next page.
pub(crate) fn page_end<T>(rows: &mut Vec<T>, limit: u64) -> Option<&T> {
    if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last()
    } else {
        None
    }
}
