//! The help center (`/help`) in front of the real services, as a browser
//! reads it: each visitor sees what its audience allows (anonymous: public
//! articles; a logged-in customer: customers' articles too; nobody outside
//! staff: internal ones) in pages, search, related articles, the sitemap and
//! file downloads; feedback and views are counted, bad answers change
//! nothing, and an archived article's page says so instead of 404. And
//! deflection: articles suggested while a customer describes a problem,
//! and what came of them, counted.

use docket_proto::knowledge::v1 as pb;

use crate::{
    common::{
        ADMIN, AGENT, Backend, eventually,
        gateway::{GatewayApp, PageVisitor, hidden_value},
    },
    knowledge::{publish_new, read, titled},
    support::{PASSWORD, world},
};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

async fn create_category(gw: &GatewayApp, name: &str, parent_id: &str) -> pb::Category {
    let category = pb::Category { name: name.into(), parent_id: parent_id.into(), ..Default::default() };
    let request = pb::CreateCategoryRequest { category: Some(category), idempotency_key: String::new() };
    gw.app.categories(ADMIN).create_category(request).await.unwrap().into_inner()
}

/// Three articles in one category: one for each audience.
pub struct Shelf {
    pub category: pb::Category,
    pub public: pb::Article,
    pub customers: pb::Article,
    pub internal: pb::Article,
}

pub async fn shelf(gw: &GatewayApp) -> Shelf {
    let app = &gw.app;
    let category = app
        .categories(ADMIN)
        .create_category(pb::CreateCategoryRequest {
            category: Some(pb::Category {
                name: "Printers".into(),
                description: "Paper, toner and errors".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let in_category = |title: &str, audience, body: &str| pb::Article {
        category_id: category.id.clone(),
        summary: format!("About: {title}"),
        body_markdown: body.into(),
        ..titled(title, audience)
    };
    let internal = publish_new(
        app,
        in_category("Escalation checklist for printer tickets", pb::Audience::Internal, "Call the vendor hotline 0800 111."),
    )
    .await;
    let customers = publish_new(
        app,
        in_category("Resetting the printer admin password", pb::Audience::Customers, "Hold **Menu** for ten seconds."),
    )
    .await;
    let mut public = in_category(
        "Clearing a printer paper jam",
        pb::Audience::Public,
        "Open the **front** cover & pull the sheet out.<script>alert('jam')</script>",
    );
    public.related_article_ids = vec![customers.id.clone(), internal.id.clone()];
    let public = publish_new(app, public).await;
    Shelf { category, public, customers, internal }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_visitor_reads_what_its_audience_allows() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let shelf = shelf(&gw).await;
    let world = world(&gw.app).await;
    let mut anonymous = PageVisitor::new(&gw);

    let home = anonymous.get("/help").await;
    assert_eq!(home.status, 200, "{}", home.text());
    let html = home.text();
    assert!(html.contains("Printers") && html.contains(&shelf.public.title), "{html}");
    assert!(!html.contains(&shelf.customers.title) && !html.contains(&shelf.internal.title), "{html}");
    assert!(html.contains("<link rel=\"canonical\" href=\"http://127.0.0.1:8080/help\">"), "{html}");
    assert!(html.contains("<main id=\"main\"") && html.contains("<label for=\"q\">"), "landmarks and labels");

    // Topics are offered where the visitor finds something to read: the
    // parent of a category with a public article, not a category of
    // internal articles only (not even by its address, nor in the sitemap).
    let hardware = create_category(&gw, "Hardware", "").await;
    let docks = create_category(&gw, "Docking stations", &hardware.id).await;
    let vendors = create_category(&gw, "Vendor escalations", "").await;
    let filed = |title: &str, audience, category: &pb::Category| pb::Article {
        category_id: category.id.clone(),
        ..titled(title, audience)
    };
    publish_new(&gw.app, filed("Dock does not charge", pb::Audience::Public, &docks)).await;
    publish_new(&gw.app, filed("Vendor contacts", pb::Audience::Internal, &vendors)).await;
    let html = anonymous.get("/help").await.text();
    assert!(html.contains("Hardware") && html.contains("Docking stations"), "{html}");
    assert!(!html.contains("Vendor escalations"), "{html}");
    assert_eq!(anonymous.get("/help/categories/vendor-escalations").await.status, 404);
    assert_eq!(anonymous.get("/help/categories/hardware").await.status, 200);
    let sitemap = anonymous.get("/help/sitemap.xml").await.text();
    assert!(sitemap.contains("/help/categories/hardware") && !sitemap.contains("vendor-escalations"), "{sitemap}");

    let page = anonymous.get(&format!("/help/articles/{}", shelf.public.slug)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("<strong>front</strong> cover &amp; pull"), "the Markdown is rendered: {html}");
    assert!(!html.contains("alert('jam')") && !html.contains("<script>alert"), "the author's script is gone: {html}");
    assert!(
        html.contains(&format!("<link rel=\"canonical\" href=\"http://127.0.0.1:8080/help/articles/{}\">", shelf.public.slug))
    );
    assert!(html.contains("Did this help?") && html.contains("name=\"helpful\" value=\"yes\""), "{html}");
    assert!(html.contains("href=\"/help/categories/printers\""), "the breadcrumb names the category: {html}");
    // Related articles the visitor may not read are left out, titles and all.
    assert!(!html.contains(&shelf.customers.title) && !html.contains(&shelf.internal.title), "{html}");
    for hidden in [&shelf.customers.slug, &shelf.internal.slug, &"no-such-article".to_owned()] {
        let page = anonymous.get(&format!("/help/articles/{hidden}")).await;
        assert_eq!(page.status, 404, "{hidden}: {}", page.text());
        assert!(!page.text().contains("Hold <strong>Menu</strong>") && !page.text().contains("0800 111"));
    }

    let category = anonymous.get("/help/categories/printers").await;
    assert_eq!(category.status, 200);
    assert!(category.text().contains(&shelf.public.title) && category.text().contains("Paper, toner and errors"));
    assert!(!category.text().contains(&shelf.customers.title) && !category.text().contains(&shelf.internal.title));
    assert_eq!(anonymous.get("/help/categories/no-such-topic").await.status, 404);

    // Search: all three titles hold "printer"; the visitor gets only its own.
    let results = anonymous.get("/help/search?q=printer").await;
    assert_eq!(results.status, 200);
    let html = results.text();
    assert!(html.contains(&shelf.public.title) && html.contains("<mark>"), "{html}");
    assert!(!html.contains(&shelf.customers.title) && !html.contains(&shelf.internal.title), "{html}");
    let results = anonymous.get("/help/search?q=escalation%20checklist").await;
    assert!(results.text().contains("No articles match") && !results.text().contains("0800"), "{}", results.text());
    let typo = anonymous.get("/help/search?q=pritner%20jam").await;
    assert!(typo.text().contains(&shelf.public.title), "a typo still finds the article: {}", typo.text());
    assert!(
        typo.text()
            .contains("Nothing matched “pritner jam”, so these are for <a href=\"/help/search?q=printer%20jam\">printer jam</a>"),
        "the visitor is told what was searched for instead: {}",
        typo.text()
    );

    let sitemap = anonymous.get("/help/sitemap.xml").await;
    assert_eq!(sitemap.status, 200);
    assert_eq!(sitemap.header("content-type"), Some("application/xml; charset=utf-8"));
    let xml = sitemap.text();
    assert!(xml.starts_with("<?xml") && xml.contains("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"));
    assert!(xml.contains(&format!("<loc>http://127.0.0.1:8080/help/articles/{}</loc>", shelf.public.slug)), "{xml}");
    assert!(xml.contains("/help/categories/printers</loc>"), "{xml}");
    assert!(!xml.contains(&shelf.customers.slug) && !xml.contains(&shelf.internal.slug), "{xml}");

    // A customer logged in to the portal also reads customers' articles, never internal ones.
    let mut customer = PageVisitor::new(&gw);
    customer.log_in(&world.colleague.contact.email, PASSWORD).await;
    let page = customer.get(&format!("/help/articles/{}", shelf.customers.slug)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Hold <strong>Menu</strong>") && page.text().contains("For customers"));
    let page = customer.get(&format!("/help/articles/{}", shelf.public.slug)).await;
    assert!(page.text().contains(&shelf.customers.title), "the related customers' article is listed: {}", page.text());
    assert!(!page.text().contains(&shelf.internal.title));
    assert_eq!(customer.get(&format!("/help/articles/{}", shelf.internal.slug)).await.status, 404);
    let results = customer.get("/help/search?q=printer").await;
    assert!(results.text().contains(&shelf.customers.title) && !results.text().contains(&shelf.internal.title));
    let sitemap = customer.get("/help/sitemap.xml").await;
    assert!(!sitemap.text().contains(&shelf.customers.slug), "the sitemap is the anonymous one for everyone");
    assert!(!shelf.category.id.is_empty());

    // The topics of the customer's help center include those of customers' articles.
    let accounts = create_category(&gw, "Customer accounts", "").await;
    publish_new(&gw.app, filed("Closing your account", pb::Audience::Customers, &accounts)).await;
    let home = customer.get("/help").await;
    assert_eq!(home.status, 200, "{}", home.text());
    assert!(home.text().contains("Customer accounts") && !home.text().contains("Vendor escalations"), "{}", home.text());
    let topic = customer.get("/help/categories/customer-accounts").await;
    assert!(topic.status == 200 && topic.text().contains("Closing your account"), "{}", topic.text());
    assert!(!anonymous.get("/help").await.text().contains("Customer accounts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_and_views_are_counted_and_bad_answers_change_nothing() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let shelf = shelf(&gw).await;
    let path = format!("/help/articles/{}", shelf.public.slug);
    let mut reader = PageVisitor::new(&gw);

    reader.get(&path).await;
    eventually("the view to be counted", async || {
        let views = read(&gw.app, &shelf.public.id).await.view_count;
        if views == 1 { Ok(()) } else { Err(format!("{views} views")) }
    })
    .await;

    let answered = reader.post_form(&format!("{path}/feedback"), &[("helpful", "yes"), ("comment", "Worked first time")]).await;
    assert_eq!(answered.status, 303, "{}", answered.text());
    assert_eq!(answered.header("location"), Some(format!("{path}?feedback=thanks#feedback").as_str()));
    let thanked = reader.get(&format!("{path}?feedback=thanks")).await;
    assert!(thanked.text().contains("Thank you"), "{}", thanked.text());
    let counted = read(&gw.app, &shelf.public.id).await;
    assert_eq!((counted.helpful_count, counted.not_helpful_count), (1, 0));
    // The same address reading again within the hour is not another view.
    assert_eq!(counted.view_count, 1);

    // Bad answers: a clear page, nothing counted.
    reader.get(&path).await;
    let maybe = reader.post_form(&format!("{path}/feedback"), &[("helpful", "maybe")]).await;
    assert_eq!(maybe.status, 400);
    assert!(maybe.text().contains("Choose “Yes” or “No”."), "{}", maybe.text());
    let long = "x".repeat(2_001);
    let too_long = reader.post_form(&format!("{path}/feedback"), &[("helpful", "no"), ("comment", &long)]).await;
    assert_eq!(too_long.status, 400, "{}", too_long.text());
    assert!(too_long.text().contains("2000") || too_long.text().contains("2,000"), "{}", too_long.text());
    let forged = reader.post_raw(&format!("{path}/feedback"), "application/x-www-form-urlencoded", b"helpful=no".to_vec()).await;
    assert_eq!(forged.status, 403, "no CSRF token: {}", forged.text());
    for hidden in [&shelf.internal.slug, &shelf.customers.slug] {
        let refused = reader.post_form(&format!("/help/articles/{hidden}/feedback"), &[("helpful", "no")]).await;
        assert_eq!(refused.status, 404, "{hidden}");
    }
    for article in [&shelf.public, &shelf.internal, &shelf.customers] {
        let counted = read(&gw.app, &article.id).await;
        let expected = if article.id == shelf.public.id { 1 } else { 0 };
        assert_eq!((counted.helpful_count, counted.not_helpful_count), (expected, 0), "{}", article.title);
    }

    // Ten answers a minute from one address; the rest are refused with the text kept.
    let mut accepted = 1;
    let mut limited = None;
    for _ in 0..12 {
        reader.get(&path).await;
        let answer = reader.post_form(&format!("{path}/feedback"), &[("helpful", "no"), ("comment", "kept text")]).await;
        match answer.status {
            303 => accepted += 1,
            429 => {
                limited = Some(answer);
                break;
            }
            other => panic!("{other}: {}", answer.text()),
        }
    }
    let limited = limited.expect("the eleventh answer in a minute is refused");
    assert!(limited.text().contains("kept text"), "{}", limited.text());
    let counted = read(&gw.app, &shelf.public.id).await;
    assert_eq!(counted.helpful_count + counted.not_helpful_count, accepted);

    // Archived: the address answers "archived", not 404, and takes no answers.
    let current = read(&gw.app, &shelf.public.id).await;
    let step = pb::ArticleTransitionRequest { id: current.id.clone(), etag: current.etag.clone(), comment: String::new() };
    gw.app.articles(AGENT).archive_article(step).await.unwrap();
    let archived = reader.get(&path).await;
    assert_eq!(archived.status, 410, "{}", archived.text());
    assert!(archived.text().contains("archived") && archived.text().contains(&shelf.public.title));
    assert!(!archived.text().contains("<strong>front</strong>"), "an archived page shows its title, not its text");
    let late = reader.post_form(&format!("{path}/feedback"), &[("helpful", "yes")]).await;
    assert_eq!(late.status, 410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_download_only_where_their_article_may_be_read() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let shelf = shelf(&gw).await;
    let world = world(&gw.app).await;
    let mut agent = gw.app.attachments(AGENT);
    let upload = |article: &pb::Article, name: &str, content: &[u8]| pb::UploadAttachmentRequest {
        article_id: article.id.clone(),
        file_name: name.into(),
        content: content.to_vec(),
    };
    let image = agent.upload_attachment(upload(&shelf.public, "jam.png", PNG)).await.unwrap().into_inner();
    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
    let manual = agent.upload_attachment(upload(&shelf.public, "Handbuch März.pdf", pdf)).await.unwrap().into_inner();
    let secret = agent.upload_attachment(upload(&shelf.internal, "hotline.txt", b"call 0800 111")).await.unwrap().into_inner();
    let members = agent.upload_attachment(upload(&shelf.customers, "menu.png", PNG)).await.unwrap().into_inner();

    let mut anonymous = PageVisitor::new(&gw);
    let shown = anonymous.get(&format!("/help/files/{}", image.id)).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body.as_slice(), PNG);
    assert_eq!(shown.header("content-type"), Some("image/png"));
    assert_eq!(shown.header("content-disposition"), Some("inline; filename=\"jam.png\"; filename*=UTF-8''jam.png"));
    assert_eq!(shown.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(shown.header("content-security-policy"), Some("default-src 'none'; sandbox"));

    let download = anonymous.get(&format!("/help/files/{}", manual.id)).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-type"), Some("application/pdf"));
    assert_eq!(
        download.header("content-disposition"),
        Some("attachment; filename=\"Handbuch M_rz.pdf\"; filename*=UTF-8''Handbuch%20M%C3%A4rz.pdf")
    );

    for (hidden, why) in [(&secret.id, "internal"), (&members.id, "customers only")] {
        let refused = anonymous.get(&format!("/help/files/{hidden}")).await;
        assert_eq!(refused.status, 404, "{why}");
        assert!(!refused.text().contains("0800"));
    }
    for bad in ["not-a-uuid", "..%2F..%2Fetc%2Fpasswd", "0195f0a0-0000-7000-8000-000000000000"] {
        assert_eq!(anonymous.get(&format!("/help/files/{bad}")).await.status, 404, "{bad}");
    }

    let mut customer = PageVisitor::new(&gw);
    customer.log_in(&world.outsider.contact.email, PASSWORD).await;
    let read_by_customer = customer.get(&format!("/help/files/{}", members.id)).await;
    assert_eq!(read_by_customer.status, 200);
    assert_eq!(customer.get(&format!("/help/files/{}", secret.id)).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_search_is_explained_and_the_help_center_is_never_empty_handed() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let mut anonymous = PageVisitor::new(&gw);
    let empty = anonymous.get("/help").await;
    assert_eq!(empty.status, 200);
    assert!(empty.text().contains("No topics yet.") && empty.text().contains("No articles here yet."), "{}", empty.text());
    let form = anonymous.get("/help/search").await;
    assert_eq!(form.status, 200);
    assert!(form.text().contains("<label for=\"q\">Search the help center</label>"));

    let long = "a".repeat(300);
    let too_long = anonymous.get(&format!("/help/search?q={long}")).await;
    assert_eq!(too_long.status, 400, "{}", too_long.text());
    assert!(too_long.text().contains("role=\"alert\""), "{}", too_long.text());
    let punctuation = anonymous.get("/help/search?q=%22%22%20-").await;
    assert_eq!(punctuation.status, 400, "{}", punctuation.text());
    assert!(punctuation.text().contains("no word to look for"), "{}", punctuation.text());
    let not_utf8 = anonymous.get("/help/search?q=%FF%FE").await;
    assert_eq!(not_utf8.status, 400, "{}", not_utf8.text());
    let markup = anonymous.get("/help/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert!(!markup.text().contains("<script>alert(1)"), "the query is escaped: {}", markup.text());
}

/// The deflection statistics of the portal over the last and next day, summed.
async fn portal_deflection(gw: &GatewayApp) -> (i64, i64, i64, i64) {
    deflection_of(gw, "portal").await
}

/// The deflection statistics of `source` over the last and next day, summed.
async fn deflection_of(gw: &GatewayApp, source: &str) -> (i64, i64, i64, i64) {
    let now = chrono::Utc::now();
    let request = pb::GetDeflectionStatsRequest {
        start_time: Some(docket_kit::time::to_proto(now - chrono::Duration::days(1))),
        end_time: Some(docket_kit::time::to_proto(now + chrono::Duration::days(1))),
        period: "day".into(),
        source: source.into(),
    };
    let stats = gw.app.deflection(ADMIN).get_deflection_stats(request).await.unwrap().into_inner();
    stats.periods.iter().fold((0, 0, 0, 0), |sum, p| {
        (
            sum.0 + p.sessions_with_suggestions,
            sum.1 + p.articles_opened,
            sum.2 + p.solved_without_case,
            sum.3 + p.cases_opened_anyway,
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_while_describing_a_problem_answer_it_and_are_counted() {
    let gw = GatewayApp::spawn(Backend::Postgres).await;
    let shelf = shelf(&gw).await;
    let world = world(&gw.app).await;
    let mut customer = PageVisitor::new(&gw);
    customer.log_in(&world.colleague.contact.email, PASSWORD).await;

    // Without JavaScript: "search first", then the article, then "solved".
    let form = customer.get("/portal/cases/new").await;
    assert_eq!(form.status, 200);
    assert!(form.text().contains("<label for=\"problem\">") && form.text().contains("src=\"/static/deflect.js\""));
    let visit = hidden_value(&form.text(), "ds").expect("the page starts a visit");
    let searched = customer.get(&format!("/portal/cases/new?subject=printer&ds={visit}")).await;
    assert_eq!(searched.status, 200);
    let html = searched.text();
    let link = format!("/help/articles/{}?ds={visit}&#38;from=portal", shelf.public.slug);
    assert!(html.contains(&link), "the suggestion carries the visit: {html}");
    assert!(html.contains(&shelf.customers.title), "a customer is offered customers' articles too: {html}");
    assert!(!html.contains(&shelf.internal.title), "{html}");
    assert!(html.contains("value=\"printer\" data-suggest-source"), "the subject is filled in: {html}");
    let article = customer.get(&link.replace("&#38;", "&")).await;
    assert_eq!(article.status, 200);
    assert!(article.text().contains("Did this solve your problem?"), "{}", article.text());
    let solved =
        customer.post_form(&format!("/help/articles/{}/solved", shelf.public.slug), &[("ds", &visit), ("from", "portal")]).await;
    assert_eq!(solved.status, 200, "{}", solved.text());
    assert!(solved.text().contains("no case was opened"), "{}", solved.text());

    // Another visit: suggestions seen, a case opened anyway.
    let form = customer.get("/portal/cases/new?subject=printer").await;
    let second = hidden_value(&form.text(), "ds").expect("a visit");
    assert_ne!(second, visit);
    let key = hidden_value(&form.text(), "idempotency_key").expect("an idempotency key");
    let fields = [
        ("subject", "Printer still jams"),
        ("description", "The article did not help."),
        ("type_id", "technical_issue"),
        ("priority", "medium"),
        ("idempotency_key", key.as_str()),
        ("ds", second.as_str()),
    ];
    let created = customer.post_form("/portal/cases", &fields).await;
    assert_eq!(created.status, 303, "{}", created.text());

    // A visit that saw nothing opens no suggestions count.
    let form = customer.get("/portal/cases/new?subject=quantum%20entanglement").await;
    assert!(form.text().contains("No article matches this yet."), "{}", form.text());

    eventually("the portal's deflection to be counted", async || {
        let counted = portal_deflection(&gw).await;
        if counted == (2, 1, 1, 1) { Ok(()) } else { Err(format!("{counted:?}")) }
    })
    .await;

    // A bad "solved": no visit, or no CSRF token; nothing more is counted.
    let article = customer.get(&format!("/help/articles/{}", shelf.public.slug)).await;
    assert!(!article.text().contains("Did this solve your problem?"), "not opened from suggestions");
    let solved_path = format!("/help/articles/{}/solved", shelf.public.slug);
    let no_visit = customer.post_form(&solved_path, &[("ds", "<b>"), ("from", "portal")]).await;
    assert_eq!(no_visit.status, 400, "{}", no_visit.text());
    let forged = customer
        .post_raw(&solved_path, "application/x-www-form-urlencoded", format!("ds={visit}x&from=portal").into_bytes())
        .await;
    assert_eq!(forged.status, 403);
    let hidden = customer
        .post_form(&format!("/help/articles/{}/solved", shelf.internal.slug), &[("ds", &visit), ("from", "portal")])
        .await;
    assert_eq!(hidden.status, 404);
    assert_eq!(portal_deflection(&gw).await, (2, 1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_suggestions_answer_as_json_and_refuse_bad_queries() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let shelf = shelf(&gw).await;
    let mut anonymous = PageVisitor::new(&gw);
    let answer = anonymous.get("/help/suggest?q=printer%20jam&ds=visit-0001&from=portal").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let body = answer.json();
    let articles = body["articles"].as_array().unwrap();
    assert_eq!(articles.len(), 1, "an anonymous visitor gets the public article only: {body}");
    assert_eq!(articles[0]["title"], shelf.public.title);
    assert_eq!(articles[0]["url"], format!("/help/articles/{}?ds=visit-0001&from=portal", shelf.public.slug));
    let snippet = articles[0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("jam") && !snippet.contains("<mark>"), "plain text for the script: {snippet}");
    // Nothing to search for (nothing, or bytes that are not text) suggests nothing.
    for nothing in ["", "%FF%FE", "%22%22"] {
        let answer = anonymous.get(&format!("/help/suggest?q={nothing}&ds=visit-0001&from=portal")).await;
        assert_eq!(answer.json(), serde_json::json!({"articles": []}), "{nothing}");
    }

    let long = "a".repeat(201);
    for bad in [
        "/help/suggest?q=printer".to_owned(),
        "/help/suggest?q=printer&ds=short&from=portal".to_owned(),
        "/help/suggest?q=printer&ds=visit-0001&from=..%2Fadmin".to_owned(),
        format!("/help/suggest?q={long}&ds=visit-0001&from=portal"),
    ] {
        let refused = anonymous.get(&bad).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text());
        assert_eq!(refused.header("content-type"), Some("application/problem+json"), "{bad}");
    }
    let script = anonymous.get("/static/deflect.js").await;
    assert_eq!(script.status, 200);
    assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(script.text().contains("textContent") && !script.text().contains("innerHTML"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_form_suggests_articles_first_and_counts_a_case_sent_anyway() {
    let gw = GatewayApp::spawn(Backend::Sqlite).await;
    let shelf = shelf(&gw).await;
    let form = crate::web_forms::support_form(&gw).await;
    let path = format!("/f/{}", form.slug);
    let page = gw.send(http::Method::GET, &path, None, &[], None).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("<label for=\"docket-search\">") && html.contains("src=\"/static/deflect.js\""), "{html}");
    assert!(html.contains(&format!("data-suggest-source=\"{}\"", form.slug)), "the subject field is followed: {html}");
    let visit = hidden_value(&html, "docket-visit").expect("the form starts a visit");
    // Embedded on an allowed site, the step keeps the site (its submission remembers it); another site is dropped.
    let embedded = gw.send(http::Method::GET, &format!("{path}?origin=https%3A%2F%2Fshop.example.com"), None, &[], None).await;
    assert_eq!(hidden_value(&embedded.text(), "origin").as_deref(), Some("https://shop.example.com"));
    let elsewhere = gw.send(http::Method::GET, &format!("{path}?origin=https%3A%2F%2Fevil.example"), None, &[], None).await;
    assert_eq!(hidden_value(&elsewhere.text(), "origin"), None);

    // Without JavaScript: "search first" finds the public article only, in a new tab, and fills in the subject.
    let searched = gw.send(http::Method::GET, &format!("{path}?q=printer&ds={visit}"), None, &[], None).await;
    let html = searched.text();
    let link = format!("/help/articles/{}?ds={visit}&#38;from={}", shelf.public.slug, form.slug);
    assert!(html.contains(&format!("<a href=\"{link}\" target=\"_blank\" rel=\"noopener\">")), "{html}");
    assert!(!html.contains(&shelf.customers.title) && !html.contains(&shelf.internal.title), "{html}");
    assert!(html.contains("value=\"printer\" data-suggest-source"), "{html}");
    assert_eq!(hidden_value(&html, "docket-visit").as_deref(), Some(visit.as_str()), "the same visit goes on");
    // The article offers the form again, for the same visit.
    let article = gw.send(http::Method::GET, &link.replace("&#38;", "&"), None, &[], None).await;
    assert!(
        article.text().contains(&format!("href=\"/f/{}?ds={visit}&#38;from={}\"", form.slug, form.slug)),
        "{}",
        article.text()
    );

    // The form sent anyway: a case, counted as opened after suggestions.
    let token = hidden_value(&html, "docket-token").expect("a form token");
    let fields = [
        ("docket-token", token.as_str()),
        ("docket-website", ""),
        ("docket-visit", visit.as_str()),
        ("name", "Petra Schmidt"),
        ("email", "petra.deflection@visitor.example"),
        ("subject", "Printer still jams"),
        ("device", "Printer"),
        ("details", "The article did not help."),
    ];
    let body = Some(("application/x-www-form-urlencoded", crate::common::gateway::form_body(&fields)));
    let sent = gw.send(http::Method::POST, &path, None, &[], body).await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    eventually("the form's deflection to be counted", async || {
        let counted = deflection_of(&gw, &form.slug).await;
        if counted == (1, 1, 0, 1) { Ok(()) } else { Err(format!("{counted:?}")) }
    })
    .await;
    assert_eq!(portal_deflection(&gw).await, (0, 0, 0, 0), "each source counts its own");
}
