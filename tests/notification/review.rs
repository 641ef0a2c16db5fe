//! Email out to staff: a knowledge-base article submitted for review
//! reaches every active admin of the staff directory except its author.

use std::time::Duration;

use docket_kit::{auth::Role, settings::TokenSettings};
use docket_proto::{case::v1 as pb, knowledge::v1 as kb, notification::v1 as nb};

use crate::{
    common::{ADMIN, AGENT, Backend, TestApp, VIEWER, smtp::SmtpSink},
    fixtures::{mask, unique},
};

/// An admin's token naming the author's staff user (its actor is `staff:<id>`).
const AUTHOR: &str = "test-author-token-0000";

async fn staff(app: &TestApp, name: &str, role: pb::StaffRole) -> pb::StaffUser {
    app.staff(ADMIN)
        .create_staff_user(pb::CreateStaffUserRequest {
            staff_user: Some(pb::StaffUser {
                name: name.to_owned(),
                email: format!("{}@staff.example", unique(&name.to_lowercase().replace(' ', "."))),
                role: role as i32,
                ..Default::default()
            }),
            idempotency_key: String::new(),
        })
        .await
        .expect("create staff user")
        .into_inner()
}

async fn deactivate(app: &TestApp, user: &pb::StaffUser) {
    app.staff(ADMIN)
        .update_staff_user(pb::UpdateStaffUserRequest {
            staff_user: Some(pb::StaffUser { id: user.id.clone(), etag: user.etag.clone(), active: false, ..Default::default() }),
            update_mask: mask(&["active"]),
            reason: "left the company".into(),
        })
        .await
        .expect("deactivate");
}

fn draft(title: &str, owner_id: &str) -> kb::CreateArticleRequest {
    kb::CreateArticleRequest {
        article: Some(kb::Article {
            title: title.into(),
            summary: "When the label printer stops with E-13.".into(),
            body_markdown: "Open the **front** cover and pull the sheet out.".into(),
            audience: kb::Audience::Customers as i32,
            owner_id: owner_id.into(),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    }
}

fn submit(article: &kb::Article, comment: &str) -> kb::ArticleTransitionRequest {
    kb::ArticleTransitionRequest { id: article.id.clone(), etag: article.etag.clone(), comment: comment.into() }
}

async fn deliveries_of(app: &TestApp, event_type: &str) -> Vec<nb::Delivery> {
    let log =
        app.notifications(VIEWER).list_deliveries(nb::ListDeliveriesRequest::default()).await.unwrap().into_inner().deliveries;
    log.into_iter().filter(|d| d.event_type == event_type).collect()
}

fn sorted(mut addresses: Vec<String>) -> Vec<String> {
    addresses.sort();
    addresses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_awaiting_review_emails_every_active_admin_but_its_author() {
    let sink = SmtpSink::start().await;
    // The directory gives staff users their ids, and a token names its staff
    // user when the server starts: fill the directory, then restart on the
    // same database with the author's token, as an operator would.
    let mut setup = TestApp::spawn_with(Backend::Postgres, |settings| sink.receive_from(settings)).await;
    let author = staff(&setup, "Ada Author", pb::StaffRole::Admin).await;
    let ben = staff(&setup, "Ben Boss", pb::StaffRole::Admin).await;
    let cleo = staff(&setup, "Cleo Chief", pb::StaffRole::Admin).await;
    staff(&setup, "Alex Agent", pb::StaffRole::Agent).await;
    let gone = staff(&setup, "Gina Gone", pb::StaffRole::Admin).await;
    deactivate(&setup, &gone).await;
    setup.stop().await;
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        settings.database.schema_prefix = setup.settings.database.schema_prefix.clone();
        sink.receive_from(settings);
        let token = TokenSettings {
            token: AUTHOR.to_owned(),
            role: Role::Admin,
            staff_id: Some(author.id.clone()),
            acts_for_contacts: false,
        };
        settings.auth.tokens.insert("author".to_owned(), token);
    })
    .await;

    let mut articles = app.articles(AUTHOR);
    let article = articles.create_article(draft("Label printer error E-13", "")).await.unwrap().into_inner();
    assert_eq!(article.owner_id, author.id, "the author's token owns what it writes");
    let submitted =
        articles.submit_article_for_review(submit(&article, "Please check the second step.")).await.unwrap().into_inner();
    assert_eq!(submitted.state(), kb::ArticleState::InReview);

    sink.wait_for(2, Duration::from_secs(20)).await;
    app.wait_until_mail_settled().await;
    let emails = sink.received();
    assert_eq!(
        emails.len(),
        2,
        "one email per active admin but the author: {:?}",
        emails.iter().map(|e| &e.rcpt_to).collect::<Vec<_>>()
    );
    assert_eq!(
        sorted(emails.iter().flat_map(|e| e.rcpt_to.clone()).collect()),
        sorted(vec![ben.email.to_lowercase(), cleo.email.to_lowercase()]),
        "not the author, the agent or the inactive admin"
    );
    for email in &emails {
        assert_eq!(email.subject(), "Article awaiting review: Label printer error E-13");
        let body = email.body();
        for expected in [
            "Ada Author submitted",
            "When the label printer stops with E-13.",
            "Please check the second step.",
            article.id.as_str(),
            article.slug.as_str(),
            "PublishArticle",
        ] {
            assert!(body.contains(expected), "{expected:?} in {body}");
        }
        // Not about a case: no case thread.
        assert_eq!(email.header("References"), None);
    }
    let log = deliveries_of(&app, "article.submitted_for_review").await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d.recipient_kind == "reviewer" && d.case_id.is_empty()), "{log:?}");
    assert!(log.iter().all(|d| d.status == nb::DeliveryStatus::Sent as i32), "{log:?}");
    drop(app);
    drop(setup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_only_its_owner_could_review_emails_nobody_until_another_admin_joins() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let olga = staff(&app, "Olga Owner", pb::StaffRole::Admin).await;
    staff(&app, "Alex Agent", pb::StaffRole::Agent).await;
    // An agent's token names no staff user: the article's owner is its author.
    let mut agent = app.articles(AGENT);
    let article = agent.create_article(draft("Scanner shows a blank page", &olga.id)).await.unwrap().into_inner();
    let submitted = agent.submit_article_for_review(submit(&article, "")).await.unwrap().into_inner();

    // Handled (not dead-lettered, or the wait would not end) and nothing sent.
    app.wait_until_mail_settled().await;
    assert!(deliveries_of(&app, "article.submitted_for_review").await.is_empty());
    let mailbox = app.dir.path().join("mailbox");
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&mailbox).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default()
    };
    assert!(files().is_empty(), "nobody to ask: {:?}", files());

    // Sent back, a new admin joins, submitted again: the new admin is asked.
    let nils = staff(&app, "Nils New", pb::StaffRole::Admin).await;
    let back = app.articles(ADMIN).reject_article(submit(&submitted, "Add a picture.")).await.unwrap().into_inner();
    agent.submit_article_for_review(submit(&back, "Picture added.")).await.unwrap();
    app.wait_until_mail_settled().await;
    let log = deliveries_of(&app, "article.submitted_for_review").await;
    assert_eq!(log.iter().map(|d| d.recipient.as_str()).collect::<Vec<_>>(), [nils.email.to_lowercase()]);
    let files = files();
    assert_eq!(files.len(), 1, "one .eml in {}", mailbox.display());
    let raw = std::fs::read(&files[0]).unwrap();
    let email = mail_parser::MessageParser::default().parse(&raw).expect("a parseable email");
    assert_eq!(email.subject(), Some("Article awaiting review: Scanner shows a blank page"));
    let body = email.body_text(0).unwrap_or_default();
    assert!(body.contains("Picture added.") && body.contains("agent:agent submitted"), "{body}");
}
