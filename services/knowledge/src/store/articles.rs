//! Articles: the working copy, its review, and the versions each publish
//! freezes.

use chrono::{DateTime, Utc};
use docket_kit::{
    mutation::{self, Edit, Once, Tx},
    page::{self, IdCursor},
    request::{FieldMask, RecordId, UpdateTarget},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};

use super::{Actor, Store, Trail};
use crate::{
    domain::{
        ArticleId, CategoryId,
        articles::{ArticleField, ArticleFields, Audience, Mover, Reader, State, Step, next},
        markdown,
    },
    events,
    records::{
        entities::{article, article_version, category},
        strings_json,
    },
};

type Result<T> = std::result::Result<T, docket_kit::Error>;

pub type ArticleUpdate = UpdateTarget<ArticleId, ArticleField>;

/// How a caller names an article.
#[derive(Debug, Clone)]
pub enum Lookup {
    Id(ArticleId),
    Slug(String),
}

/// An article with the version its readers see, if one is live.
#[derive(Debug, Clone)]
pub struct Stored {
    pub article: article::Model,
    pub live: Option<article_version::Model>,
}

/// What a list of articles is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub state: Option<State>,
    pub category_id: Option<CategoryId>,
    pub tag: Option<String>,
    pub audience: Option<Audience>,
    pub locale: Option<String>,
}

fn ids_json(ids: &[ArticleId]) -> String {
    strings_json(&ids.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn apply(model: &mut article::Model, fields: &ArticleFields, mask: &FieldMask<ArticleField>, trail: &mut Trail) {
    for field in mask.iter() {
        match field {
            ArticleField::Slug => trail.assign("slug", &mut model.slug, &fields.slug),
            ArticleField::Title => trail.assign("title", &mut model.title, &fields.title),
            ArticleField::Summary => trail.assign("summary", &mut model.summary, &fields.summary),
            ArticleField::BodyMarkdown => trail.assign("body_markdown", &mut model.body_markdown, &fields.body_markdown),
            ArticleField::Locale => trail.assign("locale", &mut model.locale, &fields.locale),
            ArticleField::CategoryId => {
                let category = fields.category_id.map(|id| id.to_string());
                if category != model.category_id {
                    trail.diff(
                        "category_id",
                        model.category_id.clone().unwrap_or_default(),
                        category.clone().unwrap_or_default(),
                    );
                    model.category_id = category;
                }
            }
            ArticleField::Tags => trail.assign("tags", &mut model.tags, &strings_json(&fields.tags)),
            ArticleField::Audience => trail.assign("audience", &mut model.audience, &fields.audience.name().to_owned()),
            ArticleField::RelatedArticleIds => {
                trail.assign("related_article_ids", &mut model.related_article_ids, &ids_json(&fields.related_article_ids));
            }
            ArticleField::OwnerId => trail.assign("owner_id", &mut model.owner_id, &fields.owner_id),
        }
    }
}

/// What an article points at must exist: its category and related articles
/// (not itself).
async fn check_references(tx: &Tx, model: &article::Model, fields: &ArticleFields, mask: &FieldMask<ArticleField>) -> Result<()> {
    if mask.contains(ArticleField::CategoryId)
        && let Some(id) = fields.category_id
        && category::Entity::find_by_id(id.to_string()).one(&**tx).await?.is_none()
    {
        return Err(docket_kit::Error::field("article.category_id", format!("no category has the id {id}")));
    }
    if mask.contains(ArticleField::RelatedArticleIds) {
        for id in &fields.related_article_ids {
            let id = id.to_string();
            if id == model.id {
                return Err(docket_kit::Error::field("article.related_article_ids", "an article is not related to itself"));
            }
            if article::Entity::find_by_id(id.clone()).one(&**tx).await?.is_none() {
                return Err(docket_kit::Error::field("article.related_article_ids", format!("no article has the id {id}")));
            }
        }
    }
    Ok(())
}

/// A new draft of `fields`, and its trail.
pub(super) fn new_draft(fields: &ArticleFields, by: &Actor<'_>) -> (article::Model, Trail) {
    let mut model = article::Model {
        id: ArticleId::generate().to_string(),
        slug: String::new(),
        title: String::new(),
        summary: String::new(),
        body_markdown: String::new(),
        locale: String::new(),
        category_id: None,
        tags: "[]".to_owned(),
        related_article_ids: "[]".to_owned(),
        audience: String::new(),
        owner_id: String::new(),
        state: State::Draft.name().to_owned(),
        draft_pending: true,
        live_version: None,
        versions: 0,
        publish_at: None,
        submitted_by: None,
        view_count: 0,
        helpful_count: 0,
        not_helpful_count: 0,
        version: 1,
        created_at: by.at,
        updated_at: by.at,
    };
    let mut trail = Trail::new();
    trail.set("created", "", "");
    apply(&mut model, fields, &FieldMask::all(), &mut trail);
    (model, trail)
}

fn state_of(model: &article::Model) -> Result<State> {
    State::from_name(&model.state)
        .ok_or_else(|| sea_orm::DbErr::Type(format!("article {} has the unknown state {}", model.id, model.state)).into())
}

impl Store {
    pub async fn create_article(&self, fields: ArticleFields, by: &Actor<'_>, once: Once<'_>) -> Result<article::Model> {
        self.mutations
            .create(by, once, async |tx| {
                let (model, trail) = new_draft(&fields, by);
                check_references(&tx, &model, &fields, &FieldMask::all()).await?;
                let created = events::article_changed("article.created", &model, &trail, "");
                Ok((model, trail, vec![created]))
            })
            .await
    }

    /// The article and its live version.
    pub async fn find_article(&self, lookup: &Lookup) -> Result<Stored> {
        let found = match lookup {
            Lookup::Id(id) => article::Entity::find_by_id(id.to_string()).one(&self.db).await?,
            Lookup::Slug(slug) => article::Entity::find().filter(article::Column::Slug.eq(slug.as_str())).one(&self.db).await?,
        };
        let article = found.ok_or_else(|| match lookup {
            Lookup::Id(id) => docket_kit::Error::not_found("article", id),
            Lookup::Slug(slug) => docket_kit::Error::not_found("article", slug),
        })?;
        let live = self.live_version(&article).await?;
        Ok(Stored { article, live })
    }

    async fn live_version(&self, article: &article::Model) -> Result<Option<article_version::Model>> {
        let Some(version) = article.live_version else { return Ok(None) };
        Ok(article_version::Entity::find_by_id((article.id.clone(), version)).one(&self.db).await?)
    }

    /// Edits the working copy. A change after submission needs a new
    /// review; a change of a published article is a new draft while the
    /// published version stays live.
    pub async fn update_article(&self, target: ArticleUpdate, fields: ArticleFields, by: &Actor<'_>) -> Result<article::Model> {
        let (fields, mask) = (&fields, &target.mask);
        self.mutations
            .update(
                by,
                &target.id.to_string(),
                Some(target.etag),
                |tx, before: article::Model| async move {
                    let mut after = before.clone();
                    let mut trail = Trail::new();
                    apply(&mut after, fields, mask, &mut trail);
                    if trail.is_empty() {
                        return Ok(Edit { after, changes: trail });
                    }
                    let moved = next(state_of(&before)?, Step::Edit, None, Mover { actor: by.actor, is_admin: false })?;
                    check_references(&tx, &after, fields, mask).await?;
                    trail.assign("state", &mut after.state, &moved.name().to_owned());
                    after.draft_pending = true;
                    after.submitted_by = None;
                    // An edit of a scheduled article takes it off the schedule.
                    if after.publish_at.take().is_some() {
                        trail.diff("publish_at", before.publish_at.map(|at| at.to_rfc3339()).unwrap_or_default(), "");
                    }
                    // Readers keep the live text, but who may find it (and
                    // where it is filed) changes now.
                    if let Some(version) = after.live_version {
                        let live = article_version::Entity::find_by_id((after.id.clone(), version)).one(&*tx).await?;
                        super::search::index_article(&tx, &after, live.as_ref()).await?;
                    }
                    Ok(Edit { after, changes: trail })
                },
                |_, after, trail| vec![events::article_changed("article.updated", after, trail, by.reason)],
            )
            .await
    }

    /// A move of the lifecycle (not an edit): submit, reject, publish,
    /// schedule (at `publish_at`), go live, archive. Publishing (now, or
    /// when a scheduled article goes live) freezes the working copy as the
    /// next version and makes it live.
    pub async fn move_article(
        &self,
        id: ArticleId,
        etag: Option<i64>,
        step: Step,
        publish_at: Option<DateTime<Utc>>,
        by: &Actor<'_>,
        is_admin: bool,
    ) -> Result<Stored> {
        let event_type = match step {
            Step::Submit => "article.submitted_for_review",
            Step::Reject => "article.rejected",
            Step::Publish | Step::GoLive => "article.published",
            Step::Schedule => "article.scheduled",
            Step::Archive => "article.archived",
            Step::Edit => "article.updated",
        };
        let saved = self
            .mutations
            .update(
                by,
                &id.to_string(),
                etag,
                |tx, before: article::Model| async move {
                    let state = state_of(&before)?;
                    let moved = next(state, step, before.submitted_by.as_deref(), Mover { actor: by.actor, is_admin })?;
                    let mut after = before.clone();
                    let mut trail = Trail::new();
                    trail.assign("state", &mut after.state, &moved.name().to_owned());
                    match step {
                        Step::Submit => after.submitted_by = Some(by.actor.to_owned()),
                        Step::Reject => after.submitted_by = None,
                        Step::Schedule => {
                            let at = publish_at.unwrap_or(by.at);
                            trail.diff("publish_at", "", at.to_rfc3339());
                            after.publish_at = Some(at);
                        }
                        Step::Publish | Step::GoLive => {
                            let version = before.versions + 1;
                            let frozen = article_version::Model {
                                article_id: before.id.clone(),
                                version,
                                title: before.title.clone(),
                                summary: before.summary.clone(),
                                body_markdown: before.body_markdown.clone(),
                                body_html: markdown::to_html(&before.body_markdown),
                                tags: before.tags.clone(),
                                author_id: before.submitted_by.clone().unwrap_or_else(|| by.actor.to_owned()),
                                published_by: by.actor.to_owned(),
                                published_at: by.at,
                            };
                            frozen.clone().into_active_model().insert(&*tx).await?;
                            trail.diff("live_version", before.live_version.map(|v| v.to_string()).unwrap_or_default(), version);
                            after.versions = version;
                            after.live_version = Some(version);
                            after.draft_pending = false;
                            after.submitted_by = None;
                            after.publish_at = None;
                            super::search::index_article(&tx, &after, Some(&frozen)).await?;
                        }
                        Step::Archive => super::search::index_article(&tx, &after, None).await?,
                        Step::Edit => {}
                    }
                    Ok(Edit { after, changes: trail })
                },
                |_, after, trail| vec![events::article_changed(event_type, after, trail, by.reason)],
            )
            .await?;
        let live = self.live_version(&saved).await?;
        Ok(Stored { article: saved, live })
    }

    /// Articles scheduled to go live by `now`, oldest schedule first.
    pub async fn due_articles(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<ArticleId>> {
        let rows = article::Entity::find()
            .filter(article::Column::State.eq(State::Scheduled.name()))
            .filter(article::Column::PublishAt.lte(now))
            .order_by_asc(article::Column::PublishAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.iter().map(|row| Ok(ArticleId::stored(&row.id)?)).collect()
    }

    /// A page of articles in creation order. `reader` other than staff sees
    /// only live articles of its audiences, and `filter.state` is theirs
    /// (published) alone.
    pub async fn list_articles(
        &self,
        filter: &ArticleFilter,
        reader: Reader,
        after: Option<IdCursor>,
        limit: u64,
    ) -> Result<(Vec<Stored>, Option<IdCursor>)> {
        let mut query = article::Entity::find();
        if let Some(state) = filter.state {
            query = query.filter(article::Column::State.eq(state.name()));
        }
        if let Some(category) = filter.category_id {
            query = query.filter(article::Column::CategoryId.eq(category.to_string()));
        }
        if let Some(audience) = filter.audience {
            query = query.filter(article::Column::Audience.eq(audience.name()));
        }
        if let Some(locale) = &filter.locale {
            query = query.filter(article::Column::Locale.eq(locale.as_str()));
        }
        if let Some(tag) = &filter.tag {
            // Tags are a JSON array of strings without escapes (they are
            // trimmed words): the quoted tag is a substring exactly when listed.
            query = query.filter(article::Column::Tags.contains(format!("\"{}\"", tag.replace('"', ""))));
        }
        if reader != Reader::Staff {
            let audiences: Vec<&str> = reader.audiences().iter().map(|a| a.name()).collect();
            query = query.filter(
                Condition::all()
                    .add(article::Column::LiveVersion.is_not_null())
                    .add(article::Column::State.ne(State::Archived.name()))
                    .add(article::Column::Audience.is_in(audiences)),
            );
        }
        let (rows, next) = page::by_id(&self.db, query, article::Column::Id, after, limit, |row| &row.id).await?;
        let mut stored = Vec::with_capacity(rows.len());
        for article in rows {
            let live = if reader == Reader::Staff { None } else { self.live_version(&article).await? };
            stored.push(Stored { article, live });
        }
        Ok((stored, next))
    }

    /// Versions of an article, newest first, each with the one before it
    /// (for the diff); after version `before` when paging.
    pub async fn list_versions(
        &self,
        id: ArticleId,
        before: Option<i32>,
        limit: u64,
    ) -> Result<(Vec<(article_version::Model, Option<article_version::Model>)>, Option<i32>)> {
        mutation::find::<article::Model, _>(&self.db, id).await?;
        let mut query = article_version::Entity::find().filter(article_version::Column::ArticleId.eq(id.to_string()));
        if let Some(before) = before {
            query = query.filter(article_version::Column::Version.lt(before));
        }
        // One more than the page to know whether another follows, and one
        // more still: the oldest shown needs the version before it.
        let rows = query.order_by_desc(article_version::Column::Version).limit(limit + 2).all(&self.db).await?;
        let shown = rows.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = (rows.len() > shown && shown > 0).then(|| rows[shown - 1].version);
        let with_previous = (0..shown).map(|i| (rows[i].clone(), rows.get(i + 1).cloned())).collect();
        Ok((with_previous, next))
    }
}
