//! The secrets of emailed links. A link is made with an id, which its event
//! carries, and the digest of a secret nobody is told; the notification
//! service asks for the secret it emails (`issue_link_secret`) as it writes
//! the email, and each ask replaces the secret before. So a live secret is
//! never on the broker, in a dead letter or in an outbox, and a replayed
//! event mails a link only while the link is still meant to work.

use chrono::{DateTime, Utc};
use docket_kit::secret;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use super::{Actor, Store};
use crate::{
    error::{Error, Result, internal},
    records::entities::{form_submission, portal_token, portal_user},
};

/// A link as it is made: the id its event names it by, and the digest of a
/// secret that is never handed out.
pub struct NewLink {
    pub id: String,
    pub sealed_digest: String,
}

impl NewLink {
    pub fn new() -> Result<Self> {
        let sealed = secret::token().map_err(|err| internal(format!("no random token: {err}")))?;
        Ok(Self { id: uuid::Uuid::now_v7().to_string(), sealed_digest: secret::digest(&sealed) })
    }
}

/// A link's secret, to be emailed now.
pub struct IssuedSecret {
    pub token: String,
    /// The address the link goes to.
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

fn dead_link() -> Error {
    Error::Precondition("the link was used, replaced or revoked, or has expired: there is nothing to send".to_owned())
}

impl Store {
    /// A new secret for the live link `link_id`, replacing the one before.
    /// An invitation or reset link goes to its user's address now.
    pub async fn issue_link_secret(&self, link_id: &str, by: &Actor<'_>) -> Result<IssuedSecret> {
        let token = secret::token().map_err(|err| internal(format!("no random token: {err}")))?;
        let digest = secret::digest(&token);
        self.mutations
            .run(by, async |tx| {
                if let Some(link) =
                    portal_token::Entity::find().filter(portal_token::Column::LinkId.eq(link_id)).one(&*tx).await?
                {
                    let user = portal_user::Entity::find_by_id(link.contact_id.clone()).one(&*tx).await?;
                    let Some(user) = user.filter(|u| u.enabled) else { return Err(dead_link()) };
                    let replaced = portal_token::Entity::update_many()
                        .col_expr(portal_token::Column::TokenHash, Expr::value(digest.clone()))
                        .filter(portal_token::Column::LinkId.eq(link_id))
                        .filter(portal_token::Column::UsedAt.is_null())
                        .filter(portal_token::Column::RevokedAt.is_null())
                        .filter(portal_token::Column::ExpiresAt.gt(by.at))
                        .exec(&*tx)
                        .await?;
                    if replaced.rows_affected != 1 {
                        return Err(dead_link());
                    }
                    return Ok(IssuedSecret { token: token.clone(), email: user.email, expires_at: link.expires_at });
                }
                let Some(submission) =
                    form_submission::Entity::find().filter(form_submission::Column::ConfirmLinkId.eq(link_id)).one(&*tx).await?
                else {
                    return Err(Error::NotFound(format!("no link {link_id}")));
                };
                let replaced = form_submission::Entity::update_many()
                    .col_expr(form_submission::Column::ConfirmTokenHash, Expr::value(Some(digest.clone())))
                    .filter(form_submission::Column::ConfirmLinkId.eq(link_id))
                    .filter(form_submission::Column::ConfirmedAt.is_null())
                    .filter(form_submission::Column::ConfirmExpiresAt.gt(by.at))
                    .exec(&*tx)
                    .await?;
                match submission.confirm_expires_at {
                    Some(expires_at) if replaced.rows_affected == 1 => {
                        Ok(IssuedSecret { token: token.clone(), email: submission.confirm_email, expires_at })
                    }
                    _ => Err(dead_link()),
                }
            })
            .await
    }
}
