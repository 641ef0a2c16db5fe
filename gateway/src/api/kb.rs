//! `/api/v1/kb/...`: the knowledge base for staff: articles and their
//! lifecycle and versions, search, categories, links to cases, draft
//! proposals from closed cases, and deflection statistics. Each handler is
//! one call to the knowledge service with the caller's own token, so the
//! service decides what the caller may read and do.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use docket_proto::knowledge::v1::{self as pb, get_article_request::Lookup};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    created,
    extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey, IfMatch},
    model::{
        PageQuery,
        kb::{
            Article, ArticleCaseLink, ArticleCaseLinkPage, ArticleFields, ArticlePage, ArticleQuery, ArticleRead, ArticleStep,
            ArticleVersionPage, Attachment, AttachmentUpload, Category, CategoryFields, CategoryList, DeflectionQuery,
            DeflectionStats, DraftProposal, DraftProposalPage, FileBytes, NewArticleCaseLink, ProposalDecision, ProposalQuery,
            ProposalState, PublishArticle, SearchPage, SearchQuery,
        },
        next_page,
    },
    with_etag,
};
use crate::{GatewayState, problem::Problem, upstream::KnowledgeClients};

/// Largest body of a knowledge-base request: an article's Markdown may hold
/// 200,000 characters, and JSON may spell one as a 12-byte escape.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, update_article))
        .routes(routes!(submit_article))
        .routes(routes!(reject_article))
        .routes(routes!(publish_article))
        .routes(routes!(archive_article))
        .routes(routes!(list_article_versions))
        .routes(routes!(list_article_cases, link_article_to_case))
        .routes(routes!(list_case_articles))
        .routes(routes!(search_articles))
        .routes(routes!(list_categories, create_category))
        .routes(routes!(update_category))
        .routes(routes!(list_proposals))
        .routes(routes!(accept_proposal))
        .routes(routes!(dismiss_proposal))
        .routes(routes!(get_deflection_stats))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        // Files: the knowledge service takes up to 10 MiB.
        .merge(
            OpenApiRouter::new().routes(routes!(upload_attachment)).layer(axum::extract::DefaultBodyLimit::max(FILE_BODY_LIMIT)),
        )
        .routes(routes!(get_attachment))
}

/// Largest file upload: the knowledge service's 10 MiB and a little more,
/// so that it, not the gateway, says what the limit is.
const FILE_BODY_LIMIT: usize = 10 * 1024 * 1024 + 1024;

/// Attaches a file to an article: the body is the file's bytes, sent as
/// `application/octet-stream`; its kind is read from the bytes (PNG, JPEG,
/// GIF, WebP, PDF, UTF-8 text), never from the name. The same bytes are
/// stored once however many files hold them.
#[utoipa::path(post, path = "/kb/articles/{article}/attachments", tag = "knowledge base",
    params(("article" = String, Path, format = Uuid, description = "The article's id"), AttachmentUpload),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The file's bytes, at most 10 MiB"),
    responses(
        (status = CREATED, description = "The file", body = Attachment),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
    ))]
async fn upload_attachment(
    mut clients: KnowledgeClients,
    ApiPath(article_id): ApiPath<String>,
    ApiQuery(upload): ApiQuery<AttachmentUpload>,
    headers: http::HeaderMap,
    body: Result<bytes::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, Problem> {
    let binary = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"));
    if !binary {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file's bytes as the body, with `Content-Type: application/octet-stream`",
        ));
    }
    let content = body?.to_vec();
    let request = pb::UploadAttachmentRequest { article_id, file_name: upload.file_name, content };
    let attachment: Attachment = clients.attachments.upload_attachment(request).await?.into_inner().into();
    Ok((StatusCode::CREATED, Json(attachment)).into_response())
}

/// A file of an article, with the type read from its bytes,
/// `Content-Disposition` (images inline, the rest as downloads), `nosniff`
/// and a sandboxing CSP.
#[utoipa::path(get, path = "/kb/attachments/{attachment}", tag = "knowledge base",
    params(("attachment" = String, Path, format = Uuid, description = "The file's id")),
    responses(
        (status = OK, description = "The file's bytes",
            content((FileBytes = "image/png"), (FileBytes = "image/jpeg"), (FileBytes = "image/gif"), (FileBytes = "image/webp"),
                (FileBytes = "application/pdf"), (FileBytes = "text/plain; charset=utf-8")),
            headers(("Content-Disposition" = String, description = "`inline` for images, else `attachment`, with the file's name"))),
        (status = NOT_FOUND, description = "No such file", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_attachment(mut clients: KnowledgeClients, ApiPath(id): ApiPath<String>) -> Result<Response, Problem> {
    let content = clients.attachments.get_attachment(pb::GetAttachmentRequest { id }).await?.into_inner();
    Ok(crate::pages::help::file_response(&content.attachment.unwrap_or_default(), content.content))
}

/// The fields of an update, or 400 when the body names none.
fn update_mask(mask: Vec<String>) -> Result<Option<prost_types::FieldMask>, Problem> {
    if mask.is_empty() {
        return Err(Problem::bad_request("the body names no field to change"));
    }
    Ok(Some(prost_types::FieldMask { paths: mask }))
}

/// An article with its etag in the `ETag` header.
fn article_answer(answer: Result<tonic::Response<pb::Article>, tonic::Status>, if_match: &IfMatch) -> Result<Response, Problem> {
    let article: Article = answer.map_err(|s| Problem::from_status(&s, if_match.is_conditional()))?.into_inner().into();
    let etag = article.etag.clone();
    Ok(with_etag(StatusCode::OK, article, &etag))
}

/// Lists articles (staff: every state; filters by category, tag, state, audience, locale).
#[utoipa::path(get, path = "/kb/articles", tag = "knowledge base", params(ArticleQuery),
    responses((status = OK, description = "A page of articles", body = ArticlePage)))]
async fn list_articles(
    mut clients: KnowledgeClients,
    ApiQuery(query): ApiQuery<ArticleQuery>,
) -> Result<Json<ArticlePage>, Problem> {
    let page = clients.articles.list_articles(pb::ListArticlesRequest::from(query)).await?.into_inner();
    Ok(Json(ArticlePage {
        articles: page.articles.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// Writes a new draft article. The same `Idempotency-Key` returns the first article.
#[utoipa::path(post, path = "/kb/articles", tag = "knowledge base", request_body = ArticleFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses(
        (status = CREATED, description = "The new draft", body = Article,
            headers(("Location" = String, description = "The article's address"), ("ETag" = String))),
        (status = CONFLICT, description = "Another article has this slug", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_article(
    mut clients: KnowledgeClients,
    key: IdempotencyKey,
    ApiJson(fields): ApiJson<ArticleFields>,
) -> Result<Response, Problem> {
    let (article, _) = fields.into_proto();
    let request = pb::CreateArticleRequest { article: Some(article), idempotency_key: key.0 };
    let article: Article =
        clients.articles.create_article(request).await.map_err(|s| IdempotencyKey::reused(s.into()))?.into_inner().into();
    let location = format!("{}/kb/articles/{}", super::PREFIX, article.id);
    let etag = article.etag.clone();
    Ok(created(article, &location, &etag))
}

/// Reads one article by its id or its slug: the published version, or with
/// `include_draft` the one being edited.
#[utoipa::path(get, path = "/kb/articles/{article}", tag = "knowledge base",
    params(("article" = String, Path, description = "The article's id or its slug"), ArticleRead),
    responses(
        (status = OK, description = "The article", body = Article, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_article(
    mut clients: KnowledgeClients,
    ApiPath(article): ApiPath<String>,
    ApiQuery(read): ApiQuery<ArticleRead>,
) -> Result<Response, Problem> {
    let lookup = if uuid::Uuid::try_parse(&article).is_ok() { Lookup::Id(article) } else { Lookup::Slug(article) };
    let request = pb::GetArticleRequest { lookup: Some(lookup), include_draft: read.include_draft.unwrap_or_default() };
    article_answer(clients.articles.get_article(request).await, &IfMatch(None))
}

/// Changes the fields present in the body; absent fields are kept. A
/// published article gets a new draft version; readers keep the published
/// one until the next publish.
#[utoipa::path(patch, path = "/kb/articles/{article}", tag = "knowledge base", request_body = ArticleFields,
    params(
        ("article" = String, Path, format = Uuid, description = "The article's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed article", body = Article, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another article has this slug, or the article is archived", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The article changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_article(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<ArticleFields>,
) -> Result<Response, Problem> {
    let etag = if_match.clone().required()?;
    let reason = fields.reason.clone().unwrap_or_default();
    let (mut article, mask) = fields.into_proto();
    article.id = id;
    article.etag = etag;
    let request = pb::UpdateArticleRequest { article: Some(article), update_mask: update_mask(mask)?, reason };
    article_answer(clients.articles.update_article(request).await, &if_match)
}

fn step(id: String, if_match: &IfMatch, body: ArticleStep) -> pb::ArticleTransitionRequest {
    pb::ArticleTransitionRequest { id, etag: if_match.etag(), comment: body.comment }
}

/// Sends a draft to review.
#[utoipa::path(post, path = "/kb/articles/{article}/submit", tag = "knowledge base", request_body = ArticleStep,
    params(
        ("article" = String, Path, format = Uuid, description = "The article's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the article is still at this etag"),
    ),
    responses(
        (status = OK, description = "The article, in review", body = Article, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The article is not a draft", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The article changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn submit_article(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ArticleStep>,
) -> Result<Response, Problem> {
    article_answer(clients.articles.submit_article_for_review(step(id, &if_match, body)).await, &if_match)
}

/// Sends an article in review back to draft, with a comment for its author.
#[utoipa::path(post, path = "/kb/articles/{article}/reject", tag = "knowledge base", request_body = ArticleStep,
    params(
        ("article" = String, Path, format = Uuid, description = "The article's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the article is still at this etag"),
    ),
    responses(
        (status = OK, description = "The article, a draft again", body = Article, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The article is not in review", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The article changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reject_article(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ArticleStep>,
) -> Result<Response, Problem> {
    article_answer(clients.articles.reject_article(step(id, &if_match, body)).await, &if_match)
}

/// Publishes an article in review (a reviewer other than its submitter),
/// or a draft directly (admins); with `publish_time` in the future, schedules it.
#[utoipa::path(post, path = "/kb/articles/{article}/publish", tag = "knowledge base", request_body = PublishArticle,
    params(
        ("article" = String, Path, format = Uuid, description = "The article's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the article is still at this etag"),
    ),
    responses(
        (status = OK, description = "The article, published or scheduled", body = Article, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The article cannot be published from its state", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The article changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn publish_article(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<PublishArticle>,
) -> Result<Response, Problem> {
    let request = pb::PublishArticleRequest {
        id,
        etag: if_match.etag(),
        publish_time: body.publish_time.map(docket_kit::time::to_proto),
        comment: body.comment,
    };
    article_answer(clients.articles.publish_article(request).await, &if_match)
}

/// Archives a published article: its page says so instead of showing it.
#[utoipa::path(post, path = "/kb/articles/{article}/archive", tag = "knowledge base", request_body = ArticleStep,
    params(
        ("article" = String, Path, format = Uuid, description = "The article's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the article is still at this etag"),
    ),
    responses(
        (status = OK, description = "The archived article", body = Article, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The article is not published", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The article changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn archive_article(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ArticleStep>,
) -> Result<Response, Problem> {
    article_answer(clients.articles.archive_article(step(id, &if_match, body)).await, &if_match)
}

/// An article's published versions, newest first, each with a diff against the one before.
#[utoipa::path(get, path = "/kb/articles/{article}/versions", tag = "knowledge base",
    params(("article" = String, Path, format = Uuid, description = "The article's id"), PageQuery),
    responses(
        (status = OK, description = "A page of versions", body = ArticleVersionPage),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_article_versions(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<ArticleVersionPage>, Problem> {
    let request = pb::ListArticleVersionsRequest {
        id,
        page_size: page.page_size.unwrap_or_default(),
        page_token: page.page_token.unwrap_or_default(),
    };
    Ok(Json(clients.articles.list_article_versions(request).await?.into_inner().into()))
}

/// The cases an article helped solve.
#[utoipa::path(get, path = "/kb/articles/{article}/cases", tag = "knowledge base",
    params(("article" = String, Path, format = Uuid, description = "The article's id"), PageQuery),
    responses(
        (status = OK, description = "A page of links", body = ArticleCaseLinkPage),
        (status = NOT_FOUND, description = "No such article", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_article_cases(
    mut clients: KnowledgeClients,
    ApiPath(article_id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<ArticleCaseLinkPage>, Problem> {
    let request = pb::ListArticleCasesRequest {
        article_id,
        page_size: page.page_size.unwrap_or_default(),
        page_token: page.page_token.unwrap_or_default(),
    };
    Ok(Json(clients.links.list_article_cases(request).await?.into_inner().into()))
}

/// Links an article to a case it helped solve (linking again changes nothing).
#[utoipa::path(post, path = "/kb/articles/{article}/cases", tag = "knowledge base", request_body = NewArticleCaseLink,
    params(("article" = String, Path, format = Uuid, description = "The article's id")),
    responses(
        (status = OK, description = "The link", body = ArticleCaseLink),
        (status = NOT_FOUND, description = "No such article or case", body = Problem, content_type = "application/problem+json"),
    ))]
async fn link_article_to_case(
    mut clients: KnowledgeClients,
    ApiPath(article_id): ApiPath<String>,
    ApiJson(body): ApiJson<NewArticleCaseLink>,
) -> Result<Json<ArticleCaseLink>, Problem> {
    let request = pb::LinkArticleToCaseRequest { article_id, case_id: body.case_id };
    Ok(Json(clients.links.link_article_to_case(request).await?.into_inner().into()))
}

/// The articles linked to a case.
#[utoipa::path(get, path = "/kb/cases/{case}/articles", tag = "knowledge base",
    params(("case" = String, Path, format = Uuid, description = "The case's id")),
    responses((status = OK, description = "The links", body = ArticleCaseLinkPage)))]
async fn list_case_articles(
    mut clients: KnowledgeClients,
    ApiPath(case_id): ApiPath<String>,
) -> Result<Json<ArticleCaseLinkPage>, Problem> {
    Ok(Json(clients.links.list_case_articles(pb::ListCaseArticlesRequest { case_id }).await?.into_inner().into()))
}

/// Searches articles, best match first, with highlighted snippets; typos
/// still find titles.
#[utoipa::path(get, path = "/kb/search", tag = "knowledge base", params(SearchQuery),
    responses((status = OK, description = "A page of results", body = SearchPage)))]
async fn search_articles(
    mut clients: KnowledgeClients,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchPage>, Problem> {
    Ok(Json(clients.articles.search_articles(pb::SearchArticlesRequest::from(query)).await?.into_inner().into()))
}

/// Every category, parents before their children.
#[utoipa::path(get, path = "/kb/categories", tag = "knowledge base",
    responses((status = OK, description = "The categories", body = CategoryList)))]
async fn list_categories(mut clients: KnowledgeClients) -> Result<Json<CategoryList>, Problem> {
    let list = clients.categories.list_categories(pb::ListCategoriesRequest {}).await?.into_inner();
    Ok(Json(CategoryList { categories: list.categories.into_iter().map(Into::into).collect() }))
}

/// Files a new category (admins). The same `Idempotency-Key` returns the first category.
#[utoipa::path(post, path = "/kb/categories", tag = "knowledge base", request_body = CategoryFields,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first result")),
    responses(
        (status = CREATED, description = "The new category", body = Category,
            headers(("Location" = String, description = "The categories' address"), ("ETag" = String))),
        (status = CONFLICT, description = "Another category has this slug", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_category(
    mut clients: KnowledgeClients,
    key: IdempotencyKey,
    ApiJson(fields): ApiJson<CategoryFields>,
) -> Result<Response, Problem> {
    let (category, _) = fields.into_proto();
    let request = pb::CreateCategoryRequest { category: Some(category), idempotency_key: key.0 };
    let category: Category =
        clients.categories.create_category(request).await.map_err(|s| IdempotencyKey::reused(s.into()))?.into_inner().into();
    let etag = category.etag.clone();
    Ok(created(category, &format!("{}/kb/categories", super::PREFIX), &etag))
}

/// Changes the fields present in the body (admins).
#[utoipa::path(patch, path = "/kb/categories/{category}", tag = "knowledge base", request_body = CategoryFields,
    params(
        ("category" = String, Path, format = Uuid, description = "The category's id"),
        ("If-Match" = String, Header, description = "The etag read last"),
    ),
    responses(
        (status = OK, description = "The changed category", body = Category, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such category", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "Another category has this slug", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The category changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_REQUIRED, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_category(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(fields): ApiJson<CategoryFields>,
) -> Result<Response, Problem> {
    let etag = if_match.required()?;
    let reason = fields.reason.clone().unwrap_or_default();
    let (mut category, mask) = fields.into_proto();
    category.id = id;
    category.etag = etag;
    let request = pb::UpdateCategoryRequest { category: Some(category), update_mask: update_mask(mask)?, reason };
    let category: Category =
        clients.categories.update_category(request).await.map_err(|s| Problem::from_status(&s, true))?.into_inner().into();
    let etag = category.etag.clone();
    Ok(with_etag(StatusCode::OK, category, &etag))
}

/// Draft articles proposed from closed cases, redacted, oldest first.
#[utoipa::path(get, path = "/kb/proposals", tag = "knowledge base", params(ProposalQuery),
    responses((status = OK, description = "A page of proposals", body = DraftProposalPage)))]
async fn list_proposals(
    mut clients: KnowledgeClients,
    ApiQuery(query): ApiQuery<ProposalQuery>,
) -> Result<Json<DraftProposalPage>, Problem> {
    let request = pb::ListDraftProposalsRequest {
        page_size: query.page_size.unwrap_or_default(),
        page_token: query.page_token.unwrap_or_default(),
        state: query.state.map_or(0, ProposalState::to_proto),
    };
    let page = clients.proposals.list_draft_proposals(request).await?.into_inner();
    Ok(Json(DraftProposalPage {
        proposals: page.proposals.into_iter().map(Into::into).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

fn decision(id: String, if_match: &IfMatch, body: ProposalDecision) -> pb::DecideDraftProposalRequest {
    pb::DecideDraftProposalRequest { id, etag: if_match.etag(), reason: body.reason }
}

/// Accepts a proposal: a draft article from it, or (when it points at an
/// article that already answers the problem) a link from that article to the case.
#[utoipa::path(post, path = "/kb/proposals/{proposal}/accept", tag = "knowledge base", request_body = ProposalDecision,
    params(
        ("proposal" = String, Path, format = Uuid, description = "The proposal's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the proposal is still at this etag"),
    ),
    responses(
        (status = OK, description = "The article the proposal became, or answered by", body = Article, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such proposal", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The proposal is decided already", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The proposal changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn accept_proposal(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ProposalDecision>,
) -> Result<Response, Problem> {
    article_answer(clients.proposals.accept_draft_proposal(decision(id, &if_match, body)).await, &if_match)
}

/// Dismisses a proposal.
#[utoipa::path(post, path = "/kb/proposals/{proposal}/dismiss", tag = "knowledge base", request_body = ProposalDecision,
    params(
        ("proposal" = String, Path, format = Uuid, description = "The proposal's id"),
        ("If-Match" = Option<String>, Header, description = "Only if the proposal is still at this etag"),
    ),
    responses(
        (status = OK, description = "The dismissed proposal", body = DraftProposal, headers(("ETag" = String))),
        (status = NOT_FOUND, description = "No such proposal", body = Problem, content_type = "application/problem+json"),
        (status = CONFLICT, description = "The proposal is decided already", body = Problem, content_type = "application/problem+json"),
        (status = PRECONDITION_FAILED, description = "The proposal changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn dismiss_proposal(
    mut clients: KnowledgeClients,
    ApiPath(id): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ProposalDecision>,
) -> Result<Response, Problem> {
    let proposal: DraftProposal = clients
        .proposals
        .dismiss_draft_proposal(decision(id, &if_match, body))
        .await
        .map_err(|s| Problem::from_status(&s, if_match.is_conditional()))?
        .into_inner()
        .into();
    let etag = proposal.etag.clone();
    Ok(with_etag(StatusCode::OK, proposal, &etag))
}

/// What suggested articles did, per period and source: visits shown
/// suggestions, articles opened, problems solved without a case, cases opened anyway.
#[utoipa::path(get, path = "/kb/deflection", tag = "knowledge base", params(DeflectionQuery),
    responses((status = OK, description = "The statistics", body = DeflectionStats)))]
async fn get_deflection_stats(
    mut clients: KnowledgeClients,
    ApiQuery(query): ApiQuery<DeflectionQuery>,
) -> Result<Json<DeflectionStats>, Problem> {
    let request = pb::GetDeflectionStatsRequest::from(query);
    Ok(Json(clients.deflection.get_deflection_stats(request).await?.into_inner().into()))
}
