//! Portal users and their one-time links (invitations, password resets).

use chrono::{DateTime, Utc};
use docket_kit::idempotency::{self, Idempotency};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use super::{
    Actor, Store, Trail,
    entities::{portal_token, portal_user},
    find_idempotent, page_end, stale, write_trail,
};
use crate::{
    error::{Error, Result},
    events,
};

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Invitation,
    PasswordReset,
}

impl TokenPurpose {
    pub fn key(self) -> &'static str {
        match self {
            TokenPurpose::Invitation => "invitation",
            TokenPurpose::PasswordReset => "password_reset",
        }
    }
}

/// A contact as the case service describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFacts {
    pub contact_id: String,
    pub account_id: String,
    pub email: String,
    pub name: String,
}

/// The outcome of an invitation.
#[derive(Debug, Clone)]
pub struct Invited {
    pub user: portal_user::Model,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub account_id: Option<String>,
    /// `invited`, `active` or `disabled`.
    pub state: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserCursor {
    pub contact_id: String,
}

/// The state a user is in: `invited`, `active` or `disabled`.
pub fn state(user: &portal_user::Model) -> &'static str {
    match (user.enabled, user.password_hash.is_some()) {
        (false, _) => "disabled",
        (true, false) => "invited",
        (true, true) => "active",
    }
}

const NO_LINK: &str = "this link is unknown, already used, replaced by a newer one, or expired";

fn time_text(time: Option<DateTime<Utc>>) -> String {
    time.map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// A live token of `purpose` with this digest, read inside `txn`.
async fn live_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> Result<portal_token::Model> {
    portal_token::Entity::find_by_id(token_hash.to_owned())
        .one(db)
        .await?
        .filter(|t| t.purpose == purpose.key() && t.used_at.is_none() && t.revoked_at.is_none() && t.expires_at > now)
        .ok_or_else(|| Error::NotFound(NO_LINK.to_owned()))
}

/// Spends a token once: a concurrent second use finds nothing to update.
async fn spend_token(txn: &DatabaseTransaction, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
    let spent = portal_token::Entity::update_many()
        .col_expr(portal_token::Column::UsedAt, Expr::value(Some(now)))
        .filter(portal_token::Column::TokenHash.eq(token_hash))
        .filter(portal_token::Column::UsedAt.is_null())
        .filter(portal_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    if spent.rows_affected == 1 { Ok(()) } else { Err(Error::NotFound(NO_LINK.to_owned())) }
}

/// Replaces every live token of `purpose` of a contact with a new one.
async fn issue_token(
    txn: &DatabaseTransaction,
    contact_id: &str,
    purpose: TokenPurpose,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    portal_token::Entity::update_many()
        .col_expr(portal_token::Column::RevokedAt, Expr::value(Some(now)))
        .filter(portal_token::Column::ContactId.eq(contact_id))
        .filter(portal_token::Column::Purpose.eq(purpose.key()))
        .filter(portal_token::Column::UsedAt.is_null())
        .filter(portal_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    portal_token::Model {
        token_hash: token_hash.to_owned(),
        purpose: purpose.key().to_owned(),
        contact_id: contact_id.to_owned(),
        expires_at,
        created_at: now,
        used_at: None,
        revoked_at: None,
    }
    .into_active_model()
    .reset_all()
    .insert(txn)
    .await?;
    Ok(())
}

/// Writes a changed user if nobody else changed it first, with its trail.
async fn save_user(
    txn: &DatabaseTransaction,
    before: &portal_user::Model,
    mut after: portal_user::Model,
    trail: &Trail,
    by: &Actor<'_>,
) -> Result<portal_user::Model> {
    after.version = before.version + 1;
    after.updated_at = by.at;
    let updated = portal_user::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(portal_user::Column::ContactId.eq(before.contact_id.clone()))
        .filter(portal_user::Column::Version.eq(before.version))
        .exec(txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(stale("portal user", &before.contact_id, before.version, before.version + 1));
    }
    write_trail(txn, "portal_user", &after.contact_id, by, trail).await?;
    Ok(after)
}

/// A new portal user of `contact`: invited, or active when it comes with a password.
fn new_user(
    contact: &ContactFacts,
    portal_manager: bool,
    password_hash: Option<String>,
    at: DateTime<Utc>,
) -> portal_user::Model {
    let active = password_hash.as_ref().map(|_| at);
    portal_user::Model {
        contact_id: contact.contact_id.clone(),
        account_id: contact.account_id.clone(),
        email: contact.email.clone(),
        name: contact.name.clone(),
        portal_manager,
        enabled: true,
        password_hash,
        session_epoch: 1,
        invited_at: at,
        activated_at: active,
        last_login_at: None,
        password_changed_at: active,
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

async fn load_user(db: &impl ConnectionTrait, contact_id: &str) -> Result<portal_user::Model> {
    portal_user::Entity::find_by_id(contact_id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("contact {contact_id} has no portal access")))
}

impl Store {
    pub async fn get_user(&self, contact_id: &str) -> Result<portal_user::Model> {
        load_user(&self.db, contact_id).await
    }

    /// The user of a contact, if it has portal access.
    pub async fn find_user(&self, contact_id: &str) -> Result<Option<portal_user::Model>> {
        Ok(portal_user::Entity::find_by_id(contact_id.to_owned()).one(&self.db).await?)
    }

    pub async fn list_users(
        &self,
        filter: &UserFilter,
        after: Option<UserCursor>,
        limit: u64,
    ) -> Result<(Vec<portal_user::Model>, Option<UserCursor>)> {
        let mut query = portal_user::Entity::find();
        if let Some(account) = &filter.account_id {
            query = query.filter(portal_user::Column::AccountId.eq(account.clone()));
        }
        query = match filter.state {
            Some("disabled") => query.filter(portal_user::Column::Enabled.eq(false)),
            Some("invited") => {
                query.filter(portal_user::Column::Enabled.eq(true)).filter(portal_user::Column::PasswordHash.is_null())
            }
            Some(_) => {
                query.filter(portal_user::Column::Enabled.eq(true)).filter(portal_user::Column::PasswordHash.is_not_null())
            }
            None => query,
        };
        if let Some(after) = after {
            query = query.filter(portal_user::Column::ContactId.gt(after.contact_id));
        }
        let mut rows = query.order_by_asc(portal_user::Column::ContactId).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| UserCursor { contact_id: last.contact_id.clone() });
        Ok((rows, next))
    }

    /// Invites a contact, or sends a new invitation to one who has not
    /// accepted yet (the earlier link stops working). `token` is the secret
    /// emailed through the event; only its digest is stored.
    pub async fn invite(
        &self,
        contact: &ContactFacts,
        portal_manager: bool,
        token: &str,
        expires_at: DateTime<Utc>,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<Invited> {
        const SCOPE: &str = "InviteContact";
        if let Some(key) = key
            && let Some(id) = find_idempotent(&self.db, SCOPE, by.actor, key).await?
        {
            let user = load_user(&self.db, &id).await?;
            let token = portal_token::Entity::find()
                .filter(portal_token::Column::ContactId.eq(id.clone()))
                .filter(portal_token::Column::Purpose.eq(TokenPurpose::Invitation.key()))
                .order_by_desc(portal_token::Column::CreatedAt)
                .one(&self.db)
                .await?;
            return Ok(Invited { expires_at: token.map_or(expires_at, |t| t.expires_at), user });
        }
        let txn = self.db.begin().await?;
        let existing = portal_user::Entity::find_by_id(contact.contact_id.clone()).one(&txn).await?;
        let mut trail = Trail::new();
        let user = match existing {
            Some(user) if !user.enabled => {
                return Err(Error::FailedPrecondition(format!(
                    "the portal access of contact {} is disabled; enable it (UpdatePortalUser) before inviting again",
                    contact.contact_id
                )));
            }
            Some(user) if user.password_hash.is_some() => {
                return Err(Error::FailedPrecondition(format!(
                    "contact {} has already set a password; a forgotten password is reset with RequestPasswordReset",
                    contact.contact_id
                )));
            }
            Some(before) => {
                let mut after = before.clone();
                after.portal_manager = portal_manager;
                after.invited_at = by.at;
                after.account_id.clone_from(&contact.account_id);
                after.email.clone_from(&contact.email);
                after.name.clone_from(&contact.name);
                trail.set("invited", time_text(Some(before.invited_at)), by.at.to_rfc3339());
                trail.diff("portal_manager", before.portal_manager, portal_manager);
                trail.diff("email", &before.email, &contact.email);
                save_user(&txn, &before, after, &trail, by).await?
            }
            None => {
                let user = new_user(contact, portal_manager, None, by.at).into_active_model().reset_all().insert(&txn).await?;
                trail.set("invited", "", by.at.to_rfc3339());
                trail.set("email", "", &user.email);
                trail.set("portal_manager", "", user.portal_manager);
                write_trail(&txn, "portal_user", &user.contact_id, by, &trail).await?;
                user
            }
        };
        issue_token(&txn, &user.contact_id, TokenPurpose::Invitation, &docket_kit::secret::digest(token), expires_at, by.at)
            .await?;
        events::invitation_created(&txn, &user, token, expires_at, by).await?;
        if let Some(key) = key
            && !idempotency::remember(&txn, SCOPE, by.actor, key, &user.contact_id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.invite(contact, portal_manager, token, expires_at, by, Some(key))).await;
        }
        self.commit(txn).await?;
        Ok(Invited { user, expires_at })
    }

    /// The user a live link of `purpose` belongs to, and when the link expires.
    pub async fn check_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<(portal_user::Model, DateTime<Utc>)> {
        let token = live_token(&self.db, token_hash, purpose, now).await?;
        let user = load_user(&self.db, &token.contact_id).await.map_err(|_| Error::NotFound(NO_LINK.to_owned()))?;
        if !user.enabled || (purpose == TokenPurpose::Invitation) == user.password_hash.is_some() {
            return Err(Error::NotFound(NO_LINK.to_owned()));
        }
        Ok((user, token.expires_at))
    }

    /// Spends a live link of `purpose` and sets the user's password, ending
    /// every session the user had.
    pub async fn set_password_by_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        password_hash: String,
        by: &Actor<'_>,
    ) -> Result<portal_user::Model> {
        let txn = self.db.begin().await?;
        let token = live_token(&txn, token_hash, purpose, by.at).await?;
        let before = load_user(&txn, &token.contact_id).await.map_err(|_| Error::NotFound(NO_LINK.to_owned()))?;
        // An invitation sets the first password; a reset needs one already.
        if !before.enabled || (purpose == TokenPurpose::Invitation) == before.password_hash.is_some() {
            return Err(Error::NotFound(NO_LINK.to_owned()));
        }
        spend_token(&txn, token_hash, by.at).await?;
        let mut after = before.clone();
        let mut trail = Trail::new();
        after.password_hash = Some(password_hash);
        after.password_changed_at = Some(by.at);
        after.session_epoch += 1;
        match purpose {
            TokenPurpose::Invitation => {
                after.activated_at = Some(by.at);
                trail.set("activated", "", by.at.to_rfc3339());
            }
            TokenPurpose::PasswordReset => trail.set("password_reset", "", by.at.to_rfc3339()),
        }
        trail.set("password", "", "(set)");
        let saved = save_user(&txn, &before, after, &trail, by).await?;
        self.commit(txn).await?;
        Ok(saved)
    }

    /// A user's new password, ending every session it had.
    pub async fn change_password(&self, contact_id: &str, password_hash: String, by: &Actor<'_>) -> Result<portal_user::Model> {
        let txn = self.db.begin().await?;
        let before = load_user(&txn, contact_id).await?;
        let mut after = before.clone();
        after.password_hash = Some(password_hash);
        after.password_changed_at = Some(by.at);
        after.session_epoch += 1;
        let mut trail = Trail::new();
        trail.set("password", "(set)", "(changed)");
        let saved = save_user(&txn, &before, after, &trail, by).await?;
        self.commit(txn).await?;
        Ok(saved)
    }

    /// Issues a password-reset link for an active user and writes the event
    /// that emails it.
    pub async fn request_reset(&self, contact_id: &str, token: &str, expires_at: DateTime<Utc>, by: &Actor<'_>) -> Result<()> {
        let txn = self.db.begin().await?;
        let user = load_user(&txn, contact_id).await?;
        issue_token(&txn, contact_id, TokenPurpose::PasswordReset, &docket_kit::secret::digest(token), expires_at, by.at).await?;
        let mut trail = Trail::new();
        trail.set("password_reset_requested", "", by.at.to_rfc3339());
        write_trail(&txn, "portal_user", contact_id, by, &trail).await?;
        events::password_reset_requested(&txn, &user, token, expires_at, by).await?;
        self.commit(txn).await
    }

    /// Notes a login, and what the case service says of the contact now.
    pub async fn record_login(&self, contact: &ContactFacts, by: &Actor<'_>) -> Result<portal_user::Model> {
        let txn = self.db.begin().await?;
        let before = load_user(&txn, &contact.contact_id).await?;
        let mut after = before.clone();
        let mut trail = Trail::new();
        trail.set("last_login_time", time_text(before.last_login_at), by.at.to_rfc3339());
        trail.diff("account_id", &before.account_id, &contact.account_id);
        trail.diff("email", &before.email, &contact.email);
        trail.diff("name", &before.name, &contact.name);
        after.last_login_at = Some(by.at);
        after.account_id.clone_from(&contact.account_id);
        after.email.clone_from(&contact.email);
        after.name.clone_from(&contact.name);
        let saved = save_user(&txn, &before, after, &trail, by).await?;
        txn.commit().await?;
        Ok(saved)
    }

    /// Changes `enabled` and/or `portal_manager`; disabling ends every session.
    pub async fn update_user(
        &self,
        contact_id: &str,
        version: i64,
        enabled: Option<bool>,
        portal_manager: Option<bool>,
        by: &Actor<'_>,
    ) -> Result<portal_user::Model> {
        let txn = self.db.begin().await?;
        let before = load_user(&txn, contact_id).await?;
        if before.version != version {
            return Err(stale("portal user", contact_id, version, before.version));
        }
        let mut after = before.clone();
        let mut trail = Trail::new();
        if let Some(enabled) = enabled {
            trail.diff("enabled", before.enabled, enabled);
            after.enabled = enabled;
            if before.enabled && !enabled {
                after.session_epoch += 1;
            }
        }
        if let Some(manager) = portal_manager {
            trail.diff("portal_manager", before.portal_manager, manager);
            after.portal_manager = manager;
        }
        if trail.is_empty() {
            return Ok(before);
        }
        let saved = save_user(&txn, &before, after, &trail, by).await?;
        txn.commit().await?;
        Ok(saved)
    }

    /// Ends every session of a user.
    pub async fn revoke_sessions(&self, contact_id: &str, by: &Actor<'_>) -> Result<portal_user::Model> {
        let txn = self.db.begin().await?;
        let before = load_user(&txn, contact_id).await?;
        let mut after = before.clone();
        after.session_epoch += 1;
        let mut trail = Trail::new();
        trail.set("sessions_revoked", "", by.at.to_rfc3339());
        let saved = save_user(&txn, &before, after, &trail, by).await?;
        txn.commit().await?;
        Ok(saved)
    }
}

impl Store {
    /// A user who can log in right away, with no invitation: the demo data
    /// of `docket dev` (a newcomer logs in with the printed password).
    pub async fn add_active_user(
        &self,
        contact: &ContactFacts,
        portal_manager: bool,
        password_hash: String,
        by: &Actor<'_>,
    ) -> Result<portal_user::Model> {
        let txn = self.db.begin().await?;
        let user =
            new_user(contact, portal_manager, Some(password_hash), by.at).into_active_model().reset_all().insert(&txn).await?;
        let mut trail = Trail::new();
        trail.set("activated", "", by.at.to_rfc3339());
        trail.set("email", "", &user.email);
        trail.set("portal_manager", "", user.portal_manager);
        write_trail(&txn, "portal_user", &user.contact_id, by, &trail).await?;
        txn.commit().await?;
        Ok(user)
    }

    /// Whether anyone has portal access yet.
    pub async fn has_users(&self) -> Result<bool> {
        Ok(portal_user::Entity::find().one(&self.db).await?.is_some())
    }
}
