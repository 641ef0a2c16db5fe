//! Email out: who hears what, how it reads and threads, the delivery log,
//! SMTP outages, opt-outs, digests, templates and settings.

use std::time::Duration;

use docket_proto::{case::v1 as pb, notification::v1 as nb};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, Backend, PORTAL, TestApp, VIEWER, assert_field_error, eventually, smtp::SmtpSink},
    fixtures::{case, contact, customer, mask, new_case, note, staff_user, team, team_of, unique},
};

async fn spawn(sink: &SmtpSink) -> TestApp {
    TestApp::spawn_with(Backend::Postgres, |settings| sink.receive_from(settings)).await
}

async fn deliveries(app: &TestApp, case_id: &str) -> Vec<nb::Delivery> {
    app.notifications(VIEWER)
        .list_deliveries(nb::ListDeliveriesRequest { case_id: case_id.to_owned(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_case_emails_its_contact_with_the_case_number_and_thread_headers() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Conveyor stops every hour").await;

    let emails = sink.wait_for(1, Duration::from_secs(20)).await;
    let email = &emails[0];
    assert_eq!(email.rcpt_to, vec![customer.contact.email.to_lowercase()]);
    assert_eq!(email.subject(), "[C-000001] Conveyor stops every hour");
    let root = format!("<case.{}@docket.test>", created.id);
    assert_eq!(email.header("References").as_deref(), Some(root.as_str()));
    assert_eq!(email.header("In-Reply-To").as_deref(), Some(root.as_str()));
    let message_id = email.header("Message-ID").expect("a Message-ID");
    assert!(message_id.starts_with("<delivery.") && message_id.ends_with("@docket.test>"), "{message_id}");
    assert_eq!(email.header("Auto-Submitted").as_deref(), Some("auto-generated"));
    assert!(email.header("From").unwrap().contains("support@docket.localhost"));
    let body = email.body();
    assert!(body.contains("C-000001") && body.contains("/portal/cases/C-000001"), "{body}");

    // The mailer marks a delivery sent after the server took it: wait for that.
    app.wait_until_mail_settled().await;
    let log = deliveries(&app, &created.id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, nb::DeliveryStatus::Sent as i32);
    assert_eq!(log[0].message_id, message_id);
    assert_eq!(log[0].recipient_kind, "contact");
    assert_eq!(log[0].attempts, 1, "sent only after a failed attempt: {:?}", log[0]);
    assert_eq!(log[0].event_type, "case.created");

    // Every later email of the case threads under the same root.
    note(&app, &created.id, "We ordered the part.", pb::Visibility::Public).await;
    let emails = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(emails[1].header("References").as_deref(), Some(root.as_str()));
    assert_ne!(emails[1].header("Message-ID"), emails[0].header("Message-ID"));
    assert!(emails[1].body().contains("We ordered the part."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_notes_never_reach_customers() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Secret").await;
    sink.wait_for(1, Duration::from_secs(20)).await;
    note(&app, &created.id, "Customer is on a payment hold; do not ship.", pb::Visibility::Internal).await;
    app.wait_until_mail_settled().await;
    assert_eq!(sink.received().len(), 1, "no email for an internal note");
    assert!(sink.received().iter().all(|e| !e.raw.contains("payment hold")));
    assert_eq!(deliveries(&app, &created.id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_hear_about_assignment_and_teams_about_new_unowned_cases() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let customer = customer(&app).await;
    let alex = staff_user(&app, "Alex Agent").await;
    let sam = staff_user(&app, "Sam Support").await;
    let away = staff_user(&app, "Away Agent").await;
    app.staff(ADMIN)
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                id: away.id.clone(),
                etag: away.etag.clone(),
                available: false,
                ..Default::default()
            }),
            update_mask: mask(&["available"]),
            reason: "holiday".into(),
        })
        .await
        .unwrap();
    let queue = team(&app, "Support").await;
    for member in [&alex.id, &sam.id, &away.id] {
        app.staff(ADMIN)
            .add_team_member(pb::TeamMemberRequest { team_id: queue.id.clone(), staff_user_id: member.clone() })
            .await
            .unwrap();
    }
    let created = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case { team_id: queue.id.clone(), ..new_case(&customer, "Queue me") }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    let emails = sink.wait_for(3, Duration::from_secs(20)).await;
    let mut to: Vec<String> = emails.iter().flat_map(|e| e.rcpt_to.clone()).collect();
    to.sort();
    let mut expected = vec![customer.contact.email.to_lowercase(), alex.email.to_lowercase(), sam.email.to_lowercase()];
    expected.sort();
    assert_eq!(to, expected, "the contact and the available team members");

    app.cases(AGENT)
        .assign_case(pb::AssignCaseRequest { id: created.id.clone(), owner_id: sam.id.clone(), ..Default::default() })
        .await
        .unwrap();
    let emails = sink.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(emails[3].rcpt_to, vec![sam.email.to_lowercase()]);
    assert!(emails[3].subject().starts_with("[C-000001] Assigned to you"), "{}", emails[3].subject());
    app.wait_until_mail_settled().await;
    assert_eq!(sink.received().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_hear_once_when_a_rule_routes_a_case_to_them_now_or_when_room_comes_free() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let customer = customer(&app).await;
    let alex = staff_user(&app, "Alex Agent").await;
    let queue = team_of(&app, "Support", &[&alex]).await;
    app.assignment_rules(ADMIN)
        .create_assignment_rule(pb::CreateAssignmentRuleRequest {
            rule: Some(pb::AssignmentRule {
                name: "One at a time".into(),
                method: pb::RoutingMethod::Capacity as i32,
                team_id: queue.id.clone(),
                capacity: 1,
                active: true,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let alex_mail = alex.email.to_lowercase();
    let to_alex = |emails: &[crate::common::smtp::Received]| -> Vec<String> {
        emails.iter().filter(|e| e.rcpt_to == [alex_mail.clone()]).map(|e| e.subject()).collect()
    };

    // Routed at once: the contact hears of the new case, Alex that it is his.
    let first = case(&app, &customer, "First in line").await;
    assert_eq!(first.owner_id, alex.id);
    let emails = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(to_alex(&emails), ["[C-000001] Assigned to you: First in line"]);
    let routed = emails.iter().find(|e| e.rcpt_to == [alex_mail.clone()]).unwrap();
    assert!(routed.body().contains("One at a time"), "the email names the rule: {}", routed.body());

    // Alex is full: the second waits in the team's queue, which hears of it.
    let second = case(&app, &customer, "Second in line").await;
    assert_eq!(second.owner_id, "");
    let emails = sink.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(to_alex(&emails[2..]), ["[C-000002] Second in line"], "the team's new unowned case");

    // Closing the first hands him the second: one email for it.
    app.cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: first.id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Done.".into(),
            etag: first.etag.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    let emails = sink.wait_for(6, Duration::from_secs(20)).await;
    assert_eq!(to_alex(&emails[4..]), ["[C-000002] Assigned to you: Second in line"]);
    app.wait_until_mail_settled().await;
    assert_eq!(sink.received().len(), 6, "the contact's closing email and Alex's, nothing twice");
    let handed = deliveries(&app, &second.id).await;
    assert!(handed.iter().any(|d| d.event_type == "case.routed" && d.recipient_kind == "owner"), "{handed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_that_meets_a_stopped_smtp_server_is_sent_once_when_it_returns() {
    let mut sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let customer = customer(&app).await;
    sink.stop();
    let created = case(&app, &customer, "Sent later").await;
    // Wait until the mailer has tried and failed (an attempt counts from its start).
    let failed_once = eventually("the mailer to try once", async || {
        let log = deliveries(&app, &created.id).await;
        match log.first() {
            Some(delivery) if delivery.attempts >= 1 && !delivery.last_error.is_empty() => Ok(delivery.clone()),
            _ => Err(format!("delivery log: {log:?}")),
        }
    })
    .await;
    assert_eq!(failed_once.status, nb::DeliveryStatus::Pending as i32);
    assert!(!failed_once.last_error.is_empty());

    sink.resume().await;
    let emails = sink.wait_for(1, Duration::from_secs(30)).await;
    assert!(emails[0].subject().contains("Sent later"));
    app.wait_until_mail_settled().await;
    assert_eq!(sink.received().len(), 1, "sent once");
    let log = deliveries(&app, &created.id).await;
    assert_eq!(log[0].status, nb::DeliveryStatus::Sent as i32);
    assert!(log[0].attempts >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_comment_made_through_the_portal_reaches_the_owner_and_other_contacts_but_not_its_author() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let customer = customer(&app).await;
    let colleague = contact(&app, &customer.account.id, "Jonas Weber", &format!("{}@acme.example", unique("jonas"))).await;
    let alex = staff_user(&app, "Alex Agent").await;
    let as_contact = format!("contact:{}", customer.contact.id);
    // The portal creates the case for the contact: the contact still gets its receipt.
    let mut request = tonic::Request::new(pb::CreateCaseRequest {
        case: Some(pb::Case {
            owner_id: alex.id.clone(),
            contacts: vec![
                pb::CaseContact { contact_id: customer.contact.id.clone(), primary: true },
                pb::CaseContact { contact_id: colleague.id.clone(), primary: false },
            ],
            ..new_case(&customer, "Label printer offline")
        }),
        idempotency_key: String::new(),
        sender: None,
    });
    request.metadata_mut().insert(docket_kit::auth::ON_BEHALF_OF, as_contact.parse().unwrap());
    let created = app.cases(PORTAL).create_case(request).await.unwrap().into_inner();
    let receipts = sink.wait_for(2, Duration::from_secs(20)).await;
    let mut told: Vec<String> = receipts.iter().flat_map(|e| e.rcpt_to.clone()).collect();
    told.sort();
    let mut contacts = vec![customer.contact.email.to_lowercase(), colleague.email.to_lowercase()];
    contacts.sort();
    assert_eq!(told, contacts, "both contacts get the receipt of a case the customer opened");

    let mut request = tonic::Request::new(pb::AddActivityRequest {
        activity: Some(pb::Activity {
            case_id: created.id.clone(),
            kind: pb::ActivityKind::Note as i32,
            visibility: pb::Visibility::Public as i32,
            body: "Still offline after the restart.".into(),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    });
    request.metadata_mut().insert(docket_kit::auth::ON_BEHALF_OF, as_contact.parse().unwrap());
    app.cases(PORTAL).add_activity(request).await.unwrap();
    sink.wait_for(4, Duration::from_secs(20)).await;
    app.wait_until_mail_settled().await;
    let emails = sink.received();
    assert_eq!(emails.len(), 4, "{:?}", emails.iter().map(|e| &e.rcpt_to).collect::<Vec<_>>());
    let about_comment: Vec<_> = emails[2..].iter().collect();
    let mut told: Vec<String> = about_comment.iter().flat_map(|e| e.rcpt_to.clone()).collect();
    told.sort();
    let mut expected = vec![colleague.email.to_lowercase(), alex.email.to_lowercase()];
    expected.sort();
    assert_eq!(told, expected, "the owner and the other contact hear of it; its author does not");
    assert!(about_comment.iter().all(|e| e.body().contains("Still offline after the restart.")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_who_opted_out_gets_nothing() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let customer = customer(&app).await;
    let opted = app
        .notifications(AGENT)
        .set_contact_opt_out(nb::SetContactOptOutRequest {
            contact_id: customer.contact.id.clone(),
            opted_out: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(opted.opted_out);
    let created = case(&app, &customer, "Quiet please").await;
    app.wait_until_mail_settled().await;
    assert!(sink.received().is_empty());
    assert!(deliveries(&app, &created.id).await.is_empty());
    let listed =
        app.notifications(VIEWER).list_contact_opt_outs(nb::ListContactOptOutsRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.opt_outs.len(), 1);

    let unknown = app
        .notifications(AGENT)
        .set_contact_opt_out(nb::SetContactOptOutRequest {
            contact_id: uuid::Uuid::now_v7().to_string(),
            opted_out: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_field_error(&unknown, Code::InvalidArgument, "contact_id");
}

async fn settings(app: &TestApp) -> nb::Settings {
    app.notifications(ADMIN).get_settings(nb::GetSettingsRequest {}).await.unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_updates_becomes_one_digest_email() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let current = settings(&app).await;
    app.notifications(ADMIN)
        .update_settings(nb::UpdateSettingsRequest {
            settings: Some(nb::Settings { digest_window_seconds: 2, etag: current.etag, ..Default::default() }),
            update_mask: mask(&["digest_window_seconds"]),
            reason: String::new(),
        })
        .await
        .unwrap();
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Busy case").await;
    for i in 1..=3 {
        note(&app, &created.id, &format!("Update number {i}"), pb::Visibility::Public).await;
    }
    let emails = sink.wait_for(1, Duration::from_secs(20)).await;
    app.wait_until_mail_settled().await;
    assert_eq!(sink.received().len(), 1, "one email for four updates");
    let email = &emails[0];
    assert_eq!(email.subject(), "[C-000001] 4 updates");
    let body = email.body();
    for i in 1..=3 {
        assert!(body.contains(&format!("Update number {i}")), "{body}");
    }
    let log = deliveries(&app, &created.id).await;
    assert_eq!(log.iter().filter(|d| d.status == nb::DeliveryStatus::Sent as i32).count(), 1);
    assert_eq!(log.iter().filter(|d| d.status == nb::DeliveryStatus::Merged as i32).count(), 3);
    assert!(log.iter().all(|d| d.message_id == log[0].message_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_template_is_refused_when_saved_and_a_good_one_is_used() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let mut admin = app.notifications(ADMIN);
    for (subject, body, field) in [
        ("[{{ case.number ", "fine", "template.subject"),
        ("{{ case.number }}", "{% if %}", "template.body"),
        ("{{ case.number }}", "Hello {{ customer.nmae }}", "template.body"),
        ("", "body", "template.subject"),
        ("{{ case.number }}", "", "template.body"),
    ] {
        let refused = admin
            .update_template(nb::UpdateTemplateRequest {
                template: Some(nb::Template {
                    event_type: "case.created".into(),
                    subject: subject.into(),
                    body: body.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let refused = admin
        .update_template(nb::UpdateTemplateRequest {
            template: Some(nb::Template {
                event_type: "case.exploded".into(),
                subject: "x".into(),
                body: "y".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "template.event_type");
    let listed = admin.list_templates(nb::ListTemplatesRequest {}).await.unwrap().into_inner();
    assert!(listed.templates.iter().all(|t| !t.customized), "nothing was saved");
    assert!(listed.variables.contains_key("case.number"));

    let viewer = app
        .notifications(AGENT)
        .update_template(nb::UpdateTemplateRequest {
            template: Some(nb::Template {
                event_type: "case.created".into(),
                subject: "x".into(),
                body: "y".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);

    let saved = admin
        .update_template(nb::UpdateTemplateRequest {
            template: Some(nb::Template {
                event_type: "case.created".into(),
                subject: "[{{ case.number }}] Thanks, {{ recipient.name }}!".into(),
                body: "We logged {{ case.subject }} as {{ case.number }}.".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(saved.customized);
    let customer = customer(&app).await;
    case(&app, &customer, "Custom words").await;
    let emails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(emails[0].subject(), "[C-000001] Thanks, Petra Schmidt!");
    assert!(emails[0].body().contains("We logged Custom words as C-000001."));

    let reset = admin
        .reset_template(nb::ResetTemplateRequest { event_type: "case.created".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(!reset.customized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_decide_who_hears_what_and_refuse_bad_values() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let current = settings(&app).await;
    assert_eq!(current.etag, "0");
    let mut admin = app.notifications(ADMIN);
    for (value, paths, field) in [
        (
            nb::Settings { contact_event_types: vec!["case.exploded".into()], ..Default::default() },
            vec!["contact_event_types"],
            "settings.contact_event_types[0]",
        ),
        (
            nb::Settings { sender_address: "not an address".into(), ..Default::default() },
            vec!["sender_address"],
            "settings.sender_address",
        ),
        (
            nb::Settings { digest_window_seconds: -1, ..Default::default() },
            vec!["digest_window_seconds"],
            "settings.digest_window_seconds",
        ),
        (
            nb::Settings { portal_base_url: "ftp://x".into(), ..Default::default() },
            vec!["portal_base_url"],
            "settings.portal_base_url",
        ),
        (nb::Settings::default(), vec!["etag_of_nothing"], "update_mask"),
    ] {
        let refused = admin
            .update_settings(nb::UpdateSettingsRequest {
                settings: Some(nb::Settings { etag: current.etag.clone(), ..value }),
                update_mask: mask(&paths),
                reason: String::new(),
            })
            .await
            .unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let denied = app
        .notifications(VIEWER)
        .update_settings(nb::UpdateSettingsRequest {
            settings: Some(current.clone()),
            update_mask: mask(&["sender_name"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let updated = admin
        .update_settings(nb::UpdateSettingsRequest {
            settings: Some(nb::Settings {
                contact_event_types: vec!["case.closed".into()],
                sender_name: "Acme Service Desk".into(),
                sender_address: "desk@acme.example".into(),
                etag: current.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["contact_event_types", "sender_name", "sender_address"]),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.etag, "1");
    let stale = admin
        .update_settings(nb::UpdateSettingsRequest {
            settings: Some(nb::Settings { sender_name: "Again".into(), etag: current.etag.clone(), ..Default::default() }),
            update_mask: mask(&["sender_name"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Contacts now hear only about closing.
    let customer = customer(&app).await;
    let created = case(&app, &customer, "Only when done").await;
    app.wait_until_mail_settled().await;
    assert!(sink.received().is_empty());
    app.cases(AGENT)
        .close_case(pb::CloseCaseRequest {
            id: created.id.clone(),
            status: pb::CaseStatus::ClosedComplete as i32,
            resolution_summary: "Fixed".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let emails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert!(emails[0].subject().starts_with("[C-000001] Resolved"), "{}", emails[0].subject());
    assert!(emails[0].header("From").unwrap().contains("Acme Service Desk"));
    assert!(emails[0].body().contains("Fixed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_mailbox_keeps_what_would_have_been_sent() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let customer = customer(&app).await;
    case(&app, &customer, "Seen in the mailbox").await;
    let mailbox = app.dir.path().join("mailbox");
    app.wait_until_mail_settled().await;
    let files: Vec<_> =
        std::fs::read_dir(&mailbox).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    assert_eq!(files.len(), 1, "one .eml in {}", mailbox.display());
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("Subject: [C-000001] Seen in the mailbox"), "{raw}");
    assert!(raw.contains(&customer.contact.email));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_refuses_bad_filters() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = app.notifications(VIEWER);
    for (request, field) in [
        (nb::ListDeliveriesRequest { case_id: "nope".into(), ..Default::default() }, "case_id"),
        (nb::ListDeliveriesRequest { recipient: "not-an-email".into(), ..Default::default() }, "recipient"),
        (nb::ListDeliveriesRequest { status: 42, ..Default::default() }, "status"),
        (nb::ListDeliveriesRequest { page_token: "%%%".into(), ..Default::default() }, "page_token"),
        (nb::ListDeliveriesRequest { page_size: -3, ..Default::default() }, "page_size"),
    ] {
        let refused = client.list_deliveries(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let unauthenticated = app.notifications("").get_settings(nb::GetSettingsRequest {}).await.unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
}
