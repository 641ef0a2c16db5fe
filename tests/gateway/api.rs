//! The REST API does what the case service does, in JSON: records made
//! through it read back by id and number, lists filter and page, updates
//! need the current etag, the status verbs follow the status machine, and
//! the caller's token decides roles and the recorded actor.

use docket_proto::case::v1 as pb;
use http::Method;
use serde_json::{Value, json};

use crate::common::{
    ADMIN, AGENT, Backend, VIEWER,
    gateway::{GatewayApp, HttpResponse},
};

/// An account, a contact of it with `email`, as the API returns them.
pub async fn account_and_contact(gw: &GatewayApp, email: &str) -> (Value, Value) {
    let account = gw.post_json("/api/v1/accounts", AGENT, &json!({"name": "Acme Ltd", "tier": "premium"})).await.expect(201);
    let contact = gw
        .post_json("/api/v1/contacts", AGENT, &json!({"account_id": account["id"], "name": "Petra Novak", "email": email}))
        .await
        .expect(201);
    (account, contact)
}

/// A case of `account` with `contact` as its primary contact.
pub async fn new_case(gw: &GatewayApp, account: &Value, contact: &Value, subject: &str) -> Value {
    gw.post_json(
        "/api/v1/cases",
        AGENT,
        &json!({
            "subject": subject,
            "description": "It smells of smoke.",
            "type_id": "technical_issue",
            "account_id": account["id"],
            "contacts": [{"contact_id": contact["id"], "primary": true}],
            "priority": "critical",
        }),
    )
    .await
    .expect(201)
}

async fn staff_user(gw: &GatewayApp) -> pb::StaffUser {
    gw.app
        .staff(ADMIN)
        .create_staff_user(pb::CreateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                name: "Alex Agent".into(),
                email: format!("alex.{}@staff.example", uuid::Uuid::now_v7().simple()),
                role: pb::StaffRole::Agent as i32,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create a staff user")
        .into_inner()
}

fn etag_header(response: &HttpResponse) -> String {
    response.header("etag").expect("an ETag header").trim_matches('"').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_created_through_the_api_reads_back_by_id_and_number_and_is_listed() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let created = gw
        .post_json(
            "/api/v1/cases",
            AGENT,
            &json!({
                "subject": "Printer on fire",
                "type_id": "technical_issue",
                "account_id": account["id"],
                "contacts": [{"contact_id": contact["id"], "primary": true}],
                "priority": "critical",
                "tags": ["hardware"],
            }),
        )
        .await;
    let case = created.expect(201);
    assert_eq!(created.header("location"), Some(format!("/api/v1/cases/{}", case["id"].as_str().unwrap()).as_str()));
    assert_eq!(etag_header(&created), case["etag"].as_str().unwrap());
    assert_eq!(case["status"], "active_new");
    assert_eq!(case["priority"], "critical");
    assert_eq!(case["owner_id"], Value::Null);
    assert_eq!(case["tags"], json!(["hardware"]));
    // The service recorded the caller's token as the creator.
    assert_eq!(case["created_by"], "agent:agent");
    let created_at = case["create_time"].as_str().expect("a timestamp");
    chrono::DateTime::parse_from_rfc3339(created_at).expect("RFC 3339");
    assert_eq!(account["tier"], "premium");

    let by_id = gw.get(&format!("/api/v1/cases/{}", case["id"].as_str().unwrap()), VIEWER).await.expect(200);
    let by_number = gw.get(&format!("/api/v1/cases/{}", case["case_number"].as_str().unwrap()), VIEWER).await.expect(200);
    assert_eq!(by_id, case);
    assert_eq!(by_number, case);

    for _ in 0..2 {
        new_case(&gw, &account, &contact, "Another one").await;
    }
    let page = gw.get("/api/v1/cases?status=active_new&priority=critical&page_size=2", VIEWER).await.expect(200);
    assert_eq!(page["cases"].as_array().unwrap().len(), 2);
    assert_eq!(page["total_size"], Value::Null, "counted only when asked");
    let counted = "/api/v1/cases?status=active_new&priority=critical&page_size=2&include_total_size=true";
    assert_eq!(gw.get(counted, VIEWER).await.expect(200)["total_size"], 3);
    let token = page["next_page_token"].as_str().expect("a next page");
    let rest = gw.get(&format!("/api/v1/cases?status=active_new&priority=critical&page_size=2&page_token={token}"), VIEWER).await;
    let rest = rest.expect(200);
    assert_eq!(rest["cases"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_page_token"], Value::Null);
    let text = gw.get("/api/v1/cases?text=printer%20on&order_by=priority_desc", VIEWER).await.expect(200);
    assert_eq!(text["cases"].as_array().unwrap().len(), 1);
    let closed = gw.get("/api/v1/cases?status=closed_complete&status=closed_no_fault", VIEWER).await.expect(200);
    assert_eq!(closed["cases"], json!([]));

    let contact_by_email = gw.get("/api/v1/contacts/PETRA@acme.example", VIEWER).await.expect(200);
    assert_eq!(contact_by_email["id"], contact["id"]);
    let accounts = gw.get("/api/v1/accounts?query=acme&tier=premium&include_total_size=true", VIEWER).await.expect(200);
    assert_eq!(accounts["accounts"][0]["id"], account["id"]);
    assert_eq!(accounts["total_size"], 1);
    let contacts = gw.get(&format!("/api/v1/contacts?account_id={}", account["id"].as_str().unwrap()), VIEWER).await;
    assert_eq!(contacts.expect(200)["contacts"][0]["email"], "petra@acme.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_need_the_current_etag_and_the_verbs_follow_the_status_machine() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let case = new_case(&gw, &account, &contact, "Printer on fire").await;
    let id = case["id"].as_str().unwrap();
    let path = format!("/api/v1/cases/{id}");
    let etag = case["etag"].as_str().unwrap();

    let body = json!({"subject": "Printer still on fire", "reason": "more smoke"});
    let missing =
        gw.send(Method::PATCH, &path, Some(AGENT), &[], Some(("application/json", body.to_string().into_bytes()))).await;
    missing.problem(428);
    let updated = gw.patch_json(&path, AGENT, etag, &body).await;
    let updated_case = updated.expect(200);
    assert_eq!(updated_case["subject"], "Printer still on fire");
    assert_eq!(updated_case["description"], "It smells of smoke.", "fields absent from the body are kept");
    assert_ne!(updated_case["etag"], case["etag"]);
    // The etag read before that change is stale now.
    let stale = gw.patch_json(&path, AGENT, etag, &json!({"subject": "Lost update"})).await;
    assert_eq!(stale.problem(412)["code"], "stale_etag");

    let history = gw.get(&format!("{path}/history"), VIEWER).await.expect(200);
    let subject_change = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "subject" && e["new_value"] == "Printer still on fire")
        .expect("the subject change is in the audit trail");
    assert_eq!(subject_change["old_value"], "Printer on fire");
    assert_eq!(subject_change["new_value"], "Printer still on fire");
    assert_eq!(subject_change["reason"], "more smoke");
    assert_eq!(subject_change["actor"], "agent:agent");

    // Pending needs an owner first: the service refuses, naming the allowed moves.
    let refused = gw.post_json(&format!("{path}/status"), AGENT, &json!({"status": "pending"})).await;
    assert_eq!(refused.problem(409)["code"], "failed_precondition");

    let owner = staff_user(&gw).await;
    let assigned = gw.post_json(&format!("{path}/assign"), AGENT, &json!({"owner_id": owner.id, "reason": "on duty"})).await;
    let assigned = assigned.expect(200);
    assert_eq!(assigned["status"], "active_assigned");
    assert_eq!(assigned["owner_id"], owner.id.as_str());

    // A verb with a stale If-Match is refused and changes nothing.
    let stale_verb = gw
        .send(
            Method::POST,
            &format!("{path}/status"),
            Some(AGENT),
            &[("if-match", &format!("\"{etag}\""))],
            Some(("application/json", json!({"status": "pending"}).to_string().into_bytes())),
        )
        .await;
    stale_verb.problem(412);
    let pending = gw.post_json(&format!("{path}/status"), AGENT, &json!({"status": "pending"})).await.expect(200);
    assert_eq!(pending["status"], "pending");

    let close = json!({"status": "closed_complete", "resolution_summary": "Replaced the fuser."});
    let closed = gw.post_json(&format!("{path}/close"), AGENT, &close).await.expect(200);
    assert_eq!(closed["status"], "closed_complete");
    assert_eq!(closed["resolution_summary"], "Replaced the fuser.");
    assert!(closed["closed_time"].is_string());
    gw.post_json(&format!("{path}/close"), AGENT, &close).await.problem(409);
    gw.post_json(&format!("{path}/reopen"), AGENT, &json!({})).await.bad_field("reason");
    let reopened = gw.post_json(&format!("{path}/reopen"), AGENT, &json!({"reason": "It burns again"})).await.expect(200);
    assert_eq!(reopened["status"], "active_assigned");

    let note = json!({"kind": "note", "visibility": "public", "body": "We are on our way."});
    let activity = gw.post_json(&format!("{path}/activities"), AGENT, &note).await.expect(201);
    assert_eq!(activity["kind"], "note");
    assert_eq!(activity["author"], "agent:agent");
    let call = json!({"kind": "call", "body": "Called back", "call": {"direction": "outbound", "duration_seconds": 90}});
    gw.post_json(&format!("{path}/activities"), AGENT, &call).await.expect(201);
    let all = gw.get(&format!("{path}/activities"), VIEWER).await.expect(200);
    assert_eq!(all["activities"].as_array().unwrap().len(), 2);
    assert_eq!(all["activities"][1]["call"]["duration_seconds"], 90);
    let public = gw.get(&format!("{path}/activities?public_only=true"), VIEWER).await.expect(200);
    assert_eq!(public["activities"].as_array().unwrap().len(), 1, "the call is internal");

    // Accounts and contacts: the same rules.
    let account_path = format!("/api/v1/accounts/{}", account["id"].as_str().unwrap());
    let renamed = gw
        .patch_json(
            &account_path,
            AGENT,
            account["etag"].as_str().unwrap(),
            &json!({"name": "Acme Group", "annual_value": {"amount_minor": 1250000, "currency": "EUR"}}),
        )
        .await
        .expect(200);
    assert_eq!(renamed["annual_value"], json!({"amount_minor": 1250000, "currency": "EUR"}));
    gw.patch_json(&account_path, AGENT, account["etag"].as_str().unwrap(), &json!({"name": "Lost"})).await.problem(412);
    let account_history = gw.get(&format!("{account_path}/history"), VIEWER).await.expect(200);
    assert!(account_history["entries"].as_array().unwrap().iter().any(|e| e["new_value"] == "Acme Group"));
    let contact_path = format!("/api/v1/contacts/{}", contact["id"].as_str().unwrap());
    let moved = gw.patch_json(&contact_path, AGENT, contact["etag"].as_str().unwrap(), &json!({"title": "CTO"})).await;
    assert_eq!(moved.expect(200)["title"], "CTO");
    let contact_history = gw.get(&format!("{contact_path}/history"), VIEWER).await.expect(200);
    assert!(contact_history["entries"].as_array().unwrap().iter().any(|e| e["new_value"] == "CTO"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_with_the_same_idempotency_key_returns_the_first_case() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let (account, _) = account_and_contact(&gw, "petra@acme.example").await;
    let body = json!({"subject": "Once only", "type_id": "technical_issue", "account_id": account["id"]});
    let send = || {
        gw.send(
            Method::POST,
            "/api/v1/cases",
            Some(AGENT),
            &[("idempotency-key", "retry-7f3a")],
            Some(("application/json", body.to_string().into_bytes())),
        )
    };
    let first = send().await.expect(201);
    let again = send().await.expect(201);
    assert_eq!(first["id"], again["id"]);
    let all = gw.get("/api/v1/cases", VIEWER).await.expect(200);
    assert_eq!(all["cases"].as_array().unwrap().len(), 1);
    // The same key with another request is refused: 422 (the IETF
    // Idempotency-Key draft's answer), naming the key; nothing is created.
    let other = gw
        .send(
            Method::POST,
            "/api/v1/cases",
            Some(AGENT),
            &[("idempotency-key", "retry-7f3a")],
            Some((
                "application/json",
                json!({"subject": "Else", "type_id": "technical_issue", "account_id": account["id"]}).to_string().into_bytes(),
            )),
        )
        .await;
    let problem = other.expect(422);
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(problem["errors"][0]["field"], "idempotency_key", "{problem}");
    assert_eq!(gw.get("/api/v1/cases", VIEWER).await.expect(200)["cases"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_decides_who_may_do_what() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let (account, _) = account_and_contact(&gw, "petra@acme.example").await;
    let body = json!({"subject": "Viewer tries", "type_id": "technical_issue", "account_id": account["id"]});
    let refused = gw.post_json("/api/v1/cases", VIEWER, &body).await;
    assert_eq!(refused.problem(403)["code"], "permission_denied");

    let anonymous = gw.send(Method::GET, "/api/v1/cases", None, &[], None).await;
    anonymous.problem(401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    gw.get("/api/v1/cases", "not-a-known-token-at-all").await.problem(401);
    let basic = gw.send(Method::GET, "/api/v1/cases", None, &[("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")], None).await;
    basic.problem(401);
    gw.get("/api/v1/cases", ADMIN).await.expect(200);
}

/// JSON has one kind of number: a whole amount written `250.0` is the
/// amount 250, as the document's `integer` promises; `250.5` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_number_written_with_a_zero_fraction_is_taken() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let body = |amount: f64| json!({"name": "Acme Ltd", "annual_value": {"amount_minor": amount, "currency": "EUR"}});
    let account = gw.post_json("/api/v1/accounts", AGENT, &body(250.0)).await.expect(201);
    assert_eq!(account["annual_value"], json!({"amount_minor": 250, "currency": "EUR"}));
    let refused = gw.post_json("/api/v1/accounts", AGENT, &body(250.5)).await.expect(400);
    assert_eq!(refused["errors"][0]["field"], "annual_value.amount_minor", "{refused}");
}

/// A missing case in the path is 404 on every route, adding an activity included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_for_a_case_that_does_not_exist_is_not_found() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let path = "/api/v1/cases/01a23f2a-a55c-7123-a9cb-63ca3e88d171/activities";
    let problem = gw.post_json(path, AGENT, &json!({"kind": "note", "body": "Hello"})).await.expect(404);
    assert_eq!(problem["code"], "not_found");
}
