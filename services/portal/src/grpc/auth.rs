//! `docket.portal.v1.PortalAuthService`: invitations, logins, sessions and
//! passwords, called by the gateway for a visitor.

use docket_kit::{auth::caller, error::FieldViolations, secret, time};
use docket_proto::portal::v1::{self as pb, portal_auth_service_server::PortalAuthService};
use tonic::{Request, Response, Status};

use super::{ADDRESS_MAX, Portal, actor, facts, require_service, session_to_proto, switched_off};
use crate::{
    domain::{LinkId, password},
    error::{Error, Result, internal, unauthenticated},
    records::{self, entities::portal_user},
    sessions::LoginFrom,
    store::TokenPurpose,
};

pub struct PortalAuthApi {
    portal: Portal,
}

impl PortalAuthApi {
    pub fn new(portal: Portal) -> Self {
        Self { portal }
    }
}

/// The one answer to every wrong login, so it does not tell which part was wrong.
fn wrong_login() -> Error {
    unauthenticated("the email or password is wrong")
}

/// A password as typed at login: required, and bounded so hashing stays cheap.
fn typed_password(violations: &mut FieldViolations, field: &str, value: &str) {
    if value.is_empty() {
        violations.add(field, "is required");
    } else if value.chars().count() > password::MAX_LENGTH {
        violations.add(field, format!("is longer than {} characters", password::MAX_LENGTH));
    }
}

/// A token from a link: required, and no longer than ours are.
fn link_token(violations: &mut FieldViolations, value: &str) -> String {
    let token = violations.required_text("token", value, 100);
    if token.contains(char::is_whitespace) {
        violations.add("token", "is not a token from an invitation or reset link");
    }
    token
}

/// A visitor's request as the gateway forwards it: from the gateway only, unwrapped.
fn from_gateway<T>(request: Request<T>) -> Result<T, Status> {
    require_service(&caller(&request)?)?;
    Ok(request.into_inner())
}

/// What a link's page sends besides the new password: the link's token and
/// the visitor's address.
fn link_request(token: &str, client_ip: &str) -> Result<(String, String), FieldViolations> {
    let mut violations = FieldViolations::new();
    let token = link_token(&mut violations, token);
    let client_ip = violations.optional_text("client_ip", client_ip, ADDRESS_MAX);
    violations.into_result()?;
    Ok((token, client_ip))
}

/// Argon2 is slow on purpose: off the async threads.
async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|err| internal(format!("hashing task: {err}")))?
        .map_err(|err| internal(err.to_string()))
}

async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => password::verify(&password, &stored),
        None => {
            password::verify_nothing(&password);
            false
        }
    })
    .await
    .map_err(|err| internal(format!("verifying task: {err}")))
}

impl Portal {
    /// A new session for a user whose contact still may use the portal
    /// (the password was just proved `from` there), and a device token
    /// that marks the browser as the user's.
    async fn start_session(&self, user: &portal_user::Model, client_ip: &str, from: &LoginFrom) -> Result<pb::Session> {
        let contact = self.contact(&user.contact_id).await?.filter(|c| c.portal_enabled).ok_or_else(switched_off)?;
        self.sessions.login_succeeded(&user.email, from).await?;
        let who = format!("contact:{}", user.contact_id);
        let reason = format!("login from {client_ip}");
        let user = self.store.record_login(&facts(&contact), &actor(&who, &reason)).await?;
        let (id, data) = self.sessions.start(&user.contact_id, user.session_epoch, client_ip).await?;
        let device_token = self.sessions.remember_device(&user.email).await?;
        Ok(pb::Session { device_token, ..session_to_proto(id, &data, &user) })
    }

    /// Sets a password from a link; returns the user.
    async fn set_password_from_link(
        &self,
        token: &str,
        purpose: TokenPurpose,
        new_password: &str,
        client_ip: &str,
    ) -> Result<portal_user::Model> {
        let digest = secret::digest(token);
        let (user, _) = self.store.check_token(&digest, purpose, time::now()).await?;
        let mut violations = FieldViolations::new();
        let new_password =
            password::check_new(&mut violations, "password", new_password, self.settings.password_min_length, &user.email);
        violations.into_result()?;
        let stored = hash(new_password).await?;
        let who = format!("contact:{}", user.contact_id);
        let reason = format!("{} link used from {client_ip}", purpose.key());
        let user = self.store.set_password_by_token(&digest, purpose, stored, &actor(&who, &reason)).await?;
        self.sessions.login_succeeded(&user.email, &LoginFrom::Address(client_ip.to_owned())).await?;
        Ok(user)
    }
}

#[tonic::async_trait]
impl PortalAuthService for PortalAuthApi {
    async fn accept_invitation(&self, request: Request<pb::AcceptInvitationRequest>) -> Result<Response<pb::Session>, Status> {
        let request = from_gateway(request)?;
        let (token, client_ip) = link_request(&request.token, &request.client_ip)?;
        let portal = &self.portal;
        let user = portal.set_password_from_link(&token, TokenPurpose::Invitation, &request.password, &client_ip).await?;
        tracing::info!(contact = %user.contact_id, "portal invitation accepted");
        Ok(Response::new(portal.start_session(&user, &client_ip, &LoginFrom::Address(client_ip.clone())).await?))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::Session>, Status> {
        let request = from_gateway(request)?;
        let mut violations = FieldViolations::new();
        let email = violations.email("email", &request.email, true);
        typed_password(&mut violations, "password", &request.password);
        let client_ip = violations.optional_text("client_ip", &request.client_ip, ADDRESS_MAX);
        violations.into_result()?;
        let portal = &self.portal;
        let from = portal.sessions.login_from(&email, &client_ip, &request.device_token).await?;
        if let Err(locked) = portal.sessions.check_lockout(&email, &from).await {
            docket_kit::metrics::portal_login("locked_out");
            return Err(locked.into());
        }
        let user = match portal.clients.contact_by_email(&email).await.map_err(|s| super::case_service(s, &[]))? {
            Some(contact) => portal.user_of(&contact.id).await?,
            None => None,
        };
        let matches = verify(request.password, user.as_ref().and_then(|u| u.password_hash.clone())).await?;
        let Some(user) = user.filter(|_| matches) else {
            return Err(match portal.sessions.login_failed(&email, &from).await? {
                Some(locked) => {
                    tracing::warn!("portal login locked out after repeated failures");
                    docket_kit::metrics::portal_login("locked_out");
                    locked
                }
                None => {
                    docket_kit::metrics::portal_login("wrong_password");
                    wrong_login()
                }
            }
            .into());
        };
        if !user.enabled {
            docket_kit::metrics::portal_login("switched_off");
            return Err(switched_off().into());
        }
        let session = portal.start_session(&user, &client_ip, &from).await?;
        docket_kit::metrics::portal_login("ok");
        Ok(Response::new(session))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Result<Response<pb::LogoutResponse>, Status> {
        let request = from_gateway(request)?;
        let mut violations = FieldViolations::new();
        let session_id = violations.required_text("session_id", &request.session_id, 100);
        violations.into_result()?;
        self.portal.sessions.end(&session_id).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Result<Response<pb::RequestPasswordResetResponse>, Status> {
        let request = from_gateway(request)?;
        let mut violations = FieldViolations::new();
        let email = violations.email("email", &request.email, true);
        let client_ip = violations.optional_text("client_ip", &request.client_ip, ADDRESS_MAX);
        violations.into_result()?;
        let portal = &self.portal;
        // Only active users of an enabled contact get a link; everyone gets the same answer.
        let contact = portal.clients.contact_by_email(&email).await.map_err(|s| super::case_service(s, &[]))?;
        let user = match &contact {
            Some(contact) if contact.portal_enabled => portal.user_of(&contact.id).await?,
            _ => None,
        };
        if let Some(user) = user.filter(|u| u.enabled && u.password_hash.is_some())
            && let Some(contact) = &contact
            && portal.sessions.reset_allowed(&email).await?
        {
            let who = format!("contact:{}", user.contact_id);
            let reason = format!("reset requested from {client_ip}");
            let by = actor(&who, &reason);
            let expires_at = by.at + portal.settings.reset_ttl();
            // The link goes to the contact's address now, never to one the user had before.
            portal.store.request_reset(records::contact_id(&user)?, &contact.email, expires_at, &by).await?;
            tracing::info!(contact = %user.contact_id, "password reset link issued");
        }
        Ok(Response::new(pb::RequestPasswordResetResponse {}))
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let request = from_gateway(request)?;
        let (token, client_ip) = link_request(&request.token, &request.client_ip)?;
        let user = self.portal.set_password_from_link(&token, TokenPurpose::PasswordReset, &request.password, &client_ip).await?;
        tracing::info!(contact = %user.contact_id, "portal password reset");
        Ok(Response::new(pb::ResetPasswordResponse {}))
    }

    async fn change_password(&self, request: Request<pb::ChangePasswordRequest>) -> Result<Response<pb::Session>, Status> {
        let request = from_gateway(request)?;
        let mut violations = FieldViolations::new();
        let session_id = violations.required_text("session_id", &request.session_id, 100);
        typed_password(&mut violations, "current_password", &request.current_password);
        let client_ip = violations.optional_text("client_ip", &request.client_ip, ADDRESS_MAX);
        violations.into_result()?;
        let portal = &self.portal;
        let (_, user) = portal.signed_in(&session_id).await?;
        let mut violations = FieldViolations::new();
        let new_password = password::check_new(
            &mut violations,
            "new_password",
            &request.new_password,
            portal.settings.password_min_length,
            &user.email,
        );
        violations.into_result()?;
        // A stolen session must not become a way to guess the password; its
        // owner is not locked out of it by strangers' guesses elsewhere.
        let from = LoginFrom::session(&session_id);
        portal.sessions.check_lockout(&user.email, &from).await?;
        if !verify(request.current_password, user.password_hash.clone()).await? {
            if let Some(locked) = portal.sessions.login_failed(&user.email, &from).await? {
                return Err(locked.into());
            }
            return Err(Error::field("current_password", "is wrong").into());
        }
        let stored = hash(new_password).await?;
        let who = format!("contact:{}", user.contact_id);
        let reason = format!("password changed from {client_ip}");
        let id = records::contact_id(&user)?;
        let user = portal.store.change_password(id, stored, &actor(&who, &reason)).await?;
        tracing::info!(contact = %user.contact_id, "portal password changed; other sessions ended");
        Ok(Response::new(portal.start_session(&user, &client_ip, &from).await?))
    }

    async fn get_session(&self, request: Request<pb::GetSessionRequest>) -> Result<Response<pb::Session>, Status> {
        let request = from_gateway(request)?;
        let mut violations = FieldViolations::new();
        let session_id = violations.required_text("session_id", &request.session_id, 100);
        violations.into_result()?;
        let (data, user) = self.portal.signed_in(&session_id).await?;
        Ok(Response::new(session_to_proto(String::new(), &data, &user)))
    }

    async fn check_token(&self, request: Request<pb::CheckTokenRequest>) -> Result<Response<pb::CheckTokenResponse>, Status> {
        let request = from_gateway(request)?;
        let mut violations = FieldViolations::new();
        let token = link_token(&mut violations, &request.token);
        let purpose = violations
            .enum_value("purpose", request.purpose, |raw| match pb::TokenPurpose::try_from(raw).ok()? {
                pb::TokenPurpose::Invitation => Some(TokenPurpose::Invitation),
                pb::TokenPurpose::PasswordReset => Some(TokenPurpose::PasswordReset),
                pb::TokenPurpose::Unspecified => None,
            })
            // A placeholder: the request is refused before it is used.
            .unwrap_or(TokenPurpose::Invitation);
        violations.into_result()?;
        let (user, expires_at) = self.portal.store.check_token(&secret::digest(&token), purpose, time::now()).await?;
        Ok(Response::new(pb::CheckTokenResponse {
            email: user.email,
            name: user.name,
            expire_time: Some(time::to_proto(expires_at)),
        }))
    }

    async fn issue_link_secret(
        &self,
        request: Request<pb::IssueLinkSecretRequest>,
    ) -> Result<Response<pb::IssueLinkSecretResponse>, Status> {
        let caller = caller(&request)?;
        require_service(&caller)?;
        let mut violations = FieldViolations::new();
        let link_id: LinkId = violations.id("link_id", &request.get_ref().link_id);
        violations.into_result()?;
        let by = actor(&caller.actor, "the link is being emailed");
        let issued = self.portal.store.issue_link_secret(&link_id.to_string(), &by).await?;
        Ok(Response::new(pb::IssueLinkSecretResponse {
            token: issued.token,
            email: issued.email,
            expire_time: Some(time::to_proto(issued.expires_at)),
        }))
    }
}
