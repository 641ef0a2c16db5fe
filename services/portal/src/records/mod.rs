//! The records the portal service keeps: its sea-orm entities, the state a
//! portal user is in, and a web form as the domain reads it. The store
//! writes them through the kit's mutation runner, the gRPC adapter shows
//! them, the events carry them.

pub mod entities;

use chrono::{DateTime, Utc};
use docket_kit::request::RecordId;
use sea_orm::DbErr;

use self::entities::{portal_user, web_form};
use crate::domain::{
    AccountId, ContactId, TeamId,
    forms::{FormDefinition, FormField},
};

/// The state a portal user is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    /// Invited; no password yet.
    Invited,
    Active,
    Disabled,
}

impl UserState {
    pub fn of(user: &portal_user::Model) -> Self {
        match (user.enabled, user.password_hash.is_some()) {
            (false, _) => UserState::Disabled,
            (true, false) => UserState::Invited,
            (true, true) => UserState::Active,
        }
    }
}

/// The id of a stored user's contact.
pub fn contact_id(user: &portal_user::Model) -> crate::error::Result<ContactId> {
    Ok(ContactId::stored(&user.contact_id)?)
}

docket_kit::versioned_record!(
    portal_user,
    "portal_user",
    key = contact_id / ContactId,
    taken = |m| ("contact_id".to_owned(), format!("contact {} already has portal access", m.contact_id)),
);

/// A stored web form as the domain reads it: its definition (fields and
/// origins read from JSON). Changes are written as its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRecord {
    pub id: String,
    pub definition: FormDefinition,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FormRecord {
    /// The form a stored row holds; unreadable JSON is a damaged row.
    pub fn from_model(model: web_form::Model) -> Result<Self, DbErr> {
        let damaged =
            |what: &str, err: serde_json::Error| DbErr::Type(format!("web form {} has unreadable {what}: {err}", model.id));
        let fields: Vec<FormField> = serde_json::from_str(&model.fields).map_err(|err| damaged("fields", err))?;
        let allowed_origins: Vec<String> = serde_json::from_str(&model.allowed_origins).map_err(|err| damaged("origins", err))?;
        let team_id = model.team_id.as_deref().map(TeamId::stored).transpose()?;
        let account_id = model.account_id.as_deref().map(AccountId::stored).transpose()?;
        Ok(FormRecord {
            id: model.id,
            definition: FormDefinition {
                slug: model.slug,
                title: model.title,
                intro: model.intro,
                fields,
                case_type_id: model.case_type_id,
                priority: model.priority,
                team_id,
                account_id,
                allowed_origins,
                success_message: model.success_message,
                active: model.active,
            },
            version: model.version,
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }

    pub fn to_model(&self) -> web_form::Model {
        let form = &self.definition;
        web_form::Model {
            id: self.id.clone(),
            slug: form.slug.clone(),
            title: form.title.clone(),
            intro: form.intro.clone(),
            fields: fields_json(&form.fields),
            case_type_id: form.case_type_id.clone(),
            priority: form.priority.clone(),
            team_id: form.team_id.map(|id| id.to_string()),
            account_id: form.account_id.map(|id| id.to_string()),
            allowed_origins: serde_json::to_string(&form.allowed_origins).unwrap_or_else(|_| "[]".to_owned()),
            success_message: form.success_message.clone(),
            active: form.active,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The fields of a form as stored (and as its trail shows them).
pub fn fields_json(fields: &[FormField]) -> String {
    // Plain data always serializes.
    serde_json::to_string(fields).unwrap_or_else(|_| "[]".to_owned())
}

docket_kit::versioned_record!(
    web_form,
    "web_form",
    taken = |m| ("web_form.slug".to_owned(), format!("another form already has the slug {}", m.slug)),
);

#[cfg(test)]
mod tests {
    use super::*;

    fn stored_form() -> FormRecord {
        let at = docket_kit::time::now();
        let definition = FormDefinition {
            team_id: Some(TeamId::generate()),
            account_id: Some(AccountId::generate()),
            ..crate::demo::support_form()
        };
        FormRecord {
            id: crate::domain::WebFormId::generate().to_string(),
            definition,
            version: 3,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_form_reads_back_from_its_row_as_it_was_written() {
        let form = stored_form();
        let row = form.to_model();
        assert_eq!(row.team_id, form.definition.team_id.map(|id| id.to_string()));
        assert_eq!(FormRecord::from_model(row).unwrap(), form);
    }

    #[test]
    fn an_unreadable_row_is_a_damaged_row_not_a_form() {
        let fields = web_form::Model { fields: "not json".into(), ..stored_form().to_model() };
        assert!(matches!(FormRecord::from_model(fields), Err(DbErr::Type(message)) if message.contains("unreadable fields")));
        let team = web_form::Model { team_id: Some("queue-1".into()), ..stored_form().to_model() };
        assert!(matches!(FormRecord::from_model(team), Err(DbErr::Type(_))));
    }

    #[test]
    fn a_user_is_invited_until_it_sets_a_password_and_disabled_whatever_it_has() {
        let at = docket_kit::time::now();
        let user = portal_user::Model {
            contact_id: ContactId::generate().to_string(),
            account_id: AccountId::generate().to_string(),
            email: "ann@acme.example".into(),
            name: "Ann".into(),
            portal_manager: false,
            enabled: true,
            password_hash: None,
            session_epoch: 1,
            invited_at: at,
            activated_at: None,
            last_login_at: None,
            password_changed_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        assert_eq!(UserState::of(&user), UserState::Invited);
        let active = portal_user::Model { password_hash: Some("$argon2id$...".into()), ..user.clone() };
        assert_eq!(UserState::of(&active), UserState::Active);
        assert_eq!(UserState::of(&portal_user::Model { enabled: false, ..active }), UserState::Disabled);
    }
}
