//! The gateway as a web server: probes for Kubernetes (also with the
//! services down), the security headers of every kind of answer, the page
//! layout, and the dev mailbox page with real emails of the notification
//! service.

use http::Method;
use serde_json::json;

use crate::{
    api::{account_and_contact, new_case},
    common::{
        AGENT, Backend, TestApp,
        gateway::{GatewayApp, HttpResponse},
    },
};

async fn page(gw: &GatewayApp, path: &str) -> HttpResponse {
    gw.send(Method::GET, path, None, &[], None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_services_and_liveness_only_the_process() {
    let mut gw = GatewayApp::spawn(Backend::Sqlite).await;
    assert_eq!(page(&gw, "/healthz").await.expect(200), json!({"status": "ok"}));
    let ready = page(&gw, "/readyz").await.expect(200);
    let upstreams = |serving: bool| {
        json!([
            {"name": "case", "serving": serving},
            {"name": "portal", "serving": serving},
            {"name": "billing", "serving": serving},
            {"name": "knowledge", "serving": serving}
        ])
    };
    assert_eq!(ready, json!({"status": "ready", "upstreams": upstreams(true)}));

    // The case service stops: the gateway is alive but not ready, and the
    // API says the service is unavailable, without internals.
    gw.app.stop().await;
    assert_eq!(page(&gw, "/healthz").await.expect(200), json!({"status": "ok"}));
    let not_ready = page(&gw, "/readyz").await.expect(503);
    assert_eq!(not_ready, json!({"status": "not_ready", "upstreams": upstreams(false)}));
    let unavailable = gw.get("/api/v1/cases", AGENT).await.problem(503);
    assert_eq!(unavailable["code"], "unavailable");
    assert!(!unavailable["detail"].as_str().unwrap().contains("127.0.0.1"), "{unavailable}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_whose_service_never_started_is_not_ready() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut settings = app.settings.clone();
    // Nothing listens on port 1.
    settings.gateway.case_service_url = "http://127.0.0.1:1".to_owned();
    let gw = GatewayApp::start(app, settings, Default::default()).await;
    assert_eq!(page(&gw, "/readyz").await.expect(503)["upstreams"][0]["serving"], false);
    assert_eq!(page(&gw, "/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let answers = [
        ("API", gw.get("/api/v1/cases", AGENT).await),
        ("problem", gw.get("/api/v1/cases/not-a-uuid", AGENT).await),
        ("unknown path", page(&gw, "/no/such/page").await),
        ("page", page(&gw, "/").await),
        ("error page", page(&gw, "/dev/mail/nothing.eml").await),
        ("stylesheet", page(&gw, "/static/docket.css").await),
        ("probe", page(&gw, "/readyz").await),
    ];
    for (what, answer) in &answers {
        let csp = answer.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
        assert!(csp.starts_with("default-src 'self'"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"), "{what}: {csp}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{what}");
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{what}");
        assert_eq!(answer.header("referrer-policy"), Some("same-origin"), "{what}");
        // Plain HTTP here: no HSTS.
        assert_eq!(answer.header("strict-transport-security"), None, "{what}");
    }
    assert_eq!(answers[0].1.header("cache-control"), Some("no-store"));
    assert_eq!(answers[5].1.header("cache-control"), Some("public, max-age=300"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_the_brand_and_work_without_scripts() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let home = page(&gw, "/").await;
    assert_eq!(home.status, 200);
    assert_eq!(home.header("content-type"), Some("text/html; charset=utf-8"));
    let html = home.text();
    for expected in [
        "<html lang=\"en\">",
        "<title>Welcome · Docket Test</title>",
        "Test Business Ltd",
        "class=\"skip-link\" href=\"#main\"",
        "<main id=\"main\"",
        "name=\"viewport\"",
        "href=\"/static/brand.css\"",
        "href=\"/dev/mail\"",
    ] {
        assert!(html.contains(expected), "the home page lacks {expected}:\n{html}");
    }
    // No scripts, no styles inline (the CSP allows neither), nothing from elsewhere.
    for absent in ["<script", "style=", "<style", "http://", "https://"] {
        assert!(!html.contains(absent), "the home page has {absent}:\n{html}");
    }
    let brand = page(&gw, "/static/brand.css").await;
    assert_eq!(brand.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(brand.text().trim(), ":root { --brand: #1f5fa8; --brand-text: #ffffff; }");
    let css = page(&gw, "/static/docket.css").await.text();
    assert!(css.contains(":focus-visible") && css.contains(".skip-link:focus"), "focus must be visible");
}

/// Writes an email into the dev mailbox the way the mailer names them.
fn write_email(gw: &GatewayApp, name: &str, raw: &str) {
    let dir = std::path::PathBuf::from(&gw.app.settings.notification.mailbox_dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), raw.replace('\n', "\r\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_mailbox_lists_newest_first_and_shows_an_email_escaped_with_its_links() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    write_email(
        &gw,
        "20261123T090000.000001-a.eml",
        "From: Docket <support@docket.test>\nTo: Petra <petra@acme.example>\nSubject: Older email\n\
         Date: Mon, 23 Nov 2026 09:00:00 +0000\nMessage-ID: <a@docket.test>\n\nHello.\n",
    );
    write_email(
        &gw,
        "20261123T100000.000001-b.eml",
        "From: Docket <support@docket.test>\nTo: Petra <petra@acme.example>\n\
         Subject: [C-000001] <script>alert(1)</script>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\
         Message-ID: <b@docket.test>\n\nSet your password: https://portal.example/invite?token=abc&x=1.\n\
         Not a link: javascript:alert(2) and <b>bold</b>.\n",
    );
    let list = page(&gw, "/dev/mail").await;
    assert_eq!(list.status, 200);
    let html = list.text();
    let newer = html.find("[C-000001]").expect("the newer email is listed");
    let older = html.find("Older email").expect("the older email is listed");
    assert!(newer < older, "newest first");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
    assert!(!html.contains("<script>alert"), "the subject must be escaped");
    assert!(html.contains("href=\"/dev/mail/20261123T100000.000001-b.eml\""), "{html}");

    let email = page(&gw, "/dev/mail/20261123T100000.000001-b.eml").await;
    assert_eq!(email.status, 200);
    let html = email.text();
    assert!(html.contains("<a href=\"https://portal.example/invite?token=abc&#38;x=1\""), "{html}");
    assert!(html.contains("Petra &#60;petra@acme.example&#62;"), "{html}");
    assert!(html.contains("&#60;b&#62;bold&#60;/b&#62;") && !html.contains("<b>bold"), "{html}");
    assert!(!html.contains("href=\"javascript"), "{html}");
    assert!(html.contains("Message-ID"), "{html}");

    for missing in ["/dev/mail/nothing.eml", "/dev/mail/..%2F..%2Fetc%2Fpasswd", "/dev/mail/%2E%2E"] {
        let answer = page(&gw, missing).await;
        assert_eq!(answer.status, 404, "{missing}");
        assert!(answer.header("content-type").unwrap().starts_with("text/html"), "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_created_through_the_api_sends_an_email_that_the_dev_mailbox_shows() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let (account, contact) = account_and_contact(&gw, "petra@acme.example").await;
    let case = new_case(&gw, &account, &contact, "Printer on fire").await;
    let number = case["case_number"].as_str().unwrap().to_owned();
    let html = crate::common::eventually(&format!("an email about {number} in the dev mailbox"), async || {
        let html = page(&gw, "/dev/mail").await.text();
        if html.contains(&number) { Ok(html) } else { Err("not there yet") }
    })
    .await;
    assert!(html.contains(&format!("[{number}]")), "no email about {number} in the dev mailbox:\n{html}");
    assert!(html.contains("petra@acme.example"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_docket_dev_there_is_no_mailbox_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let gw = GatewayApp::in_front_of(app, false).await;
    assert_eq!(page(&gw, "/dev/mail").await.problem(404)["code"], "not_found");
    assert!(!page(&gw, "/").await.text().contains("/dev/mail"));
}

/// DNS rebinding against `docket dev`: a page on `evil.example`, whose name
/// now resolves to 127.0.0.1, sends `Host: evil.example`; it must read
/// neither the dev mailbox (reset links) nor the API (public dev tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_docket_dev_only_loopback_host_names_are_answered() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let dev = docket::dev::embedded_gateway(app.settings.clone(), 8080).expect("dev settings");
    assert_eq!(dev.gateway.allowed_hosts, docket::dev::LOOPBACK_HOSTS, "docket dev does not limit the host names");
    app.settings.gateway.allowed_hosts = dev.gateway.allowed_hosts;
    let gw = GatewayApp::in_front_of(app, true).await;
    let port = gw.addr.port();
    for path in ["/dev/mail", "/api/v1/accounts", "/portal/login"] {
        for host in ["evil.example".to_owned(), format!("evil.example:{port}"), format!("localhost.evil.example:{port}")] {
            let refused = gw.send(Method::GET, path, Some(AGENT), &[("host", &host)], None).await;
            assert_eq!(refused.status, 421, "{host}{path}: {}", refused.text());
            assert!(refused.header("content-type").unwrap().starts_with("text/plain"), "{host}{path}");
            assert!(refused.text().contains("gateway.allowed_hosts"), "{}", refused.text());
        }
        for host in
            [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "app.localhost".to_owned()]
        {
            let answered = gw.send(Method::GET, path, Some(AGENT), &[("host", &host)], None).await;
            assert_eq!(answered.status, 200, "{host}{path}: {}", answered.text());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_docket_dev_any_host_name_is_answered() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let answered = gw.send(Method::GET, "/api/v1/accounts", Some(AGENT), &[("host", "support.example.com")], None).await;
    assert_eq!(answered.status, 200, "{}", answered.text());
}
