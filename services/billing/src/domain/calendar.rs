//! Business-hours arithmetic: weekly working hours in a time zone, minus
//! holidays. SLA targets are business durations ("4 working hours"), and a
//! deadline is the instant when that much working time has passed.
//!
//! Working hours are local wall-clock times. On a daylight-saving change the
//! real length of a working interval changes with it: 01:00–05:00 on the
//! night clocks go forward is three real hours, on the night they go back
//! five. A local time that does not exist (inside the spring-forward gap)
//! counts from the instant the clocks jump to; an ambiguous one (inside the
//! repeated hour) opens at its first occurrence and closes at its last.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Minutes in a day: an interval may end at 24:00.
const DAY_MINUTES: u32 = 24 * 60;
/// How far ahead a deadline is searched before giving up (ten years).
const HORIZON_DAYS: i64 = 3660;

/// A working interval of a day, in local minutes since midnight, `start < end <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{weekday:?}: an interval must start before it ends and end by 24:00 ({start}..{end} minutes)")]
    BadInterval { weekday: Weekday, start: u32, end: u32 },
    #[error("{weekday:?}: working intervals overlap")]
    Overlap { weekday: Weekday },
}

/// Weekly working hours in a time zone, with holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    tz: Tz,
    /// Monday first.
    weekly: [Vec<Interval>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Checks the weekly hours: each interval well-formed, none overlapping.
    pub fn new(tz: Tz, weekly: [Vec<Interval>; 7], holidays: BTreeSet<NaiveDate>) -> Result<Self, CalendarError> {
        let mut weekly = weekly;
        for (day, intervals) in weekly.iter_mut().enumerate() {
            let weekday = weekday_of(day);
            intervals.sort();
            for interval in intervals.iter() {
                if interval.start >= interval.end || interval.end > DAY_MINUTES {
                    return Err(CalendarError::BadInterval { weekday, start: interval.start, end: interval.end });
                }
            }
            if intervals.windows(2).any(|pair| pair[0].end > pair[1].start) {
                return Err(CalendarError::Overlap { weekday });
            }
        }
        Ok(Self { tz, weekly, holidays })
    }

    /// Around the clock, every day: business time is real time.
    pub fn always() -> Self {
        let day = vec![Interval { start: 0, end: DAY_MINUTES }];
        Self { tz: Tz::UTC, weekly: std::array::from_fn(|_| day.clone()), holidays: BTreeSet::new() }
    }

    /// The same hours Monday to Friday, e.g. `weekdays(Berlin, 9*60, 17*60)`.
    pub fn weekdays(tz: Tz, start: u32, end: u32, holidays: BTreeSet<NaiveDate>) -> Result<Self, CalendarError> {
        let day = vec![Interval { start, end }];
        let weekly = std::array::from_fn(|i| if i < 5 { day.clone() } else { Vec::new() });
        Self::new(tz, weekly, holidays)
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    fn has_working_time(&self) -> bool {
        self.weekly.iter().any(|d| !d.is_empty())
    }

    /// The working intervals of one local date, as instants, in order.
    fn intervals_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let day = date.weekday().num_days_from_monday() as usize;
        self.weekly[day]
            .iter()
            .filter_map(|interval| {
                let start = self.instant(date, interval.start, Edge::Open)?;
                let end = self.instant(date, interval.end, Edge::Close)?;
                (start < end).then_some((start, end))
            })
            .collect()
    }

    /// The instant of a local wall-clock time.
    fn instant(&self, date: NaiveDate, minute: u32, edge: Edge) -> Option<DateTime<Utc>> {
        let local = local_time(date, minute)?;
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, last) => Some(match edge {
                Edge::Open => first.with_timezone(&Utc),
                Edge::Close => last.with_timezone(&Utc),
            }),
            // Inside a spring-forward gap: the first local time after the gap
            // is the instant the clocks jumped.
            LocalResult::None => (1..=240).find_map(|k| {
                self.tz.from_local_datetime(&(local + Duration::minutes(k))).earliest().map(|t| t.with_timezone(&Utc))
            }),
        }
    }

    fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.tz).date_naive()
    }

    /// The instant when `business` working time has passed since `start`;
    /// `None` if the calendar has no working time in the next ten years.
    pub fn add(&self, start: DateTime<Utc>, business: Duration) -> Option<DateTime<Utc>> {
        self.add_excluding(start, business, &[])
    }

    /// Like [`add`](Self::add), with `paused` spans (e.g. while a case is
    /// Pending) not counting as working time.
    pub fn add_excluding(
        &self,
        start: DateTime<Utc>,
        business: Duration,
        paused: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Option<DateTime<Utc>> {
        if business <= Duration::zero() {
            return Some(start);
        }
        if !self.has_working_time() {
            return None;
        }
        let mut remaining = business;
        // Begin a day early: a local day's intervals may start before `start`.
        let mut date = self.local_date(start).pred_opt()?;
        let last = date + Duration::days(HORIZON_DAYS);
        while date <= last {
            for (open, close) in self.intervals_on(date) {
                for (from, to) in subtract(open.max(start), close, paused) {
                    let available = to - from;
                    if available <= Duration::zero() {
                        continue;
                    }
                    if remaining <= available {
                        return Some(from + remaining);
                    }
                    remaining -= available;
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Working time between two instants (zero if `to <= from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        self.between_excluding(from, to, &[])
    }

    /// Working time between two instants, not counting `paused` spans.
    pub fn between_excluding(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        paused: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        let Some(mut date) = self.local_date(from).pred_opt() else { return total };
        let last = self.local_date(to).succ_opt().unwrap_or(date);
        while date <= last {
            for (open, close) in self.intervals_on(date) {
                for (a, b) in subtract(open.max(from), close.min(to), paused) {
                    if b > a {
                        total += b - a;
                    }
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        total
    }
}

#[derive(Clone, Copy)]
enum Edge {
    Open,
    Close,
}

fn weekday_of(index: usize) -> Weekday {
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun][index % 7]
}

fn local_time(date: NaiveDate, minute: u32) -> Option<NaiveDateTime> {
    if minute == DAY_MINUTES {
        return date.succ_opt().map(|next| next.and_time(NaiveTime::MIN));
    }
    NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).map(|t| date.and_time(t))
}

/// `[from, to)` minus every paused span, as ordered pieces.
fn subtract(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    paused: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut pieces = vec![(from, to)];
    for &(pause_start, pause_end) in paused {
        pieces = pieces
            .into_iter()
            .flat_map(|(a, b)| {
                if pause_end <= a || pause_start >= b {
                    vec![(a, b)]
                } else {
                    let mut left = Vec::new();
                    if pause_start > a {
                        left.push((a, pause_start));
                    }
                    if pause_end < b {
                        left.push((pause_end, b));
                    }
                    left
                }
            })
            .collect();
    }
    pieces.retain(|(a, b)| b > a);
    pieces
}

#[cfg(test)]
mod tests {
    use chrono_tz::{America::New_York, Europe::Berlin};
    use proptest::prelude::*;

    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn office(tz: Tz) -> Calendar {
        Calendar::weekdays(tz, 9 * 60, 17 * 60, BTreeSet::new()).unwrap()
    }

    #[test]
    fn working_time_is_added_across_the_weekend() {
        let cal = office(Berlin);
        // Friday 2026-11-20 16:00 Berlin (15:00 UTC) + 2 h = Monday 10:00 Berlin.
        assert_eq!(cal.add(utc("2026-11-20T15:00:00Z"), Duration::hours(2)), Some(utc("2026-11-23T09:00:00Z")));
        // Saturday counts from Monday 09:00.
        assert_eq!(cal.add(utc("2026-11-21T12:00:00Z"), Duration::hours(1)), Some(utc("2026-11-23T09:00:00Z")));
        // Exactly the rest of a day ends at closing time.
        assert_eq!(cal.add(utc("2026-11-23T15:00:00Z"), Duration::hours(1)), Some(utc("2026-11-23T16:00:00Z")));
        assert_eq!(cal.between(utc("2026-11-20T15:00:00Z"), utc("2026-11-23T09:00:00Z")), Duration::hours(2));
    }

    #[test]
    fn holidays_are_skipped() {
        let holidays = [NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()].into();
        let cal = Calendar::weekdays(Berlin, 9 * 60, 17 * 60, holidays).unwrap();
        // Wednesday 23 Dec 16:00 + 2 h: Thursday and Friday are holidays -> Monday 28 Dec 10:00 (CET = UTC+1).
        assert_eq!(cal.add(utc("2026-12-23T15:00:00Z"), Duration::hours(2)), Some(utc("2026-12-28T09:00:00Z")));
    }

    #[test]
    fn time_zones_decide_when_the_day_starts() {
        let cal = office(New_York);
        // Monday 2026-11-23 08:00 New York (13:00 UTC): opens at 09:00 EST = 14:00 UTC.
        assert_eq!(cal.add(utc("2026-11-23T13:00:00Z"), Duration::minutes(30)), Some(utc("2026-11-23T14:30:00Z")));
        let berlin = office(Berlin);
        assert_eq!(berlin.add(utc("2026-11-23T13:00:00Z"), Duration::minutes(30)), Some(utc("2026-11-23T13:30:00Z")));
    }

    fn night_shift() -> Calendar {
        // Every day 01:00–05:00 local: crosses the DST switches at 02:00/03:00.
        let day = vec![Interval { start: 60, end: 300 }];
        Calendar::new(Berlin, std::array::from_fn(|_| day.clone()), BTreeSet::new()).unwrap()
    }

    #[test]
    fn the_night_clocks_go_forward_has_an_hour_less() {
        let cal = night_shift();
        // 2026-03-29: 01:00 CET (00:00 UTC) .. 05:00 CEST (03:00 UTC) = 3 real hours.
        assert_eq!(cal.between(utc("2026-03-28T23:00:00Z"), utc("2026-03-29T04:00:00Z")), Duration::hours(3));
        assert_eq!(cal.add(utc("2026-03-29T00:00:00Z"), Duration::hours(3)), Some(utc("2026-03-29T03:00:00Z")));
        // The fourth hour spills into the next night.
        assert_eq!(cal.add(utc("2026-03-29T00:00:00Z"), Duration::hours(4)), Some(utc("2026-03-30T00:00:00Z")));
    }

    #[test]
    fn the_night_clocks_go_back_has_an_hour_more() {
        let cal = night_shift();
        // 2026-10-25: 01:00 CEST (23:00 UTC on the 24th) .. 05:00 CET (04:00 UTC) = 5 real hours.
        assert_eq!(cal.between(utc("2026-10-24T22:00:00Z"), utc("2026-10-25T05:00:00Z")), Duration::hours(5));
        assert_eq!(cal.add(utc("2026-10-24T23:00:00Z"), Duration::hours(5)), Some(utc("2026-10-25T04:00:00Z")));
    }

    #[test]
    fn pauses_stop_the_clock() {
        let cal = office(Berlin);
        // Monday 09:00 + 4 h with a 2 h pause from 10:00: due at 15:00 Berlin.
        let pause = [(utc("2026-11-23T09:00:00Z"), utc("2026-11-23T11:00:00Z"))];
        assert_eq!(cal.add_excluding(utc("2026-11-23T08:00:00Z"), Duration::hours(4), &pause), Some(utc("2026-11-23T14:00:00Z")));
        assert_eq!(cal.between_excluding(utc("2026-11-23T08:00:00Z"), utc("2026-11-23T14:00:00Z"), &pause), Duration::hours(4));
    }

    #[test]
    fn bad_hours_are_refused_and_an_empty_calendar_has_no_deadline() {
        assert!(matches!(Calendar::weekdays(Berlin, 17 * 60, 9 * 60, BTreeSet::new()), Err(CalendarError::BadInterval { .. })));
        assert!(matches!(Calendar::weekdays(Berlin, 9 * 60, 25 * 60, BTreeSet::new()), Err(CalendarError::BadInterval { .. })));
        let overlapping = vec![Interval { start: 60, end: 120 }, Interval { start: 90, end: 180 }];
        assert!(matches!(
            Calendar::new(Berlin, std::array::from_fn(|_| overlapping.clone()), BTreeSet::new()),
            Err(CalendarError::Overlap { .. })
        ));
        let never = Calendar::new(Berlin, std::array::from_fn(|_| Vec::new()), BTreeSet::new()).unwrap();
        assert_eq!(never.add(utc("2026-11-23T08:00:00Z"), Duration::hours(1)), None);
        assert_eq!(never.add(utc("2026-11-23T08:00:00Z"), Duration::zero()), Some(utc("2026-11-23T08:00:00Z")));
    }

    fn any_calendar() -> impl Strategy<Value = Calendar> {
        let tz = prop::sample::select(vec![Berlin, New_York, Tz::Asia__Kolkata, Tz::Australia__Lord_Howe, Tz::UTC]);
        let hours = (0u32..23, 1u32..=8).prop_map(|(start, len)| (start * 60, ((start + len) * 60).min(DAY_MINUTES)));
        (tz, hours, prop::collection::vec(0u32..7, 0..3)).prop_map(|(tz, (start, end), off)| {
            let day = vec![Interval { start, end }];
            let weekly = std::array::from_fn(|i| if off.contains(&(i as u32)) { Vec::new() } else { day.clone() });
            Calendar::new(tz, weekly, BTreeSet::new()).unwrap()
        })
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 2025–2028: several DST changes in every zone that has them.
        (1_735_689_600i64..1_861_920_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    proptest! {
        #[test]
        fn adding_then_measuring_gives_back_the_duration(cal in any_calendar(), start in any_instant(), minutes in 1i64..(60 * 24 * 20)) {
            let business = Duration::minutes(minutes);
            let due = cal.add(start, business).expect("every generated calendar has working time");
            prop_assert!(due > start);
            prop_assert_eq!(cal.between(start, due), business);
        }

        #[test]
        fn more_working_time_never_ends_earlier(cal in any_calendar(), start in any_instant(), a in 1i64..5000, b in 1i64..5000) {
            let (short, long) = (a.min(b), a.max(b));
            prop_assert!(cal.add(start, Duration::minutes(short)) <= cal.add(start, Duration::minutes(long)));
        }

        #[test]
        fn around_the_clock_business_time_is_real_time(start in any_instant(), minutes in 0i64..100_000) {
            prop_assert_eq!(Calendar::always().add(start, Duration::minutes(minutes)), Some(start + Duration::minutes(minutes)));
        }
    }
}
