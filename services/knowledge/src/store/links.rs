//! Which cases an article helped solve: the agent links one when answering,
//! an accepted proposal links the article that already answered it.

use docket_kit::page::page_end;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::{Actor, Store, Trail};
use crate::records::entities::{article, article_case_link};

type Result<T> = std::result::Result<T, docket_kit::Error>;

/// Where a page of an article's cases stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseCursor {
    pub case_id: String,
}

impl Store {
    /// Links the case to the article; linking it again changes nothing and
    /// answers the link there is.
    pub async fn link_case(&self, article: &article::Model, case_id: &str, by: &Actor<'_>) -> Result<article_case_link::Model> {
        self.mutations
            .run(by, async |tx| {
                let key = (article.id.clone(), case_id.to_owned());
                if let Some(existing) = article_case_link::Entity::find_by_id(key).one(&*tx).await? {
                    return Ok(existing);
                }
                let link = article_case_link::Model {
                    article_id: article.id.clone(),
                    case_id: case_id.to_owned(),
                    linked_by: by.actor.to_owned(),
                    created_at: by.at,
                }
                .into_active_model()
                .insert(&*tx)
                .await?;
                let mut trail = Trail::new();
                trail.set("case_linked", "", case_id);
                tx.trail("article", &article.id, &trail).await?;
                Ok::<_, docket_kit::Error>(link)
            })
            .await
    }

    /// The articles linked to a case, in the order they were linked.
    pub async fn case_links(&self, case_id: &str) -> Result<Vec<article_case_link::Model>> {
        Ok(article_case_link::Entity::find()
            .filter(article_case_link::Column::CaseId.eq(case_id))
            .order_by_asc(article_case_link::Column::CreatedAt)
            .order_by_asc(article_case_link::Column::ArticleId)
            .all(&self.db)
            .await?)
    }

    /// A page of the cases an article is linked to, by case id.
    pub async fn article_links(
        &self,
        article_id: &str,
        after: Option<CaseCursor>,
        limit: u64,
    ) -> Result<(Vec<article_case_link::Model>, Option<CaseCursor>)> {
        let mut query = article_case_link::Entity::find().filter(article_case_link::Column::ArticleId.eq(article_id));
        if let Some(after) = after {
            query = query.filter(article_case_link::Column::CaseId.gt(after.case_id));
        }
        let mut rows = query.order_by_asc(article_case_link::Column::CaseId).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| CaseCursor { case_id: last.case_id.clone() });
        Ok((rows, next))
    }
}
