//! Draft proposals from closed cases: listed for staff, accepted into a
//! draft article (or, when an article already answers the case, into a
//! link from that article to the case), or dismissed; each in the trail.

use docket_kit::{
    mutation::Edit,
    page::{self, IdCursor},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};

use super::{Actor, Store, Trail, articles::new_draft};
use crate::{
    domain::{
        articles::{ArticleFields, Audience},
        slug,
    },
    events,
    records::entities::{article, article_case_link, draft_proposal},
};

type Result<T> = std::result::Result<T, docket_kit::Error>;

/// What staff decide about a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Dismiss,
}

impl Store {
    /// A page of proposals, oldest first; `state` narrows them.
    pub async fn list_proposals(
        &self,
        state: Option<&str>,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<draft_proposal::Model>, Option<IdCursor>)> {
        let mut query = draft_proposal::Entity::find();
        if let Some(state) = state {
            query = query.filter(draft_proposal::Column::State.eq(state));
        }
        Ok(page::by_id(&self.db, query, draft_proposal::Column::Id, after, limit, |row| &row.id).await?)
    }

    /// Accepts or dismisses an open proposal. Accepting makes a draft
    /// article of it (internal until its editors choose an audience), or
    /// links the case to the article that already answers it.
    pub async fn decide_proposal(
        &self,
        id: &str,
        etag: Option<i64>,
        decision: Decision,
        owner_id: &str,
        by: &Actor<'_>,
    ) -> Result<draft_proposal::Model> {
        self.mutations
            .update(
                by,
                id,
                etag,
                |tx, before: draft_proposal::Model| async move {
                    if before.state != "open" {
                        return Err(docket_kit::Error::IllegalMove {
                            message: format!("the proposal is {} already", before.state),
                            allowed: Vec::new(),
                        });
                    }
                    let mut after = before.clone();
                    let mut trail = Trail::new();
                    let state = match decision {
                        Decision::Dismiss => "dismissed",
                        Decision::Accept => "accepted",
                    };
                    trail.assign("state", &mut after.state, &state.to_owned());
                    if decision == Decision::Accept {
                        let article_id = match &before.existing_article_id {
                            Some(existing) => {
                                let link = article_case_link::Entity::find_by_id((existing.clone(), before.case_id.clone()))
                                    .one(&*tx)
                                    .await?;
                                if link.is_none() {
                                    article_case_link::Model {
                                        article_id: existing.clone(),
                                        case_id: before.case_id.clone(),
                                        linked_by: by.actor.to_owned(),
                                        created_at: by.at,
                                    }
                                    .into_active_model()
                                    .insert(&*tx)
                                    .await?;
                                }
                                existing.clone()
                            }
                            None => {
                                // The title's slug, or with the case number when it is taken.
                                let mut slug = slug::slugify(&before.title);
                                let taken =
                                    article::Entity::find().filter(article::Column::Slug.eq(slug.as_str())).one(&*tx).await?;
                                if slug.is_empty() || taken.is_some() {
                                    slug = slug::slugify(&format!("{} {}", before.title, before.case_number));
                                }
                                let fields = ArticleFields {
                                    slug,
                                    title: before.title.clone(),
                                    summary: String::new(),
                                    body_markdown: before.body_markdown.clone(),
                                    locale: "en".to_owned(),
                                    category_id: None,
                                    tags: Vec::new(),
                                    audience: Audience::Internal,
                                    related_article_ids: Vec::new(),
                                    owner_id: owner_id.to_owned(),
                                };
                                let (model, created) = new_draft(&fields, by);
                                tx.insert_new(
                                    &model,
                                    &created,
                                    [events::article_changed("article.created", &model, &created, by.reason)],
                                )
                                .await?;
                                model.id
                            }
                        };
                        trail.diff("article_id", "", &article_id);
                        after.article_id = Some(article_id);
                    }
                    after.decided_by = Some(by.actor.to_owned());
                    after.decided_at = Some(by.at);
                    Ok(Edit { after, changes: trail })
                },
                |_, _, _| Vec::new(),
            )
            .await
    }

    /// The article an accepted proposal became or pointed at.
    pub async fn proposal_article(&self, proposal: &draft_proposal::Model) -> Result<article::Model> {
        let id = proposal.article_id.clone().unwrap_or_default();
        article::Entity::find_by_id(id.clone()).one(&self.db).await?.ok_or_else(|| docket_kit::Error::not_found("article", id))
    }
}
