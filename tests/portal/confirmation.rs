//! A web form submission proves nothing about the address it names: when
//! that address is a known customer's, the case waits outside their account
//! (no contact, tagged, an internal note for agents) until the address
//! follows the emailed link, or an agent places it. Replays the attack of a
//! stranger planting a case in a customer's account.

use docket_proto::{case::v1 as pb, portal::v1 as portal};
use tonic::Code;

use crate::{
    common::{AGENT, SERVICE, TestApp},
    fixtures::{account, mask, unique},
    forms::{case_by_number, create_form, submission, support_form, values},
    portal_tests,
    support::{Visitor, all_row_counts, customer_in, emailed_token, emails_with, execute},
};

portal_tests!(
    a_stranger_naming_a_customers_address_plants_nothing_in_their_account_until_the_address_confirms,
    an_expired_link_or_a_changed_address_leaves_the_case_with_the_agents,
    an_agent_who_placed_the_case_first_keeps_their_decision,
    bad_confirmation_tokens_change_nothing,
    one_address_gets_only_so_many_confirmation_links_an_hour,
);

const TAG: &str = "unconfirmed-sender";

async fn account_cases(app: &TestApp, visitor: &Visitor) -> Vec<String> {
    let request = portal::ListMyCasesRequest { session_id: visitor.session.clone(), ..Default::default() };
    let listed = app.portal_cases(SERVICE).list_my_cases(request).await.unwrap().into_inner();
    listed.cases.into_iter().map(|c| c.case_number).collect()
}

async fn confirm(app: &TestApp, token: &str) -> Result<portal::ConfirmSubmissionResponse, tonic::Status> {
    let request = portal::ConfirmSubmissionRequest { token: token.to_owned(), validate_only: false };
    app.web_forms(SERVICE).confirm_submission(request).await.map(tonic::Response::into_inner)
}

/// A form, and a portal manager of Acme whose address a stranger will use.
async fn victim(app: &TestApp) -> (String, pb::Account, Visitor) {
    let slug = unique("support");
    create_form(app, support_form(&slug)).await;
    let acme = account(app, &unique("Acme")).await;
    let manager = customer_in(app, &acme.id, "Petra Manager", true).await;
    (slug, acme, manager)
}

async fn a_stranger_naming_a_customers_address_plants_nothing_in_their_account_until_the_address_confirms(app: TestApp) {
    let (slug, acme, manager) = victim(&app).await;
    let email = manager.contact.email.clone();
    let mut planted = values(&email);
    planted.insert("subject".into(), "Pay the overdue invoice at evil.example".into());
    let request = submission(&slug, planted);
    let answer = app.web_forms(SERVICE).submit_form(request.clone()).await.unwrap().into_inner();
    assert!(answer.awaiting_confirmation);
    // Retried while it waits: the same answer, nothing written, no second link.
    let before = all_row_counts(&app).await;
    let retried = app.web_forms(SERVICE).submit_form(request.clone()).await.unwrap().into_inner();
    assert_eq!((retried.case_number.as_str(), retried.awaiting_confirmation), (answer.case_number.as_str(), true));
    assert_eq!(all_row_counts(&app).await, before);

    // Held: not in Acme, no contact, tagged, and the agents are told why.
    let case = case_by_number(&app, &answer.case_number).await;
    assert_ne!(case.account_id, acme.id);
    let held_in = app.accounts(AGENT).get_account(pb::GetAccountRequest { id: case.account_id.clone() }).await.unwrap();
    assert_eq!(held_in.into_inner().name, "Unassigned");
    assert!(case.contacts.is_empty(), "{:?}", case.contacts);
    assert_eq!(case.tags, [TAG]);
    let activities = app
        .cases(AGENT)
        .list_activities(pb::ListActivitiesRequest { case_id: case.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .activities;
    let note = activities.iter().find(|a| a.visibility == pb::Visibility::Internal as i32).expect("an internal note");
    assert!(note.body.contains(&email) && note.body.contains(TAG), "{}", note.body);
    assert!(!account_cases(&app, &manager).await.contains(&answer.case_number), "the portal manager does not see it");
    // No case email went to the customer: only the link asking them.
    assert_eq!(emails_with(&app, &email, "cases").await, 0);

    // The owner of the address follows the link: now it is Acme's.
    let token = emailed_token(&app, &email, "confirm").await;
    // The page a link opens asks first; asking changes nothing.
    let before = all_row_counts(&app).await;
    let asked = app
        .web_forms(SERVICE)
        .confirm_submission(portal::ConfirmSubmissionRequest { token: token.clone(), validate_only: true })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(asked.case_number, answer.case_number);
    assert_eq!(all_row_counts(&app).await, before);
    assert!(case_by_number(&app, &answer.case_number).await.contacts.is_empty());
    let confirmed = confirm(&app, &token).await.unwrap();
    assert_eq!(confirmed.case_number, answer.case_number);
    assert_eq!(confirmed.subject, "Pay the overdue invoice at evil.example");
    let case = case_by_number(&app, &answer.case_number).await;
    assert_eq!(case.account_id, acme.id);
    assert_eq!(case.contacts, [pb::CaseContact { contact_id: manager.contact.id.clone(), primary: true }]);
    assert!(case.tags.is_empty(), "{:?}", case.tags);
    assert!(account_cases(&app, &manager).await.contains(&answer.case_number));

    // Twice is once.
    let before = all_row_counts(&app).await;
    assert_eq!(confirm(&app, &token).await.unwrap().case_number, answer.case_number);
    assert_eq!(all_row_counts(&app).await, before);

    // A late retry of the submission answers with the same case and sends no second link.
    let retried = app.web_forms(SERVICE).submit_form(request).await.unwrap().into_inner();
    assert_eq!(retried.case_number, answer.case_number);
    assert!(!retried.awaiting_confirmation);
    assert_eq!(emails_with(&app, &email, "confirm").await, 1);
}

async fn an_expired_link_or_a_changed_address_leaves_the_case_with_the_agents(app: TestApp) {
    let (slug, acme, manager) = victim(&app).await;
    let email = manager.contact.email.clone();
    let first = app.web_forms(SERVICE).submit_form(submission(&slug, values(&email))).await.unwrap().into_inner();
    let token = emailed_token(&app, &email, "confirm").await;
    let past =
        if app.backend == crate::common::Backend::Postgres { "now() - interval '1 hour'" } else { "'2000-01-01 00:00:00+00:00'" };
    let expire = format!("UPDATE form_submissions SET confirm_expires_at = {past} WHERE case_number = '{}'", first.case_number);
    execute(&app, "portal", &expire).await;
    let before = all_row_counts(&app).await;
    let expired = confirm(&app, &token).await.unwrap_err();
    assert_eq!(expired.code(), Code::FailedPrecondition, "{expired:?}");
    assert!(expired.message().contains(&first.case_number), "{}", expired.message());
    assert_eq!(all_row_counts(&app).await, before);
    assert_ne!(case_by_number(&app, &first.case_number).await.account_id, acme.id);

    // The link went to the old address; the contact has a new one since.
    let mut second_values = values(&email);
    second_values.insert("subject".into(), "Second request".into());
    let second = app.web_forms(SERVICE).submit_form(submission(&slug, second_values)).await.unwrap().into_inner();
    let contact = manager.contact.clone();
    let current = app
        .contacts(AGENT)
        .get_contact(pb::GetContactRequest { lookup: Some(pb::get_contact_request::Lookup::Id(contact.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    // Wait for the second link before the address changes.
    let token = eventually_new_token(&app, &email, &token).await;
    let moved = format!("{}@newdomain.example", unique("petra"));
    app.contacts(AGENT)
        .update_contact(pb::UpdateContactRequest {
            contact: Some(pb::Contact { id: contact.id.clone(), etag: current.etag, email: moved, ..Default::default() }),
            update_mask: mask(&["email"]),
            reason: "new address".into(),
        })
        .await
        .unwrap();
    // The portal follows the change (its user's address, sessions, links) first.
    app.wait_until_consumed(docket_portal::SERVICE).await;
    let before = all_row_counts(&app).await;
    let changed = confirm(&app, &token).await.unwrap_err();
    assert_eq!(changed.code(), Code::FailedPrecondition, "{changed:?}");
    assert_eq!(all_row_counts(&app).await, before);
    let case = case_by_number(&app, &second.case_number).await;
    assert_ne!(case.account_id, acme.id);
    assert_eq!(case.tags, [TAG]);
}

/// The newest confirmation token emailed to `email` once it differs from `old`.
async fn eventually_new_token(app: &TestApp, email: &str, old: &str) -> String {
    crate::common::eventually("a second confirmation link", async || {
        let token = emailed_token(app, email, "confirm").await;
        if token == old { Err("still the first one") } else { Ok(token) }
    })
    .await
}

async fn an_agent_who_placed_the_case_first_keeps_their_decision(app: TestApp) {
    let (slug, _acme, manager) = victim(&app).await;
    let email = manager.contact.email.clone();
    let answer = app.web_forms(SERVICE).submit_form(submission(&slug, values(&email))).await.unwrap().into_inner();
    let token = emailed_token(&app, &email, "confirm").await;
    // An agent decides it belongs to another account altogether.
    let elsewhere = account(&app, &unique("Globex")).await;
    let case = case_by_number(&app, &answer.case_number).await;
    app.cases(AGENT)
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: case.id.clone(),
                etag: case.etag.clone(),
                account_id: elsewhere.id.clone(),
                tags: Vec::new(),
                ..Default::default()
            }),
            update_mask: mask(&["account_id", "tags"]),
            reason: "called the customer".into(),
        })
        .await
        .unwrap();
    confirm(&app, &token).await.unwrap();
    let case = case_by_number(&app, &answer.case_number).await;
    assert_eq!(case.account_id, elsewhere.id, "the agent's placement stands");
    assert!(case.contacts.is_empty());
}

async fn bad_confirmation_tokens_change_nothing(app: TestApp) {
    let (slug, _acme, manager) = victim(&app).await;
    app.web_forms(SERVICE).submit_form(submission(&slug, values(&manager.contact.email))).await.unwrap();
    let real = emailed_token(&app, &manager.contact.email, "confirm").await;
    let before = all_row_counts(&app).await;
    for (token, code) in [
        ("", Code::InvalidArgument),
        (&"x".repeat(201)[..], Code::InvalidArgument),
        ("not-a-token", Code::NotFound),
        (&real[..real.len() - 1], Code::NotFound),
        (&format!("{real}A")[..], Code::NotFound),
        ("' OR 1=1 --", Code::NotFound),
    ] {
        let refused = confirm(&app, token).await.unwrap_err();
        assert_eq!(refused.code(), code, "{token}: {refused:?}");
    }
    assert_eq!(all_row_counts(&app).await, before);
    // A viewer cannot follow links for anyone.
    let refused = app
        .web_forms(crate::common::VIEWER)
        .confirm_submission(portal::ConfirmSubmissionRequest { token: real, validate_only: false })
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied);
    assert_eq!(all_row_counts(&app).await, before);
}

/// Whoever names a customer's address in forms, from however many client
/// addresses, sends it at most three links an hour; the submissions past
/// that still wait for an agent, with a note saying no link went out.
async fn one_address_gets_only_so_many_confirmation_links_an_hour(app: TestApp) {
    let (slug, acme, manager) = victim(&app).await;
    let email = manager.contact.email.clone();
    let mut numbers = Vec::new();
    for _ in 0..4 {
        let answer = app.web_forms(SERVICE).submit_form(submission(&slug, values(&email))).await.unwrap().into_inner();
        numbers.push(answer.case_number);
    }
    app.wait_until_mail_settled().await;
    assert_eq!(emails_with(&app, &email, "confirm").await, 3, "three links, not four");
    let last = case_by_number(&app, &numbers[3]).await;
    assert_ne!(last.account_id, acme.id, "the fourth case waits too");
    assert_eq!(last.tags, [TAG]);
    let activities = app
        .cases(AGENT)
        .list_activities(pb::ListActivitiesRequest { case_id: last.id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .activities;
    let note = activities.iter().find(|a| a.visibility == pb::Visibility::Internal as i32).expect("an internal note");
    assert!(note.body.contains("no link went out"), "{}", note.body);
}
