//! `DeflectionService`: the gateway records what readers do with the
//! articles suggested while they type a new case (for a help-center
//! visitor or web form anonymously, for a portal customer on their behalf),
//! and staff read how many problems that solved without a case.

use docket_kit::{auth::caller, error::FieldViolations};
use docket_proto::knowledge::v1::{self as pb, deflection_service_server::DeflectionService};
use tonic::{Request, Response, Status};

use super::articles::{reader, shown_to};
use crate::{
    domain::{
        ArticleId,
        deflection::{self, EventKind, Period},
    },
    store::{DeflectionCounts, DeflectionEvent, Lookup, Store},
};

pub struct DeflectionApi {
    store: Store,
}

impl DeflectionApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn kind(raw: i32) -> Option<EventKind> {
    match pb::DeflectionEventKind::try_from(raw).ok()? {
        pb::DeflectionEventKind::Unspecified => None,
        pb::DeflectionEventKind::SuggestionsShown => Some(EventKind::SuggestionsShown),
        pb::DeflectionEventKind::ArticleOpened => Some(EventKind::ArticleOpened),
        pb::DeflectionEventKind::Solved => Some(EventKind::Solved),
        pb::DeflectionEventKind::CaseOpened => Some(EventKind::CaseOpened),
    }
}

/// The event a request describes, or every reason it is not one.
fn parse_event(request: &pb::RecordDeflectionEventRequest) -> Result<(DeflectionEvent, Option<ArticleId>), FieldViolations> {
    let mut violations = FieldViolations::new();
    if let Err(why) = deflection::check_session_id(&request.session_id) {
        violations.add("session_id", why);
    }
    let kind = violations.enum_value("kind", request.kind, kind);
    if let Err(why) = deflection::check_source(&request.source) {
        violations.add("source", why);
    }
    let article_id: Option<ArticleId> = match kind {
        Some(kind) if kind.has_article() => Some(violations.id("article_id", &request.article_id)),
        Some(_) => {
            if !request.article_id.is_empty() {
                violations.add("article_id", "must be empty: only ARTICLE_OPENED and SOLVED name an article");
            }
            None
        }
        // The kind is wrong already; still say whether the id is one.
        None => violations.opt_id("article_id", &request.article_id),
    };
    violations.into_result()?;
    let Some(kind) = kind else { return Err(FieldViolations::single("kind", "is required")) };
    let event = DeflectionEvent {
        session_id: request.session_id.clone(),
        kind,
        source: request.source.clone(),
        article_id: article_id.map(|id| id.to_string()),
    };
    Ok((event, article_id))
}

/// The time of a stats request's bound: required and valid.
fn bound(
    violations: &mut FieldViolations,
    field: &str,
    time: Option<&prost_types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let Some(time) = time else {
        violations.add(field, "is required");
        return None;
    };
    let at = docket_kit::time::from_proto(time);
    if at.is_none() {
        violations.add(field, "is not a valid time");
    }
    at
}

fn period_message(counts: DeflectionCounts) -> pb::DeflectionPeriod {
    pb::DeflectionPeriod {
        start_time: Some(docket_kit::time::to_proto(counts.start)),
        source: counts.source,
        sessions_with_suggestions: counts.sessions_with_suggestions,
        articles_opened: counts.articles_opened,
        solved_without_case: counts.solved_without_case,
        cases_opened_anyway: counts.cases_opened_anyway,
    }
}

#[tonic::async_trait]
impl DeflectionService for DeflectionApi {
    async fn record_deflection_event(
        &self,
        request: Request<pb::RecordDeflectionEventRequest>,
    ) -> Result<Response<pb::RecordDeflectionEventResponse>, Status> {
        let caller = caller(&request)?;
        let (event, article_id) = parse_event(request.get_ref())?;
        if let Some(id) = article_id {
            // An article the caller may not read is answered exactly as one
            // that does not exist: the answer must not reveal an internal
            // article to a help-center visitor.
            let hidden = || {
                let missing: docket_kit::Error = docket_kit::Error::not_found("article", id);
                Status::from(missing)
            };
            let stored = match self.store.find_article(&Lookup::Id(id)).await {
                Ok(stored) => stored,
                Err(docket_kit::Error::NotFound(_)) => return Err(hidden()),
                Err(err) => return Err(err.into()),
            };
            match shown_to(&stored, reader(&caller), false) {
                Some(shown) if shown.state() == pb::ArticleState::Published => {}
                _ => return Err(hidden()),
            }
        }
        self.store.record_deflection_event(&event, docket_kit::time::now()).await?;
        Ok(Response::new(pb::RecordDeflectionEventResponse {}))
    }

    async fn get_deflection_stats(
        &self,
        request: Request<pb::GetDeflectionStatsRequest>,
    ) -> Result<Response<pb::DeflectionStats>, Status> {
        let caller = caller(&request)?;
        if !caller.is_staff() {
            return Err(Status::permission_denied("deflection stats are for staff"));
        }
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let start = bound(&mut violations, "start_time", request.start_time.as_ref());
        let end = bound(&mut violations, "end_time", request.end_time.as_ref());
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                violations.add("end_time", "must be after start_time");
            } else if deflection::latest_end(start).is_none_or(|latest| end > latest) {
                violations.add("end_time", "must be at most two years after start_time");
            }
        }
        let period = Period::parse(&request.period);
        if period.is_none() {
            violations.add("period", "choose day, week or month (empty: day)");
        }
        let source = (!request.source.is_empty()).then_some(request.source.as_str());
        if let Some(Err(why)) = source.map(deflection::check_source) {
            violations.add("source", why);
        }
        violations.into_result()?;
        let (Some(start), Some(end), Some(period)) = (start, end, period) else {
            return Err(Status::internal("a checked request lost a field"));
        };
        let counts = self.store.deflection_stats(&period.buckets(start, end), source).await?;
        Ok(Response::new(pb::DeflectionStats { periods: counts.into_iter().map(period_message).collect() }))
    }
}
