//! Accounts: create, read, update with etag, list by name.

use docket_kit::{
    mutation::{self, Once, unchecked},
    request::{FieldMask, RecordId},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Actor, Store, contains_ci};
use crate::{
    domain::{
        AccountId, AccountTier, Changes,
        commands::{AccountField, AccountFields, AccountUpdate, Money},
    },
    error::Result,
    events,
    records::{entities::account, model_money},
};
use docket_kit::page::{self, NameCursor};

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
            AccountField::Name => changes.assign("name", &mut model.name, &fields.name),
            AccountField::Industry => changes.assign("industry", &mut model.industry, &fields.industry),
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
            AccountField::Notes => changes.assign("notes", &mut model.notes, &fields.notes),
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
    pub async fn create_account(&self, fields: AccountFields, by: &Actor<'_>, once: Once<'_>) -> Result<account::Model> {
        self.mutations
            .create(by, once, async |_tx| {
                let (model, trail) = draft(&fields, by.at);
                let events = vec![events::account_changed(true, &model, &trail, by.reason)];
                Ok((model, trail, events))
            })
            .await
    }

    pub async fn get_account(&self, id: AccountId) -> Result<account::Model> {
        mutation::find(&self.db, id).await
    }

    pub async fn update_account(&self, target: AccountUpdate, fields: AccountFields, by: &Actor<'_>) -> Result<account::Model> {
        let events = |_: &_, after: &_, trail: &_| vec![events::account_changed(false, after, trail, by.reason)];
        self.mutations.update_fields(by, &target, &fields, apply, unchecked, events).await
    }

    pub async fn list_accounts(
        &self,
        filter: &AccountFilter,
        after: Option<NameCursor>,
        limit: u64,
    ) -> Result<(Vec<account::Model>, Option<NameCursor>)> {
        let order = (account::Column::Name, account::Column::Id);
        Ok(page::by_name(&self.db, accounts_matching(filter), order, after, limit, |row| (&row.name, &row.id)).await?)
    }

    /// How many accounts the filters select (a list's `total_size`).
    pub async fn count_accounts(&self, filter: &AccountFilter) -> Result<i64> {
        super::count(&self.db, accounts_matching(filter)).await
    }
}

fn accounts_matching(filter: &AccountFilter) -> sea_orm::Select<account::Entity> {
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
    query
}
