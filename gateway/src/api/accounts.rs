//! `/api/v1/accounts` and `/api/v1/contacts`: the customers and their people.

use axum::{Json, http::StatusCode, response::Response};
use docket_proto::case::v1::{self as pb, get_contact_request::Lookup};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    cases::history_request,
    created,
    extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey, IfMatch},
    model::{
        Account, AccountFields, AccountPage, AccountQuery, Contact, ContactFields, ContactPage, ContactQuery, HistoryPage,
        PageQuery, next_page,
    },
    with_etag,
};
use crate::{GatewayState, problem::Problem, upstream::CaseClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account))
        .routes(routes!(account_history))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact))
        .routes(routes!(contact_history))
}

/// The fields of an update, or 400 when the body names none.
fn update_mask(mask: Vec<String>) -> Result<Option<prost_types::FieldMask>, Problem> {
    if mask.is_empty() {
        return Err(Problem::bad_request("the body names no field to change"));
    }
    Ok(Some(prost_types::FieldMask { paths: mask }))
}

/// Lists accounts by name.
#[utoipa::path(get, path = "/accounts", tag = "accounts", params(AccountQuery),
    responses((status = OK, description = "A page of accounts", body = AccountPage)))]
async fn list_accounts(mut clients: CaseClients, ApiQuery(query): ApiQuery<AccountQuery>) -> Result<Json<AccountPage>, Problem> {
    let page = clients.accounts.list_accounts(pb::ListAccountsRequest::from(query)).await?.into_inner();
    Ok(Json(AccountPage {
        accounts: page.accounts.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
        total_size: page.total_size,
    }))
}

/// Creates an account. The same `Idempotency-Key` returns the first account.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = AccountFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses((status = CREATED, description = "The new account", body = Account,
        headers(("Location" = String, description = "The account's address"), ("ETag" = String)))))]
async fn create_account(
    mut clients: CaseClients,
    key: IdempotencyKey,
    ApiJson(fields): ApiJson<AccountFields>,
) -> Result<Response, Problem> {
    let (account, _) = fields.into_proto();
    let request = pb::CreateAccountRequest { account: Some(account), idempotency_key: key.0 };
    let account: Account =
        clients.accounts.create_account(request).await.map_err(|s| IdempotencyKey::reused(s.into()))?.into_inner().into();
    let location = format!("{}/accounts/{}", super::PREFIX, account.id);
    let etag = account.etag.clone();
    Ok(created(account, &location, &etag))
}

/// Reads one account.
#[utoipa::path(get, path = "/accounts/{account}", tag = "accounts",
    params(("account" = String, Path, format = Uuid, description = "The account's id")),
    responses(
        (status = OK, description = "The account", body = Account, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_account(mut clients: CaseClients, ApiPath(id): ApiPath<String>) -> Result<Response, Problem> {
    let account: Account = clients.accounts.get_account(pb::GetAccountRequest { id }).await?.into_inner().into();
    let etag = account.etag.clone();
    Ok(with_etag(StatusCode::OK, account, &etag))
}

/// Changes the fields present in the body; absent fields are kept.
#[utoipa::path(patch, path = "/accounts/{account}", tag = "accounts", request_body = AccountFields,
    params(
        ("account" = String, Path, format = Uuid, description = "The account's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed account", body = Account, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The account changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_account(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<AccountFields>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let reason = fields.reason.clone().unwrap_or_default();
    let (mut account, mask) = fields.into_proto();
    account.id = id;
    account.etag = etag;
    let request = pb::UpdateAccountRequest { account: Some(account), update_mask: update_mask(mask)?, reason };
    let account: Account =
        clients.accounts.update_account(request).await.map_err(|s| Problem::from_status(&s, true))?.into_inner().into();
    let etag = account.etag.clone();
    Ok(with_etag(StatusCode::OK, account, &etag))
}

/// An account's audit trail, oldest first.
#[utoipa::path(get, path = "/accounts/{account}/history", tag = "accounts",
    params(("account" = String, Path, format = Uuid, description = "The account's id"), PageQuery),
    responses(
        (status = OK, description = "A page of the audit trail", body = HistoryPage),
        (status = NOT_FOUND, description = "No such account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn account_history(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<HistoryPage>, Problem> {
    Ok(Json(clients.accounts.list_account_history(history_request(id, page)).await?.into_inner().into()))
}

/// Lists contacts by name.
#[utoipa::path(get, path = "/contacts", tag = "contacts", params(ContactQuery),
    responses((status = OK, description = "A page of contacts", body = ContactPage)))]
async fn list_contacts(mut clients: CaseClients, ApiQuery(query): ApiQuery<ContactQuery>) -> Result<Json<ContactPage>, Problem> {
    let page = clients.contacts.list_contacts(pb::ListContactsRequest::from(query)).await?.into_inner();
    Ok(Json(ContactPage {
        contacts: page.contacts.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
        total_size: page.total_size,
    }))
}

/// Creates a contact of an account. Its email must be unused by any other
/// contact. The same `Idempotency-Key` returns the first contact.
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = ContactFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses(
        (status = CREATED, description = "The new contact", body = Contact,
            headers(("Location" = String, description = "The contact's address"), ("ETag" = String))),
        (status = CONFLICT, description = "Another contact has this email", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_contact(
    mut clients: CaseClients,
    key: IdempotencyKey,
    ApiJson(fields): ApiJson<ContactFields>,
) -> Result<Response, Problem> {
    let (contact, _) = fields.into_proto();
    let request = pb::CreateContactRequest { contact: Some(contact), idempotency_key: key.0 };
    let contact: Contact =
        clients.contacts.create_contact(request).await.map_err(|s| IdempotencyKey::reused(s.into()))?.into_inner().into();
    let location = format!("{}/contacts/{}", super::PREFIX, contact.id);
    let etag = contact.etag.clone();
    Ok(created(contact, &location, &etag))
}

/// Reads one contact by its id or its email.
#[utoipa::path(get, path = "/contacts/{contact}", tag = "contacts",
    params(("contact" = String, Path, description = "The contact's id, or its email (case-insensitive)")),
    responses(
        (status = OK, description = "The contact", body = Contact, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such contact", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_contact(mut clients: CaseClients, ApiPath(contact): ApiPath<String>) -> Result<Response, Problem> {
    let lookup = if contact.contains('@') { Lookup::Email(contact) } else { Lookup::Id(contact) };
    let contact: Contact =
        clients.contacts.get_contact(pb::GetContactRequest { lookup: Some(lookup) }).await?.into_inner().into();
    let etag = contact.etag.clone();
    Ok(with_etag(StatusCode::OK, contact, &etag))
}

/// Changes the fields present in the body; absent fields are kept.
#[utoipa::path(patch, path = "/contacts/{contact}", tag = "contacts", request_body = ContactFields,
    params(
        ("contact" = String, Path, format = Uuid, description = "The contact's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed contact", body = Contact, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such contact", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another contact has this email", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The contact changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_contact(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<ContactFields>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let reason = fields.reason.clone().unwrap_or_default();
    let (mut contact, mask) = fields.into_proto();
    contact.id = id;
    contact.etag = etag;
    let request = pb::UpdateContactRequest { contact: Some(contact), update_mask: update_mask(mask)?, reason };
    let contact: Contact =
        clients.contacts.update_contact(request).await.map_err(|s| Problem::from_status(&s, true))?.into_inner().into();
    let etag = contact.etag.clone();
    Ok(with_etag(StatusCode::OK, contact, &etag))
}

/// A contact's audit trail, oldest first.
#[utoipa::path(get, path = "/contacts/{contact}/history", tag = "contacts",
    params(("contact" = String, Path, format = Uuid, description = "The contact's id"), PageQuery),
    responses(
        (status = OK, description = "A page of the audit trail", body = HistoryPage),
        (status = NOT_FOUND, description = "No such contact", body = Problem, content_type = "application/problem+json"),
    ))]
async fn contact_history(
    mut clients: CaseClients,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<HistoryPage>, Problem> {
    Ok(Json(clients.contacts.list_contact_history(history_request(id, page)).await?.into_inner().into()))
}
