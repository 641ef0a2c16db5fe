//! The customer portal pages and their JSON twin, as a browser uses them
//! (cookies, CSRF tokens, redirects), in front of the real services; and
//! what a customer must never manage: another account's case, internal
//! notes, markup that runs, a post without its CSRF token, an eleventh
//! login attempt in a minute.

use docket_proto::case::v1 as pb;

use crate::{
    common::{
        Backend, TestApp,
        gateway::{GatewayApp, PageVisitor, form_body, hidden_value},
    },
    fixtures::note,
    support::{PASSWORD, all_row_counts, emailed_token, world},
};

async fn gateway() -> GatewayApp {
    GatewayApp::spawn(Backend::Postgres).await
}

fn location(response: &crate::common::gateway::HttpResponse) -> String {
    response.header("location").unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_logs_in_follows_a_case_comments_closes_and_reopens_it() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let case = world.colleague.staff_case(&gw.app, "Printer jams on page two").await;
    note(&gw.app, &case.id, "We are looking into it.", pb::Visibility::Public).await;

    let mut browser = PageVisitor::new(&gw);
    // Without a session, a case page sends the visitor to log in, and back.
    let page = browser.get(&format!("/portal/cases/{}", case.case_number)).await;
    assert_eq!(page.status, 303);
    let to_login = location(&page);
    assert!(to_login.starts_with("/portal/login?next="), "{to_login}");
    let login = browser.get(&to_login).await;
    assert_eq!(login.status, 200);
    let login_html = login.text();
    assert!(login_html.contains("<label for=\"email\">") && login_html.contains("<label for=\"password\">"));
    let csrf_cookie = login.header("set-cookie").unwrap_or_default().to_owned();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");

    let next = hidden_value(&login_html, "next").expect("the login form keeps where to go next");
    let email = world.colleague.contact.email.clone();
    let answer = browser.post_form("/portal/login", &[("email", &email), ("password", PASSWORD), ("next", &next)]).await;
    assert_eq!(answer.status, 303, "{}", answer.text());
    assert_eq!(location(&answer), format!("/portal/cases/{}", case.case_number));
    let session_cookie = answer.header("set-cookie").unwrap_or_default().to_owned();
    for attribute in ["docket-session=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session_cookie.contains(attribute), "{session_cookie} lacks {attribute}");
    }

    let list = browser.get("/portal/cases").await;
    assert_eq!(list.status, 200);
    assert!(list.text().contains(&case.case_number), "{}", list.text());
    assert!(list.text().contains("Printer jams on page two"));
    assert_eq!(list.header("cache-control"), Some("no-store"));

    let detail = browser.get(&format!("/portal/cases/{}", case.case_number)).await;
    assert_eq!(detail.status, 200);
    assert!(detail.text().contains("We are looking into it."), "{}", detail.text());

    let comment = browser
        .post_form(
            &format!("/portal/cases/{}/comments", case.id),
            &[("body", "It jams on page three too."), ("idempotency_key", "k1")],
        )
        .await;
    assert_eq!(comment.status, 303, "{}", comment.text());
    let detail = browser.get(&location(&comment)).await;
    assert!(detail.text().contains("It jams on page three too."));
    assert!(detail.text().contains("Your comment is added"));
    // The same form sent twice adds one comment.
    browser
        .post_form(
            &format!("/portal/cases/{}/comments", case.id),
            &[("body", "It jams on page three too."), ("idempotency_key", "k1")],
        )
        .await;
    let detail = browser.get(&format!("/portal/cases/{}", case.id)).await;
    assert_eq!(detail.text().matches("It jams on page three too.").count(), 1, "{}", detail.text());

    // An empty comment is refused next to its field, and nothing is added.
    let before = all_row_counts(&gw.app).await;
    let refused = browser.post_form(&format!("/portal/cases/{}/comments", case.id), &[("body", "   ")]).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("aria-invalid=\"true\""), "{}", refused.text());
    assert_eq!(all_row_counts(&gw.app).await, before);

    let closed =
        browser.post_form(&format!("/portal/cases/{}/close", case.id), &[("resolution_summary", "New toner fixed it")]).await;
    assert_eq!(closed.status, 303, "{}", closed.text());
    let detail = browser.get(&location(&closed)).await;
    assert!(detail.text().contains("Closed – resolved"), "{}", detail.text());
    assert!(detail.text().contains("Not solved after all?"));

    let reopened = browser.post_form(&format!("/portal/cases/{}/reopen", case.id), &[("reason", "It jams again")]).await;
    assert_eq!(reopened.status, 303, "{}", reopened.text());
    let detail = browser.get(&location(&reopened)).await;
    assert!(detail.text().contains("The case is open again."), "{}", detail.text());

    // A new case from the portal.
    let form = browser.get("/portal/cases/new").await;
    assert_eq!(form.status, 200);
    let key = hidden_value(&form.text(), "idempotency_key").expect("an idempotency key");
    // A priority the form does not offer is refused in the customer's words.
    let fields = |priority| {
        [
            ("subject", "Scanner is slow"),
            ("description", "Takes a minute per page."),
            ("type_id", "technical_issue"),
            ("priority", priority),
            ("idempotency_key", key.as_str()),
        ]
    };
    let refused = browser.post_form("/portal/cases", &fields("critical")).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("choose one of: low, medium, high"), "{}", refused.text());
    assert!(!refused.text().contains("CASE_PRIORITY"), "internal names reach the customer: {}", refused.text());
    let created = browser
        .post_form(
            "/portal/cases",
            &[
                ("subject", "Scanner is slow"),
                ("description", "Takes a minute per page."),
                ("type_id", "technical_issue"),
                ("priority", "high"),
                ("asset_serial_number", "SC-1"),
                ("idempotency_key", &key),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.text());
    let page = browser.get(&location(&created)).await;
    assert!(page.text().contains("Scanner is slow") && page.text().contains("is open"), "{}", page.text());

    // Logging out ends the session: the old cookie no longer opens anything.
    let old_session = browser.session().unwrap().to_owned();
    browser.get("/portal/cases").await;
    let out = browser.post_form("/portal/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert!(browser.session().is_none());
    let cookie = format!("docket-session={old_session}");
    let after = gw.send(http::Method::GET, "/portal/cases", None, &[("cookie", &cookie)], None).await;
    assert_eq!(after.status, 303, "an ended session still opens pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_of_one_account_never_reads_or_changes_a_case_of_another() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let acme_case = world.colleague.staff_case(&gw.app, "Acme's confidential case").await;

    let mut eve = PageVisitor::new(&gw);
    eve.log_in(&world.outsider.contact.email, PASSWORD).await;
    let list = eve.get("/portal/cases").await;
    assert!(!list.text().contains(&acme_case.case_number));

    let before = all_row_counts(&gw.app).await;
    for path in [format!("/portal/cases/{}", acme_case.case_number), format!("/portal/cases/{}", acme_case.id)] {
        let page = eve.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.text());
        assert!(!page.text().contains("confidential"));
    }
    eve.get("/portal/cases").await;
    for (action, field, value) in [
        ("comments", "body", "let me in"),
        ("close", "resolution_summary", "closed by Eve"),
        ("reopen", "reason", "reopened by Eve"),
    ] {
        let answer = eve.post_form(&format!("/portal/cases/{}/{action}", acme_case.id), &[(field, value)]).await;
        assert_eq!(answer.status, 404, "{action}: {}", answer.text());
    }
    // The JSON twin refuses the same.
    let cookie = format!("docket-session={}", eve.session().unwrap());
    let json =
        gw.send(http::Method::GET, &format!("/portal/api/v1/cases/{}", acme_case.id), None, &[("cookie", &cookie)], None).await;
    json.problem(404);
    for (action, body) in [("comments", r#"{"body":"let me in"}"#), ("close", r#"{"resolution_summary":"closed by Eve"}"#)] {
        let answer = gw
            .send(
                http::Method::POST,
                &format!("/portal/api/v1/cases/{}/{action}", acme_case.id),
                None,
                &[("cookie", &cookie)],
                Some(("application/json", body.as_bytes().to_vec())),
            )
            .await;
        answer.problem(404);
    }
    let listed = gw.send(http::Method::GET, "/portal/api/v1/cases", None, &[("cookie", &cookie)], None).await.expect(200);
    assert!(!listed.to_string().contains(&acme_case.case_number), "{listed}");
    assert_eq!(all_row_counts(&gw.app).await, before, "a refused request wrote something");

    // Acme's portal manager sees the case of its colleague.
    let mut petra = PageVisitor::new(&gw);
    petra.log_in(&world.manager.contact.email, PASSWORD).await;
    assert!(petra.get("/portal/cases").await.text().contains(&acme_case.case_number));
    assert_eq!(petra.get(&format!("/portal/cases/{}", acme_case.case_number)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_notes_never_reach_portal_pages_or_json_and_markup_stays_text() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let case = world.colleague.staff_case(&gw.app, "<script>alert('subject')</script> broken").await;
    note(&gw.app, &case.id, "INTERNAL: customer is on the watch list", pb::Visibility::Internal).await;
    note(&gw.app, &case.id, "Public reply <img src=x onerror=alert(1)>", pb::Visibility::Public).await;

    let mut browser = PageVisitor::new(&gw);
    browser.log_in(&world.colleague.contact.email, PASSWORD).await;
    for path in ["/portal/cases".to_owned(), format!("/portal/cases/{}", case.case_number)] {
        let html = browser.get(&path).await.text();
        assert!(!html.contains("watch list"), "{path} shows an internal note");
        assert!(!html.contains("<script>alert"), "{path} renders markup from a subject");
        assert!(html.contains("&#60;script&#62;alert("), "{path}: the subject is not shown as text: {html}");
        assert!(!html.contains("<img src=x"), "{path} renders markup from a note");
    }
    let page = browser.get(&format!("/portal/cases/{}", case.case_number)).await;
    assert!(page.text().contains("Public reply &#60;img"), "{}", page.text());
    let csp = page.header("content-security-policy").unwrap_or_default().to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");

    let cookie = format!("docket-session={}", browser.session().unwrap());
    let json = gw.send(http::Method::GET, &format!("/portal/api/v1/cases/{}", case.id), None, &[("cookie", &cookie)], None).await;
    let body = json.expect(200).to_string();
    assert!(!body.contains("watch list"), "the JSON shows an internal note: {body}");
    assert!(body.contains("Public reply"), "{body}");
    let list = gw.send(http::Method::GET, "/portal/api/v1/cases", None, &[("cookie", &cookie)], None).await.expect(200);
    assert!(!list.to_string().contains("watch list"));
}

/// Mallory mints a CSRF cookie and token in her own browser and plants them
/// beside the victim's session (a cookie a sibling host or a plain-HTTP
/// network can set): the pair belongs to another session, so it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csrf_token_minted_in_another_browser_is_refused_beside_the_victims_session() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let case = world.colleague.staff_case(&gw.app, "CSRF pair target").await;
    let mut victim = PageVisitor::new(&gw);
    victim.log_in(&world.colleague.contact.email, PASSWORD).await;
    victim.get("/portal/cases").await;
    let mut mallory = PageVisitor::new(&gw);
    mallory.get("/portal/login").await;
    let (planted, token) = (mallory.cookie("docket-csrf").unwrap().to_owned(), mallory.csrf().unwrap().to_owned());

    let before = all_row_counts(&gw.app).await;
    let cookie = format!("docket-csrf={planted}; docket-session={}", victim.session().unwrap());
    let forged = gw
        .send(
            http::Method::POST,
            &format!("/portal/cases/{}/comments", case.id),
            None,
            &[("cookie", &cookie)],
            Some(("application/x-www-form-urlencoded", form_body(&[("body", "pay here: evil.example"), ("csrf_token", &token)]))),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert_eq!(all_row_counts(&gw.app).await, before, "nothing was written");
    // The victim's own page and token still work.
    let own = victim.post_form(&format!("/portal/cases/{}/comments", case.id), &[("body", "my own reply")]).await;
    assert_eq!(own.status, 303, "{}", own.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_its_csrf_token_or_session_is_refused_and_writes_nothing() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let case = world.colleague.staff_case(&gw.app, "CSRF target").await;
    let mut browser = PageVisitor::new(&gw);
    browser.log_in(&world.colleague.contact.email, PASSWORD).await;
    browser.get("/portal/cases").await;

    let before = all_row_counts(&gw.app).await;
    let path = format!("/portal/cases/{}/comments", case.id);
    let forged = browser.post_raw(&path, "application/x-www-form-urlencoded", form_body(&[("body", "forged")])).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(forged.text().contains("sent from another site"));
    let wrong = browser
        .post_raw(&path, "application/x-www-form-urlencoded", form_body(&[("body", "forged"), ("csrf_token", "abc")]))
        .await;
    assert_eq!(wrong.status, 403);
    let json = browser.post_raw(&path, "application/json", br#"{"body":"forged"}"#.to_vec()).await;
    assert_eq!(json.status, 415);
    // The JSON API takes only JSON: a cross-site form cannot post to it.
    let cookie = format!("docket-session={}", browser.session().unwrap());
    let api = gw
        .send(
            http::Method::POST,
            &format!("/portal/api/v1/cases/{}/comments", case.id),
            None,
            &[("cookie", &cookie)],
            Some(("application/x-www-form-urlencoded", b"body=forged".to_vec())),
        )
        .await;
    api.problem(415);
    // Bad JSON and missing or unknown fields are refused with a problem.
    for (content_type, body) in [
        ("application/json", b"{\"body\":".to_vec()),
        ("application/json", b"{}".to_vec()),
        ("application/json", br#"{"body":"x","owner":"me"}"#.to_vec()),
        ("application/json", b"{\"body\":\"\xff\xfe\"}".to_vec()),
    ] {
        let answer = gw
            .send(
                http::Method::POST,
                &format!("/portal/api/v1/cases/{}/comments", case.id),
                None,
                &[("cookie", &cookie)],
                Some((content_type, body)),
            )
            .await;
        answer.problem(400);
    }
    // Without a session, the JSON API is 401 and pages go to the login page.
    let anonymous = gw.send(http::Method::GET, "/portal/api/v1/cases", None, &[], None).await;
    anonymous.problem(401);
    assert_eq!(all_row_counts(&gw.app).await, before, "a refused post wrote something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_login_attempt_in_a_minute_is_refused_even_with_the_right_password() {
    let redis = crate::common::redis::RedisPrefix::new().await;
    let app = crate::support::spawn_with_redis(&redis).await;
    let gw = GatewayApp::in_front_of(app, true).await;
    let world = world(&gw.app).await;
    let mut browser = PageVisitor::new(&gw);
    browser.get("/portal/login").await;
    for attempt in 1..=10 {
        // Different unknown emails: the portal's own per-email lock-out stays out of it.
        let email = format!("nobody{attempt}@example.com");
        let answer = browser.post_form("/portal/login", &[("email", &email), ("password", "wrong password")]).await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {}", answer.text());
        assert!(answer.text().contains("The email address or the password is wrong."));
    }
    let eleventh = browser.post_form("/portal/login", &[("email", &world.colleague.contact.email), ("password", PASSWORD)]).await;
    assert_eq!(eleventh.status, 429, "{}", eleventh.text());
    assert!(eleventh.text().contains("Too many login attempts"));
    let retry_after: u64 = eleventh.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(browser.session().is_none(), "the refused login made a session");
    redis.clean().await;
}

/// The attack of issue 11 on logins: behind a proxy on a trusted network,
/// a client writes a new first `X-Forwarded-For` entry for every guess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_entry_escapes_neither_the_login_limit_nor_the_audit_trail() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    // The test's connection plays a proxy on loopback, a trusted network.
    app.settings.gateway.trusted_proxies = "127.0.0.0/8, ::1".to_owned();
    let gw = GatewayApp::in_front_of(app, true).await;
    let world = world(&gw.app).await;
    let mut browser = PageVisitor::new(&gw);
    let forged = |n: u32, real: &str| vec![("x-forwarded-for".to_owned(), format!("1.2.3.{n}, {real}"))];

    // A login from a real address is recorded with it.
    browser.headers = forged(0, "198.51.100.9");
    browser.log_in(&world.colleague.contact.email, PASSWORD).await;
    use sea_orm::ConnectionTrait;
    let db = gw.app.service_db("portal").await;
    let sql = "SELECT reason FROM audit_entries WHERE reason LIKE 'login from %'";
    let rows = db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("read audit");
    let reasons: Vec<String> = rows.iter().map(|row| row.try_get::<String>("", "reason").unwrap()).collect();
    db.close().await.ok();
    // (The fixtures log in over gRPC from their own address.)
    assert!(reasons.iter().any(|r| r == "login from 198.51.100.9"), "{reasons:?}");
    assert!(!reasons.iter().any(|r| r.contains("1.2.3.")), "the forged entry reached the audit trail: {reasons:?}");

    browser.clear();
    browser.get("/portal/login").await;
    for attempt in 1..=10 {
        browser.headers = forged(attempt, "198.51.100.7");
        let email = format!("nobody{attempt}@example.com");
        let answer = browser.post_form("/portal/login", &[("email", &email), ("password", "wrong password")]).await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {}", answer.text());
    }
    browser.headers = forged(11, "198.51.100.7");
    let eleventh = browser.post_form("/portal/login", &[("email", &world.colleague.contact.email), ("password", PASSWORD)]).await;
    assert_eq!(eleventh.status, 429, "a forged first entry escaped the limit: {}", eleventh.text());
    // Another customer behind the same proxy still logs in.
    browser.clear();
    browser.headers = forged(12, "198.51.100.8");
    browser.log_in(&world.colleague.contact.email, PASSWORD).await;
}

/// The portal's lock-out (3 failures in the test settings) answers 429 with
/// the `Retry-After` its RetryInfo gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_out_login_says_when_to_try_again() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let mut browser = PageVisitor::new(&gw);
    browser.get("/portal/login").await;
    let email = world.colleague.contact.email.as_str();
    for attempt in 1..=2 {
        let wrong = browser.post_form("/portal/login", &[("email", email), ("password", "not the password")]).await;
        assert_eq!(wrong.status, 401, "attempt {attempt}: {}", wrong.text());
    }
    let locked = browser.post_form("/portal/login", &[("email", email), ("password", "not the password")]).await;
    assert_eq!(locked.status, 429, "{}", locked.text());
    let seconds: u64 = locked.header("retry-after").expect("a Retry-After").parse().expect("seconds");
    assert!((1..=900).contains(&seconds), "{seconds}");
}

/// Strangers guessing from many addresses lock an email everywhere, except
/// in a browser its owner has logged in from: the gateway keeps the
/// portal's device token in a long-lived HttpOnly cookie that outlives
/// logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_guessing_lock_an_email_but_not_in_the_owners_own_browser() {
    use docket_proto::portal::v1 as portal;
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let email = world.colleague.contact.email.clone();
    let mut owners = PageVisitor::new(&gw);
    owners.get("/portal/login").await;
    let login = owners.post_form("/portal/login", &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(login.status, 303, "{}", login.text());
    let set: Vec<&str> = login.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    let cookie = set.iter().find(|c| c.starts_with("docket-device=")).unwrap_or_else(|| panic!("no device cookie: {set:?}"));
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=7776000"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let device = owners.cookie("docket-device").expect("a login marks the browser").to_owned();
    assert_eq!(device.len(), 43);
    owners.get("/portal/cases").await;
    let out = owners.post_form("/portal/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.text());
    assert!(owners.session().is_none(), "logged out");
    assert_eq!(owners.cookie("docket-device"), Some(device.as_str()), "the browser stays known after logout");

    // Three guesses (the test settings' lock-out) from each of ten addresses.
    for n in 1..=10 {
        for _ in 0..3 {
            let request = portal::LoginRequest {
                email: email.clone(),
                password: "guess".into(),
                client_ip: format!("192.0.2.{n}"),
                device_token: String::new(),
            };
            gw.app.portal_auth(crate::common::SERVICE).login(request).await.unwrap_err();
        }
    }
    let mut strangers = PageVisitor::new(&gw);
    strangers.get("/portal/login").await;
    let refused = strangers.post_form("/portal/login", &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(refused.status, 429, "a browser that never logged in is locked out: {}", refused.text());
    assert!(refused.header("retry-after").is_some());
    assert!(strangers.session().is_none());
    owners.log_in(&email, PASSWORD).await;
}

/// One sender cannot mail reset links to a whole customer list: past the
/// per-address limit the gateway refuses before the portal service issues
/// anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_ask_for_only_so_many_reset_links_whatever_emails_it_names() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let mut browser = PageVisitor::new(&gw);
    browser.get("/portal/reset").await;
    for n in 1..=5 {
        let answer = browser.post_form("/portal/reset", &[("email", &format!("someone{n}@example.com"))]).await;
        assert_eq!(answer.status, 200, "request {n}: {}", answer.text());
    }
    let before = all_row_counts(&gw.app).await;
    let sixth = browser.post_form("/portal/reset", &[("email", &world.colleague.contact.email)]).await;
    assert_eq!(sixth.status, 429, "{}", sixth.text());
    assert!(sixth.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|secs| secs <= 60)));
    assert!(sixth.text().contains("Too many reset requests"), "{}", sixth.text());
    assert_eq!(all_row_counts(&gw.app).await, before, "no link was issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_link_sets_a_password_and_a_reset_link_changes_it() {
    let gw = gateway().await;
    let account = crate::fixtures::account(&gw.app, &crate::fixtures::unique("Initech")).await;
    let email = format!("{}@initech.example", crate::fixtures::unique("milton"));
    let contact = crate::fixtures::contact(&gw.app, &account.id, "Milton Waddams", &email).await;
    crate::support::invite(&gw.app, &contact.id, false).await;
    let token = emailed_token(&gw.app, &email, "invitation").await;

    let mut browser = PageVisitor::new(&gw);
    let page = browser.get(&format!("/portal/invitation/{token}")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains(&email));
    // Passwords that differ or are too short are refused next to the field.
    let differ = browser
        .post_form(&format!("/portal/invitation/{token}"), &[("password", "a long new password"), ("password_again", "another")])
        .await;
    assert_eq!(differ.status, 400);
    assert!(differ.text().contains("The two passwords differ."));
    let short =
        browser.post_form(&format!("/portal/invitation/{token}"), &[("password", "short"), ("password_again", "short")]).await;
    assert_eq!(short.status, 400, "{}", short.text());
    assert!(short.text().contains("aria-invalid=\"true\""));
    let accepted =
        browser.post_form(&format!("/portal/invitation/{token}"), &[("password", PASSWORD), ("password_again", PASSWORD)]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.text());
    assert!(browser.session().is_some());
    // A used link says so.
    let used = PageVisitor::new(&gw).get(&format!("/portal/invitation/{token}")).await;
    assert_eq!(used.status, 404);
    assert!(used.text().contains("expired"));
    for bad in ["/portal/invitation/%00%FF", "/portal/invitation/not-a-token", "/portal/reset/x"] {
        assert_eq!(PageVisitor::new(&gw).get(bad).await.status, 404, "{bad}");
    }

    // Forgot the password: the reset page answers the same for anyone.
    let mut other = PageVisitor::new(&gw);
    other.get("/portal/reset").await;
    let asked = other.post_form("/portal/reset", &[("email", &email)]).await;
    assert_eq!(asked.status, 200);
    assert!(asked.text().contains("is on its way"));
    let unknown = other.post_form("/portal/reset", &[("email", "nobody@initech.example")]).await;
    assert_eq!(unknown.status, 200);
    assert!(unknown.text().contains("is on its way"));
    let reset_token = emailed_token(&gw.app, &email, "reset").await;
    other.get(&format!("/portal/reset/{reset_token}")).await;
    let new_password = "a brand new passphrase";
    let reset = other
        .post_form(&format!("/portal/reset/{reset_token}"), &[("password", new_password), ("password_again", new_password)])
        .await;
    assert_eq!(reset.status, 303, "{}", reset.text());
    // The session of the first browser ended with the reset.
    assert_eq!(browser.get("/portal/cases").await.status, 303);
    other.log_in(&email, new_password).await;
    assert_eq!(other.get("/portal/cases").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_to_every_portal_form_is_refused_with_a_page_and_writes_nothing() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let case = world.colleague.staff_case(&gw.app, "Bad input target").await;
    let mut browser = PageVisitor::new(&gw);
    browser.log_in(&world.colleague.contact.email, PASSWORD).await;
    browser.get("/portal/cases/new").await;
    let csrf = hidden_value(&browser.get("/portal/cases").await.text(), "csrf_token").unwrap();
    let before = all_row_counts(&gw.app).await;
    let comments = format!("/portal/cases/{}/comments", case.id);
    let close = format!("/portal/cases/{}/close", case.id);
    let reopen = format!("/portal/cases/{}/reopen", case.id);
    let form = "application/x-www-form-urlencoded";
    let huge = format!("csrf_token={csrf}&body={}", "x".repeat(100 * 1024));
    for path in [
        "/portal/login",
        "/portal/cases",
        comments.as_str(),
        close.as_str(),
        reopen.as_str(),
        "/portal/password",
        "/portal/reset",
    ] {
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            ("application/json", br#"{"body":"x"}"#.to_vec(), 415),
            ("", b"body=x".to_vec(), 415),
            (form, huge.clone().into_bytes(), 413),
            (form, format!("csrf_token={csrf}&body=%FF%FE&subject=%FF&email=%FF").into_bytes(), 400),
            (form, [format!("csrf_token={csrf}&body=").into_bytes(), vec![0xff, 0xfe]].concat(), 400),
        ];
        for (content_type, body, status) in cases {
            let answer = browser.post_raw(path, content_type, body).await;
            assert_eq!(answer.status, status, "{path} {content_type}: {}", answer.text());
            assert!(answer.header("content-type").unwrap_or_default().starts_with("text/html"), "{path}: not a page");
        }
    }
    // Missing fields: the form again, naming what is missing.
    for (path, fields) in [
        ("/portal/login", vec![("email", "")]),
        ("/portal/cases", vec![("description", "no subject, no type")]),
        (comments.as_str(), vec![]),
        (close.as_str(), vec![]),
    ] {
        browser.get("/portal/cases").await;
        let answer = browser.post_form(path, &fields).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text());
        assert!(answer.text().contains("role=\"alert\""), "{path}: the reason is not shown: {}", answer.text());
    }
    // A case path that is no case.
    for path in ["/portal/cases/%FF", "/portal/cases/not-a-case", "/portal/cases/C-999999"] {
        assert_eq!(browser.get(path).await.status, 404, "{path}");
    }
    assert_eq!(all_row_counts(&gw.app).await, before, "bad input wrote something");
}

/// The comment numbers (`comment 0042`) a page or answer shows, in order.
fn comment_numbers(text: &str) -> Vec<u32> {
    text.match_indices("comment ")
        .filter_map(|(at, _)| text.get(at + 8..at + 12))
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|digits| digits.parse().ok())
        .collect()
}

/// The token of the page's "Older entries" link.
fn older_link(html: &str, case_id: &str) -> Option<String> {
    let marker = format!("href=\"/portal/cases/{case_id}?before=");
    let at = html.find(&marker)? + marker.len();
    Some(html[at..].chars().take_while(|c| *c != '#' && *c != '"').collect())
}

/// The attack the timeline's pages answer: a case with more public text
/// than one 4 MiB reply (220 comments of 19,900 characters) answered 500
/// for good. Its page and its JSON twin open with the newest entries, and
/// "Older entries" (no JavaScript) and `page_token` reach every comment
/// exactly once, in order; tokens they did not give are 400, not 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_with_more_text_than_one_reply_holds_opens_and_pages_back_to_its_first_comment() {
    let gw = gateway().await;
    let world = world(&gw.app).await;
    let case = world.colleague.staff_case(&gw.app, "Too much to say").await;
    const COMMENTS: u32 = 220;
    for i in 0..COMMENTS {
        let head = format!("comment {i:04} ");
        note(&gw.app, &case.id, &format!("{head}{}", "x".repeat(19_900 - head.len())), pb::Visibility::Public).await;
    }
    let mut browser = PageVisitor::new(&gw);
    browser.log_in(&world.colleague.contact.email, PASSWORD).await;

    let first = browser.get(&format!("/portal/cases/{}", case.case_number)).await;
    assert_eq!(first.status, 200);
    let html = first.text();
    assert!(html.contains("comment 0219") && !html.contains("comment 0000"), "the newest entries first");
    assert!(html.contains("Add a comment"));
    let mut pages = vec![comment_numbers(&html)];
    let mut older = older_link(&html, &case.id);
    while let Some(token) = older {
        let page = browser.get(&format!("/portal/cases/{}?before={token}", case.id)).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let html = page.text();
        assert!(html.contains("Newest entries"));
        assert!(pages.len() < 50, "the pages end");
        pages.push(comment_numbers(&html));
        older = older_link(&html, &case.id);
    }
    assert!(pages.len() >= 5, "{} pages", pages.len());
    let seen: Vec<u32> = pages.into_iter().rev().flatten().collect();
    assert_eq!(seen, (0..COMMENTS).collect::<Vec<_>>(), "every comment once, in order");

    let cookie = format!("docket-session={}", browser.session().unwrap());
    let json = |path: String| {
        let cookie = cookie.clone();
        let gw = &gw;
        async move { gw.send(http::Method::GET, &path, None, &[("cookie", &cookie)], None).await }
    };
    let mut answer = json(format!("/portal/api/v1/cases/{}", case.id)).await.expect(200);
    assert_eq!(answer["case"]["case_number"], case.case_number.as_str());
    let mut pages = Vec::new();
    loop {
        let timeline = answer["timeline"].as_array().cloned().unwrap_or_default();
        assert!(!timeline.is_empty() && timeline.len() <= 50, "{}", timeline.len());
        pages.push(timeline.iter().flat_map(|e| comment_numbers(e["body"].as_str().unwrap_or_default())).collect::<Vec<_>>());
        let Some(token) = answer["next_page_token"].as_str().map(str::to_owned) else { break };
        assert!(pages.len() < 50, "the pages end");
        answer = json(format!("/portal/api/v1/cases/{}?page_token={token}", case.id)).await.expect(200);
    }
    let seen: Vec<u32> = pages.into_iter().rev().flatten().collect();
    assert_eq!(seen, (0..COMMENTS).collect::<Vec<_>>(), "every comment once, in order, as JSON");

    let before = all_row_counts(&gw.app).await;
    let other = world.colleague.staff_case(&gw.app, "Another").await;
    let before_other = all_row_counts(&gw.app).await;
    assert_ne!(before, before_other);
    let foreign = older_link(&html, &case.id).unwrap_or_default();
    let garbage = ["garbage!", "e30", "%00", &"A".repeat(3000)];
    for token in garbage.iter().copied().chain([foreign.as_str()].into_iter().filter(|t| !t.is_empty())) {
        let page = browser.get(&format!("/portal/cases/{}?before={token}", other.id)).await;
        assert_eq!(page.status, 400, "{token}: {}", page.text());
        assert!(page.text().contains("link to older entries"), "{}", page.text());
        json(format!("/portal/api/v1/cases/{}?page_token={token}", other.id)).await.bad_field("page_token");
    }
    assert_eq!(all_row_counts(&gw.app).await, before_other, "nothing written");
}

/// A session may add only so many comments a minute, and a case takes only
/// so many from all its customers together: the next is 429 with
/// Retry-After, the page keeps the text, and nothing is written. Comments
/// someone else's customer is refused do not use up the case's minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_limited_per_session_and_per_case_and_the_refused_one_writes_nothing() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    app.settings.gateway.comments_per_session_per_minute = 3;
    app.settings.gateway.comments_per_case_per_minute = 5;
    let gw = GatewayApp::in_front_of(app, true).await;
    let world = world(&gw.app).await;
    let case = world.colleague.staff_case(&gw.app, "Chatty").await;

    // Someone of another account is refused, and costs the case nothing.
    let mut eve = PageVisitor::new(&gw);
    eve.log_in(&world.outsider.contact.email, PASSWORD).await;
    let eve_cookie = format!("docket-session={}", eve.session().unwrap());
    for i in 0..3 {
        let body = serde_json::to_vec(&serde_json::json!({ "body": format!("spam {i}") })).unwrap();
        let path = format!("/portal/api/v1/cases/{}/comments", case.id);
        let answer = gw.send(http::Method::POST, &path, None, &[("cookie", &eve_cookie)], Some(("application/json", body))).await;
        answer.problem(404);
    }

    let mut ann = PageVisitor::new(&gw);
    ann.log_in(&world.colleague.contact.email, PASSWORD).await;
    let path = format!("/portal/cases/{}/comments", case.id);
    for i in 0..3 {
        ann.get(&format!("/portal/cases/{}", case.case_number)).await;
        let sent = ann.post_form(&path, &[("body", &format!("page comment {i}")), ("idempotency_key", &format!("k{i}"))]).await;
        assert_eq!(sent.status, 303, "{}", sent.text());
    }
    ann.get(&format!("/portal/cases/{}", case.case_number)).await;
    let before = all_row_counts(&gw.app).await;
    let refused = ann.post_form(&path, &[("body", "one more thing <b>bold</b>"), ("idempotency_key", "k9")]).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    let wait: u64 = refused.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let html = refused.text();
    assert!(html.contains("Too many comments"), "{html}");
    assert!(html.contains("one more thing &#60;b&#62;bold&#60;/b&#62;</textarea>"), "the text is kept: {html}");
    assert_eq!(all_row_counts(&gw.app).await, before, "a refused comment wrote something");

    // The account's portal manager, in another session, through JSON: the
    // case takes two more (five in all), then refuses.
    let mut petra = PageVisitor::new(&gw);
    petra.log_in(&world.manager.contact.email, PASSWORD).await;
    let cookie = format!("docket-session={}", petra.session().unwrap());
    let post = |body: &str| {
        let body = serde_json::to_vec(&serde_json::json!({ "body": body })).unwrap();
        let (gw, cookie, path) = (&gw, cookie.clone(), format!("/portal/api/v1/cases/{}/comments", case.id));
        async move { gw.send(http::Method::POST, &path, None, &[("cookie", &cookie)], Some(("application/json", body))).await }
    };
    post("manager 1").await.expect(201);
    post("manager 2").await.expect(201);
    let before = all_row_counts(&gw.app).await;
    let limited = post("manager 3").await;
    let problem = limited.problem(429);
    assert!(problem["detail"].as_str().unwrap_or_default().contains("too many comments"), "{problem}");
    assert!(limited.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()));
    // The page refuses it too, for the case, whatever the session.
    petra.get(&format!("/portal/cases/{}", case.case_number)).await;
    let page = petra.post_form(&path, &[("body", "manager 4"), ("idempotency_key", "m4")]).await;
    assert_eq!(page.status, 429, "{}", page.text());
    assert!(page.text().contains("manager 4</textarea>"));
    assert_eq!(all_row_counts(&gw.app).await, before, "a refused comment wrote something");
    let timeline = gw
        .send(http::Method::GET, &format!("/portal/api/v1/cases/{}", case.id), None, &[("cookie", &cookie)], None)
        .await
        .expect(200);
    let bodies: Vec<&str> = timeline["timeline"].as_array().unwrap().iter().filter_map(|e| e["body"].as_str()).collect();
    assert_eq!(bodies, ["page comment 0", "page comment 1", "page comment 2", "manager 1", "manager 2"]);
}
