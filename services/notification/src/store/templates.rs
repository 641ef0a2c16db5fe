//! Templates: one record per templated event type, the built-in default
//! (version 0, not customized) until an admin saves one. A reset removes
//! the admin's row, so the default shows again.

use chrono::{DateTime, Utc};
use docket_kit::{
    audit::Changes,
    mutation::{Edit, Record},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
};

use super::{Actor, Store, entities::template, write_versioned};
use crate::{
    domain::templates::{Template, default_template},
    error::Result,
};

/// The template of one event type as a changing record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    pub event_type: String,
    pub template: Template,
    /// Whether it is an admin's (stored) rather than the built-in default.
    pub customized: bool,
    /// Who saved it last; empty for the default.
    pub updated_by: String,
    /// 0 while it is the default.
    pub version: i64,
    /// When it was saved; none for the default.
    pub updated_at: Option<DateTime<Utc>>,
}

impl TemplateRecord {
    fn default_of(event_type: &str) -> Self {
        Self {
            event_type: event_type.to_owned(),
            template: default_template(event_type),
            customized: false,
            updated_by: String::new(),
            version: 0,
            updated_at: None,
        }
    }

    fn row(&self) -> template::ActiveModel {
        template::Model {
            event_type: self.event_type.clone(),
            subject: self.template.subject.clone(),
            body: self.template.body.clone(),
            updated_by: self.updated_by.clone(),
            version: self.version,
            updated_at: self.updated_at.unwrap_or_default(),
        }
        .into_active_model()
        .reset_all()
    }

    /// This template as `to` (and whether that is an admin's), noting each
    /// field that differs.
    fn becoming(&self, to: Template, customized: bool, by: &Actor<'_>) -> Edit<Self> {
        let mut changes = Changes::new();
        changes.diff("subject", &self.template.subject, &to.subject);
        changes.diff("body", &self.template.body, &to.body);
        changes.diff("customized", self.customized, customized);
        let updated_by = if customized { by.actor.to_owned() } else { String::new() };
        Edit { after: Self { template: to, customized, updated_by, ..self.clone() }, changes }
    }
}

impl Record for TemplateRecord {
    const KIND: &'static str = "template";

    fn id(&self) -> &str {
        &self.event_type
    }

    fn version(&self) -> i64 {
        self.version
    }

    fn stamp(&mut self, version: i64, at: DateTime<Utc>) {
        self.version = version;
        self.updated_at = Some(at);
    }

    async fn load<C: ConnectionTrait + Sync>(db: &C, event_type: &str) -> Result<Option<Self>, DbErr> {
        template_of(db, event_type).await.map(Some)
    }

    async fn insert(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        template::Entity::insert(self.row()).exec_without_returning(txn).await.map(drop)
    }

    /// An admin's template is written; the default again removes the
    /// admin's row.
    async fn update(&self, txn: &DatabaseTransaction, expected: i64, _changes: &Changes) -> Result<bool, DbErr> {
        let key = template::Column::EventType.eq(self.event_type.clone());
        if self.customized {
            return write_versioned::<template::Entity>(txn, self.row(), expected, key, template::Column::Version).await;
        }
        let removed =
            template::Entity::delete_many().filter(key).filter(template::Column::Version.eq(expected)).exec(txn).await?;
        Ok(removed.rows_affected == 1)
    }
}

/// The template of an event type as it is now: the admin's, or the default.
pub async fn template_of(db: &impl ConnectionTrait, event_type: &str) -> Result<TemplateRecord, DbErr> {
    Ok(match template::Entity::find_by_id(event_type.to_owned()).one(db).await? {
        Some(row) => TemplateRecord {
            event_type: row.event_type,
            template: Template { subject: row.subject, body: row.body },
            customized: true,
            updated_by: row.updated_by,
            version: row.version,
            updated_at: Some(row.updated_at),
        },
        None => TemplateRecord::default_of(event_type),
    })
}

impl Store {
    pub async fn template(&self, event_type: &str) -> Result<TemplateRecord> {
        Ok(template_of(&self.db, event_type).await?)
    }

    /// Saves an admin's template of `event_type` (checked by the caller).
    /// The last save wins: templates carry no etag.
    pub async fn update_template(&self, event_type: &str, to: Template, by: &Actor<'_>) -> Result<TemplateRecord> {
        let to = &to;
        self.mutations
            .update(
                by,
                event_type,
                None,
                |_tx, current: TemplateRecord| async move { Ok(current.becoming(to.clone(), true, by)) },
                |_, _, _| Vec::new(),
            )
            .await
    }

    /// Puts the built-in default of `event_type` back.
    pub async fn reset_template(&self, event_type: &str, by: &Actor<'_>) -> Result<TemplateRecord> {
        self.mutations
            .update(
                by,
                event_type,
                None,
                |_tx, current: TemplateRecord| async move {
                    let default = default_template(&current.event_type);
                    Ok(current.becoming(default, false, by))
                },
                |_, _, _| Vec::new(),
            )
            .await
    }
}
