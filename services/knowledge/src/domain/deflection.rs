//! Deflection: what a customer did with the articles suggested while typing
//! a new case (saw them, opened one, said it solved the problem, opened a
//! case anyway), and the calendar periods the stats are counted in. All
//! periods are in UTC; weeks are ISO weeks, starting on Monday.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};

/// Shortest and longest session id, in characters.
pub const SESSION_ID_MIN: usize = 8;
pub const SESSION_ID_MAX: usize = 128;

/// Longest source (a web form's slug), in characters.
pub const SOURCE_MAX: usize = 64;

/// The source of events recorded in the customer portal; any other source
/// is the slug of a web form.
pub const PORTAL: &str = "portal";

/// The longest range one stats request may cover, in months: two years.
pub const RANGE_MAX_MONTHS: u32 = 24;

/// The latest end a stats request starting at `start` may have.
pub fn latest_end(start: DateTime<Utc>) -> Option<DateTime<Utc>> {
    start.checked_add_months(Months::new(RANGE_MAX_MONTHS))
}

/// One thing a reader did in a deflection session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// Articles were suggested for what the reader typed.
    SuggestionsShown,
    /// The reader opened a suggested article.
    ArticleOpened,
    /// The reader said the article solved the problem.
    Solved,
    /// The reader opened a case.
    CaseOpened,
}

impl EventKind {
    pub const ALL: [EventKind; 4] =
        [EventKind::SuggestionsShown, EventKind::ArticleOpened, EventKind::Solved, EventKind::CaseOpened];

    /// Its name in the database.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::SuggestionsShown => "suggestions_shown",
            EventKind::ArticleOpened => "article_opened",
            EventKind::Solved => "solved",
            EventKind::CaseOpened => "case_opened",
        }
    }

    pub fn from_name(name: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether an event of this kind names the article it is about (an
    /// opening and a "this solved it" do; a list of suggestions and a case
    /// do not).
    pub fn has_article(self) -> bool {
        matches!(self, EventKind::ArticleOpened | EventKind::Solved)
    }
}

/// Why `session_id` is not one the gateway makes, if it is not: 8 to 128 of
/// A-Z, a-z, 0-9, `_` and `-`.
pub fn check_session_id(session_id: &str) -> Result<(), String> {
    if session_id.is_empty() {
        return Err("is required".to_owned());
    }
    let len = session_id.chars().count();
    if !(SESSION_ID_MIN..=SESSION_ID_MAX).contains(&len) {
        return Err(format!("must be {SESSION_ID_MIN} to {SESSION_ID_MAX} characters; it is {len}"));
    }
    if !session_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err("may hold only A-Z, a-z, 0-9, _ and -".to_owned());
    }
    Ok(())
}

/// Why `source` is neither `portal` nor a web form's slug, if it is not:
/// 1 to 64 of lowercase a-z, digits and dashes.
pub fn check_source(source: &str) -> Result<(), String> {
    if source.is_empty() {
        return Err(format!("is required: `{PORTAL}` or the slug of a web form"));
    }
    if source.len() > SOURCE_MAX {
        return Err(format!("must be at most {SOURCE_MAX} characters"));
    }
    if !source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(format!("must be `{PORTAL}` or a web form's slug: lowercase a-z, digits and dashes"));
    }
    Ok(())
}

/// The calendar period stats are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// An ISO week: Monday to Sunday.
    Week,
    Month,
}

impl Period {
    /// The period a request names; empty is a day.
    pub fn parse(name: &str) -> Option<Period> {
        match name {
            "" | "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// The first day of the period holding `day`.
    pub fn first_day(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => day,
            Period::Week => day.checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday()))).unwrap_or(day),
            Period::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The start (midnight UTC) of the period holding `at`.
    pub fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        midnight(self.first_day(at.date_naive()))
    }

    /// The first day of the period after the one starting on `first`.
    fn next(self, first: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Day => first.checked_add_days(Days::new(1)),
            Period::Week => first.checked_add_days(Days::new(7)),
            Period::Month => first.checked_add_months(Months::new(1)),
        }
    }

    /// The periods that meet `[start, end)`, in order: each one's calendar
    /// start (what the stats are labelled with) and the part of it inside
    /// the range (what is counted). At most about 730 for two years of days.
    pub fn buckets(self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Bucket> {
        let mut buckets = Vec::new();
        let mut first = self.first_day(start.date_naive());
        while midnight(first) < end {
            let Some(next) = self.next(first) else { break };
            let (label, until) = (midnight(first), midnight(next));
            buckets.push(Bucket { start: label, from: label.max(start), until: until.min(end) });
            first = next;
        }
        buckets
    }
}

/// One period of a stats request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// The calendar start of the period: its label.
    pub start: DateTime<Utc>,
    /// The events counted in it are those at or after `from` and before
    /// `until` (the period cut to the requested range).
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_week_starts_on_monday() {
        // 2026-12-07 is a Monday.
        for day in ["2026-12-07T00:00:00Z", "2026-12-09T13:30:00Z", "2026-12-13T23:59:59.999999Z"] {
            assert_eq!(Period::Week.start_of(at(day)), at("2026-12-07T00:00:00Z"), "{day}");
        }
        assert_eq!(Period::Week.start_of(at("2026-12-06T23:59:59Z")), at("2026-11-30T00:00:00Z"), "a Sunday ends the week");
        assert_eq!(Period::Week.start_of(at("2027-01-01T12:00:00Z")), at("2026-12-28T00:00:00Z"), "across the new year");
    }

    #[test]
    fn a_month_starts_on_its_first_day_at_midnight_utc() {
        assert_eq!(Period::Month.start_of(at("2026-12-31T23:59:59Z")), at("2026-12-01T00:00:00Z"));
        assert_eq!(Period::Month.start_of(at("2027-01-01T00:00:00Z")), at("2027-01-01T00:00:00Z"));
        assert_eq!(Period::Month.start_of(at("2028-02-29T10:00:00Z")), at("2028-02-01T00:00:00Z"));
        // 00:30 in Berlin on March 1st is still February in UTC.
        assert_eq!(Period::Month.start_of(at("2027-03-01T00:30:00+01:00")), at("2027-02-01T00:00:00Z"));
        assert_eq!(Period::Day.start_of(at("2027-03-01T00:30:00+01:00")), at("2027-02-28T00:00:00Z"));
    }

    #[test]
    fn buckets_cover_the_range_cut_at_its_ends() {
        let months = Period::Month.buckets(at("2026-11-15T00:00:00Z"), at("2027-02-01T00:00:00Z"));
        let starts: Vec<_> = months.iter().map(|b| b.start).collect();
        assert_eq!(starts, [at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")]);
        assert_eq!((months[0].from, months[0].until), (at("2026-11-15T00:00:00Z"), at("2026-12-01T00:00:00Z")));
        assert_eq!((months[2].from, months[2].until), (at("2027-01-01T00:00:00Z"), at("2027-02-01T00:00:00Z")));

        let weeks = Period::Week.buckets(at("2026-12-09T08:00:00Z"), at("2026-12-21T00:00:01Z"));
        let starts: Vec<_> = weeks.iter().map(|b| b.start).collect();
        assert_eq!(starts, [at("2026-12-07T00:00:00Z"), at("2026-12-14T00:00:00Z"), at("2026-12-21T00:00:00Z")]);
        assert_eq!(weeks[2].until, at("2026-12-21T00:00:01Z"));
        for pair in weeks.windows(2) {
            assert_eq!(pair[0].until, pair[1].from, "no gap and no overlap");
        }

        let days = Period::Day.buckets(at("2026-12-01T00:00:00Z"), at("2026-12-03T00:00:00Z"));
        assert_eq!(days.len(), 2, "the end is not counted");
        let start = at("2024-01-01T00:00:00Z");
        let longest = Period::Day.buckets(start, latest_end(start).unwrap());
        assert_eq!(longest.len(), 731, "two years with a leap day");
        assert_eq!(latest_end(at("2024-02-29T12:00:00Z")), Some(at("2026-02-28T12:00:00Z")));
    }

    #[test]
    fn periods_are_named_day_week_or_month() {
        assert_eq!(Period::parse(""), Some(Period::Day));
        assert_eq!(Period::parse("week"), Some(Period::Week));
        assert_eq!(Period::parse("month"), Some(Period::Month));
        assert_eq!(Period::parse("Month"), None);
        assert_eq!(Period::parse("year"), None);
    }

    #[test]
    fn session_ids_and_sources_are_checked() {
        assert!(check_session_id("s_2026-12-09_AbC").is_ok());
        assert!(check_session_id(&"a".repeat(128)).is_ok());
        for bad in ["", "short", "has space here", "ümlaut-session", &"a".repeat(129)] {
            assert!(check_session_id(bad).is_err(), "{bad}");
        }
        assert!(check_source(PORTAL).is_ok());
        assert!(check_source("printer-support-2").is_ok());
        for bad in ["", "Portal", "web_form", "form slug", &"a".repeat(65)] {
            assert!(check_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_openings_and_solutions_name_an_article() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
        }
        let with: Vec<_> = EventKind::ALL.into_iter().filter(|k| k.has_article()).collect();
        assert_eq!(with, [EventKind::ArticleOpened, EventKind::Solved]);
    }
}
