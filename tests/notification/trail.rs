//! The audit trail of the settings, templates and opt-outs: every change
//! leaves one entry per changed field, with who, when, old and new value,
//! and why; a refused change leaves none; the history calls refuse bad input.

use docket_proto::notification::v1 as nb;
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error},
    fixtures::{customer, mask},
    on_both_backends,
};

on_both_backends!(
    a_settings_change_leaves_one_entry_per_changed_field,
    a_refused_settings_change_leaves_no_entry,
    a_template_save_and_reset_leave_entries_with_their_reason,
    a_refused_template_leaves_no_entry,
    an_opt_out_leaves_entries_only_when_it_changes,
    the_history_calls_refuse_bad_input,
);

/// (field, old, new, actor, reason) of each entry, oldest first.
type Row = (String, String, String, String, String);

fn rows(entries: &[docket_proto::case::v1::AuditEntry]) -> Vec<Row> {
    entries
        .iter()
        .map(|e| (e.field.clone(), e.old_value.clone(), e.new_value.clone(), e.actor.clone(), e.reason.clone()))
        .collect()
}

fn row(field: &str, old: &str, new: &str, actor: &str, reason: &str) -> Row {
    (field.to_owned(), old.to_owned(), new.to_owned(), actor.to_owned(), reason.to_owned())
}

async fn settings_history(app: &TestApp) -> Vec<docket_proto::case::v1::AuditEntry> {
    app.notifications(VIEWER)
        .list_settings_history(nb::ListSettingsHistoryRequest::default())
        .await
        .expect("settings history")
        .into_inner()
        .entries
}

async fn template_history(app: &TestApp, event_type: &str) -> Vec<docket_proto::case::v1::AuditEntry> {
    app.notifications(VIEWER)
        .list_template_history(nb::ListTemplateHistoryRequest { event_type: event_type.to_owned(), ..Default::default() })
        .await
        .expect("template history")
        .into_inner()
        .entries
}

async fn opt_out_history(app: &TestApp, contact_id: &str) -> Vec<docket_proto::case::v1::AuditEntry> {
    app.notifications(VIEWER)
        .list_contact_opt_out_history(nb::ListContactOptOutHistoryRequest {
            contact_id: contact_id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("opt-out history")
        .into_inner()
        .entries
}

async fn trail_rows(app: &TestApp) -> i64 {
    app.table_counts("notification", &["audit_entries"]).await[0].1
}

async fn settings(app: &TestApp) -> nb::Settings {
    app.notifications(ADMIN).get_settings(nb::GetSettingsRequest {}).await.expect("settings").into_inner()
}

async fn update_settings(app: &TestApp, value: nb::Settings, paths: &[&str]) -> Result<nb::Settings, tonic::Status> {
    app.notifications(ADMIN)
        .update_settings(nb::UpdateSettingsRequest {
            settings: Some(value),
            update_mask: mask(paths),
            reason: "Desk moved to Acme".into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn template(event_type: &str, subject: &str, body: &str) -> Option<nb::Template> {
    Some(nb::Template { event_type: event_type.into(), subject: subject.into(), body: body.into(), ..Default::default() })
}

async fn a_settings_change_leaves_one_entry_per_changed_field(app: TestApp) {
    assert!(settings_history(&app).await.is_empty(), "the defaults have no trail");
    let current = settings(&app).await;
    let updated = update_settings(
        &app,
        nb::Settings {
            contact_event_types: vec!["case.closed".into()],
            sender_name: "Acme Service Desk".into(),
            // Sent, but the same as before: no entry.
            digest_window_seconds: 0,
            etag: current.etag.clone(),
            ..Default::default()
        },
        &["contact_event_types", "sender_name", "digest_window_seconds"],
    )
    .await
    .expect("update the settings");
    assert_eq!(updated.etag, "1");

    let trail = settings_history(&app).await;
    assert_eq!(
        rows(&trail),
        [
            row(
                "contact_event_types",
                "case.created, case.closed, case.reopened, case.activity_added",
                "case.closed",
                "admin:admin",
                "Desk moved to Acme"
            ),
            row("sender_name", "Docket Support", "Acme Service Desk", "admin:admin", "Desk moved to Acme"),
        ]
    );
    assert!(trail.iter().all(|e| e.record_type == "settings" && e.record_id == "1" && e.time.is_some()), "{trail:?}");

    // A change that changes nothing writes nothing, not even a new etag.
    let same = update_settings(
        &app,
        nb::Settings { sender_name: "Acme Service Desk".into(), etag: updated.etag.clone(), ..Default::default() },
        &["sender_name"],
    )
    .await
    .expect("an update to the same value");
    assert_eq!(same.etag, "1");
    assert_eq!(settings_history(&app).await.len(), 2);

    // The trail pages, oldest first.
    let mut notifications = app.notifications(VIEWER);
    let first = notifications
        .list_settings_history(nb::ListSettingsHistoryRequest { page_size: 1, ..Default::default() })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.entries.len(), 1);
    assert_eq!(first.entries[0].field, "contact_event_types");
    assert!(!first.next_page_token.is_empty());
    let second = notifications
        .list_settings_history(nb::ListSettingsHistoryRequest { page_size: 1, page_token: first.next_page_token })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.entries.len(), 1);
    assert_eq!(second.entries[0].field, "sender_name");
    assert!(second.next_page_token.is_empty());
}

async fn a_refused_settings_change_leaves_no_entry(app: TestApp) {
    let current = settings(&app).await;
    assert_eq!(current.etag, "0");
    update_settings(&app, nb::Settings { sender_name: "First".into(), etag: "0".into(), ..Default::default() }, &["sender_name"])
        .await
        .expect("the first change");
    let before = trail_rows(&app).await;
    assert_eq!(before, 1);

    // Stale: the etag read before the first change.
    let stale = update_settings(
        &app,
        nb::Settings { sender_name: "Second".into(), etag: "0".into(), ..Default::default() },
        &["sender_name"],
    )
    .await
    .expect_err("a stale etag");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    // Bad values, a bad etag, a missing etag.
    for (value, paths, field) in [
        (
            nb::Settings { sender_address: "nobody".into(), etag: "1".into(), ..Default::default() },
            vec!["sender_address"],
            "settings.sender_address",
        ),
        (
            nb::Settings { sender_name: "Third".into(), etag: "soon".into(), ..Default::default() },
            vec!["sender_name"],
            "settings.etag",
        ),
        (nb::Settings { sender_name: "Third".into(), ..Default::default() }, vec!["sender_name"], "settings.etag"),
        (nb::Settings { sender_name: "Third".into(), etag: "1".into(), ..Default::default() }, vec![], "update_mask"),
    ] {
        let refused = update_settings(&app, value, &paths).await.expect_err("bad input");
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    // Not an admin.
    let denied = app
        .notifications(AGENT)
        .update_settings(nb::UpdateSettingsRequest {
            settings: Some(nb::Settings { sender_name: "Fourth".into(), etag: "1".into(), ..Default::default() }),
            update_mask: mask(&["sender_name"]),
            reason: String::new(),
        })
        .await
        .expect_err("agents may not change settings");
    assert_eq!(denied.code(), Code::PermissionDenied);

    assert_eq!(trail_rows(&app).await, before, "a refused change leaves no entry");
    assert_eq!(settings(&app).await.sender_name, "First");
}

async fn a_template_save_and_reset_leave_entries_with_their_reason(app: TestApp) {
    let mut admin = app.notifications(ADMIN);
    let default = admin
        .list_templates(nb::ListTemplatesRequest {})
        .await
        .expect("templates")
        .into_inner()
        .templates
        .into_iter()
        .find(|t| t.event_type == "case.closed")
        .expect("a case.closed template");
    assert!(template_history(&app, "case.closed").await.is_empty());

    let saved = admin
        .update_template(nb::UpdateTemplateRequest {
            template: template("case.closed", "[{{ case.number }}] Done", "Closed: {{ case.subject }}"),
            reason: "Shorter, as marketing asked".into(),
        })
        .await
        .expect("save a template")
        .into_inner();
    assert!(saved.customized);
    let reason = "Shorter, as marketing asked";
    assert_eq!(
        rows(&template_history(&app, "case.closed").await),
        [
            row("subject", &default.subject, "[{{ case.number }}] Done", "admin:admin", reason),
            row("body", &default.body, "Closed: {{ case.subject }}", "admin:admin", reason),
            row("customized", "false", "true", "admin:admin", reason),
        ]
    );

    // Saving it again with another body: only the body changes.
    admin
        .update_template(nb::UpdateTemplateRequest {
            template: template("case.closed", "[{{ case.number }}] Done", "Closed for good: {{ case.subject }}"),
            reason: "Wording".into(),
        })
        .await
        .expect("save it again");
    let reset = admin
        .reset_template(nb::ResetTemplateRequest { event_type: "case.closed".into(), reason: "Back to the default".into() })
        .await
        .expect("reset")
        .into_inner();
    assert!(!reset.customized);
    assert_eq!(reset.subject, default.subject);
    assert!(reset.update_time.is_none());
    // A reset of the default changes nothing and writes nothing.
    admin
        .reset_template(nb::ResetTemplateRequest { event_type: "case.closed".into(), reason: "Again".into() })
        .await
        .expect("reset the default");

    let trail = template_history(&app, "case.closed").await;
    assert_eq!(
        rows(&trail[3..]),
        [
            row("body", "Closed: {{ case.subject }}", "Closed for good: {{ case.subject }}", "admin:admin", "Wording"),
            row("subject", "[{{ case.number }}] Done", &default.subject, "admin:admin", "Back to the default"),
            row("body", "Closed for good: {{ case.subject }}", &default.body, "admin:admin", "Back to the default"),
            row("customized", "true", "false", "admin:admin", "Back to the default"),
        ]
    );
    assert!(trail.iter().all(|e| e.record_type == "template" && e.record_id == "case.closed"), "{trail:?}");
    assert!(template_history(&app, "case.created").await.is_empty(), "each template has its own trail");

    // After a reset, a save starts from the default again.
    admin
        .update_template(nb::UpdateTemplateRequest {
            template: template("case.closed", "[{{ case.number }}] Closed", &default.body),
            reason: String::new(),
        })
        .await
        .expect("save after a reset");
    let trail = template_history(&app, "case.closed").await;
    assert_eq!(
        rows(&trail[7..]),
        [
            row("subject", &default.subject, "[{{ case.number }}] Closed", "admin:admin", ""),
            row("customized", "false", "true", "admin:admin", ""),
        ]
    );
}

async fn a_refused_template_leaves_no_entry(app: TestApp) {
    let mut admin = app.notifications(ADMIN);
    for (event_type, subject, body, field) in [
        ("case.created", "[{{ case.number ", "fine", "template.subject"),
        ("case.created", "{{ case.number }}", "Hello {{ customer.nmae }}", "template.body"),
        ("case.exploded", "x", "y", "template.event_type"),
    ] {
        let refused = admin
            .update_template(nb::UpdateTemplateRequest {
                template: template(event_type, subject, body),
                reason: "Should not stay".into(),
            })
            .await
            .expect_err("a bad template");
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let too_long = admin
        .update_template(nb::UpdateTemplateRequest {
            template: template("case.created", "{{ case.number }}", "fine"),
            reason: "x".repeat(1_001),
        })
        .await
        .expect_err("a reason too long");
    assert_field_error(&too_long, Code::InvalidArgument, "reason");
    let unknown = admin
        .reset_template(nb::ResetTemplateRequest { event_type: "case.exploded".into(), ..Default::default() })
        .await
        .expect_err("an unknown event type");
    assert_field_error(&unknown, Code::InvalidArgument, "event_type");
    let denied = app
        .notifications(AGENT)
        .update_template(nb::UpdateTemplateRequest { template: template("case.created", "x", "y"), ..Default::default() })
        .await
        .expect_err("agents may not change templates");
    assert_eq!(denied.code(), Code::PermissionDenied);

    assert_eq!(trail_rows(&app).await, 0, "a refused change leaves no entry");
    assert!(template_history(&app, "case.created").await.is_empty());
}

async fn an_opt_out_leaves_entries_only_when_it_changes(app: TestApp) {
    let customer = customer(&app).await;
    let contact_id = customer.contact.id.clone();
    let mut agent = app.notifications(AGENT);
    let set = |opted_out: bool, reason: &str| nb::SetContactOptOutRequest {
        contact_id: contact_id.clone(),
        opted_out,
        reason: reason.to_owned(),
    };
    let opted = agent.set_contact_opt_out(set(true, "Asked by phone")).await.expect("opt out").into_inner();
    assert!(opted.opted_out);
    assert!(opted.update_time.is_some());
    // The same again changes nothing.
    agent.set_contact_opt_out(set(true, "Asked twice")).await.expect("opt out again");
    agent.set_contact_opt_out(set(false, "Wants updates again")).await.expect("opt in");

    let trail = opt_out_history(&app, &contact_id).await;
    assert_eq!(
        rows(&trail),
        [
            row("opted_out", "false", "true", "agent:agent", "Asked by phone"),
            row("opted_out", "true", "false", "agent:agent", "Wants updates again"),
        ]
    );
    assert!(trail.iter().all(|e| e.record_type == "contact_opt_out" && e.record_id == contact_id), "{trail:?}");

    // Refused: an unknown contact, a bad reason, a viewer.
    let before = trail_rows(&app).await;
    let unknown = agent
        .set_contact_opt_out(nb::SetContactOptOutRequest {
            contact_id: uuid::Uuid::now_v7().to_string(),
            opted_out: true,
            reason: "Unknown".into(),
        })
        .await
        .expect_err("an unknown contact");
    assert_field_error(&unknown, Code::InvalidArgument, "contact_id");
    let bad_reason = agent.set_contact_opt_out(set(true, "bell\u{7}")).await.expect_err("a control character");
    assert_field_error(&bad_reason, Code::InvalidArgument, "reason");
    let denied = app.notifications(VIEWER).set_contact_opt_out(set(true, "")).await.expect_err("viewers may not");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(trail_rows(&app).await, before);
}

async fn the_history_calls_refuse_bad_input(app: TestApp) {
    let mut viewer = app.notifications(VIEWER);
    for (request, field) in [
        (nb::ListSettingsHistoryRequest { page_size: -1, ..Default::default() }, "page_size"),
        (nb::ListSettingsHistoryRequest { page_token: "garbage!".into(), ..Default::default() }, "page_token"),
    ] {
        let refused = viewer.list_settings_history(request).await.expect_err("bad input");
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let template = |event_type: &str| nb::ListTemplateHistoryRequest { event_type: event_type.to_owned(), ..Default::default() };
    for (request, field) in [
        (template(""), "event_type"),
        (template("case.exploded"), "event_type"),
        (nb::ListTemplateHistoryRequest { page_size: -5, ..template("case.created") }, "page_size"),
        (nb::ListTemplateHistoryRequest { page_token: "%%%".into(), ..template("case.created") }, "page_token"),
    ] {
        let refused = viewer.list_template_history(request).await.expect_err("bad input");
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let opt_out =
        |contact_id: &str| nb::ListContactOptOutHistoryRequest { contact_id: contact_id.to_owned(), ..Default::default() };
    let some_id = uuid::Uuid::now_v7().to_string();
    for (request, field) in [
        (opt_out(""), "contact_id"),
        (opt_out("not-a-uuid"), "contact_id"),
        (nb::ListContactOptOutHistoryRequest { page_size: -1, ..opt_out(&some_id) }, "page_size"),
        (nb::ListContactOptOutHistoryRequest { page_token: "garbage!".into(), ..opt_out(&some_id) }, "page_token"),
    ] {
        let refused = viewer.list_contact_opt_out_history(request).await.expect_err("bad input");
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    // Every bad field at once.
    let refused = viewer
        .list_contact_opt_out_history(nb::ListContactOptOutHistoryRequest {
            contact_id: "nope".into(),
            page_size: -1,
            page_token: "garbage!".into(),
        })
        .await
        .expect_err("bad input");
    let fields: Vec<String> = crate::common::field_violations(&refused).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["contact_id", "page_size", "page_token"]);
    // A contact without a trail has an empty one; no token, no history.
    assert!(opt_out_history(&app, &some_id).await.is_empty());
    let anonymous =
        app.notifications("").list_settings_history(nb::ListSettingsHistoryRequest::default()).await.expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}
