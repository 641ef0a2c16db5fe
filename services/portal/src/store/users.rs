//! Portal users and their one-time links (invitations, password resets).

use std::{fmt, future::Future};

use chrono::{DateTime, Utc};
use docket_kit::{
    error::is_unique_violation,
    mutation::{Edit, Once, Record, Tx, already_exists},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use super::{Actor, Store, Trail, links::NewLink, page_end};
use crate::{
    domain::{
        AccountId, ContactId,
        commands::{Idempotency, UserField, UserFields, UserUpdate},
    },
    error::{Error, PortalRefusal, Result},
    events,
    records::{
        UserState,
        entities::{portal_token, portal_user},
    },
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
    pub account_id: Option<AccountId>,
    pub state: Option<UserState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserCursor {
    pub contact_id: String,
}

/// The one answer to a link that cannot be used, whatever the reason.
fn no_link() -> Error {
    Error::NotFound("this link is unknown, already used, replaced by a newer one, or expired".to_owned())
}

fn no_access(contact_id: impl fmt::Display) -> Error {
    Error::NotFound(format!("contact {contact_id} has no portal access"))
}

fn time_text(time: Option<DateTime<Utc>>) -> String {
    time.map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// A live token of `purpose` with this digest.
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
        .ok_or_else(no_link)
}

/// The user a link is for, if the link may be used for it: an invitation
/// sets the first password, a reset needs one already.
async fn link_user(db: &impl ConnectionTrait, contact_id: &str, purpose: TokenPurpose) -> Result<portal_user::Model> {
    match portal_user::Model::load(db, contact_id).await? {
        Some(user) if user.enabled && (purpose == TokenPurpose::Invitation) != user.password_hash.is_some() => Ok(user),
        _ => Err(no_link()),
    }
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
    if spent.rows_affected == 1 { Ok(()) } else { Err(no_link()) }
}

/// Ends every live link of `purpose` of a contact.
async fn revoke_links(txn: &DatabaseTransaction, contact_id: &str, purpose: TokenPurpose, now: DateTime<Utc>) -> Result<()> {
    portal_token::Entity::update_many()
        .col_expr(portal_token::Column::RevokedAt, Expr::value(Some(now)))
        .filter(portal_token::Column::ContactId.eq(contact_id))
        .filter(portal_token::Column::Purpose.eq(purpose.key()))
        .filter(portal_token::Column::UsedAt.is_null())
        .filter(portal_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Replaces every live link of `purpose` of a contact with a new one, and
/// answers its id (the secret comes later: see [`super::links`]).
async fn issue_token(
    txn: &DatabaseTransaction,
    contact_id: &str,
    purpose: TokenPurpose,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String> {
    revoke_links(txn, contact_id, purpose, now).await?;
    let link = NewLink::new()?;
    portal_token::Model {
        token_hash: link.sealed_digest,
        link_id: Some(link.id.clone()),
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
    Ok(link.id)
}

/// A new portal user of `contact`: invited, or active when it comes with a
/// password; and the trail of its creation.
fn new_user(
    contact: &ContactFacts,
    portal_manager: bool,
    password_hash: Option<String>,
    at: DateTime<Utc>,
) -> (portal_user::Model, Trail) {
    let active = password_hash.as_ref().map(|_| at);
    let user = portal_user::Model {
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
    };
    let mut trail = Trail::new();
    trail.set(if active.is_some() { "activated" } else { "invited" }, "", at.to_rfc3339());
    trail.set("email", "", &user.email);
    trail.set("portal_manager", "", user.portal_manager);
    (user, trail)
}

/// Writes a user's change: the version check, its trail; portal users'
/// changes send no events of their own.
async fn save_user(tx: &Tx, before: &portal_user::Model, after: portal_user::Model, trail: Trail) -> Result<portal_user::Model> {
    tx.save::<_, PortalRefusal>(before, Edit { after, changes: trail }, |_, _, _| Vec::new()).await
}

/// A user whose contact's address changed: the new address is theirs, and
/// the sessions and links made while the old one was end, so whoever still
/// reads the old mailbox holds nothing.
async fn follow_address(
    txn: &DatabaseTransaction,
    by: &Actor<'_>,
    before: &portal_user::Model,
    email: &str,
) -> Result<portal_user::Model> {
    revoke_links(txn, &before.contact_id, TokenPurpose::Invitation, by.at).await?;
    revoke_links(txn, &before.contact_id, TokenPurpose::PasswordReset, by.at).await?;
    let mut after = before.clone();
    after.email = email.to_owned();
    after.session_epoch += 1;
    let mut trail = Trail::new();
    trail.diff("email", &before.email, email);
    trail.set("sessions_revoked", "", by.at.to_rfc3339());
    docket_kit::mutation::save(txn, by, crate::events::SOURCE, before, Edit { after, changes: trail }, |_, _, _| Vec::new()).await
}

/// Follows a contact's new address (the case service's `contact.updated`)
/// inside an event consumer's transaction: a portal user of that contact
/// with another address takes the new one, and what the old one held ends.
pub async fn follow_contact_address(txn: &DatabaseTransaction, by: &Actor<'_>, contact_id: &str, email: &str) -> Result<()> {
    match portal_user::Model::load(txn, contact_id).await? {
        Some(user) if !user.email.eq_ignore_ascii_case(email) => follow_address(txn, by, &user, email).await.map(drop),
        _ => Ok(()),
    }
}

/// What an invitation does to a user who has not accepted an earlier one.
fn reinvite(
    before: &portal_user::Model,
    contact: &ContactFacts,
    portal_manager: bool,
    at: DateTime<Utc>,
) -> Edit<portal_user::Model> {
    let mut after = before.clone();
    after.portal_manager = portal_manager;
    after.invited_at = at;
    after.account_id.clone_from(&contact.account_id);
    after.email.clone_from(&contact.email);
    after.name.clone_from(&contact.name);
    let mut trail = Trail::new();
    trail.set("invited", time_text(Some(before.invited_at)), at.to_rfc3339());
    trail.diff("portal_manager", before.portal_manager, portal_manager);
    trail.diff("email", &before.email, &contact.email);
    Edit { after, changes: trail }
}

/// A new password: every session made before it ends.
fn with_password(before: &portal_user::Model, password_hash: &str, at: DateTime<Utc>) -> portal_user::Model {
    let mut after = before.clone();
    after.password_hash = Some(password_hash.to_owned());
    after.password_changed_at = Some(at);
    after.session_epoch += 1;
    after
}

impl Store {
    pub async fn get_user(&self, contact_id: ContactId) -> Result<portal_user::Model> {
        self.find_user(contact_id).await?.ok_or_else(|| no_access(contact_id))
    }

    /// The user of a contact, if it has portal access.
    pub async fn find_user(&self, contact_id: ContactId) -> Result<Option<portal_user::Model>> {
        Ok(portal_user::Model::load(&self.db, &contact_id.to_string()).await?)
    }

    pub async fn list_users(
        &self,
        filter: &UserFilter,
        after: Option<UserCursor>,
        limit: u64,
    ) -> Result<(Vec<portal_user::Model>, Option<UserCursor>)> {
        let mut query = portal_user::Entity::find();
        if let Some(account) = filter.account_id {
            query = query.filter(portal_user::Column::AccountId.eq(account.to_string()));
        }
        query = match filter.state {
            Some(UserState::Disabled) => query.filter(portal_user::Column::Enabled.eq(false)),
            Some(UserState::Invited) => {
                query.filter(portal_user::Column::Enabled.eq(true)).filter(portal_user::Column::PasswordHash.is_null())
            }
            Some(UserState::Active) => {
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
    /// accepted yet (the earlier link stops working). The event names the
    /// link; its secret is made when the email is written. A retry with
    /// the same idempotency key answers with the first invitation.
    pub async fn invite(
        &self,
        contact: &ContactFacts,
        portal_manager: bool,
        expires_at: DateTime<Utc>,
        by: &Actor<'_>,
        key: Option<&Idempotency>,
    ) -> Result<Invited> {
        self.mutations
            .run_once(
                by,
                Once { scope: "InviteContact", key },
                async |tx| {
                    let user = match portal_user::Model::load(&*tx, &contact.contact_id).await? {
                        Some(user) if !user.enabled => {
                            return Err(Error::Precondition(format!(
                                "the portal access of contact {} is disabled; enable it (UpdatePortalUser) before inviting again",
                                contact.contact_id
                            )));
                        }
                        Some(user) if user.password_hash.is_some() => {
                            return Err(Error::Precondition(format!(
                                "contact {} has already set a password; a forgotten password is reset with RequestPasswordReset",
                                contact.contact_id
                            )));
                        }
                        Some(before) => {
                            let Edit { after, changes } = reinvite(&before, contact, portal_manager, by.at);
                            save_user(&tx, &before, after, changes).await?
                        }
                        None => {
                            let (user, trail) = new_user(contact, portal_manager, None, by.at);
                            insert_user(&tx, user, &trail).await?
                        }
                    };
                    let link_id = issue_token(&tx, &user.contact_id, TokenPurpose::Invitation, expires_at, by.at).await?;
                    tx.emit([events::invitation_created(&user, &link_id, expires_at)]).await?;
                    Ok(Invited { user, expires_at })
                },
                |invited| &invited.user.contact_id,
                |id| async move { self.first_invitation(&id, expires_at).await },
            )
            .await
    }

    /// What an earlier invitation made: its user, and when its link expires.
    async fn first_invitation(&self, contact_id: &str, expires_at: DateTime<Utc>) -> Result<Invited> {
        let user = portal_user::Model::load(&self.db, contact_id).await?.ok_or_else(|| no_access(contact_id))?;
        let token = portal_token::Entity::find()
            .filter(portal_token::Column::ContactId.eq(contact_id))
            .filter(portal_token::Column::Purpose.eq(TokenPurpose::Invitation.key()))
            .order_by_desc(portal_token::Column::CreatedAt)
            .one(&self.db)
            .await?;
        Ok(Invited { expires_at: token.map_or(expires_at, |t| t.expires_at), user })
    }

    /// The user a live link of `purpose` belongs to, and when the link expires.
    pub async fn check_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<(portal_user::Model, DateTime<Utc>)> {
        let token = live_token(&self.db, token_hash, purpose, now).await?;
        let user = link_user(&self.db, &token.contact_id, purpose).await?;
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
        self.mutations
            .run(by, async |tx| {
                let token = live_token(&*tx, token_hash, purpose, by.at).await?;
                let before = link_user(&*tx, &token.contact_id, purpose).await?;
                spend_token(&tx, token_hash, by.at).await?;
                let mut after = with_password(&before, &password_hash, by.at);
                let mut trail = Trail::new();
                match purpose {
                    TokenPurpose::Invitation => {
                        after.activated_at = Some(by.at);
                        trail.set("activated", "", by.at.to_rfc3339());
                    }
                    TokenPurpose::PasswordReset => trail.set("password_reset", "", by.at.to_rfc3339()),
                }
                trail.set("password", "", "(set)");
                save_user(&tx, &before, after, trail).await
            })
            .await
    }

    /// A user's new password, ending every session it had and every reset
    /// link still out (whoever holds an old one must not undo the change).
    pub async fn change_password(
        &self,
        contact_id: ContactId,
        password_hash: String,
        by: &Actor<'_>,
    ) -> Result<portal_user::Model> {
        let password_hash = &password_hash;
        self.change_user(by, &contact_id.to_string(), None, |tx, before| async move {
            revoke_links(&tx, &before.contact_id, TokenPurpose::PasswordReset, by.at).await?;
            let mut trail = Trail::new();
            trail.set("password", "(set)", "(changed)");
            Ok(Edit { after: with_password(&before, password_hash, by.at), changes: trail })
        })
        .await
    }

    /// Issues a password-reset link for an active user and writes the event
    /// that emails it to `email`, the contact's address as the case service
    /// has it now. An address that changed since the user's last login
    /// becomes the user's first, ending what was made for the old one
    /// (should the portal follow the same change at the same moment, the
    /// request runs again on what that wrote).
    pub async fn request_reset(
        &self,
        contact_id: ContactId,
        email: &str,
        expires_at: DateTime<Utc>,
        by: &Actor<'_>,
    ) -> Result<()> {
        let id = &contact_id.to_string();
        self.mutations
            .run_fresh(by, |tx| async move {
                let mut user = portal_user::Model::load(&*tx, id).await?.ok_or_else(|| no_access(contact_id))?;
                if !user.email.eq_ignore_ascii_case(email) {
                    user = follow_address(&tx, &tx.by(), &user, email).await?;
                }
                let link_id = issue_token(&tx, id, TokenPurpose::PasswordReset, expires_at, by.at).await?;
                let mut trail = Trail::new();
                trail.set("password_reset_requested", "", by.at.to_rfc3339());
                tx.trail(portal_user::Model::KIND, id, &trail).await?;
                tx.emit([events::password_reset_requested(&user, &link_id, expires_at)]).await?;
                Ok(())
            })
            .await
    }

    /// Notes a login, and what the case service says of the contact now. A
    /// login proves the password is known, so reset links still out end.
    pub async fn record_login(&self, contact: &ContactFacts, by: &Actor<'_>) -> Result<portal_user::Model> {
        self.change_user(by, &contact.contact_id, None, |tx, before| async move {
            revoke_links(&tx, &before.contact_id, TokenPurpose::PasswordReset, by.at).await?;
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
            Ok(Edit { after, changes: trail })
        })
        .await
    }

    /// Changes `enabled` and/or `portal_manager`; disabling ends every session.
    pub async fn update_user(&self, target: UserUpdate, fields: UserFields, by: &Actor<'_>) -> Result<portal_user::Model> {
        let mask = &target.mask;
        self.change_user(by, &target.id.to_string(), Some(target.etag), |_, before| async move {
            let mut after = before.clone();
            let mut trail = Trail::new();
            for field in mask.iter() {
                match field {
                    UserField::Enabled => {
                        trail.diff("enabled", before.enabled, fields.enabled);
                        after.enabled = fields.enabled;
                        if before.enabled && !fields.enabled {
                            after.session_epoch += 1;
                        }
                    }
                    UserField::PortalManager => {
                        trail.diff("portal_manager", before.portal_manager, fields.portal_manager);
                        after.portal_manager = fields.portal_manager;
                    }
                }
            }
            Ok(Edit { after, changes: trail })
        })
        .await
    }

    /// Ends every session of a user.
    pub async fn revoke_sessions(&self, contact_id: ContactId, by: &Actor<'_>) -> Result<portal_user::Model> {
        self.change_user(by, &contact_id.to_string(), None, |_, before| async move {
            let mut after = before.clone();
            after.session_epoch += 1;
            let mut trail = Trail::new();
            trail.set("sessions_revoked", "", by.at.to_rfc3339());
            Ok(Edit { after, changes: trail })
        })
        .await
    }

    /// Changes a user through the mutation runner (`etag`: the version the
    /// caller read, if it sent one); a missing user is one without portal
    /// access.
    async fn change_user<F>(
        &self,
        by: &Actor<'_>,
        contact_id: &str,
        etag: Option<i64>,
        change: impl Fn(Tx, portal_user::Model) -> F,
    ) -> Result<portal_user::Model>
    where
        F: Future<Output = Result<Edit<portal_user::Model>>>,
    {
        self.mutations.update(by, contact_id, etag, change, |_, _, _| Vec::new()).await.map_err(|err| match err {
            Error::NotFound(_) => no_access(contact_id),
            other => other,
        })
    }
}

/// Inserts a new user with the trail of its creation. A contact whose user
/// a concurrent call just made is refused as taken.
async fn insert_user(tx: &Tx, user: portal_user::Model, trail: &Trail) -> Result<portal_user::Model> {
    match tx.insert_new(&user, trail, []).await {
        Ok(()) => Ok(user),
        Err(err) if is_unique_violation(&err) => Err(already_exists(&user)),
        Err(err) => Err(err.into()),
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
        let (user, trail) = new_user(contact, portal_manager, Some(password_hash), by.at);
        self.mutations.create(by, Once::default(), async |_| Ok((user, trail, Vec::new()))).await
    }

    /// Whether anyone has portal access yet.
    pub async fn has_users(&self) -> Result<bool> {
        Ok(portal_user::Entity::find().one(&self.db).await?.is_some())
    }
}
