//! What readers leave behind: views and "did this help?" answers. They
//! count on the article without changing its version, so an editor's etag
//! stays valid while people read.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::{Actor, Store};
use crate::{
    domain::ArticleId,
    events,
    records::entities::{article, article_feedback},
};

type Result<T> = std::result::Result<T, docket_kit::Error>;

impl Store {
    /// Records the answer, counts it on the article, and writes
    /// `article.feedback_received`, in one transaction.
    pub async fn record_feedback(&self, article: &article::Model, helpful: bool, comment: &str, by: &Actor<'_>) -> Result<()> {
        self.mutations
            .run(by, async |tx| {
                article_feedback::Model {
                    id: docket_kit::request::Uuid::now_v7().to_string(),
                    article_id: article.id.clone(),
                    helpful,
                    comment: comment.to_owned(),
                    reader: by.actor.to_owned(),
                    created_at: by.at,
                }
                .into_active_model()
                .insert(&*tx)
                .await?;
                let column = if helpful { article::Column::HelpfulCount } else { article::Column::NotHelpfulCount };
                article::Entity::update_many()
                    .col_expr(column, Expr::col(column).add(1))
                    .filter(article::Column::Id.eq(article.id.as_str()))
                    .exec(&*tx)
                    .await?;
                tx.emit([events::feedback_received(article, helpful, comment, by.actor)]).await?;
                Ok::<_, docket_kit::Error>(())
            })
            .await
    }

    /// Counts one view of the article.
    pub async fn record_view(&self, id: ArticleId) -> Result<()> {
        article::Entity::update_many()
            .col_expr(article::Column::ViewCount, Expr::col(article::Column::ViewCount).add(1))
            .filter(article::Column::Id.eq(id.to_string()))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
