//! `ArticleService`: an article is written, reviewed by someone else,
//! published as a frozen version, edited beside its live version and
//! archived; readers see only what their audience allows, and leave views
//! and "did this help?" answers behind.

use docket_kit::auth::Role;
use docket_proto::knowledge::v1::{self as pb, get_article_request::Lookup};
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, Backend, PORTAL, SERVICE, TestApp, VIEWER, assert_field_error, field_violations},
    fixtures::mask,
    on_both_backends,
    support::as_customer,
};

/// A second agent: the reviewer of what [`AGENT`] writes.
const REVIEWER: &str = "test-reviewer-token-00";

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        let reviewer = docket_kit::settings::TokenSettings {
            token: REVIEWER.to_owned(),
            role: Role::Agent,
            staff_id: None,
            acts_for_contacts: false,
        };
        settings.auth.tokens.insert("reviewer".to_owned(), reviewer);
    })
    .await
}

fn draft(title: &str, audience: pb::Audience) -> pb::CreateArticleRequest {
    pb::CreateArticleRequest {
        article: Some(pb::Article {
            title: title.into(),
            summary: "When the printer stops with E-13.".into(),
            body_markdown: "Open the **front** cover.\n\nPull the sheet out.<script>alert(1)</script>".into(),
            tags: vec![" Paper Jam ".into(), "printer".into()],
            audience: audience as i32,
            ..Default::default()
        }),
        idempotency_key: String::new(),
    }
}

fn step(article: &pb::Article, comment: &str) -> pb::ArticleTransitionRequest {
    pb::ArticleTransitionRequest { id: article.id.clone(), etag: article.etag.clone(), comment: comment.into() }
}

fn publish(article: &pb::Article) -> pb::PublishArticleRequest {
    pb::PublishArticleRequest { id: article.id.clone(), etag: article.etag.clone(), publish_time: None, comment: String::new() }
}

fn by_slug(slug: &str, include_draft: bool) -> pb::GetArticleRequest {
    pb::GetArticleRequest { lookup: Some(Lookup::Slug(slug.into())), include_draft }
}

async fn outbox_types(app: &TestApp) -> Vec<String> {
    let db = app.service_db("knowledge").await;
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT event_type FROM outbox ORDER BY position"))
        .await
        .unwrap();
    rows.iter().map(|row| row.try_get::<String>("", "event_type").unwrap()).collect()
}

async fn reviewed_published_edited_beside_the_live_version_and_archived(app: TestApp) {
    let mut agent = app.articles(AGENT);
    let article = agent.create_article(draft("Papierstau: Fehler E-13", pb::Audience::Customers)).await.unwrap().into_inner();
    assert_eq!(article.slug, "papierstau-fehler-e-13");
    assert_eq!((article.state(), article.version, article.etag.as_str()), (pb::ArticleState::Draft, 1, "1"));
    assert_eq!(article.tags, ["paper jam", "printer"]);
    assert_eq!(article.locale, "en");
    assert!(
        article.body_html.contains("<strong>front</strong>") && !article.body_html.contains("script"),
        "{}",
        article.body_html
    );

    // A draft has no readers yet; its editors see it with include_draft.
    let unseen = app.articles(VIEWER).get_article(by_slug(&article.slug, false)).await.unwrap_err();
    assert_eq!(unseen.code(), Code::NotFound);
    let seen = app.articles(VIEWER).get_article(by_slug(&article.slug, true)).await.unwrap().into_inner();
    assert_eq!(seen.title, "Papierstau: Fehler E-13");

    let submitted = agent.submit_article_for_review(step(&article, "")).await.unwrap().into_inner();
    assert_eq!(submitted.state(), pb::ArticleState::InReview);
    let own = agent.publish_article(publish(&submitted)).await.unwrap_err();
    assert_eq!(own.code(), Code::FailedPrecondition, "the submitter cannot approve: {own:?}");
    let published = app.articles(REVIEWER).publish_article(publish(&submitted)).await.unwrap().into_inner();
    assert_eq!((published.state(), published.version), (pb::ArticleState::Published, 1));

    // Readers: the customers' audience is for logged-in customers, not for anyone.
    let anonymous = app.articles(SERVICE).get_article(by_slug(&article.slug, false)).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::NotFound);
    let customer = app.articles(PORTAL).get_article(as_customer(by_slug(&article.slug, false))).await.unwrap().into_inner();
    assert_eq!(
        (customer.state(), customer.version, customer.title.as_str()),
        (pb::ArticleState::Published, 1, "Papierstau: Fehler E-13")
    );
    let drafts = app.articles(PORTAL).get_article(as_customer(by_slug(&article.slug, true))).await.unwrap_err();
    assert_eq!(drafts.code(), Code::PermissionDenied);

    // An edit is a new draft; readers keep the published version.
    let edited = agent
        .update_article(pb::UpdateArticleRequest {
            article: Some(pb::Article {
                title: "Paper jam: error E-13".into(),
                body_markdown: "Open the **front** cover.\n\nPull the sheet out slowly.".into(),
                ..published.clone()
            }),
            update_mask: mask(&["title", "body_markdown"]),
            reason: "in English".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((edited.state(), edited.version), (pb::ArticleState::Draft, 2));
    let still = app.articles(PORTAL).get_article(as_customer(by_slug(&article.slug, false))).await.unwrap().into_inner();
    assert_eq!(still.title, "Papierstau: Fehler E-13");

    // An admin publishes directly; the history shows both versions with diffs.
    let second = app.articles(ADMIN).publish_article(publish(&edited)).await.unwrap().into_inner();
    assert_eq!((second.state(), second.version), (pb::ArticleState::Published, 2));
    let history = app
        .articles(VIEWER)
        .list_article_versions(pb::ListArticleVersionsRequest { id: article.id.clone(), page_size: 1, page_token: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.versions.len(), 1);
    let newest = &history.versions[0];
    assert_eq!(newest.version, 2);
    assert_eq!(newest.title_diff, "- Papierstau: Fehler E-13\n+ Paper jam: error E-13\n");
    assert!(
        newest.body_diff.contains("- Pull the sheet out.<script>") && newest.body_diff.contains("+ Pull the sheet out slowly.")
    );
    let older = app
        .articles(VIEWER)
        .list_article_versions(pb::ListArticleVersionsRequest {
            id: article.id.clone(),
            page_size: 1,
            page_token: history.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(older.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1]);
    assert!(older.versions[0].title_diff.starts_with("+ Papierstau"), "the first version diffs against nothing");
    assert!(older.next_page_token.is_empty());

    // Archived: the page still answers, without the text; nothing more changes it.
    let archived = agent.archive_article(step(&second, "replaced by the new guide")).await.unwrap().into_inner();
    assert_eq!(archived.state(), pb::ArticleState::Archived);
    let gone = app.articles(PORTAL).get_article(as_customer(by_slug(&article.slug, false))).await.unwrap().into_inner();
    assert_eq!((gone.state(), gone.body_markdown.as_str(), gone.body_html.as_str()), (pb::ArticleState::Archived, "", ""));
    let refused = agent
        .update_article(pb::UpdateArticleRequest {
            article: Some(pb::Article { summary: "again".into(), ..archived.clone() }),
            update_mask: mask(&["summary"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    assert_eq!(
        outbox_types(&app).await,
        [
            "article.created",
            "article.submitted_for_review",
            "article.published",
            "article.updated",
            "article.published",
            "article.archived"
        ]
    );
}

async fn readers_list_what_their_audience_may_read(app: TestApp) {
    let mut admin = app.articles(ADMIN);
    let mut live = Vec::new();
    for (title, audience) in [
        ("Public guide", pb::Audience::Public),
        ("Customer guide", pb::Audience::Customers),
        ("Internal runbook", pb::Audience::Internal),
    ] {
        let created = admin.create_article(draft(title, audience)).await.unwrap().into_inner();
        live.push(admin.publish_article(publish(&created)).await.unwrap().into_inner());
    }
    admin.create_article(draft("Unpublished idea", pb::Audience::Public)).await.unwrap();

    let titles = |articles: &[pb::Article]| articles.iter().map(|a| a.title.clone()).collect::<Vec<_>>();
    let list = pb::ListArticlesRequest::default;
    let anonymous = app.articles(SERVICE).list_articles(list()).await.unwrap().into_inner();
    assert_eq!(titles(&anonymous.articles), ["Public guide"]);
    let customer = app.articles(PORTAL).list_articles(as_customer(list())).await.unwrap().into_inner();
    assert_eq!(titles(&customer.articles), ["Public guide", "Customer guide"]);
    let staff = app.articles(VIEWER).list_articles(list()).await.unwrap().into_inner();
    assert_eq!(staff.articles.len(), 4);

    let drafts = app
        .articles(VIEWER)
        .list_articles(pb::ListArticlesRequest { state: pb::ArticleState::Draft as i32, ..list() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(titles(&drafts.articles), ["Unpublished idea"]);
    let tagged = app
        .articles(VIEWER)
        .list_articles(pb::ListArticlesRequest { tag: "Paper Jam".into(), page_size: 2, ..list() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tagged.articles.len(), 2);
    let rest = app
        .articles(VIEWER)
        .list_articles(pb::ListArticlesRequest {
            tag: "paper jam".into(),
            page_size: 2,
            page_token: tagged.next_page_token,
            ..list()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.articles.len(), 2);
    assert!(rest.next_page_token.is_empty());
    let none =
        app.articles(VIEWER).list_articles(pb::ListArticlesRequest { tag: "paper".into(), ..list() }).await.unwrap().into_inner();
    assert!(none.articles.is_empty(), "a tag matches whole");
}

async fn bad_articles_and_moves_change_nothing(app: TestApp) {
    let mut admin = app.articles(ADMIN);
    let article = admin.create_article(draft("Toner low", pb::Audience::Public)).await.unwrap().into_inner();
    let tables = ["articles", "article_versions", "audit_entries", "outbox"];
    let before = app.table_counts("knowledge", &tables).await;

    let bad = pb::CreateArticleRequest {
        article: Some(pb::Article {
            title: "".into(),
            slug: "Bad Slug".into(),
            locale: "english".into(),
            audience: 0,
            tags: (0..21).map(|n| format!("tag{n}")).collect(),
            related_article_ids: vec!["nope".into()],
            category_id: "nope".into(),
            body_markdown: "x".repeat(200_001),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    };
    let refused = admin.create_article(bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields: Vec<String> = field_violations(&refused).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    fields.dedup();
    assert_eq!(
        fields,
        [
            "article.audience",
            "article.body_markdown",
            "article.category_id",
            "article.locale",
            "article.related_article_ids",
            "article.slug",
            "article.tags",
            "article.title"
        ]
    );
    // A NUL (which PostgreSQL cannot store) or another control character in the body.
    for body in ["Open the cover.\0", "Press \u{1b}[31mred"] {
        let request = pb::CreateArticleRequest {
            article: Some(pb::Article { body_markdown: body.into(), ..draft("Control", pb::Audience::Public).article.unwrap() }),
            idempotency_key: String::new(),
        };
        let refused = admin.create_article(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, "article.body_markdown");
    }
    let unknown_category = pb::CreateArticleRequest {
        article: Some(pb::Article {
            category_id: "0190a000-0000-7000-8000-000000000000".into(),
            ..draft("X", pb::Audience::Public).article.unwrap()
        }),
        idempotency_key: String::new(),
    };
    assert_field_error(&admin.create_article(unknown_category).await.unwrap_err(), Code::InvalidArgument, "article.category_id");
    let taken = admin.create_article(draft("Toner low", pb::Audience::Public)).await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    for token in [VIEWER, SERVICE] {
        let denied = app.articles(token).create_article(draft("Mine", pb::Audience::Public)).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{token}");
    }
    let self_related = admin
        .update_article(pb::UpdateArticleRequest {
            article: Some(pb::Article { related_article_ids: vec![article.id.clone()], ..article.clone() }),
            update_mask: mask(&["related_article_ids"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&self_related, Code::InvalidArgument, "article.related_article_ids");
    let stale = admin
        .update_article(pb::UpdateArticleRequest {
            article: Some(pb::Article { etag: "7".into(), ..article.clone() }),
            update_mask: mask(&["title"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let archive_draft = admin.archive_article(step(&article, "")).await.unwrap_err();
    assert_eq!(archive_draft.code(), Code::FailedPrecondition);
    let reject_draft = admin.reject_article(step(&article, "")).await.unwrap_err();
    assert_eq!(reject_draft.code(), Code::FailedPrecondition);
    let bad_etag = admin
        .submit_article_for_review(pb::ArticleTransitionRequest { etag: "x".into(), ..step(&article, "") })
        .await
        .unwrap_err();
    assert_field_error(&bad_etag, Code::InvalidArgument, "etag");
    let far = pb::PublishArticleRequest {
        publish_time: Some(docket_kit::time::to_proto(docket_kit::time::now() + chrono::Duration::days(365 * 20))),
        ..publish(&article)
    };
    assert_field_error(&admin.publish_article(far).await.unwrap_err(), Code::InvalidArgument, "publish_time");
    let nameless =
        app.articles(VIEWER).get_article(pb::GetArticleRequest { lookup: None, include_draft: false }).await.unwrap_err();
    assert_field_error(&nameless, Code::InvalidArgument, "lookup");
    let by_state = app
        .articles(SERVICE)
        .list_articles(pb::ListArticlesRequest { state: pb::ArticleState::Draft as i32, ..Default::default() })
        .await
        .unwrap_err();
    assert_field_error(&by_state, Code::InvalidArgument, "state");
    for locale in ["english", "en\0"] {
        let by_locale = app
            .articles(VIEWER)
            .list_articles(pb::ListArticlesRequest { locale: locale.into(), ..Default::default() })
            .await
            .unwrap_err();
        assert_field_error(&by_locale, Code::InvalidArgument, "locale");
    }
    let history = app
        .articles(SERVICE)
        .list_article_versions(pb::ListArticleVersionsRequest { id: article.id.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(history.code(), Code::PermissionDenied);
    assert_eq!(app.table_counts("knowledge", &tables).await, before, "nothing written");
}

async fn readers_count_views_and_say_whether_it_helped(app: TestApp) {
    let mut admin = app.articles(ADMIN);
    let created = admin.create_article(draft("Scanner driver", pb::Audience::Public)).await.unwrap().into_inner();
    let published = admin.publish_article(publish(&created)).await.unwrap().into_inner();
    let internal = admin.create_article(draft("Vendor contacts", pb::Audience::Internal)).await.unwrap().into_inner();
    let internal = admin.publish_article(publish(&internal)).await.unwrap().into_inner();
    let unpublished = admin.create_article(draft("Half written", pb::Audience::Public)).await.unwrap().into_inner();

    let view = |id: &str| pb::RecordViewRequest { article_id: id.to_owned() };
    app.articles(SERVICE).record_view(view(&published.id)).await.unwrap();
    app.articles(PORTAL).record_view(as_customer(view(&published.id))).await.unwrap();
    let feedback = |helpful, comment: &str| pb::RecordFeedbackRequest {
        article_id: published.id.clone(),
        helpful,
        comment: comment.to_owned(),
    };
    app.articles(PORTAL).record_feedback(as_customer(feedback(true, "Worked at once"))).await.unwrap();
    app.articles(SERVICE).record_feedback(feedback(false, "")).await.unwrap();

    let read = app.articles(VIEWER).get_article(by_slug(&published.slug, false)).await.unwrap().into_inner();
    assert_eq!((read.view_count, read.helpful_count, read.not_helpful_count), (2, 1, 1));
    assert_eq!(read.etag, published.etag, "readers do not change the version editors hold");
    let events = outbox_types(&app).await;
    assert_eq!(events.iter().filter(|t| *t == "article.feedback_received").count(), 2, "{events:?}");

    let tables = ["article_feedback", "outbox"];
    let before = app.table_counts("knowledge", &tables).await;
    for id in [&internal.id, &unpublished.id] {
        let hidden = app.articles(SERVICE).record_view(view(id)).await.unwrap_err();
        assert_eq!(hidden.code(), Code::NotFound);
        let hidden = app
            .articles(SERVICE)
            .record_feedback(pb::RecordFeedbackRequest { article_id: id.clone(), helpful: true, comment: String::new() })
            .await
            .unwrap_err();
        assert_eq!(hidden.code(), Code::NotFound);
    }
    assert_field_error(&app.articles(SERVICE).record_view(view("nope")).await.unwrap_err(), Code::InvalidArgument, "article_id");
    let long = app.articles(SERVICE).record_feedback(feedback(true, &"x".repeat(2_001))).await.unwrap_err();
    assert_field_error(&long, Code::InvalidArgument, "comment");
    assert_eq!(app.table_counts("knowledge", &tables).await, before);
    let counted = app.articles(VIEWER).get_article(by_slug(&published.slug, false)).await.unwrap().into_inner();
    assert_eq!(counted.view_count, 2);
}

fn at(article: &pb::Article, from_now: chrono::Duration) -> pb::PublishArticleRequest {
    pb::PublishArticleRequest {
        publish_time: Some(docket_kit::time::to_proto(docket_kit::time::now() + from_now)),
        ..publish(article)
    }
}

async fn a_scheduled_article_goes_live_at_its_time_and_an_edit_takes_it_off(app: TestApp) {
    let mut admin = app.articles(ADMIN);
    let soon = admin.create_article(draft("Holiday opening hours", pb::Audience::Public)).await.unwrap().into_inner();
    let edited = admin.create_article(draft("Old opening hours", pb::Audience::Public)).await.unwrap().into_inner();
    let later = admin.create_article(draft("Next year's hours", pb::Audience::Public)).await.unwrap().into_inner();

    let scheduled = admin.publish_article(at(&soon, chrono::Duration::seconds(2))).await.unwrap().into_inner();
    assert_eq!(scheduled.state(), pb::ArticleState::Scheduled);
    assert!(scheduled.publish_time.is_some());
    let off = admin.publish_article(at(&edited, chrono::Duration::seconds(2))).await.unwrap().into_inner();
    let off = admin
        .update_article(pb::UpdateArticleRequest {
            article: Some(pb::Article { title: "Opening hours (draft)".into(), ..off }),
            update_mask: mask(&["title"]),
            reason: "not ready after all".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((off.state(), off.publish_time), (pb::ArticleState::Draft, None), "an edit takes it off the schedule");
    admin.publish_article(at(&later, chrono::Duration::hours(1))).await.unwrap();

    let live = crate::common::eventually("the scheduled article to go live", async || {
        match app.articles(SERVICE).get_article(by_slug(&soon.slug, false)).await {
            Ok(article) => Ok(article.into_inner()),
            Err(status) => Err(status.code()),
        }
    })
    .await;
    assert_eq!((live.state(), live.version), (pb::ArticleState::Published, 1));
    // The others: one off the schedule, one whose time has not come.
    for hidden in [&edited.slug, &later.slug] {
        let refused = app.articles(SERVICE).get_article(by_slug(hidden, false)).await.unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{hidden}");
    }
    let waiting = app.articles(VIEWER).get_article(by_slug(&later.slug, true)).await.unwrap().into_inner();
    assert_eq!(waiting.state(), pb::ArticleState::Scheduled);
    let events = outbox_types(&app).await;
    assert_eq!(events.iter().filter(|t| *t == "article.scheduled").count(), 3, "{events:?}");
    assert_eq!(events.iter().filter(|t| *t == "article.published").count(), 1, "{events:?}");
}

mod reviewed_published_edited_beside_the_live_version_and_archived {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::reviewed_published_edited_beside_the_live_version_and_archived(super::spawn(super::Backend::Postgres).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::reviewed_published_edited_beside_the_live_version_and_archived(super::spawn(super::Backend::Sqlite).await).await
    }
}

on_both_backends!(
    a_scheduled_article_goes_live_at_its_time_and_an_edit_takes_it_off,
    readers_list_what_their_audience_may_read,
    bad_articles_and_moves_change_nothing,
    readers_count_views_and_say_whether_it_helped
);
