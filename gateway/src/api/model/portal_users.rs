//! The JSON shapes of portal users (the portal service's
//! `PortalAccessService`): contacts that staff have invited to the customer
//! portal. No password, hash or token is ever part of them.

use chrono::{DateTime, Utc};
use docket_proto::portal::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{enum_or_unspecified, time};

wire_enum!(
    /// Where a portal user stands: `invited` (no password yet), `active`, `disabled` (by staff).
    PortalUserState => pb::PortalUserState { Invited, Active, Disabled }
);

/// A contact with access to the customer portal; its id is the contact's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PortalUser {
    pub contact_id: String,
    /// The contact's account when invited or when the user last logged in.
    pub account_id: String,
    /// The contact's email and name as the case service last told them.
    pub email: String,
    pub name: String,
    /// Sees every case of its account, not only its own.
    pub portal_manager: bool,
    pub enabled: bool,
    pub state: Option<PortalUserState>,
    pub invite_time: Option<DateTime<Utc>>,
    pub activate_time: Option<DateTime<Utc>>,
    pub last_login_time: Option<DateTime<Utc>>,
    pub password_change_time: Option<DateTime<Utc>>,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    /// Changes on every change; send it back in `If-Match`.
    pub etag: String,
}

impl From<pb::PortalUser> for PortalUser {
    fn from(u: pb::PortalUser) -> Self {
        Self {
            contact_id: u.contact_id,
            account_id: u.account_id,
            email: u.email,
            name: u.name,
            portal_manager: u.portal_manager,
            enabled: u.enabled,
            state: PortalUserState::from_proto(u.state),
            invite_time: time(u.invite_time),
            activate_time: time(u.activate_time),
            last_login_time: time(u.last_login_time),
            password_change_time: time(u.password_change_time),
            create_time: time(u.create_time),
            update_time: time(u.update_time),
            etag: u.etag,
        }
    }
}

/// Invites a contact to the portal: the one-time link goes to the contact's
/// email and is never returned.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteContact {
    /// Required: the contact to invite.
    #[serde(default)]
    pub contact_id: String,
    /// Sees every case of its account, not only its own.
    #[serde(default)]
    pub portal_manager: bool,
}

/// The invited portal user and when the emailed link stops working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PortalInvitation {
    pub portal_user: PortalUser,
    pub invitation_expire_time: Option<DateTime<Utc>>,
}

impl From<pb::InviteContactResponse> for PortalInvitation {
    fn from(r: pb::InviteContactResponse) -> Self {
        Self { portal_user: r.portal_user.unwrap_or_default().into(), invitation_expire_time: time(r.invitation_expire_time) }
    }
}

/// What an update of a portal user may change (only the fields present).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalUserFields {
    /// `false` ends every session of the user and stops logins.
    pub enabled: Option<bool>,
    pub portal_manager: Option<bool>,
    /// Why, for the audit trail.
    pub reason: Option<String>,
}

impl PortalUserFields {
    pub fn into_proto(self) -> (pb::PortalUser, Vec<String>) {
        let mask = [("enabled", self.enabled.is_some()), ("portal_manager", self.portal_manager.is_some())]
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(name, _)| name.to_owned())
            .collect();
        let user = pb::PortalUser {
            enabled: self.enabled.unwrap_or_default(),
            portal_manager: self.portal_manager.unwrap_or_default(),
            ..Default::default()
        };
        (user, mask)
    }
}

/// Ends every session of a portal user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeSessions {
    /// Why, for the audit trail.
    #[serde(default)]
    pub reason: String,
}

/// A page of portal users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PortalUserPage {
    pub portal_users: Vec<PortalUser>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    pub next_page_token: Option<String>,
}

/// Filters and paging of `GET /portal-users`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalUserQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// Only users of this account.
    pub account_id: Option<String>,
    /// Only users in this state.
    pub state: Option<PortalUserState>,
}

impl From<PortalUserQuery> for pb::ListPortalUsersRequest {
    fn from(q: PortalUserQuery) -> Self {
        Self {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            account_id: q.account_id.unwrap_or_default(),
            state: enum_or_unspecified(q.state, PortalUserState::to_proto),
        }
    }
}
