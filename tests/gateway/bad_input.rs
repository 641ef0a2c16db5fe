//! Bad input to every endpoint of the REST API: bodies over the limit,
//! wrong content types, invalid UTF-8, invalid JSON, bodies of the wrong
//! shape, missing fields, bad ids, bad queries and headers, missing and
//! unknown tokens. Each gets a problem+json that says what is wrong, and
//! nothing is written (every table of the case service is counted before
//! and after).

use http::Method;
use serde_json::{Value, json};

use crate::{
    api::{account_and_contact, new_case},
    common::{
        AGENT, Backend, VIEWER,
        gateway::{GatewayApp, HttpResponse},
    },
};

/// A body endpoint: method, path, and a body it would accept.
struct Endpoint {
    method: Method,
    path: String,
    valid: Value,
    /// Send the record's etag in If-Match.
    etag: Option<String>,
}

impl Endpoint {
    async fn send(&self, gw: &GatewayApp, token: Option<&str>, content_type: Option<&str>, body: Vec<u8>) -> HttpResponse {
        let if_match = self.etag.as_ref().map(|e| format!("\"{e}\""));
        let headers: Vec<(&str, &str)> = if_match.iter().map(|v| ("if-match", v.as_str())).collect();
        let body = match content_type {
            Some(content_type) => Some((content_type, body)),
            None => {
                // A body without a Content-Type header.
                return gw.send(self.method.clone(), &self.path, token, &headers, Some(("", body))).await;
            }
        };
        gw.send(self.method.clone(), &self.path, token, &headers, body).await
    }
}

async fn endpoints(gw: &GatewayApp) -> Vec<Endpoint> {
    let (account, contact) = account_and_contact(gw, "petra@acme.example").await;
    let case = new_case(gw, &account, &contact, "Printer on fire").await;
    let etag = |v: &Value| Some(v["etag"].as_str().unwrap().to_owned());
    let case_path = format!("/api/v1/cases/{}", case["id"].as_str().unwrap());
    let post = |path: String, valid: Value| Endpoint { method: Method::POST, path, valid, etag: None };
    vec![
        post("/api/v1/cases".into(), json!({"subject": "S", "type_id": "technical_issue", "account_id": account["id"]})),
        Endpoint { method: Method::PATCH, path: case_path.clone(), valid: json!({"subject": "New"}), etag: etag(&case) },
        post(format!("{case_path}/assign"), json!({"owner_id": ""})),
        post(format!("{case_path}/status"), json!({"status": "pending"})),
        post(format!("{case_path}/close"), json!({"status": "closed_complete", "resolution_summary": "Done"})),
        post(format!("{case_path}/reopen"), json!({"reason": "Again"})),
        post(format!("{case_path}/activities"), json!({"kind": "note", "body": "Hello"})),
        post("/api/v1/accounts".into(), json!({"name": "Beta"})),
        Endpoint {
            method: Method::PATCH,
            path: format!("/api/v1/accounts/{}", account["id"].as_str().unwrap()),
            valid: json!({"name": "Renamed"}),
            etag: etag(&account),
        },
        post("/api/v1/contacts".into(), json!({"account_id": account["id"], "name": "Jo"})),
        Endpoint {
            method: Method::PATCH,
            path: format!("/api/v1/contacts/{}", contact["id"].as_str().unwrap()),
            valid: json!({"name": "Renamed"}),
            etag: etag(&contact),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_to_every_endpoint_are_refused_and_write_nothing() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let endpoints = endpoints(&gw).await;
    let before = gw.app.row_counts().await;
    let limit = gw.app.settings.gateway.body_limit_bytes;
    for endpoint in &endpoints {
        let at = format!("{} {}", endpoint.method, endpoint.path);
        let json = Some("application/json");

        // Over the body limit: a valid JSON object with a long string.
        let mut big = endpoint.valid.clone();
        big["reason"] = json!("x".repeat(limit + 1));
        let answer = endpoint.send(&gw, Some(AGENT), json, big.to_string().into_bytes()).await;
        assert_eq!(answer.problem(413)["code"], "payload_too_large", "{at}");

        for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
            let answer = endpoint.send(&gw, Some(AGENT), content_type, endpoint.valid.to_string().into_bytes()).await;
            assert_eq!(answer.problem(415)["code"], "unsupported_media_type", "{at} as {content_type:?}");
        }

        // Invalid UTF-8 inside a JSON string (a key, read before any field is matched).
        let mut invalid_utf8 = br#"{"caf"#.to_vec();
        invalid_utf8.extend([0xC3, 0x28]);
        invalid_utf8.extend(br#"": "x"}"#);
        let problem = endpoint.send(&gw, Some(AGENT), json, invalid_utf8).await.problem(400);
        assert!(problem["detail"].as_str().unwrap().contains("not valid JSON"), "{at}: {problem}");

        for broken in [&b"{"[..], b"", b"not json", b"{}}", b"{\"reason\": tru"] {
            endpoint.send(&gw, Some(AGENT), json, broken.to_vec()).await.problem(400);
        }
        // Not an object: serde would read `[]` as a record with every field left out.
        for wrong_shape in ["[]", "42", "\"text\"", "null"] {
            let problem = endpoint.send(&gw, Some(AGENT), json, wrong_shape.as_bytes().to_vec()).await.problem(400);
            assert_eq!(problem["detail"], "the body must be a JSON object", "{at}");
        }
        let mut unknown = endpoint.valid.clone();
        unknown["sbject"] = json!("typo");
        endpoint.send(&gw, Some(AGENT), json, unknown.to_string().into_bytes()).await.bad_field("sbject");

        // Tokens: none, unknown, not a bearer, and one that may only read.
        let valid = endpoint.valid.to_string().into_bytes();
        endpoint.send(&gw, None, json, valid.clone()).await.problem(401);
        endpoint.send(&gw, Some("no-such-token-0000000"), json, valid.clone()).await.problem(401);
        endpoint.send(&gw, Some(VIEWER), json, valid).await.problem(403);
    }
    assert_eq!(gw.app.row_counts().await, before, "a refused request wrote something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_mistyped_fields_are_named_and_write_nothing() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let endpoints = endpoints(&gw).await;
    let path = |i: usize| endpoints[i].path.clone();
    let before = gw.app.row_counts().await;

    let problem = gw.post_json("/api/v1/cases", AGENT, &json!({})).await.problem(400);
    let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    for field in ["subject", "account_id", "type_id"] {
        assert!(fields.contains(&field), "{field} not named: {problem}");
    }
    let cases = [
        ("/api/v1/cases".to_owned(), json!({"subject": 5}), "subject"),
        ("/api/v1/cases".to_owned(), json!({"subject": "S", "priority": "urgent"}), "priority"),
        (
            "/api/v1/cases".to_owned(),
            json!({"subject": "S", "contacts": [{"contact_id": "x", "primary": "yes"}]}),
            "contacts[0].primary",
        ),
        (
            "/api/v1/cases".to_owned(),
            json!({"subject": "S", "type_id": "technical_issue", "account_id": "not-an-id"}),
            "account_id",
        ),
        (
            "/api/v1/cases".to_owned(),
            json!({"subject": "x".repeat(10_000), "type_id": "technical_issue", "account_id": endpoints[0].valid["account_id"]}),
            "subject",
        ),
        // A malformed contract number is bad input, not a billing outage.
        (
            "/api/v1/cases".to_owned(),
            json!({"subject": "S", "type_id": "technical_issue", "account_id": endpoints[0].valid["account_id"],
                "service_contract_number": "(\u{cc}"}),
            "service_contract_number",
        ),
        (path(2), json!({"owner_id": "not-an-id"}), "owner_id"),
        (path(3), json!({}), "status"),
        (path(3), json!({"status": "flying"}), "status"),
        (path(4), json!({"status": "closed_complete"}), "resolution_summary"),
        (path(5), json!({}), "reason"),
        (path(6), json!({"kind": "fax", "body": "x"}), "kind"),
        (path(6), json!({"kind": "call", "body": "x", "call": {"minutes": 3}}), "call.minutes"),
        ("/api/v1/accounts".to_owned(), json!({}), "name"),
        (
            "/api/v1/accounts".to_owned(),
            json!({"name": "A", "annual_value": {"amount_minor": 1.5, "currency": "EUR"}}),
            "annual_value.amount_minor",
        ),
        ("/api/v1/accounts".to_owned(), json!({"name": "A", "tier": "gold"}), "tier"),
        ("/api/v1/contacts".to_owned(), json!({"name": "Jo"}), "account_id"),
        (
            "/api/v1/contacts".to_owned(),
            json!({"account_id": endpoints[0].valid["account_id"], "name": "Jo", "email": "jo@"}),
            "email",
        ),
    ];
    for (path, body, field) in cases {
        gw.post_json(&path, AGENT, &body).await.bad_field(field);
    }
    // Updates: an empty change, a stale or malformed etag.
    for i in [1, 8, 10] {
        let endpoint = &endpoints[i];
        let etag = endpoint.etag.as_deref().unwrap();
        gw.patch_json(&endpoint.path, AGENT, etag, &json!({})).await.problem(400);
        gw.patch_json(&endpoint.path, AGENT, "not-an-etag", &endpoint.valid).await.bad_field("etag");
        let two = gw
            .send(
                Method::PATCH,
                &endpoint.path,
                Some(AGENT),
                &[("if-match", "\"1\", \"2\"")],
                Some(("application/json", endpoint.valid.to_string().into_bytes())),
            )
            .await;
        two.bad_field("If-Match");
    }
    assert_eq!(gw.app.row_counts().await, before, "a refused request wrote something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_queries_and_addresses_get_a_clear_problem() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let unknown = uuid::Uuid::now_v7();
    for path in ["/api/v1/cases/not-a-uuid", "/api/v1/accounts/not-a-uuid", "/api/v1/contacts/not-a-uuid"] {
        gw.get(path, VIEWER).await.problem(400);
        gw.get(&format!("{path}/history"), VIEWER).await.problem(400);
    }
    gw.get("/api/v1/cases/not-a-uuid/activities", VIEWER).await.problem(400);
    for path in ["cases", "accounts", "contacts"] {
        assert_eq!(gw.get(&format!("/api/v1/{path}/{unknown}"), VIEWER).await.problem(404)["code"], "not_found");
    }
    gw.get("/api/v1/cases/C-999999", VIEWER).await.problem(404);
    gw.get("/api/v1/contacts/nobody@nowhere.example", VIEWER).await.problem(404);
    gw.get(&format!("/api/v1/cases/{unknown}/activities"), VIEWER).await.problem(404);

    for (query, field) in [
        ("status=flying", "status"),
        ("priority=urgent", "priority"),
        ("page_size=many", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_token=forged", "page_token"),
        ("created_after=yesterday", "created_after"),
        ("order_by=random", "order_by"),
        ("unassigned_only=maybe", "unassigned_only"),
        ("owner_id=not-a-uuid", "owner_id"),
        ("include_total_size=please", "include_total_size"),
    ] {
        gw.get(&format!("/api/v1/cases?{query}"), VIEWER).await.bad_field(field);
    }
    gw.get("/api/v1/accounts?tier=gold", VIEWER).await.bad_field("tier");
    gw.get("/api/v1/contacts?account_id=nope", VIEWER).await.bad_field("account_id");
    gw.get("/api/v1/cases?page_token=%FF%FE", VIEWER).await.problem(400);

    // Addresses and methods the API does not have.
    assert_eq!(gw.get("/api/v1/nothing-here", VIEWER).await.problem(404)["code"], "not_found");
    let wrong_method = gw.send(Method::DELETE, "/api/v1/cases", Some(AGENT), &[], None).await;
    assert_eq!(wrong_method.problem(405)["code"], "method_not_allowed");
    assert!(wrong_method.header("allow").is_some_and(|a| a.contains("GET") && a.contains("POST")), "{wrong_method:?}");

    // A header value that is not visible ASCII.
    let mut idempotency = gw
        .send(
            Method::POST,
            "/api/v1/accounts",
            Some(AGENT),
            &[],
            Some(("application/json", json!({"name": "A"}).to_string().into_bytes())),
        )
        .await;
    idempotency.expect(201);
    let raw_key = http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
    idempotency = send_with_raw_header(&gw, "idempotency-key", raw_key).await;
    idempotency.bad_field("Idempotency-Key");
}

/// POSTs an account with one header whose value is raw bytes.
async fn send_with_raw_header(gw: &GatewayApp, name: &str, value: http::HeaderValue) -> HttpResponse {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = http::Request::post(format!("{}/api/v1/accounts", gw.base))
        .header("authorization", format!("Bearer {AGENT}"))
        .header("content-type", "application/json")
        .header(name, value)
        .body(Full::new(bytes::Bytes::from(json!({"name": "B"}).to_string())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    HttpResponse { status, headers, body }
}

/// A form definition with many bad fields (as schemathesis found: 29
/// copies of one field) is a 400 naming the first of them, not a server
/// error (58 violations once passed the HTTP/2 header limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_many_bad_fields_is_refused_not_a_server_error() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let mut fields = vec![json!({"name": "a", "label": "0", "kind": "email", "target": "contact_email", "required": true})];
    fields.extend((0..29).map(|_| json!({"name": "a", "label": "0", "kind": "text", "target": "phone"})));
    let form = json!({"slug": "many", "title": "Many", "fields": fields, "case_type_id": "technical_issue"});
    let problem = gw.post_json("/api/v1/forms", crate::common::ADMIN, &form).await.expect(400);
    let errors = problem["errors"].as_array().expect("the bad fields").len();
    assert!((1..=docket_kit::error::VIOLATIONS_SHOWN).contains(&errors), "{problem}");
    assert!(problem.to_string().contains("more"), "says that more fields are bad: {problem}");
}
