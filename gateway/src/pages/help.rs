//! The help center, `/help/...`: the knowledge base's published articles,
//! server-rendered, readable without JavaScript. An anonymous visitor reads
//! `public` articles; a visitor logged in to the portal also reads
//! `customers` articles (the gateway asks the knowledge service for them on
//! behalf of the session's contact, once the portal service has checked the
//! session). What a visitor may read is decided by the knowledge service in
//! its queries: an article it may not read is "not found" here, exactly like
//! one that does not exist.
//!
//! An archived article keeps its address: the page says it is archived
//! (410 Gone) instead of 404, for the links in old emails.

use std::{collections::HashSet, sync::Arc};

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    body::Body,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use docket_proto::knowledge::v1 as pb;
use serde::Deserialize;
use tonic::Code;
use tracing::Instrument;

use super::{
    Branding, ErrorPage, PagePath,
    deflection::{self, Visit},
    portal::Chrome,
    status_page, when,
};
use crate::{
    GatewayState,
    csrf::{CsrfForm, CsrfToken},
    limits::{self, ClientIp},
    session::Visitor,
    upstream::ReaderClients,
};

pub fn routes() -> Router<GatewayState> {
    Router::new()
        .route("/help", get(home))
        .route("/help/search", get(search))
        .route("/help/categories/{slug}", get(category_page))
        .route("/help/articles/{slug}", get(article_page))
        .route("/help/articles/{slug}/feedback", post(feedback))
        .route("/help/articles/{slug}/solved", post(solved))
        .route("/help/suggest", get(super::deflection::suggest_json))
        .route("/help/files/{id}", get(file))
        .route("/help/sitemap.xml", get(sitemap))
}

/// Results per search page and articles per category page.
const PAGE_SIZE: i32 = 20;
/// Related articles shown under an article.
const RELATED_SHOWN: usize = 5;
/// "Did this help?" answers one client address may send per minute.
const FEEDBACK_PER_MINUTE: u32 = 10;
/// A client address counts as one more view of an article at most this often.
const VIEW_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);
/// The sitemap protocol's limit of addresses per file.
const SITEMAP_MAX: usize = 50_000;

/// The knowledge service, called for whoever is visiting.
fn reader(state: &GatewayState, visitor: Option<&Visitor>) -> ReaderClients {
    ReaderClients::of(state, visitor.map(|v| v.session.contact_id.as_str()))
}

/// A service refusal or failure as a page; "not found" in the help
/// center's words.
fn failure(state: &GatewayState, status: &tonic::Status) -> Response {
    match status.code() {
        Code::NotFound => {
            ErrorPage::response(state, StatusCode::NOT_FOUND, "There is no article here. Try searching the help center.")
        }
        _ => status_page(state, status),
    }
}

/// A category as a link.
struct CategoryLink {
    name: String,
    slug: String,
    description: String,
    /// Its subcategories (one level; deeper ones are listed under their top category).
    children: Vec<CategoryLink>,
}

impl CategoryLink {
    fn of(category: &pb::Category) -> Self {
        CategoryLink {
            name: category.name.clone(),
            slug: category.slug.clone(),
            description: category.description.clone(),
            children: Vec::new(),
        }
    }
}

/// Categories as the help center's home lists them: top ones with every
/// category below them (the service sends parents before children).
fn category_tree(categories: &[pb::Category]) -> Vec<CategoryLink> {
    fn top_of<'a>(categories: &'a [pb::Category], mut category: &'a pb::Category) -> &'a str {
        // The service keeps the tree free of cycles; the bound is a second fence.
        for _ in 0..categories.len() {
            match categories.iter().find(|c| !category.parent_id.is_empty() && c.id == category.parent_id) {
                Some(parent) => category = parent,
                None => break,
            }
        }
        &category.id
    }
    let mut tree: Vec<(String, CategoryLink)> =
        categories.iter().filter(|c| c.parent_id.is_empty()).map(|c| (c.id.clone(), CategoryLink::of(c))).collect();
    for category in categories.iter().filter(|c| !c.parent_id.is_empty()) {
        let top = top_of(categories, category);
        if let Some((_, link)) = tree.iter_mut().find(|(id, _)| id == top) {
            link.children.push(CategoryLink::of(category));
        }
    }
    tree.into_iter().map(|(_, link)| link).collect()
}

/// An article in a list.
struct ArticleLink {
    title: String,
    slug: String,
    summary: String,
    /// Only logged-in customers see it.
    customers_only: bool,
}

impl From<&pb::Article> for ArticleLink {
    fn from(article: &pb::Article) -> Self {
        ArticleLink {
            title: article.title.clone(),
            slug: article.slug.clone(),
            summary: article.summary.clone(),
            customers_only: article.audience == pb::Audience::Customers as i32,
        }
    }
}

// ---------------------------------------------------------------- home

#[derive(Template, WebTemplate)]
#[template(path = "help_home.html")]
struct HomePage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    canonical: String,
    categories: Vec<CategoryLink>,
    articles: Vec<ArticleLink>,
}

async fn home(State(state): State<GatewayState>, visitor: Option<Visitor>, csrf: CsrfToken) -> Response {
    let mut clients = reader(&state, visitor.as_ref());
    let categories = match categories(&mut clients).await {
        Ok(categories) => categories,
        Err(status) => return failure(&state, &status),
    };
    let articles = match latest_articles(&mut clients, "", PAGE_SIZE).await {
        Ok(articles) => articles,
        Err(status) => return failure(&state, &status),
    };
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(&state, visitor.as_ref(), &csrf);
    let page = HomePage {
        brand,
        visitor_name,
        csrf: token,
        canonical: format!("{}/help", state.settings.public_base_url),
        categories: category_tree(&categories),
        articles: articles.iter().map(ArticleLink::from).collect(),
    };
    (csrf, page).into_response()
}

/// Every category, parents before their children.
/// The categories that lead to an article the reader may read (one is
/// filed in them, or in one below them), parents before their children: a
/// topic with nothing to read for this visitor is not offered.
async fn categories(clients: &mut ReaderClients) -> Result<Vec<pb::Category>, tonic::Status> {
    let request = clients.request(pb::ListCategoriesRequest {});
    let all = clients.categories.list_categories(request).await?.into_inner().categories;
    let mut leading: HashSet<&str> = HashSet::new();
    for category in all.iter().filter(|c| c.has_articles) {
        let mut current = Some(category);
        // The tree has no cycles (the service refuses them); the bound is for safety.
        for _ in 0..all.len() {
            let Some(c) = current.filter(|c| leading.insert(c.id.as_str())) else { break };
            current = all.iter().find(|p| p.id == c.parent_id);
        }
    }
    let leading: HashSet<String> = leading.into_iter().map(str::to_owned).collect();
    Ok(all.into_iter().filter(|c| leading.contains(&c.id)).collect())
}

/// Up to `limit` published articles the reader may read, in `category_id`
/// when one is given.
async fn latest_articles(clients: &mut ReaderClients, category_id: &str, limit: i32) -> Result<Vec<pb::Article>, tonic::Status> {
    let request =
        clients.request(pb::ListArticlesRequest { page_size: limit, category_id: category_id.to_owned(), ..Default::default() });
    let answer = clients.articles.list_articles(request).await?.into_inner();
    Ok(answer.articles.into_iter().filter(|a| a.state == pb::ArticleState::Published as i32).collect())
}

// ---------------------------------------------------------------- search

#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page_token: String,
}

/// One search result.
struct Hit {
    title: String,
    slug: String,
    /// The snippet as text runs, each marked as a match or not; the page
    /// escapes them itself.
    snippet: Vec<(String, bool)>,
    customers_only: bool,
}

/// The service's snippet (`<mark>` around matches, the rest escaped) as text
/// runs: the page escapes them again itself rather than trusting markup
/// from another process.
pub(super) fn snippet_runs(html: &str) -> Vec<(String, bool)> {
    let unescape = |text: &str| {
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
    };
    let mut runs = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(start) = rest.find("<mark>") else {
            runs.push((unescape(rest), false));
            break;
        };
        if start > 0 {
            runs.push((unescape(&rest[..start]), false));
        }
        let after = &rest[start + "<mark>".len()..];
        let end = after.find("</mark>").unwrap_or(after.len());
        runs.push((unescape(&after[..end]), true));
        rest = after.get(end + "</mark>".len()..).unwrap_or("");
    }
    runs
}

#[derive(Template, WebTemplate)]
#[template(path = "help_search.html")]
struct SearchPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    q: String,
    error: Option<String>,
    hits: Vec<Hit>,
    next_page: Option<String>,
    /// What was searched for instead when nothing matched as typed.
    corrected: Option<String>,
}

async fn search(
    State(state): State<GatewayState>,
    visitor: Option<Visitor>,
    csrf: CsrfToken,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return ErrorPage::response(
            &state,
            StatusCode::BAD_REQUEST,
            "The search could not be read. Start again from the help center.",
        );
    };
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(&state, visitor.as_ref(), &csrf);
    let mut page = SearchPage {
        brand,
        visitor_name,
        csrf: token,
        q: query.q.clone(),
        error: None,
        hits: Vec::new(),
        next_page: None,
        corrected: None,
    };
    if query.q.trim().is_empty() {
        return (csrf, page).into_response();
    }
    let mut clients = reader(&state, visitor.as_ref());
    let answer = clients
        .articles
        .search_articles(clients.request(pb::SearchArticlesRequest {
            query: query.q.clone(),
            page_size: PAGE_SIZE,
            page_token: query.page_token.clone(),
            ..Default::default()
        }))
        .await;
    match answer {
        Ok(answer) => {
            let answer = answer.into_inner();
            page.hits = answer
                .hits
                .iter()
                .map(|hit| Hit {
                    title: hit.title.clone(),
                    slug: hit.slug.clone(),
                    snippet: snippet_runs(&hit.snippet),
                    customers_only: hit.audience == pb::Audience::Customers as i32,
                })
                .collect();
            page.corrected = (!answer.corrected_query.is_empty()).then_some(answer.corrected_query);
            page.next_page = (!answer.next_page_token.is_empty()).then(|| {
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("q", &query.q)
                    .append_pair("page_token", &answer.next_page_token)
                    .finish()
            });
            (csrf, page).into_response()
        }
        Err(status) if status.code() == Code::InvalidArgument => {
            page.error =
                Some(super::FormErrors::from_status(&status).0.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(" "));
            (StatusCode::BAD_REQUEST, csrf, page).into_response()
        }
        Err(status) => failure(&state, &status),
    }
}

// ---------------------------------------------------------------- categories

#[derive(Template, WebTemplate)]
#[template(path = "help_category.html")]
struct CategoryPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    canonical: String,
    category: CategoryLink,
    parent: Option<CategoryLink>,
    articles: Vec<ArticleLink>,
}

async fn category_page(
    State(state): State<GatewayState>,
    visitor: Option<Visitor>,
    csrf: CsrfToken,
    PagePath(slug): PagePath,
) -> Response {
    let mut clients = reader(&state, visitor.as_ref());
    let categories = match categories(&mut clients).await {
        Ok(categories) => categories,
        Err(status) => return failure(&state, &status),
    };
    let Some(category) = categories.iter().find(|c| c.slug == slug) else {
        return ErrorPage::response(&state, StatusCode::NOT_FOUND, "There is no such category. Try searching the help center.");
    };
    let mut link = CategoryLink::of(category);
    link.children = categories.iter().filter(|c| c.parent_id == category.id).map(CategoryLink::of).collect();
    let parent = categories.iter().find(|c| c.id == category.parent_id).map(CategoryLink::of);
    let articles = match latest_articles(&mut clients, &category.id, 100).await {
        Ok(articles) => articles,
        Err(status) => return failure(&state, &status),
    };
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(&state, visitor.as_ref(), &csrf);
    let page = CategoryPage {
        brand,
        visitor_name,
        csrf: token,
        canonical: format!("{}/help/categories/{}", state.settings.public_base_url, link.slug),
        category: link,
        parent,
        articles: articles.iter().map(ArticleLink::from).collect(),
    };
    (csrf, page).into_response()
}

// ---------------------------------------------------------------- articles

#[derive(Template, WebTemplate)]
#[template(path = "help_article.html")]
struct ArticlePage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    canonical: String,
    title: String,
    slug: String,
    summary: String,
    /// Rendered from Markdown and sanitized by the knowledge service (an
    /// allow-list of tags, attributes and URL schemes); the one value a
    /// page shows unescaped.
    body_html: String,
    updated: String,
    customers_only: bool,
    category: Option<CategoryLink>,
    related: Vec<ArticleLink>,
    /// Set after the visitor answered "did this help?".
    thanked: bool,
    feedback_error: Option<String>,
    comment: String,
    /// Opened from suggestions for a problem: the page asks whether it solved it.
    visit: Option<Visit>,
}

#[derive(Template, WebTemplate)]
#[template(path = "help_archived.html")]
struct ArchivedPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    title: String,
}

#[derive(Debug, Default, Deserialize)]
struct ArticleQuery {
    #[serde(default)]
    feedback: String,
    /// The deflection visit the article was opened from (`deflection`).
    #[serde(default)]
    ds: String,
    #[serde(default)]
    from: String,
}

async fn article_page(
    State(state): State<GatewayState>,
    visitor: Option<Visitor>,
    ClientIp(ip): ClientIp,
    csrf: CsrfToken,
    PagePath(slug): PagePath,
    query: Result<Query<ArticleQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A query that cannot be read is ignored: the article is still shown.
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let visit = Visit::parse(&query.ds, &query.from);
    let shown = ArticleShown { thanked: query.feedback == "thanks", visit: visit.clone(), ..ArticleShown::default() };
    let response = render_article(&state, visitor.as_ref(), &csrf, &slug, shown).await;
    if response.status() == StatusCode::OK
        && let Some(id) = response.extensions().get::<ArticleId>().cloned()
    {
        if let Some(visit) = &visit {
            deflection::record(&state, visitor.as_ref(), visit, pb::DeflectionEventKind::ArticleOpened, &id.0);
        }
        count_view(&state, visitor.as_ref(), &ip.to_string(), id.0);
    }
    (csrf, response).into_response()
}

/// The id of the article a page showed, for the view count.
#[derive(Clone)]
struct ArticleId(String);

/// What an article page shows besides the article: the feedback form's state.
#[derive(Default)]
struct ArticleShown {
    thanked: bool,
    feedback_error: Option<String>,
    comment: String,
    visit: Option<Visit>,
}

async fn render_article(
    state: &GatewayState,
    visitor: Option<&Visitor>,
    csrf: &CsrfToken,
    slug: &str,
    shown: ArticleShown,
) -> Response {
    let mut clients = reader(state, visitor);
    let article = match get_article(&mut clients, pb::get_article_request::Lookup::Slug(slug.to_owned())).await {
        Ok(article) => article,
        Err(status) => return failure(state, &status),
    };
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(state, visitor, csrf);
    if article.state == pb::ArticleState::Archived as i32 {
        let page = ArchivedPage { brand, visitor_name, csrf: token, title: article.title };
        return (StatusCode::GONE, page).into_response();
    }
    let mut related = Vec::new();
    for id in article.related_article_ids.iter().take(RELATED_SHOWN) {
        // One the visitor may not read, or that went, is left out.
        if let Ok(other) = get_article(&mut clients, pb::get_article_request::Lookup::Id(id.clone())).await
            && other.state == pb::ArticleState::Published as i32
        {
            related.push(ArticleLink::from(&other));
        }
    }
    let category = if article.category_id.is_empty() {
        None
    } else {
        // The article reads well without its breadcrumb.
        categories(&mut clients).await.ok().and_then(|all| all.iter().find(|c| c.id == article.category_id).map(CategoryLink::of))
    };
    let page = ArticlePage {
        brand,
        visitor_name,
        csrf: token,
        canonical: format!("{}/help/articles/{}", state.settings.public_base_url, article.slug),
        title: article.title.clone(),
        slug: article.slug.clone(),
        summary: article.summary.clone(),
        body_html: article.body_html.clone(),
        updated: when(article.update_time.as_ref().or(article.publish_time.as_ref())),
        customers_only: article.audience == pb::Audience::Customers as i32,
        category,
        related,
        thanked: shown.thanked,
        feedback_error: shown.feedback_error.clone(),
        comment: shown.comment,
        visit: shown.visit,
    };
    let status = if shown.feedback_error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let mut response = (status, page).into_response();
    response.extensions_mut().insert(ArticleId(article.id));
    response
}

async fn get_article(clients: &mut ReaderClients, lookup: pb::get_article_request::Lookup) -> Result<pb::Article, tonic::Status> {
    let request = clients.request(pb::GetArticleRequest { lookup: Some(lookup), include_draft: false });
    let article = clients.articles.get_article(request).await?.into_inner();
    // Neither a draft nor a scheduled article is anyone's to read here.
    match pb::ArticleState::try_from(article.state) {
        Ok(pb::ArticleState::Published | pb::ArticleState::Archived) => Ok(article),
        _ => Err(tonic::Status::not_found("no such article")),
    }
}

/// Counts a view of article `id`, once per client address and hour, without
/// making the page wait for it.
fn count_view(state: &GatewayState, visitor: Option<&Visitor>, ip: &str, id: String) {
    let state = state.clone();
    let mut clients = reader(&state, visitor);
    let key = format!("kb-view:{ip}:{id}");
    tokio::spawn(
        async move {
            if limits::hit(&state, &key, 1, VIEW_WINDOW).await.is_err() {
                return;
            }
            let counted =
                clients.articles.record_view(clients.request(pb::RecordViewRequest { article_id: id })).await.map(|_| ());
            if let Err(status) = counted {
                tracing::info!(code = ?status.code(), message = status.message(), "article view not counted");
            }
        }
        .in_current_span(),
    );
}

#[derive(Debug, Deserialize)]
struct FeedbackForm {
    #[serde(default)]
    helpful: String,
    #[serde(default)]
    comment: String,
}

async fn feedback(
    State(state): State<GatewayState>,
    visitor: Option<Visitor>,
    ClientIp(ip): ClientIp,
    csrf: CsrfToken,
    PagePath(slug): PagePath,
    CsrfForm(form): CsrfForm<FeedbackForm>,
) -> Response {
    let refuse = async |message: String, status: StatusCode| {
        let shown = ArticleShown { feedback_error: Some(message), comment: form.comment.clone(), ..ArticleShown::default() };
        let mut response = render_article(&state, visitor.as_ref(), &csrf, &slug, shown).await;
        if response.status() == StatusCode::BAD_REQUEST {
            *response.status_mut() = status;
        }
        (csrf.clone(), response).into_response()
    };
    let helpful = match form.helpful.as_str() {
        "yes" => true,
        "no" => false,
        _ => return refuse("Choose “Yes” or “No”.".to_owned(), StatusCode::BAD_REQUEST).await,
    };
    if let Err(limited) =
        limits::hit(&state, &format!("kb-feedback:{ip}"), FEEDBACK_PER_MINUTE, std::time::Duration::from_secs(60)).await
    {
        let message = format!("Too many answers from your network. Try again in {} seconds.", limited.seconds());
        return refuse(message, StatusCode::TOO_MANY_REQUESTS).await;
    }
    let mut clients = reader(&state, visitor.as_ref());
    let article = match get_article(&mut clients, pb::get_article_request::Lookup::Slug(slug.clone())).await {
        Ok(article) if article.state == pb::ArticleState::Published as i32 => article,
        Ok(_) => return ErrorPage::response(&state, StatusCode::GONE, "This article is archived; it takes no more answers."),
        Err(status) => return failure(&state, &status),
    };
    let recorded = clients
        .articles
        .record_feedback(clients.request(pb::RecordFeedbackRequest {
            article_id: article.id.clone(),
            helpful,
            comment: form.comment.trim().to_owned(),
        }))
        .await;
    match recorded {
        Ok(_) => Redirect::to(&format!("/help/articles/{}?feedback=thanks#feedback", article.slug)).into_response(),
        Err(status) if status.code() == Code::InvalidArgument => {
            let message = super::FormErrors::from_status(&status).0.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ");
            refuse(message, StatusCode::BAD_REQUEST).await
        }
        Err(status) => failure(&state, &status),
    }
}

#[derive(Debug, Deserialize)]
struct SolvedForm {
    #[serde(default)]
    ds: String,
    #[serde(default)]
    from: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "help_solved.html")]
struct SolvedPage {
    brand: Arc<Branding>,
    visitor_name: Option<String>,
    csrf: String,
    title: String,
    slug: String,
}

/// "This solved my problem", from an article opened from suggestions: the
/// visit ends without a case.
async fn solved(
    State(state): State<GatewayState>,
    visitor: Option<Visitor>,
    csrf: CsrfToken,
    PagePath(slug): PagePath,
    CsrfForm(form): CsrfForm<SolvedForm>,
) -> Response {
    let Some(visit) = Visit::parse(&form.ds, &form.from) else {
        return ErrorPage::response(
            &state,
            StatusCode::BAD_REQUEST,
            "This answer belongs to no search. Open the article from the help center.",
        );
    };
    let mut clients = reader(&state, visitor.as_ref());
    let article = match get_article(&mut clients, pb::get_article_request::Lookup::Slug(slug)).await {
        Ok(article) if article.state == pb::ArticleState::Published as i32 => article,
        Ok(_) => return ErrorPage::response(&state, StatusCode::GONE, "This article is archived; it takes no more answers."),
        Err(status) => return failure(&state, &status),
    };
    deflection::record(&state, visitor.as_ref(), &visit, pb::DeflectionEventKind::Solved, &article.id);
    let Chrome { brand, visitor_name, csrf: token } = Chrome::new(&state, visitor.as_ref(), &csrf);
    (csrf, SolvedPage { brand, visitor_name, csrf: token, title: article.title, slug: article.slug }).into_response()
}

// ---------------------------------------------------------------- files

/// Content types a browser may show in the page (images, through `<img>`);
/// every other file is a download.
const INLINE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// `/help/files/{id}`: a file of an article, to whoever may read the
/// article now (checked by the knowledge service on every download).
async fn file(State(state): State<GatewayState>, visitor: Option<Visitor>, PagePath(id): PagePath) -> Response {
    let mut clients = reader(&state, visitor.as_ref());
    let answer = clients.attachments.get_attachment(clients.request(pb::GetAttachmentRequest { id })).await;
    let content = match answer {
        Ok(answer) => answer.into_inner(),
        Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
            return ErrorPage::response(&state, StatusCode::NOT_FOUND, "There is no file here, or it is not yours to see.");
        }
        Err(status) => return status_page(&state, &status),
    };
    let attachment = content.attachment.unwrap_or_default();
    file_response(&attachment, content.content)
}

/// The bytes of `attachment` with headers that keep a browser from reading
/// them as anything but what they are: the type the service read from the
/// bytes, `nosniff` (from the security layer), a sandboxing CSP, and a
/// download for anything but an image.
pub fn file_response(attachment: &pb::Attachment, content: Vec<u8>) -> Response {
    let content_type = attachment.content_type.as_str();
    let disposition = if INLINE_TYPES.contains(&content_type) { "inline" } else { "attachment" };
    let mut response = Response::new(Body::from(content));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(disposition, &attachment.file_name));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    response
}

/// `inline` or `attachment` with the file's name, RFC 6266: an ASCII
/// fallback and the UTF-8 name percent-encoded.
fn content_disposition(kind: &str, file_name: &str) -> HeaderValue {
    let fallback: String = file_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') { c } else { '_' })
        .collect();
    let fallback = if fallback.trim().is_empty() { "file".to_owned() } else { fallback };
    let encoded: String = file_name
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    HeaderValue::from_str(&format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or(HeaderValue::from_static("attachment"))
}

// ---------------------------------------------------------------- sitemap

/// `/help/sitemap.xml`: the help center's public pages (never `customers`
/// articles: search engines are anonymous).
async fn sitemap(State(state): State<GatewayState>) -> Response {
    let mut clients = reader(&state, None);
    let base = &state.settings.public_base_url;
    let mut entries = vec![(format!("{base}/help"), String::new())];
    let categories = match categories(&mut clients).await {
        Ok(categories) => categories,
        Err(status) => return status_page(&state, &status),
    };
    entries.extend(categories.iter().map(|c| (format!("{base}/help/categories/{}", c.slug), String::new())));
    let mut page_token = String::new();
    // The service filters what an anonymous reader may see after paging,
    // so a page may be short: follow the tokens, within the protocol's limit.
    for _ in 0..1_000 {
        let request = pb::ListArticlesRequest { page_size: 100, page_token: page_token.clone(), ..Default::default() };
        let page = match clients.articles.list_articles(request).await {
            Ok(answer) => answer.into_inner(),
            Err(status) => return status_page(&state, &status),
        };
        for article in page.articles.iter().filter(|a| a.state == pb::ArticleState::Published as i32) {
            let modified = article
                .update_time
                .as_ref()
                .or(article.publish_time.as_ref())
                .and_then(docket_kit::time::from_proto)
                .map(|at| at.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            entries.push((format!("{base}/help/articles/{}", article.slug), modified));
        }
        if page.next_page_token.is_empty() || entries.len() >= SITEMAP_MAX {
            break;
        }
        page_token = page.next_page_token;
    }
    entries.truncate(SITEMAP_MAX);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (location, modified) in entries {
        xml.push_str("  <url><loc>");
        xml.push_str(&xml_escape(&location));
        xml.push_str("</loc>");
        if !modified.is_empty() {
            xml.push_str("<lastmod>");
            xml.push_str(&modified);
            xml.push_str("</lastmod>");
        }
        xml.push_str("</url>\n");
    }
    xml.push_str("</urlset>\n");
    let mut response = xml.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_come_apart_into_text_and_matches() {
        let runs = snippet_runs("reset the <mark>printer</mark> &amp; its &lt;tray&gt; <mark>now</mark>");
        assert_eq!(
            runs,
            vec![
                ("reset the ".to_owned(), false),
                ("printer".to_owned(), true),
                (" & its <tray> ".to_owned(), false),
                ("now".to_owned(), true),
            ]
        );
        // Markup other than <mark> stays text, to be escaped by the page.
        assert_eq!(snippet_runs("<b>x</b>"), vec![("<b>x</b>".to_owned(), false)]);
        assert_eq!(snippet_runs("<mark>open"), vec![("open".to_owned(), true)]);
        assert!(snippet_runs("").is_empty());
    }

    #[test]
    fn file_names_are_quoted_safely() {
        let value = content_disposition("attachment", "Bericht \"März\"\r\n.pdf");
        let text = value.to_str().unwrap();
        assert!(
            text.starts_with(
                "attachment; filename=\"Bericht _M_rz___.pdf\"; filename*=UTF-8''Bericht%20%22M%C3%A4rz%22%0D%0A.pdf"
            ),
            "{text}"
        );
        assert_eq!(content_disposition("inline", "").to_str().unwrap(), "inline; filename=\"file\"; filename*=UTF-8''");
    }

    #[test]
    fn subcategories_are_listed_under_their_top_category() {
        let category = |id: &str, parent: &str| pb::Category {
            id: id.to_owned(),
            slug: id.to_owned(),
            name: id.to_owned(),
            parent_id: parent.to_owned(),
            ..Default::default()
        };
        let tree = category_tree(&[category("a", ""), category("b", ""), category("a1", "a"), category("a1x", "a1")]);
        assert_eq!(tree.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(tree[0].children.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(), ["a1", "a1x"]);
        assert!(tree[1].children.is_empty());
    }
}
