//! WebFormService: admins define forms; submissions become contacts and cases.

use std::collections::HashMap;

use docket_proto::{case::v1 as pb, portal::v1 as portal};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, SERVICE, TestApp, VIEWER, assert_field_error, eventually},
    fixtures::{account, mask, team, unique},
    portal_tests,
    support::{all_row_counts, execute},
};

portal_tests!(
    an_admin_creates_reads_lists_updates_and_deletes_a_form,
    a_submission_from_a_new_address_creates_a_contact_and_a_web_form_case,
    a_retried_submission_answers_with_the_first_case,
    a_bad_submission_an_inactive_form_or_a_foreign_origin_creates_nothing,
    bad_form_definitions_are_refused_naming_each_field,
    a_form_changed_through_another_replica_reaches_its_submissions,
);

fn field(name: &str, kind: portal::FormFieldKind, target: portal::FormFieldTarget, required: bool) -> portal::FormField {
    portal::FormField {
        name: name.to_owned(),
        label: name.replace('_', " "),
        kind: kind as i32,
        required,
        target: target as i32,
        ..Default::default()
    }
}

pub fn support_form(slug: &str) -> portal::WebForm {
    use portal::{FormFieldKind as K, FormFieldTarget as T};
    portal::WebForm {
        slug: slug.to_owned(),
        title: "Warranty claim".into(),
        intro: "Tell us about the device.".into(),
        fields: vec![
            field("name", K::Text, T::ContactName, true),
            field("email", K::Email, T::ContactEmail, true),
            field("phone", K::Text, T::Phone, false),
            field("subject", K::Text, T::Subject, true),
            field("serial", K::Text, T::AssetSerialNumber, false),
            portal::FormField {
                options: vec!["Printer".into(), "Scanner".into()],
                ..field("device", K::Select, T::AppendToDescription, true)
            },
            field("details", K::Textarea, T::Description, true),
        ],
        case_type_id: "warranty_claim".into(),
        priority: pb::CasePriority::High as i32,
        allowed_origins: vec!["https://www.example.com".into()],
        success_message: "Thanks!".into(),
        active: true,
        ..Default::default()
    }
}

pub async fn create_form(app: &TestApp, form: portal::WebForm) -> portal::WebForm {
    app.web_forms(ADMIN)
        .create_web_form(portal::CreateWebFormRequest { web_form: Some(form), idempotency_key: String::new() })
        .await
        .expect("create a form")
        .into_inner()
}

pub fn values(email: &str) -> HashMap<String, String> {
    [
        ("name", "Petra Schmidt"),
        ("email", email),
        ("phone", "+49 40 555"),
        ("subject", "Scanner makes a noise"),
        ("serial", "SC-77"),
        ("device", "Scanner"),
        ("details", "A grinding noise when it starts."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub fn submission(slug: &str, values: HashMap<String, String>) -> portal::SubmitFormRequest {
    portal::SubmitFormRequest {
        slug: slug.to_owned(),
        values,
        submission_id: uuid::Uuid::now_v7().to_string(),
        client_ip: "203.0.113.9".into(),
        origin: String::new(),
    }
}

pub async fn case_by_number(app: &TestApp, number: &str) -> pb::Case {
    app.cases(AGENT)
        .get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::CaseNumber(number.to_owned())) })
        .await
        .unwrap()
        .into_inner()
}

async fn an_admin_creates_reads_lists_updates_and_deletes_a_form(app: TestApp) {
    let queue = team(&app, &unique("Warranty")).await;
    let acme = account(&app, &unique("Acme")).await;
    let slug = unique("warranty");
    let created = app
        .web_forms(ADMIN)
        .create_web_form(portal::CreateWebFormRequest {
            web_form: Some(portal::WebForm { team_id: queue.id.clone(), account_id: acme.id.clone(), ..support_form(&slug) }),
            idempotency_key: "form-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.slug, slug);
    assert_eq!(created.fields.len(), 7);
    assert_eq!(created.team_id, queue.id);
    // The same key answers with the same form.
    let again = app
        .web_forms(ADMIN)
        .create_web_form(portal::CreateWebFormRequest {
            web_form: Some(portal::WebForm { team_id: queue.id.clone(), account_id: acme.id.clone(), ..support_form(&slug) }),
            idempotency_key: "form-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, created.id);

    let by_slug = app
        .web_forms(VIEWER)
        .get_web_form(portal::GetWebFormRequest { lookup: Some(portal::get_web_form_request::Lookup::Slug(slug.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_slug, created);
    let listed = app.web_forms(SERVICE).list_web_forms(portal::ListWebFormsRequest::default()).await.unwrap().into_inner();
    assert!(listed.web_forms.iter().any(|f| f.id == created.id));

    let updated = app
        .web_forms(ADMIN)
        .update_web_form(portal::UpdateWebFormRequest {
            web_form: Some(portal::WebForm {
                id: created.id.clone(),
                etag: created.etag.clone(),
                title: "Warranty claims".into(),
                active: false,
                ..Default::default()
            }),
            update_mask: mask(&["title", "active"]),
            reason: "paused".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.title, "Warranty claims");
    assert!(!updated.active);
    assert_eq!(updated.fields, created.fields, "unmasked fields are kept");
    let active = app
        .web_forms(SERVICE)
        .list_web_forms(portal::ListWebFormsRequest { active_only: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(active.web_forms.iter().all(|f| f.id != created.id));
    let stale = app
        .web_forms(ADMIN)
        .delete_web_form(portal::DeleteWebFormRequest {
            id: created.id.clone(),
            etag: created.etag.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    app.web_forms(ADMIN)
        .delete_web_form(portal::DeleteWebFormRequest {
            id: created.id.clone(),
            etag: updated.etag.clone(),
            reason: "replaced".into(),
        })
        .await
        .unwrap();
    let gone = app
        .web_forms(VIEWER)
        .get_web_form(portal::GetWebFormRequest { lookup: Some(portal::get_web_form_request::Lookup::Id(created.id.clone())) })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let trail = app
        .web_forms(VIEWER)
        .list_web_form_history(pb::ListHistoryRequest { id: created.id.clone(), page_size: 0, page_token: String::new() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let fields: Vec<&str> = trail.iter().map(|e| e.field.as_str()).collect();
    for expected in ["created", "title", "active", "deleted"] {
        assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
    }
}

async fn a_submission_from_a_new_address_creates_a_contact_and_a_web_form_case(app: TestApp) {
    let slug = unique("warranty");
    let form = create_form(&app, support_form(&slug)).await;
    // An assignment rule on the form's id routes what comes through it.
    let desk = team(&app, "Warranty desk").await;
    app.assignment_rules(ADMIN)
        .create_assignment_rule(pb::CreateAssignmentRuleRequest {
            rule: Some(pb::AssignmentRule {
                name: "Warranty form".into(),
                web_form_ids: vec![form.id.clone()],
                method: pb::RoutingMethod::TeamQueue as i32,
                team_id: desk.id.clone(),
                active: true,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let email = format!("{}@newcomer.example", unique("petra"));
    let answer = app.web_forms(SERVICE).submit_form(submission(&slug, values(&email))).await.unwrap().into_inner();
    assert_eq!(answer.success_message, "Thanks!");
    let answered_form = answer.web_form.as_ref().expect("the answer carries the form, for the gateway's answer page");
    assert_eq!((answered_form.slug.as_str(), answered_form.title.as_str()), (slug.as_str(), "Warranty claim"));
    let case = case_by_number(&app, &answer.case_number).await;
    assert_eq!(case.channel, pb::CaseChannel::WebForm as i32);
    assert_eq!(case.subject, "Scanner makes a noise");
    assert_eq!(case.type_id, "warranty_claim");
    assert_eq!(case.priority, pb::CasePriority::High as i32);
    assert_eq!(case.asset_serial_number, "SC-77");
    assert_eq!(case.description, "A grinding noise when it starts.\n\ndevice: Scanner");
    assert_eq!((case.web_form_id.as_str(), case.team_id.as_str()), (form.id.as_str(), desk.id.as_str()));
    let contact = app
        .contacts(AGENT)
        .get_contact(pb::GetContactRequest { lookup: Some(pb::get_contact_request::Lookup::Email(email.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(contact.name, "Petra Schmidt");
    assert_eq!(contact.phone, "+49 40 555");
    assert_eq!(case.contacts, [pb::CaseContact { contact_id: contact.id.clone(), primary: true }]);
    let unassigned =
        app.accounts(AGENT).get_account(pb::GetAccountRequest { id: contact.account_id.clone() }).await.unwrap().into_inner();
    assert_eq!(unassigned.name, "Unassigned", "a newcomer goes to the Unassigned account, as with email-to-case");

    // The same address again proves nothing: the case waits for it to
    // confirm (tests/portal/confirmation.rs), and the contact stays as it was.
    let mut second_values = values(&email.to_uppercase());
    second_values.insert("name".into(), "Someone Else".into());
    second_values.insert("subject".into(), "Printer too".into());
    let second = app.web_forms(SERVICE).submit_form(submission(&slug, second_values)).await.unwrap().into_inner();
    assert_ne!(second.case_number, answer.case_number);
    assert!(second.awaiting_confirmation);
    assert!(!answer.awaiting_confirmation, "a new address is the submitter's own");
    let unchanged = app
        .contacts(AGENT)
        .get_contact(pb::GetContactRequest { lookup: Some(pb::get_contact_request::Lookup::Id(contact.id.clone())) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.name, "Petra Schmidt", "a form does not rename an existing contact");
}

async fn a_retried_submission_answers_with_the_first_case(app: TestApp) {
    let slug = unique("warranty");
    let form = create_form(&app, support_form(&slug)).await;
    let request = submission(&slug, values(&format!("{}@retry.example", unique("r"))));
    let first = app.web_forms(SERVICE).submit_form(request.clone()).await.unwrap().into_inner();
    let before = all_row_counts(&app).await;
    let again = app.web_forms(SERVICE).submit_form(request.clone()).await.unwrap().into_inner();
    assert_eq!(again.case_number, first.case_number);
    assert_eq!(again.web_form.map(|form| form.slug), Some(slug.clone()), "a retry's answer carries the form too");
    assert_eq!(all_row_counts(&app).await, before, "a retry writes nothing");
    let mut other = request.clone();
    other.values.insert("details".into(), "Something else entirely".into());
    let reused = app.web_forms(SERVICE).submit_form(other).await.unwrap_err();
    assert_field_error(&reused, Code::InvalidArgument, "submission_id");
    assert_eq!(all_row_counts(&app).await, before);

    // Sent several times at once: one case, recorded once (whichever call
    // gets there first; the others read what it recorded).
    let resent = submission(&slug, values(&format!("{}@resent.example", unique("r"))));
    let answers = futures::future::join_all((0..4).map(|_| {
        let (mut forms, request) = (app.web_forms(SERVICE), resent.clone());
        async move { forms.submit_form(request).await }
    }))
    .await;
    let numbers: std::collections::BTreeSet<String> =
        answers.into_iter().map(|answer| answer.expect("each copy is answered").into_inner().case_number).collect();
    assert_eq!(numbers.len(), 1, "one case for every copy");
    let number = numbers.into_iter().next().unwrap();
    let history = app
        .web_forms(ADMIN)
        .list_web_form_history(pb::ListHistoryRequest { id: form.id.clone(), page_size: 0, page_token: String::new() })
        .await
        .unwrap()
        .into_inner();
    let recorded = history.entries.iter().filter(|e| e.field == "submission" && e.new_value == number).count();
    assert_eq!(recorded, 1, "the submission is trailed once");
}

async fn a_bad_submission_an_inactive_form_or_a_foreign_origin_creates_nothing(app: TestApp) {
    let slug = unique("warranty");
    let form = create_form(&app, support_form(&slug)).await;
    let email = format!("{}@bad.example", unique("bad"));
    let before = all_row_counts(&app).await;
    let mut forms = app.web_forms(SERVICE);
    let with = |change: &dyn Fn(&mut HashMap<String, String>)| {
        let mut v = values(&email);
        change(&mut v);
        submission(&slug, v)
    };
    for (request, fields) in [
        (
            with(&|v| {
                v.remove("email");
            }),
            vec!["values.email"],
        ),
        (
            with(&|v| {
                v.insert("email".into(), "not-an-email".into());
            }),
            vec!["values.email"],
        ),
        (
            with(&|v| {
                v.insert("device".into(), "Fax".into());
            }),
            vec!["values.device"],
        ),
        (
            with(&|v| {
                v.insert("subject".into(), "x".repeat(251));
            }),
            vec!["values.subject"],
        ),
        (
            with(&|v| {
                v.insert("subject".into(), "two\nlines".into());
                v.remove("details");
                v.insert("extra".into(), "?".into());
            }),
            vec!["values.subject", "values.details", "values.extra"],
        ),
    ] {
        let status = forms.submit_form(request).await.unwrap_err();
        for field in fields {
            assert_field_error(&status, Code::InvalidArgument, field);
        }
    }
    let mut no_id = with(&|_| {});
    no_id.submission_id = String::new();
    assert_field_error(&forms.submit_form(no_id).await.unwrap_err(), Code::InvalidArgument, "submission_id");
    let mut bad_slug = with(&|_| {});
    bad_slug.slug = "Not A Slug".into();
    assert_field_error(&forms.submit_form(bad_slug).await.unwrap_err(), Code::InvalidArgument, "slug");
    let mut unknown = with(&|_| {});
    unknown.slug = unique("missing");
    assert_eq!(forms.submit_form(unknown).await.unwrap_err().code(), Code::NotFound);
    let mut foreign = with(&|_| {});
    foreign.origin = "https://evil.example".into();
    assert_eq!(forms.submit_form(foreign).await.unwrap_err().code(), Code::PermissionDenied);
    let mut allowed = with(&|_| {});
    allowed.origin = "https://WWW.example.com/".into();
    let viewer = app.web_forms(VIEWER).submit_form(allowed.clone()).await.unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);
    assert_eq!(all_row_counts(&app).await, before, "refused submissions wrote nothing");
    assert!(
        app.contacts(AGENT)
            .get_contact(pb::GetContactRequest { lookup: Some(pb::get_contact_request::Lookup::Email(email.clone())) })
            .await
            .is_err(),
        "no contact was created"
    );
    forms.submit_form(allowed).await.expect("an allowed origin may submit");

    app.web_forms(ADMIN)
        .update_web_form(portal::UpdateWebFormRequest {
            web_form: Some(portal::WebForm { id: form.id.clone(), etag: form.etag.clone(), active: false, ..Default::default() }),
            update_mask: mask(&["active"]),
            reason: String::new(),
        })
        .await
        .unwrap();
    let before = all_row_counts(&app).await;
    let inactive = forms.submit_form(with(&|_| {})).await.unwrap_err();
    assert_eq!(inactive.code(), Code::FailedPrecondition);
    assert_eq!(all_row_counts(&app).await, before);
}

async fn bad_form_definitions_are_refused_naming_each_field(app: TestApp) {
    let slug = unique("warranty");
    create_form(&app, support_form(&slug)).await;
    let before = all_row_counts(&app).await;
    let mut forms = app.web_forms(ADMIN);
    let create = |form: portal::WebForm| portal::CreateWebFormRequest { web_form: Some(form), idempotency_key: String::new() };
    let fresh = || support_form(&unique("other"));
    let mut bad = fresh();
    bad.slug = "Has Spaces".into();
    bad.title = String::new();
    bad.allowed_origins = vec!["www.example.com".into(), "https://ok.example".into(), "https://x.example/path".into()];
    bad.fields[0].name = "Bad Name".into();
    bad.fields[3].kind = 0;
    bad.fields[4].max_length = -1;
    let status = forms.create_web_form(create(bad)).await.unwrap_err();
    for field in [
        "web_form.slug",
        "web_form.title",
        "web_form.allowed_origins[0]",
        "web_form.allowed_origins[2]",
        "web_form.fields[3].kind",
        "web_form.fields[4].max_length",
    ] {
        assert_field_error(&status, Code::InvalidArgument, field);
    }
    let mut no_email = fresh();
    no_email.fields.remove(1);
    assert_field_error(&forms.create_web_form(create(no_email)).await.unwrap_err(), Code::InvalidArgument, "web_form.fields");
    let mut twice = fresh();
    twice.fields[2].name = "email".into();
    assert_field_error(
        &forms.create_web_form(create(twice)).await.unwrap_err(),
        Code::InvalidArgument,
        "web_form.fields[2].name",
    );
    let mut no_options = fresh();
    no_options.fields[5].options.clear();
    assert_field_error(
        &forms.create_web_form(create(no_options)).await.unwrap_err(),
        Code::InvalidArgument,
        "web_form.fields[5].options",
    );
    for (change, field) in [
        (
            Box::new(|f: &mut portal::WebForm| f.case_type_id = "no_such_type".into()) as Box<dyn Fn(&mut portal::WebForm)>,
            "web_form.case_type_id",
        ),
        (Box::new(|f: &mut portal::WebForm| f.team_id = uuid::Uuid::now_v7().to_string()), "web_form.team_id"),
        (Box::new(|f: &mut portal::WebForm| f.account_id = uuid::Uuid::now_v7().to_string()), "web_form.account_id"),
        (Box::new(|f: &mut portal::WebForm| f.team_id = "team".into()), "web_form.team_id"),
        (Box::new(|f: &mut portal::WebForm| f.priority = 9), "web_form.priority"),
    ] {
        let mut form = fresh();
        change(&mut form);
        assert_field_error(&forms.create_web_form(create(form)).await.unwrap_err(), Code::InvalidArgument, field);
    }
    let taken = forms.create_web_form(create(support_form(&slug))).await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    for token in [AGENT, VIEWER, SERVICE] {
        assert_eq!(app.web_forms(token).create_web_form(create(fresh())).await.unwrap_err().code(), Code::PermissionDenied);
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    let update = |etag: &str, paths: &[&str]| portal::UpdateWebFormRequest {
        web_form: Some(portal::WebForm { id: unknown.clone(), etag: etag.to_owned(), ..Default::default() }),
        update_mask: mask(paths),
        reason: String::new(),
    };
    assert_eq!(forms.update_web_form(update("1", &["title"])).await.unwrap_err().code(), Code::InvalidArgument, "an empty title");
    assert_eq!(forms.update_web_form(update("1", &["active"])).await.unwrap_err().code(), Code::NotFound);
    assert_field_error(&forms.update_web_form(update("1", &["id"])).await.unwrap_err(), Code::InvalidArgument, "update_mask");
    assert_field_error(
        &forms.update_web_form(update("", &["active"])).await.unwrap_err(),
        Code::InvalidArgument,
        "web_form.etag",
    );
    assert_field_error(
        &forms
            .delete_web_form(portal::DeleteWebFormRequest { id: "x".into(), etag: "1".into(), reason: String::new() })
            .await
            .unwrap_err(),
        Code::InvalidArgument,
        "id",
    );
    assert_eq!(
        forms
            .delete_web_form(portal::DeleteWebFormRequest { id: unknown.clone(), etag: "1".into(), reason: String::new() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_field_error(
        &forms.get_web_form(portal::GetWebFormRequest { lookup: None }).await.unwrap_err(),
        Code::InvalidArgument,
        "lookup",
    );
    assert_field_error(
        &forms.list_web_forms(portal::ListWebFormsRequest { page_token: "%%".into(), ..Default::default() }).await.unwrap_err(),
        Code::InvalidArgument,
        "page_token",
    );
    assert_eq!(all_row_counts(&app).await, before, "refused definitions wrote nothing");
}

/// Submissions use a form as read a moment ago (the service keeps it for a
/// second); a change through this replica applies at once (above), one
/// through another replica (here: straight in its table) soon after.
async fn a_form_changed_through_another_replica_reaches_its_submissions(app: TestApp) {
    let slug = unique("warranty");
    create_form(&app, support_form(&slug)).await;
    let mut forms = app.web_forms(SERVICE);
    let email = format!("{}@replica.example", unique("r"));
    forms.submit_form(submission(&slug, values(&email))).await.expect("an active form takes a submission");
    execute(&app, "portal", &format!("UPDATE web_forms SET active = false, version = version + 1 WHERE slug = '{slug}'")).await;
    let refused = eventually("a submission to the form closed elsewhere to be refused", async || {
        match forms.submit_form(submission(&slug, values(&email))).await {
            Ok(taken) => Err(format!("still taken, as {}", taken.into_inner().case_number)),
            Err(status) => Ok(status),
        }
    })
    .await;
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let before = all_row_counts(&app).await;
    let again = forms.submit_form(submission(&slug, values(&email))).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(all_row_counts(&app).await, before, "a closed form's submissions write nothing");
}
