//! Articles as the knowledge tests and the help-center tests need them.

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
