//! ContactService: contacts of accounts, unique by email whatever its case.

use docket_proto::case::v1::{self as pb, get_contact_request::Lookup};
use tonic::Code;

use crate::{
    common::{AGENT, Backend, TestApp, VIEWER, assert_field_error, eventually},
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
    a_case_is_its_new_senders_own_and_waits_unconfirmed_for_a_known_address,
    concurrent_cases_from_one_new_sender_make_one_contact,
    a_case_with_a_bad_sender_is_refused_and_writes_nothing,
    a_senders_case_follows_the_unassigned_account_when_accounts_are_renamed,
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

fn sender(email: &str) -> pb::Sender {
    pb::Sender { email: email.into(), name: "Mia Meyer".into(), ..Default::default() }
}

/// A web form's case: no account or contacts of its own, a sender instead.
fn sent_case(subject: &str, sender: pb::Sender, key: &str) -> pb::CreateCaseRequest {
    pb::CreateCaseRequest {
        case: Some(pb::Case {
            subject: subject.into(),
            type_id: "technical_issue".into(),
            channel: pb::CaseChannel::WebForm as i32,
            ..Default::default()
        }),
        idempotency_key: key.into(),
        sender: Some(sender),
    }
}

const UNCONFIRMED: &str = "unconfirmed-sender";

async fn a_case_is_its_new_senders_own_and_waits_unconfirmed_for_a_known_address(app: TestApp) {
    let acme = account(&app, "Acme").await;
    let petra = contact(&app, &acme.id, "Petra Schmidt", "petra@acme.example").await;
    let mut cases = app.cases(AGENT);
    let mut create = async |request| cases.create_case(request).await.unwrap().into_inner();

    // Nobody named this address before: a new contact, in the unassigned
    // account, and the case is theirs.
    let first = create(sent_case("Scanner grinds", sender("MIA@web.example"), "k1")).await;
    let mia = app
        .contacts(AGENT)
        .get_contact(pb::GetContactRequest { lookup: Some(Lookup::Email("mia@web.example".into())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((mia.name.as_str(), mia.email.as_str()), ("Mia Meyer", "MIA@web.example"));
    assert_eq!(first.contacts, [pb::CaseContact { contact_id: mia.id.clone(), primary: true }]);
    assert_eq!(first.account_id, mia.account_id, "the case is in its contact's account");
    assert!(!first.tags.iter().any(|t| t == UNCONFIRMED));
    let unassigned = app.accounts(AGENT).get_account(pb::GetAccountRequest { id: first.account_id.clone() }).await.unwrap();
    assert_eq!(unassigned.into_inner().name, "Unassigned");
    let history = app
        .contacts(AGENT)
        .list_contact_history(pb::ListHistoryRequest { id: mia.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(history.entries.iter().any(|e| e.field == "email" && e.new_value == "MIA@web.example"), "the new contact is trailed");
    // Both are announced, the contact first: a consumer of the case's
    // event can look its contact up.
    {
        use sea_orm::{ConnectionTrait, Statement};
        let db = app.case_db().await;
        let backend = db.get_database_backend();
        let at = |n| docket_kit::db::placeholder(backend, n);
        let sql = format!("SELECT event_type, subject FROM outbox WHERE subject IN ({}, {}) ORDER BY position", at(1), at(2));
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, [mia.id.clone().into(), first.id.clone().into()]))
            .await
            .expect("read the outbox");
        let announced: Vec<(String, String)> =
            rows.iter().map(|row| (row.try_get("", "event_type").unwrap(), row.try_get("", "subject").unwrap())).collect();
        assert_eq!(
            announced,
            [("contact.created".to_owned(), mia.id.clone()), ("case.created".to_owned(), first.id.clone())],
            "the new contact's event, then the case's"
        );
    }

    // A retry of the same call gets the same case and makes nothing more.
    let before = app.row_counts().await;
    let again = create(sent_case("Scanner grinds", sender("MIA@web.example"), "k1")).await;
    assert_eq!(again.id, first.id);
    assert_eq!(app.row_counts().await, before);
    // The key with another request is refused, and writes nothing either.
    let reused = app
        .cases(AGENT)
        .create_case(sent_case("Scanner grinds louder", sender("mia@web.example"), "k1"))
        .await
        .expect_err("a key used for another request");
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert!(crate::common::field_violations(&reused).iter().any(|(field, _)| field == "idempotency_key"), "{reused:?}");
    assert_eq!(app.row_counts().await, before);

    // The same address again, or a known customer's: not proved to be the
    // sender, so no contact, the unassigned account, and the tag.
    for (email, key) in [("mia@web.example", "k2"), ("Petra@Acme.example", "k3")] {
        let held = create(sent_case("Who is this?", sender(email), key)).await;
        assert!(held.contacts.is_empty(), "{email}: no contact");
        assert_eq!(held.account_id, first.account_id, "{email}: waits in the unassigned account");
        assert!(held.tags.iter().any(|t| t == UNCONFIRMED), "{email}: tagged");
    }
    let acme_contacts = app
        .contacts(AGENT)
        .list_contacts(pb::ListContactsRequest { account_id: acme.id.clone(), page_size: 10, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .contacts;
    assert_eq!(acme_contacts, std::slice::from_ref(&petra), "the known contact is left as it was");

    // A new address, placed by the form in a customer's account: the
    // contact goes there, but the case still waits to be confirmed.
    let placed = pb::Sender { contact_account_id: acme.id.clone(), name: String::new(), ..sender("new@acme.example") };
    let held = create(sent_case("Hello", placed, "k4")).await;
    assert!(held.contacts.is_empty() && held.tags.iter().any(|t| t == UNCONFIRMED));
    assert_eq!(held.account_id, first.account_id);
    let new = app
        .contacts(AGENT)
        .get_contact(pb::GetContactRequest { lookup: Some(Lookup::Email("new@acme.example".into())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((new.account_id.as_str(), new.name.as_str()), (acme.id.as_str(), "new@acme.example"), "no name: the address");
}

async fn concurrent_cases_from_one_new_sender_make_one_contact(app: TestApp) {
    let burst = futures::future::join_all((0..6).map(|i| {
        let mut cases = app.cases(AGENT);
        async move { cases.create_case(sent_case(&format!("Burst {i}"), sender("ann@burst.example"), "")).await }
    }))
    .await;
    let created: Vec<pb::Case> = burst.into_iter().map(|r| r.expect("each call opens its case").into_inner()).collect();
    let ids: std::collections::BTreeSet<&str> = created.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 6, "six cases");
    let theirs: Vec<&pb::Case> = created.iter().filter(|c| !c.contacts.is_empty()).collect();
    assert_eq!(theirs.len(), 1, "the call that made the contact has the one confirmed case");
    assert!(created.iter().filter(|c| c.contacts.is_empty()).all(|c| c.tags.iter().any(|t| t == UNCONFIRMED)));
    let found = app
        .contacts(AGENT)
        .list_contacts(pb::ListContactsRequest { query: "ann@burst.example".into(), page_size: 10, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .contacts;
    assert_eq!(found.len(), 1, "one contact");
    assert_eq!(theirs[0].contacts[0].contact_id, found[0].id);

    if app.backend == Backend::Postgres {
        // Every call's own insert of the contact waits on one another
        // transaction is making, then loses to it: each looks again, finds
        // it, and holds its case.
        use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
        let db = app.case_db().await;
        let slow = db.begin().await.unwrap();
        slow.execute_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO contacts (id, account_id, name, email, email_key, phone, title, portal_enabled, version, \
             created_at, updated_at) VALUES ($1, $2, 'Bo', 'bo@burst.example', 'bo@burst.example', '', '', false, 1, \
             now(), now())",
            [uuid_v7().into(), theirs[0].account_id.clone().into()],
        ))
        .await
        .unwrap();
        let calls: Vec<_> = (0..3)
            .map(|i| {
                let mut cases = app.cases(AGENT);
                tokio::spawn(
                    async move { cases.create_case(sent_case(&format!("Bo {i}"), sender("bo@burst.example"), "")).await },
                )
            })
            .collect();
        eventually("the three calls to wait on the uncommitted contact", async || {
            let waiting = db
                .query_one_raw(Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                     AND query LIKE '%INSERT INTO \"contacts\"%'",
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap();
            if waiting >= 3 { Ok(()) } else { Err(format!("{waiting} waiting")) }
        })
        .await;
        slow.commit().await.unwrap();
        for call in calls {
            let held = call.await.unwrap().expect("the call looks again and opens its case").into_inner();
            assert!(held.contacts.is_empty() && held.tags.iter().any(|t| t == UNCONFIRMED), "not the sender's own");
        }
    }
}

async fn a_case_with_a_bad_sender_is_refused_and_writes_nothing(app: TestApp) {
    let mut cases = app.cases(AGENT);
    let before = app.row_counts().await;
    let bad_subject = {
        let mut request = sent_case("", sender("a@b.example"), "");
        request.case.as_mut().unwrap().subject = String::new();
        request
    };
    let with = |edit: fn(&mut pb::CreateCaseRequest)| {
        let mut request = sent_case("Hello", sender("a@b.example"), "");
        edit(&mut request);
        request
    };
    for (request, field) in [
        (sent_case("Hello", pb::Sender::default(), ""), "sender.email"),
        (sent_case("Hello", sender("not an address"), ""), "sender.email"),
        (sent_case("Hello", pb::Sender { name: "x".repeat(201), ..sender("a@b.example") }, ""), "sender.name"),
        (sent_case("Hello", pb::Sender { phone: "9".repeat(51), ..sender("a@b.example") }, ""), "sender.phone"),
        (
            sent_case("Hello", pb::Sender { contact_account_id: "nope".into(), ..sender("a@b.example") }, ""),
            "sender.contact_account_id",
        ),
        (
            sent_case("Hello", pb::Sender { contact_account_id: uuid_v7(), ..sender("a@b.example") }, ""),
            "sender.contact_account_id",
        ),
        (
            sent_case("Hello", pb::Sender { unassigned_account_name: "bad\u{0}".into(), ..sender("a@b.example") }, ""),
            "sender.unassigned_account_name",
        ),
        (with(|r| r.case.as_mut().unwrap().account_id = uuid::Uuid::now_v7().to_string()), "case.account_id"),
        (
            with(|r| {
                r.case.as_mut().unwrap().contacts =
                    vec![pb::CaseContact { contact_id: uuid::Uuid::now_v7().to_string(), primary: true }]
            }),
            "case.contacts",
        ),
        // A good sender does not excuse a bad case, nor make the unassigned account.
        (bad_subject, "case.subject"),
    ] {
        let refused = cases.create_case(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let refused = app.cases(VIEWER).create_case(sent_case("Hello", sender("a@b.example"), "")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(app.row_counts().await, before, "nothing written");
}

/// The service keeps the unassigned account's id in memory; each case from
/// a sender checks it is still the oldest account of that name.
async fn a_senders_case_follows_the_unassigned_account_when_accounts_are_renamed(app: TestApp) {
    let legacy = account(&app, "Legacy").await;
    let mut cases = app.cases(AGENT);
    let mut create = async |subject: &str, email: &str| {
        cases.create_case(sent_case(subject, sender(email), "")).await.expect("a sender's case").into_inner()
    };
    let mut accounts = app.accounts(AGENT);
    let mut rename = async |id: &str, name: &str| {
        let current = accounts.get_account(pb::GetAccountRequest { id: id.to_owned() }).await.unwrap().into_inner();
        accounts
            .update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account { id: id.to_owned(), etag: current.etag, name: name.to_owned(), ..Default::default() }),
                update_mask: mask(&["name"]),
                reason: String::new(),
            })
            .await
            .expect("rename");
    };

    let first = create("First", "one@web.example").await;
    assert_ne!(first.account_id, legacy.id);
    // An older account takes the name: it is the unassigned one now.
    rename(&legacy.id, "Unassigned").await;
    let second = create("Second", "two@web.example").await;
    assert_eq!(second.account_id, legacy.id, "the oldest account of the name");
    // It is renamed away: the next case goes to the one that is left.
    rename(&legacy.id, "Legacy Ltd").await;
    let third = create("Third", "three@web.example").await;
    assert_eq!(third.account_id, first.account_id);
    // And when none is left, a new one is made.
    rename(&first.account_id, "Placed").await;
    let fourth = create("Fourth", "four@web.example").await;
    let fifth = create("Fifth", "five@web.example").await;
    assert!(![legacy.id.as_str(), first.account_id.as_str()].contains(&fourth.account_id.as_str()));
    assert_eq!(fifth.account_id, fourth.account_id);
    let made = app.accounts(AGENT).get_account(pb::GetAccountRequest { id: fourth.account_id.clone() }).await.unwrap();
    assert_eq!(made.into_inner().name, "Unassigned");
    // Each new sender's contact lives where their case is.
    for case in [&first, &second, &third, &fourth, &fifth] {
        let contact = app
            .contacts(AGENT)
            .get_contact(pb::GetContactRequest { lookup: Some(Lookup::Id(case.contacts[0].contact_id.clone())) })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(contact.account_id, case.account_id, "{}", case.subject);
    }
}
