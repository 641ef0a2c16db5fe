//! `ArticleService`: staff write and review articles; readers (staff, a
//! portal customer through the portal's token, anyone else) read what their
//! audience allows. An article a caller may not read is NOT_FOUND, as if it
//! did not exist.

use docket_kit::{
    auth::{Caller, Role, caller},
    error::FieldViolations,
    mutation::Once,
    page::{self, IdCursor},
    request::{FieldMask, wanted},
};
use docket_proto::knowledge::v1::{self as pb, article_service_server::ArticleService, get_article_request};
use tonic::{Request, Response, Status};

use super::{actor, idempotency, reason};
use crate::{
    domain::{
        ArticleId,
        articles::{
            ArticleField, ArticleFields, Audience, COMMENT_MAX, RELATED_MAX, Reader, SUMMARY_MAX, State, Step, TAG_MAX, TAGS_MAX,
            TITLE_MAX, normalize_tags,
        },
        markdown, search, slug,
    },
    records::entities::article_version,
    store::{ArticleFilter, Lookup, SearchFilter, Store, Stored},
    wire::{self, Shown},
};

pub struct ArticleApi {
    store: Store,
}

impl ArticleApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Who reads, by the caller's token.
pub(super) fn reader(caller: &Caller) -> Reader {
    match caller.role {
        Role::Admin | Role::Agent | Role::Viewer => Reader::Staff,
        // The portal's token acting for a logged-in contact.
        Role::Service if caller.via.is_some() => Reader::Customer,
        Role::Service => Reader::Anonymous,
    }
}

/// Staff who may change articles.
pub(super) fn require_editor(caller: &Caller) -> Result<(), Status> {
    caller.require_write()?;
    if !caller.is_staff() {
        return Err(Status::permission_denied("articles are written and reviewed by staff"));
    }
    Ok(())
}

fn parse_audience(violations: &mut FieldViolations, field: &str, value: i32) -> Audience {
    match pb::Audience::try_from(value) {
        Ok(pb::Audience::Internal) => Audience::Internal,
        Ok(pb::Audience::Customers) => Audience::Customers,
        Ok(pb::Audience::Public) => Audience::Public,
        _ => {
            violations.add(field, "choose INTERNAL, CUSTOMERS or PUBLIC");
            Audience::Internal
        }
    }
}

/// A list's or a search's tag filter: a tag as articles hold them, or none.
fn tag_filter(violations: &mut FieldViolations, tag: &str) -> Option<String> {
    let tag = violations.optional_text("tag", tag, TAG_MAX);
    normalize_tags(std::slice::from_ref(&tag)).pop()
}

/// A list's or search's `locale`: none when empty, else a language code.
fn locale_filter(violations: &mut FieldViolations, locale: &str) -> Option<String> {
    if locale.is_empty() {
        return None;
    }
    if !is_locale(locale) {
        violations.add("locale", "must be a language code like en, de or pt-BR");
    }
    Some(locale.to_owned())
}

fn is_locale(locale: &str) -> bool {
    let (language, region) = locale.split_once('-').unwrap_or((locale, ""));
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && (region.is_empty() || (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase())))
}

/// The fields of `article` a create (no mask) or an update (its mask) sets.
fn parse(
    violations: &mut FieldViolations,
    article: &pb::Article,
    mask: Option<&FieldMask<ArticleField>>,
    caller: &Caller,
) -> ArticleFields {
    let creating = mask.is_none();
    let title = if wanted(mask, ArticleField::Title) {
        violations.required_text("article.title", &article.title, TITLE_MAX)
    } else {
        String::new()
    };
    let slug = if wanted(mask, ArticleField::Slug) {
        let given = article.slug.trim();
        let slug = if given.is_empty() && creating { slug::for_new(&title, "article") } else { given.to_owned() };
        if let Err(why) = slug::check(&slug) {
            violations.add("article.slug", why);
        }
        slug
    } else {
        String::new()
    };
    let body_markdown = if wanted(mask, ArticleField::BodyMarkdown) {
        if article.body_markdown.chars().count() > markdown::MAX_BODY {
            violations.add("article.body_markdown", format!("must be at most {} characters", markdown::MAX_BODY));
        }
        // Text only: no database stores a NUL, and no reader needs a control character.
        if article.body_markdown.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            violations.add("article.body_markdown", "contains control characters");
        }
        article.body_markdown.clone()
    } else {
        String::new()
    };
    let locale = if wanted(mask, ArticleField::Locale) {
        let locale = if article.locale.is_empty() && creating { "en".to_owned() } else { article.locale.clone() };
        if !is_locale(&locale) {
            violations.add("article.locale", "must be a language code like en, de or pt-BR");
        }
        locale
    } else {
        String::new()
    };
    let tags = if wanted(mask, ArticleField::Tags) {
        // Counted and checked as sent (blank ones are then dropped, repeats merged).
        if article.tags.len() > TAGS_MAX {
            violations.add("article.tags", format!("at most {TAGS_MAX} tags"));
        }
        let checked: Vec<String> = article.tags.iter().map(|t| violations.optional_text("article.tags", t, TAG_MAX)).collect();
        if checked.iter().any(|t| t.contains('"')) {
            violations.add("article.tags", "a tag holds no quotes");
        }
        normalize_tags(&checked)
    } else {
        Vec::new()
    };
    let related_article_ids = if wanted(mask, ArticleField::RelatedArticleIds) {
        if article.related_article_ids.len() > RELATED_MAX {
            violations.add("article.related_article_ids", format!("at most {RELATED_MAX} related articles"));
        }
        let mut ids: Vec<ArticleId> = Vec::new();
        for id in &article.related_article_ids {
            let id = violations.id("article.related_article_ids", id);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    } else {
        Vec::new()
    };
    let owner_id = if wanted(mask, ArticleField::OwnerId) {
        let given = violations.optional_text("article.owner_id", &article.owner_id, 100);
        if given.is_empty() && creating { caller.staff_id.clone().unwrap_or_else(|| caller.actor.clone()) } else { given }
    } else {
        String::new()
    };
    ArticleFields {
        slug,
        title,
        summary: if wanted(mask, ArticleField::Summary) {
            violations.optional_text("article.summary", &article.summary, SUMMARY_MAX)
        } else {
            String::new()
        },
        body_markdown,
        locale,
        category_id: if wanted(mask, ArticleField::CategoryId) {
            violations.opt_id("article.category_id", &article.category_id)
        } else {
            None
        },
        tags,
        audience: if wanted(mask, ArticleField::Audience) {
            parse_audience(violations, "article.audience", article.audience)
        } else {
            Audience::Internal
        },
        related_article_ids,
        owner_id,
    }
}

/// What `reader` sees of a stored article; `None` when it may not see it.
pub(super) fn shown_to(stored: &Stored, reader: Reader, include_draft: bool) -> Option<pb::Article> {
    let article = &stored.article;
    if include_draft {
        return Some(wire::article(article, Shown::Working));
    }
    let audience = Audience::from_name(&article.audience)?;
    if !reader.may_read(audience) {
        return None;
    }
    if article.state == State::Archived.name() {
        return Some(wire::article(article, Shown::Archived));
    }
    stored.live.as_ref().map(|live| wire::article(article, Shown::Version(live)))
}

fn transition(request: &pb::ArticleTransitionRequest) -> Result<(ArticleId, Option<i64>, String), Status> {
    let mut violations = FieldViolations::new();
    let id = violations.id("id", &request.id);
    let etag = violations.etag("etag", &request.etag, false);
    let comment = violations.optional_text("comment", &request.comment, COMMENT_MAX);
    violations.into_result()?;
    Ok((id, etag, comment))
}

impl ArticleApi {
    /// The article, if the caller may read its live version (views and
    /// feedback are about what readers read); NOT_FOUND otherwise.
    async fn readable(&self, caller: &Caller, id: ArticleId) -> Result<Stored, Status> {
        let stored = self.store.find_article(&Lookup::Id(id)).await?;
        match shown_to(&stored, reader(caller), false) {
            Some(shown) if shown.state() == pb::ArticleState::Published => Ok(stored),
            _ => Err(Status::not_found(format!("no published article {id}"))),
        }
    }

    async fn step(
        &self,
        request: Request<pb::ArticleTransitionRequest>,
        step: Step,
        publish_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Response<pb::Article>, Status> {
        let caller = caller(&request)?;
        require_editor(&caller)?;
        let (id, etag, comment) = transition(request.get_ref())?;
        let by = actor(&caller, &comment);
        let stored = self.store.move_article(id, etag, step, publish_at, &by, caller.role == Role::Admin).await?;
        Ok(Response::new(wire::article(&stored.article, Shown::Working)))
    }
}

#[tonic::async_trait]
impl ArticleService for ArticleApi {
    async fn create_article(&self, request: Request<pb::CreateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        let caller = caller(&request)?;
        require_editor(&caller)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let fields = parse(&mut violations, &request.article.clone().unwrap_or_default(), None, &caller);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateArticleRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let once = Once { scope: "CreateArticle", key: key.as_ref() };
        let created = self.store.create_article(fields, &actor(&caller, ""), once).await?;
        Ok(Response::new(wire::article(&created, Shown::Working)))
    }

    async fn get_article(&self, request: Request<pb::GetArticleRequest>) -> Result<Response<pb::Article>, Status> {
        let caller = caller(&request)?;
        let reader = reader(&caller);
        let request = request.into_inner();
        if request.include_draft && reader != Reader::Staff {
            return Err(Status::permission_denied("only staff read drafts"));
        }
        let mut violations = FieldViolations::new();
        let lookup = match &request.lookup {
            Some(get_article_request::Lookup::Id(id)) => Lookup::Id(violations.id("id", id)),
            Some(get_article_request::Lookup::Slug(slug)) => {
                if slug::check(slug).is_err() {
                    violations.add("slug", "is not an article slug");
                }
                Lookup::Slug(slug.clone())
            }
            None => {
                violations.add("lookup", "name the article by id or slug");
                Lookup::Slug(String::new())
            }
        };
        violations.into_result()?;
        let stored = self.store.find_article(&lookup).await?;
        let name = match &lookup {
            Lookup::Id(id) => id.to_string(),
            Lookup::Slug(slug) => slug.clone(),
        };
        shown_to(&stored, reader, request.include_draft)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(format!("no article {name}")))
    }

    async fn list_articles(
        &self,
        request: Request<pb::ListArticlesRequest>,
    ) -> Result<Response<pb::ListArticlesResponse>, Status> {
        let caller = caller(&request)?;
        let reader = reader(&caller);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<IdCursor> = page::decode(&mut violations, &request.page_token);
        let state = match pb::ArticleState::try_from(request.state) {
            Ok(pb::ArticleState::Unspecified) => None,
            Ok(pb::ArticleState::Draft) => Some(State::Draft),
            Ok(pb::ArticleState::InReview) => Some(State::InReview),
            Ok(pb::ArticleState::Scheduled) => Some(State::Scheduled),
            Ok(pb::ArticleState::Published) => Some(State::Published),
            Ok(pb::ArticleState::Archived) => Some(State::Archived),
            Err(_) => {
                violations.add("state", "choose DRAFT, IN_REVIEW, SCHEDULED, PUBLISHED or ARCHIVED");
                None
            }
        };
        if state.is_some() && reader != Reader::Staff {
            violations.add("state", "only staff list articles by state");
        }
        let audience = match pb::Audience::try_from(request.audience) {
            Ok(pb::Audience::Unspecified) => None,
            _ => Some(parse_audience(&mut violations, "audience", request.audience)),
        };
        let tag = tag_filter(&mut violations, &request.tag);
        let filter = ArticleFilter {
            state,
            category_id: violations.opt_id("category_id", &request.category_id),
            tag,
            audience,
            locale: locale_filter(&mut violations, &request.locale),
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_articles(&filter, reader, after, limit).await?;
        let articles = rows.iter().filter_map(|stored| shown_to(stored, reader, reader == Reader::Staff)).collect();
        Ok(Response::new(pb::ListArticlesResponse {
            articles,
            next_page_token: next.map(|cursor| page::encode(&cursor)).unwrap_or_default(),
        }))
    }

    async fn update_article(&self, request: Request<pb::UpdateArticleRequest>) -> Result<Response<pb::Article>, Status> {
        let caller = caller(&request)?;
        require_editor(&caller)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let article = request.article.unwrap_or_default();
        let target = violations.update_target("article", &article.id, &article.etag, request.update_mask.as_ref());
        let fields = parse(&mut violations, &article, Some(&target.mask), &caller);
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        let updated = self.store.update_article(target, fields, &actor(&caller, &reason)).await?;
        Ok(Response::new(wire::article(&updated, Shown::Working)))
    }

    async fn submit_article_for_review(
        &self,
        request: Request<pb::ArticleTransitionRequest>,
    ) -> Result<Response<pb::Article>, Status> {
        self.step(request, Step::Submit, None).await
    }

    async fn reject_article(&self, request: Request<pb::ArticleTransitionRequest>) -> Result<Response<pb::Article>, Status> {
        self.step(request, Step::Reject, None).await
    }

    async fn publish_article(&self, request: Request<pb::PublishArticleRequest>) -> Result<Response<pb::Article>, Status> {
        let now = docket_kit::time::now();
        let mut violations = FieldViolations::new();
        let at = match request.get_ref().publish_time.as_ref() {
            None => None,
            Some(time) => {
                let at = docket_kit::time::from_proto(time);
                if at.is_none() {
                    violations.add("publish_time", "is not a valid time");
                }
                if at.is_some_and(|at| at > now + chrono::Duration::days(3_650)) {
                    violations.add("publish_time", "is more than ten years away");
                }
                at.filter(|at| *at > now)
            }
        };
        violations.into_result()?;
        let (metadata, extensions, message) = request.into_parts();
        let transition = pb::ArticleTransitionRequest { id: message.id, etag: message.etag, comment: message.comment };
        let request = Request::from_parts(metadata, extensions, transition);
        match at {
            Some(at) => self.step(request, Step::Schedule, Some(at)).await,
            // No time, or one that has come already: now.
            None => self.step(request, Step::Publish, None).await,
        }
    }

    async fn archive_article(&self, request: Request<pb::ArticleTransitionRequest>) -> Result<Response<pb::Article>, Status> {
        self.step(request, Step::Archive, None).await
    }

    async fn list_article_versions(
        &self,
        request: Request<pb::ListArticleVersionsRequest>,
    ) -> Result<Response<pb::ListArticleVersionsResponse>, Status> {
        let caller = caller(&request)?;
        if !caller.is_staff() {
            return Err(Status::permission_denied("the history of an article is for staff"));
        }
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: ArticleId = violations.id("id", &request.id);
        let limit = page::page_size(&mut violations, request.page_size);
        let before: Option<VersionCursor> = page::decode(&mut violations, &request.page_token);
        violations.into_result()?;
        let (rows, next) = self.store.list_versions(id, before.map(|c| c.before), limit).await?;
        let versions = rows.into_iter().map(|(version, previous)| version_message(version, previous.as_ref())).collect();
        Ok(Response::new(pb::ListArticleVersionsResponse {
            versions,
            next_page_token: next.map(|before| page::encode(&VersionCursor { before })).unwrap_or_default(),
        }))
    }

    async fn search_articles(
        &self,
        request: Request<pb::SearchArticlesRequest>,
    ) -> Result<Response<pb::SearchArticlesResponse>, Status> {
        let caller = caller(&request)?;
        let reader = reader(&caller);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let text = violations.required_text("query", &request.query, search::QUERY_MAX);
        let query = search::parse(&text);
        if !text.is_empty() && query.is_empty() {
            violations.add("query", "has no word to look for");
        }
        let limit = page::page_size(&mut violations, request.page_size).min(search::PAGE_MAX);
        let offset = page::decode::<OffsetCursor>(&mut violations, &request.page_token).map_or(0, |c| c.offset);
        // A reader may narrow to one audience it may read, never widen.
        let audiences: Vec<Audience> = match pb::Audience::try_from(request.audience) {
            Ok(pb::Audience::Unspecified) => reader.audiences().to_vec(),
            _ => {
                let wanted = parse_audience(&mut violations, "audience", request.audience);
                reader.audiences().iter().copied().filter(|a| *a == wanted).collect()
            }
        };
        let filter = SearchFilter {
            audiences,
            category_id: violations
                .opt_id::<crate::domain::CategoryId>("category_id", &request.category_id)
                .map(|id| id.to_string()),
            tag: tag_filter(&mut violations, &request.tag),
            locale: locale_filter(&mut violations, &request.locale),
        };
        violations.into_result()?;
        let results = self.store.search(&query, &filter, offset, limit).await?;
        let hits = results
            .hits
            .into_iter()
            .map(|hit| pb::SearchHit {
                audience: Audience::from_name(&hit.audience).map_or(pb::Audience::Unspecified, wire::audience) as i32,
                article_id: hit.article_id,
                slug: hit.slug,
                title: hit.title,
                snippet: hit.snippet,
                rank: hit.rank,
            })
            .collect();
        let next_page_token = if results.more { page::encode(&OffsetCursor { offset: offset + limit }) } else { String::new() };
        let corrected_query = results.corrected.unwrap_or_default();
        Ok(Response::new(pb::SearchArticlesResponse { hits, next_page_token, corrected_query }))
    }

    async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Result<Response<pb::RecordFeedbackResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: ArticleId = violations.id("article_id", &request.article_id);
        let comment = violations.optional_text("comment", &request.comment, COMMENT_MAX);
        violations.into_result()?;
        let stored = self.readable(&caller, id).await?;
        self.store.record_feedback(&stored.article, request.helpful, &comment, &actor(&caller, "")).await?;
        Ok(Response::new(pb::RecordFeedbackResponse {}))
    }

    async fn record_view(&self, request: Request<pb::RecordViewRequest>) -> Result<Response<pb::RecordViewResponse>, Status> {
        let caller = caller(&request)?;
        let mut violations = FieldViolations::new();
        let id: ArticleId = violations.id("article_id", &request.get_ref().article_id);
        violations.into_result()?;
        self.readable(&caller, id).await?;
        self.store.record_view(id).await?;
        Ok(Response::new(pb::RecordViewResponse {}))
    }
}

/// Where a page of search results stopped: ranks are not a stable key,
/// so the next page is by position.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct OffsetCursor {
    offset: u64,
}

/// Where a page of versions stopped: the versions after it are older.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct VersionCursor {
    before: i32,
}

fn version_message(version: article_version::Model, previous: Option<&article_version::Model>) -> pb::ArticleVersion {
    let (old_title, old_body) = previous.map_or(("", ""), |p| (p.title.as_str(), p.body_markdown.as_str()));
    pb::ArticleVersion {
        title_diff: crate::domain::articles::diff(old_title, &version.title),
        body_diff: crate::domain::articles::diff(old_body, &version.body_markdown),
        version: version.version,
        title: version.title,
        body_markdown: version.body_markdown,
        author_id: version.author_id,
        publish_time: Some(docket_kit::time::to_proto(version.published_at)),
    }
}
