//! The admin's settings: one record, the built-in defaults at version 0
//! until first saved. Its etag is its version.

use chrono::{DateTime, Utc};
use docket_kit::{
    audit::Changes,
    mutation::{Edit, Record},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel};

use super::{Actor, Store, entities::settings, write_versioned};
use crate::{
    domain::settings::{NotifySettings, SettingsChange, SettingsField},
    error::Result,
};

/// The settings' id: the one row, and the record id of their trail.
pub const SETTINGS_ID: &str = "1";
const ROW_ID: i32 = 1;

/// The settings as a changing record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRecord {
    pub settings: NotifySettings,
    /// 0 while they are the defaults.
    pub version: i64,
    /// When they were last changed; none while they are the defaults.
    pub updated_at: Option<DateTime<Utc>>,
}

fn types_json(types: &[String]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".to_owned())
}

fn types_from(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl SettingsRecord {
    fn row(&self) -> settings::Model {
        let value = &self.settings;
        settings::Model {
            id: ROW_ID,
            contact_event_types: types_json(&value.contact_event_types),
            owner_event_types: types_json(&value.owner_event_types),
            team_event_types: types_json(&value.team_event_types),
            sender_address: value.sender_address.clone(),
            sender_name: value.sender_name.clone(),
            digest_window_seconds: value.digest_window_seconds,
            portal_base_url: value.portal_base_url.clone(),
            version: self.version,
            updated_at: self.updated_at.unwrap_or_default(),
        }
    }
}

impl Record for SettingsRecord {
    const KIND: &'static str = "settings";

    fn id(&self) -> &str {
        SETTINGS_ID
    }

    fn version(&self) -> i64 {
        self.version
    }

    /// "notification settings was changed since it was read ...".
    fn noun() -> String {
        "notification".to_owned()
    }

    fn name(&self) -> String {
        "settings".to_owned()
    }

    fn stamp(&mut self, version: i64, at: DateTime<Utc>) {
        self.version = version;
        self.updated_at = Some(at);
    }

    async fn load<C: ConnectionTrait + Sync>(db: &C, _id: &str) -> Result<Option<Self>, DbErr> {
        load_settings(db).await.map(Some)
    }

    async fn insert(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        settings::Entity::insert(self.row().into_active_model().reset_all()).exec_without_returning(txn).await.map(drop)
    }

    async fn update(&self, txn: &DatabaseTransaction, expected: i64, _changes: &Changes) -> Result<bool, DbErr> {
        let row = self.row().into_active_model().reset_all();
        write_versioned::<settings::Entity>(txn, row, expected, settings::Column::Id.eq(ROW_ID), settings::Column::Version).await
    }
}

/// The settings as they are now: the defaults until first saved.
pub async fn load_settings(db: &impl ConnectionTrait) -> Result<SettingsRecord, DbErr> {
    Ok(match settings::Entity::find_by_id(ROW_ID).one(db).await? {
        Some(row) => SettingsRecord {
            settings: NotifySettings {
                contact_event_types: types_from(&row.contact_event_types),
                owner_event_types: types_from(&row.owner_event_types),
                team_event_types: types_from(&row.team_event_types),
                sender_address: row.sender_address,
                sender_name: row.sender_name,
                digest_window_seconds: row.digest_window_seconds,
                portal_base_url: row.portal_base_url,
            },
            version: row.version,
            updated_at: Some(row.updated_at),
        },
        None => SettingsRecord { settings: NotifySettings::default(), version: 0, updated_at: None },
    })
}

/// Sets the fields `change` names on `settings`, noting each that differs.
fn apply(settings: &mut NotifySettings, change: &SettingsChange, changes: &mut Changes) {
    let values = &change.values;
    for field in change.mask.iter() {
        match field {
            SettingsField::ContactEventTypes => {
                changes.diff(
                    "contact_event_types",
                    settings.contact_event_types.join(", "),
                    values.contact_event_types.join(", "),
                );
                settings.contact_event_types.clone_from(&values.contact_event_types);
            }
            SettingsField::OwnerEventTypes => {
                changes.diff("owner_event_types", settings.owner_event_types.join(", "), values.owner_event_types.join(", "));
                settings.owner_event_types.clone_from(&values.owner_event_types);
            }
            SettingsField::TeamEventTypes => {
                changes.diff("team_event_types", settings.team_event_types.join(", "), values.team_event_types.join(", "));
                settings.team_event_types.clone_from(&values.team_event_types);
            }
            SettingsField::SenderAddress => {
                changes.assign("sender_address", &mut settings.sender_address, &values.sender_address)
            }
            SettingsField::SenderName => changes.assign("sender_name", &mut settings.sender_name, &values.sender_name),
            SettingsField::DigestWindowSeconds => {
                changes.assign("digest_window_seconds", &mut settings.digest_window_seconds, &values.digest_window_seconds)
            }
            SettingsField::PortalBaseUrl => {
                changes.assign("portal_base_url", &mut settings.portal_base_url, &values.portal_base_url)
            }
        }
    }
}

impl Store {
    pub async fn settings(&self) -> Result<SettingsRecord> {
        Ok(load_settings(&self.db).await?)
    }

    /// Changes the settings if they are still at the etag the change was
    /// read at; a change that changes nothing writes nothing.
    pub async fn update_settings(&self, change: SettingsChange, by: &Actor<'_>) -> Result<SettingsRecord> {
        let change = &change;
        self.mutations
            .update(
                by,
                SETTINGS_ID,
                Some(change.etag),
                |_tx, current: SettingsRecord| async move {
                    let mut after = current.clone();
                    let mut changes = Changes::new();
                    apply(&mut after.settings, change, &mut changes);
                    Ok(Edit { after, changes })
                },
                |_, _, _| Vec::new(),
            )
            .await
    }
}
