//! `/api/v1/portal-users`: who may use the customer portal. Staff invite a
//! contact (the one-time link goes out by email only), switch its access
//! on and off, and end its sessions. A portal user's id is its contact's id.

use axum::{Json, http::StatusCode, response::Response};
use docket_proto::portal::v1 as pb;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    cases::history_request,
    created,
    extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey, IfMatch},
    model::{
        HistoryPage, PageQuery, next_page,
        portal_users::{
            InviteContact, PortalInvitation, PortalUser, PortalUserFields, PortalUserPage, PortalUserQuery, RevokeSessions,
        },
    },
    with_etag,
};
use crate::{GatewayState, problem::Problem, upstream::PortalAdminClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(list_portal_users, invite_contact))
        .routes(routes!(get_portal_user, update_portal_user))
        .routes(routes!(revoke_sessions))
        .routes(routes!(portal_user_history))
}

/// Lists portal users.
#[utoipa::path(get, path = "/portal-users", tag = "portal users", params(PortalUserQuery),
    responses((status = OK, description = "A page of portal users", body = PortalUserPage)))]
async fn list_portal_users(
    mut clients: PortalAdminClients,
    ApiQuery(query): ApiQuery<PortalUserQuery>,
) -> Result<Json<PortalUserPage>, Problem> {
    let page = clients.access.list_portal_users(pb::ListPortalUsersRequest::from(query)).await?.into_inner();
    Ok(Json(PortalUserPage {
        portal_users: page.portal_users.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// Invites a contact to the portal, or sends a contact that has not
/// accepted yet a new invitation (earlier links stop working). The link
/// goes to the contact's email only. The same `Idempotency-Key` returns the
/// first invitation.
#[utoipa::path(post, path = "/portal-users", tag = "portal users", request_body = InviteContact,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses(
        (status = CREATED, description = "The invited portal user", body = PortalInvitation,
            headers(("Location" = String, description = "The portal user's address"), ("ETag" = String))),
        (status = CONFLICT, description = "The contact has no email, has set a password already, or is disabled",
            body = Problem, content_type = "application/problem+json"),
    ))]
async fn invite_contact(
    mut clients: PortalAdminClients,
    key: IdempotencyKey,
    ApiJson(body): ApiJson<InviteContact>,
) -> Result<Response, Problem> {
    let request =
        pb::InviteContactRequest { contact_id: body.contact_id, portal_manager: body.portal_manager, idempotency_key: key.0 };
    let invitation: PortalInvitation =
        clients.access.invite_contact(request).await.map_err(|s| IdempotencyKey::reused(s.into()))?.into_inner().into();
    let location = format!("{}/portal-users/{}", super::PREFIX, invitation.portal_user.contact_id);
    let etag = invitation.portal_user.etag.clone();
    Ok(created(invitation, &location, &etag))
}

/// Reads one portal user.
#[utoipa::path(get, path = "/portal-users/{contact}", tag = "portal users",
    params(("contact" = String, Path, format = Uuid, description = "The contact's id")),
    responses(
        (status = OK, description = "The portal user", body = PortalUser, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "The contact has no portal access", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_portal_user(mut clients: PortalAdminClients, ApiPath(contact_id): ApiPath<String>) -> Result<Response, Problem> {
    let user: PortalUser = clients.access.get_portal_user(pb::GetPortalUserRequest { contact_id }).await?.into_inner().into();
    let etag = user.etag.clone();
    Ok(with_etag(StatusCode::OK, user, &etag))
}

/// Switches a portal user's access (`enabled`; disabling ends every
/// session) or its manager right, whichever the body names.
#[utoipa::path(patch, path = "/portal-users/{contact}", tag = "portal users", request_body = PortalUserFields,
    params(
        ("contact" = String, Path, format = Uuid, description = "The contact's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed portal user", body = PortalUser, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "The contact has no portal access", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The portal user changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_portal_user(
    mut clients: PortalAdminClients,
    ApiPath(contact_id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<PortalUserFields>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let reason = fields.reason.clone().unwrap_or_default();
    let (mut user, mask) = fields.into_proto();
    if mask.is_empty() {
        return Err(Problem::bad_request("the body names no field to change"));
    }
    user.contact_id = contact_id;
    user.etag = etag;
    let request = pb::UpdatePortalUserRequest {
        portal_user: Some(user),
        update_mask: Some(prost_types::FieldMask { paths: mask }),
        reason,
    };
    let user: PortalUser =
        clients.access.update_portal_user(request).await.map_err(|s| Problem::from_status(&s, true))?.into_inner().into();
    let etag = user.etag.clone();
    Ok(with_etag(StatusCode::OK, user, &etag))
}

/// Ends every session of a portal user (e.g. a lost laptop); the user can
/// log in again.
#[utoipa::path(post, path = "/portal-users/{contact}/revoke-sessions", tag = "portal users", request_body = RevokeSessions,
    params(("contact" = String, Path, format = Uuid, description = "The contact's id")),
    responses(
        (status = OK, description = "The portal user", body = PortalUser, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "The contact has no portal access", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_sessions(
    mut clients: PortalAdminClients,
    ApiPath(contact_id): ApiPath<String>,
    ApiJson(body): ApiJson<RevokeSessions>,
) -> Result<Response, Problem> {
    let request = pb::RevokeSessionsRequest { contact_id, reason: body.reason };
    let user: PortalUser = clients.access.revoke_sessions(request).await?.into_inner().portal_user.unwrap_or_default().into();
    let etag = user.etag.clone();
    Ok(with_etag(StatusCode::OK, user, &etag))
}

/// A portal user's audit trail, oldest first (invitations, activation,
/// changes of access, revoked sessions); empty for a contact never invited.
#[utoipa::path(get, path = "/portal-users/{contact}/history", tag = "portal users",
    params(("contact" = String, Path, format = Uuid, description = "The contact's id"), PageQuery),
    responses((status = OK, description = "A page of the audit trail", body = HistoryPage)))]
async fn portal_user_history(
    mut clients: PortalAdminClients,
    ApiPath(contact_id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<HistoryPage>, Problem> {
    Ok(Json(clients.access.list_portal_user_history(history_request(contact_id, page)).await?.into_inner().into()))
}
