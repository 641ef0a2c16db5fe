//! The JSON shapes of the knowledge base (the knowledge service's
//! `ArticleService`, `CategoryService`, `ArticleLinkService`,
//! `DraftProposalService` and `DeflectionService`).

use chrono::{DateTime, Utc};
use docket_proto::knowledge::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{enum_or_unspecified, reference, time};

wire_enum!(
    /// Who may read an article: `internal` (staff), `customers` (logged-in
    /// portal customers and staff), `public` (anyone on the help center).
    Audience => pb::Audience { Internal, Customers, Public }
);
wire_enum!(
    /// Where an article stands: `draft` → `in_review` → `published`
    /// (`scheduled` until its publish time) → `archived`.
    ArticleState => pb::ArticleState { Draft, InReview, Scheduled, Published, Archived }
);
wire_enum!(
    /// Whether a draft proposal still waits for a decision.
    ProposalState => pb::ProposalState { Open, Accepted, Dismissed }
);

/// An article. Readers see its published version; staff asking with
/// `include_draft` see the version being edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Article {
    pub id: String,
    /// Lowercase a-z, digits and dashes; the help center's address of the article.
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Markdown.
    pub body_markdown: String,
    /// The body rendered and sanitized.
    pub body_html: String,
    /// BCP 47, e.g. `en`, `de-CH`.
    pub locale: String,
    pub category_id: Option<String>,
    pub tags: Vec<String>,
    pub audience: Option<Audience>,
    pub related_article_ids: Vec<String>,
    /// A staff user id.
    pub owner_id: Option<String>,
    pub state: Option<ArticleState>,
    /// The version shown.
    pub version: i32,
    pub publish_time: Option<DateTime<Utc>>,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    pub view_count: i64,
    pub helpful_count: i64,
    pub not_helpful_count: i64,
    pub etag: String,
}

impl From<pb::Article> for Article {
    fn from(a: pb::Article) -> Self {
        Self {
            audience: Audience::from_proto(a.audience),
            state: ArticleState::from_proto(a.state),
            publish_time: time(a.publish_time),
            create_time: time(a.create_time),
            update_time: time(a.update_time),
            category_id: reference(a.category_id),
            owner_id: reference(a.owner_id),
            id: a.id,
            slug: a.slug,
            title: a.title,
            summary: a.summary,
            body_markdown: a.body_markdown,
            body_html: a.body_html,
            locale: a.locale,
            tags: a.tags,
            related_article_ids: a.related_article_ids,
            version: a.version,
            view_count: a.view_count,
            helpful_count: a.helpful_count,
            not_helpful_count: a.not_helpful_count,
            etag: a.etag,
        }
    }
}

/// The fields of an article a create sets or an update changes (on update,
/// only the fields present; `title` and `audience` are required on create).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleFields {
    pub title: Option<String>,
    /// Made from the title when absent on create.
    pub slug: Option<String>,
    pub summary: Option<String>,
    pub body_markdown: Option<String>,
    /// `en` when absent on create.
    pub locale: Option<String>,
    /// `""` for none.
    pub category_id: Option<String>,
    pub tags: Option<Vec<String>>,
    pub audience: Option<Audience>,
    pub related_article_ids: Option<Vec<String>>,
    /// A staff user id; `""` for none.
    pub owner_id: Option<String>,
    /// Update only: why, for the audit trail.
    pub reason: Option<String>,
}

impl ArticleFields {
    pub fn into_proto(self) -> (pb::Article, Vec<String>) {
        let mask = [
            ("title", self.title.is_some()),
            ("slug", self.slug.is_some()),
            ("summary", self.summary.is_some()),
            ("body_markdown", self.body_markdown.is_some()),
            ("locale", self.locale.is_some()),
            ("category_id", self.category_id.is_some()),
            ("tags", self.tags.is_some()),
            ("audience", self.audience.is_some()),
            ("related_article_ids", self.related_article_ids.is_some()),
            ("owner_id", self.owner_id.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect();
        let article = pb::Article {
            title: self.title.unwrap_or_default(),
            slug: self.slug.unwrap_or_default(),
            summary: self.summary.unwrap_or_default(),
            body_markdown: self.body_markdown.unwrap_or_default(),
            locale: self.locale.unwrap_or_default(),
            category_id: self.category_id.unwrap_or_default(),
            tags: self.tags.unwrap_or_default(),
            audience: enum_or_unspecified(self.audience, Audience::to_proto),
            related_article_ids: self.related_article_ids.unwrap_or_default(),
            owner_id: self.owner_id.unwrap_or_default(),
            ..Default::default()
        };
        (article, mask)
    }
}

/// A page of articles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArticlePage {
    pub articles: Vec<Article>,
    pub next_page_token: Option<String>,
}

/// Filters and paging of `GET /kb/articles`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
    pub category_id: Option<String>,
    pub tag: Option<String>,
    pub state: Option<ArticleState>,
    pub audience: Option<Audience>,
    pub locale: Option<String>,
}

impl From<ArticleQuery> for pb::ListArticlesRequest {
    fn from(q: ArticleQuery) -> Self {
        Self {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            category_id: q.category_id.unwrap_or_default(),
            tag: q.tag.unwrap_or_default(),
            state: enum_or_unspecified(q.state, ArticleState::to_proto),
            audience: enum_or_unspecified(q.audience, Audience::to_proto),
            locale: q.locale.unwrap_or_default(),
        }
    }
}

/// `GET /kb/articles/{article}`: which version.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleRead {
    /// The version being edited rather than the published one.
    pub include_draft: Option<bool>,
}

/// A move of an article through its lifecycle (submit, reject, archive).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleStep {
    /// Shown to the author (reject) and kept in the audit trail.
    #[serde(default)]
    pub comment: String,
}

/// Publishes an article now, or schedules it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishArticle {
    /// Absent: now.
    pub publish_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub comment: String,
}

/// One published version of an article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArticleVersion {
    pub version: i32,
    pub title: String,
    pub body_markdown: String,
    pub author_id: String,
    pub publish_time: Option<DateTime<Utc>>,
    /// Unified diff of the title against the version before.
    pub title_diff: String,
    /// Unified diff of the body against the version before.
    pub body_diff: String,
}

/// A page of an article's versions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArticleVersionPage {
    pub versions: Vec<ArticleVersion>,
    pub next_page_token: Option<String>,
}

impl From<pb::ListArticleVersionsResponse> for ArticleVersionPage {
    fn from(r: pb::ListArticleVersionsResponse) -> Self {
        Self {
            versions: r
                .versions
                .into_iter()
                .map(|v| ArticleVersion {
                    version: v.version,
                    title: v.title,
                    body_markdown: v.body_markdown,
                    author_id: v.author_id,
                    publish_time: time(v.publish_time),
                    title_diff: v.title_diff,
                    body_diff: v.body_diff,
                })
                .collect(),
            next_page_token: reference(r.next_page_token),
        }
    }
}

/// `GET /kb/search`: the query and its filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Web-search syntax: words, `"a phrase"`, `-word`, `a or b`.
    pub q: String,
    /// At most 50; 0 or absent means 20.
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
    pub category_id: Option<String>,
    pub tag: Option<String>,
    pub locale: Option<String>,
    /// Narrows to one audience.
    pub audience: Option<Audience>,
}

impl From<SearchQuery> for pb::SearchArticlesRequest {
    fn from(q: SearchQuery) -> Self {
        Self {
            query: q.q,
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            category_id: q.category_id.unwrap_or_default(),
            tag: q.tag.unwrap_or_default(),
            locale: q.locale.unwrap_or_default(),
            audience: enum_or_unspecified(q.audience, Audience::to_proto),
        }
    }
}

/// One article found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub article_id: String,
    pub slug: String,
    pub title: String,
    /// Text around the matches, HTML-escaped, each match between `<mark>` and `</mark>`.
    pub snippet: String,
    pub rank: f64,
    pub audience: Option<Audience>,
}

/// A page of search results, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub next_page_token: Option<String>,
    /// When nothing matched the query as typed: the query these hits match
    /// instead, its typos corrected ("pritner" → "printer").
    pub corrected_query: Option<String>,
}

impl From<pb::SearchArticlesResponse> for SearchPage {
    fn from(r: pb::SearchArticlesResponse) -> Self {
        Self {
            hits: r
                .hits
                .into_iter()
                .map(|h| SearchHit {
                    audience: Audience::from_proto(h.audience),
                    article_id: h.article_id,
                    slug: h.slug,
                    title: h.title,
                    snippet: h.snippet,
                    rank: h.rank,
                })
                .collect(),
            next_page_token: reference(r.next_page_token),
            corrected_query: reference(r.corrected_query),
        }
    }
}

/// A category of the help center's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Category {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Absent for a top-level category.
    pub parent_id: Option<String>,
    pub position: i32,
    pub etag: String,
    /// Whether a live article the caller may read is filed in this
    /// category itself (read only).
    pub has_articles: bool,
}

impl From<pb::Category> for Category {
    fn from(c: pb::Category) -> Self {
        Self {
            parent_id: reference(c.parent_id),
            id: c.id,
            slug: c.slug,
            name: c.name,
            description: c.description,
            position: c.position,
            etag: c.etag,
            has_articles: c.has_articles,
        }
    }
}

/// The fields of a category a create sets or an update changes (`name` is
/// required on create).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryFields {
    pub name: Option<String>,
    /// Made from the name when absent on create.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// `""` for a top-level category.
    pub parent_id: Option<String>,
    /// The order among its siblings.
    #[serde(default, deserialize_with = "super::whole_number::deserialize_option")]
    pub position: Option<i32>,
    /// Update only: why, for the audit trail.
    pub reason: Option<String>,
}

impl CategoryFields {
    pub fn into_proto(self) -> (pb::Category, Vec<String>) {
        let mask = [
            ("name", self.name.is_some()),
            ("slug", self.slug.is_some()),
            ("description", self.description.is_some()),
            ("parent_id", self.parent_id.is_some()),
            ("position", self.position.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect();
        let category = pb::Category {
            name: self.name.unwrap_or_default(),
            slug: self.slug.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            parent_id: self.parent_id.unwrap_or_default(),
            position: self.position.unwrap_or_default(),
            ..Default::default()
        };
        (category, mask)
    }
}

/// Every category, parents before their children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CategoryList {
    pub categories: Vec<Category>,
}

/// A file attached to an article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    pub id: String,
    pub article_id: String,
    /// The name's last part, as uploaded.
    pub file_name: String,
    /// Read from the bytes: `image/png`, `image/jpeg`, `image/gif`,
    /// `image/webp`, `application/pdf` or `text/plain; charset=utf-8`.
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the bytes, hex.
    pub digest: String,
    pub create_time: Option<DateTime<Utc>>,
    /// Where staff download it (`/api/v1/kb/attachments/{id}`); Markdown
    /// links readers to `/help/files/{id}`.
    pub url: String,
}

impl From<pb::Attachment> for Attachment {
    fn from(a: pb::Attachment) -> Self {
        Self {
            url: format!("/api/v1/kb/attachments/{}", a.id),
            create_time: time(a.create_time),
            id: a.id,
            article_id: a.article_id,
            file_name: a.file_name,
            content_type: a.content_type,
            size: a.size,
            digest: a.digest,
        }
    }
}

/// `POST /kb/articles/{article}/attachments`: the file's name (the body is its bytes).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttachmentUpload {
    pub file_name: String,
}

/// A file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileBytes(Vec<u8>);

/// A link between an article and a case it helped solve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArticleCaseLink {
    pub article_id: String,
    pub case_id: String,
    /// The staff user who linked them.
    pub linked_by: String,
    pub create_time: Option<DateTime<Utc>>,
}

/// Links an article to a case.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArticleCaseLink {
    pub case_id: String,
}

/// A page of links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArticleCaseLinkPage {
    pub links: Vec<ArticleCaseLink>,
    pub next_page_token: Option<String>,
}

impl From<pb::ArticleCaseLink> for ArticleCaseLink {
    fn from(l: pb::ArticleCaseLink) -> Self {
        Self { create_time: time(l.create_time), article_id: l.article_id, case_id: l.case_id, linked_by: l.linked_by }
    }
}

impl From<pb::ListArticleCaseLinksResponse> for ArticleCaseLinkPage {
    fn from(r: pb::ListArticleCaseLinksResponse) -> Self {
        Self { links: r.links.into_iter().map(Into::into).collect(), next_page_token: reference(r.next_page_token) }
    }
}

/// What redaction replaced in a proposal's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Redaction {
    /// `name`, `email`, `phone`, `iban`, `card`, `ip_address`, `serial`.
    pub kind: String,
    pub count: i32,
}

/// A draft article proposed from a closed case, redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DraftProposal {
    pub id: String,
    pub case_id: String,
    pub case_number: String,
    pub title: String,
    pub body_markdown: String,
    pub redactions: Vec<Redaction>,
    /// Set when a published article already answers the problem.
    pub existing_article_id: Option<String>,
    pub state: Option<ProposalState>,
    pub create_time: Option<DateTime<Utc>>,
    pub etag: String,
}

impl From<pb::DraftProposal> for DraftProposal {
    fn from(p: pb::DraftProposal) -> Self {
        Self {
            state: ProposalState::from_proto(p.state),
            create_time: time(p.create_time),
            existing_article_id: reference(p.existing_article_id),
            redactions: p.redactions.into_iter().map(|r| Redaction { kind: r.kind, count: r.count }).collect(),
            id: p.id,
            case_id: p.case_id,
            case_number: p.case_number,
            title: p.title,
            body_markdown: p.body_markdown,
            etag: p.etag,
        }
    }
}

/// A page of proposals, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DraftProposalPage {
    pub proposals: Vec<DraftProposal>,
    pub next_page_token: Option<String>,
}

/// Filters and paging of `GET /kb/proposals`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
    pub state: Option<ProposalState>,
}

/// Accepts or dismisses a proposal.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalDecision {
    #[serde(default)]
    pub reason: String,
}

/// `GET /kb/deflection`: the period and source.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeflectionQuery {
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    /// `day` (absent), `week` (from Monday) or `month`, in UTC.
    pub period: Option<String>,
    /// `portal`, or a web form's slug; absent: every source.
    pub source: Option<String>,
}

impl From<DeflectionQuery> for pb::GetDeflectionStatsRequest {
    fn from(q: DeflectionQuery) -> Self {
        Self {
            start_time: Some(docket_kit::time::to_proto(q.start_time)),
            end_time: Some(docket_kit::time::to_proto(q.end_time)),
            period: q.period.unwrap_or_default(),
            source: q.source.unwrap_or_default(),
        }
    }
}

/// What suggestions did in one period for one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeflectionPeriod {
    pub start_time: Option<DateTime<Utc>>,
    pub source: String,
    /// Visits that were shown suggestions.
    pub sessions_with_suggestions: i64,
    /// Articles opened from suggestions.
    pub articles_opened: i64,
    /// Visits whose problem an article solved, with no case opened.
    pub solved_without_case: i64,
    /// Visits that saw suggestions and opened a case anyway.
    pub cases_opened_anyway: i64,
}

/// Deflection per period and source, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeflectionStats {
    pub periods: Vec<DeflectionPeriod>,
}

impl From<pb::DeflectionStats> for DeflectionStats {
    fn from(s: pb::DeflectionStats) -> Self {
        Self {
            periods: s
                .periods
                .into_iter()
                .map(|p| DeflectionPeriod {
                    start_time: time(p.start_time),
                    source: p.source,
                    sessions_with_suggestions: p.sessions_with_suggestions,
                    articles_opened: p.articles_opened,
                    solved_without_case: p.solved_without_case,
                    cases_opened_anyway: p.cases_opened_anyway,
                })
                .collect(),
        }
    }
}
