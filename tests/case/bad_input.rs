//! Bad input to every RPC of the case service: each is refused with the
//! right code, INVALID_ARGUMENT names the bad field, and nothing is written.

use std::fmt::Debug;

use docket_proto::case::v1::{self as pb, get_case_request, get_contact_request};
use tonic::{Code, Response, Status};

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{account, case, contact, customer, mask, new_case, staff_user, team, unique},
    on_both_backends,
};

on_both_backends!(
    an_account_without_a_name_or_with_oversized_fields_is_refused_naming_each_field,
    account_reads_with_malformed_ids_bad_pages_or_unknown_tiers_are_refused,
    an_account_update_needs_a_current_etag_and_a_mask_of_known_fields,
    a_contact_without_an_account_or_name_or_with_a_bad_email_is_refused,
    a_contact_email_is_unique_ignoring_case,
    contact_lookups_and_lists_with_bad_ids_or_pages_are_refused,
    a_contact_update_needs_a_current_etag_a_known_mask_and_an_existing_account,
    a_staff_user_without_name_email_or_role_is_refused_naming_each_field,
    staff_user_reads_and_updates_with_bad_ids_etags_or_masks_are_refused,
    a_team_needs_a_unique_name_and_a_team_update_needs_a_current_etag,
    team_membership_changes_need_an_existing_team_and_staff_user,
    a_case_without_subject_or_account_is_refused_naming_both_fields,
    a_case_with_oversized_text_or_unknown_enum_values_is_refused,
    a_case_referring_to_missing_or_malformed_records_is_refused_naming_the_reference,
    a_contact_of_another_account_cannot_be_linked_to_a_case,
    reusing_an_idempotency_key_for_a_different_case_or_activity_is_refused,
    case_lookups_with_malformed_or_unknown_ids_or_numbers_are_refused,
    listing_cases_with_bad_pages_filters_or_timestamps_is_refused,
    a_case_update_needs_a_current_etag_and_a_mask_of_descriptive_fields,
    assigning_a_case_to_a_malformed_unknown_or_inactive_owner_or_team_is_refused,
    setting_a_case_status_refuses_unknown_statuses_stale_etags_and_illegal_moves,
    closing_a_case_needs_a_resolution_summary_and_a_closed_status,
    reopening_a_case_needs_a_reason_and_a_closed_case,
    an_activity_with_details_that_do_not_fit_its_kind_is_refused,
    case_type_changes_need_a_valid_key_a_name_and_a_known_mask,
);

/// A well-formed id (UUID v7) that no record has.
fn unknown_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn long(chars: usize) -> String {
    "x".repeat(chars)
}

/// Base64url of `{}`: it decodes, but it is no page token of this service.
const FOREIGN_TOKEN: &str = "e30";
/// Forged tokens of the right shape with a NUL in a string, which no row has
/// and PostgreSQL cannot compare with: `{"name":"\u0000","id":""}` (name
/// cursors) and `{"id":"\u0000"}` (history cursors).
const NUL_NAME_TOKEN: &str = "eyJuYW1lIjoiXHUwMDAwIiwiaWQiOiIifQ";
const NUL_ID_TOKEN: &str = "eyJpZCI6Ilx1MDAwMCJ9";

/// Asserts INVALID_ARGUMENT with a field violation naming `field`.
#[track_caller]
fn invalid<T: Debug>(result: Result<Response<T>, Status>, field: &str) {
    match result {
        Ok(answer) => panic!("expected INVALID_ARGUMENT naming `{field}`, got {:?}", answer.get_ref()),
        Err(status) => assert_field_error(&status, Code::InvalidArgument, field),
    }
}

/// Asserts INVALID_ARGUMENT with a field violation for each of `fields`.
#[track_caller]
fn invalid_each<T: Debug>(result: Result<Response<T>, Status>, fields: &[&str]) {
    match result {
        Ok(answer) => panic!("expected INVALID_ARGUMENT naming {fields:?}, got {:?}", answer.get_ref()),
        Err(status) => {
            for field in fields {
                assert_field_error(&status, Code::InvalidArgument, field);
            }
        }
    }
}

/// Asserts the call failed with `code`.
#[track_caller]
fn refused<T: Debug>(result: Result<Response<T>, Status>, code: Code) -> Status {
    match result {
        Ok(answer) => panic!("expected {code:?}, got {:?}", answer.get_ref()),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

async fn read_case(app: &TestApp, id: &str) -> pb::Case {
    app.cases(AGENT)
        .get_case(pb::GetCaseRequest { lookup: Some(get_case_request::Lookup::Id(id.to_owned())) })
        .await
        .expect("get case")
        .into_inner()
}

fn history_of(id: &str) -> pb::ListHistoryRequest {
    pb::ListHistoryRequest { id: id.to_owned(), page_size: 0, page_token: String::new() }
}

// --- AccountService ---------------------------------------------------------

async fn an_account_without_a_name_or_with_oversized_fields_is_refused_naming_each_field(app: TestApp) {
    let mut accounts = app.accounts(AGENT);
    let create = |account: pb::Account| pb::CreateAccountRequest { account: Some(account), idempotency_key: String::new() };
    let named = |name: &str| pb::Account { name: name.to_owned(), ..Default::default() };
    let key = unique("key");
    accounts
        .create_account(pb::CreateAccountRequest { account: Some(named("Acme")), idempotency_key: key.clone() })
        .await
        .expect("create with a key");
    let before = app.row_counts().await;

    invalid(accounts.create_account(pb::CreateAccountRequest::default()).await, "account.name");
    invalid(accounts.create_account(create(named(""))).await, "account.name");
    invalid(accounts.create_account(create(named("   "))).await, "account.name");
    invalid(accounts.create_account(create(named(&long(201)))).await, "account.name");
    invalid(accounts.create_account(create(named("Acme\u{0}Corp"))).await, "account.name");
    invalid(accounts.create_account(create(pb::Account { industry: long(201), ..named("Acme") })).await, "account.industry");
    invalid(accounts.create_account(create(pb::Account { notes: long(20_001), ..named("Acme") })).await, "account.notes");
    invalid(accounts.create_account(create(pb::Account { tier: 99, ..named("Acme") })).await, "account.tier");
    invalid(accounts.create_account(create(pb::Account { tier: -1, ..named("Acme") })).await, "account.tier");
    let money = |amount_minor: i64, currency: &str| Some(pb::Money { amount_minor, currency: currency.to_owned() });
    invalid(
        accounts.create_account(create(pb::Account { annual_value: money(-1, "EUR"), ..named("Acme") })).await,
        "account.annual_value.amount_minor",
    );
    for currency in ["", "eur", "EURO", "E1R"] {
        invalid(
            accounts.create_account(create(pb::Account { annual_value: money(100, currency), ..named("Acme") })).await,
            "account.annual_value.currency",
        );
    }
    let address = pb::Address { city: long(201), ..Default::default() };
    invalid(
        accounts.create_account(create(pb::Account { address: Some(address), ..named("Acme") })).await,
        "account.address.city",
    );
    invalid(
        accounts.create_account(pb::CreateAccountRequest { account: Some(named("Acme")), idempotency_key: long(201) }).await,
        "idempotency_key",
    );
    invalid(
        accounts.create_account(pb::CreateAccountRequest { account: Some(named("Acme Two")), idempotency_key: key }).await,
        "idempotency_key",
    );
    // Every bad field is named at once.
    invalid_each(
        accounts.create_account(create(pb::Account { tier: 99, notes: long(20_001), ..named("") })).await,
        &["account.name", "account.tier", "account.notes"],
    );

    assert_eq!(app.row_counts().await, before);
}

async fn account_reads_with_malformed_ids_bad_pages_or_unknown_tiers_are_refused(app: TestApp) {
    account(&app, "Acme").await;
    let mut accounts = app.accounts(VIEWER);
    let before = app.row_counts().await;

    invalid(accounts.get_account(pb::GetAccountRequest { id: String::new() }).await, "id");
    invalid(accounts.get_account(pb::GetAccountRequest { id: "not-a-uuid".into() }).await, "id");
    refused(accounts.get_account(pb::GetAccountRequest { id: unknown_id() }).await, Code::NotFound);

    let list = |f: fn(&mut pb::ListAccountsRequest)| {
        let mut request = pb::ListAccountsRequest::default();
        f(&mut request);
        request
    };
    invalid(accounts.list_accounts(list(|r| r.page_size = -1)).await, "page_size");
    invalid(accounts.list_accounts(list(|r| r.page_token = "garbage!".into())).await, "page_token");
    invalid(accounts.list_accounts(list(|r| r.page_token = FOREIGN_TOKEN.into())).await, "page_token");
    invalid(accounts.list_accounts(list(|r| r.page_token = NUL_NAME_TOKEN.into())).await, "page_token");
    invalid(accounts.list_accounts(list(|r| r.tier = 99)).await, "tier");
    invalid(accounts.list_accounts(list(|r| r.query = "x".repeat(201))).await, "query");
    invalid(accounts.list_accounts(list(|r| r.industry = "x".repeat(201))).await, "industry");

    invalid(accounts.list_account_history(history_of("")).await, "id");
    invalid(accounts.list_account_history(history_of("not-a-uuid")).await, "id");
    invalid(
        accounts.list_account_history(pb::ListHistoryRequest { page_size: -1, ..history_of(&unknown_id()) }).await,
        "page_size",
    );
    invalid(
        accounts
            .list_account_history(pb::ListHistoryRequest { page_token: "garbage!".into(), ..history_of(&unknown_id()) })
            .await,
        "page_token",
    );
    invalid(
        accounts
            .list_account_history(pb::ListHistoryRequest { page_token: NUL_ID_TOKEN.into(), ..history_of(&unknown_id()) })
            .await,
        "page_token",
    );

    assert_eq!(app.row_counts().await, before);
}

async fn an_account_update_needs_a_current_etag_and_a_mask_of_known_fields(app: TestApp) {
    let created = account(&app, "Acme").await;
    let mut accounts = app.accounts(AGENT);
    let update = |account: pb::Account, paths: &[&str]| pb::UpdateAccountRequest {
        account: Some(account),
        update_mask: mask(paths),
        reason: String::new(),
    };
    let renamed =
        |etag: &str| pb::Account { id: created.id.clone(), etag: etag.to_owned(), name: "Renamed".into(), ..Default::default() };
    // One good update, so "1" is a stale etag.
    let current = accounts.update_account(update(renamed("1"), &["name"])).await.expect("first update").into_inner();
    assert_eq!(current.etag, "2");
    let before = app.row_counts().await;

    invalid_each(
        accounts.update_account(pb::UpdateAccountRequest::default()).await,
        &["account.id", "account.etag", "update_mask"],
    );
    invalid(accounts.update_account(update(renamed(""), &["name"])).await, "account.etag");
    for etag in ["abc", "0", "-2", "2.0"] {
        invalid(accounts.update_account(update(renamed(etag), &["name"])).await, "account.etag");
    }
    invalid(accounts.update_account(update(renamed("2"), &[])).await, "update_mask");
    invalid(
        accounts.update_account(pb::UpdateAccountRequest { update_mask: None, ..update(renamed("2"), &[]) }).await,
        "update_mask",
    );
    for path in ["address.city", "id", "etag", "create_time", "Name", ""] {
        invalid(accounts.update_account(update(renamed("2"), &["name", path])).await, "update_mask");
    }
    invalid(accounts.update_account(update(pb::Account { id: String::new(), ..renamed("2") }, &["name"])).await, "account.id");
    invalid(
        accounts.update_account(update(pb::Account { id: "not-a-uuid".into(), ..renamed("2") }, &["name"])).await,
        "account.id",
    );
    refused(accounts.update_account(update(pb::Account { id: unknown_id(), ..renamed("2") }, &["name"])).await, Code::NotFound);
    refused(accounts.update_account(update(renamed("1"), &["name"])).await, Code::Aborted);
    refused(accounts.update_account(update(renamed("7"), &["name"])).await, Code::Aborted);
    invalid(
        accounts.update_account(update(pb::Account { name: String::new(), ..renamed("2") }, &["name"])).await,
        "account.name",
    );
    invalid(accounts.update_account(update(pb::Account { name: long(201), ..renamed("2") }, &["name"])).await, "account.name");
    invalid(accounts.update_account(update(renamed("2"), &["tier"])).await, "account.tier");
    invalid(accounts.update_account(update(pb::Account { tier: 99, ..renamed("2") }, &["tier"])).await, "account.tier");
    invalid(
        accounts
            .update_account(update(
                pb::Account { annual_value: Some(pb::Money { amount_minor: 1, currency: "??".into() }), ..renamed("2") },
                &["annual_value"],
            ))
            .await,
        "account.annual_value.currency",
    );
    invalid(
        accounts.update_account(pb::UpdateAccountRequest { reason: long(1_001), ..update(renamed("2"), &["name"]) }).await,
        "reason",
    );

    assert_eq!(app.row_counts().await, before);
    let read = accounts.get_account(pb::GetAccountRequest { id: created.id.clone() }).await.expect("get").into_inner();
    assert_eq!(read, current);
}

// --- ContactService ---------------------------------------------------------

async fn a_contact_without_an_account_or_name_or_with_a_bad_email_is_refused(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let mut contacts = app.contacts(AGENT);
    let create = |contact: pb::Contact| pb::CreateContactRequest { contact: Some(contact), idempotency_key: String::new() };
    let petra = pb::Contact {
        account_id: acme.id.clone(),
        name: "Petra Schmidt".into(),
        email: "petra@acme.example".into(),
        ..Default::default()
    };
    let key = unique("key");
    contacts
        .create_contact(pb::CreateContactRequest { contact: Some(petra.clone()), idempotency_key: key.clone() })
        .await
        .expect("first create");
    let before = app.row_counts().await;

    invalid_each(contacts.create_contact(pb::CreateContactRequest::default()).await, &["contact.account_id", "contact.name"]);
    invalid_each(contacts.create_contact(create(pb::Contact::default())).await, &["contact.account_id", "contact.name"]);
    invalid(
        contacts.create_contact(create(pb::Contact { account_id: "not-a-uuid".into(), ..petra.clone() })).await,
        "contact.account_id",
    );
    invalid(
        contacts.create_contact(create(pb::Contact { account_id: unknown_id(), ..petra.clone() })).await,
        "contact.account_id",
    );
    invalid(contacts.create_contact(create(pb::Contact { name: " ".into(), ..petra.clone() })).await, "contact.name");
    invalid(contacts.create_contact(create(pb::Contact { name: long(201), ..petra.clone() })).await, "contact.name");
    for email in [
        "petra",
        "petra@",
        "@acme.example",
        "petra@acme",
        "petra@.example",
        "petra@acme.",
        "pe tra@acme.example",
        "petra@@acme.example",
        "petra@acme@example.org",
    ] {
        invalid(contacts.create_contact(create(pb::Contact { email: email.into(), ..petra.clone() })).await, "contact.email");
    }
    let too_long = format!("{}@acme.example", long(250));
    invalid(contacts.create_contact(create(pb::Contact { email: too_long, ..petra.clone() })).await, "contact.email");
    invalid(contacts.create_contact(create(pb::Contact { phone: long(51), ..petra.clone() })).await, "contact.phone");
    invalid(contacts.create_contact(create(pb::Contact { title: long(201), ..petra.clone() })).await, "contact.title");
    invalid(
        contacts
            .create_contact(pb::CreateContactRequest {
                contact: Some(pb::Contact { name: "Paul Weber".into(), email: "paul@acme.example".into(), ..petra.clone() }),
                idempotency_key: key.clone(),
            })
            .await,
        "idempotency_key",
    );

    assert_eq!(app.row_counts().await, before);
}

async fn a_contact_email_is_unique_ignoring_case(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let other = account(&app, "Globex").await;
    let petra = contact(&app, &acme.id, "Petra Schmidt", "Petra@X.example").await;
    let paul = contact(&app, &acme.id, "Paul Weber", "paul@x.example").await;
    let mut contacts = app.contacts(AGENT);
    let before = app.row_counts().await;

    for (account_id, email) in [(&acme.id, "petra@x.example"), (&acme.id, "  PETRA@x.EXAMPLE "), (&other.id, "petra@X.example")] {
        let taken = refused(
            contacts
                .create_contact(pb::CreateContactRequest {
                    contact: Some(pb::Contact {
                        account_id: account_id.clone(),
                        name: "Another Petra".into(),
                        email: email.into(),
                        ..Default::default()
                    }),
                    idempotency_key: String::new(),
                })
                .await,
            Code::AlreadyExists,
        );
        assert_field_error(&taken, Code::AlreadyExists, "contact.email");
    }
    let taken = refused(
        contacts
            .update_contact(pb::UpdateContactRequest {
                contact: Some(pb::Contact {
                    id: paul.id.clone(),
                    etag: paul.etag.clone(),
                    email: "petra@x.example".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["email"]),
                reason: String::new(),
            })
            .await,
        Code::AlreadyExists,
    );
    assert_field_error(&taken, Code::AlreadyExists, "contact.email");

    assert_eq!(app.row_counts().await, before);
    let get = |id: &str| pb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Id(id.to_owned())) };
    assert_eq!(contacts.get_contact(get(&paul.id)).await.expect("get paul").into_inner(), paul);
    let found = contacts
        .get_contact(pb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Email("PETRA@x.example".into())) })
        .await
        .expect("get by email")
        .into_inner();
    assert_eq!(found, petra);
}

async fn contact_lookups_and_lists_with_bad_ids_or_pages_are_refused(app: TestApp) {
    let customer = customer(&app).await;
    let mut contacts = app.contacts(VIEWER);
    let by_id = |id: &str| pb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Id(id.to_owned())) };
    let by_email = |email: &str| pb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Email(email.to_owned())) };
    let before = app.row_counts().await;

    invalid(contacts.get_contact(pb::GetContactRequest { lookup: None }).await, "lookup");
    invalid(contacts.get_contact(by_id("")).await, "id");
    invalid(contacts.get_contact(by_id("not-a-uuid")).await, "id");
    refused(contacts.get_contact(by_id(&unknown_id())).await, Code::NotFound);
    // An account id is no contact id.
    refused(contacts.get_contact(by_id(&customer.account.id)).await, Code::NotFound);
    invalid(contacts.get_contact(by_email("")).await, "email");
    invalid(contacts.get_contact(by_email("petra")).await, "email");
    refused(contacts.get_contact(by_email("nobody@acme.example")).await, Code::NotFound);

    let list = |f: fn(&mut pb::ListContactsRequest)| {
        let mut request = pb::ListContactsRequest::default();
        f(&mut request);
        request
    };
    invalid(contacts.list_contacts(list(|r| r.page_size = -1)).await, "page_size");
    invalid(contacts.list_contacts(list(|r| r.page_token = "garbage!".into())).await, "page_token");
    invalid(contacts.list_contacts(list(|r| r.page_token = FOREIGN_TOKEN.into())).await, "page_token");
    invalid(contacts.list_contacts(list(|r| r.page_token = NUL_NAME_TOKEN.into())).await, "page_token");
    invalid(contacts.list_contacts(list(|r| r.account_id = "not-a-uuid".into())).await, "account_id");
    invalid(contacts.list_contacts(list(|r| r.query = "x".repeat(201))).await, "query");

    invalid(contacts.list_contact_history(history_of("")).await, "id");
    invalid(contacts.list_contact_history(history_of("not-a-uuid")).await, "id");
    invalid(
        contacts
            .list_contact_history(pb::ListHistoryRequest { page_token: FOREIGN_TOKEN.into(), ..history_of(&customer.contact.id) })
            .await,
        "page_token",
    );

    assert_eq!(app.row_counts().await, before);
}

async fn a_contact_update_needs_a_current_etag_a_known_mask_and_an_existing_account(app: TestApp) {
    let customer = customer(&app).await;
    let mut contacts = app.contacts(AGENT);
    let update = |contact: pb::Contact, paths: &[&str]| pb::UpdateContactRequest {
        contact: Some(contact),
        update_mask: mask(paths),
        reason: String::new(),
    };
    let titled = |etag: &str| pb::Contact {
        id: customer.contact.id.clone(),
        etag: etag.to_owned(),
        title: "Head of maintenance".into(),
        ..Default::default()
    };
    let current = contacts.update_contact(update(titled("1"), &["title"])).await.expect("first update").into_inner();
    assert_eq!(current.etag, "2");
    let before = app.row_counts().await;

    invalid_each(
        contacts.update_contact(pb::UpdateContactRequest::default()).await,
        &["contact.id", "contact.etag", "update_mask"],
    );
    invalid(contacts.update_contact(update(titled(""), &["title"])).await, "contact.etag");
    invalid(contacts.update_contact(update(titled("two"), &["title"])).await, "contact.etag");
    refused(contacts.update_contact(update(titled("1"), &["title"])).await, Code::Aborted);
    invalid(
        contacts.update_contact(update(pb::Contact { id: "not-a-uuid".into(), ..titled("2") }, &["title"])).await,
        "contact.id",
    );
    refused(contacts.update_contact(update(pb::Contact { id: unknown_id(), ..titled("2") }, &["title"])).await, Code::NotFound);
    invalid(contacts.update_contact(update(titled("2"), &[])).await, "update_mask");
    for path in ["account", "id", "email_key", "update_time"] {
        invalid(contacts.update_contact(update(titled("2"), &[path])).await, "update_mask");
    }
    for account_id in [String::new(), "not-a-uuid".to_owned(), unknown_id()] {
        invalid(
            contacts.update_contact(update(pb::Contact { account_id, ..titled("2") }, &["account_id"])).await,
            "contact.account_id",
        );
    }
    invalid(contacts.update_contact(update(pb::Contact { name: String::new(), ..titled("2") }, &["name"])).await, "contact.name");
    invalid(
        contacts.update_contact(update(pb::Contact { email: "petra(at)acme".into(), ..titled("2") }, &["email"])).await,
        "contact.email",
    );
    invalid(contacts.update_contact(update(pb::Contact { phone: long(51), ..titled("2") }, &["phone"])).await, "contact.phone");
    invalid(
        contacts.update_contact(pb::UpdateContactRequest { reason: long(1_001), ..update(titled("2"), &["title"]) }).await,
        "reason",
    );

    assert_eq!(app.row_counts().await, before);
    let read = contacts
        .get_contact(pb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Id(customer.contact.id.clone())) })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read, current);
}

// --- StaffService -----------------------------------------------------------

async fn a_staff_user_without_name_email_or_role_is_refused_naming_each_field(app: TestApp) {
    let mut staff = app.staff(ADMIN);
    let sam = pb::StaffUser {
        name: "Sam Berg".into(),
        email: "Sam@Staff.example".into(),
        role: pb::StaffRole::Agent as i32,
        ..Default::default()
    };
    let key = unique("key");
    staff
        .create_staff_user(pb::CreateStaffUserRequest { staff_user: Some(sam.clone()), idempotency_key: key.clone() })
        .await
        .expect("create sam");
    let create = |user: pb::StaffUser| pb::CreateStaffUserRequest { staff_user: Some(user), idempotency_key: String::new() };
    let other = pb::StaffUser { name: "Ola Lind".into(), email: "ola@staff.example".into(), ..sam.clone() };
    let before = app.row_counts().await;

    invalid_each(
        staff.create_staff_user(pb::CreateStaffUserRequest::default()).await,
        &["staff_user.name", "staff_user.email", "staff_user.role"],
    );
    invalid(staff.create_staff_user(create(pb::StaffUser { name: String::new(), ..other.clone() })).await, "staff_user.name");
    invalid(staff.create_staff_user(create(pb::StaffUser { name: long(201), ..other.clone() })).await, "staff_user.name");
    invalid(staff.create_staff_user(create(pb::StaffUser { email: String::new(), ..other.clone() })).await, "staff_user.email");
    invalid(staff.create_staff_user(create(pb::StaffUser { email: "ola".into(), ..other.clone() })).await, "staff_user.email");
    invalid(staff.create_staff_user(create(pb::StaffUser { role: 0, ..other.clone() })).await, "staff_user.role");
    invalid(staff.create_staff_user(create(pb::StaffUser { role: 99, ..other.clone() })).await, "staff_user.role");
    let taken = refused(
        staff.create_staff_user(create(pb::StaffUser { email: "sam@staff.EXAMPLE".into(), ..other.clone() })).await,
        Code::AlreadyExists,
    );
    assert_field_error(&taken, Code::AlreadyExists, "staff_user.email");
    invalid(
        staff
            .create_staff_user(pb::CreateStaffUserRequest { staff_user: Some(other.clone()), idempotency_key: key.clone() })
            .await,
        "idempotency_key",
    );

    assert_eq!(app.row_counts().await, before);
}

async fn staff_user_reads_and_updates_with_bad_ids_etags_or_masks_are_refused(app: TestApp) {
    let ana = staff_user(&app, "Ana Ruiz").await;
    let ben = staff_user(&app, "Ben Okafor").await;
    let mut staff = app.staff(ADMIN);
    let update = |user: pb::StaffUser, paths: &[&str]| pb::UpdateStaffUserRequest {
        staff_user: Some(user),
        update_mask: mask(paths),
        reason: String::new(),
    };
    let renamed = |etag: &str| pb::StaffUser {
        id: ana.id.clone(),
        etag: etag.to_owned(),
        name: "Ana Ruiz-Lopez".into(),
        ..Default::default()
    };
    let current = staff.update_staff_user(update(renamed("1"), &["name"])).await.expect("first update").into_inner();
    let before = app.row_counts().await;

    invalid(staff.get_staff_user(pb::GetStaffUserRequest { id: String::new() }).await, "id");
    invalid(staff.get_staff_user(pb::GetStaffUserRequest { id: "not-a-uuid".into() }).await, "id");
    refused(staff.get_staff_user(pb::GetStaffUserRequest { id: unknown_id() }).await, Code::NotFound);

    invalid_each(
        staff.update_staff_user(pb::UpdateStaffUserRequest::default()).await,
        &["staff_user.id", "staff_user.etag", "update_mask"],
    );
    invalid(staff.update_staff_user(update(renamed(""), &["name"])).await, "staff_user.etag");
    refused(staff.update_staff_user(update(renamed("1"), &["name"])).await, Code::Aborted);
    invalid(
        staff.update_staff_user(update(pb::StaffUser { id: "not-a-uuid".into(), ..renamed("2") }, &["name"])).await,
        "staff_user.id",
    );
    refused(staff.update_staff_user(update(pb::StaffUser { id: unknown_id(), ..renamed("2") }, &["name"])).await, Code::NotFound);
    invalid(staff.update_staff_user(update(renamed("2"), &[])).await, "update_mask");
    for path in ["team_id", "id", "email_key"] {
        invalid(staff.update_staff_user(update(renamed("2"), &[path])).await, "update_mask");
    }
    invalid(
        staff.update_staff_user(update(pb::StaffUser { name: " ".into(), ..renamed("2") }, &["name"])).await,
        "staff_user.name",
    );
    invalid(staff.update_staff_user(update(pb::StaffUser { role: 99, ..renamed("2") }, &["role"])).await, "staff_user.role");
    invalid(staff.update_staff_user(update(pb::StaffUser { role: 0, ..renamed("2") }, &["role"])).await, "staff_user.role");
    invalid(
        staff.update_staff_user(update(pb::StaffUser { email: "ana@".into(), ..renamed("2") }, &["email"])).await,
        "staff_user.email",
    );
    let taken = refused(
        staff.update_staff_user(update(pb::StaffUser { email: ben.email.to_uppercase(), ..renamed("2") }, &["email"])).await,
        Code::AlreadyExists,
    );
    assert_field_error(&taken, Code::AlreadyExists, "staff_user.email");

    let list = |f: fn(&mut pb::ListStaffUsersRequest)| {
        let mut request = pb::ListStaffUsersRequest::default();
        f(&mut request);
        request
    };
    invalid(staff.list_staff_users(list(|r| r.page_size = -1)).await, "page_size");
    invalid(staff.list_staff_users(list(|r| r.page_token = "garbage!".into())).await, "page_token");
    invalid(staff.list_staff_users(list(|r| r.page_token = NUL_NAME_TOKEN.into())).await, "page_token");
    invalid(staff.list_staff_users(list(|r| r.team_id = "not-a-uuid".into())).await, "team_id");
    invalid(staff.list_staff_users(list(|r| r.query = "x".repeat(201))).await, "query");
    invalid(staff.list_staff_history(history_of("not-a-uuid")).await, "id");
    invalid(staff.list_staff_history(pb::ListHistoryRequest { page_size: -3, ..history_of(&ana.id) }).await, "page_size");

    assert_eq!(app.row_counts().await, before);
    assert_eq!(staff.get_staff_user(pb::GetStaffUserRequest { id: ana.id.clone() }).await.expect("get").into_inner(), current);
}

async fn a_team_needs_a_unique_name_and_a_team_update_needs_a_current_etag(app: TestApp) {
    let first = team(&app, "First line").await;
    team(&app, "Second line").await;
    let mut staff = app.staff(ADMIN);
    let key = unique("key");
    staff
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team { name: "Field service".into(), ..Default::default() }),
            idempotency_key: key.clone(),
        })
        .await
        .expect("create with key");
    let create = |team: pb::Team| pb::CreateTeamRequest { team: Some(team), idempotency_key: String::new() };
    let update = |team: pb::Team, paths: &[&str]| pb::UpdateTeamRequest {
        team: Some(team),
        update_mask: mask(paths),
        reason: String::new(),
    };
    let described = |etag: &str| pb::Team {
        id: first.id.clone(),
        etag: etag.to_owned(),
        description: "Takes every new case".into(),
        ..Default::default()
    };
    let current = staff.update_team(update(described("1"), &["description"])).await.expect("first update").into_inner();
    let before = app.row_counts().await;

    invalid(staff.create_team(pb::CreateTeamRequest::default()).await, "team.name");
    invalid(staff.create_team(create(pb::Team { name: long(201), ..Default::default() })).await, "team.name");
    invalid(
        staff.create_team(create(pb::Team { name: "Escalations".into(), description: long(20_001), ..Default::default() })).await,
        "team.description",
    );
    let taken = refused(
        staff.create_team(create(pb::Team { name: "Second line".into(), ..Default::default() })).await,
        Code::AlreadyExists,
    );
    assert_field_error(&taken, Code::AlreadyExists, "team.name");
    invalid(
        staff
            .create_team(pb::CreateTeamRequest {
                team: Some(pb::Team { name: "Back office".into(), ..Default::default() }),
                idempotency_key: key,
            })
            .await,
        "idempotency_key",
    );

    invalid(staff.get_team(pb::GetTeamRequest { id: String::new() }).await, "id");
    invalid(staff.get_team(pb::GetTeamRequest { id: "not-a-uuid".into() }).await, "id");
    refused(staff.get_team(pb::GetTeamRequest { id: unknown_id() }).await, Code::NotFound);

    invalid_each(staff.update_team(pb::UpdateTeamRequest::default()).await, &["team.id", "team.etag", "update_mask"]);
    invalid(staff.update_team(update(described(""), &["description"])).await, "team.etag");
    refused(staff.update_team(update(described("1"), &["description"])).await, Code::Aborted);
    invalid(staff.update_team(update(pb::Team { id: "not-a-uuid".into(), ..described("2") }, &["description"])).await, "team.id");
    refused(staff.update_team(update(pb::Team { id: unknown_id(), ..described("2") }, &["description"])).await, Code::NotFound);
    invalid(staff.update_team(update(described("2"), &[])).await, "update_mask");
    invalid(staff.update_team(update(described("2"), &["member_ids"])).await, "update_mask");
    invalid(staff.update_team(update(pb::Team { name: String::new(), ..described("2") }, &["name"])).await, "team.name");
    let taken = refused(
        staff.update_team(update(pb::Team { name: "Second line".into(), ..described("2") }, &["name"])).await,
        Code::AlreadyExists,
    );
    assert_field_error(&taken, Code::AlreadyExists, "team.name");

    invalid(
        staff.list_teams(pb::ListTeamsRequest { page_size: -1, page_token: String::new(), include_total_size: true }).await,
        "page_size",
    );
    invalid(
        staff.list_teams(pb::ListTeamsRequest { page_size: 0, page_token: "garbage!".into(), include_total_size: true }).await,
        "page_token",
    );
    invalid(
        staff
            .list_teams(pb::ListTeamsRequest { page_size: 0, page_token: NUL_NAME_TOKEN.into(), include_total_size: true })
            .await,
        "page_token",
    );

    assert_eq!(app.row_counts().await, before);
    assert_eq!(staff.get_team(pb::GetTeamRequest { id: first.id.clone() }).await.expect("get").into_inner(), current);
}

async fn team_membership_changes_need_an_existing_team_and_staff_user(app: TestApp) {
    let first = team(&app, "First line").await;
    let ana = staff_user(&app, "Ana Ruiz").await;
    let mut staff = app.staff(ADMIN);
    let member = |team_id: &str, staff_user_id: &str| pb::TeamMemberRequest {
        team_id: team_id.to_owned(),
        staff_user_id: staff_user_id.to_owned(),
    };
    let current = staff.add_team_member(member(&first.id, &ana.id)).await.expect("add ana").into_inner();
    let before = app.row_counts().await;

    for add in [true, false] {
        let mut call = async |request: pb::TeamMemberRequest| {
            if add { staff.add_team_member(request).await } else { staff.remove_team_member(request).await }
        };
        invalid_each(call(member("", "")).await, &["team_id", "staff_user_id"]);
        invalid(call(member("not-a-uuid", &ana.id)).await, "team_id");
        invalid(call(member(&first.id, "not-a-uuid")).await, "staff_user_id");
        refused(call(member(&unknown_id(), &ana.id)).await, Code::NotFound);
        invalid(call(member(&first.id, &unknown_id())).await, "staff_user_id");
    }

    assert_eq!(app.row_counts().await, before);
    assert_eq!(staff.get_team(pb::GetTeamRequest { id: first.id.clone() }).await.expect("get").into_inner(), current);
}

// --- CaseService: creating cases --------------------------------------------

async fn a_case_without_subject_or_account_is_refused_naming_both_fields(app: TestApp) {
    let customer = customer(&app).await;
    let mut cases = app.cases(AGENT);
    let create = |case: pb::Case| pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };
    let before = app.row_counts().await;

    invalid_each(cases.create_case(pb::CreateCaseRequest::default()).await, &["case.subject", "case.account_id", "case.type_id"]);
    invalid_each(
        cases
            .create_case(create(pb::Case {
                subject: String::new(),
                account_id: String::new(),
                contacts: Vec::new(),
                ..new_case(&customer, "x")
            }))
            .await,
        &["case.subject", "case.account_id"],
    );
    invalid(cases.create_case(create(new_case(&customer, "  \t "))).await, "case.subject");
    invalid(
        cases.create_case(create(pb::Case { type_id: String::new(), ..new_case(&customer, "Conveyor stops") })).await,
        "case.type_id",
    );

    assert_eq!(app.row_counts().await, before);
}

async fn a_case_with_oversized_text_or_unknown_enum_values_is_refused(app: TestApp) {
    let customer = customer(&app).await;
    let mut cases = app.cases(AGENT);
    let create = |case: pb::Case| pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };
    let good = new_case(&customer, "Conveyor stops");
    let before = app.row_counts().await;

    invalid(cases.create_case(create(pb::Case { subject: long(251), ..good.clone() })).await, "case.subject");
    invalid(
        cases.create_case(create(pb::Case { subject: "Conveyor\u{1b}[2J stops".into(), ..good.clone() })).await,
        "case.subject",
    );
    invalid(cases.create_case(create(pb::Case { description: long(20_001), ..good.clone() })).await, "case.description");
    for priority in [99, -1, 5] {
        invalid(cases.create_case(create(pb::Case { priority, ..good.clone() })).await, "case.priority");
    }
    for channel in [99, -3, 6] {
        invalid(cases.create_case(create(pb::Case { channel, ..good.clone() })).await, "case.channel");
    }
    for type_id in ["Technical Issue", "technical-issue", "tëchnical", &"a".repeat(51)] {
        invalid(cases.create_case(create(pb::Case { type_id: type_id.to_owned(), ..good.clone() })).await, "case.type_id");
    }
    invalid(
        cases.create_case(create(pb::Case { service_contract_number: long(51), ..good.clone() })).await,
        "case.service_contract_number",
    );
    invalid(cases.create_case(create(pb::Case { asset_description: long(201), ..good.clone() })).await, "case.asset_description");
    invalid(
        cases.create_case(create(pb::Case { asset_serial_number: long(101), ..good.clone() })).await,
        "case.asset_serial_number",
    );
    let many_tags = (0..21).map(|i| format!("tag{i}")).collect();
    invalid(cases.create_case(create(pb::Case { tags: many_tags, ..good.clone() })).await, "case.tags");
    invalid(cases.create_case(create(pb::Case { tags: vec![long(51)], ..good.clone() })).await, "case.tags[0]");
    invalid(
        cases.create_case(create(pb::Case { tags: vec!["urgent".into(), " ".into()], ..good.clone() })).await,
        "case.tags[1]",
    );
    let many_contacts = (0..21).map(|_| pb::CaseContact { contact_id: unknown_id(), primary: false }).collect();
    invalid(cases.create_case(create(pb::Case { contacts: many_contacts, ..good.clone() })).await, "case.contacts");
    invalid_each(
        cases.create_case(create(pb::Case { subject: long(251), priority: 99, channel: 99, ..good.clone() })).await,
        &["case.subject", "case.priority", "case.channel"],
    );

    assert_eq!(app.row_counts().await, before);
}

async fn a_case_referring_to_missing_or_malformed_records_is_refused_naming_the_reference(app: TestApp) {
    let customer = customer(&app).await;
    let second = contact(&app, &customer.account.id, "Paul Weber", &format!("{}@acme.example", unique("paul"))).await;
    let mut admin = app.staff(ADMIN);
    let gone = staff_user(&app, "Gone Away").await;
    admin
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser { id: gone.id.clone(), etag: gone.etag.clone(), active: false, ..Default::default() }),
            update_mask: mask(&["active"]),
            reason: "left the company".into(),
        })
        .await
        .expect("deactivate");
    let mut types = app.cases(ADMIN);
    types
        .create_case_type(pb::CreateCaseTypeRequest {
            case_type: Some(pb::CaseType { id: "retired_type".into(), name: "Retired".into(), active: true }),
        })
        .await
        .expect("create type");
    types
        .update_case_type(pb::UpdateCaseTypeRequest {
            case_type: Some(pb::CaseType { id: "retired_type".into(), name: String::new(), active: false }),
            update_mask: mask(&["active"]),
        })
        .await
        .expect("retire type");
    let mut cases = app.cases(AGENT);
    let create = |case: pb::Case| pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };
    let good = new_case(&customer, "Conveyor stops");
    let link = |id: &str, primary: bool| pb::CaseContact { contact_id: id.to_owned(), primary };
    let before = app.row_counts().await;

    for account_id in ["not-a-uuid".to_owned(), unknown_id()] {
        invalid(cases.create_case(create(pb::Case { account_id, ..good.clone() })).await, "case.account_id");
    }
    for type_id in ["no_such_type", "retired_type"] {
        invalid(cases.create_case(create(pb::Case { type_id: type_id.into(), ..good.clone() })).await, "case.type_id");
    }
    for contact_id in ["", "not-a-uuid", &unknown_id(), &customer.account.id] {
        invalid(
            cases.create_case(create(pb::Case { contacts: vec![link(contact_id, true)], ..good.clone() })).await,
            "case.contacts[0].contact_id",
        );
    }
    invalid(
        cases
            .create_case(create(pb::Case {
                contacts: vec![link(&customer.contact.id, true), link(&customer.contact.id, false)],
                ..good.clone()
            }))
            .await,
        "case.contacts[1].contact_id",
    );
    invalid(
        cases
            .create_case(create(pb::Case {
                contacts: vec![link(&customer.contact.id, true), link(&second.id, true)],
                ..good.clone()
            }))
            .await,
        "case.contacts",
    );
    for owner_id in ["not-a-uuid".to_owned(), unknown_id(), gone.id.clone()] {
        invalid(cases.create_case(create(pb::Case { owner_id, ..good.clone() })).await, "case.owner_id");
    }
    for team_id in ["not-a-uuid".to_owned(), unknown_id()] {
        invalid(cases.create_case(create(pb::Case { team_id, ..good.clone() })).await, "case.team_id");
    }
    invalid(
        cases.create_case(create(pb::Case { service_contract_id: "SC-2024-17".into(), ..good.clone() })).await,
        "case.service_contract_id",
    );

    assert_eq!(app.row_counts().await, before);
}

async fn a_contact_of_another_account_cannot_be_linked_to_a_case(app: TestApp) {
    let acme = customer(&app).await;
    let globex = customer(&app).await;
    let existing = case(&app, &acme, "Conveyor stops").await;
    let mut cases = app.cases(AGENT);
    let foreign = vec![pb::CaseContact { contact_id: globex.contact.id.clone(), primary: true }];
    let update = |case: pb::Case, paths: &[&str]| pb::UpdateCaseRequest {
        case: Some(case),
        update_mask: mask(paths),
        reason: String::new(),
    };
    let before = app.row_counts().await;

    invalid(
        cases
            .create_case(pb::CreateCaseRequest {
                case: Some(pb::Case { contacts: foreign.clone(), ..new_case(&acme, "Wrong contact") }),
                idempotency_key: String::new(),
                sender: None,
            })
            .await,
        "case.contacts[0].contact_id",
    );
    let with_mixed = vec![
        pb::CaseContact { contact_id: acme.contact.id.clone(), primary: true },
        pb::CaseContact { contact_id: globex.contact.id.clone(), primary: false },
    ];
    invalid(
        cases
            .create_case(pb::CreateCaseRequest {
                case: Some(pb::Case { contacts: with_mixed.clone(), ..new_case(&acme, "Mixed contacts") }),
                idempotency_key: String::new(),
                sender: None,
            })
            .await,
        "case.contacts[1].contact_id",
    );
    invalid(
        cases.update_case(update(pb::Case { contacts: foreign.clone(), ..existing.clone() }, &["contacts"])).await,
        "case.contacts[0].contact_id",
    );
    invalid(
        cases.update_case(update(pb::Case { contacts: with_mixed, ..existing.clone() }, &["contacts"])).await,
        "case.contacts[1].contact_id",
    );
    // Moving the case to another account while it keeps this account's contact.
    invalid(
        cases.update_case(update(pb::Case { account_id: globex.account.id.clone(), ..existing.clone() }, &["account_id"])).await,
        "case.contacts[0].contact_id",
    );

    assert_eq!(app.row_counts().await, before);
    assert_eq!(read_case(&app, &existing.id).await, existing);
}

async fn reusing_an_idempotency_key_for_a_different_case_or_activity_is_refused(app: TestApp) {
    let customer = customer(&app).await;
    let mut cases = app.cases(AGENT);
    let key = unique("key");
    let create = |subject: &str, key: &str| pb::CreateCaseRequest {
        case: Some(new_case(&customer, subject)),
        idempotency_key: key.to_owned(),
        sender: None,
    };
    let first = cases.create_case(create("Conveyor stops", &key)).await.expect("first").into_inner();
    let again = cases.create_case(create("Conveyor stops", &key)).await.expect("retry").into_inner();
    assert_eq!(again, first);
    let note = |body: &str| pb::AddActivityRequest {
        activity: Some(pb::Activity {
            case_id: first.id.clone(),
            kind: pb::ActivityKind::Note as i32,
            body: body.to_owned(),
            ..Default::default()
        }),
        idempotency_key: key.clone(),
    };
    let added = cases.add_activity(note("Called the customer")).await.expect("note").into_inner();
    assert_eq!(cases.add_activity(note("Called the customer")).await.expect("retry note").into_inner(), added);
    let current = read_case(&app, &first.id).await;
    let before = app.row_counts().await;

    invalid(cases.create_case(create("Conveyor stops twice", &key)).await, "idempotency_key");
    invalid(
        cases
            .create_case(pb::CreateCaseRequest {
                case: Some(pb::Case { priority: pb::CasePriority::Critical as i32, ..new_case(&customer, "Conveyor stops") }),
                idempotency_key: key.clone(),
                sender: None,
            })
            .await,
        "idempotency_key",
    );
    invalid(cases.create_case(create("Conveyor stops", &long(201))).await, "idempotency_key");
    invalid(cases.add_activity(note("Called the customer again")).await, "idempotency_key");
    invalid(
        cases.add_activity(pb::AddActivityRequest { idempotency_key: long(201), ..note("Left a message") }).await,
        "idempotency_key",
    );

    assert_eq!(app.row_counts().await, before);
    assert_eq!(read_case(&app, &first.id).await, current);
}

// --- CaseService: reading cases ---------------------------------------------

async fn case_lookups_with_malformed_or_unknown_ids_or_numbers_are_refused(app: TestApp) {
    let customer = customer(&app).await;
    let existing = case(&app, &customer, "Conveyor stops").await;
    let mut cases = app.cases(VIEWER);
    let by_id = |id: &str| pb::GetCaseRequest { lookup: Some(get_case_request::Lookup::Id(id.to_owned())) };
    let by_number = |number: &str| pb::GetCaseRequest { lookup: Some(get_case_request::Lookup::CaseNumber(number.to_owned())) };
    let before = app.row_counts().await;

    invalid(cases.get_case(pb::GetCaseRequest { lookup: None }).await, "lookup");
    invalid(cases.get_case(by_id("")).await, "id");
    invalid(cases.get_case(by_id("not-a-uuid")).await, "id");
    invalid(cases.get_case(by_id(&existing.case_number)).await, "id");
    refused(cases.get_case(by_id(&unknown_id())).await, Code::NotFound);
    refused(cases.get_case(by_id(&customer.account.id)).await, Code::NotFound);
    for number in ["", "123", "C-", "C-12a", "C-0", "X-000001", "C-99999999999999999999"] {
        invalid(cases.get_case(by_number(number)).await, "case_number");
    }
    refused(cases.get_case(by_number("C-999999")).await, Code::NotFound);

    let activities = |case_id: &str| pb::ListActivitiesRequest { case_id: case_id.to_owned(), ..Default::default() };
    invalid(cases.list_activities(activities("")).await, "case_id");
    invalid(cases.list_activities(activities("not-a-uuid")).await, "case_id");
    refused(cases.list_activities(activities(&unknown_id())).await, Code::NotFound);
    invalid(cases.list_activities(pb::ListActivitiesRequest { page_size: -1, ..activities(&existing.id) }).await, "page_size");
    invalid(
        cases.list_activities(pb::ListActivitiesRequest { page_token: "garbage!".into(), ..activities(&existing.id) }).await,
        "page_token",
    );
    invalid(
        cases.list_activities(pb::ListActivitiesRequest { page_token: FOREIGN_TOKEN.into(), ..activities(&existing.id) }).await,
        "page_token",
    );

    invalid(cases.list_case_history(history_of("")).await, "id");
    invalid(cases.list_case_history(history_of("not-a-uuid")).await, "id");
    invalid(cases.list_case_history(pb::ListHistoryRequest { page_size: -1, ..history_of(&existing.id) }).await, "page_size");
    invalid(
        cases.list_case_history(pb::ListHistoryRequest { page_token: "garbage!".into(), ..history_of(&existing.id) }).await,
        "page_token",
    );
    invalid(
        cases.list_case_history(pb::ListHistoryRequest { page_token: NUL_ID_TOKEN.into(), ..history_of(&existing.id) }).await,
        "page_token",
    );

    let recent = |case_id: &str| pb::ListRecentActivitiesRequest { case_id: case_id.to_owned(), ..Default::default() };
    invalid(cases.list_recent_activities(recent("not-a-uuid")).await, "case_id");
    refused(cases.list_recent_activities(recent(&unknown_id())).await, Code::NotFound);
    invalid(
        cases.list_recent_activities(pb::ListRecentActivitiesRequest { page_size: -1, ..recent(&existing.id) }).await,
        "page_size",
    );
    for token in ["garbage!", FOREIGN_TOKEN] {
        let request = pb::ListRecentActivitiesRequest { page_token: token.into(), ..recent(&existing.id) };
        invalid(cases.list_recent_activities(request).await, "page_token");
    }
    let request = pb::ListRecentActivitiesRequest { before_sequence: -1, ..recent(&existing.id) };
    invalid(cases.list_recent_activities(request).await, "before_sequence");

    let changes = |case_id: &str| pb::ListCaseStatusChangesRequest { case_id: case_id.to_owned(), ..Default::default() };
    invalid(cases.list_case_status_changes(changes("")).await, "case_id");
    refused(cases.list_case_status_changes(changes(&unknown_id())).await, Code::NotFound);
    invalid(
        cases.list_case_status_changes(pb::ListCaseStatusChangesRequest { page_size: -1, ..changes(&existing.id) }).await,
        "page_size",
    );
    for token in ["garbage!", FOREIGN_TOKEN, "eyJiZWZvcmUiOiJcdTAwMDAifQ"] {
        let request = pb::ListCaseStatusChangesRequest { page_token: token.into(), ..changes(&existing.id) };
        invalid(cases.list_case_status_changes(request).await, "page_token");
    }
    let request = pb::ListCaseStatusChangesRequest { before_id: "nope".into(), ..changes(&existing.id) };
    invalid(cases.list_case_status_changes(request).await, "before_id");

    assert_eq!(app.row_counts().await, before);
}

async fn listing_cases_with_bad_pages_filters_or_timestamps_is_refused(app: TestApp) {
    let customer = customer(&app).await;
    case(&app, &customer, "Conveyor stops").await;
    let mut cases = app.cases(VIEWER);
    let list = |f: &dyn Fn(&mut pb::ListCasesRequest)| {
        let mut request = pb::ListCasesRequest::default();
        f(&mut request);
        request
    };
    let at = |seconds: i64, nanos: i32| Some(prost_types::Timestamp { seconds, nanos });
    let before = app.row_counts().await;

    invalid(cases.list_cases(list(&|r| r.page_size = -1)).await, "page_size");
    invalid(cases.list_cases(list(&|r| r.page_size = i32::MIN)).await, "page_size");
    invalid(cases.list_cases(list(&|r| r.page_token = "garbage!".into())).await, "page_token");
    invalid(cases.list_cases(list(&|r| r.page_token = FOREIGN_TOKEN.into())).await, "page_token");
    // Forged tokens of the right shape whose sort key cannot come from this
    // order: an update time 146,000 years ago, a priority of 260.
    let far_past = "eyJrZXkiOi00NjExNjg2MDE4NDI3Mzg3OTA0LCJudW1iZXIiOjF9";
    let no_priority = "eyJrZXkiOjI2MCwibnVtYmVyIjoxfQ";
    invalid(
        cases
            .list_cases(list(&|r| {
                r.order_by = pb::CaseOrder::UpdateTimeDesc as i32;
                r.page_token = far_past.into();
            }))
            .await,
        "page_token",
    );
    invalid(
        cases
            .list_cases(list(&|r| {
                r.order_by = pb::CaseOrder::PriorityDesc as i32;
                r.page_token = no_priority.into();
            }))
            .await,
        "page_token",
    );
    invalid(cases.list_cases(list(&|r| r.statuses = vec![99])).await, "statuses[0]");
    invalid(cases.list_cases(list(&|r| r.statuses = vec![pb::CaseStatus::Pending as i32, 0])).await, "statuses[1]");
    invalid(cases.list_cases(list(&|r| r.priorities = vec![7])).await, "priorities[0]");
    invalid(cases.list_cases(list(&|r| r.order_by = 42)).await, "order_by");
    invalid(cases.list_cases(list(&|r| r.type_id = "Technical Issue".into())).await, "type_id");
    invalid(cases.list_cases(list(&|r| r.owner_id = "not-a-uuid".into())).await, "owner_id");
    invalid(cases.list_cases(list(&|r| r.team_id = "not-a-uuid".into())).await, "team_id");
    invalid(cases.list_cases(list(&|r| r.account_id = "not-a-uuid".into())).await, "account_id");
    invalid(cases.list_cases(list(&|r| r.contact_id = "not-a-uuid".into())).await, "contact_id");
    invalid(cases.list_cases(list(&|r| r.text = "x".repeat(201))).await, "text");
    invalid(cases.list_cases(list(&|r| r.tag = "x".repeat(51))).await, "tag");
    // Nanos outside 0..1e9, and seconds outside 0001-01-01..9999-12-31, the
    // range google.protobuf.Timestamp allows.
    invalid(cases.list_cases(list(&|r| r.created_after = at(1_700_000_000, -1))).await, "created_after");
    invalid(cases.list_cases(list(&|r| r.created_after = at(1_700_000_000, 1_000_000_000))).await, "created_after");
    invalid(cases.list_cases(list(&|r| r.created_before = at(i64::MAX, 0))).await, "created_before");
    invalid(cases.list_cases(list(&|r| r.created_before = at(i64::MIN, 0))).await, "created_before");
    invalid(cases.list_cases(list(&|r| r.created_after = at(-62_135_596_801, 0))).await, "created_after");
    invalid(cases.list_cases(list(&|r| r.created_before = at(253_402_300_800, 0))).await, "created_before");
    invalid(cases.list_cases(list(&|r| r.created_after = at(-8_000_000_000_000, 0))).await, "created_after");
    invalid_each(
        cases
            .list_cases(list(&|r| {
                r.page_size = -1;
                r.statuses = vec![99];
                r.created_after = at(0, -5);
            }))
            .await,
        &["page_size", "statuses[0]", "created_after"],
    );
    // The extremes of the allowed range are fine.
    let edges = cases
        .list_cases(list(&|r| {
            r.created_after = at(-62_135_596_800, 0);
            r.created_before = at(253_402_300_799, 999_999_999);
        }))
        .await
        .expect("the widest valid range")
        .into_inner();
    assert_eq!(edges.cases.len(), 1);

    assert_eq!(app.row_counts().await, before);
}

// --- CaseService: changing cases ---------------------------------------------

async fn a_case_update_needs_a_current_etag_and_a_mask_of_descriptive_fields(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Conveyor stops").await;
    let mut cases = app.cases(AGENT);
    let update = |case: pb::Case, paths: &[&str]| pb::UpdateCaseRequest {
        case: Some(case),
        update_mask: mask(paths),
        reason: String::new(),
    };
    let current = cases
        .update_case(update(pb::Case { description: "Stops every 50 minutes.".into(), ..created.clone() }, &["description"]))
        .await
        .expect("first update")
        .into_inner();
    assert_eq!(current.etag, "2");
    let edit = |etag: &str| pb::Case { subject: "Conveyor stops hourly".into(), etag: etag.to_owned(), ..current.clone() };
    let before = app.row_counts().await;

    invalid_each(cases.update_case(pb::UpdateCaseRequest::default()).await, &["case.id", "case.etag", "update_mask"]);
    invalid(cases.update_case(update(edit(""), &["subject"])).await, "case.etag");
    invalid(cases.update_case(update(edit("W/\"2\""), &["subject"])).await, "case.etag");
    refused(cases.update_case(update(edit("1"), &["subject"])).await, Code::Aborted);
    refused(cases.update_case(update(edit("3"), &["subject"])).await, Code::Aborted);
    invalid(cases.update_case(update(pb::Case { id: "not-a-uuid".into(), ..edit("2") }, &["subject"])).await, "case.id");
    refused(cases.update_case(update(pb::Case { id: unknown_id(), ..edit("2") }, &["subject"])).await, Code::NotFound);
    invalid(cases.update_case(update(edit("2"), &[])).await, "update_mask");
    // Status, owner and resolution have their own verbs; output fields never change.
    for path in ["status", "owner_id", "resolution_summary", "case_number", "create_time", "created_by", "subjects"] {
        invalid(cases.update_case(update(edit("2"), &["subject", path])).await, "update_mask");
    }
    invalid(cases.update_case(update(pb::Case { subject: String::new(), ..edit("2") }, &["subject"])).await, "case.subject");
    invalid(cases.update_case(update(pb::Case { subject: long(251), ..edit("2") }, &["subject"])).await, "case.subject");
    invalid(cases.update_case(update(pb::Case { priority: 0, ..edit("2") }, &["priority"])).await, "case.priority");
    invalid(cases.update_case(update(pb::Case { priority: 99, ..edit("2") }, &["priority"])).await, "case.priority");
    invalid(cases.update_case(update(pb::Case { channel: 99, ..edit("2") }, &["channel"])).await, "case.channel");
    invalid(
        cases.update_case(update(pb::Case { type_id: "no_such_type".into(), ..edit("2") }, &["type_id"])).await,
        "case.type_id",
    );
    for account_id in [String::new(), "not-a-uuid".to_owned(), unknown_id()] {
        invalid(cases.update_case(update(pb::Case { account_id, ..edit("2") }, &["account_id"])).await, "case.account_id");
    }
    invalid(cases.update_case(update(pb::Case { team_id: unknown_id(), ..edit("2") }, &["team_id"])).await, "case.team_id");
    invalid(
        cases
            .update_case(update(
                pb::Case { contacts: vec![pb::CaseContact { contact_id: unknown_id(), primary: true }], ..edit("2") },
                &["contacts"],
            ))
            .await,
        "case.contacts[0].contact_id",
    );
    invalid(cases.update_case(update(pb::Case { tags: vec![String::new()], ..edit("2") }, &["tags"])).await, "case.tags[0]");
    invalid(cases.update_case(pb::UpdateCaseRequest { reason: long(1_001), ..update(edit("2"), &["subject"]) }).await, "reason");

    assert_eq!(app.row_counts().await, before);
    assert_eq!(read_case(&app, &created.id).await, current);
}

async fn assigning_a_case_to_a_malformed_unknown_or_inactive_owner_or_team_is_refused(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Conveyor stops").await;
    let ana = staff_user(&app, "Ana Ruiz").await;
    let gone = staff_user(&app, "Gone Away").await;
    app.staff(ADMIN)
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser { id: gone.id.clone(), etag: gone.etag.clone(), active: false, ..Default::default() }),
            update_mask: mask(&["active"]),
            reason: "left the company".into(),
        })
        .await
        .expect("deactivate");
    let mut cases = app.cases(AGENT);
    let assign = |owner_id: &str, etag: &str| pb::AssignCaseRequest {
        id: created.id.clone(),
        owner_id: owner_id.to_owned(),
        team_id: String::new(),
        etag: etag.to_owned(),
        reason: String::new(),
    };
    let current = cases.assign_case(assign(&ana.id, &created.etag)).await.expect("assign ana").into_inner();
    assert_eq!(current.etag, "2");
    let before = app.row_counts().await;

    invalid(cases.assign_case(pb::AssignCaseRequest { id: String::new(), ..assign(&ana.id, "") }).await, "id");
    invalid(cases.assign_case(pb::AssignCaseRequest { id: "not-a-uuid".into(), ..assign(&ana.id, "") }).await, "id");
    refused(cases.assign_case(pb::AssignCaseRequest { id: unknown_id(), ..assign(&ana.id, "") }).await, Code::NotFound);
    for owner in ["not-a-uuid".to_owned(), unknown_id(), gone.id.clone(), customer.contact.id.clone()] {
        invalid(cases.assign_case(assign(&owner, "")).await, "owner_id");
        invalid(cases.assign_case(assign(&owner, "2")).await, "owner_id");
    }
    for team in ["not-a-uuid".to_owned(), unknown_id()] {
        invalid(cases.assign_case(pb::AssignCaseRequest { team_id: team, ..assign(&ana.id, "2") }).await, "team_id");
    }
    invalid(cases.assign_case(assign(&ana.id, "abc")).await, "etag");
    refused(cases.assign_case(assign(&ana.id, "1")).await, Code::Aborted);
    refused(cases.assign_case(assign("", "1")).await, Code::Aborted);
    invalid(cases.assign_case(pb::AssignCaseRequest { reason: long(1_001), ..assign(&ana.id, "2") }).await, "reason");

    assert_eq!(app.row_counts().await, before);
    assert_eq!(read_case(&app, &created.id).await, current);
}

async fn setting_a_case_status_refuses_unknown_statuses_stale_etags_and_illegal_moves(app: TestApp) {
    let customer = customer(&app).await;
    let fresh = case(&app, &customer, "Nobody owns me").await;
    let owned = case(&app, &customer, "Ana owns me").await;
    let ana = staff_user(&app, "Ana Ruiz").await;
    let mut cases = app.cases(AGENT);
    let owned = cases
        .assign_case(pb::AssignCaseRequest { id: owned.id.clone(), owner_id: ana.id.clone(), ..Default::default() })
        .await
        .expect("assign")
        .into_inner();
    let set = |id: &str, status: pb::CaseStatus, etag: &str| pb::SetCaseStatusRequest {
        id: id.to_owned(),
        status: status as i32,
        etag: etag.to_owned(),
        reason: String::new(),
    };
    let before = app.row_counts().await;

    invalid_each(cases.set_case_status(pb::SetCaseStatusRequest::default()).await, &["id", "status"]);
    invalid(cases.set_case_status(set(&owned.id, pb::CaseStatus::Unspecified, "")).await, "status");
    invalid(
        cases.set_case_status(pb::SetCaseStatusRequest { status: 99, ..set(&owned.id, pb::CaseStatus::Pending, "") }).await,
        "status",
    );
    invalid(cases.set_case_status(set("not-a-uuid", pb::CaseStatus::Pending, "")).await, "id");
    refused(cases.set_case_status(set(&unknown_id(), pb::CaseStatus::Pending, "")).await, Code::NotFound);
    invalid(cases.set_case_status(set(&owned.id, pb::CaseStatus::Pending, "x")).await, "etag");
    refused(cases.set_case_status(set(&owned.id, pb::CaseStatus::Pending, "1")).await, Code::Aborted);
    // Pending needs an owner; closing and reopening have their own verbs.
    refused(cases.set_case_status(set(&fresh.id, pb::CaseStatus::Pending, "")).await, Code::FailedPrecondition);
    refused(cases.set_case_status(set(&fresh.id, pb::CaseStatus::ActiveAssigned, "")).await, Code::FailedPrecondition);
    refused(cases.set_case_status(set(&owned.id, pb::CaseStatus::ActiveNew, "")).await, Code::FailedPrecondition);
    refused(cases.set_case_status(set(&owned.id, pb::CaseStatus::ClosedComplete, "")).await, Code::FailedPrecondition);
    refused(cases.set_case_status(set(&owned.id, pb::CaseStatus::ClosedNoFault, "")).await, Code::FailedPrecondition);

    assert_eq!(app.row_counts().await, before);
    assert_eq!(read_case(&app, &fresh.id).await, fresh);
    assert_eq!(read_case(&app, &owned.id).await, owned);
}

async fn closing_a_case_needs_a_resolution_summary_and_a_closed_status(app: TestApp) {
    let customer = customer(&app).await;
    let open = case(&app, &customer, "Still open").await;
    let closed = case(&app, &customer, "Already closed").await;
    let mut cases = app.cases(AGENT);
    let close = |id: &str, status: pb::CaseStatus, resolution: &str, etag: &str| pb::CloseCaseRequest {
        id: id.to_owned(),
        status: status as i32,
        resolution_summary: resolution.to_owned(),
        etag: etag.to_owned(),
        reason: String::new(),
    };
    let complete = pb::CaseStatus::ClosedComplete;
    let closed = cases.close_case(close(&closed.id, complete, "Replaced the belt.", "")).await.expect("close").into_inner();
    let before = app.row_counts().await;

    invalid_each(cases.close_case(pb::CloseCaseRequest::default()).await, &["id", "status", "resolution_summary"]);
    invalid(cases.close_case(close(&open.id, complete, "", "")).await, "resolution_summary");
    invalid(cases.close_case(close(&open.id, complete, " \n\t ", "")).await, "resolution_summary");
    invalid(cases.close_case(close(&open.id, complete, &long(20_001), "")).await, "resolution_summary");
    for status in
        [pb::CaseStatus::Unspecified, pb::CaseStatus::ActiveNew, pb::CaseStatus::ActiveAssigned, pb::CaseStatus::Pending]
    {
        invalid(cases.close_case(close(&open.id, status, "Replaced the belt.", "")).await, "status");
    }
    invalid(
        cases.close_case(pb::CloseCaseRequest { status: 99, ..close(&open.id, complete, "Replaced the belt.", "") }).await,
        "status",
    );
    invalid_each(cases.close_case(close(&open.id, pb::CaseStatus::Pending, "", "")).await, &["status", "resolution_summary"]);
    invalid(cases.close_case(close("not-a-uuid", complete, "Replaced the belt.", "")).await, "id");
    refused(cases.close_case(close(&unknown_id(), complete, "Replaced the belt.", "")).await, Code::NotFound);
    invalid(cases.close_case(close(&open.id, complete, "Replaced the belt.", "nope")).await, "etag");
    refused(cases.close_case(close(&open.id, complete, "Replaced the belt.", "2")).await, Code::Aborted);
    refused(
        cases.close_case(close(&closed.id, pb::CaseStatus::ClosedNoFault, "Not our fault.", "")).await,
        Code::FailedPrecondition,
    );
    invalid(
        cases.close_case(pb::CloseCaseRequest { reason: long(1_001), ..close(&open.id, complete, "Fixed.", "") }).await,
        "reason",
    );

    assert_eq!(app.row_counts().await, before);
    assert_eq!(read_case(&app, &open.id).await, open);
    assert_eq!(read_case(&app, &closed.id).await, closed);
}

async fn reopening_a_case_needs_a_reason_and_a_closed_case(app: TestApp) {
    let customer = customer(&app).await;
    let open = case(&app, &customer, "Still open").await;
    let closed = case(&app, &customer, "Already closed").await;
    let mut cases = app.cases(AGENT);
    let closed = cases
        .close_case(pb::CloseCaseRequest {
            id: closed.id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Replaced the belt.".into(),
            ..Default::default()
        })
        .await
        .expect("close")
        .into_inner();
    let reopen = |id: &str, reason: &str, etag: &str| pb::ReopenCaseRequest {
        id: id.to_owned(),
        reason: reason.to_owned(),
        etag: etag.to_owned(),
    };
    let before = app.row_counts().await;

    invalid_each(cases.reopen_case(pb::ReopenCaseRequest::default()).await, &["id", "reason"]);
    invalid(cases.reopen_case(reopen(&closed.id, "", "")).await, "reason");
    invalid(cases.reopen_case(reopen(&closed.id, "   ", "")).await, "reason");
    invalid(cases.reopen_case(reopen(&closed.id, &long(1_001), "")).await, "reason");
    invalid(cases.reopen_case(reopen("not-a-uuid", "It broke again.", "")).await, "id");
    refused(cases.reopen_case(reopen(&unknown_id(), "It broke again.", "")).await, Code::NotFound);
    invalid(cases.reopen_case(reopen(&closed.id, "It broke again.", "0")).await, "etag");
    refused(cases.reopen_case(reopen(&closed.id, "It broke again.", "1")).await, Code::Aborted);
    refused(cases.reopen_case(reopen(&open.id, "It broke again.", "")).await, Code::FailedPrecondition);

    assert_eq!(app.row_counts().await, before);
    assert_eq!(read_case(&app, &open.id).await, open);
    assert_eq!(read_case(&app, &closed.id).await, closed);
}

async fn an_activity_with_details_that_do_not_fit_its_kind_is_refused(app: TestApp) {
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Conveyor stops").await;
    let mut cases = app.cases(AGENT);
    let add = |activity: pb::Activity| pb::AddActivityRequest { activity: Some(activity), idempotency_key: String::new() };
    let note = pb::Activity {
        case_id: created.id.clone(),
        kind: pb::ActivityKind::Note as i32,
        body: "Customer called back.".into(),
        ..Default::default()
    };
    let call_detail = pb::CallDetail { direction: pb::Direction::Outbound as i32, duration_seconds: 120 };
    let call = pb::Activity { kind: pb::ActivityKind::Call as i32, call: Some(call_detail), ..note.clone() };
    let email_detail = pb::EmailDetail {
        direction: pb::Direction::Outbound as i32,
        from: "support@docket.example".into(),
        to: vec![customer.contact.email.clone()],
        subject: "Your conveyor".into(),
    };
    let email = pb::Activity { kind: pb::ActivityKind::Email as i32, email: Some(email_detail.clone()), ..note.clone() };
    let with_email = |f: &dyn Fn(&mut pb::EmailDetail)| {
        let mut detail = email_detail.clone();
        f(&mut detail);
        pb::Activity { email: Some(detail), ..email.clone() }
    };
    let with_call = |direction: pb::Direction, duration_seconds: i32| pb::Activity {
        call: Some(pb::CallDetail { direction: direction as i32, duration_seconds }),
        ..call.clone()
    };
    let before = app.row_counts().await;

    invalid_each(cases.add_activity(pb::AddActivityRequest::default()).await, &["activity.case_id", "activity.kind"]);
    invalid(cases.add_activity(add(pb::Activity { kind: 0, ..note.clone() })).await, "activity.kind");
    invalid(cases.add_activity(add(pb::Activity { kind: 9, ..note.clone() })).await, "activity.kind");
    invalid(cases.add_activity(add(pb::Activity { visibility: 7, ..note.clone() })).await, "activity.visibility");
    invalid(cases.add_activity(add(pb::Activity { case_id: "not-a-uuid".into(), ..note.clone() })).await, "activity.case_id");
    invalid(cases.add_activity(add(pb::Activity { case_id: unknown_id(), ..note.clone() })).await, "activity.case_id");
    invalid(cases.add_activity(add(pb::Activity { body: "  ".into(), ..note.clone() })).await, "activity.body");
    invalid(cases.add_activity(add(pb::Activity { body: long(20_001), ..note.clone() })).await, "activity.body");
    // Details that belong to another kind.
    invalid(cases.add_activity(add(pb::Activity { call: Some(call_detail), ..note.clone() })).await, "activity.call");
    invalid(cases.add_activity(add(pb::Activity { email: Some(email_detail.clone()), ..note.clone() })).await, "activity.email");
    invalid(cases.add_activity(add(pb::Activity { email: Some(email_detail.clone()), ..call.clone() })).await, "activity.email");
    invalid(cases.add_activity(add(pb::Activity { call: Some(call_detail), ..email.clone() })).await, "activity.call");
    // Calls.
    invalid(cases.add_activity(add(with_call(pb::Direction::Outbound, -1))).await, "activity.call.duration_seconds");
    invalid(cases.add_activity(add(with_call(pb::Direction::Outbound, 86_401))).await, "activity.call.duration_seconds");
    invalid(cases.add_activity(add(with_call(pb::Direction::Unspecified, 60))).await, "activity.call.direction");
    invalid(cases.add_activity(add(pb::Activity { call: None, ..call.clone() })).await, "activity.call.direction");
    // Emails.
    invalid(cases.add_activity(add(with_email(&|e| e.to.clear()))).await, "activity.email.to");
    invalid(cases.add_activity(add(pb::Activity { email: None, ..email.clone() })).await, "activity.email.to");
    invalid(cases.add_activity(add(with_email(&|e| e.to = vec!["petra at acme".into()]))).await, "activity.email.to[0]");
    invalid(cases.add_activity(add(with_email(&|e| e.to.push("petra@".into())))).await, "activity.email.to[1]");
    invalid(cases.add_activity(add(with_email(&|e| e.to.push(String::new())))).await, "activity.email.to[1]");
    invalid(
        cases.add_activity(add(with_email(&|e| e.to = (0..51).map(|i| format!("p{i}@acme.example")).collect()))).await,
        "activity.email.to",
    );
    invalid(cases.add_activity(add(with_email(&|e| e.from.clear()))).await, "activity.email.from");
    invalid(cases.add_activity(add(with_email(&|e| e.from = "support".into()))).await, "activity.email.from");
    invalid(cases.add_activity(add(with_email(&|e| e.direction = 0))).await, "activity.email.direction");
    invalid(cases.add_activity(add(with_email(&|e| e.subject = long(251)))).await, "activity.email.subject");

    assert_eq!(app.row_counts().await, before);
    // A refused activity does not touch its case.
    assert_eq!(read_case(&app, &created.id).await, created);
}

async fn case_type_changes_need_a_valid_key_a_name_and_a_known_mask(app: TestApp) {
    let mut cases = app.cases(ADMIN);
    let create = |id: &str, name: &str| pb::CreateCaseTypeRequest {
        case_type: Some(pb::CaseType { id: id.to_owned(), name: name.to_owned(), active: true }),
    };
    let update = |id: &str, name: &str, paths: &[&str]| pb::UpdateCaseTypeRequest {
        case_type: Some(pb::CaseType { id: id.to_owned(), name: name.to_owned(), active: false }),
        update_mask: mask(paths),
    };
    let catalogue = cases.list_case_types(pb::ListCaseTypesRequest { include_inactive: true }).await.expect("list").into_inner();
    let before = app.row_counts().await;

    invalid_each(cases.create_case_type(pb::CreateCaseTypeRequest::default()).await, &["case_type.id", "case_type.name"]);
    for id in ["", "Warranty Claim", "warranty-claim", "garantía", &"a".repeat(51)] {
        invalid(cases.create_case_type(create(id, "Warranty claim")).await, "case_type.id");
    }
    invalid(cases.create_case_type(create("site_visit", "")).await, "case_type.name");
    invalid(cases.create_case_type(create("site_visit", &long(201))).await, "case_type.name");
    let taken = refused(cases.create_case_type(create("complaint", "Complaint again")).await, Code::AlreadyExists);
    assert_field_error(&taken, Code::AlreadyExists, "case_type.id");

    invalid(cases.update_case_type(update("complaint", "Complaints", &[])).await, "update_mask");
    for path in ["id", "position", "Name"] {
        invalid(cases.update_case_type(update("complaint", "Complaints", &[path])).await, "update_mask");
    }
    invalid(cases.update_case_type(update("Complaint!", "Complaints", &["name"])).await, "case_type.id");
    invalid(cases.update_case_type(update("complaint", " ", &["name"])).await, "case_type.name");
    refused(cases.update_case_type(update("no_such_type", "Nothing", &["name"])).await, Code::NotFound);
    refused(cases.update_case_type(update("no_such_type", "", &["active"])).await, Code::NotFound);

    assert_eq!(app.row_counts().await, before);
    let after = cases.list_case_types(pb::ListCaseTypesRequest { include_inactive: true }).await.expect("list").into_inner();
    assert_eq!(after, catalogue);
}
