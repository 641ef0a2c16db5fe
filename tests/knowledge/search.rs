//! `SearchArticles`: what readers find, on PostgreSQL (tsvector, pg_trgm)
//! and SQLite (FTS5) alike: ranked, words stemmed, accents and typos
//! forgiven, web-search syntax, highlighted and escaped snippets, pages
//! past the first ranking tier, never an article the reader may not read;
//! and the search rows of an older format rewritten.

use docket_proto::knowledge::v1 as pb;
use tonic::Code;

use crate::{
    common::{ADMIN, PORTAL, SERVICE, TestApp, VIEWER, assert_field_error},
    on_both_backends,
    support::{as_customer, publish_new, titled},
};

async fn publish(app: &TestApp, title: &str, body: &str, tags: &[&str], audience: pb::Audience, locale: &str) -> pb::Article {
    let article = pb::Article {
        body_markdown: body.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        locale: locale.into(),
        ..titled(title, audience)
    };
    publish_new(app, article).await
}

fn query(text: &str) -> pb::SearchArticlesRequest {
    pb::SearchArticlesRequest { query: text.into(), ..Default::default() }
}

async fn titles(app: &TestApp, token: &str, request: pb::SearchArticlesRequest) -> Vec<String> {
    let found = app.articles(token).search_articles(request).await.unwrap().into_inner();
    found.hits.into_iter().map(|hit| hit.title).collect()
}

/// The help center of these tests: two public printer articles, a French
/// one for customers, an internal runbook and an archived guide.
async fn help_center(app: &TestApp) -> Vec<pb::Article> {
    let public = pb::Audience::Public;
    let e13 = publish(
        app,
        "Printer shows error E-13",
        "A sheet is stuck in tray 2. Open the front cover and pull the paper jam out slowly. \
         Do not touch <img src=x onerror=alert(1)> the fuser.",
        &["printer", "paper jam"],
        public,
        "en",
    )
    .await;
    let toner = publish(
        app,
        "Toner cartridge replacement",
        "Your printer asks for new toner when prints fade.",
        &["toner"],
        public,
        "en",
    )
    .await;
    let reset = publish(
        app,
        "Réinitialiser le mot de passe",
        "Ouvrez la page de connexion et choisissez « Mot de passe oublié ».",
        &["compte"],
        pb::Audience::Customers,
        "fr",
    )
    .await;
    let runbook = publish(
        app,
        "Internal escalation runbook",
        "When a printer fleet fails, call the vendor.",
        &[],
        pb::Audience::Internal,
        "en",
    )
    .await;
    let old = publish(app, "Old printer guide", "Superseded printer advice.", &[], public, "en").await;
    let archived = pb::ArticleTransitionRequest { id: old.id.clone(), etag: old.etag.clone(), comment: String::new() };
    app.articles(ADMIN).archive_article(archived).await.unwrap();
    vec![e13, toner, reset, runbook]
}

async fn readers_find_ranked_articles_of_their_audience_with_highlights(app: TestApp) {
    let articles = help_center(&app).await;

    // The article named after the problem first; the internal runbook and the archived guide never.
    assert_eq!(titles(&app, SERVICE, query("printer")).await, ["Printer shows error E-13", "Toner cartridge replacement"]);
    let staff = titles(&app, VIEWER, query("printer")).await;
    assert_eq!(staff.len(), 3, "staff also find the runbook: {staff:?}");
    assert!(!staff.contains(&"Old printer guide".to_owned()));

    let found = app.articles(SERVICE).search_articles(query("paper jam")).await.unwrap().into_inner();
    let hit = &found.hits[0];
    assert_eq!((hit.slug.as_str(), hit.audience()), ("printer-shows-error-e-13", pb::Audience::Public));
    assert!(hit.snippet.contains("<mark>paper</mark>") && hit.snippet.contains("<mark>jam</mark>"), "{}", hit.snippet);
    assert!(!hit.snippet.contains("<img"), "the snippet is escaped: {}", hit.snippet);
    assert!(hit.rank > 0.0);

    // Accents either way; the customers' audience only for customers.
    assert!(titles(&app, SERVICE, query("reinitialiser")).await.is_empty());
    for typed in ["reinitialiser", "RÉINITIALISER mot de passe"] {
        let found = app.articles(PORTAL).search_articles(as_customer(query(typed))).await.unwrap().into_inner();
        let titles: Vec<&str> = found.hits.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(titles, ["Réinitialiser le mot de passe"], "{typed}");
    }

    // Web-search syntax.
    assert_eq!(titles(&app, SERVICE, query("\"paper jam\"")).await, ["Printer shows error E-13"]);
    assert!(titles(&app, SERVICE, query("\"jam paper\"")).await.is_empty(), "a phrase keeps its order");
    assert_eq!(titles(&app, SERVICE, query("printer -toner")).await, ["Printer shows error E-13"]);
    let either = titles(&app, VIEWER, query("cartridge or vendor")).await;
    assert_eq!(either.len(), 2, "{either:?}");
    assert_eq!(titles(&app, SERVICE, query("e-13")).await, ["Printer shows error E-13"]);

    // Filters narrow, never widen: a reader asking for internal articles gets none.
    let internal = pb::SearchArticlesRequest { audience: pb::Audience::Internal as i32, ..query("printer") };
    assert!(titles(&app, SERVICE, internal.clone()).await.is_empty());
    assert_eq!(titles(&app, VIEWER, internal).await, ["Internal escalation runbook"]);
    let tagged = pb::SearchArticlesRequest { tag: "Toner".into(), ..query("printer") };
    assert_eq!(titles(&app, SERVICE, tagged).await, ["Toner cartridge replacement"]);
    let french = pb::SearchArticlesRequest { locale: "fr".into(), ..query("printer") };
    assert!(titles(&app, VIEWER, french).await.is_empty());

    // Pages.
    let first =
        app.articles(SERVICE).search_articles(pb::SearchArticlesRequest { page_size: 1, ..query("printer") }).await.unwrap();
    let first = first.into_inner();
    assert_eq!(first.hits.len(), 1);
    let second = pb::SearchArticlesRequest { page_size: 1, page_token: first.next_page_token.clone(), ..query("printer") };
    let second = app.articles(SERVICE).search_articles(second).await.unwrap().into_inner();
    assert_eq!(second.hits[0].title, "Toner cartridge replacement");
    assert!(second.next_page_token.is_empty());

    // Who may find an article changes with it, before the next publish.
    let e13 = &articles[0];
    let current = app
        .articles(ADMIN)
        .get_article(pb::GetArticleRequest {
            lookup: Some(pb::get_article_request::Lookup::Id(e13.id.clone())),
            include_draft: true,
        })
        .await
        .unwrap()
        .into_inner();
    app.articles(ADMIN)
        .update_article(pb::UpdateArticleRequest {
            article: Some(pb::Article { audience: pb::Audience::Internal as i32, ..current }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["audience".into()] }),
            reason: "only for staff now".into(),
        })
        .await
        .unwrap();
    assert_eq!(titles(&app, SERVICE, query("printer")).await, ["Toner cartridge replacement"]);
}

async fn a_typo_finds_the_title_it_meant(app: TestApp) {
    help_center(&app).await;
    let found = app.articles(SERVICE).search_articles(query("pritner eror")).await.unwrap().into_inner();
    let titles_found: Vec<&str> = found.hits.iter().map(|h| h.title.as_str()).collect();
    assert_eq!(titles_found, ["Printer shows error E-13"]);
    assert_eq!(found.corrected_query, "printer error", "the reader is told what was searched for instead");
    assert_eq!(titles(&app, SERVICE, query("cartrige")).await, ["Toner cartridge replacement"]);
    // Words of the text are known too, and the corrected word is highlighted.
    let found = app.articles(SERVICE).search_articles(query("fusr")).await.unwrap().into_inner();
    assert_eq!(found.hits.len(), 1, "{found:?}");
    assert!(found.hits[0].snippet.contains("<mark>fuser</mark>"), "{}", found.hits[0].snippet);
    // A correction never reaches past the reader's audience, nor invents a match.
    assert!(titles(&app, SERVICE, query("runbok")).await.is_empty(), "not the internal runbook");
    assert_eq!(titles(&app, VIEWER, query("runbok")).await, ["Internal escalation runbook"]);
    let customer = app.articles(PORTAL).search_articles(as_customer(query("reinitialisr"))).await.unwrap().into_inner();
    assert_eq!(customer.corrected_query, "reinitialiser", "a customer's typo, to a word of the customers' audience");
    let anonymous = app.articles(SERVICE).search_articles(query("reinitialisr")).await.unwrap().into_inner();
    assert!(anonymous.hits.is_empty() && anonymous.corrected_query.is_empty(), "{anonymous:?}");
    assert!(titles(&app, SERVICE, query("holiday")).await.is_empty());
    assert!(titles(&app, SERVICE, query("\"jam paper\"")).await.is_empty(), "known words in another order are no typo");
}

async fn words_are_found_in_their_other_forms_in_each_language(app: TestApp) {
    help_center(&app).await;
    let german = publish(
        &app,
        "Drucker meldet Papierstau",
        "Öffnen Sie die Klappe des Druckers und entfernen Sie das Papier.",
        &[],
        pb::Audience::Public,
        "de",
    )
    .await;
    // Plurals and verb forms (English, the articles' language).
    assert_eq!(titles(&app, SERVICE, query("printers")).await, ["Printer shows error E-13", "Toner cartridge replacement"]);
    assert_eq!(titles(&app, SERVICE, query("fades")).await, ["Toner cartridge replacement"]);
    // German words in their German forms; an excluded word stays excluded
    // in every language (the English article stems "toner" otherwise than
    // a German reading would).
    assert_eq!(titles(&app, SERVICE, query("Druckers")).await, [german.title.as_str()]);
    assert_eq!(titles(&app, SERVICE, query("klappen drucker")).await, [german.title.as_str()]);
    assert_eq!(titles(&app, SERVICE, query("printer -toner")).await, ["Printer shows error E-13"]);
    let found = app.articles(SERVICE).search_articles(query("drucker")).await.unwrap().into_inner();
    assert!(found.hits[0].snippet.contains("<mark>Druckers</mark>"), "{}", found.hits[0].snippet);
}

/// More matches than one ranking tier (`CANDIDATES`, 60 on PostgreSQL):
/// every page is cut from one
/// order, so paging through finds each article once, those named after
/// the query first.
async fn pages_reach_past_the_first_ranking_tier(app: TestApp) {
    let public = pb::Audience::Public;
    let mut named = Vec::new();
    for n in 0..110 {
        let (title, body) = if n % 10 == 0 {
            (format!("Router firmware update {n}"), "Download it from the vendor.".to_owned())
        } else {
            (format!("Network note {n}"), format!("Restart the router after step {n}."))
        };
        let article = publish(&app, &title, &body, &[], public, "en").await;
        if n % 10 == 0 {
            named.push(article.title);
        }
    }
    let mut seen: Vec<String> = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::SearchArticlesRequest { page_size: 30, page_token: token.clone(), ..query("router") };
        let found = app.articles(SERVICE).search_articles(request).await.unwrap().into_inner();
        assert!(found.hits.len() <= 30);
        seen.extend(found.hits.into_iter().map(|hit| hit.title));
        if found.next_page_token.is_empty() {
            break;
        }
        token = found.next_page_token;
    }
    assert_eq!(seen.len(), 110, "each article once: {seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 110, "no article twice");
    let mut first: Vec<String> = seen[..named.len()].to_vec();
    first.sort();
    named.sort();
    assert_eq!(first, named, "articles named after the query come first");
}

/// An upgrade that indexes differently (here: the migration that indexes
/// by language undone and done again, which leaves the search empty) is
/// caught up by the service's rewrite of stale rows, as it does when it
/// starts.
async fn stale_search_rows_are_rewritten(app: TestApp) {
    help_center(&app).await;
    let db = docket_kit::db::connect(&app.settings.database, "knowledge").await.unwrap();
    crate::common::migrate_down_through(&db, "knowledge", "m20261205_000001_search_by_language").await;
    docket_migrations::up(&db, "knowledge").await.unwrap();
    assert!(titles(&app, VIEWER, query("printer")).await.is_empty(), "the search starts empty");

    let store = docket_knowledge::store::Store::new(db.clone());
    assert_eq!(store.reindex_stale().await.unwrap(), 4, "the live articles; not the archived one");
    assert_eq!(titles(&app, VIEWER, query("printer")).await.len(), 3);
    assert_eq!(titles(&app, SERVICE, query("pritner eror")).await, ["Printer shows error E-13"], "and the vocabulary");
    assert_eq!(store.reindex_stale().await.unwrap(), 0, "nothing is stale any more");
}

async fn bad_searches_are_refused(app: TestApp) {
    let mut reader = app.articles(SERVICE);
    for (request, field) in [
        (query(""), "query"),
        (query("-toner"), "query"),
        (query("!!!"), "query"),
        (query(&"printer ".repeat(30)), "query"),
        (pb::SearchArticlesRequest { page_token: "nonsense".into(), ..query("printer") }, "page_token"),
        (pb::SearchArticlesRequest { page_size: -1, ..query("printer") }, "page_size"),
        (pb::SearchArticlesRequest { category_id: "nope".into(), ..query("printer") }, "category_id"),
        (pb::SearchArticlesRequest { audience: 42, ..query("printer") }, "audience"),
        (pb::SearchArticlesRequest { locale: "english".into(), ..query("printer") }, "locale"),
        // Found by schemathesis: a NUL byte reached PostgreSQL, which refuses it in text.
        (pb::SearchArticlesRequest { locale: "en\0".into(), ..query("printer") }, "locale"),
    ] {
        let refused = reader.search_articles(request.clone()).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let anonymous = app.articles("").search_articles(query("printer")).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

on_both_backends!(
    readers_find_ranked_articles_of_their_audience_with_highlights,
    a_typo_finds_the_title_it_meant,
    words_are_found_in_their_other_forms_in_each_language,
    pages_reach_past_the_first_ranking_tier,
    stale_search_rows_are_rewritten,
    bad_searches_are_refused
);
