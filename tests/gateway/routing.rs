//! `/api/v1/routing/...`: assignment rules and the routing settings over
//! REST, each doing what the case service's AssignmentRuleService does with
//! the caller's token, and bad input refused with nothing written.

use http::Method;
use serde_json::{Value, json};

use crate::{
    api::{account_and_contact, new_case},
    common::{
        ADMIN, AGENT, Backend, VIEWER,
        gateway::{GatewayApp, HttpResponse},
    },
    fixtures::{staff_user, team_of},
};

fn etag_header(response: &HttpResponse) -> String {
    response.header("etag").expect("an ETag header").trim_matches('"').to_owned()
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_else(|| panic!("no string `{field}` in {value}"))
}

async fn put_json(gw: &GatewayApp, path: &str, token: &str, body: &Value) -> HttpResponse {
    gw.send(Method::PUT, path, Some(token), &[], Some(("application/json", body.to_string().into_bytes()))).await
}

async fn delete(gw: &GatewayApp, path: &str, token: &str, etag: Option<&str>) -> HttpResponse {
    let if_match = etag.map(|e| format!("\"{e}\""));
    let headers: Vec<(&str, &str)> = if_match.iter().map(|v| ("if-match", v.as_str())).collect();
    gw.send(Method::DELETE, path, Some(token), &headers, None).await
}

fn names(list: &Value) -> Vec<&str> {
    list["rules"].as_array().expect("a rule list").iter().map(|r| str_of(r, "name")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_created_read_changed_reordered_and_deleted_and_route_cases() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (ana, ben) = (staff_user(&gw.app, "Ana Agent").await, staff_user(&gw.app, "Ben Agent").await);
    let support = team_of(&gw.app, "Support", &[&ana, &ben]).await;
    let billing = team_of(&gw.app, "Billing", &[&ben]).await;

    let rule = json!({
        "name": "Invoices",
        "subject_words": ["Invoice"],
        "priorities": ["high", "critical"],
        "method": "team_queue",
        "team_id": billing.id,
    });
    let created = gw.post_json("/api/v1/routing/rules", ADMIN, &rule).await;
    let invoices = created.expect(201);
    let id = str_of(&invoices, "id");
    assert_eq!(created.header("location"), Some(format!("/api/v1/routing/rules/{id}").as_str()));
    assert_eq!(etag_header(&created), str_of(&invoices, "etag"));
    assert_eq!(invoices["active"], true, "a rule made through the API routes");
    assert_eq!(invoices["subject_words"], json!(["invoice"]), "words are kept lower-cased");
    assert_eq!(invoices["priorities"], json!(["high", "critical"]));
    assert_eq!((invoices["owner_id"].clone(), invoices["capacity"].clone()), (Value::Null, json!(0)));
    let turns = gw
        .post_json(
            "/api/v1/routing/rules",
            ADMIN,
            &json!({"name": "Everything else", "position": 10, "method": "round_robin", "team_id": support.id}),
        )
        .await
        .expect(201);
    let read = gw.get(&format!("/api/v1/routing/rules/{id}"), VIEWER).await;
    assert_eq!(etag_header(&read), str_of(&invoices, "etag"));
    assert_eq!(read.expect(200), invoices);
    assert_eq!(names(&gw.get("/api/v1/routing/rules", AGENT).await.expect(200)), ["Invoices", "Everything else"]);

    // Routing, through the case API: the first rule that matches decides.
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    // new_case makes critical cases.
    let urgent = new_case(&gw, &account, &contact, "Invoice is wrong").await;
    assert_eq!((urgent["team_id"].clone(), urgent["owner_id"].clone()), (json!(billing.id), Value::Null));
    let other = new_case(&gw, &account, &contact, "Printer jams").await;
    assert_eq!(other["team_id"], json!(support.id));
    assert_eq!(other["status"], "active_assigned");
    assert_eq!(other["owner_id"], json!(ana.id), "the first member's turn");
    assert_eq!(other["web_form_id"], Value::Null);
    let trail = gw.get(&format!("/api/v1/cases/{}/history", str_of(&other, "id")), VIEWER).await.expect(200);
    let routed = trail["entries"].as_array().unwrap().iter().find(|e| e["field"] == "routed_by");
    assert!(routed.is_some_and(|e| e["new_value"].as_str().unwrap().contains("Everything else")), "{trail}");

    // Changed with its etag; the fields absent stay.
    let etag = str_of(&invoices, "etag");
    let path = format!("/api/v1/routing/rules/{id}");
    gw.send(Method::PATCH, &path, Some(ADMIN), &[], Some(("application/json", b"{\"active\":false}".to_vec())))
        .await
        .problem(428);
    let changed = gw.patch_json(&path, ADMIN, etag, &json!({"active": false, "tags": ["VIP"]})).await.expect(200);
    assert_eq!((changed["active"].clone(), changed["tags"].clone()), (json!(false), json!(["vip"])));
    assert_eq!(changed["subject_words"], invoices["subject_words"]);
    assert_eq!(gw.patch_json(&path, ADMIN, etag, &json!({"name": "Lost"})).await.problem(412)["code"], "stale_etag");
    gw.patch_json(&path, ADMIN, str_of(&changed, "etag"), &json!({})).await.problem(400);
    assert_eq!(names(&gw.get("/api/v1/routing/rules", VIEWER).await.expect(200)), ["Everything else"]);
    let all = gw.get("/api/v1/routing/rules?include_inactive=true", VIEWER).await.expect(200);
    assert_eq!(names(&all), ["Invoices", "Everything else"]);

    // Reordered: every rule once.
    let order = json!({"rule_ids": [turns["id"], invoices["id"]]});
    let reordered = put_json(&gw, "/api/v1/routing/rules/order", ADMIN, &order).await.expect(200);
    assert_eq!(names(&reordered), ["Everything else", "Invoices"]);
    put_json(&gw, "/api/v1/routing/rules/order", ADMIN, &json!({"rule_ids": [turns["id"]]})).await.bad_field("rule_ids");
    put_json(&gw, "/api/v1/routing/rules/order", AGENT, &order).await.problem(403);

    // Deleted with its etag.
    delete(&gw, &path, ADMIN, None).await.problem(428);
    delete(&gw, &path, ADMIN, Some(etag)).await.problem(412);
    // The reorder moved it: a change of the rule, with a new etag.
    let moved = gw.get(&path, VIEWER).await.expect(200);
    assert_eq!(moved["position"], 1);
    delete(&gw, &path, ADMIN, Some(str_of(&changed, "etag"))).await.problem(412);
    assert_eq!(delete(&gw, &path, ADMIN, Some(str_of(&moved, "etag"))).await.status, 204);
    gw.get(&path, VIEWER).await.problem(404);
    assert_eq!(names(&gw.get("/api/v1/routing/rules?include_inactive=true", VIEWER).await.expect(200)), ["Everything else"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_team_is_set_and_read_and_bad_rules_are_named_and_write_nothing() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let ana = staff_user(&gw.app, "Ana Agent").await;
    let desk = team_of(&gw.app, "Front desk", &[&ana]).await;
    assert_eq!(gw.get("/api/v1/routing/settings", VIEWER).await.expect(200)["default_team_id"], Value::Null);
    let set = put_json(&gw, "/api/v1/routing/settings", ADMIN, &json!({"default_team_id": desk.id})).await.expect(200);
    assert_eq!(set["default_team_id"], json!(desk.id));
    assert!(set["update_time"].is_string(), "{set}");
    assert_eq!(gw.get("/api/v1/routing/settings", AGENT).await.expect(200), set);
    let unknown_team = "0190a0a0-0000-7000-8000-000000000000";
    put_json(&gw, "/api/v1/routing/settings", ADMIN, &json!({"default_team_id": unknown_team}))
        .await
        .bad_field("default_team_id");
    put_json(&gw, "/api/v1/routing/settings", ADMIN, &json!({"default_team_id": "nope"})).await.bad_field("default_team_id");
    put_json(&gw, "/api/v1/routing/settings", AGENT, &json!({"default_team_id": ""})).await.problem(403);
    assert_eq!(gw.get("/api/v1/routing/settings", VIEWER).await.expect(200), set, "refused changes changed nothing");

    let before = gw.app.table_counts("case", &["assignment_rules", "audit_entries", "idempotency_keys"]).await;
    let good = json!({"name": "Desk", "method": "least_loaded", "team_id": desk.id});
    let with = |change: Value| {
        let mut body = good.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    for (body, field) in [
        (json!({"method": "team_queue", "team_id": desk.id}), "name"),
        (with(json!({"method": "carousel"})), "method"),
        (with(json!({"method": null})), "method"),
        (with(json!({"team_id": unknown_team})), "team_id"),
        (with(json!({"team_id": "not-an-id"})), "team_id"),
        (with(json!({"method": "person"})), "owner_id"),
        (with(json!({"method": "capacity", "capacity": 0})), "capacity"),
        (with(json!({"capacity": -1})), "capacity"),
        (with(json!({"priorities": ["urgent"]})), "priorities[0]"),
        (with(json!({"subject_words": ["  "]})), "subject_words[0]"),
        (with(json!({"case_type_ids": ["no_such_type"]})), "case_type_ids[0]"),
        (with(json!({"position": -1})), "position"),
        (with(json!({"colour": "red"})), "colour"),
    ] {
        gw.post_json("/api/v1/routing/rules", ADMIN, &body).await.bad_field(field);
    }
    gw.post_json("/api/v1/routing/rules", AGENT, &good).await.problem(403);
    gw.send(Method::POST, "/api/v1/routing/rules", Some(ADMIN), &[], Some(("text/plain", good.to_string().into_bytes())))
        .await
        .problem(415);
    gw.send(Method::GET, "/api/v1/routing/rules", None, &[], None).await.problem(401);
    let after = gw.app.table_counts("case", &["assignment_rules", "audit_entries", "idempotency_keys"]).await;
    assert_eq!(after, before, "a refused rule wrote something");
    gw.get("/api/v1/routing/rules/not-an-id", VIEWER).await.problem(400);
    gw.get(&format!("/api/v1/routing/rules/{unknown_team}"), VIEWER).await.problem(404);
}
