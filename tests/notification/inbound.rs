//! Email-to-case: `docket_notification::inbound::ingest` against a real case
//! service on PostgreSQL.

use docket_notification::{
    clients::CaseClients,
    inbound::{InboundSettings, IngestError, IngestOutcome, ingest},
};
use docket_proto::case::v1::{self as pb, get_contact_request};

use crate::{
    common::{AGENT, Backend, SERVICE, TestApp},
    fixtures::{case, customer, unique},
};

pub(crate) const SUPPORT: &str = "support@docket.example";

async fn spawn() -> TestApp {
    TestApp::spawn(Backend::Postgres).await
}

pub(crate) fn clients(app: &TestApp) -> CaseClients {
    CaseClients::new("notification", &format!("http://{}", app.addr), SERVICE).expect("case clients")
}

pub(crate) fn settings() -> InboundSettings {
    InboundSettings {
        unassigned_account_name: "Unassigned".to_owned(),
        own_addresses: vec![SUPPORT.to_owned()],
        trusted_authserv_ids: Vec::new(),
    }
}

/// A raw message with these header fields and body, CRLF line ends.
pub(crate) fn message(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut raw = String::new();
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(&body.replace("\r\n", "\n").replace('\n', "\r\n"));
    raw.into_bytes()
}

/// A plain customer email.
pub(crate) fn plain(from: &str, subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    message(
        &[
            ("From", from),
            ("To", &format!("Docket Support <{SUPPORT}>")),
            ("Subject", subject),
            ("Message-ID", message_id),
            ("Date", "Mon, 23 Nov 2026 10:00:00 +0100"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        body,
    )
}

async fn run(app: &TestApp, raw: &[u8]) -> IngestOutcome {
    ingest(raw, &clients(app), &settings()).await.expect("ingest")
}

pub(crate) async fn activities(app: &TestApp, case_id: &str) -> Vec<pb::Activity> {
    app.cases(AGENT)
        .list_activities(pb::ListActivitiesRequest { case_id: case_id.to_owned(), page_size: 500, ..Default::default() })
        .await
        .expect("list activities")
        .into_inner()
        .activities
}

pub(crate) async fn get_case(app: &TestApp, id: &str) -> pb::Case {
    app.cases(AGENT)
        .get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::Id(id.to_owned())) })
        .await
        .expect("get case")
        .into_inner()
}

async fn contact_by_email(app: &TestApp, email: &str) -> pb::Contact {
    app.contacts(AGENT)
        .get_contact(pb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Email(email.to_owned())) })
        .await
        .expect("get contact")
        .into_inner()
}

async fn accounts_named(app: &TestApp, name: &str) -> Vec<pb::Account> {
    app.accounts(AGENT)
        .list_accounts(pb::ListAccountsRequest { query: name.to_owned(), page_size: 500, ..Default::default() })
        .await
        .expect("list accounts")
        .into_inner()
        .accounts
        .into_iter()
        .filter(|a| a.name == name)
        .collect()
}

fn count(counts: &[(String, i64)], table: &str) -> i64 {
    counts.iter().find(|(t, _)| t == table).map(|(_, n)| *n).expect("a counted table")
}

#[track_caller]
fn assert_inbound_email(activity: &pb::Activity, from: &str, subject: &str) {
    assert_eq!(activity.kind, pb::ActivityKind::Email as i32);
    assert_eq!(activity.visibility, pb::Visibility::Public as i32);
    let email = activity.email.as_ref().expect("email detail");
    assert_eq!(email.direction, pb::Direction::Inbound as i32);
    assert_eq!(email.from, from);
    assert_eq!(email.to, [SUPPORT]);
    assert_eq!(email.subject, subject);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_tagged_with_the_case_number_threads_onto_the_case() {
    let app = spawn().await;
    let customer = customer(&app).await;
    let existing = case(&app, &customer, "Conveyor stops").await;
    assert_eq!(existing.case_number, "C-000001");
    let before = activities(&app, &existing.id).await.len();

    let subject = "Re: [C-000001] Conveyor stops";
    let raw = plain(
        &format!("Petra Schmidt <{}>", customer.contact.email),
        subject,
        "<reply-1@acme.example>",
        "It stopped again at 10:15.\n\n> quoted text\n",
    );
    let outcome = run(&app, &raw).await;
    let IngestOutcome::AddedToCase { case_id, case_number, activity_id } = outcome else {
        panic!("expected AddedToCase, got {outcome:?}")
    };
    assert_eq!((case_id.as_str(), case_number.as_str()), (existing.id.as_str(), "C-000001"));

    let listed = activities(&app, &existing.id).await;
    assert_eq!(listed.len(), before + 1);
    let added = listed.last().unwrap();
    assert_eq!(added.id, activity_id);
    assert_inbound_email(added, &customer.contact.email, subject);
    assert!(added.body.starts_with("It stopped again at 10:15."), "body: {:?}", added.body);
    // A customer's email is no staff reply, and the case keeps its contacts.
    let after = get_case(&app, &existing.id).await;
    assert!(after.first_response_time.is_none());
    assert_eq!(after.contacts, existing.contacts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_with_only_a_docket_reference_threads_onto_the_case() {
    let app = spawn().await;
    let customer = customer(&app).await;
    let existing = case(&app, &customer, "Label printer").await;

    let subject = "Re: Your case";
    let raw = message(
        &[
            ("From", &customer.contact.email),
            ("To", SUPPORT),
            ("Subject", subject),
            ("Message-ID", "<reply-2@acme.example>"),
            ("References", &format!("<other@acme.example> <case.{}@docket.example>", existing.id)),
        ],
        "Thanks, that fixed it.",
    );
    let outcome = run(&app, &raw).await;
    let IngestOutcome::AddedToCase { case_id, case_number, .. } = outcome else {
        panic!("expected AddedToCase, got {outcome:?}")
    };
    assert_eq!(case_id, existing.id);
    assert_eq!(case_number, existing.case_number);
    let listed = activities(&app, &existing.id).await;
    let added = listed.last().unwrap();
    assert_inbound_email(added, &customer.contact.email, subject);
    assert_eq!(added.body, "Thanks, that fixed it.");

    // In-Reply-To works the same way.
    let raw = message(
        &[
            ("From", &customer.contact.email),
            ("To", SUPPORT),
            ("Subject", "Re: Your case"),
            ("Message-ID", "<reply-3@acme.example>"),
            ("In-Reply-To", &format!("<case.{}@docket.example>", existing.id)),
        ],
        "One more thing.",
    );
    assert!(matches!(run(&app, &raw).await, IngestOutcome::AddedToCase { case_id, .. } if case_id == existing.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sender_gets_a_contact_under_unassigned_and_a_new_case() {
    let app = spawn().await;
    assert!(accounts_named(&app, "Unassigned").await.is_empty());
    let sender = format!("{}@newcomer.example", unique("jo"));

    let subject = "Heating broken in building B";
    let raw = plain(&format!("\"Jo Newcomer\" <{sender}>"), subject, "<first@newcomer.example>", "No heat since Monday.");
    let outcome = run(&app, &raw).await;
    let IngestOutcome::CreatedCase { case_id, case_number, reason: None } = outcome else {
        panic!("expected CreatedCase, got {outcome:?}")
    };

    let unassigned = accounts_named(&app, "Unassigned").await;
    assert_eq!(unassigned.len(), 1, "one Unassigned account");
    let contact = contact_by_email(&app, &sender).await;
    assert_eq!(contact.name, "Jo Newcomer");
    assert_eq!(contact.account_id, unassigned[0].id);

    let created = get_case(&app, &case_id).await;
    assert_eq!(created.case_number, case_number);
    assert_eq!(created.subject, subject);
    assert_eq!(created.description, "No heat since Monday.");
    assert_eq!(created.channel, pb::CaseChannel::Email as i32);
    assert_eq!(created.priority, pb::CasePriority::Medium as i32);
    assert_eq!(created.type_id, "service_request");
    assert_eq!(created.status, pb::CaseStatus::ActiveNew as i32);
    assert_eq!(created.account_id, unassigned[0].id);
    assert_eq!(created.contacts, [pb::CaseContact { contact_id: contact.id.clone(), primary: true }]);

    let listed = activities(&app, &case_id).await;
    assert_eq!(listed.len(), 1, "the email is the case's first activity");
    assert_inbound_email(&listed[0], &sender, subject);
    assert_eq!(listed[0].body, "No heat since Monday.");

    // A second unknown sender (no display name) joins the same account, named after the address.
    let other = format!("{}@else.example", unique("sam"));
    let outcome = run(&app, &plain(&other, "", "<first@else.example>", "Hello?")).await;
    let IngestOutcome::CreatedCase { case_id, .. } = outcome else { panic!("expected CreatedCase, got {outcome:?}") };
    assert_eq!(accounts_named(&app, "Unassigned").await.len(), 1, "the Unassigned account is reused");
    let second = contact_by_email(&app, &other).await;
    assert_eq!(second.account_id, unassigned[0].id);
    assert_eq!(second.name, other.split('@').next().unwrap());
    assert_eq!(get_case(&app, &case_id).await.subject, "(no subject)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_contacts_new_email_creates_a_case_under_their_account() {
    let app = spawn().await;
    let customer = customer(&app).await;
    let before = app.row_counts().await;

    // Upper case in the address still finds the contact; an unknown case tag is ignored.
    let from = format!("Petra <{}>", customer.contact.email.to_uppercase());
    let outcome = run(&app, &plain(&from, "[C-009999] New problem: scanner", "<new-1@acme.example>", "Scanner jams.")).await;
    let IngestOutcome::CreatedCase { case_id, .. } = outcome else { panic!("expected CreatedCase, got {outcome:?}") };
    let created = get_case(&app, &case_id).await;
    assert_eq!(created.account_id, customer.account.id);
    assert_eq!(created.contacts, [pb::CaseContact { contact_id: customer.contact.id.clone(), primary: true }]);
    assert_eq!(created.channel, pb::CaseChannel::Email as i32);
    assert_eq!(created.subject, "[C-009999] New problem: scanner");

    let after = app.row_counts().await;
    assert_eq!(count(&after, "accounts"), count(&before, "accounts"), "no account created");
    assert_eq!(count(&after, "contacts"), count(&before, "contacts"), "no contact created");
    assert_eq!(count(&after, "cases"), count(&before, "cases") + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_ingested_twice_creates_one_case_and_one_activity() {
    let app = spawn().await;
    let customer = customer(&app).await;

    // A new case, twice.
    let raw = plain(&customer.contact.email, "Printer offline", "<dup-1@acme.example>", "Offline since 9.");
    let first = run(&app, &raw).await;
    let counts = app.row_counts().await;
    let second = run(&app, &raw).await;
    assert_eq!(first, second);
    assert!(matches!(first, IngestOutcome::CreatedCase { .. }));
    assert_eq!(app.row_counts().await, counts, "the second delivery wrote nothing");

    // A reply, twice.
    let IngestOutcome::CreatedCase { case_number, case_id, .. } = first else { unreachable!() };
    let reply =
        plain(&customer.contact.email, &format!("Re: [{case_number}] Printer offline"), "<dup-2@acme.example>", "Still offline.");
    let first = run(&app, &reply).await;
    let counts = app.row_counts().await;
    let second = run(&app, &reply).await;
    assert_eq!(first, second);
    assert!(matches!(&first, IngestOutcome::AddedToCase { case_id: id, .. } if *id == case_id));
    assert_eq!(app.row_counts().await, counts);
    assert_eq!(activities(&app, &case_id).await.len(), 2, "the first email and the reply");

    // Without a Message-ID the raw bytes identify the message.
    let raw = message(&[("From", &customer.contact.email), ("To", SUPPORT), ("Subject", "No id")], "Body.");
    let first = run(&app, &raw).await;
    let counts = app.row_counts().await;
    assert_eq!(run(&app, &raw).await, first);
    assert_eq!(app.row_counts().await, counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_message_id_with_other_content_is_still_ingested() {
    let app = spawn().await;
    let customer = customer(&app).await;
    let one = run(&app, &plain(&customer.contact.email, "First", "<same@broken.example>", "One.")).await;
    let two = run(&app, &plain(&customer.contact.email, "Second", "<same@broken.example>", "Two.")).await;
    let (IngestOutcome::CreatedCase { case_id: a, .. }, IngestOutcome::CreatedCase { case_id: b, .. }) = (one, two) else {
        panic!("expected two created cases")
    };
    assert_ne!(a, b);
    assert_eq!(get_case(&app, &b).await.subject, "Second");
}

/// Ingests `raw` and checks it was ignored and wrote nothing.
async fn assert_ignored(app: &TestApp, raw: &[u8]) -> String {
    let before = app.row_counts().await;
    let outcome = run(app, raw).await;
    let IngestOutcome::Ignored { reason } = outcome else { panic!("expected Ignored, got {outcome:?}") };
    assert!(!reason.is_empty());
    assert_eq!(app.row_counts().await, before, "an ignored message writes nothing");
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_replies_and_bulk_mail_are_ignored() {
    let app = spawn().await;
    let customer = customer(&app).await;
    let from = customer.contact.email.as_str();
    let with = |extra: (&str, &str)| {
        message(
            &[("From", from), ("To", SUPPORT), ("Subject", "Out of office"), ("Message-ID", "<auto@acme.example>"), extra],
            "Away.",
        )
    };

    let reason = assert_ignored(&app, &with(("Auto-Submitted", "auto-replied"))).await;
    assert!(reason.contains("Auto-Submitted"), "{reason}");
    let reason = assert_ignored(&app, &with(("Precedence", "bulk"))).await;
    assert!(reason.contains("Precedence"), "{reason}");
    assert_ignored(&app, &with(("Precedence", "auto_reply"))).await;
    assert_ignored(&app, &with(("X-Autoreply", "yes"))).await;
    assert_ignored(&app, &with(("X-Autorespond", "yes"))).await;
    assert_ignored(&app, &with(("X-Auto-Response-Suppress", "DR, OOF"))).await;

    // Auto-Submitted: no is a person's mail.
    assert!(matches!(run(&app, &with(("Auto-Submitted", "no"))).await, IngestOutcome::CreatedCase { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounces_are_ignored() {
    let app = spawn().await;
    let dsn = message(
        &[
            ("From", "Mail Delivery Subsystem <MAILER-DAEMON@mx.acme.example>"),
            ("To", SUPPORT),
            ("Subject", "Undelivered Mail Returned to Sender"),
            ("Message-ID", "<dsn-1@mx.acme.example>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"B\""),
        ],
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.acme.example\nFinal-Recipient: rfc822; gone@acme.example\nAction: failed\nStatus: 5.1.1\n--B--\n",
    );
    let reason = assert_ignored(&app, &dsn).await;
    assert!(reason.contains("report"), "{reason}");

    // A plain bounce from the mailer daemon or postmaster, or with an empty return path.
    let bounce = |from: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("From", from), ("To", SUPPORT), ("Subject", "Delivery failure")];
        headers.extend_from_slice(extra);
        message(&headers, "The message was not delivered.")
    };
    assert_ignored(&app, &bounce("MAILER-DAEMON@mx.acme.example", &[])).await;
    assert_ignored(&app, &bounce("Postmaster <postmaster@acme.example>", &[])).await;
    let reason = assert_ignored(&app, &bounce("noreply@acme.example", &[("Return-Path", "<>")])).await;
    assert!(reason.contains("Return-Path"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_from_our_own_address_is_ignored() {
    let app = spawn().await;
    let reason = assert_ignored(
        &app,
        &plain(&format!("Docket <{}>", SUPPORT.to_uppercase()), "[C-000001] Update", "<loop@docket.example>", "Loop."),
    )
    .await;
    assert!(reason.contains("loop"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_is_refused_and_creates_nothing() {
    let app = spawn().await;
    let before = app.row_counts().await;
    let malformed = |result: Result<IngestOutcome, IngestError>| match result {
        Err(IngestError::Malformed(message)) => message,
        other => panic!("expected Malformed, got {other:?}"),
    };

    let message_of = |raw: Vec<u8>| {
        let clients = clients(&app);
        async move { malformed(ingest(&raw, &clients, &settings()).await) }
    };
    assert!(message_of(Vec::new()).await.contains("empty"));
    assert!(message_of(b"\r\n\r\n".to_vec()).await.contains("empty"));
    let no_from = message(&[("To", SUPPORT), ("Subject", "Who am I"), ("Message-ID", "<nofrom@x.example>")], "Hi.");
    let text = message_of(no_from).await;
    assert!(text.contains("From"), "{text}");
    let no_address = message(&[("From", "Just A Name"), ("To", SUPPORT), ("Subject", "Hi")], "Hi.");
    assert!(message_of(no_address).await.contains("From"));
    let garbage: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    message_of(garbage).await;
    let huge = plain("big@acme.example", "Big", "<big@acme.example>", &"x".repeat(10 * 1024 * 1024 + 1));
    assert!(message_of(huge).await.contains("10 MiB"));

    assert_eq!(app.row_counts().await, before, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_only_email_becomes_readable_text() {
    let app = spawn().await;
    let customer = customer(&app).await;
    let raw = message(
        &[
            ("From", &customer.contact.email),
            ("To", SUPPORT),
            ("Subject", "HTML only"),
            ("Message-ID", "<html-1@acme.example>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/html; charset=utf-8"),
        ],
        "<html><head><style>p { color: red; }</style></head><body>\n<h1>Broken</h1><p>The printer &amp; the scanner</p><p>are <b>down</b>.<br>Please help.</p>\n</body></html>\n",
    );
    let IngestOutcome::CreatedCase { case_id, .. } = run(&app, &raw).await else { panic!("expected CreatedCase") };
    let created = get_case(&app, &case_id).await;
    let body = &created.description;
    assert!(!body.contains('<') && !body.contains('>'), "tags left: {body:?}");
    assert!(!body.contains("color"), "style left: {body:?}");
    assert!(body.contains("Broken"), "{body:?}");
    assert!(body.contains("The printer & the scanner"), "{body:?}");
    assert!(body.contains("down"), "{body:?}");
    assert!(body.contains("Please help."), "{body:?}");
    assert_eq!(activities(&app, &case_id).await[0].body, *body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_preferred_and_long_subjects_and_bodies_are_cut() {
    let app = spawn().await;
    let customer = customer(&app).await;
    let long_subject = "S".repeat(400);
    let long_body = "b".repeat(25_000);
    let raw = message(
        &[
            ("From", &customer.contact.email),
            ("Subject", &long_subject),
            ("Message-ID", "<long@acme.example>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "multipart/alternative; boundary=\"ALT\""),
        ],
        &format!(
            "--ALT\nContent-Type: text/plain; charset=utf-8\n\n{long_body}\n--ALT\nContent-Type: text/html; charset=utf-8\n\n<p>html version</p>\n--ALT--\n"
        ),
    );
    let IngestOutcome::CreatedCase { case_id, .. } = run(&app, &raw).await else { panic!("expected CreatedCase") };
    let created = get_case(&app, &case_id).await;
    assert_eq!(created.subject.chars().count(), 250);
    assert_eq!(created.description.chars().count(), 20_000);
    assert!(!created.description.contains("html version"));
    let listed = activities(&app, &case_id).await;
    let email = listed[0].email.as_ref().unwrap();
    // No To: the first own address stands in.
    assert_eq!(email.to, [SUPPORT]);
    assert_eq!(email.subject.chars().count(), 250);
}

#[tokio::test]
async fn a_case_service_that_is_down_is_an_error() {
    let clients = CaseClients::new("notification", "http://127.0.0.1:1", SERVICE).expect("clients");
    let raw = plain("someone@acme.example", "Hello", "<down@acme.example>", "Anyone there?");
    match ingest(&raw, &clients, &settings()).await {
        Err(IngestError::CaseService(status)) => assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}"),
        other => panic!("expected CaseService, got {other:?}"),
    }
}
