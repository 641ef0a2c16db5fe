//! The portal's emails over a real SMTP server: the invitation whose link
//! logs the customer in, the password reset, the confirmation of a web form
//! case, and the owner hearing of a customer's comment.

use std::{collections::HashMap, time::Duration};

use docket_proto::{case::v1 as pb, portal::v1 as portal};

use crate::{
    common::{ADMIN, AGENT, Backend, SERVICE, TestApp, redis::RedisPrefix, smtp::SmtpSink},
    fixtures::{account, contact, staff_user, unique},
    support::{PASSWORD, invite},
};

/// PostgreSQL, Redis sessions, and email out over SMTP to `sink`.
async fn spawn(sink: &SmtpSink, redis: &RedisPrefix) -> TestApp {
    let prefix = redis.prefix().to_owned();
    TestApp::spawn_with(Backend::Postgres, |settings| {
        sink.receive_from(settings);
        settings.kv = crate::common::redis::test_kv(&prefix);
    })
    .await
}

/// The token after `marker` in an email body.
fn token_after(body: &str, marker: &str) -> String {
    let at = body.find(marker).unwrap_or_else(|| panic!("no {marker} in {body}"));
    body[at + marker.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_email_carries_a_link_whose_token_accepts_the_invitation() {
    let sink = SmtpSink::start().await;
    let redis = RedisPrefix::new().await;
    let app = spawn(&sink, &redis).await;
    let acme = account(&app, &unique("Acme")).await;
    let petra = contact(&app, &acme.id, "Petra Schmidt", &format!("{}@acme.example", unique("petra"))).await;
    invite(&app, &petra.id, false).await;

    let emails = sink.wait_for(1, Duration::from_secs(20)).await;
    let email = &emails[0];
    assert_eq!(email.rcpt_to, [petra.email.to_lowercase()]);
    assert_eq!(email.subject(), "Your access to the Docket Support portal");
    assert!(email.header("References").is_none(), "an invitation belongs to no case thread");
    let body = email.body();
    assert!(body.contains("Hello Petra Schmidt"), "{body}");
    let token = token_after(&body, "http://127.0.0.1:8080/portal/invitation/");
    assert_eq!(token.len(), 43);

    let session = app
        .portal_auth(SERVICE)
        .accept_invitation(portal::AcceptInvitationRequest { token, password: PASSWORD.into(), client_ip: "192.0.2.1".into() })
        .await
        .expect("the emailed token accepts the invitation")
        .into_inner();
    assert_eq!(session.contact_id, petra.id);
    // The session lives in Redis, under its digest only.
    let keys = redis.keys().await;
    assert!(keys.iter().any(|k| k.contains("portal:session:")), "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains(&session.session_id)), "the session id itself is not stored");

    // A password reset arrives the same way.
    app.portal_auth(SERVICE)
        .request_password_reset(portal::RequestPasswordResetRequest { email: petra.email.clone(), client_ip: String::new() })
        .await
        .unwrap();
    let emails = sink.wait_for(2, Duration::from_secs(20)).await;
    let reset = token_after(&emails[1].body(), "/portal/reset/");
    app.portal_auth(SERVICE)
        .reset_password(portal::ResetPasswordRequest {
            token: reset,
            password: "a brand new passphrase".into(),
            client_ip: String::new(),
        })
        .await
        .expect("the emailed reset token works");

    // Once sent, the delivery log keeps the emails without their links' secrets.
    let invitation = token_after(&emails[0].body(), "/portal/invitation/");
    let reset = token_after(&emails[1].body(), "/portal/reset/");
    let db = app.service_db("notification").await;
    crate::common::eventually("the sent access emails to lose their links' secrets in the delivery log", async || {
        use sea_orm::ConnectionTrait;
        let sql = "SELECT status, body FROM deliveries WHERE event_type LIKE 'portal.%'";
        let rows =
            db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.map_err(|e| e.to_string())?;
        let stored: Vec<(String, String)> =
            rows.iter().map(|row| (row.try_get("", "status").unwrap(), row.try_get("", "body").unwrap())).collect();
        let done = stored.len() == 2
            && stored.iter().all(|(status, body)| status == "sent" && body.contains("(removed once sent)"))
            && stored.iter().all(|(_, body)| !body.contains(&invitation) && !body.contains(&reset));
        if done { Ok(()) } else { Err(format!("{stored:?}")) }
    })
    .await;
    // Nor does the portal's outbox: published, the links' events are wiped.
    let portal_db = app.service_db("portal").await;
    crate::common::eventually("the portal's outbox to forget the published links' events", async || {
        use sea_orm::ConnectionTrait;
        let sql = "SELECT event_type, sent_at IS NOT NULL AS sent, length(envelope) AS size FROM outbox WHERE event_type LIKE 'portal.%'";
        let rows =
            portal_db.query_all_raw(sea_orm::Statement::from_string(portal_db.get_database_backend(), sql)).await.map_err(|e| e.to_string())?;
        let stored: Vec<(String, bool, i32)> = rows
            .iter()
            .map(|row| (row.try_get("", "event_type").unwrap(), row.try_get("", "sent").unwrap(), row.try_get("", "size").unwrap()))
            .collect();
        let done = stored.len() == 2 && stored.iter().all(|(_, sent, size)| *sent && *size == 0);
        if done { Ok(()) } else { Err(format!("{stored:?}")) }
    })
    .await;
    redis.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_form_case_is_confirmed_to_its_submitter_by_email() {
    let sink = SmtpSink::start().await;
    let redis = RedisPrefix::new().await;
    let app = spawn(&sink, &redis).await;
    let slug = unique("support");
    app.web_forms(ADMIN)
        .create_web_form(portal::CreateWebFormRequest {
            web_form: Some(docket_portal_form(&slug)),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let email = format!("{}@newcomer.example", unique("visitor"));
    let values: HashMap<String, String> = [("email", email.as_str()), ("message", "My printer is on fire.")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let answer = app
        .web_forms(SERVICE)
        .submit_form(portal::SubmitFormRequest {
            slug,
            values,
            submission_id: uuid::Uuid::now_v7().to_string(),
            client_ip: String::new(),
            origin: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let emails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(emails[0].rcpt_to, [email]);
    assert_eq!(emails[0].subject(), format!("[{}] Contact us", answer.case_number));
    assert!(emails[0].body().contains(&answer.case_number));
    redis.clean().await;
}

/// A minimal form: an email and a message.
fn docket_portal_form(slug: &str) -> portal::WebForm {
    portal::WebForm {
        slug: slug.to_owned(),
        title: "Contact us".into(),
        fields: vec![
            portal::FormField {
                name: "email".into(),
                label: "Email".into(),
                kind: portal::FormFieldKind::Email as i32,
                required: true,
                target: portal::FormFieldTarget::ContactEmail as i32,
                ..Default::default()
            },
            portal::FormField {
                name: "message".into(),
                label: "Message".into(),
                kind: portal::FormFieldKind::Textarea as i32,
                required: true,
                target: portal::FormFieldTarget::Description as i32,
                ..Default::default()
            },
        ],
        case_type_id: "service_request".into(),
        priority: pb::CasePriority::Medium as i32,
        active: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_portal_comment_reaches_the_owner_and_not_the_customer() {
    let sink = SmtpSink::start().await;
    let redis = RedisPrefix::new().await;
    let app = spawn(&sink, &redis).await;
    let acme = account(&app, &unique("Acme")).await;
    let petra = contact(&app, &acme.id, "Petra Schmidt", &format!("{}@acme.example", unique("petra"))).await;
    invite(&app, &petra.id, false).await;
    let invitation = sink.wait_for(1, Duration::from_secs(20)).await;
    let token = token_after(&invitation[0].body(), "/portal/invitation/");
    let session = app
        .portal_auth(SERVICE)
        .accept_invitation(portal::AcceptInvitationRequest { token, password: PASSWORD.into(), client_ip: String::new() })
        .await
        .unwrap()
        .into_inner()
        .session_id;
    let alex = staff_user(&app, "Alex Agent").await;
    let case =
        crate::fixtures::case(&app, &crate::fixtures::Customer { account: acme.clone(), contact: petra.clone() }, "Printer")
            .await;
    app.cases(AGENT)
        .assign_case(pb::AssignCaseRequest { id: case.id.clone(), owner_id: alex.id.clone(), ..Default::default() })
        .await
        .unwrap();
    // The receipt of the case, and the owner's assignment email.
    sink.wait_for(3, Duration::from_secs(20)).await;

    app.portal_cases(SERVICE)
        .add_comment(portal::AddCommentRequest {
            session_id: session,
            case_id: case.id.clone(),
            body: "Now it prints only blank pages.".into(),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let emails = sink.wait_for(4, Duration::from_secs(20)).await;
    // Only once the comment's event is handled and its emails are out can
    // "the customer got none" be checked.
    app.wait_until_mail_settled().await;
    let about_comment: Vec<_> = sink.received().into_iter().filter(|e| e.body().contains("blank pages")).collect();
    assert_eq!(about_comment.len(), 1, "{:?}", emails.iter().map(|e| (&e.rcpt_to, e.subject())).collect::<Vec<_>>());
    assert_eq!(about_comment[0].rcpt_to, [alex.email.to_lowercase()], "the owner hears of it; the customer is not echoed");
    redis.clean().await;
}
