//! The case service as other services call it: with their service token,
//! passing the current trace on; finding a person's contact by email or
//! creating it (email-to-case and web forms both do) is one call.

use std::time::Duration;

use docket_proto::case::v1::{
    self as pb, account_service_client::AccountServiceClient, case_service_client::CaseServiceClient,
    contact_service_client::ContactServiceClient, get_contact_request, staff_service_client::StaffServiceClient,
};
use tonic::{
    Code, Status,
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};

use crate::{auth::OutgoingAuth, settings::InvalidSetting};

/// A channel that authenticates as the calling service.
pub type Authed = InterceptedService<Channel, OutgoingAuth>;

/// A channel to the service at `url` (e.g. `http://127.0.0.1:50051`) that
/// sends `token`; it connects on first use. `section` and `url_key` name
/// the settings the values come from, for the error message (e.g.
/// `notification` and `case_service_url`).
pub fn connect(section: &str, url_key: &str, url: &str, token: &str) -> Result<Authed, InvalidSetting> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(InvalidSetting::new(format!("{section}.{url_key}"), "must start with http:// or https://"));
    }
    let channel = Endpoint::from_shared(url.to_owned())
        .map_err(|err| InvalidSetting::new(format!("{section}.{url_key}"), err.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .connect_lazy();
    let auth = OutgoingAuth::bearer(token)
        .ok_or_else(|| InvalidSetting::new(format!("{section}.service_token"), "is not a valid header value"))?;
    Ok(InterceptedService::new(channel, auth))
}

/// The case service's clients, sharing one lazily connected channel.
#[derive(Clone)]
pub struct CaseClients {
    pub cases: CaseServiceClient<Authed>,
    pub contacts: ContactServiceClient<Authed>,
    pub accounts: AccountServiceClient<Authed>,
    pub staff: StaffServiceClient<Authed>,
}

impl CaseClients {
    /// Clients of the case service at `url`, authenticated with `token`, as
    /// the service configured in settings section `section` calls it.
    /// Connects on first use.
    pub fn new(section: &str, url: &str, token: &str) -> Result<Self, InvalidSetting> {
        let channel = connect(section, "case_service_url", url, token)?;
        Ok(Self {
            cases: CaseServiceClient::new(channel.clone()),
            contacts: ContactServiceClient::new(channel.clone()),
            accounts: AccountServiceClient::new(channel.clone()),
            staff: StaffServiceClient::new(channel),
        })
    }

    /// The contact with this email (compared case-insensitively), if any.
    pub async fn contact_by_email(&self, email: &str) -> Result<Option<pb::Contact>, Status> {
        let request = pb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Email(email.to_owned())) };
        match self.contacts.clone().get_contact(request).await {
            Ok(found) => Ok(Some(found.into_inner())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }

    /// The active staff user with this email (compared case-insensitively),
    /// if any. The directory's search matches parts of names and emails, so
    /// the matches are compared in full here.
    pub async fn staff_by_email(&self, email: &str) -> Result<Option<pb::StaffUser>, Status> {
        // The search takes at most 200 characters; a longer address still
        // matches its own first 200.
        let query: String = email.chars().take(200).collect();
        let mut page_token = String::new();
        loop {
            let request = pb::ListStaffUsersRequest {
                page_size: 100,
                page_token,
                query: query.clone(),
                active_only: true,
                ..Default::default()
            };
            let page = self.staff.clone().list_staff_users(request).await?.into_inner();
            if let Some(user) = page.staff_users.into_iter().find(|user| user.email.eq_ignore_ascii_case(email)) {
                return Ok(Some(user));
            }
            if page.next_page_token.is_empty() {
                return Ok(None);
            }
            page_token = page.next_page_token;
        }
    }

    /// The contact of `person.email`, or a new contact for that person under
    /// `account_id` — or, without one, under the account named
    /// `unassigned_account_name` — in one call of the case service, which
    /// owns the rule (see `FindOrCreateContact`).
    pub async fn find_or_create_contact(
        &self,
        person: &Person,
        account_id: Option<&str>,
        unassigned_account_name: &str,
        with_unassigned_account: bool,
    ) -> Result<FoundContact, Status> {
        let request = pb::FindOrCreateContactRequest {
            email: person.email.clone(),
            name: person.name.clone(),
            phone: person.phone.clone(),
            account_id: account_id.unwrap_or_default().to_owned(),
            unassigned_account_name: unassigned_account_name.to_owned(),
            with_unassigned_account,
        };
        let found = self.contacts.clone().find_or_create_contact(request).await?.into_inner();
        let contact = found.contact.ok_or_else(|| Status::internal("the case service answered without the contact"))?;
        Ok(FoundContact { contact, created: found.created, unassigned_account_id: found.unassigned_account_id })
    }
}

/// The tag of a case opened for an address that is not proved to be its
/// sender's (a web form naming a known customer's address, an email our
/// MTA could not authenticate): it waits outside the address owner's
/// account until confirmed or placed by an agent.
pub const UNCONFIRMED_TAG: &str = "unconfirmed-sender";

/// What `find_or_create_contact` found.
#[derive(Debug, Clone)]
pub struct FoundContact {
    pub contact: pb::Contact,
    /// Whether the call created the contact (so nobody else has used the address before).
    pub created: bool,
    /// The account where what is not yet placed waits (when asked for).
    pub unassigned_account_id: String,
}

/// Who a new contact is: what an email's From or a web form tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub name: String,
    pub phone: String,
}
