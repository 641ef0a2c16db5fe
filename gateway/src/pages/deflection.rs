//! Deflection: while a customer describes a problem (the portal's new-case
//! page), articles that may answer it are suggested, and what comes of it
//! is recorded with the knowledge service (`RecordDeflectionEvent`):
//! suggestions shown, an article opened from them, "this solved my
//! problem" (no case opened), or a case opened anyway. `GetDeflectionStats`
//! reports it.
//!
//! One visit is one [`Visit`]: a random id the gateway makes when the page
//! is first shown and carries in links and hidden fields (`ds`), with where
//! it started (`from`: `portal`). Without JavaScript, the page has a
//! "search first" step; with it, `/static/deflect.js` asks `/help/suggest`
//! as the customer types. Suggestions never stand in the way: a search that
//! fails shows none, and the case form is always there.

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use docket_proto::knowledge::v1 as pb;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::help::snippet_runs;
use crate::{
    GatewayState,
    limits::{self, ClientIp},
    problem::Problem,
    session::Visitor,
    upstream::ReaderClients,
};

/// Where a visit started: the customer portal's new-case page.
pub const PORTAL: &str = "portal";
/// Suggestions shown at once.
const SUGGESTIONS: i32 = 5;
/// Live suggestions one client address may ask for per minute.
const SUGGEST_PER_MINUTE: u32 = 120;

/// One customer's visit, from the first suggestion to a case or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// Random, made by the gateway: `[A-Za-z0-9_-]{8,128}`.
    pub session: String,
    /// `portal`, or a web form's slug.
    pub source: String,
}

impl Visit {
    /// A new visit starting at `source`.
    pub fn start(source: &str) -> Self {
        Visit { session: super::portal::new_key(), source: source.to_owned() }
    }

    /// The visit named by `ds` and `from`, if both are well-formed.
    pub fn parse(session: &str, source: &str) -> Option<Self> {
        let session_ok =
            (8..=128).contains(&session.len()) && session.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let source_ok =
            (1..=64).contains(&source.len()) && source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (session_ok && source_ok).then(|| Visit { session: session.to_owned(), source: source.to_owned() })
    }

    /// `ds=...&from=...`, for links that carry the visit on.
    pub fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("ds", &self.session)
            .append_pair("from", &self.source)
            .finish()
    }

    /// Where the customer goes to open a case after all.
    pub fn case_form(&self) -> String {
        if self.source == PORTAL {
            format!("/portal/cases/new?{}", self.query())
        } else {
            format!("/f/{}?{}", self.source, self.query())
        }
    }
}

/// An article suggested for a problem.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub title: String,
    /// The article page, carrying the visit.
    pub url: String,
    /// The text around the matches, as text runs (`true`: a match).
    #[serde(skip)]
    pub snippet: Vec<(String, bool)>,
    /// The same as plain text, for the live suggestions.
    #[serde(rename = "snippet")]
    pub snippet_text: String,
}

/// Up to five published articles the visitor may read that match `text`,
/// recorded as shown when there are any. A search that fails or a text
/// with nothing to search for gives none: suggestions must never keep a
/// customer from opening a case.
pub async fn suggest(state: &GatewayState, visitor: Option<&Visitor>, text: &str, visit: &Visit) -> Vec<Suggestion> {
    let text: String = text.trim().chars().take(200).collect();
    if text.is_empty() {
        return Vec::new();
    }
    let mut clients = ReaderClients::of(state, visitor.map(|v| v.session.contact_id.as_str()));
    let request = pb::SearchArticlesRequest { query: text, page_size: SUGGESTIONS, ..Default::default() };
    let answer = clients.articles.search_articles(clients.request(request)).await;
    let hits = match answer {
        Ok(answer) => answer.into_inner().hits,
        Err(status) => {
            if status.code() != tonic::Code::InvalidArgument {
                tracing::warn!(code = ?status.code(), message = status.message(), "no suggestions: the search failed");
            }
            return Vec::new();
        }
    };
    if !hits.is_empty() {
        record(state, visitor, visit, pb::DeflectionEventKind::SuggestionsShown, "");
    }
    hits.iter()
        .map(|hit| {
            let snippet = snippet_runs(&hit.snippet);
            Suggestion {
                title: hit.title.clone(),
                url: format!("/help/articles/{}?{}", hit.slug, visit.query()),
                snippet_text: snippet.iter().map(|(text, _)| text.as_str()).collect(),
                snippet,
            }
        })
        .collect()
}

/// Records one step of `visit` without making the page wait for it; a
/// failure is logged (the statistics lose one step, the customer nothing).
pub fn record(state: &GatewayState, visitor: Option<&Visitor>, visit: &Visit, kind: pb::DeflectionEventKind, article_id: &str) {
    let mut clients = ReaderClients::of(state, visitor.map(|v| v.session.contact_id.as_str()));
    let message = pb::RecordDeflectionEventRequest {
        session_id: visit.session.clone(),
        kind: kind as i32,
        source: visit.source.clone(),
        article_id: article_id.to_owned(),
    };
    tokio::spawn(
        async move {
            let recorded = clients.deflection.record_deflection_event(clients.request(message)).await.map(|_| ());
            if let Err(status) = recorded {
                tracing::info!(code = ?status.code(), message = status.message(), ?kind, "deflection step not recorded");
            }
        }
        .in_current_span(),
    );
}

#[derive(Debug, Deserialize)]
pub struct SuggestQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    ds: String,
    #[serde(default)]
    from: String,
}

#[derive(Debug, Serialize)]
pub struct Suggestions {
    articles: Vec<Suggestion>,
}

/// `GET /help/suggest?q=...&ds=...&from=...`: live suggestions for the
/// page's script, as JSON.
pub async fn suggest_json(
    State(state): State<GatewayState>,
    visitor: Option<Visitor>,
    ClientIp(ip): ClientIp,
    query: Result<Query<SuggestQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return Problem::bad_request("the query could not be read: send q, ds and from").into_response();
    };
    let Some(visit) = Visit::parse(&query.ds, &query.from) else {
        return Problem::bad_request(
            "ds and from must name a visit (ds: 8 to 128 of A-Z a-z 0-9 _ -; from: `portal` or a form's slug)",
        )
        .into_response();
    };
    if query.q.chars().count() > 200 {
        return Problem::bad_request("q is longer than 200 characters").into_response();
    }
    if let Err(limited) =
        limits::hit(&state, &format!("kb-suggest:{ip}"), SUGGEST_PER_MINUTE, std::time::Duration::from_secs(60)).await
    {
        return limited.problem_response("too many suggestions asked for from your network");
    }
    let articles = suggest(&state, visitor.as_ref(), &query.q, &visit).await;
    let mut response = (StatusCode::OK, Json(Suggestions { articles })).into_response();
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_visits_are_carried_on() {
        let visit = Visit::parse("AbC_123-xyz", "portal").expect("a visit");
        assert_eq!(visit.query(), "ds=AbC_123-xyz&from=portal");
        assert_eq!(visit.case_form(), "/portal/cases/new?ds=AbC_123-xyz&from=portal");
        assert_eq!(
            Visit::parse("AbC_123-xyz", "warranty-claim").unwrap().case_form(),
            "/f/warranty-claim?ds=AbC_123-xyz&from=warranty-claim"
        );
        for (session, source) in [
            ("short", "portal"),
            (&"x".repeat(129), "portal"),
            ("has space in it", "portal"),
            ("<script>alert(1)</script>", "portal"),
            ("AbC_123-xyz", ""),
            ("AbC_123-xyz", "Portal"),
            ("AbC_123-xyz", "../admin"),
            ("AbC_123-xyz", &"a".repeat(65)),
        ] {
            assert_eq!(Visit::parse(session, source), None, "{session} {source}");
        }
        let fresh = Visit::start(PORTAL);
        assert_eq!(Visit::parse(&fresh.session, &fresh.source), Some(fresh));
    }
}
