//! The staff endpoints of the REST API beyond cases: web form definitions
//! and portal users (portal service), SLA state and work-order PDFs
//! (billing service). Each does what its service does, through the
//! caller's token; bad input to every one of them gets a problem and
//! writes nothing.

use std::time::Duration;

use docket_proto::{billing::v1 as billing, case::v1::CasePriority};
use http::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    api::{account_and_contact, new_case},
    common::{
        ADMIN, AGENT, Backend, VIEWER,
        gateway::{GatewayApp, HttpResponse},
    },
};

/// A form definition the portal service accepts.
fn support_form(slug: &str) -> Value {
    json!({
        "slug": slug,
        "title": "Warranty claim",
        "intro": "Tell us about the device.",
        "fields": [
            {"name": "name", "label": "Your name", "kind": "text", "target": "contact_name", "required": true},
            {"name": "email", "label": "Email", "kind": "email", "target": "contact_email", "required": true},
            {"name": "subject", "label": "Subject", "kind": "text", "target": "subject", "required": true, "max_length": 120},
            {"name": "device", "label": "Device", "kind": "select", "target": "append_to_description",
                "options": ["Printer", "Scanner"], "help_text": "Which one?"},
            {"name": "details", "label": "Details", "kind": "textarea", "target": "description"},
        ],
        "case_type_id": "technical_issue",
        "priority": "high",
        "allowed_origins": ["https://www.example.com"],
        "success_message": "Thanks!",
    })
}

fn etag_header(response: &HttpResponse) -> String {
    response.header("etag").expect("an ETag header").trim_matches('"').to_owned()
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_else(|| panic!("no string `{field}` in {value}"))
}

/// Sends `body` with `If-Match: "<etag>"` (none when `etag` is `None`).
async fn send_json(gw: &GatewayApp, method: Method, path: &str, token: &str, etag: Option<&str>, body: &Value) -> HttpResponse {
    let if_match = etag.map(|e| format!("\"{e}\""));
    let headers: Vec<(&str, &str)> = if_match.iter().map(|v| ("if-match", v.as_str())).collect();
    gw.send(method, path, Some(token), &headers, Some(("application/json", body.to_string().into_bytes()))).await
}

async fn delete(gw: &GatewayApp, path: &str, token: &str, etag: Option<&str>) -> HttpResponse {
    let if_match = etag.map(|e| format!("\"{e}\""));
    let headers: Vec<(&str, &str)> = if_match.iter().map(|v| ("if-match", v.as_str())).collect();
    gw.send(Method::DELETE, path, Some(token), &headers, None).await
}

/// Every portal table, every case table: equal before and after means
/// nothing was written. Read until two reads agree, so that event handlers
/// still at work on what the test set up are not mistaken for a write.
async fn settled_counts(gw: &GatewayApp) -> Vec<(String, i64)> {
    let read = || async {
        let mut counts = gw
            .app
            .table_counts(
                "portal",
                &[
                    "portal_users",
                    "portal_tokens",
                    "web_forms",
                    "form_submissions",
                    "audit_entries",
                    "idempotency_keys",
                    "outbox",
                ],
            )
            .await;
        counts.extend(gw.app.row_counts().await);
        counts
    };
    let mut last = read().await;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = read().await;
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the databases did not settle: {last:?}");
}

/// Whether an invitation link to `email` reached the dev mailbox within 20 s.
async fn invitation_emailed_to(gw: &GatewayApp, email: &str) -> bool {
    let dir = std::path::PathBuf::from(&gw.app.settings.notification.mailbox_dir);
    for _ in 0..200 {
        let found = std::fs::read_dir(&dir).into_iter().flatten().flatten().any(|entry| {
            let raw = std::fs::read_to_string(entry.path()).unwrap_or_default();
            raw.to_lowercase().contains(&email.to_lowercase()) && raw.contains("/portal/invitation/")
        });
        if found {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_is_created_read_by_id_and_slug_changed_with_its_etag_and_deleted() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let created = gw.post_json("/api/v1/forms", ADMIN, &support_form("warranty-claim")).await;
    let form = created.expect(201);
    let id = str_of(&form, "id");
    assert_eq!(created.header("location"), Some(format!("/api/v1/forms/{id}").as_str()));
    assert_eq!(etag_header(&created), str_of(&form, "etag"));
    assert_eq!(form["slug"], "warranty-claim");
    assert_eq!(form["priority"], "high");
    assert_eq!(form["active"], true, "a form made through the API takes submissions");
    assert_eq!(form["team_id"], Value::Null);
    assert_eq!(form["fields"].as_array().unwrap().len(), 5);
    assert_eq!(form["fields"][3]["kind"], "select");
    assert_eq!(form["fields"][3]["options"], json!(["Printer", "Scanner"]));
    assert_eq!(form["fields"][2]["max_length"], 120);
    chrono::DateTime::parse_from_rfc3339(str_of(&form, "create_time")).expect("RFC 3339");

    let by_id = gw.get(&format!("/api/v1/forms/{id}"), VIEWER).await.expect(200);
    let by_slug = gw.get("/api/v1/forms/warranty-claim", VIEWER).await;
    assert_eq!(etag_header(&by_slug), str_of(&form, "etag"));
    assert_eq!(by_id, form);
    assert_eq!(by_slug.expect(200), form);
    let listed = gw.get("/api/v1/forms?active_only=true", VIEWER).await.expect(200);
    assert_eq!(listed["web_forms"], json!([form.clone()]));
    assert_eq!(listed["next_page_token"], Value::Null);

    // Changed by slug: the fields present change, the others stay.
    let etag = str_of(&form, "etag");
    let body = json!({"title": "Warranty claims", "active": false, "reason": "new wording"});
    let missing = send_json(&gw, Method::PATCH, "/api/v1/forms/warranty-claim", ADMIN, None, &body).await;
    missing.problem(428);
    let changed = gw.patch_json("/api/v1/forms/warranty-claim", ADMIN, etag, &body).await.expect(200);
    assert_eq!(changed["title"], "Warranty claims");
    assert_eq!(changed["active"], false);
    assert_eq!(changed["intro"], form["intro"]);
    assert_eq!(changed["fields"], form["fields"]);
    assert_ne!(changed["etag"], form["etag"]);
    let stale = gw.patch_json(&format!("/api/v1/forms/{id}"), ADMIN, etag, &json!({"title": "Lost update"})).await;
    assert_eq!(stale.problem(412)["code"], "stale_etag");
    let inactive = gw.get("/api/v1/forms?active_only=true", VIEWER).await.expect(200);
    assert_eq!(inactive["web_forms"], json!([]));

    let history = gw.get(&format!("/api/v1/forms/{id}/history"), VIEWER).await.expect(200);
    let change = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["new_value"] == "Warranty claims")
        .unwrap_or_else(|| panic!("the title change is in the audit trail: {history}"));
    assert_eq!(change["reason"], "new wording");
    assert_eq!(change["record_id"], form["id"]);
    let by_slug_history = gw.get("/api/v1/forms/warranty-claim/history", VIEWER).await.expect(200);
    assert_eq!(by_slug_history, history);

    // Delete: needs the current etag.
    delete(&gw, "/api/v1/forms/warranty-claim", ADMIN, None).await.problem(428);
    delete(&gw, "/api/v1/forms/warranty-claim", ADMIN, Some(etag)).await.problem(412);
    let gone = delete(&gw, "/api/v1/forms/warranty-claim", ADMIN, Some(str_of(&changed, "etag"))).await;
    assert_eq!(gone.status, 204, "{}", gone.text());
    assert!(gone.body.is_empty());
    assert_eq!(gw.get(&format!("/api/v1/forms/{id}"), VIEWER).await.problem(404)["code"], "not_found");
    gw.get("/api/v1/forms/warranty-claim", VIEWER).await.problem(404);
    delete(&gw, &format!("/api/v1/forms/{id}"), ADMIN, Some(str_of(&changed, "etag"))).await.problem(404);
    assert_eq!(gw.get("/api/v1/forms", VIEWER).await.expect(200)["web_forms"], json!([]));
    // The trail of a deleted form stays readable by its id.
    let trail = gw.get(&format!("/api/v1/forms/{id}/history"), VIEWER).await.expect(200);
    assert!(trail["entries"].as_array().unwrap().iter().any(|e| e["field"] == "deleted"), "{trail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_may_define_change_or_delete_a_form() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let form = gw.post_json("/api/v1/forms", ADMIN, &support_form("support")).await.expect(201);
    let path = format!("/api/v1/forms/{}", str_of(&form, "id"));
    let etag = str_of(&form, "etag");
    let before = gw.get("/api/v1/forms", VIEWER).await.expect(200);
    for token in [AGENT, VIEWER] {
        let refused = gw.post_json("/api/v1/forms", token, &support_form("by-someone-else")).await;
        assert_eq!(refused.problem(403)["code"], "permission_denied");
        gw.patch_json(&path, token, etag, &json!({"title": "Mine now"})).await.problem(403);
        delete(&gw, &path, token, Some(etag)).await.problem(403);
    }
    gw.send(Method::GET, "/api/v1/forms", None, &[], None).await.problem(401);
    assert_eq!(gw.get("/api/v1/forms", VIEWER).await.expect(200), before, "a refused request changed a form");
    // Reading needs any role.
    gw.get(&path, AGENT).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_is_invited_to_the_portal_listed_changed_and_its_sessions_revoked() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let contact_id = str_of(&contact, "id");
    assert_eq!(gw.get("/api/v1/portal-users", VIEWER).await.expect(200)["portal_users"], json!([]));

    let invited = gw.post_json("/api/v1/portal-users", AGENT, &json!({"contact_id": contact_id})).await;
    let invitation = invited.expect(201);
    let user = &invitation["portal_user"];
    assert_eq!(invited.header("location"), Some(format!("/api/v1/portal-users/{contact_id}").as_str()));
    assert_eq!(etag_header(&invited), str_of(user, "etag"));
    assert_eq!(user["state"], "invited");
    assert_eq!(user["email"], "petra@acme.example");
    assert_eq!(user["account_id"], account["id"]);
    assert_eq!(user["enabled"], true);
    assert_eq!(user["portal_manager"], false);
    assert_eq!(user["activate_time"], Value::Null);
    chrono::DateTime::parse_from_rfc3339(str_of(&invitation, "invitation_expire_time")).expect("RFC 3339");
    // The link goes by email only: no secret is in the answer.
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert!(!keys.iter().any(|k| k.contains("hash") || k.contains("token") || k.ends_with("password")), "{keys:?}");
    assert!(!invited.text().contains("/portal/invitation/"), "{}", invited.text());
    assert!(invitation_emailed_to(&gw, "petra@acme.example").await, "no invitation email reached the mailbox");
    // Inviting turned on the contact's portal access in the case service.
    assert_eq!(gw.get(&format!("/api/v1/contacts/{contact_id}"), VIEWER).await.expect(200)["portal_enabled"], true);

    let path = format!("/api/v1/portal-users/{contact_id}");
    let read = gw.get(&path, VIEWER).await;
    assert_eq!(etag_header(&read), str_of(user, "etag"));
    assert_eq!(&read.expect(200), user);
    let account_id = str_of(&account, "id");
    for query in ["state=invited".to_owned(), format!("account_id={account_id}"), String::new()] {
        let page = gw.get(&format!("/api/v1/portal-users?{query}"), VIEWER).await.expect(200);
        assert_eq!(page["portal_users"], json!([user.clone()]), "{query}");
    }
    for query in ["state=active", "state=disabled"] {
        let page = gw.get(&format!("/api/v1/portal-users?{query}"), VIEWER).await.expect(200);
        assert_eq!(page["portal_users"], json!([]), "{query}");
    }

    let etag = str_of(user, "etag");
    let manager = gw.patch_json(&path, AGENT, etag, &json!({"portal_manager": true, "reason": "runs IT"})).await.expect(200);
    assert_eq!(manager["portal_manager"], true);
    assert_eq!(manager["enabled"], true, "fields absent from the body are kept");
    let stale = gw.patch_json(&path, AGENT, etag, &json!({"enabled": false})).await;
    assert_eq!(stale.problem(412)["code"], "stale_etag");
    gw.patch_json(&path, VIEWER, str_of(&manager, "etag"), &json!({"enabled": false})).await.problem(403);

    let revoked = gw.post_json(&format!("{path}/revoke-sessions"), AGENT, &json!({"reason": "lost laptop"})).await;
    assert_eq!(revoked.expect(200)["contact_id"], contact_id);

    let current = gw.get(&path, VIEWER).await.expect(200);
    let disabled = gw.patch_json(&path, AGENT, str_of(&current, "etag"), &json!({"enabled": false})).await.expect(200);
    assert_eq!(disabled["state"], "disabled");
    let listed = gw.get("/api/v1/portal-users?state=disabled", VIEWER).await.expect(200);
    assert_eq!(listed["portal_users"][0]["contact_id"], contact_id);
    // A disabled user is not invited again until enabled.
    let again = gw.post_json("/api/v1/portal-users", AGENT, &json!({"contact_id": contact_id})).await;
    assert_eq!(again.problem(409)["code"], "failed_precondition");

    let history = gw.get(&format!("{path}/history"), VIEWER).await.expect(200);
    let entries = history["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["field"] == "portal_manager" && e["reason"] == "runs IT"), "{history}");
    assert!(entries.iter().any(|e| e["reason"] == "lost laptop"), "{history}");
    assert!(entries.iter().all(|e| e["record_id"] == contact_id && e["actor"] == "agent:agent"), "{history}");
}

/// A default SLA policy that counts every minute of the day.
async fn around_the_clock_policy(gw: &GatewayApp) -> billing::SlaPolicy {
    let policy = billing::SlaPolicy {
        name: "Around the clock".to_owned(),
        time_zone: "UTC".into(),
        working_hours: (1..=7)
            .map(|weekday| billing::WorkingHours { weekday, start: "00:00".into(), end: "24:00".into() })
            .collect(),
        targets: [
            (CasePriority::Low, 480, 2400),
            (CasePriority::Medium, 240, 1440),
            (CasePriority::High, 120, 480),
            (CasePriority::Critical, 60, 240),
        ]
        .into_iter()
        .map(|(p, f, r)| billing::SlaTarget { priority: p as i32, first_response_minutes: f, resolution_minutes: r })
        .collect(),
        pause_while_pending: true,
        warn_at_percent: 80,
        is_default: true,
        ..Default::default()
    };
    gw.app
        .sla_policies(ADMIN)
        .create_sla_policy(billing::CreateSlaPolicyRequest { policy: Some(policy), idempotency_key: String::new() })
        .await
        .expect("create an SLA policy")
        .into_inner()
}

/// Waits until the billing service's clock of a case has seen version `etag` of it.
async fn wait_for_clock(gw: &GatewayApp, case_id: &str, etag: &str) {
    let db = gw.app.service_db("billing").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT case_version FROM case_clocks WHERE case_id = '{case_id}'"),
            ))
            .await
            .expect("read the clock");
        let seen = row.map(|r| r.try_get::<i64>("", "case_version").expect("a version"));
        if seen.is_some_and(|v| v.to_string() == etag) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the clock of case {case_id} did not reach {etag}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_created_through_the_api_runs_an_sla_clock_that_the_queues_and_compliance_show() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let policy = around_the_clock_policy(&gw).await;
    // The clock is moved back 50 minutes below.
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let case = new_case(&gw, &account, &contact, "Line down").await;
    let case_id = str_of(&case, "id");

    let sla = gw.get(&format!("/api/v1/cases/{case_id}/sla"), VIEWER).await.expect(200);
    assert_eq!(sla["case_id"], case["id"]);
    assert_eq!(sla["case_number"], case["case_number"]);
    assert_eq!(sla["priority"], "critical");
    assert_eq!(sla["status"], "active_new");
    assert_eq!(sla["sla_policy_id"], policy.id.as_str());
    assert_eq!(sla["contract_id"], Value::Null);
    assert_eq!(sla["overall"], "on_track");
    let created = chrono::DateTime::parse_from_rfc3339(str_of(&case, "create_time")).unwrap();
    for (target, kind, minutes) in [("first_response", "first_response", 60), ("resolution", "resolution", 240)] {
        let status = &sla[target];
        assert_eq!(status["target"], kind);
        assert_eq!(status["state"], "on_track");
        let due = chrono::DateTime::parse_from_rfc3339(str_of(status, "due_time")).expect("a due time");
        assert_eq!(due, created + chrono::Duration::minutes(minutes), "{target}");
        assert!(status["warning_time"].is_string(), "{status}");
        assert!(status["business_seconds_left"].as_i64().unwrap() > 0);
        assert_eq!(status["met_time"], Value::Null);
    }

    // On track: in neither queue.
    for query in ["", "?state=at_risk", "?state=breached"] {
        let page = gw.get(&format!("/api/v1/sla/cases{query}"), VIEWER).await.expect(200);
        assert_eq!(page["cases"], json!([]), "{query}");
    }
    // 50 minutes later the first response (due after 60, warned at 48) is at risk.
    wait_for_clock(&gw, case_id, str_of(&case, "etag")).await;
    let billing_db = gw.app.service_db("billing").await;
    let columns =
        ["opened_at", "first_response_warn_at", "first_response_due", "resolution_warn_at", "resolution_due", "next_due_at"];
    // `next_check_at` stays: the scheduler is not to act on the moved clock.
    let shift: Vec<String> = columns.iter().map(|c| format!("{c} = {c} - interval '50 minutes'")).collect();
    billing_db
        .execute_unprepared(&format!("UPDATE case_clocks SET {} WHERE case_id = '{case_id}'", shift.join(", ")))
        .await
        .expect("move the clock back");
    let at_risk = gw.get("/api/v1/sla/cases?state=at_risk", VIEWER).await.expect(200);
    let listed: Vec<&Value> = at_risk["cases"].as_array().unwrap().iter().map(|c| &c["case_id"]).collect();
    assert_eq!(listed, [&case["id"]], "{at_risk}");
    assert_eq!(at_risk["cases"][0]["case_number"], case["case_number"]);
    assert_eq!(at_risk["next_page_token"], Value::Null);
    let both = gw.get("/api/v1/sla/cases?state=at_risk&state=breached", VIEWER).await.expect(200);
    assert_eq!(both["cases"].as_array().unwrap().len(), 1);
    let breached = gw.get("/api/v1/sla/cases?state=breached", VIEWER).await.expect(200);
    assert_eq!(breached["cases"], json!([]));

    let end = chrono::Utc::now() + chrono::Duration::minutes(1);
    let compliance = gw
        .get(
            &format!(
                "/api/v1/sla/compliance?sla_policy_id={}&period_start={}&period_end={}",
                policy.id,
                urlencode(&start.to_rfc3339()),
                urlencode(&end.to_rfc3339())
            ),
            VIEWER,
        )
        .await
        .expect(200);
    assert_eq!(compliance["cases"], 1, "{compliance}");
    assert_eq!(compliance["first_response"]["open"], 1);
    assert_eq!(compliance["first_response"]["met_basis_points"], 10_000);
    assert_eq!(compliance["resolution"]["decided"], 0);
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_order_is_served_as_an_inline_pdf_named_after_the_case() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let case = new_case(&gw, &account, &contact, "Printer on fire").await;
    let number = str_of(&case, "case_number");
    let pdf = gw.get(&format!("/api/v1/cases/{}/work-order.pdf", str_of(&case, "id")), VIEWER).await;
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert!(pdf.body.starts_with(b"%PDF-"), "not a PDF: {:?}", &pdf.body[..pdf.body.len().min(32)]);
    assert_eq!(pdf.header("content-disposition"), Some(format!("inline; filename=\"work-order-{number}.pdf\"").as_str()));
    assert!(number.starts_with("C-"), "{number}");
}

/// A body endpoint and a body it would accept.
struct BodyEndpoint {
    method: Method,
    path: String,
    valid: Value,
    etag: Option<String>,
}

impl BodyEndpoint {
    async fn send(&self, gw: &GatewayApp, content_type: &str, body: Vec<u8>) -> HttpResponse {
        let if_match = self.etag.as_ref().map(|e| format!("\"{e}\""));
        let headers: Vec<(&str, &str)> = if_match.iter().map(|v| ("if-match", v.as_str())).collect();
        gw.send(self.method.clone(), &self.path, Some(ADMIN), &headers, Some((content_type, body))).await
    }
}

/// What a refused request must not change: every portal and case table,
/// and the lists of forms and portal users.
async fn observed(gw: &GatewayApp) -> (Vec<(String, i64)>, Value, Value) {
    let counts = settled_counts(gw).await;
    let forms = gw.get("/api/v1/forms", VIEWER).await.expect(200);
    let users = gw.get("/api/v1/portal-users", VIEWER).await.expect(200);
    (counts, forms, users)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_to_every_staff_endpoint_are_refused_and_write_nothing() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let form = gw.post_json("/api/v1/forms", ADMIN, &support_form("support")).await.expect(201);
    let (_, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let (_, other) = account_and_contact(&gw, "jonas@acme.example").await;
    let invitation = gw.post_json("/api/v1/portal-users", AGENT, &json!({"contact_id": contact["id"]})).await.expect(201);
    let user = &invitation["portal_user"];
    let user_path = format!("/api/v1/portal-users/{}", str_of(user, "contact_id"));
    let form_path = format!("/api/v1/forms/{}", str_of(&form, "id"));
    let endpoints = [
        BodyEndpoint { method: Method::POST, path: "/api/v1/forms".into(), valid: support_form("another"), etag: None },
        BodyEndpoint {
            method: Method::PATCH,
            path: form_path.clone(),
            valid: json!({"title": "New"}),
            etag: Some(str_of(&form, "etag").to_owned()),
        },
        BodyEndpoint {
            method: Method::POST,
            path: "/api/v1/portal-users".into(),
            valid: json!({"contact_id": other["id"]}),
            etag: None,
        },
        BodyEndpoint {
            method: Method::PATCH,
            path: user_path.clone(),
            valid: json!({"portal_manager": true}),
            etag: Some(str_of(user, "etag").to_owned()),
        },
        BodyEndpoint {
            method: Method::POST,
            path: format!("{user_path}/revoke-sessions"),
            valid: json!({"reason": "lost laptop"}),
            etag: None,
        },
    ];
    let before = observed(&gw).await;
    for endpoint in &endpoints {
        let at = format!("{} {}", endpoint.method, endpoint.path);
        for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
            let answer = endpoint.send(&gw, content_type, endpoint.valid.to_string().into_bytes()).await;
            assert_eq!(answer.problem(415)["code"], "unsupported_media_type", "{at} as {content_type:?}");
        }
        // Invalid UTF-8 inside a JSON string (a key, read before any field is matched).
        let mut invalid_utf8 = br#"{"caf"#.to_vec();
        invalid_utf8.extend([0xC3, 0x28]);
        invalid_utf8.extend(br#"": "x"}"#);
        let problem = endpoint.send(&gw, "application/json", invalid_utf8).await.problem(400);
        assert!(str_of(&problem, "detail").contains("not valid JSON"), "{at}: {problem}");
        for broken in [&b"{"[..], b"", b"not json", b"{}}", b"{\"reason\": tru"] {
            endpoint.send(&gw, "application/json", broken.to_vec()).await.problem(400);
        }
        for wrong_shape in ["[]", "42", "\"text\"", "null"] {
            let problem = endpoint.send(&gw, "application/json", wrong_shape.as_bytes().to_vec()).await.problem(400);
            assert_eq!(problem["detail"], "the body must be a JSON object", "{at}");
        }
        let mut unknown = endpoint.valid.clone();
        unknown["password_hash"] = json!("$argon2id$...");
        endpoint.send(&gw, "application/json", unknown.to_string().into_bytes()).await.bad_field("password_hash");
        let mut big = endpoint.valid.clone();
        big["reason"] = json!("x".repeat(gw.app.settings.gateway.body_limit_bytes + 1));
        endpoint.send(&gw, "application/json", big.to_string().into_bytes()).await.problem(413);
        gw.send(
            endpoint.method.clone(),
            &endpoint.path,
            None,
            &[],
            Some(("application/json", endpoint.valid.to_string().into())),
        )
        .await
        .problem(401);
        assert_eq!(observed(&gw).await, before, "{at}: a refused request wrote something");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_unknown_and_over_long_values_are_named_and_write_nothing() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let form = gw.post_json("/api/v1/forms", ADMIN, &support_form("support")).await.expect(201);
    let (_, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let invitation = gw.post_json("/api/v1/portal-users", AGENT, &json!({"contact_id": contact["id"]})).await.expect(201);
    let user = &invitation["portal_user"];
    let user_path = format!("/api/v1/portal-users/{}", str_of(user, "contact_id"));
    let form_path = format!("/api/v1/forms/{}", str_of(&form, "id"));
    let form_etag = str_of(&form, "etag");
    let user_etag = str_of(user, "etag");
    let before = observed(&gw).await;

    // Creates: every missing required field is named.
    let problem = gw.post_json("/api/v1/forms", ADMIN, &json!({})).await.problem(400);
    let named: Vec<&str> = problem["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    for field in ["slug", "title", "fields", "case_type_id"] {
        assert!(named.contains(&field), "{field} not named: {problem}");
    }
    gw.post_json("/api/v1/portal-users", AGENT, &json!({})).await.bad_field("contact_id");

    let with = |change: Value| {
        let mut body = support_form("other-form");
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let mut bad_field_kind = support_form("other-form");
    bad_field_kind["fields"][0]["kind"] = json!("checkbox");
    let mut bad_field_target = support_form("other-form");
    bad_field_target["fields"][0]["target"] = json!("invoice");
    let mut long_label = support_form("other-form");
    long_label["fields"][0]["label"] = json!("x".repeat(201));
    let mut unknown_field_key = support_form("other-form");
    unknown_field_key["fields"][0]["colour"] = json!("red");
    let mut no_email = support_form("other-form");
    no_email["fields"].as_array_mut().unwrap().remove(1);
    let creates = [
        (with(json!({"priority": "urgent"})), "priority"),
        (with(json!({"slug": 5})), "slug"),
        (with(json!({"active": "yes"})), "active"),
        (bad_field_kind, "fields[0].kind"),
        (bad_field_target, "fields[0].target"),
        (unknown_field_key, "fields[0].colour"),
        (with(json!({"slug": "Not A Slug"})), "slug"),
        (with(json!({"slug": "s".repeat(61)})), "slug"),
        (with(json!({"title": "t".repeat(201)})), "title"),
        (with(json!({"intro": "i".repeat(5_001)})), "intro"),
        (with(json!({"success_message": "m".repeat(2_001)})), "success_message"),
        (long_label, "fields[0].label"),
        (with(json!({"case_type_id": "no_such_type"})), "case_type_id"),
        (with(json!({"team_id": "not-an-id"})), "team_id"),
        (with(json!({"account_id": uuid::Uuid::now_v7().to_string()})), "account_id"),
        (with(json!({"allowed_origins": ["not a url"]})), "allowed_origins[0]"),
        // The slug of an existing form.
        (with(json!({"slug": "support"})), "slug"),
    ];
    for (body, field) in creates {
        let answer = gw.post_json("/api/v1/forms", ADMIN, &body).await;
        if field == "slug" && body["slug"] == "support" {
            assert_eq!(answer.problem(409)["errors"][0]["field"], "slug", "{body}");
        } else {
            answer.bad_field(field);
        }
    }
    gw.post_json("/api/v1/forms", ADMIN, &no_email).await.problem(400);
    for (body, field) in [
        (json!({"contact_id": "not-an-id"}), "contact_id"),
        (json!({"contact_id": uuid::Uuid::now_v7().to_string()}), "contact_id"),
        (json!({"contact_id": contact["id"], "portal_manager": "yes"}), "portal_manager"),
    ] {
        gw.post_json("/api/v1/portal-users", AGENT, &body).await.bad_field(field);
    }

    // Updates: an empty change, bad values, a malformed etag, over-long reasons.
    for (path, etag) in [(&form_path, form_etag), (&user_path, user_etag)] {
        gw.patch_json(path, ADMIN, etag, &json!({})).await.problem(400);
        gw.patch_json(path, ADMIN, etag, &json!({"reason": "only a reason"})).await.problem(400);
    }
    gw.patch_json(&form_path, ADMIN, "not-an-etag", &json!({"title": "New"})).await.bad_field("etag");
    gw.patch_json(&user_path, ADMIN, "not-an-etag", &json!({"enabled": true})).await.bad_field("etag");
    gw.patch_json(&form_path, ADMIN, form_etag, &json!({"priority": "urgent"})).await.bad_field("priority");
    gw.patch_json(&form_path, ADMIN, form_etag, &json!({"title": ""})).await.bad_field("title");
    gw.patch_json(&form_path, ADMIN, form_etag, &json!({"title": "t".repeat(201)})).await.bad_field("title");
    gw.patch_json(&form_path, ADMIN, form_etag, &json!({"title": "T", "reason": "r".repeat(10_000)})).await.bad_field("reason");
    gw.patch_json(&user_path, ADMIN, user_etag, &json!({"enabled": "no"})).await.bad_field("enabled");
    gw.patch_json(&user_path, ADMIN, user_etag, &json!({"state": "active"})).await.bad_field("state");
    gw.patch_json(&user_path, ADMIN, user_etag, &json!({"enabled": true, "reason": "r".repeat(10_000)}))
        .await
        .bad_field("reason");
    let revoke = format!("{user_path}/revoke-sessions");
    gw.post_json(&revoke, AGENT, &json!({"reason": "r".repeat(10_000)})).await.bad_field("reason");
    gw.post_json(&revoke, AGENT, &json!({"reason": 5})).await.bad_field("reason");
    let two = gw
        .send(
            Method::PATCH,
            &form_path,
            Some(ADMIN),
            &[("if-match", "\"1\", \"2\"")],
            Some(("application/json", json!({"title": "T"}).to_string().into_bytes())),
        )
        .await;
    two.bad_field("If-Match");
    delete(&gw, &form_path, ADMIN, Some("not-an-etag")).await.bad_field("etag");
    let long_reason = format!("{form_path}?reason={}", "r".repeat(5_000));
    delete(&gw, &long_reason, ADMIN, Some(form_etag)).await.bad_field("reason");

    // Unknown records: 404; malformed ids: 400.
    let unknown = uuid::Uuid::now_v7();
    for path in [format!("/api/v1/forms/{unknown}"), "/api/v1/forms/no-such-form".to_owned()] {
        assert_eq!(gw.get(&path, VIEWER).await.problem(404)["code"], "not_found");
        gw.patch_json(&path, ADMIN, form_etag, &json!({"title": "T"})).await.problem(404);
        delete(&gw, &path, ADMIN, Some(form_etag)).await.problem(404);
    }
    gw.get("/api/v1/forms/no-such-form/history", VIEWER).await.problem(404);
    gw.get("/api/v1/forms/Not_A_Slug!", VIEWER).await.bad_field("slug");
    let unknown_user = format!("/api/v1/portal-users/{unknown}");
    gw.get(&unknown_user, VIEWER).await.problem(404);
    gw.patch_json(&unknown_user, AGENT, user_etag, &json!({"enabled": false})).await.problem(404);
    gw.post_json(&format!("{unknown_user}/revoke-sessions"), AGENT, &json!({})).await.problem(404);
    assert_eq!(gw.get(&format!("{unknown_user}/history"), VIEWER).await.expect(200)["entries"], json!([]));
    for path in [
        "/api/v1/portal-users/not-a-uuid",
        "/api/v1/portal-users/not-a-uuid/history",
        "/api/v1/cases/not-a-uuid/sla",
        "/api/v1/cases/not-a-uuid/work-order.pdf",
        "/api/v1/cases/C-000001/sla",
    ] {
        gw.get(path, VIEWER).await.problem(400);
    }
    gw.patch_json("/api/v1/portal-users/not-a-uuid", AGENT, user_etag, &json!({"enabled": false})).await.bad_field("contact_id");
    gw.post_json("/api/v1/portal-users/not-a-uuid/revoke-sessions", AGENT, &json!({})).await.bad_field("contact_id");
    assert_eq!(gw.get(&format!("/api/v1/cases/{unknown}/sla"), VIEWER).await.problem(404)["code"], "not_found");
    gw.get(&format!("/api/v1/cases/{unknown}/work-order.pdf"), VIEWER).await.problem(404);
    gw.send(Method::GET, &format!("/api/v1/cases/{unknown}/work-order.pdf"), None, &[], None).await.problem(401);

    // Queries: unknown enum values, bad paging, ids and times.
    for (path, field) in [
        ("/api/v1/forms?active_only=maybe", "active_only"),
        ("/api/v1/forms?page_size=-1", "page_size"),
        ("/api/v1/forms?page_token=forged", "page_token"),
        ("/api/v1/forms/support/history?page_token=forged", "page_token"),
        ("/api/v1/portal-users?state=gone", "state"),
        ("/api/v1/portal-users?account_id=nope", "account_id"),
        ("/api/v1/portal-users?page_size=many", "page_size"),
        ("/api/v1/sla/cases?state=on_track", "state"),
        ("/api/v1/sla/cases?state=at_risk&state=flying", "state"),
        ("/api/v1/sla/cases?contract_id=nope", "contract_id"),
        ("/api/v1/sla/cases?page_token=forged", "page_token"),
        ("/api/v1/sla/compliance?period_start=2026-01-01T00:00:00Z&period_end=2026-02-01T00:00:00Z", "contract_id"),
        (
            "/api/v1/sla/compliance?contract_id=nope&period_start=2026-01-01T00:00:00Z&period_end=2026-02-01T00:00:00Z",
            "contract_id",
        ),
        ("/api/v1/sla/compliance?contract_id=0190c0de-0000-7000-8000-000000000000", "period_start"),
        ("/api/v1/sla/compliance?contract_id=0190c0de-0000-7000-8000-000000000000&period_start=yesterday", "period_start"),
        (
            "/api/v1/sla/compliance?contract_id=0190c0de-0000-7000-8000-000000000000&sla_policy_id=0190c0de-0000-7000-8000-000000000001\
             &period_start=2026-01-01T00:00:00Z&period_end=2026-02-01T00:00:00Z",
            "sla_policy_id",
        ),
        (
            "/api/v1/sla/compliance?contract_id=0190c0de-0000-7000-8000-000000000000\
             &period_start=2026-02-01T00:00:00Z&period_end=2026-01-01T00:00:00Z",
            "period_end",
        ),
    ] {
        gw.get(path, VIEWER).await.bad_field(field);
    }
    assert_eq!(observed(&gw).await, before, "a refused request wrote something");
}
