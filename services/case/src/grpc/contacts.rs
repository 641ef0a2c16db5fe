//! `docket.case.v1.ContactService`.

use docket_kit::mutation::Once;
use docket_kit::{
    auth::caller,
    error::FieldViolations,
    page,
    request::{FieldMask, MaskField, RecordId, wanted},
};
use tonic::{Request, Response, Status};

use super::{actor, history, idempotency, reason};
use crate::{
    domain::{
        AccountId, ContactId,
        commands::{ContactField, ContactFields, NAME_MAX, SHORT_TEXT_MAX},
    },
    error::Error,
    store::{ContactFilter, Store},
    wire,
};
use docket_proto::case::v1::{self as pb, contact_service_server::ContactService, get_contact_request::Lookup};

/// A person first met by email or web form, as a new contact would name
/// them (the name is the email when empty); `prefix` is the fields' path.
pub(super) fn parse_person(
    violations: &mut FieldViolations,
    prefix: &str,
    email: &str,
    name: &str,
    phone: &str,
) -> ContactFields {
    violations.email(&format!("{prefix}email"), email, true);
    let email = email.trim().to_owned();
    let name = match violations.optional_text(&format!("{prefix}name"), name, NAME_MAX) {
        name if name.is_empty() => email.chars().take(NAME_MAX).collect(),
        name => name,
    };
    ContactFields {
        account_id: AccountId::untouched(),
        name,
        email,
        phone: violations.optional_text(&format!("{prefix}phone"), phone, 50),
        title: String::new(),
        portal_enabled: false,
    }
}

/// The unassigned account's name as asked for ("Unassigned" when empty).
pub(super) fn unassigned_account_name(violations: &mut FieldViolations, field: &str, raw: &str) -> String {
    match violations.optional_text(field, raw, NAME_MAX) {
        name if name.is_empty() => "Unassigned".to_owned(),
        name => name.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

pub struct ContactApi {
    store: Store,
}

impl ContactApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn parse_fields(
    violations: &mut FieldViolations,
    contact: &pb::Contact,
    mask: Option<&FieldMask<ContactField>>,
) -> ContactFields {
    let text = |v: &mut FieldViolations, field: ContactField, value: &str, max: usize| {
        if wanted(mask, field) { v.optional_text(&format!("contact.{}", field.path()), value, max) } else { String::new() }
    };
    ContactFields {
        account_id: if wanted(mask, ContactField::AccountId) {
            violations.id("contact.account_id", &contact.account_id)
        } else {
            AccountId::untouched()
        },
        name: if wanted(mask, ContactField::Name) {
            violations.required_text("contact.name", &contact.name, NAME_MAX)
        } else {
            String::new()
        },
        email: if wanted(mask, ContactField::Email) {
            let lowered = violations.email("contact.email", &contact.email, false);
            // Keep the address as written; uniqueness compares it lower-cased.
            if lowered.is_empty() { lowered } else { contact.email.trim().to_owned() }
        } else {
            String::new()
        },
        phone: text(violations, ContactField::Phone, &contact.phone, 50),
        title: text(violations, ContactField::Title, &contact.title, SHORT_TEXT_MAX),
        portal_enabled: contact.portal_enabled,
    }
}

#[tonic::async_trait]
impl ContactService for ContactApi {
    async fn create_contact(&self, request: Request<pb::CreateContactRequest>) -> Result<Response<pb::Contact>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let fields = parse_fields(&mut violations, &request.contact.clone().unwrap_or_default(), None);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateContactRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let created =
            self.store.create_contact(fields, &actor(&caller, ""), Once { scope: "CreateContact", key: key.as_ref() }).await?;
        Ok(Response::new(wire::contact(created)))
    }

    async fn get_contact(&self, request: Request<pb::GetContactRequest>) -> Result<Response<pb::Contact>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let found = match &request.get_ref().lookup {
            Some(Lookup::Id(id)) => {
                let id: ContactId = violations.id("id", id);
                violations.into_result()?;
                self.store.get_contact(id).await?
            }
            Some(Lookup::Email(email)) => {
                let email = violations.email("email", email, true);
                violations.into_result()?;
                self.store.get_contact_by_email(&email).await?
            }
            None => return Err(Error::field("lookup", "send either id or email").into()),
        };
        Ok(Response::new(wire::contact(found)))
    }

    async fn update_contact(&self, request: Request<pb::UpdateContactRequest>) -> Result<Response<pb::Contact>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let contact = request.contact.unwrap_or_default();
        let target = violations.update_target("contact", &contact.id, &contact.etag, request.update_mask.as_ref());
        let fields = parse_fields(&mut violations, &contact, Some(&target.mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        let updated = self.store.update_contact(target, fields, &actor(&caller, &reason)).await?;
        Ok(Response::new(wire::contact(updated)))
    }

    async fn find_or_create_contact(
        &self,
        request: Request<pb::FindOrCreateContactRequest>,
    ) -> Result<Response<pb::FindOrCreateContactResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_write()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let person = parse_person(&mut violations, "", &request.email, &request.name, &request.phone);
        let account_id = violations.opt_id("account_id", &request.account_id);
        let unassigned = unassigned_account_name(&mut violations, "unassigned_account_name", &request.unassigned_account_name);
        violations.into_result()?;
        let by = actor(&caller, "");
        let (contact, created) = self.store.find_or_create_contact(&person, account_id, &unassigned, &by).await?;
        if created {
            tracing::info!(contact = %contact.id, "contact created for a person first met by email or form");
        }
        let unassigned_account_id = match (request.with_unassigned_account, created && account_id.is_none()) {
            (false, _) => String::new(),
            // The new contact was placed there: no need to look it up again.
            (true, true) => contact.account_id.clone(),
            (true, false) => self.store.unassigned_account_id(&unassigned, &by).await?,
        };
        Ok(Response::new(pb::FindOrCreateContactResponse {
            contact: Some(wire::contact(contact)),
            created,
            unassigned_account_id,
        }))
    }

    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<page::NameCursor> = page::decode(&mut violations, &request.page_token);
        let filter = ContactFilter {
            query: violations.optional_text("query", &request.query, SHORT_TEXT_MAX),
            account_id: violations.opt_id("account_id", &request.account_id),
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_contacts(&filter, after, limit).await?;
        let total_size = if request.include_total_size { Some(self.store.count_contacts(&filter).await?) } else { None };
        Ok(Response::new(pb::ListContactsResponse {
            contacts: rows.into_iter().map(wire::contact).collect(),
            next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
            total_size,
        }))
    }

    async fn list_contact_history(
        &self,
        request: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(history(&self.store, &["contact"], request.into_inner()).await?))
    }
}
