//! The period reports' arithmetic: days (UTC), the steps they roll up
//! into, the dimensions counted, and durations kept as histograms.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The longest period a report covers, in days: two years.
pub const PERIOD_DAYS_MAX: i32 = 731;

/// What a day's counts are kept by. `All` has one key, the empty one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    All,
    Type,
    Channel,
    Team,
    Priority,
    Owner,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [Self::All, Self::Type, Self::Channel, Self::Team, Self::Priority, Self::Owner];

    pub fn key(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Type => "type",
            Self::Channel => "channel",
            Self::Team => "team",
            Self::Priority => "priority",
            Self::Owner => "owner",
        }
    }
}

/// The steps of a volume report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// From Monday.
    Week,
    Month,
}

/// A day as the reports keep it: days since 1970-01-01 (UTC).
pub fn day_of(at: DateTime<Utc>) -> i32 {
    at.timestamp().div_euclid(86_400) as i32
}

pub fn date_of(day: i32) -> NaiveDate {
    DateTime::from_timestamp(i64::from(day) * 86_400, 0).unwrap_or_default().date_naive()
}

/// The first day of the step `day` falls in.
pub fn step_of(day: i32, granularity: Granularity) -> i32 {
    let date = date_of(day);
    match granularity {
        Granularity::Day => day,
        Granularity::Week => day - date.weekday().num_days_from_monday() as i32,
        Granularity::Month => day - (date.day0() as i32),
    }
}

/// A period of whole days: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: i32,
    pub end: i32,
}

impl Period {
    /// The days from the day of `start` up to the day of `end`; why not,
    /// when the period is empty, backwards or longer than two years.
    pub fn of(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, &'static str> {
        let period = Self { start: day_of(start), end: day_of(end) };
        if period.end <= period.start {
            Err("must end at least a day after it starts")
        } else if period.end - period.start > PERIOD_DAYS_MAX {
            Err("covers more than two years (731 days)")
        } else {
            Ok(period)
        }
    }
}

/// Upper bounds of the duration buckets, in seconds: 15 and 30 minutes,
/// 1, 2, 4 and 8 hours, 1, 2, 3, 5, 7, 14 and 30 days; the last bucket
/// holds everything longer.
pub const BUCKET_BOUNDS: [i64; 13] = [
    15 * 60,
    30 * 60,
    3_600,
    2 * 3_600,
    4 * 3_600,
    8 * 3_600,
    86_400,
    2 * 86_400,
    3 * 86_400,
    5 * 86_400,
    7 * 86_400,
    14 * 86_400,
    30 * 86_400,
];

/// How many buckets there are.
pub const BUCKETS: usize = BUCKET_BOUNDS.len() + 1;

/// The bucket of a duration in seconds.
pub fn bucket_of(seconds: i64) -> i16 {
    BUCKET_BOUNDS.iter().position(|bound| seconds < *bound).unwrap_or(BUCKET_BOUNDS.len()) as i16
}

/// The bounds of a bucket, in seconds: `[lower, upper)`; the last one's
/// upper bound is taken as twice its lower for placing values in it.
pub fn bucket_bounds(bucket: usize) -> (i64, i64) {
    let lower = if bucket == 0 { 0 } else { BUCKET_BOUNDS[bucket - 1] };
    let upper = BUCKET_BOUNDS.get(bucket).copied().unwrap_or(2 * BUCKET_BOUNDS[BUCKET_BOUNDS.len() - 1]);
    (lower, upper)
}

/// The `p` quantile (0 < p <= 1) of a histogram, in seconds, by nearest
/// rank: the bucket of the ceil(p * total)-th shortest value, which is
/// placed in it as the k-th of its n values would be spread evenly, at
/// (k - 1/2) / n of its width (so never on a bound). With the shortest and
/// longest value known (`range`), a bucket spans no further than they do:
/// five cases closed within seconds have a median of seconds, not of
/// half the first bucket's quarter hour.
pub fn quantile(counts: &[i64; BUCKETS], p: f64, range: Option<(i64, i64)>) -> f64 {
    let total: i64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    // The epsilon keeps 0.9 * 10 (9.000000000000002) the 9th, not the 10th.
    let rank = ((p * total as f64 - 1e-9).ceil() as i64).clamp(1, total);
    let mut below = 0i64;
    for (bucket, count) in counts.iter().enumerate() {
        if below + count >= rank {
            let (mut lower, mut upper) = bucket_bounds(bucket);
            if let Some((shortest, longest)) = range {
                (lower, upper) = (lower.max(shortest), upper.min(longest).max(lower.max(shortest)));
            }
            let within = ((rank - below) as f64 - 0.5) / *count as f64;
            return lower as f64 + within * (upper - lower) as f64;
        }
        below += count;
    }
    bucket_bounds(BUCKETS - 1).1 as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_roll_up_into_weeks_from_monday_and_calendar_months() {
        let thursday = day_of(at("2026-12-03T23:59:00Z"));
        assert_eq!(date_of(thursday).to_string(), "2026-12-03");
        assert_eq!(date_of(step_of(thursday, Granularity::Week)).to_string(), "2026-11-30");
        assert_eq!(date_of(step_of(thursday, Granularity::Month)).to_string(), "2026-12-01");
        assert_eq!(step_of(thursday, Granularity::Day), thursday);
        assert_eq!(day_of(at("1969-12-31T12:00:00Z")), -1);
    }

    #[test]
    fn a_period_is_whole_days_forwards_and_at_most_two_years() {
        let period = Period::of(at("2026-01-01T10:00:00Z"), at("2026-02-01T00:00:00Z")).unwrap();
        assert_eq!(period.end - period.start, 31);
        assert!(Period::of(at("2026-01-02T00:00:00Z"), at("2026-01-01T00:00:00Z")).is_err());
        assert!(Period::of(at("2026-01-01T00:00:00Z"), at("2026-01-01T23:00:00Z")).is_err(), "no whole day");
        assert!(Period::of(at("2020-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")).is_err(), "years");
    }

    #[test]
    fn quantiles_fall_in_the_bucket_of_the_exact_value() {
        let mut counts = [0i64; BUCKETS];
        // 10 cases: 4 within 15 minutes, 5 within a day, 1 in two days.
        for seconds in [60, 300, 600, 800, 10_000, 20_000, 40_000, 50_000, 80_000, 100_000] {
            counts[bucket_of(seconds) as usize] += 1;
        }
        let median = quantile(&counts, 0.5, None);
        assert_eq!(bucket_of(median as i64), bucket_of(10_000), "the 5th value's bucket: {median}");
        let p90 = quantile(&counts, 0.9, None);
        assert_eq!(bucket_of(p90 as i64), bucket_of(80_000), "{p90}");
        assert_eq!(quantile(&[0; BUCKETS], 0.5, None), 0.0);
        assert_eq!(bucket_of(0), 0);
        // Known extremes bound the bucket: all within 60..800 seconds.
        let mut quick = [0i64; BUCKETS];
        for seconds in [60, 300, 800] {
            quick[bucket_of(seconds) as usize] += 1;
        }
        let median = quantile(&quick, 0.5, Some((60, 800)));
        assert!((60.0..=800.0).contains(&median), "{median}");
        let mut same = [0i64; BUCKETS];
        same[bucket_of(5) as usize] = 3;
        assert_eq!(quantile(&same, 0.9, Some((5, 5))), 5.0, "one value three times is that value");
        let slow = quantile(&counts, 1.0, Some((60, 100_000)));
        assert!(slow <= 100_000.0, "the last bucket ends at the longest: {slow}");
        assert_eq!(bucket_of(31 * 86_400), (BUCKETS - 1) as i16);
    }
}
