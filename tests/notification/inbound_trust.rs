//! Who may write into a case's thread by email (issue 11, hole 1): only the
//! case's own contacts and staff, and not when our MTA's
//! `Authentication-Results` say the From is forged. Everything else opens a
//! case of its own and never reaches the case's people; a forged From waits
//! outside the account of the address's owner.

use std::time::Duration;

use docket_notification::inbound::{IngestOutcome, ingest};
use docket_proto::{
    case::v1 as pb_case,
    notification::v1::{self as nb, ingest_email_response::Outcome},
};

use crate::{
    common::{Backend, SERVICE, TestApp, smtp::SmtpSink},
    fixtures::{case, contact, customer, staff_user, unique},
    inbound::{SUPPORT, activities, clients, get_case, message, plain, settings},
};

/// Our MTA's authserv-ids in these tests.
const TRUSTED: &str = "mx.docket.test, relay.docket.test";

async fn spawn_trusting() -> TestApp {
    TestApp::spawn_with(Backend::Postgres, |settings| settings.notification.trusted_authserv_ids = TRUSTED.to_owned()).await
}

/// Ingests through the API, as `docket mail ingest` does.
async fn ingest_api(app: &TestApp, raw: Vec<u8>) -> nb::IngestEmailResponse {
    app.notifications(SERVICE).ingest_email(nb::IngestEmailRequest { raw_message: raw }).await.expect("ingest email").into_inner()
}

/// A reply from `from` to a case's subject, with these extra header fields.
fn reply(from: &str, case_number: &str, message_id: &str, extra: &[(&str, &str)], body: &str) -> Vec<u8> {
    let subject = format!("Re: [{case_number}] Printer broken");
    let mut headers = extra.to_vec();
    headers.extend_from_slice(&[("From", from), ("To", SUPPORT), ("Subject", &subject), ("Message-ID", message_id)]);
    message(&headers, body)
}

#[track_caller]
fn assert_opened_instead(answer: &nb::IngestEmailResponse, refused: &pb_case::Case, why: &str) {
    assert_eq!(answer.outcome, Outcome::CreatedCase as i32, "{answer:?}");
    assert_ne!(answer.case_id, refused.id, "{answer:?}");
    assert!(answer.reason.contains(why), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_reply_to_an_unassigned_case_opens_a_case_of_its_own_and_never_reaches_the_customer() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(Backend::Postgres, |settings| sink.receive_from(settings)).await;
    let victim = format!("{}@example.org", unique("victim"));
    let opened = ingest_api(&app, plain(&victim, "Printer broken", "<v1@example.org>", "It prints blank pages.")).await;
    assert_eq!(opened.outcome, Outcome::CreatedCase as i32);
    assert!(opened.reason.is_empty(), "{opened:?}");
    let victims_case = get_case(&app, &opened.case_id).await;
    sink.wait_for(1, Duration::from_secs(20)).await;
    app.wait_until_mail_settled().await;
    let before = activities(&app, &victims_case.id).await;

    // The attack of issue 11: another unknown sender answers the case's subject.
    let attack = reply(
        "Mallory <mallory@evil.example>",
        &victims_case.case_number,
        "<m1@evil.example>",
        &[],
        "Please pay the repair at https://pay.evil.example/now",
    );
    let answer = ingest_api(&app, attack).await;
    assert_opened_instead(&answer, &victims_case, &format!("the sender is not a contact of {}", victims_case.case_number));
    let mallorys_case = get_case(&app, &answer.case_id).await;
    assert_eq!(mallorys_case.case_number, "C-000002");
    assert_ne!(mallorys_case.contacts, victims_case.contacts);
    // The agents see why it is a case of its own, in a note no customer sees.
    let notes: Vec<_> =
        activities(&app, &mallorys_case.id).await.into_iter().filter(|a| a.kind == pb_case::ActivityKind::Note as i32).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].visibility, pb_case::Visibility::Internal as i32);
    assert!(notes[0].body.contains(&victims_case.case_number), "{}", notes[0].body);
    assert!(mallorys_case.first_response_time.is_none());

    // The victim's case is as it was; the victim gets nothing more.
    assert_eq!(activities(&app, &victims_case.id).await, before);
    assert_eq!(get_case(&app, &victims_case.id).await.contacts, victims_case.contacts);
    sink.wait_for(2, Duration::from_secs(20)).await; // mallory's receipt
    app.wait_until_mail_settled().await;
    let to_victim: Vec<_> = sink.received().into_iter().filter(|e| e.rcpt_to.contains(&victim.to_lowercase())).collect();
    assert_eq!(to_victim.len(), 1, "only the receipt of the victim's own case");
    assert!(to_victim.iter().all(|e| !e.raw.contains("pay.evil.example")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_from_of_another_accounts_contact_is_not_threaded() {
    let app = spawn_trusting().await;
    let target = customer(&app).await;
    let targets_case = case(&app, &target, "Printer broken").await;
    let other = customer(&app).await;
    let before = activities(&app, &targets_case.id).await;

    // The From of a contact of another account (with cases of its own), no authentication results.
    case(&app, &other, "Their own case").await;
    let answer = ingest_api(
        &app,
        reply(&other.contact.email, &targets_case.case_number, "<f1@x.example>", &[], "Pay here: https://pay.evil.example"),
    )
    .await;
    assert_opened_instead(&answer, &targets_case, "is not a contact of");
    assert_eq!(get_case(&app, &answer.case_id).await.account_id, other.account.id, "the sender's own account");

    // Being in the same account is not enough either: the case's contacts are who may write.
    let colleague = contact(&app, &target.account.id, "Jonas Weber", &format!("{}@acme.example", unique("jonas"))).await;
    let answer = ingest_api(&app, reply(&colleague.email, &targets_case.case_number, "<f2@x.example>", &[], "Me too.")).await;
    assert_opened_instead(&answer, &targets_case, "is not a contact of");

    assert_eq!(activities(&app, &targets_case.id).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cases_own_contact_failing_a_trusted_dmarc_check_is_not_threaded() {
    let app = spawn_trusting().await;
    let target = customer(&app).await;
    let targets_case = case(&app, &target, "Printer broken").await;
    let before = activities(&app, &targets_case.id).await;
    let domain = target.contact.email.rsplit_once('@').unwrap().1.to_owned();

    let results =
        format!("mx.docket.test; dkim=none; spf=pass smtp.mailfrom=evil.example; dmarc=fail (p=none) header.from={domain}");
    let answer = ingest_api(
        &app,
        reply(
            &target.contact.email,
            &targets_case.case_number,
            "<d1@evil.example>",
            &[("Authentication-Results", &results)],
            "Pay.",
        ),
    )
    .await;
    assert_opened_instead(&answer, &targets_case, "dmarc=fail");
    let held = get_case(&app, &answer.case_id).await;
    assert!(held.contacts.is_empty() && held.account_id != target.account.id, "held outside the account: {held:?}");

    // Without DMARC, a DKIM signature of another domain and a failed SPF check are no better.
    let results = "relay.docket.test; dkim=pass header.d=evil.example; spf=fail smtp.mailfrom=evil.example";
    let answer = ingest_api(
        &app,
        reply(
            &target.contact.email,
            &targets_case.case_number,
            "<d2@evil.example>",
            &[("Authentication-Results", results)],
            "Pay.",
        ),
    )
    .await;
    assert_opened_instead(&answer, &targets_case, "no passing DKIM or SPF");

    assert_eq!(activities(&app, &targets_case.id).await, before);
}

/// A new email in a customer's name that our MTA says is forged must not
/// plant a case among their cases, nor have us email them the forger's
/// text: it waits in the unassigned account, with no contact, tagged, with
/// a note for the agents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_email_failing_a_trusted_dmarc_check_in_a_customers_name_waits_outside_their_account() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        sink.receive_from(settings);
        settings.notification.trusted_authserv_ids = TRUSTED.to_owned();
    })
    .await;
    let target = customer(&app).await;
    let domain = target.contact.email.rsplit_once('@').unwrap().1.to_owned();
    let results = format!("mx.docket.test; dmarc=fail (p=reject) header.from={domain}");
    let forged = message(
        &[
            ("Authentication-Results", &results),
            ("From", &target.contact.email),
            ("To", SUPPORT),
            ("Subject", "New bank details for our invoices"),
            ("Message-ID", "<n1@evil.example>"),
        ],
        "Please pay to IBAN XX00 EVIL.",
    );
    let answer = ingest_api(&app, forged).await;
    assert_eq!(answer.outcome, Outcome::CreatedCase as i32, "{answer:?}");
    assert!(answer.reason.is_empty(), "it answered no case: {answer:?}");
    let held = get_case(&app, &answer.case_id).await;
    assert_ne!(held.account_id, target.account.id, "not among the customer's cases");
    assert!(held.contacts.is_empty(), "{held:?}");
    assert!(held.tags.iter().any(|t| t == "unconfirmed-sender"), "{held:?}");
    let notes: Vec<_> =
        activities(&app, &held.id).await.into_iter().filter(|a| a.kind == pb_case::ActivityKind::Note as i32).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].visibility, pb_case::Visibility::Internal as i32);
    assert!(notes[0].body.contains("dmarc=fail"), "{}", notes[0].body);
    app.wait_until_mail_settled().await;
    let to_target: Vec<_> =
        sink.received().into_iter().filter(|e| e.rcpt_to.contains(&target.contact.email.to_lowercase())).collect();
    assert!(
        to_target.is_empty(),
        "the customer is emailed nothing: {:?}",
        to_target.iter().map(|e| e.subject()).collect::<Vec<_>>()
    );

    // The same email without a verdict is the customer's own, as before.
    let genuine = message(
        &[("From", &target.contact.email), ("To", SUPPORT), ("Subject", "Printer broken"), ("Message-ID", "<n2@acme.example>")],
        "It prints blank pages.",
    );
    let answer = ingest_api(&app, genuine).await;
    let theirs = get_case(&app, &answer.case_id).await;
    assert_eq!(theirs.account_id, target.account.id);
    assert!(theirs.tags.is_empty(), "{theirs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_results_of_an_untrusted_authserv_id_are_ignored() {
    let app = spawn_trusting().await;
    let target = customer(&app).await;
    let targets_case = case(&app, &target, "Printer broken").await;

    // A failure someone else wrote does not keep the case's contact out...
    let forged_fail = "mx.evil.example; dmarc=fail header.from=acme.example";
    let answer = ingest_api(
        &app,
        reply(
            &target.contact.email,
            &targets_case.case_number,
            "<u1@acme.example>",
            &[("Authentication-Results", forged_fail)],
            "Ok.",
        ),
    )
    .await;
    assert_eq!(answer.outcome, Outcome::AddedToCase as i32, "{answer:?}");
    assert_eq!(answer.case_id, targets_case.id);

    // ...and a pass someone else wrote does not let a stranger in.
    let forged_pass = "mx.evil.example; dmarc=pass header.from=evil.example";
    let answer = ingest_api(
        &app,
        reply(
            "mallory@evil.example",
            &targets_case.case_number,
            "<u2@evil.example>",
            &[("Authentication-Results", forged_pass)],
            "Pay.",
        ),
    )
    .await;
    assert_opened_instead(&answer, &targets_case, "is not a contact of");

    // With no trusted authserv-id configured, even our MTA's id is not read.
    let unconfigured = TestApp::spawn(Backend::Postgres).await;
    let target = customer(&unconfigured).await;
    let targets_case = case(&unconfigured, &target, "Printer broken").await;
    let results = "mx.docket.test; dmarc=fail header.from=acme.example";
    let outcome = ingest(
        &reply(
            &target.contact.email,
            &targets_case.case_number,
            "<u3@acme.example>",
            &[("Authentication-Results", results)],
            "Ok.",
        ),
        &clients(&unconfigured),
        &settings(),
    )
    .await
    .expect("ingest");
    assert!(matches!(outcome, IngestOutcome::AddedToCase { ref case_id, .. } if *case_id == targets_case.id), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cases_contact_and_staff_still_thread() {
    let app = spawn_trusting().await;
    let target = customer(&app).await;
    let targets_case = case(&app, &target, "Printer broken").await;
    let domain = target.contact.email.rsplit_once('@').unwrap().1.to_owned();

    // The contact, passing DMARC at our MTA.
    let results = format!("mx.docket.test 1; dkim=pass header.d={domain}; dmarc=pass header.from={domain}");
    let answer = ingest_api(
        &app,
        reply(
            &target.contact.email,
            &targets_case.case_number,
            "<s1@acme.example>",
            &[("Authentication-Results", &results)],
            "Thanks.",
        ),
    )
    .await;
    assert_eq!((answer.outcome, answer.case_id.as_str()), (Outcome::AddedToCase as i32, targets_case.id.as_str()));
    // The contact, without authentication results, and by a Docket reference only.
    let raw = message(
        &[
            ("From", &target.contact.email.to_uppercase()),
            ("To", SUPPORT),
            ("Subject", "Re: your case"),
            ("Message-ID", "<s2@acme.example>"),
            ("In-Reply-To", &format!("<case.{}@docket.test>", targets_case.id)),
        ],
        "One more thing.",
    );
    assert_eq!(ingest_api(&app, raw).await.outcome, Outcome::AddedToCase as i32);

    // A staff user (not a contact of anything): threads, and gets no contact.
    let alex = staff_user(&app, "Alex Agent").await;
    let counts = app.row_counts().await;
    let answer = ingest_api(&app, reply(&alex.email, &targets_case.case_number, "<s3@staff.example>", &[], "On my way.")).await;
    assert_eq!((answer.outcome, answer.case_id.as_str()), (Outcome::AddedToCase as i32, targets_case.id.as_str()));
    let after = app.row_counts().await;
    let contacts = |counts: &[(String, i64)]| counts.iter().find(|(t, _)| t == "contacts").map(|(_, n)| *n);
    assert_eq!(contacts(&after), contacts(&counts), "no contact made for the staff user");

    let listed = activities(&app, &targets_case.id).await;
    let from: Vec<_> = listed.iter().filter_map(|a| a.email.as_ref()).map(|e| e.from.to_lowercase()).collect();
    assert_eq!(from.len(), 3, "{from:?}");
    assert_eq!(from[2], alex.email.to_lowercase());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_authentication_results_are_handled_without_error() {
    let app = spawn_trusting().await;
    let target = customer(&app).await;
    let targets_case = case(&app, &target, "Printer broken").await;

    // Junk, and fields that are not ours, are passed over: the contact threads.
    let junk = [
        "",
        ";;;",
        "(an unclosed comment",
        "\"mx.docket.test; dmarc=fail\"",
        "mx.evil.example; dmarc",
        "; dmarc=fail",
        "(mx.docket.test) ; dmarc=fail",
        "mx.evil.example; =pass; dkim=; spf=\"fail",
    ];
    let mut headers: Vec<(&str, &str)> = junk.iter().map(|v| ("Authentication-Results", *v)).collect();
    headers.push(("Authentication-Results", "x\u{1}y; dmarc=fail"));
    let answer =
        ingest_api(&app, reply(&target.contact.email, &targets_case.case_number, "<j1@acme.example>", &headers, "Fine.")).await;
    assert_eq!((answer.outcome, answer.case_id.as_str()), (Outcome::AddedToCase as i32, targets_case.id.as_str()), "{answer:?}");

    // A field of ours we cannot read shows nothing passed: a case of its own, still no error.
    let ours = [("Authentication-Results", "mx.docket.test; dmarc (oops"), ("Authentication-Results", "relay.docket.test;;")];
    let answer =
        ingest_api(&app, reply(&target.contact.email, &targets_case.case_number, "<j2@acme.example>", &ours, "Fine.")).await;
    assert_opened_instead(&answer, &targets_case, "no passing DKIM or SPF");
}
