//! Public web forms at `/f/{slug}`: a visitor's submission becomes a case
//! and a confirmation email; refusals (bad values, an expired or forged
//! token, the honeypot, rate limits, oversized or unreadable bodies) show
//! the form again and say why, and create nothing.

use docket_proto::{case::v1 as pb, portal::v1 as portal};

use crate::{
    common::{
        ADMIN, Backend, TestApp,
        gateway::{GatewayApp, HttpResponse, form_body, hidden_value},
    },
    fixtures::unique,
    support::all_row_counts,
};

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

pub async fn support_form(gw: &GatewayApp) -> portal::WebForm {
    use portal::{FormFieldKind as K, FormFieldTarget as T};
    let form = portal::WebForm {
        slug: unique("support").to_lowercase().replace('_', "-"),
        title: "Contact support <now>".into(),
        intro: "Tell us what happened.".into(),
        fields: vec![
            field("name", K::Text, T::ContactName, true),
            field("email", K::Email, T::ContactEmail, true),
            field("subject", K::Text, T::Subject, true),
            portal::FormField {
                options: vec!["Printer".into(), "Scanner".into()],
                ..field("device", K::Select, T::AppendToDescription, true)
            },
            field("details", K::Textarea, T::Description, true),
        ],
        case_type_id: "technical_issue".into(),
        priority: pb::CasePriority::Medium as i32,
        allowed_origins: vec!["https://shop.example.com".into()],
        success_message: "We answer within one working day.".into(),
        active: true,
        ..Default::default()
    };
    gw.app
        .web_forms(ADMIN)
        .create_web_form(portal::CreateWebFormRequest { web_form: Some(form), idempotency_key: String::new() })
        .await
        .expect("create a form")
        .into_inner()
}

fn filled(token: &str, email: &str) -> Vec<(String, String)> {
    [
        ("docket-token", token),
        ("docket-website", ""),
        ("name", "Petra Schmidt"),
        ("email", email),
        ("subject", "Scanner makes a noise"),
        ("device", "Scanner"),
        ("details", "A grinding noise when it starts."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn post(gw: &GatewayApp, slug: &str, fields: &[(String, String)]) -> HttpResponse {
    post_with(gw, slug, fields, &[]).await
}

async fn post_with(gw: &GatewayApp, slug: &str, fields: &[(String, String)], headers: &[(&str, &str)]) -> HttpResponse {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = Some(("application/x-www-form-urlencoded", form_body(&pairs)));
    gw.send(http::Method::POST, &format!("/f/{slug}"), None, headers, body).await
}

fn token_of(page: &HttpResponse) -> String {
    hidden_value(&page.text(), "docket-token").expect("a form token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_becomes_a_case_shown_by_number_and_a_retry_makes_no_second_one() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let form = support_form(&gw).await;
    let page = gw.send(http::Method::GET, &format!("/f/{}", form.slug), None, &[], None).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("Contact support &#60;now&#62;"), "{html}");
    assert!(html.contains("<label for=\"email\">"));
    assert!(html.contains("name=\"docket-website\""), "the honeypot is missing");
    let csp = page.header("content-security-policy").unwrap().to_owned();
    assert!(csp.contains("frame-ancestors https://shop.example.com"), "{csp}");
    assert!(page.header("x-frame-options").is_none());

    let email = format!("{}@visitor.example", unique("petra"));
    let fields = filled(&token_of(&page), &email);
    let done = post(&gw, &form.slug, &fields).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let number = done.text().split("class=\"case-number\">").nth(1).and_then(|s| s.split('<').next()).unwrap().to_owned();
    assert!(number.starts_with("C-"), "{number}");
    assert!(done.text().contains("We answer within one working day."));
    // The same rendered form sent again (a double click, a retry) answers with the same case.
    let again = post(&gw, &form.slug, &fields).await;
    assert!(again.text().contains(&number), "{}", again.text());
    // Sent again with an entry changed (back, edit, send): the visitor is
    // asked to send it once more, which makes a new request.
    let mut edited = fields.clone();
    edited.iter_mut().filter(|(name, _)| name == "subject").for_each(|(_, value)| *value = "Scanner smokes now".into());
    let before = gw.app.row_counts().await;
    let refused = post(&gw, &form.slug, &edited).await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(refused.text().contains("already sent with different entries"), "{}", refused.text());
    assert!(refused.text().contains("Scanner smokes now"), "the entries are kept");
    assert_eq!(gw.app.row_counts().await, before, "the refused send wrote nothing");
    let fresh = token_of(&refused);
    assert_ne!(fresh, token_of(&page));
    edited.iter_mut().filter(|(name, _)| name == "docket-token").for_each(|(_, value)| *value = fresh.clone());
    let second = post(&gw, &form.slug, &edited).await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert!(second.text().contains("class=\"case-number\">C-"), "{}", second.text());
    assert!(!second.text().contains(&number), "a new request, a new case");

    let case = gw
        .app
        .cases(crate::common::AGENT)
        .get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::CaseNumber(number.clone())) })
        .await
        .expect("the case exists")
        .into_inner();
    assert_eq!(case.channel, pb::CaseChannel::WebForm as i32);
    assert_eq!(case.subject, "Scanner makes a noise");
    assert!(case.description.contains("Scanner"), "{}", case.description);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_submissions_show_the_form_again_with_the_reason_and_create_nothing() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let form = support_form(&gw).await;
    let page = gw.send(http::Method::GET, &format!("/f/{}", form.slug), None, &[], None).await;
    let token = token_of(&page);
    let email = format!("{}@visitor.example", unique("bad"));
    let before = all_row_counts(&gw.app).await;

    // A bad value: the form again, the entries kept, the field named.
    let mut bad_email = filled(&token, "not an email");
    bad_email.retain(|(k, _)| k != "details");
    let refused = post(&gw, &form.slug, &bad_email).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    let html = refused.text();
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("value=\"Petra Schmidt\""), "the entries are lost: {html}");

    // No token, a forged one, one of another form.
    let mut no_token = filled("", &email);
    no_token.retain(|(k, _)| k != "docket-token");
    for fields in [no_token, filled("forged.token", &email)] {
        let answer = post(&gw, &form.slug, &fields).await;
        assert_eq!(answer.status, 400, "{}", answer.text());
        assert!(answer.text().contains("This form had expired"), "{}", answer.text());
        assert!(answer.text().contains("value=\"Petra Schmidt\""));
    }
    // The honeypot: refused, and said so.
    let mut bot = filled(&token, &email);
    bot.retain(|(k, _)| k != "docket-website");
    bot.push(("docket-website".into(), "http://spam.example".into()));
    let trapped = post(&gw, &form.slug, &bot).await;
    assert_eq!(trapped.status, 400);
    assert!(trapped.text().contains("Leave this empty"));

    // Wrong content type, unreadable bytes, a body over the limit.
    let json =
        gw.send(http::Method::POST, &format!("/f/{}", form.slug), None, &[], Some(("application/json", b"{}".to_vec()))).await;
    assert_eq!(json.status, 415);
    assert!(json.header("content-type").unwrap().starts_with("text/html"));
    let invalid = gw
        .send(
            http::Method::POST,
            &format!("/f/{}", form.slug),
            None,
            &[],
            Some(("application/x-www-form-urlencoded", b"name=\xff\xfe&email=x".to_vec())),
        )
        .await;
    assert_eq!(invalid.status, 400);
    let huge = format!("details={}", "x".repeat(100 * 1024));
    let too_big = gw
        .send(
            http::Method::POST,
            &format!("/f/{}", form.slug),
            None,
            &[],
            Some(("application/x-www-form-urlencoded", huge.into_bytes())),
        )
        .await;
    assert_eq!(too_big.status, 413, "{}", too_big.text());
    assert!(too_big.text().contains("larger than this form takes"));

    // Unknown and malformed slugs are plain 404 pages.
    for path in ["/f/no-such-form", "/f/Bad%20Slug", "/f/no-such-form/embed.js"] {
        assert_eq!(gw.send(http::Method::GET, path, None, &[], None).await.status, 404, "{path}");
    }
    assert_eq!(all_row_counts(&gw.app).await, before, "a refused submission wrote something");

    // A form closed after its page was served: the post is refused on a
    // page that says the form is closed, still framed for its sites.
    let closed = gw
        .app
        .web_forms(ADMIN)
        .update_web_form(portal::UpdateWebFormRequest {
            web_form: Some(portal::WebForm { id: form.id.clone(), etag: form.etag.clone(), active: false, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["active".to_owned()] }),
            reason: "season over".to_owned(),
        })
        .await
        .expect("close the form")
        .into_inner();
    let before = all_row_counts(&gw.app).await;
    let late = post(&gw, &form.slug, &filled(&token, &email)).await;
    assert_eq!(late.status, 404, "{}", late.text());
    assert!(late.text().contains("This form is not taking submissions."), "{}", late.text());
    let frame_ancestors = late.header("content-security-policy").unwrap_or_default();
    assert!(frame_ancestors.contains("https://shop.example.com"), "{frame_ancestors}");
    assert_eq!(all_row_counts(&gw.app).await, before, "a closed form took a submission");
    assert!(!closed.active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_submissions_from_one_address_are_refused_with_the_entries_kept() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let form = support_form(&gw).await;
    let limit = gw.app.settings.gateway.form_submissions_per_minute;
    for n in 0..limit {
        let page = gw.send(http::Method::GET, &format!("/f/{}", form.slug), None, &[], None).await;
        let email = format!("{}@visitor.example", unique(&format!("v{n}")));
        let done = post(&gw, &form.slug, &filled(&token_of(&page), &email)).await;
        assert_eq!(done.status, 200, "submission {n}: {}", done.text());
    }
    let before = all_row_counts(&gw.app).await;
    let page = gw.send(http::Method::GET, &format!("/f/{}", form.slug), None, &[], None).await;
    let limited = post(&gw, &form.slug, &filled(&token_of(&page), "late@visitor.example")).await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.header("retry-after").is_some());
    assert!(limited.text().contains("too many submissions"));
    assert!(limited.text().contains("value=\"late@visitor.example\""), "the entries are lost");
    assert_eq!(all_row_counts(&gw.app).await, before);
}

/// The attack of issue 11: behind a proxy that appends the address it saw
/// to `X-Forwarded-For`, a client writes its own first entry, a new one
/// each time, to escape the per-address limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_rotating_a_forged_forwarded_for_entry_is_still_limited_by_its_real_address() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    // The test's connection plays the one proxy in front of the gateway.
    app.settings.gateway.trusted_proxy_hops = 1;
    let gw = GatewayApp::in_front_of(app, false).await;
    let form = support_form(&gw).await;
    let limit = gw.app.settings.gateway.form_submissions_per_minute;
    let send = |n: u32, real: &'static str| {
        let gw = &gw;
        let slug = form.slug.clone();
        async move {
            let forwarded = format!("1.2.3.{n}, {real}");
            let headers = [("x-forwarded-for", forwarded.as_str())];
            let page = gw.send(http::Method::GET, &format!("/f/{slug}"), None, &headers, None).await;
            let email = format!("{}@visitor.example", unique(&format!("spoof{n}")));
            post_with(gw, &slug, &filled(&token_of(&page), &email), &headers).await
        }
    };
    for n in 0..limit {
        let done = send(n, "198.51.100.7").await;
        assert_eq!(done.status, 200, "submission {n}: {}", done.text());
    }
    let before = all_row_counts(&gw.app).await;
    let limited = send(limit, "198.51.100.7").await;
    assert_eq!(limited.status, 429, "a forged first entry escaped the limit: {}", limited.text());
    assert_eq!(all_row_counts(&gw.app).await, before);
    // Another client behind the same proxy has its own count.
    let other = send(limit + 1, "198.51.100.8").await;
    assert_eq!(other.status, 200, "{}", other.text());
    // What the portal service records is the real address, never the forged one.
    use sea_orm::ConnectionTrait;
    let db = gw.app.service_db("portal").await;
    let sql = "SELECT DISTINCT client_ip FROM form_submissions ORDER BY client_ip";
    let rows = db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("read submissions");
    let recorded: Vec<String> = rows.iter().map(|row| row.try_get::<String>("", "client_ip").unwrap()).collect();
    db.close().await.ok();
    assert_eq!(recorded, ["198.51.100.7", "198.51.100.8"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embed_script_of_a_missing_form_cannot_be_made_to_run_the_slug() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    // `x*/alert(1)/*` and friends: the slug must not end the comment, the
    // line, or a surrounding <script> element.
    for path in [
        "/f/x*%2Falert(1)%2F*/embed.js",
        "/f/x*%2Falert(1)%2F%2F/embed.js",
        "/f/x%0Aalert(1)%2F%2F/embed.js",
        "/f/x%E2%80%A8alert(1)/embed.js",
        "/f/%3C%2Fscript%3E%3Cscript%3Ealert(1)%2F%2F/embed.js",
    ] {
        let answer = gw.send(http::Method::GET, path, None, &[], None).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.text());
        assert!(answer.header("content-type").unwrap().starts_with("text/javascript"), "{path}");
        let js = answer.text();
        assert!(!js.contains("alert") && !js.contains('<'), "{path}: the slug is echoed: {js}");
        assert!(js.starts_with("/*") && js.trim_end().ends_with("*/") && js.matches("*/").count() == 1, "{path}: {js}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embed_script_frames_the_form_for_its_sites_only() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let form = support_form(&gw).await;
    let script = gw.send(http::Method::GET, &format!("/f/{}/embed.js", form.slug), None, &[], None).await;
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").unwrap().starts_with("text/javascript"));
    let js = script.text();
    assert!(js.contains(&format!("/f/{}", form.slug)), "{js}");
    assert!(js.contains("\"Contact support \\u003cnow>\""), "the title is not a safe JS string: {js}");
    assert!(js.contains("createElement('iframe')"));

    // An allowed origin is remembered in the token; another one is dropped.
    let allowed =
        gw.send(http::Method::GET, &format!("/f/{}?origin=https%3A%2F%2Fshop.example.com", form.slug), None, &[], None).await;
    assert_eq!(allowed.status, 200);
    let email = format!("{}@visitor.example", unique("framed"));
    let done = post(&gw, &form.slug, &filled(&token_of(&allowed), &email)).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(done.header("content-security-policy").unwrap().contains("frame-ancestors https://shop.example.com"));
    let other = gw.send(http::Method::GET, &format!("/f/{}?origin=https%3A%2F%2Fevil.example", form.slug), None, &[], None).await;
    assert_eq!(other.status, 200);
    assert!(other.header("content-security-policy").unwrap().contains("frame-ancestors https://shop.example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_naming_a_customers_address_asks_that_address_before_the_case_joins_their_account() {
    use crate::common::{AGENT, gateway::PageVisitor};
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let form = support_form(&gw).await;
    let acme = crate::fixtures::account(&gw.app, &unique("Acme")).await;
    let email = format!("{}@acme.example", unique("jonas"));
    let jonas = crate::fixtures::contact(&gw.app, &acme.id, "Jonas Weber", &email).await;

    // A stranger sends the form in Jonas's name.
    let page = gw.send(http::Method::GET, &format!("/f/{}", form.slug), None, &[], None).await;
    let done = post(&gw, &form.slug, &filled(&token_of(&page), &email)).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let number_in =
        |html: &str| html.split("class=\"case-number\">").nth(1).and_then(|s| s.split('<').next()).unwrap().to_owned();
    let number = number_in(&done.text());
    // The page tells the stranger nothing about whose address it is: a
    // newcomer's page reads the same but for the case number.
    let page = gw.send(http::Method::GET, &format!("/f/{}", form.slug), None, &[], None).await;
    let newcomer = format!("{}@elsewhere.example", unique("newcomer"));
    let theirs = post(&gw, &form.slug, &filled(&token_of(&page), &newcomer)).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text());
    let without_number = |html: &str| html.replace(&number_in(html), "C-?");
    assert_eq!(without_number(&done.text()), without_number(&theirs.text()));
    let case_of = async |number: &str| {
        gw.app
            .cases(AGENT)
            .get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::CaseNumber(number.to_owned())) })
            .await
            .unwrap()
            .into_inner()
    };
    assert_ne!(case_of(&number).await.account_id, acme.id, "held outside Acme");

    // Jonas's mailbox holds the link; opening it confirms nothing by itself
    // (mail scanners open links), and a link that is not one is a 404 page.
    let token = crate::support::emailed_token(&gw.app, &email, "confirm").await;
    let path = format!("/portal/confirm/{token}");
    let mut browser = PageVisitor::new(&gw);
    let ask = browser.get(&path).await;
    assert_eq!(ask.status, 200, "{}", ask.text());
    assert!(ask.text().contains("Yes, this request is mine"), "{}", ask.text());
    assert!(ask.text().contains(&number) && ask.text().contains("Scanner makes a noise"), "{}", ask.text());
    assert_ne!(case_of(&number).await.account_id, acme.id, "looking at the page confirms nothing");
    for bad in ["/portal/confirm/not-a-real-token", "/portal/confirm/%FF%FE", &format!("/portal/confirm/{token}x")] {
        let before = all_row_counts(&gw.app).await;
        let answer = browser.get(bad).await;
        assert_eq!(answer.status, 404, "{bad}: {}", answer.text());
        let posted = browser.post_form(bad, &[]).await;
        assert_eq!(posted.status, 404, "{bad}: {}", posted.text());
        assert_eq!(all_row_counts(&gw.app).await, before, "{bad} changed something");
    }
    // A post without the page's CSRF token is refused.
    let before = all_row_counts(&gw.app).await;
    let forged = gw.send(http::Method::POST, &path, None, &[], Some(("application/x-www-form-urlencoded", Vec::new()))).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert_eq!(all_row_counts(&gw.app).await, before);

    browser.get(&path).await;
    let confirmed = browser.post_form(&path, &[]).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    assert!(confirmed.text().contains(&number), "{}", confirmed.text());
    let case = case_of(&number).await;
    assert_eq!(case.account_id, acme.id);
    assert_eq!(case.contacts, [pb::CaseContact { contact_id: jonas.id, primary: true }]);
}
