//! Contacts' opt-outs of case emails: one record per contact, "not opted
//! out" (version 0) until first set.

use chrono::{DateTime, Utc};
use docket_kit::{
    audit::Changes,
    mutation::{Edit, Record},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::{Actor, Store, entities::opt_out, page_end, write_versioned};
use crate::{domain::ContactId, error::Result};

/// One contact's choice as a changing record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutRecord {
    pub contact_id: String,
    pub opted_out: bool,
    /// 0 until first set.
    pub version: i64,
    /// When it was last changed; none until first set.
    pub updated_at: Option<DateTime<Utc>>,
}

impl OptOutRecord {
    fn row(&self) -> opt_out::ActiveModel {
        opt_out::Model {
            contact_id: self.contact_id.clone(),
            opted_out: self.opted_out,
            version: self.version,
            updated_at: self.updated_at.unwrap_or_default(),
        }
        .into_active_model()
        .reset_all()
    }
}

impl From<opt_out::Model> for OptOutRecord {
    fn from(row: opt_out::Model) -> Self {
        Self { contact_id: row.contact_id, opted_out: row.opted_out, version: row.version, updated_at: Some(row.updated_at) }
    }
}

impl Record for OptOutRecord {
    const KIND: &'static str = "contact_opt_out";

    fn id(&self) -> &str {
        &self.contact_id
    }

    fn version(&self) -> i64 {
        self.version
    }

    fn stamp(&mut self, version: i64, at: DateTime<Utc>) {
        self.version = version;
        self.updated_at = Some(at);
    }

    async fn load<C: ConnectionTrait + Sync>(db: &C, contact_id: &str) -> Result<Option<Self>, DbErr> {
        let row = opt_out::Entity::find_by_id(contact_id.to_owned()).one(db).await?;
        Ok(Some(row.map(Self::from).unwrap_or_else(|| Self {
            contact_id: contact_id.to_owned(),
            opted_out: false,
            version: 0,
            updated_at: None,
        })))
    }

    async fn insert(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        opt_out::Entity::insert(self.row()).exec_without_returning(txn).await.map(drop)
    }

    async fn update(&self, txn: &DatabaseTransaction, expected: i64, _changes: &Changes) -> Result<bool, DbErr> {
        let key = opt_out::Column::ContactId.eq(self.contact_id.clone());
        write_versioned::<opt_out::Entity>(txn, self.row(), expected, key, opt_out::Column::Version).await
    }
}

/// Whether a contact wants no case emails.
pub async fn is_opted_out(db: &impl ConnectionTrait, contact_id: &str) -> Result<bool, DbErr> {
    Ok(opt_out::Entity::find_by_id(contact_id.to_owned()).one(db).await?.is_some_and(|row| row.opted_out))
}

impl Store {
    /// Records whether a contact (known to exist) wants case emails.
    pub async fn set_opt_out(&self, contact_id: ContactId, opted_out: bool, by: &Actor<'_>) -> Result<OptOutRecord> {
        self.mutations
            .update(
                by,
                &contact_id.to_string(),
                None,
                |_tx, current: OptOutRecord| async move {
                    let mut changes = Changes::new();
                    changes.diff("opted_out", current.opted_out, opted_out);
                    Ok(Edit { after: OptOutRecord { opted_out, ..current }, changes })
                },
                |_, _, _| Vec::new(),
            )
            .await
    }

    /// A page of the contacts who opted out, by id, after the contact id
    /// `after`; the last contact id when another page follows.
    pub async fn list_opt_outs(&self, after: Option<String>, limit: u64) -> Result<(Vec<OptOutRecord>, Option<String>)> {
        let mut query = opt_out::Entity::find().filter(opt_out::Column::OptedOut.eq(true));
        if let Some(after) = after {
            query = query.filter(opt_out::Column::ContactId.gt(after));
        }
        let mut rows = query.order_by_asc(opt_out::Column::ContactId).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| last.contact_id.clone());
        Ok((rows.into_iter().map(OptOutRecord::from).collect(), next))
    }
}
