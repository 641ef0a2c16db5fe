//! `DeflectionService`: the gateway records what customers do with the
//! articles suggested while they type a new case (in the portal, for a
//! logged-in customer; in a web form, anonymously), once per thing done,
//! and staff read per day, week or month and per source how many sessions
//! saw suggestions, opened articles, solved their problem without a case,
//! or opened one anyway.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use docket_proto::knowledge::v1::{self as pb, DeflectionEventKind as Kind};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use tonic::{Code, Request};

use crate::{
    common::{ADMIN, AGENT, PORTAL, SERVICE, TestApp, VIEWER, assert_field_error},
    on_both_backends,
    support::{as_customer, publish_new, titled},
};

const WEB_FORM: &str = "printer-support";
const PORTAL_SOURCE: &str = "portal";
const UNKNOWN: &str = "0190a000-0000-7000-8000-00000000dead";

fn event(session: &str, kind: Kind, source: &str, article_id: &str) -> pb::RecordDeflectionEventRequest {
    pb::RecordDeflectionEventRequest {
        session_id: session.into(),
        kind: kind as i32,
        source: source.into(),
        article_id: article_id.into(),
    }
}

/// Records `request` as the gateway does for its source: for a portal
/// customer on their behalf, for a web form's visitor anonymously.
async fn record(app: &TestApp, request: pb::RecordDeflectionEventRequest) -> Result<(), tonic::Status> {
    let request = if request.source == PORTAL_SOURCE { as_customer(request) } else { Request::new(request) };
    let token = if request.get_ref().source == PORTAL_SOURCE { PORTAL } else { SERVICE };
    app.deflection(token).record_deflection_event(request).await.map(|_| ())
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn stats_request(start: &str, end: &str, period: &str, source: &str) -> pb::GetDeflectionStatsRequest {
    pb::GetDeflectionStatsRequest {
        start_time: Some(docket_kit::time::to_proto(at(start))),
        end_time: Some(docket_kit::time::to_proto(at(end))),
        period: period.into(),
        source: source.into(),
    }
}

async fn stats(app: &TestApp, request: pb::GetDeflectionStatsRequest) -> Vec<pb::DeflectionPeriod> {
    app.deflection(VIEWER).get_deflection_stats(request).await.unwrap().into_inner().periods
}

async fn event_rows(app: &TestApp) -> i64 {
    app.table_counts("knowledge", &["deflection_events"]).await[0].1
}

/// Moves the recorded event to `when`: the service stamps events with the
/// time they arrive, and the story happens over several days.
async fn happened_at(app: &TestApp, session: &str, kind: Kind, article_id: &str, when: DateTime<Utc>) {
    let db = app.service_db("knowledge").await;
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE deflection_events SET occurred_at = $1 \
             WHERE session_id = $2 AND kind = $3 AND COALESCE(article_id, '') = $4"
        }
        _ => "UPDATE deflection_events SET occurred_at = ? WHERE session_id = ? AND kind = ? AND COALESCE(article_id, '') = ?",
    };
    let kind = match kind {
        Kind::SuggestionsShown => "suggestions_shown",
        Kind::ArticleOpened => "article_opened",
        Kind::Solved => "solved",
        Kind::CaseOpened => "case_opened",
        Kind::Unspecified => unreachable!(),
    };
    let values: Vec<Value> = vec![when.into(), session.into(), kind.into(), article_id.into()];
    let done = db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{session} {kind} {article_id}");
    db.close().await.ok();
}

/// One thing a customer did: when, what, with which article (or "").
type Step = (&'static str, Kind, String);

struct Session {
    id: &'static str,
    source: &'static str,
    steps: Vec<Step>,
}

/// What the stats must say, computed from the story itself.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Expected {
    shown: BTreeSet<&'static str>,
    opened: i64,
    solved: BTreeSet<&'static str>,
    anyway: BTreeSet<&'static str>,
}

/// The first day of the period holding `day`, computed apart from the service.
fn period_start(period: &str, day: NaiveDate) -> NaiveDate {
    match period {
        "day" => day,
        "week" => day.week(chrono::Weekday::Mon).first_day(),
        "month" => NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap(),
        other => panic!("no period {other}"),
    }
}

fn expected(sessions: &[Session], period: &str, source: Option<&str>) -> Vec<pb::DeflectionPeriod> {
    let mut counts: BTreeMap<(NaiveDate, &'static str), Expected> = BTreeMap::new();
    for session in sessions.iter().filter(|s| source.is_none_or(|wanted| wanted == s.source)) {
        let time_of = |kind: Kind| session.steps.iter().filter(|(_, k, _)| *k == kind).map(|(t, _, _)| at(t)).min();
        let (first_shown, case) = (time_of(Kind::SuggestionsShown), time_of(Kind::CaseOpened));
        for (when, kind, _) in &session.steps {
            let when = at(when);
            let entry = counts.entry((period_start(period, when.date_naive()), session.source)).or_default();
            match kind {
                Kind::SuggestionsShown => {
                    entry.shown.insert(session.id);
                }
                Kind::ArticleOpened => entry.opened += 1,
                Kind::Solved if case.is_none() => {
                    entry.solved.insert(session.id);
                }
                Kind::CaseOpened if first_shown.is_some_and(|shown| shown <= when) => {
                    entry.anyway.insert(session.id);
                }
                _ => {}
            }
        }
    }
    counts
        .into_iter()
        .map(|((day, source), e)| pb::DeflectionPeriod {
            start_time: Some(docket_kit::time::to_proto(day.and_hms_opt(0, 0, 0).unwrap().and_utc())),
            source: source.to_owned(),
            sessions_with_suggestions: e.shown.len() as i64,
            articles_opened: e.opened,
            solved_without_case: e.solved.len() as i64,
            cases_opened_anyway: e.anyway.len() as i64,
        })
        .collect()
}

/// Customers of a web form and of the portal over Sunday 29 November,
/// Monday 30 November and Tuesday 1 December 2026: one ISO week ends and
/// the next begins between the first two days, November ends between the
/// last two, and one session runs across that midnight.
fn story(jam: &str, toner: &str, drivers: &str) -> Vec<Session> {
    let s = |t: &'static str, kind: Kind, article: &str| (t, kind, article.to_owned());
    use Kind::{ArticleOpened as Opened, CaseOpened as Case, Solved, SuggestionsShown as Shown};
    vec![
        // Found the answer at once.
        Session {
            id: "web-sun-solved",
            source: WEB_FORM,
            steps: vec![
                s("2026-11-29T10:00:00Z", Shown, ""),
                s("2026-11-29T10:01:00Z", Opened, jam),
                s("2026-11-29T10:03:00Z", Solved, jam),
            ],
        },
        // Read, and opened a case anyway.
        Session {
            id: "web-sun-case",
            source: WEB_FORM,
            steps: vec![
                s("2026-11-29T11:00:00Z", Shown, ""),
                s("2026-11-29T11:02:00Z", Opened, toner),
                s("2026-11-29T11:05:00Z", Case, ""),
            ],
        },
        // Saw the suggestions and left.
        Session { id: "web-sun-left", source: WEB_FORM, steps: vec![s("2026-11-29T12:00:00Z", Shown, "")] },
        // A customer read two articles; the customers-only one solved it.
        Session {
            id: "portal-sun-drivers",
            source: PORTAL_SOURCE,
            steps: vec![
                s("2026-11-29T14:00:00Z", Shown, ""),
                s("2026-11-29T14:01:00Z", Opened, drivers),
                s("2026-11-29T14:02:00Z", Opened, jam),
                s("2026-11-29T14:04:00Z", Solved, drivers),
            ],
        },
        // Said it was solved, then opened a case after all: not deflected.
        Session {
            id: "portal-mon-changed-mind",
            source: PORTAL_SOURCE,
            steps: vec![
                s("2026-11-30T09:00:00Z", Shown, ""),
                s("2026-11-30T09:01:00Z", Opened, jam),
                s("2026-11-30T09:02:00Z", Solved, jam),
                s("2026-11-30T09:10:00Z", Case, ""),
            ],
        },
        // Across midnight and the end of the month.
        Session {
            id: "web-mon-late-night",
            source: WEB_FORM,
            steps: vec![
                s("2026-11-30T23:50:00Z", Shown, ""),
                s("2026-11-30T23:55:00Z", Opened, jam),
                s("2026-12-01T00:05:00Z", Solved, jam),
            ],
        },
        // A case typed too fast for any suggestion.
        Session { id: "web-tue-no-suggestions", source: WEB_FORM, steps: vec![s("2026-12-01T08:00:00Z", Case, "")] },
        // A case first, suggestions only while typing the next one.
        Session {
            id: "portal-tue-case-first",
            source: PORTAL_SOURCE,
            steps: vec![s("2026-12-01T10:00:00Z", Case, ""), s("2026-12-01T10:05:00Z", Shown, "")],
        },
        Session {
            id: "portal-tue-toner",
            source: PORTAL_SOURCE,
            steps: vec![
                s("2026-12-01T15:00:00Z", Shown, ""),
                s("2026-12-01T15:01:00Z", Opened, toner),
                s("2026-12-01T15:03:00Z", Solved, toner),
            ],
        },
        Session {
            id: "web-tue-case",
            source: WEB_FORM,
            steps: vec![s("2026-12-01T16:00:00Z", Shown, ""), s("2026-12-01T16:02:00Z", Case, "")],
        },
    ]
}

async fn record_story(app: &TestApp, sessions: &[Session]) {
    for session in sessions {
        for (when, kind, article) in &session.steps {
            record(app, event(session.id, *kind, session.source, article)).await.unwrap();
            // A reader reloads the article page: it counts once.
            if *kind == Kind::ArticleOpened {
                record(app, event(session.id, *kind, session.source, article)).await.unwrap();
            }
            happened_at(app, session.id, *kind, article, at(when)).await;
        }
    }
}

async fn stats_count_each_source_per_day_week_and_month(app: TestApp) {
    let jam = publish_new(&app, titled("Clearing a paper jam", pb::Audience::Public)).await;
    let toner = publish_new(&app, titled("Replacing toner", pb::Audience::Public)).await;
    let drivers = publish_new(&app, titled("Printer drivers for customers", pb::Audience::Customers)).await;
    let sessions = story(&jam.id, &toner.id, &drivers.id);
    record_story(&app, &sessions).await;
    let steps: usize = sessions.iter().map(|s| s.steps.len()).sum();
    assert_eq!(event_rows(&app).await, steps as i64, "each thing done is one row, reloads included");

    let (start, end) = ("2026-11-29T00:00:00Z", "2026-12-02T00:00:00Z");
    let days = stats(&app, stats_request(start, end, "", "")).await;
    assert_eq!(days, expected(&sessions, "day", None));
    // Spelled out once, so that the expectation above is not only the
    // same rules written twice.
    let sunday_web = &days[1];
    assert_eq!(sunday_web.start_time, Some(docket_kit::time::to_proto(at("2026-11-29T00:00:00Z"))));
    assert_eq!(
        (
            sunday_web.source.as_str(),
            sunday_web.sessions_with_suggestions,
            sunday_web.articles_opened,
            sunday_web.solved_without_case,
            sunday_web.cases_opened_anyway
        ),
        (WEB_FORM, 3, 2, 1, 1)
    );
    assert_eq!(days.len(), 6, "three days, two sources each: {days:#?}");

    let weeks = stats(&app, stats_request(start, end, "week", "")).await;
    assert_eq!(weeks, expected(&sessions, "week", None));
    let week_starts: BTreeSet<_> = weeks.iter().map(|p| p.start_time.unwrap().seconds).collect();
    assert_eq!(
        week_starts.into_iter().collect::<Vec<_>>(),
        [at("2026-11-23T00:00:00Z").timestamp(), at("2026-11-30T00:00:00Z").timestamp()],
        "weeks start on Monday, labelled with their Monday even when the range starts later"
    );
    let late_night =
        weeks.iter().find(|p| p.source == WEB_FORM && p.start_time.unwrap().seconds == at("2026-11-30T00:00:00Z").timestamp());
    assert_eq!(late_night.map(|p| (p.sessions_with_suggestions, p.solved_without_case)), Some((2, 1)));

    let months = stats(&app, stats_request(start, end, "month", "")).await;
    assert_eq!(months, expected(&sessions, "month", None));
    assert_eq!(months.len(), 4, "November and December, two sources each: {months:#?}");

    let portal_only = stats(&app, stats_request(start, end, "day", PORTAL_SOURCE)).await;
    assert_eq!(portal_only, expected(&sessions, "day", Some(PORTAL_SOURCE)));
    assert!(portal_only.iter().all(|p| p.source == PORTAL_SOURCE));

    // A range that cuts Monday at noon counts only what came before.
    let until_noon = stats(&app, stats_request(start, "2026-11-30T12:00:00Z", "day", PORTAL_SOURCE)).await;
    let monday = until_noon.last().unwrap();
    assert_eq!((monday.sessions_with_suggestions, monday.articles_opened), (1, 1));
    assert!(stats(&app, stats_request("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "month", "")).await.is_empty());
}

async fn recording_the_same_thing_again_counts_once(app: TestApp) {
    let jam = publish_new(&app, titled("Clearing a paper jam", pb::Audience::Public)).await;
    let session = "reload-0001";
    for _ in 0..3 {
        record(&app, event(session, Kind::SuggestionsShown, WEB_FORM, "")).await.unwrap();
        record(&app, event(session, Kind::ArticleOpened, WEB_FORM, &jam.id)).await.unwrap();
    }
    // Five tabs at once: still one row.
    let calls = (0..5).map(|_| record(&app, event(session, Kind::Solved, WEB_FORM, &jam.id)));
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(event_rows(&app).await, 3);
    let now = docket_kit::time::now();
    let request = pb::GetDeflectionStatsRequest {
        start_time: Some(docket_kit::time::to_proto(now - chrono::Duration::days(1))),
        end_time: Some(docket_kit::time::to_proto(now + chrono::Duration::days(1))),
        period: "month".into(),
        source: String::new(),
    };
    let periods = stats(&app, request).await;
    let counted: Vec<_> = periods
        .iter()
        .map(|p| (p.sessions_with_suggestions, p.articles_opened, p.solved_without_case, p.cases_opened_anyway))
        .collect();
    let total = counted.iter().fold((0, 0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2, a.3 + c.3));
    assert_eq!(total, (1, 1, 1, 0), "{periods:#?}");

    // The same article opened in another session, or solved in this one,
    // is another thing done.
    record(&app, event("reload-0002", Kind::ArticleOpened, WEB_FORM, &jam.id)).await.unwrap();
    assert_eq!(event_rows(&app).await, 4);
}

async fn what_a_reader_may_not_read_is_not_found(app: TestApp) {
    let internal = publish_new(&app, titled("Vendor escalation sheet", pb::Audience::Internal)).await;
    let customers = publish_new(&app, titled("Printer drivers for customers", pb::Audience::Customers)).await;
    let before = event_rows(&app).await;

    let anonymous = app
        .deflection(SERVICE)
        .record_deflection_event(event("visitor-0001", Kind::ArticleOpened, WEB_FORM, &internal.id))
        .await
        .unwrap_err();
    let missing = app
        .deflection(SERVICE)
        .record_deflection_event(event("visitor-0001", Kind::ArticleOpened, WEB_FORM, UNKNOWN))
        .await
        .unwrap_err();
    assert_eq!((anonymous.code(), missing.code()), (Code::NotFound, Code::NotFound));
    assert_eq!(
        anonymous.message().replace(&internal.id, "<id>"),
        missing.message().replace(UNKNOWN, "<id>"),
        "an internal article answers as a missing one"
    );
    for kind in [Kind::ArticleOpened, Kind::Solved] {
        let hidden = app
            .deflection(SERVICE)
            .record_deflection_event(event("visitor-0001", kind, WEB_FORM, &customers.id))
            .await
            .unwrap_err();
        assert_eq!(hidden.code(), Code::NotFound, "a customers' article is not for an anonymous visitor");
        let internal_to_customer = app
            .deflection(PORTAL)
            .record_deflection_event(as_customer(event("customer-0001", kind, PORTAL_SOURCE, &internal.id)))
            .await
            .unwrap_err();
        assert_eq!(internal_to_customer.code(), Code::NotFound);
    }
    assert_eq!(event_rows(&app).await, before, "nothing written");

    app.deflection(PORTAL)
        .record_deflection_event(as_customer(event("customer-0001", Kind::ArticleOpened, PORTAL_SOURCE, &customers.id)))
        .await
        .unwrap();
    app.deflection(AGENT)
        .record_deflection_event(event("agent-demo-0001", Kind::ArticleOpened, PORTAL_SOURCE, &internal.id))
        .await
        .unwrap();
    assert_eq!(event_rows(&app).await, before + 2, "a customer's article for a customer, any for staff");
}

async fn bad_input_is_refused_naming_the_field_and_changes_nothing(app: TestApp) {
    let jam = publish_new(&app, titled("Clearing a paper jam", pb::Audience::Public)).await;
    let draft = {
        let article = pb::Article { title: "Not yet".into(), audience: pb::Audience::Public as i32, ..Default::default() };
        let request = pb::CreateArticleRequest { article: Some(article), idempotency_key: String::new() };
        app.articles(ADMIN).create_article(request).await.unwrap().into_inner()
    };
    record(&app, event("seen-before-01", Kind::SuggestionsShown, WEB_FORM, "")).await.unwrap();
    let now = docket_kit::time::now();
    let around_now = pb::GetDeflectionStatsRequest {
        start_time: Some(docket_kit::time::to_proto(now - chrono::Duration::days(1))),
        end_time: Some(docket_kit::time::to_proto(now + chrono::Duration::days(1))),
        period: "day".into(),
        source: String::new(),
    };
    let stats_before = stats(&app, around_now.clone()).await;
    let rows_before = app.table_counts("knowledge", &["deflection_events", "audit_entries", "outbox"]).await;

    let ok = event("session-0001", Kind::ArticleOpened, WEB_FORM, &jam.id);
    let bad: Vec<(&str, pb::RecordDeflectionEventRequest)> = vec![
        ("session_id", pb::RecordDeflectionEventRequest { session_id: String::new(), ..ok.clone() }),
        ("session_id", pb::RecordDeflectionEventRequest { session_id: "short".into(), ..ok.clone() }),
        ("session_id", pb::RecordDeflectionEventRequest { session_id: "has spaces in it".into(), ..ok.clone() }),
        ("session_id", pb::RecordDeflectionEventRequest { session_id: "x".repeat(129), ..ok.clone() }),
        ("kind", pb::RecordDeflectionEventRequest { kind: Kind::Unspecified as i32, ..ok.clone() }),
        ("kind", pb::RecordDeflectionEventRequest { kind: 99, ..ok.clone() }),
        ("source", pb::RecordDeflectionEventRequest { source: String::new(), ..ok.clone() }),
        ("source", pb::RecordDeflectionEventRequest { source: "Printer Support".into(), ..ok.clone() }),
        ("source", pb::RecordDeflectionEventRequest { source: "f".repeat(65), ..ok.clone() }),
        ("article_id", pb::RecordDeflectionEventRequest { article_id: String::new(), ..ok.clone() }),
        ("article_id", pb::RecordDeflectionEventRequest { article_id: "clearing-a-paper-jam".into(), ..ok.clone() }),
        ("article_id", event("session-0001", Kind::Solved, WEB_FORM, "")),
        ("article_id", event("session-0001", Kind::SuggestionsShown, WEB_FORM, &jam.id)),
        ("article_id", event("session-0001", Kind::CaseOpened, WEB_FORM, &jam.id)),
    ];
    for (field, request) in bad {
        let refused = app.deflection(SERVICE).record_deflection_event(request.clone()).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    // Every bad field of one request is named at once.
    let all_bad =
        pb::RecordDeflectionEventRequest { session_id: "?".into(), kind: 0, source: "?".into(), article_id: "?".into() };
    let refused = app.deflection(SERVICE).record_deflection_event(all_bad).await.unwrap_err();
    for field in ["session_id", "kind", "source", "article_id"] {
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    // An article that is not there, or not published, is not found.
    for article in [UNKNOWN, draft.id.as_str()] {
        let request = event("session-0001", Kind::ArticleOpened, WEB_FORM, article);
        let missing = app.deflection(SERVICE).record_deflection_event(request).await.unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{article}");
    }

    let mut viewer = app.deflection(VIEWER);
    let bad_stats: Vec<(&str, pb::GetDeflectionStatsRequest)> = vec![
        ("period", pb::GetDeflectionStatsRequest { period: "year".into(), ..around_now.clone() }),
        ("period", pb::GetDeflectionStatsRequest { period: "Week".into(), ..around_now.clone() }),
        ("start_time", pb::GetDeflectionStatsRequest { start_time: None, ..around_now.clone() }),
        ("end_time", pb::GetDeflectionStatsRequest { end_time: None, ..around_now.clone() }),
        (
            "start_time",
            pb::GetDeflectionStatsRequest {
                start_time: Some(prost_types::Timestamp { seconds: 0, nanos: -1 }),
                ..around_now.clone()
            },
        ),
        ("end_time", stats_request("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z", "day", "")),
        ("end_time", stats_request("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "day", "")),
        ("end_time", stats_request("2021-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "month", "")),
        ("end_time", stats_request("2024-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "day", "")),
        ("end_time", stats_request("2025-03-01T00:00:00Z", "2027-03-01T00:00:00.000001Z", "week", "")),
        ("source", pb::GetDeflectionStatsRequest { source: "Portal!".into(), ..around_now.clone() }),
    ];
    for (field, request) in bad_stats {
        let refused = viewer.get_deflection_stats(request.clone()).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    // Exactly two years of days is allowed.
    let two_years = stats(&app, stats_request("2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "day", "")).await;
    assert!(two_years.is_empty());

    assert_eq!(
        app.table_counts("knowledge", &["deflection_events", "audit_entries", "outbox"]).await,
        rows_before,
        "nothing written"
    );
    assert_eq!(stats(&app, around_now).await, stats_before, "no stats changed");
}

async fn only_staff_read_the_stats(app: TestApp) {
    let now = docket_kit::time::now();
    let request = pb::GetDeflectionStatsRequest {
        start_time: Some(docket_kit::time::to_proto(now - chrono::Duration::days(7))),
        end_time: Some(docket_kit::time::to_proto(now)),
        period: "week".into(),
        source: String::new(),
    };
    for token in [SERVICE, PORTAL] {
        let denied = app.deflection(token).get_deflection_stats(request.clone()).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{token}");
    }
    let for_customer = app.deflection(PORTAL).get_deflection_stats(as_customer(request.clone())).await.unwrap_err();
    assert_eq!(for_customer.code(), Code::PermissionDenied);
    for token in [ADMIN, AGENT, VIEWER] {
        app.deflection(token).get_deflection_stats(request.clone()).await.unwrap();
    }
    // Recording is open to staff as well (trying the help center from the console).
    app.deflection(AGENT)
        .record_deflection_event(event("console-0001", Kind::SuggestionsShown, PORTAL_SOURCE, ""))
        .await
        .unwrap();
}

on_both_backends!(
    stats_count_each_source_per_day_week_and_month,
    recording_the_same_thing_again_counts_once,
    what_a_reader_may_not_read_is_not_found,
    bad_input_is_refused_naming_the_field_and_changes_nothing,
    only_staff_read_the_stats,
);
