//! Accounts: create, read, update with etag, list by name.

use docket_kit::{
    mutation::Once,
    request::{FieldMask, RecordId},
};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::{Actor, Store, contains_ci};
use crate::{
    domain::{
        AccountId, AccountTier, Changes,
        commands::{AccountField, AccountFields, AccountUpdate, Idempotency, Money},
    },
    error::{Error, Result},
    events,
    records::{entities::account, model_money},
};

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

/// Copies the masked fields onto `model`, recording each change.
fn apply(model: &mut account::Model, fields: &AccountFields, mask: &FieldMask<AccountField>, changes: &mut Changes) {
    for field in mask.iter() {
        match field {
            AccountField::Name => {
                changes.diff("name", &model.name, &fields.name);
                model.name.clone_from(&fields.name);
            }
            AccountField::Industry => {
                changes.diff("industry", &model.industry, &fields.industry);
                model.industry.clone_from(&fields.industry);
            }
            AccountField::Tier => {
                changes.diff("tier", &model.tier, fields.tier.key());
                model.tier = fields.tier.key().to_owned();
            }
            AccountField::AnnualValue => {
                changes.diff("annual_value", money_text(&model_money(model)), money_text(&fields.annual_value));
                model.annual_value_minor = fields.annual_value.as_ref().map(|m| m.amount_minor);
                model.annual_value_currency = fields.annual_value.as_ref().map(|m| m.currency.clone()).unwrap_or_default();
            }
            AccountField::Address => {
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
            AccountField::Notes => {
                changes.diff("notes", &model.notes, &fields.notes);
                model.notes.clone_from(&fields.notes);
            }
        }
    }
}

/// A new account with `fields`, and its creation's trail rows.
pub(super) fn draft(fields: &AccountFields, at: chrono::DateTime<chrono::Utc>) -> (account::Model, Changes) {
    let mut model = account::Model {
        id: AccountId::generate().to_string(),
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
        created_at: at,
        updated_at: at,
    };
    let mut changes = Changes::new();
    changes.set("created", "", "");
    apply(&mut model, fields, &FieldMask::all(), &mut changes);
    (model, changes)
}

impl Store {
    pub async fn create_account(
        &self,
        fields: AccountFields,
        by: &Actor<'_>,
        idempotency: Option<&Idempotency>,
    ) -> Result<account::Model> {
        self.mutations
            .create(
                by,
                Once { scope: "CreateAccount", key: idempotency },
                async |_tx| Ok(draft(&fields, by.at)),
                |model, trail| vec![events::account_changed(true, model, trail, by.reason)],
            )
            .await
    }

    pub async fn get_account(&self, id: AccountId) -> Result<account::Model> {
        account::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or_else(|| Error::not_found("account", id))
    }

    pub async fn update_account(&self, target: AccountUpdate, fields: AccountFields, by: &Actor<'_>) -> Result<account::Model> {
        let apply = |after: &mut account::Model, mask: &_, changes: &mut _| apply(after, &fields, mask, changes);
        let events = |_: &_, after: &_, trail: &_| vec![events::account_changed(false, after, trail, by.reason)];
        self.mutations.update_fields(by, &target, apply, events).await
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
