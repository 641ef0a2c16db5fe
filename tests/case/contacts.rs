//! ContactService: contacts of accounts, unique by email whatever its case.

use docket_proto::case::v1::{self as pb, get_contact_request::Lookup};
use tonic::Code;

use crate::{
    common::{AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{account, contact, mask},
    on_both_backends,
};

on_both_backends!(
    a_contact_is_found_by_id_or_email_whatever_its_case,
    a_second_contact_with_the_same_email_in_other_case_is_refused,
    contacts_are_searched_by_name_or_email_and_filtered_by_account,
    an_update_moves_a_contact_and_leaves_a_trail,
    concurrent_retries_of_one_create_return_the_same_contact,
    find_or_create_finds_a_known_person_and_places_a_new_one,
    concurrent_first_messages_from_one_person_make_one_contact_and_one_unassigned_account,
    find_or_create_refuses_bad_input_and_writes_nothing,
);

fn person(email: &str) -> pb::FindOrCreateContactRequest {
    pb::FindOrCreateContactRequest { email: email.into(), name: "Mia Meyer".into(), ..Default::default() }
}

async fn find_or_create_finds_a_known_person_and_places_a_new_one(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let petra = contact(&app, &acme.id, "Petra Schmidt", "petra@acme.example").await;
    let mut contacts = app.contacts(AGENT);
    let found = contacts
        .find_or_create_contact(pb::FindOrCreateContactRequest { with_unassigned_account: true, ..person("PETRA@acme.example") })
        .await
        .unwrap()
        .into_inner();
    assert!(!found.created);
    assert_eq!(found.contact.unwrap(), petra, "the known contact, unchanged");
    let parking = app.accounts(AGENT).get_account(pb::GetAccountRequest { id: found.unassigned_account_id }).await.unwrap();
    assert_eq!(parking.into_inner().name, "Unassigned", "the account where unplaced work waits, made when missing");

    let placed = contacts
        .find_or_create_contact(pb::FindOrCreateContactRequest { account_id: acme.id.clone(), ..person("mia@acme.example") })
        .await
        .unwrap()
        .into_inner();
    assert!(placed.created);
    let mia = placed.contact.unwrap();
    assert_eq!(
        (mia.account_id.as_str(), mia.name.as_str(), mia.email.as_str()),
        (acme.id.as_str(), "Mia Meyer", "mia@acme.example")
    );

    // Without an account: the unassigned one, made on first use, and named as asked.
    let stranger = contacts
        .find_or_create_contact(pb::FindOrCreateContactRequest {
            name: String::new(),
            unassigned_account_name: "  Web   leads ".into(),
            ..person("someone@elsewhere.example")
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(stranger.name, "someone@elsewhere.example", "no name given: the address");
    let unassigned =
        app.accounts(AGENT).get_account(pb::GetAccountRequest { id: stranger.account_id.clone() }).await.unwrap().into_inner();
    assert_eq!(unassigned.name, "Web leads");
    let history = app
        .contacts(AGENT)
        .list_contact_history(pb::ListHistoryRequest { id: stranger.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(history.entries.iter().any(|e| e.field == "email" && e.new_value == "someone@elsewhere.example"), "trailed");
}

async fn concurrent_first_messages_from_one_person_make_one_contact_and_one_unassigned_account(app: TestApp) {
    let before = app.row_counts().await;
    let burst = futures::future::join_all((0..8).map(|i| {
        let mut contacts = app.contacts(AGENT);
        // Two people, four calls each, all at once.
        let request = pb::FindOrCreateContactRequest {
            with_unassigned_account: true,
            ..person(if i % 2 == 0 { "ann@first.example" } else { "bob@first.example" })
        };
        async move { contacts.find_or_create_contact(request).await.map(|c| c.into_inner()) }
    }))
    .await;
    let answers: Vec<_> = burst.into_iter().map(|r| r.expect("each call gets the contact")).collect();
    let ids: std::collections::BTreeSet<String> = answers.iter().map(|a| a.contact.clone().unwrap().id).collect();
    assert_eq!(ids.len(), 2, "one contact per person");
    assert_eq!(answers.iter().filter(|a| a.created).count(), 2, "each made once");
    let accounts: std::collections::BTreeSet<String> = answers.iter().map(|a| a.contact.clone().unwrap().account_id).collect();
    assert_eq!(accounts.len(), 1, "one unassigned account");
    assert!(answers.iter().all(|a| accounts.contains(&a.unassigned_account_id)), "each call names that account");
    let after = app.row_counts().await;
    let grew = |table: &str| {
        let n = |counts: &[(String, i64)]| counts.iter().find(|(t, _)| t == table).map(|(_, n)| *n).unwrap_or_default();
        n(&after) - n(&before)
    };
    assert_eq!((grew("accounts"), grew("contacts")), (1, 2));
}

async fn find_or_create_refuses_bad_input_and_writes_nothing(app: TestApp) {
    let mut contacts = app.contacts(AGENT);
    let before = app.row_counts().await;
    for (request, field) in [
        (pb::FindOrCreateContactRequest::default(), "email"),
        (person("not an address"), "email"),
        (pb::FindOrCreateContactRequest { name: "x".repeat(201), ..person("a@b.example") }, "name"),
        (pb::FindOrCreateContactRequest { account_id: "nope".into(), ..person("a@b.example") }, "account_id"),
        (pb::FindOrCreateContactRequest { account_id: uuid_v7(), ..person("a@b.example") }, "account_id"),
        (
            pb::FindOrCreateContactRequest { unassigned_account_name: "bad\u{0}".into(), ..person("a@b.example") },
            "unassigned_account_name",
        ),
    ] {
        let refused = contacts.find_or_create_contact(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let refused = app.contacts(VIEWER).find_or_create_contact(person("a@b.example")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(app.row_counts().await, before, "nothing written");
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn concurrent_retries_of_one_create_return_the_same_contact(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let key = crate::fixtures::unique("contact");
    let burst = futures::future::join_all((0..8).map(|_| {
        let mut contacts = app.contacts(AGENT);
        let request = pb::CreateContactRequest {
            contact: Some(pb::Contact {
                account_id: acme.id.clone(),
                name: "Petra".into(),
                email: "petra@acme.example".into(),
                ..Default::default()
            }),
            idempotency_key: key.clone(),
        };
        async move { contacts.create_contact(request).await.map(|c| c.into_inner().id) }
    }))
    .await;
    let ids: std::collections::BTreeSet<String> =
        burst.into_iter().map(|r| r.expect("a retry returns the first result")).collect();
    assert_eq!(ids.len(), 1);
}

async fn a_contact_is_found_by_id_or_email_whatever_its_case(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let created = contact(&app, &acme.id, "Petra Schmidt", "Petra.Schmidt@Acme.example").await;
    assert_eq!(created.email, "Petra.Schmidt@Acme.example", "kept as written");
    let mut contacts = app.contacts(VIEWER);
    let by_id =
        contacts.get_contact(pb::GetContactRequest { lookup: Some(Lookup::Id(created.id.clone())) }).await.unwrap().into_inner();
    let by_email = contacts
        .get_contact(pb::GetContactRequest { lookup: Some(Lookup::Email("petra.schmidt@acme.EXAMPLE".into())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id, created);
    assert_eq!(by_email, created);
    let missing = contacts
        .get_contact(pb::GetContactRequest { lookup: Some(Lookup::Email("nobody@acme.example".into())) })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn a_second_contact_with_the_same_email_in_other_case_is_refused(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let first = contact(&app, &acme.id, "Petra", "petra@acme.example").await;
    let before = app.row_counts().await;
    let refused = app
        .contacts(AGENT)
        .create_contact(pb::CreateContactRequest {
            contact: Some(pb::Contact {
                account_id: acme.id.clone(),
                name: "Petra Again".into(),
                email: "PETRA@acme.example".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::AlreadyExists, "contact.email");
    assert_eq!(app.row_counts().await, before);

    // Changing another contact's email to it is refused too.
    let jonas = contact(&app, &acme.id, "Jonas", "jonas@acme.example").await;
    let refused = app
        .contacts(AGENT)
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact {
                id: jonas.id.clone(),
                etag: jonas.etag.clone(),
                email: "Petra@Acme.Example".into(),
                ..Default::default()
            }),
            update_mask: mask(&["email"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    // Contacts without an email do not collide.
    contact(&app, &acme.id, "No Mail One", "").await;
    contact(&app, &acme.id, "No Mail Two", "").await;
    let _ = first;
}

async fn contacts_are_searched_by_name_or_email_and_filtered_by_account(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let bright = account(&app, "Bright").await;
    contact(&app, &acme.id, "Petra Schmidt", "petra@acme.example").await;
    contact(&app, &acme.id, "Jonas Weber", "jonas@acme.example").await;
    contact(&app, &bright.id, "Lena Vogel", "lena@bright.example").await;
    let names = |request: pb::ListContactsRequest| {
        let mut contacts = app.contacts(VIEWER);
        async move {
            contacts.list_contacts(request).await.unwrap().into_inner().contacts.into_iter().map(|c| c.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(names(pb::ListContactsRequest { query: "SCHMIDT".into(), ..Default::default() }).await, ["Petra Schmidt"]);
    assert_eq!(names(pb::ListContactsRequest { query: "bright.example".into(), ..Default::default() }).await, ["Lena Vogel"]);
    assert_eq!(
        names(pb::ListContactsRequest { account_id: acme.id.clone(), ..Default::default() }).await,
        ["Jonas Weber", "Petra Schmidt"]
    );
    assert_eq!(
        names(pb::ListContactsRequest { query: "_".into(), ..Default::default() }).await,
        Vec::<String>::new(),
        "wildcards are literal"
    );
}

async fn an_update_moves_a_contact_and_leaves_a_trail(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let bright = account(&app, "Bright").await;
    let petra = contact(&app, &acme.id, "Petra", "petra@acme.example").await;
    let moved = app
        .contacts(AGENT)
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact {
                id: petra.id.clone(),
                etag: petra.etag.clone(),
                account_id: bright.id.clone(),
                portal_enabled: true,
                title: "Office manager".into(),
                ..Default::default()
            }),
            update_mask: mask(&["account_id", "portal_enabled", "title"]),
            reason: "changed jobs".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.account_id, bright.id);
    assert!(moved.portal_enabled);
    assert_eq!(moved.name, "Petra");
    let trail = app
        .contacts(VIEWER)
        .list_contact_history(pb::ListHistoryRequest { id: petra.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let changed: Vec<_> = trail.iter().filter(|e| e.reason == "changed jobs").map(|e| e.field.as_str()).collect();
    assert_eq!(changed, ["account_id", "portal_enabled", "title"]);

    let refused = app
        .contacts(AGENT)
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact {
                id: petra.id.clone(),
                etag: moved.etag.clone(),
                account_id: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            }),
            update_mask: mask(&["account_id"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "contact.account_id");
}
