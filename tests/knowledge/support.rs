//! Articles as the knowledge tests and the help-center tests need them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use docket_proto::knowledge::v1 as pb;

use crate::common::{ADMIN, TestApp};

/// `article` created and published by an admin (who may publish without a review).
pub async fn publish_new(app: &TestApp, article: pb::Article) -> pb::Article {
    let mut admin = app.articles(ADMIN);
    let created = admin
        .create_article(pb::CreateArticleRequest { article: Some(article), idempotency_key: String::new() })
        .await
        .expect("create the article")
        .into_inner();
    publish(app, &created).await
}

/// `article` published now by an admin.
pub async fn publish(app: &TestApp, article: &pb::Article) -> pb::Article {
    let request = pb::PublishArticleRequest {
        id: article.id.clone(),
        etag: article.etag.clone(),
        publish_time: None,
        comment: String::new(),
    };
    app.articles(ADMIN).publish_article(request).await.expect("publish the article").into_inner()
}

/// An article of `audience` with `title`, for [`publish_new`].
pub fn titled(title: &str, audience: pb::Audience) -> pb::Article {
    pb::Article { title: title.into(), audience: audience as i32, ..Default::default() }
}

/// The article as staff read it now (with its counts).
pub async fn read(app: &TestApp, id: &str) -> pb::Article {
    let lookup = Some(pb::get_article_request::Lookup::Id(id.to_owned()));
    app.articles(ADMIN).get_article(pb::GetArticleRequest { lookup, include_draft: false }).await.expect("read").into_inner()
}

/// `message` as a call a service makes for a logged-in portal customer
/// (`x-docket-on-behalf-of`); send it with a token that may act for contacts.
pub fn as_customer<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let contact = "contact:0190a000-0000-7000-8000-0000000000c1".parse().expect("a metadata value");
    request.metadata_mut().insert(docket_kit::auth::ON_BEHALF_OF, contact);
    request
}
