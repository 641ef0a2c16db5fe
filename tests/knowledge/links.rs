//! `ArticleLinkService`: an agent links the articles that answered a case;
//! a case lists its articles, an article the cases it helped solve.

use docket_proto::knowledge::v1 as pb;
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, SERVICE, TestApp, VIEWER, assert_field_error},
    fixtures::{case, customer},
    on_both_backends,
    support::{publish_new, titled},
};

fn link(article: &pb::Article, case_id: &str) -> pb::LinkArticleToCaseRequest {
    pb::LinkArticleToCaseRequest { article_id: article.id.clone(), case_id: case_id.to_owned() }
}

async fn a_case_lists_its_articles_and_an_article_its_cases(app: TestApp) {
    let customer = customer(&app).await;
    let (first, second) = (case(&app, &customer, "Jam on tray 2").await, case(&app, &customer, "Jam on tray 3").await);
    let (jam, toner) = (
        publish_new(&app, titled("Clearing a paper jam", pb::Audience::Public)).await,
        publish_new(&app, titled("Replacing toner", pb::Audience::Public)).await,
    );
    let mut agent = app.article_links(AGENT);

    let linked = agent.link_article_to_case(link(&jam, &first.id)).await.unwrap().into_inner();
    assert_eq!((linked.article_id.as_str(), linked.case_id.as_str()), (jam.id.as_str(), first.id.as_str()));
    assert!(linked.linked_by.starts_with("agent:") || linked.linked_by.starts_with("staff:"), "{}", linked.linked_by);
    let again = agent.link_article_to_case(link(&jam, &first.id)).await.unwrap().into_inner();
    assert_eq!(again, linked, "linking again answers the same link");
    agent.link_article_to_case(link(&toner, &first.id)).await.unwrap();
    agent.link_article_to_case(link(&jam, &second.id)).await.unwrap();

    let of_case = app
        .article_links(VIEWER)
        .list_case_articles(pb::ListCaseArticlesRequest { case_id: first.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_case.links.iter().map(|l| l.article_id.as_str()).collect::<Vec<_>>(), [jam.id.as_str(), toner.id.as_str()]);
    let page = pb::ListArticleCasesRequest { article_id: jam.id.clone(), page_size: 1, page_token: String::new() };
    let first_page = app.article_links(VIEWER).list_article_cases(page.clone()).await.unwrap().into_inner();
    assert_eq!(first_page.links.len(), 1);
    let rest = pb::ListArticleCasesRequest { page_token: first_page.next_page_token.clone(), ..page };
    let rest = app.article_links(VIEWER).list_article_cases(rest).await.unwrap().into_inner();
    let mut cases: Vec<String> = first_page.links.into_iter().chain(rest.links).map(|l| l.case_id).collect();
    cases.sort();
    let mut expected = vec![first.id.clone(), second.id.clone()];
    expected.sort();
    assert_eq!(cases, expected);
    assert!(rest.next_page_token.is_empty());
}

async fn bad_links_change_nothing(app: TestApp) {
    let customer = customer(&app).await;
    let solved = case(&app, &customer, "Jam on tray 2").await;
    let article = publish_new(&app, titled("Clearing a paper jam", pb::Audience::Public)).await;
    let tables = ["article_case_links", "audit_entries"];
    let before = app.table_counts("knowledge", &tables).await;
    let mut agent = app.article_links(AGENT);

    let unknown_case = agent.link_article_to_case(link(&article, "0190a000-0000-7000-8000-000000000000")).await.unwrap_err();
    assert_eq!(unknown_case.code(), Code::NotFound);
    let unknown_article =
        pb::LinkArticleToCaseRequest { article_id: "0190a000-0000-7000-8000-000000000000".into(), case_id: solved.id.clone() };
    assert_eq!(agent.link_article_to_case(unknown_article).await.unwrap_err().code(), Code::NotFound);
    assert_field_error(&agent.link_article_to_case(link(&article, "nope")).await.unwrap_err(), Code::InvalidArgument, "case_id");
    for token in [VIEWER, SERVICE] {
        let denied = app.article_links(token).link_article_to_case(link(&article, &solved.id)).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{token}");
    }
    let listed = app
        .article_links(SERVICE)
        .list_case_articles(pb::ListCaseArticlesRequest { case_id: solved.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(listed.code(), Code::PermissionDenied);
    let bad_page = pb::ListArticleCasesRequest { article_id: article.id.clone(), page_size: 0, page_token: "x".into() };
    assert_field_error(
        &app.article_links(VIEWER).list_article_cases(bad_page).await.unwrap_err(),
        Code::InvalidArgument,
        "page_token",
    );

    assert_eq!(app.table_counts("knowledge", &tables).await, before, "nothing written");

    let archive = pb::ArticleTransitionRequest { id: article.id.clone(), etag: article.etag.clone(), comment: String::new() };
    app.articles(ADMIN).archive_article(archive).await.unwrap();
    let before = app.table_counts("knowledge", &tables).await;
    let archived = agent.link_article_to_case(link(&article, &solved.id)).await.unwrap_err();
    assert_eq!(archived.code(), Code::FailedPrecondition);
    assert_eq!(app.table_counts("knowledge", &tables).await, before, "nothing written");
}

on_both_backends!(a_case_lists_its_articles_and_an_article_its_cases, bad_links_change_nothing);
