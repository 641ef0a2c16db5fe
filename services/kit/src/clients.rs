//! The case service as other services call it: with their service token,
//! passing the current trace on; and the one way to find a person's contact
//! by email or create it (email-to-case and web forms both do).

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

    /// The contact of `person.email`, or a new contact for that person under
    /// `account_id` — or, without one, under the account named
    /// `unassigned_account_name` (found by exact name, created when missing),
    /// where staff sort out people first met by email or web form.
    pub async fn find_or_create_contact(
        &self,
        person: &Person,
        account_id: Option<&str>,
        unassigned_account_name: &str,
    ) -> Result<pb::Contact, Status> {
        if let Some(contact) = self.contact_by_email(&person.email).await? {
            return Ok(contact);
        }
        let account_id = match account_id {
            Some(id) => id.to_owned(),
            None => self.unassigned_account(unassigned_account_name).await?.id,
        };
        let request = pb::CreateContactRequest {
            contact: Some(pb::Contact {
                account_id,
                name: person.name.clone(),
                email: person.email.clone(),
                phone: person.phone.clone(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        };
        match self.contacts.clone().create_contact(request).await {
            Ok(created) => {
                let created = created.into_inner();
                tracing::info!(contact = %created.id, "contact created for a person first met by email or form");
                Ok(created)
            }
            // Another message or submission from the same person got there first.
            Err(status) if status.code() == Code::AlreadyExists => self
                .contact_by_email(&person.email)
                .await?
                .ok_or_else(|| Status::internal(format!("the contact {} exists but cannot be found", person.email))),
            Err(status) => Err(status),
        }
    }

    /// The account named exactly `name` (the oldest, if several), created
    /// when there is none.
    pub async fn unassigned_account(&self, name: &str) -> Result<pb::Account, Status> {
        let name = match name.split_whitespace().collect::<Vec<_>>().join(" ") {
            name if name.is_empty() => "Unassigned".to_owned(),
            name => name.chars().take(NAME_MAX).collect(),
        };
        let mut accounts = self.accounts.clone();
        let mut best: Option<pb::Account> = None;
        let mut page_token = String::new();
        loop {
            let page = accounts
                .list_accounts(pb::ListAccountsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    query: name.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            for account in page.accounts.into_iter().filter(|a| a.name.trim() == name) {
                let key = |x: &pb::Account| x.create_time.as_ref().map(|t| (t.seconds, t.nanos));
                if best.as_ref().is_none_or(|b| key(&account) < key(b)) {
                    best = Some(account);
                }
            }
            if page.next_page_token.is_empty() || page.next_page_token == page_token {
                break;
            }
            page_token = page.next_page_token;
        }
        if let Some(account) = best {
            return Ok(account);
        }
        // The key makes concurrent first messages share one account. If that
        // account was renamed since, it is no longer the unassigned one: make a new one.
        let key = format!("unassigned-account:{}", &crate::secret::digest(&name)[..32]);
        let create = |idempotency_key: String| pb::CreateAccountRequest {
            account: Some(pb::Account { name: name.clone(), ..Default::default() }),
            idempotency_key,
        };
        let created = accounts.create_account(create(key)).await?.into_inner();
        if created.name == name {
            tracing::info!(account = %created.id, %name, "unassigned account created");
            return Ok(created);
        }
        Ok(accounts.create_account(create(String::new())).await?.into_inner())
    }
}

/// Longest account name the case service takes.
const NAME_MAX: usize = 200;

/// Who a new contact is: what an email's From or a web form tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub name: String,
    pub phone: String,
}
