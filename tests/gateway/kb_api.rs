//! `/api/v1/kb`: the knowledge base through the REST API, as staff use it:
//! categories, an article written, reviewed, published, edited into a new
//! version and archived; search; links to cases; draft proposals; deflection
//! statistics. Every refusal is a problem naming the bad field, with
//! nothing written.

use serde_json::{Value, json};

use crate::{
    api::{account_and_contact, new_case},
    common::{
        ADMIN, AGENT, Backend, VIEWER,
        gateway::{GatewayApp, HttpResponse},
    },
};

fn etag(response: &HttpResponse) -> String {
    response.header("etag").expect("an ETag header").trim_matches('"').to_owned()
}

/// POSTs `body` with `If-Match` when `etag` is given.
async fn post(gw: &GatewayApp, path: &str, token: &str, etag: Option<&str>, body: &Value) -> HttpResponse {
    let if_match = etag.map(|e| format!("\"{e}\""));
    let headers: Vec<(&str, &str)> = if_match.iter().map(|v| ("if-match", v.as_str())).collect();
    gw.send(http::Method::POST, path, Some(token), &headers, Some(("application/json", body.to_string().into_bytes()))).await
}

/// How many articles staff see, in any state.
async fn article_count(gw: &GatewayApp) -> usize {
    gw.get("/api/v1/kb/articles?page_size=500", ADMIN).await.expect(200)["articles"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_write_review_publish_and_find_articles_through_the_api() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let category = gw.post_json("/api/v1/kb/categories", ADMIN, &json!({"name": "Printers"})).await;
    let category = category.expect(201);
    assert_eq!(category["slug"], "printers");
    assert_eq!(category["parent_id"], Value::Null);
    let listed = gw.get("/api/v1/kb/categories", VIEWER).await.expect(200);
    assert_eq!(listed["categories"][0]["name"], "Printers");

    // An agent writes a draft; the same Idempotency-Key returns it again.
    let draft = json!({
        "title": "Clearing a paper jam",
        "summary": "When the printer stops with E-13.",
        "body_markdown": "Open the **front** cover.",
        "audience": "public",
        "category_id": category["id"],
        "tags": ["Paper Jam", "printer"],
    });
    let created = gw
        .send(
            http::Method::POST,
            "/api/v1/kb/articles",
            Some(AGENT),
            &[("idempotency-key", "kb-1")],
            Some(("application/json", draft.to_string().into_bytes())),
        )
        .await;
    let article = created.expect(201);
    let id = article["id"].as_str().unwrap().to_owned();
    assert_eq!(created.header("location"), Some(format!("/api/v1/kb/articles/{id}").as_str()));
    assert_eq!((article["state"].as_str(), article["slug"].as_str()), (Some("draft"), Some("clearing-a-paper-jam")));
    assert_eq!(article["tags"], json!(["paper jam", "printer"]));
    let again = gw
        .send(
            http::Method::POST,
            "/api/v1/kb/articles",
            Some(AGENT),
            &[("idempotency-key", "kb-1")],
            Some(("application/json", draft.to_string().into_bytes())),
        )
        .await;
    assert_eq!(again.expect(201)["id"], id.as_str());
    assert_eq!(article_count(&gw).await, 1);

    // Edit with If-Match, submit, publish by another reviewer.
    let edited = gw
        .patch_json(
            &format!("/api/v1/kb/articles/{id}"),
            AGENT,
            &etag(&created),
            &json!({"summary": "E-13 on the panel.", "reason": "clearer"}),
        )
        .await;
    assert_eq!(edited.expect(200)["summary"], "E-13 on the panel.");
    let stale = gw.patch_json(&format!("/api/v1/kb/articles/{id}"), AGENT, &etag(&created), &json!({"summary": "x"})).await;
    stale.problem(412);
    let submitted =
        post(&gw, &format!("/api/v1/kb/articles/{id}/submit"), AGENT, Some(&etag(&edited)), &json!({"comment": "please check"}))
            .await;
    assert_eq!(submitted.expect(200)["state"], "in_review");
    let own = post(&gw, &format!("/api/v1/kb/articles/{id}/publish"), AGENT, None, &json!({})).await;
    let refused = own.json();
    assert!(own.status == 403 || own.status == 409, "the submitter may not publish their own article: {refused}");
    let published =
        post(&gw, &format!("/api/v1/kb/articles/{id}/publish"), ADMIN, Some(&etag(&submitted)), &json!({"comment": "good"}))
            .await;
    let published_json = published.expect(200);
    assert_eq!((published_json["state"].as_str(), published_json["version"].as_i64()), (Some("published"), Some(1)));

    // Readable by id and by slug; search finds it with a highlighted snippet.
    let by_slug = gw.get("/api/v1/kb/articles/clearing-a-paper-jam", VIEWER).await.expect(200);
    assert_eq!(by_slug["id"], id.as_str());
    assert!(by_slug["body_html"].as_str().unwrap().contains("<strong>front</strong>"));
    let found = gw.get("/api/v1/kb/search?q=front%20cover", VIEWER).await.expect(200);
    assert_eq!(found["hits"][0]["article_id"], id.as_str());
    assert!(found["hits"][0]["snippet"].as_str().unwrap().contains("<mark>"), "{found}");
    let typo = gw.get("/api/v1/kb/search?q=papr%20jma", VIEWER).await.expect(200);
    assert_eq!(typo["hits"][0]["article_id"], id.as_str(), "typos find the title: {typo}");
    assert_eq!(typo["corrected_query"], "paper", "what was searched for instead (no word is like \"jma\"): {typo}");
    assert_eq!(found["corrected_query"], serde_json::Value::Null, "the query as typed matched");

    // A new version while the published one stays live; history with diffs.
    let current = gw.get(&format!("/api/v1/kb/articles/{id}?include_draft=true"), AGENT).await;
    let v2 = gw
        .patch_json(
            &format!("/api/v1/kb/articles/{id}"),
            AGENT,
            &etag(&current),
            &json!({"body_markdown": "Open the **rear** cover."}),
        )
        .await;
    let v2 = v2.expect(200);
    let live = gw.get(&format!("/api/v1/kb/articles/{id}"), VIEWER).await.expect(200);
    assert!(live["body_html"].as_str().unwrap().contains("front"), "readers keep the published version: {live}");
    let republished =
        post(&gw, &format!("/api/v1/kb/articles/{id}/publish"), ADMIN, Some(v2["etag"].as_str().unwrap()), &json!({})).await;
    assert_eq!(republished.expect(200)["version"], 2);
    let versions = gw.get(&format!("/api/v1/kb/articles/{id}/versions"), VIEWER).await.expect(200);
    let versions = versions["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions.iter().any(|v| v["body_diff"].as_str().unwrap().contains("+ Open the **rear** cover.")), "{versions:?}");

    // Linked to a case it answered, both ways.
    let (account, contact) = account_and_contact(&gw, "jam@acme.example").await;
    let case = new_case(&gw, &account, &contact, "Printer jams").await;
    let link = gw.post_json(&format!("/api/v1/kb/articles/{id}/cases"), AGENT, &json!({"case_id": case["id"]})).await.expect(200);
    assert_eq!(link["case_id"], case["id"]);
    let of_case = gw.get(&format!("/api/v1/kb/cases/{}/articles", case["id"].as_str().unwrap()), VIEWER).await.expect(200);
    assert_eq!(of_case["links"][0]["article_id"], id.as_str());
    let of_article = gw.get(&format!("/api/v1/kb/articles/{id}/cases"), VIEWER).await.expect(200);
    assert_eq!(of_article["links"].as_array().unwrap().len(), 1);

    // Archived: the API still reads it, as archived.
    let before = gw.get(&format!("/api/v1/kb/articles/{id}"), ADMIN).await;
    let archived =
        post(&gw, &format!("/api/v1/kb/articles/{id}/archive"), AGENT, Some(&etag(&before)), &json!({"comment": "replaced"}))
            .await;
    assert_eq!(archived.expect(200)["state"], "archived");

    // Proposals and deflection answer (empty here; their own tests fill them).
    let proposals = gw.get("/api/v1/kb/proposals?state=open", VIEWER).await.expect(200);
    assert_eq!(proposals["proposals"], json!([]));
    let stats =
        gw.get("/api/v1/kb/deflection?start_time=2026-01-01T00:00:00Z&end_time=2026-02-01T00:00:00Z&period=week", VIEWER).await;
    assert_eq!(stats.expect(200), json!({"periods": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_to_the_knowledge_base_is_refused_and_writes_nothing() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let articles = "/api/v1/kb/articles";
    gw.post_json(articles, AGENT, &json!({"audience": "public"})).await.bad_field("title");
    gw.post_json(articles, AGENT, &json!({"title": "No audience"})).await.bad_field("audience");
    gw.post_json(articles, AGENT, &json!({"title": "x", "audience": "everyone"})).await.problem(400);
    gw.post_json(articles, AGENT, &json!({"title": "x", "audience": "public", "slug": "Bad Slug"})).await.bad_field("slug");
    gw.post_json(articles, AGENT, &json!({"title": "x", "audience": "public", "locale": "english"})).await.bad_field("locale");
    gw.post_json(articles, AGENT, &json!({"title": "x", "audience": "public", "category_id": "not-an-id"}))
        .await
        .bad_field("category_id");
    let missing_category = json!({"title": "x", "audience": "public", "category_id": "0195f0a0-0000-7000-8000-000000000000"});
    gw.post_json(articles, AGENT, &missing_category).await.bad_field("category_id");
    gw.post_json(articles, AGENT, &json!({"title": "x", "audience": "public", "tags": ["a\"b"]})).await.bad_field("tags");
    gw.post_json(articles, AGENT, &json!({"title": "x", "audience": "public", "color": "red"})).await.problem(400);
    gw.post_json(articles, VIEWER, &json!({"title": "x", "audience": "public"})).await.problem(403);
    let unsent = gw.send(http::Method::POST, articles, None, &[], Some(("application/json", b"{}".to_vec()))).await;
    unsent.problem(401);
    assert_eq!(article_count(&gw).await, 0);

    // A title with no Latin letter still gets an address.
    let japanese =
        gw.post_json(articles, AGENT, &json!({"title": "プリンターの紙詰まり", "audience": "public", "locale": "ja"})).await;
    let japanese = japanese.expect(201);
    assert!(japanese["slug"].as_str().unwrap().starts_with("article-"), "{japanese}");
    let id = japanese["id"].as_str().unwrap().to_owned();

    // Updates need If-Match and a field; verbs check the state.
    let path = format!("{articles}/{id}");
    let no_etag =
        gw.send(http::Method::PATCH, &path, Some(AGENT), &[], Some(("application/json", br#"{"title":"y"}"#.to_vec()))).await;
    no_etag.problem(428);
    gw.patch_json(&path, AGENT, japanese["etag"].as_str().unwrap(), &json!({})).await.problem(400);
    gw.patch_json(&path, AGENT, japanese["etag"].as_str().unwrap(), &json!({"title": ""})).await.bad_field("title");
    post(&gw, &format!("{path}/archive"), AGENT, None, &json!({})).await.problem(409);
    post(&gw, &format!("{path}/reject"), AGENT, None, &json!({})).await.problem(409);
    let far = json!({"publish_time": "2999-01-01T00:00:00Z"});
    post(&gw, &format!("{path}/publish"), ADMIN, None, &far).await.bad_field("publish_time");
    post(&gw, &format!("{path}/submit"), AGENT, Some("999"), &json!({})).await.problem(412);
    gw.get(&format!("{articles}/0195f0a0-0000-7000-8000-000000000000"), AGENT).await.problem(404);
    gw.get(&format!("{articles}/no-such-article"), AGENT).await.problem(404);
    let unchanged = gw.get(&format!("{path}?include_draft=true"), AGENT).await.expect(200);
    assert_eq!((unchanged["state"].as_str(), unchanged["etag"].clone()), (Some("draft"), japanese["etag"].clone()));

    // Search, categories, links, proposals and statistics.
    gw.get("/api/v1/kb/search", VIEWER).await.problem(400);
    gw.get(&format!("/api/v1/kb/articles?tag={}", "t".repeat(41)), VIEWER).await.bad_field("tag");
    gw.get("/api/v1/kb/search?q=printer&tag=a%01b", VIEWER).await.bad_field("tag");
    gw.get(&format!("/api/v1/kb/search?q={}", "a".repeat(201)), VIEWER).await.bad_field("query");
    gw.post_json("/api/v1/kb/categories", AGENT, &json!({"name": "Agents may not"})).await.problem(403);
    gw.post_json("/api/v1/kb/categories", ADMIN, &json!({"name": ""})).await.bad_field("name");
    let orphan = json!({"name": "Orphan", "parent_id": "0195f0a0-0000-7000-8000-000000000000"});
    gw.post_json("/api/v1/kb/categories", ADMIN, &orphan).await.bad_field("parent_id");
    assert_eq!(gw.get("/api/v1/kb/categories", VIEWER).await.expect(200), json!({"categories": []}));
    let missing_case = json!({"case_id": "0195f0a0-0000-7000-8000-000000000000"});
    let link = gw.post_json(&format!("{path}/cases"), AGENT, &missing_case).await;
    assert!(link.status == 404 || link.status == 409 || link.status == 400, "{}", link.text());
    post(&gw, "/api/v1/kb/proposals/0195f0a0-0000-7000-8000-000000000000/dismiss", AGENT, None, &json!({})).await.problem(404);
    gw.get("/api/v1/kb/proposals?state=maybe", VIEWER).await.problem(400);
    let backwards = "/api/v1/kb/deflection?start_time=2026-02-01T00:00:00Z&end_time=2026-01-01T00:00:00Z";
    gw.get(backwards, VIEWER).await.bad_field("end_time");
    let years = "/api/v1/kb/deflection?start_time=2020-01-01T00:00:00Z&end_time=2026-01-01T00:00:00Z";
    gw.get(years, VIEWER).await.bad_field("end_time");
    gw.get("/api/v1/kb/deflection?start_time=2026-01-01T00:00:00Z&end_time=2026-01-02T00:00:00Z&period=year", VIEWER)
        .await
        .bad_field("period");
    gw.get("/api/v1/kb/deflection?start_time=2026-01-01T00:00:00Z", VIEWER).await.problem(400);
    assert_eq!(article_count(&gw).await, 1);
}

/// `bytes` sent as a file to `article`'s attachments, named `name`.
async fn upload(gw: &GatewayApp, article: &str, name: &str, content_type: &str, bytes: Vec<u8>, token: &str) -> HttpResponse {
    let path = format!("/api/v1/kb/articles/{article}/attachments?file_name={name}");
    gw.send(http::Method::POST, &path, Some(token), &[], Some((content_type, bytes))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_attach_through_the_api_and_download_with_their_kind() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let created = gw.post_json("/api/v1/kb/articles", AGENT, &json!({"title": "Printer panel", "audience": "public"})).await;
    let id = created.expect(201)["id"].as_str().unwrap().to_owned();
    let published = post(&gw, &format!("/api/v1/kb/articles/{id}/publish"), ADMIN, None, &json!({})).await;
    assert_eq!(published.expect(200)["state"], "published");
    let octets = "application/octet-stream";

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    let stored = upload(&gw, &id, "C%3A%5CUsers%5Cann%5Cpanel.png", octets, png.clone(), AGENT).await.expect(201);
    assert_eq!((stored["file_name"].as_str(), stored["content_type"].as_str()), (Some("panel.png"), Some("image/png")));
    assert_eq!(stored["size"], png.len());
    let url = stored["url"].as_str().unwrap().to_owned();
    let read = gw.get(&url, VIEWER).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, png);
    assert_eq!(read.header("content-type"), Some("image/png"));
    assert_eq!(read.header("content-disposition"), Some("inline; filename=\"panel.png\"; filename*=UTF-8''panel.png"));
    assert_eq!(read.header("x-content-type-options"), Some("nosniff"));

    // A large file (over tonic's default 4 MiB message) passes both ways, and readers get it through the help center.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(6 * 1024 * 1024, b'%');
    let manual = upload(&gw, &id, "manual.pdf", octets, pdf.clone(), AGENT).await.expect(201);
    let file = gw.send(http::Method::GET, &format!("/help/files/{}", manual["id"].as_str().unwrap()), None, &[], None).await;
    assert_eq!(file.status, 200, "{}", file.text().chars().take(300).collect::<String>());
    assert_eq!(file.body.len(), pdf.len());
    assert_eq!(file.header("content-disposition"), Some("attachment; filename=\"manual.pdf\"; filename*=UTF-8''manual.pdf"));

    // Bad files are refused and store nothing.
    let before = gw.app.table_counts("knowledge", &["attachments", "blobs"]).await;
    upload(&gw, &id, "setup.exe", octets, b"MZ\x90\0\x03\0\0\0".to_vec(), AGENT).await.bad_field("content");
    upload(&gw, &id, "empty.txt", octets, Vec::new(), AGENT).await.bad_field("content");
    upload(&gw, &id, "", octets, png.clone(), AGENT).await.bad_field("file_name");
    let unnamed = format!("/api/v1/kb/articles/{id}/attachments");
    gw.send(http::Method::POST, &unnamed, Some(AGENT), &[], Some((octets, png.clone()))).await.problem(400);
    upload(&gw, &id, "panel.png", "application/json", png.clone(), AGENT).await.problem(415);
    upload(&gw, &id, "huge.pdf", octets, vec![b'%'; 10 * 1024 * 1024 + 4096], AGENT).await.problem(413);
    upload(&gw, &id, "panel.png", octets, png.clone(), VIEWER).await.problem(403);
    upload(&gw, "0195f0a0-0000-7000-8000-000000000000", "panel.png", octets, png.clone(), AGENT).await.problem(404);
    assert_eq!(gw.app.table_counts("knowledge", &["attachments", "blobs"]).await, before);
    gw.get("/api/v1/kb/attachments/0195f0a0-0000-7000-8000-000000000000", VIEWER).await.problem(404);
    gw.get("/api/v1/kb/attachments/not-an-id", VIEWER).await.problem(400);
}
