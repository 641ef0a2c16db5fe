//! The notification schema: settings, templates, opt-outs, deliveries.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::domain::{NotifySettings, Template, default_template};

pub mod entities {
    pub mod settings {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "settings")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: i32,
            pub contact_event_types: String,
            pub owner_event_types: String,
            pub team_event_types: String,
            pub sender_address: String,
            pub sender_name: String,
            pub digest_window_seconds: i32,
            pub portal_base_url: String,
            pub version: i64,
            pub updated_at: DateTimeUtc,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod template {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "templates")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub event_type: String,
            pub subject: String,
            pub body: String,
            pub updated_by: String,
            pub updated_at: DateTimeUtc,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod opt_out {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "contact_opt_outs")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub contact_id: String,
            pub opted_out: bool,
            pub updated_at: DateTimeUtc,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod delivery {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "deliveries")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub event_id: String,
            pub event_type: String,
            pub case_id: String,
            pub case_number: String,
            pub recipient: String,
            pub recipient_name: String,
            pub recipient_kind: String,
            pub subject: String,
            pub body: String,
            /// pending, sent, failed, merged
            pub status: String,
            pub attempts: i32,
            pub last_error: String,
            pub message_id: String,
            pub not_before: DateTimeUtc,
            pub created_at: DateTimeUtc,
            pub sent_at: Option<DateTimeUtc>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entities::{delivery, opt_out, settings, template};

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const MERGED: &str = "merged";

fn types_json(types: &[String]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".to_owned())
}

fn types_from(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The admin settings with their version (0 while still the defaults).
pub async fn load_settings(db: &impl ConnectionTrait) -> Result<(NotifySettings, i64, Option<DateTime<Utc>>), DbErr> {
    Ok(match settings::Entity::find_by_id(1).one(db).await? {
        Some(row) => (
            NotifySettings {
                contact_event_types: types_from(&row.contact_event_types),
                owner_event_types: types_from(&row.owner_event_types),
                team_event_types: types_from(&row.team_event_types),
                sender_address: row.sender_address,
                sender_name: row.sender_name,
                digest_window_seconds: row.digest_window_seconds,
                portal_base_url: row.portal_base_url,
            },
            row.version,
            Some(row.updated_at),
        ),
        None => (NotifySettings::default(), 0, None),
    })
}

/// Saves settings if `expected_version` is still current; `Ok(None)` when stale.
pub async fn save_settings(
    db: &impl ConnectionTrait,
    value: &NotifySettings,
    expected_version: i64,
    at: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let row = settings::Model {
        id: 1,
        contact_event_types: types_json(&value.contact_event_types),
        owner_event_types: types_json(&value.owner_event_types),
        team_event_types: types_json(&value.team_event_types),
        sender_address: value.sender_address.clone(),
        sender_name: value.sender_name.clone(),
        digest_window_seconds: value.digest_window_seconds,
        portal_base_url: value.portal_base_url.clone(),
        version: expected_version + 1,
        updated_at: at,
    };
    if expected_version == 0 {
        return match row.into_active_model().reset_all().insert(db).await {
            Ok(_) => Ok(Some(1)),
            Err(err) if docket_kit::error::is_unique_violation(&err) => Ok(None),
            Err(err) => Err(err),
        };
    }
    let updated = settings::Entity::update_many()
        .set(row.into_active_model().reset_all())
        .filter(settings::Column::Id.eq(1))
        .filter(settings::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    Ok((updated.rows_affected == 1).then_some(expected_version + 1))
}

/// The template of an event type: the admin's, or the default.
pub async fn template(db: &impl ConnectionTrait, event_type: &str) -> Result<(Template, Option<template::Model>), DbErr> {
    let row = template::Entity::find_by_id(event_type.to_owned()).one(db).await?;
    Ok(match &row {
        Some(row) => (Template { subject: row.subject.clone(), body: row.body.clone() }, Some(row.clone())),
        None => (default_template(event_type), None),
    })
}

pub async fn save_template(
    db: &impl ConnectionTrait,
    event_type: &str,
    value: &Template,
    by: &str,
    at: DateTime<Utc>,
) -> Result<template::Model, DbErr> {
    let row = template::Model {
        event_type: event_type.to_owned(),
        subject: value.subject.clone(),
        body: value.body.clone(),
        updated_by: by.to_owned(),
        updated_at: at,
    };
    template::Entity::insert(row.clone().into_active_model().reset_all())
        .on_conflict(
            OnConflict::column(template::Column::EventType)
                .update_columns([
                    template::Column::Subject,
                    template::Column::Body,
                    template::Column::UpdatedBy,
                    template::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(row)
}

pub async fn reset_template(db: &impl ConnectionTrait, event_type: &str) -> Result<(), DbErr> {
    template::Entity::delete_by_id(event_type.to_owned()).exec(db).await?;
    Ok(())
}

pub async fn is_opted_out(db: &impl ConnectionTrait, contact_id: &str) -> Result<bool, DbErr> {
    Ok(opt_out::Entity::find_by_id(contact_id.to_owned()).one(db).await?.is_some_and(|row| row.opted_out))
}

pub async fn set_opt_out(
    db: &impl ConnectionTrait,
    contact_id: &str,
    opted_out: bool,
    at: DateTime<Utc>,
) -> Result<opt_out::Model, DbErr> {
    let row = opt_out::Model { contact_id: contact_id.to_owned(), opted_out, updated_at: at };
    opt_out::Entity::insert(row.clone().into_active_model().reset_all())
        .on_conflict(
            OnConflict::column(opt_out::Column::ContactId)
                .update_columns([opt_out::Column::OptedOut, opt_out::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(row)
}

pub async fn list_opt_outs(db: &impl ConnectionTrait, after: Option<String>, limit: u64) -> Result<Vec<opt_out::Model>, DbErr> {
    let mut query = opt_out::Entity::find().filter(opt_out::Column::OptedOut.eq(true));
    if let Some(after) = after {
        query = query.filter(opt_out::Column::ContactId.gt(after));
    }
    query.order_by_asc(opt_out::Column::ContactId).limit(limit + 1).all(db).await
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub case_id: Option<String>,
    pub recipient: Option<String>,
    pub status: Option<&'static str>,
}

/// The delivery log, newest first.
pub async fn list_deliveries(
    db: &impl ConnectionTrait,
    filter: &DeliveryFilter,
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<delivery::Model>, DbErr> {
    let mut query = delivery::Entity::find();
    if let Some(case_id) = &filter.case_id {
        query = query.filter(delivery::Column::CaseId.eq(case_id.clone()));
    }
    if let Some(recipient) = &filter.recipient {
        query = query.filter(delivery::Column::Recipient.eq(recipient.to_lowercase()));
    }
    if let Some(status) = filter.status {
        query = query.filter(delivery::Column::Status.eq(status));
    }
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any()
                .add(delivery::Column::CreatedAt.lt(at))
                .add(Condition::all().add(delivery::Column::CreatedAt.eq(at)).add(delivery::Column::Id.lt(id))),
        );
    }
    query.order_by_desc(delivery::Column::CreatedAt).order_by_desc(delivery::Column::Id).limit(limit + 1).all(db).await
}
