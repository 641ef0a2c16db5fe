//! Deflection events (what readers did with suggested articles) and the
//! stats counted from them. Like views, they are what readers leave
//! behind: no audit entry, no version, no event.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use docket_kit::db::placeholder;
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel, Statement, Value, sea_query::OnConflict};

use super::Store;
use crate::{
    domain::deflection::{Bucket, EventKind},
    records::entities::deflection_event,
};

type Result<T> = std::result::Result<T, docket_kit::Error>;

/// An event to record, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflectionEvent {
    pub session_id: String,
    pub kind: EventKind,
    pub source: String,
    /// Present exactly for the kinds that name an article.
    pub article_id: Option<String>,
}

/// The counts of one period and source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeflectionCounts {
    /// The calendar start of the period.
    pub start: DateTime<Utc>,
    pub source: String,
    /// Sessions that saw suggestions in the period.
    pub sessions_with_suggestions: i64,
    /// Articles opened from suggestions in the period.
    pub articles_opened: i64,
    /// Sessions that said an article solved their problem in the period,
    /// and never opened a case.
    pub solved_without_case: i64,
    /// Sessions that opened a case in the period after they saw suggestions.
    pub cases_opened_anyway: i64,
}

impl Store {
    /// Records the event once: the same (session, kind, article) again
    /// writes nothing (a reloaded page does not count twice). The unique
    /// index `deflection_events_once` decides, so two calls at the same
    /// moment cannot both write it, on either database. Answers whether it
    /// was written now.
    pub async fn record_deflection_event(&self, event: &DeflectionEvent, at: DateTime<Utc>) -> Result<bool> {
        let row = deflection_event::Model {
            id: docket_kit::request::Uuid::now_v7().to_string(),
            session_id: event.session_id.clone(),
            kind: event.kind.name().to_owned(),
            source: event.source.clone(),
            article_id: event.article_id.clone(),
            occurred_at: at,
        };
        // No conflict target: the conflict that matters is on the
        // expression index (session_id, kind, COALESCE(article_id, '')).
        let written = deflection_event::Entity::insert(row.into_active_model())
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .try_insert()
            .exec_without_returning(&self.db)
            .await?;
        Ok(matches!(written, sea_orm::TryInsertResult::Inserted(n) if n > 0))
    }

    /// The counts per bucket and source, for the buckets (in order) that
    /// had any event, ordered by bucket then source.
    ///
    /// The database does the counting, so the answer is a few rows per
    /// period whatever the traffic: the periods come from
    /// [`Period::buckets`](crate::domain::deflection::Period::buckets) as
    /// a `VALUES` list (at most ~730 for two years of days) joined to the
    /// events by time, each using the `occurred_at` index. That keeps the
    /// calendar rules (ISO weeks, months, UTC) in one tested place in Rust
    /// and the SQL the same on PostgreSQL and SQLite, without either's date
    /// functions. Whether a session solved without a case, or opened one
    /// after suggestions, is decided over the whole session (its other
    /// events may lie outside the range), through the (session_id, kind)
    /// index.
    pub async fn deflection_stats(&self, buckets: &[Bucket], source: Option<&str>) -> Result<Vec<DeflectionCounts>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.db.get_database_backend();
        let mut values: Vec<Value> = Vec::with_capacity(buckets.len() * 3 + 1);
        let mut rows = Vec::with_capacity(buckets.len());
        for (n, bucket) in buckets.iter().enumerate() {
            let first = values.len() + 1;
            rows.push(format!(
                "({}, {}, {})",
                placeholder(backend, first),
                placeholder(backend, first + 1),
                placeholder(backend, first + 2)
            ));
            values.extend([Value::from(n as i64), Value::from(bucket.from), Value::from(bucket.until)]);
        }
        let source_filter = match source {
            Some(source) => {
                values.push(Value::from(source.to_owned()));
                format!("AND e.source = {}", placeholder(backend, values.len()))
            }
            None => String::new(),
        };
        let (shown, opened, solved, case) = (
            EventKind::SuggestionsShown.name(),
            EventKind::ArticleOpened.name(),
            EventKind::Solved.name(),
            EventKind::CaseOpened.name(),
        );
        let sql = format!(
            "WITH buckets (n, period_from, period_until) AS (VALUES {rows}) \
             SELECT b.n AS bucket, e.source AS source, e.kind AS kind, \
             COUNT(*) AS events, COUNT(DISTINCT e.session_id) AS sessions \
             FROM buckets b \
             JOIN deflection_events e ON e.occurred_at >= b.period_from AND e.occurred_at < b.period_until \
             WHERE (e.kind IN ('{shown}', '{opened}') \
             OR (e.kind = '{solved}' AND NOT EXISTS (SELECT 1 FROM deflection_events c \
             WHERE c.session_id = e.session_id AND c.kind = '{case}')) \
             OR (e.kind = '{case}' AND EXISTS (SELECT 1 FROM deflection_events s \
             WHERE s.session_id = e.session_id AND s.kind = '{shown}' AND s.occurred_at <= e.occurred_at))) \
             {source_filter} \
             GROUP BY b.n, e.source, e.kind",
            rows = rows.join(", "),
        );
        let found = self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        let mut counts: BTreeMap<(usize, String), DeflectionCounts> = BTreeMap::new();
        for row in found {
            let n = usize::try_from(row.try_get::<i64>("", "bucket")?).unwrap_or(usize::MAX);
            let Some(bucket) = buckets.get(n) else { continue };
            let source: String = row.try_get("", "source")?;
            let kind: String = row.try_get("", "kind")?;
            let (events, sessions): (i64, i64) = (row.try_get("", "events")?, row.try_get("", "sessions")?);
            let entry = counts.entry((n, source.clone())).or_insert_with(|| DeflectionCounts {
                start: bucket.start,
                source,
                ..DeflectionCounts::default()
            });
            match EventKind::from_name(&kind) {
                Some(EventKind::SuggestionsShown) => entry.sessions_with_suggestions = sessions,
                Some(EventKind::ArticleOpened) => entry.articles_opened = events,
                Some(EventKind::Solved) => entry.solved_without_case = sessions,
                Some(EventKind::CaseOpened) => entry.cases_opened_anyway = sessions,
                None => tracing::error!(kind, "a deflection event of an unknown kind"),
            }
        }
        Ok(counts.into_values().collect())
    }
}
