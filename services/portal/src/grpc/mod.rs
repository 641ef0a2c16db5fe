//! The gRPC adapter: turns requests into validated commands, checks the
//! caller's role and the visitor's session, calls the store and the case
//! service, and turns results back into messages. Proto types stop here.

mod access;
mod auth;
mod cases;
mod forms;

use std::sync::Arc;

use docket_kit::{
    audit::{self, HistoryPage},
    auth::{Caller, Role},
    clients::CaseClients,
    error::FieldViolations,
    mutation::Stamps,
    request::RecordId,
    time,
};
use docket_proto::case::v1::{self as cpb, get_contact_request};
use tonic::{Code, Status};
use tonic_types::StatusExt;

pub use self::{access::PortalAccessApi, auth::PortalAuthApi, cases::PortalCaseApi, forms::WebFormApi};
use crate::{
    config::PortalSettings,
    domain::{ContactId, access::Viewer},
    error::{Error, Result, internal, permission_denied},
    records::{UserState, entities::portal_user},
    sessions::{SessionData, Sessions, ended},
    store::{Actor, ContactFacts, Store},
};
use docket_proto::portal::v1 as pb;

/// What every API of the portal shares. Cheap to clone.
#[derive(Clone)]
pub struct Portal {
    pub store: Store,
    pub sessions: Sessions,
    pub clients: CaseClients,
    pub settings: Arc<PortalSettings>,
    /// Where contacts first met through a web form go (the notification
    /// service's `unassigned_account_name`, so both put them in one place).
    pub unassigned_account_name: String,
}

/// Longest reason, in characters.
const REASON_MAX: usize = 1_000;
/// Longest client address or origin we keep.
const ADDRESS_MAX: usize = 300;

fn actor<'a>(who: &'a str, reason: &'a str) -> Actor<'a> {
    Actor { actor: who, reason, at: time::now() }
}

/// Only the gateway (a service token) speaks for visitors.
fn require_service(caller: &Caller) -> Result<(), Status> {
    match caller.role {
        Role::Service => Ok(()),
        other => Err(Status::permission_denied(format!(
            "this is called by the gateway with a service token on behalf of a visitor; the caller is {other}"
        ))),
    }
}

/// A case-service failure, as the portal reports it. `fields` renames the
/// case service's field names to this request's (`case.subject` ->
/// `subject`); other bad fields become FAILED_PRECONDITION, since the
/// visitor cannot fix them.
fn case_service(status: Status, fields: &[(&str, &str)]) -> Error {
    match status.code() {
        Code::InvalidArgument => {
            let details = status.get_error_details();
            let mut violations = FieldViolations::new();
            let mut unfixable = Vec::new();
            for violation in details.bad_request().map(|b| b.field_violations.clone()).unwrap_or_default() {
                match fields.iter().find(|(theirs, _)| *theirs == violation.field) {
                    Some((_, ours)) => violations.add(*ours, violation.description),
                    None => unfixable.push(format!("{} {}", violation.field, violation.description)),
                }
            }
            if unfixable.is_empty() && !violations.is_empty() {
                Error::Invalid(violations)
            } else {
                tracing::warn!(message = %status.message(), "the case service refused what the portal sent");
                Error::Precondition(format!("the case service refused this: {}", status.message()))
            }
        }
        Code::NotFound => Error::NotFound(status.message().to_owned()),
        Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => Error::Precondition(status.message().to_owned()),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            tracing::warn!(code = ?status.code(), message = %status.message(), "case service unavailable");
            Error::Unavailable("the case service is unavailable; retry later".to_owned())
        }
        Code::Unauthenticated | Code::PermissionDenied => {
            internal(format!("the case service refused the portal's token (check portal.service_token): {}", status.message()))
        }
        _ => internal(format!("the case service failed: {:?} {}", status.code(), status.message())),
    }
}

/// A priority by its configuration name (`low`, `medium`, ...).
fn priority_to_proto(name: &str) -> cpb::CasePriority {
    match name {
        "low" => cpb::CasePriority::Low,
        "high" => cpb::CasePriority::High,
        "critical" => cpb::CasePriority::Critical,
        _ => cpb::CasePriority::Medium,
    }
}

fn facts(contact: &cpb::Contact) -> ContactFacts {
    ContactFacts {
        contact_id: contact.id.clone(),
        account_id: contact.account_id.clone(),
        email: contact.email.trim().to_lowercase(),
        name: contact.name.clone(),
    }
}

fn user_state(user: &portal_user::Model) -> pb::PortalUserState {
    match UserState::of(user) {
        UserState::Disabled => pb::PortalUserState::Disabled,
        UserState::Invited => pb::PortalUserState::Invited,
        UserState::Active => pb::PortalUserState::Active,
    }
}

fn user_to_proto(user: portal_user::Model) -> pb::PortalUser {
    let Stamps { create_time, update_time, etag } = Stamps::of(user.created_at, user.updated_at, user.version);
    pb::PortalUser {
        state: user_state(&user) as i32,
        invite_time: Some(time::to_proto(user.invited_at)),
        activate_time: time::to_proto_opt(user.activated_at),
        last_login_time: time::to_proto_opt(user.last_login_at),
        password_change_time: time::to_proto_opt(user.password_changed_at),
        create_time,
        update_time,
        etag,
        contact_id: user.contact_id,
        account_id: user.account_id,
        email: user.email,
        name: user.name,
        portal_manager: user.portal_manager,
        enabled: user.enabled,
    }
}

fn session_to_proto(id: String, data: &SessionData, user: &portal_user::Model) -> pb::Session {
    pb::Session {
        session_id: id,
        contact_id: user.contact_id.clone(),
        account_id: user.account_id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        portal_manager: user.portal_manager,
        create_time: Some(time::to_proto(data.created_at)),
        expire_time: Some(time::to_proto(data.expires_at)),
        device_token: String::new(),
    }
}

/// Shared by ListPortalUserHistory and ListWebFormHistory: the trail of a
/// record of type `record_type` whose ids are `I`s.
async fn history<I: RecordId>(
    store: &Store,
    record_type: &str,
    request: cpb::ListHistoryRequest,
) -> Result<cpb::ListHistoryResponse> {
    let mut violations = FieldViolations::new();
    let id: I = violations.id("id", &request.id);
    let page = HistoryPage::parse(&mut violations, request.page_size, &request.page_token);
    violations.into_result()?;
    Ok(audit::history(store.connection(), &[record_type], &id.to_string(), page).await?)
}

impl Portal {
    /// A contact by id, if the case service has it.
    async fn contact(&self, contact_id: &str) -> Result<Option<cpb::Contact>> {
        let request = cpb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Id(contact_id.to_owned())) };
        match self.clients.contacts.clone().get_contact(request).await {
            Ok(found) => Ok(Some(found.into_inner())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(case_service(status, &[])),
        }
    }

    /// The portal user of a contact named by the case service or a
    /// session, if it has one (a contact's id is always a UUID).
    async fn user_of(&self, contact_id: &str) -> Result<Option<portal_user::Model>> {
        match contact_id.parse::<ContactId>() {
            Ok(id) => self.store.find_user(id).await,
            Err(_) => Ok(None),
        }
    }

    /// The user of a live session. A session made before the user's last
    /// password change, disabling or revocation has ended.
    async fn signed_in(&self, session_id: &str) -> Result<(SessionData, portal_user::Model)> {
        let data = self.sessions.find(session_id).await?.ok_or_else(ended)?;
        let user = self.user_of(&data.contact_id).await?;
        match user {
            Some(user)
                if user.enabled
                    && user.password_hash.is_some()
                    && user.session_epoch == data.epoch
                    && data.expires_at > time::now() =>
            {
                Ok((data, user))
            }
            _ => {
                self.sessions.end(session_id).await?;
                Err(ended())
            }
        }
    }

    /// The customer behind a session, as the case service knows it now:
    /// its account decides what a portal manager sees.
    async fn viewer(&self, session_id: &str) -> Result<(Viewer, portal_user::Model)> {
        let (_, user) = self.signed_in(session_id).await?;
        let contact = self.contact(&user.contact_id).await?.filter(|c| c.portal_enabled).ok_or_else(switched_off)?;
        let viewer = Viewer {
            contact_id: contact.id,
            account_id: contact.account_id,
            name: contact.name,
            portal_manager: user.portal_manager,
        };
        Ok((viewer, user))
    }
}

fn switched_off() -> Error {
    permission_denied("portal access is switched off for this contact; ask your support team")
}
