//! `docket.portal.v1.PortalAccessService`: staff give contacts portal access.

use docket_kit::{auth::caller, error::FieldViolations, page, request::UpdateTarget, time};
use docket_proto::{
    case::v1 as cpb,
    portal::v1::{self as pb, portal_access_service_server::PortalAccessService},
};
use tonic::{Request, Response, Status};

use super::{Portal, REASON_MAX, actor, case_service, facts, history, user_to_proto};
use crate::{
    domain::{ContactId, commands::UserFields},
    error::Error,
    records::UserState,
    store::{UserCursor, UserFilter},
};

pub struct PortalAccessApi {
    portal: Portal,
}

impl PortalAccessApi {
    pub fn new(portal: Portal) -> Self {
        Self { portal }
    }
}

#[tonic::async_trait]
impl PortalAccessService for PortalAccessApi {
    async fn invite_contact(
        &self,
        request: Request<pb::InviteContactRequest>,
    ) -> Result<Response<pb::InviteContactResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: ContactId = violations.id("contact_id", &request.contact_id);
        let key = docket_kit::idempotency::from_request(
            &mut violations,
            &request.idempotency_key,
            &pb::InviteContactRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let portal = &self.portal;
        let contact = portal
            .contact(&id.to_string())
            .await?
            .ok_or_else(|| Error::field("contact_id", format!("no contact has the id {id}")))?;
        if contact.email.trim().is_empty() {
            return Err(Error::Precondition(format!(
                "contact {id} has no email address; the invitation is sent by email, so add one first"
            ))
            .into());
        }
        // The same retried request answers with its first result, whatever changed since.
        if key.is_none()
            && let Some(user) = portal.store.find_user(id).await?
            && (!user.enabled || user.password_hash.is_some())
        {
            return Err(Error::Precondition(if user.enabled {
                format!("contact {id} has already set a password; a forgotten password is reset with RequestPasswordReset")
            } else {
                format!("the portal access of contact {id} is disabled; enable it (UpdatePortalUser) before inviting again")
            })
            .into());
        }
        // Portal users are contacts with the portal enabled: say so in the case service too.
        if !contact.portal_enabled {
            let update = cpb::UpdateContactRequest {
                contact: Some(cpb::Contact {
                    id: id.to_string(),
                    etag: contact.etag.clone(),
                    portal_enabled: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["portal_enabled".to_owned()] }),
                reason: format!("invited to the portal by {}", caller.actor),
            };
            portal.clients.contacts.clone().update_contact(update).await.map_err(|status| case_service(status, &[]))?;
        }
        let by = actor(&caller.actor, "");
        let expires_at = by.at + portal.settings.invitation_ttl();
        let invited = portal.store.invite(&facts(&contact), request.portal_manager, expires_at, &by, key.as_ref()).await?;
        tracing::info!(contact = %id, "contact invited to the portal");
        Ok(Response::new(pb::InviteContactResponse {
            portal_user: Some(user_to_proto(invited.user)),
            invitation_expire_time: Some(time::to_proto(invited.expires_at)),
        }))
    }

    async fn get_portal_user(&self, request: Request<pb::GetPortalUserRequest>) -> Result<Response<pb::PortalUser>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id = violations.id("contact_id", &request.get_ref().contact_id);
        violations.into_result()?;
        Ok(Response::new(user_to_proto(self.portal.store.get_user(id).await?)))
    }

    async fn list_portal_users(
        &self,
        request: Request<pb::ListPortalUsersRequest>,
    ) -> Result<Response<pb::ListPortalUsersResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<UserCursor> = page::decode(&mut violations, &request.page_token);
        let account_id = violations.opt_id("account_id", &request.account_id);
        let state = match pb::PortalUserState::try_from(request.state) {
            Ok(pb::PortalUserState::Unspecified) => None,
            Ok(pb::PortalUserState::Invited) => Some(UserState::Invited),
            Ok(pb::PortalUserState::Active) => Some(UserState::Active),
            Ok(pb::PortalUserState::Disabled) => Some(UserState::Disabled),
            Err(_) => {
                violations.add("state", format!("{} is not a known value", request.state));
                None
            }
        };
        violations.into_result()?;
        let (rows, next) = self.portal.store.list_users(&UserFilter { account_id, state }, after, limit).await?;
        Ok(Response::new(pb::ListPortalUsersResponse {
            portal_users: rows.into_iter().map(user_to_proto).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
        }))
    }

    async fn update_portal_user(
        &self,
        request: Request<pb::UpdatePortalUserRequest>,
    ) -> Result<Response<pb::PortalUser>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let user = request.portal_user.unwrap_or_default();
        let mut violations = FieldViolations::new();
        // A portal user is named by its contact: `portal_user.contact_id`, not `.id`.
        let target = UpdateTarget {
            id: violations.id("portal_user.contact_id", &user.contact_id),
            etag: violations.etag("portal_user.etag", &user.etag, true).unwrap_or_default(),
            mask: violations.field_mask(request.update_mask.as_ref()),
        };
        let reason = violations.optional_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        let fields = UserFields { enabled: user.enabled, portal_manager: user.portal_manager };
        let updated = self.portal.store.update_user(target, fields, &actor(&caller.actor, &reason)).await?;
        Ok(Response::new(user_to_proto(updated)))
    }

    async fn revoke_sessions(
        &self,
        request: Request<pb::RevokeSessionsRequest>,
    ) -> Result<Response<pb::RevokeSessionsResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.id("contact_id", &request.contact_id);
        let reason = violations.optional_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        let user = self.portal.store.revoke_sessions(id, &actor(&caller.actor, &reason)).await?;
        Ok(Response::new(pb::RevokeSessionsResponse { portal_user: Some(user_to_proto(user)) }))
    }

    async fn list_portal_user_history(
        &self,
        request: Request<cpb::ListHistoryRequest>,
    ) -> Result<Response<cpb::ListHistoryResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(history::<ContactId>(&self.portal.store, "portal_user", request.into_inner()).await?))
    }
}
