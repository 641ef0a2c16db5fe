//! Timesheets: the week (Monday to Sunday) or month a day falls in, and
//! which moves a timesheet may make.

use chrono::{Datelike, Duration, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Week,
    Month,
}

impl Period {
    pub fn key(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// The first and last day of the period `day` is in.
    pub fn bounds(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Week => {
                let start = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                (start, start + Duration::days(6))
            }
            Period::Month => {
                let start = day.with_day(1).unwrap_or(day);
                let next = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                };
                (start, next.map_or(start, |n| n - Duration::days(1)))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetStatus {
    /// Never submitted: hours can change.
    Open,
    /// Hours are frozen until reviewed.
    Submitted,
    Approved,
    /// Sent back: hours can change and the sheet be submitted again.
    Rejected,
}

impl SheetStatus {
    pub fn key(self) -> &'static str {
        match self {
            SheetStatus::Open => "open",
            SheetStatus::Submitted => "submitted",
            SheetStatus::Approved => "approved",
            SheetStatus::Rejected => "rejected",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        [SheetStatus::Open, SheetStatus::Submitted, SheetStatus::Approved, SheetStatus::Rejected]
            .into_iter()
            .find(|s| s.key() == key)
    }

    /// Whether the hours of the period are frozen.
    pub fn locks_hours(self) -> bool {
        matches!(self, SheetStatus::Submitted | SheetStatus::Approved)
    }

    /// Submitting: from open or rejected.
    pub fn can_submit(self) -> bool {
        matches!(self, SheetStatus::Open | SheetStatus::Rejected)
    }

    /// Approving or rejecting: from submitted.
    pub fn can_review(self) -> bool {
        self == SheetStatus::Submitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weeks_run_monday_to_sunday_and_months_to_their_last_day() {
        assert_eq!(Period::Week.bounds(day("2026-11-23")), (day("2026-11-23"), day("2026-11-29")));
        assert_eq!(Period::Week.bounds(day("2026-11-29")), (day("2026-11-23"), day("2026-11-29")));
        assert_eq!(Period::Week.bounds(day("2027-01-01")), (day("2026-12-28"), day("2027-01-03")));
        assert_eq!(Period::Month.bounds(day("2026-02-14")), (day("2026-02-01"), day("2026-02-28")));
        assert_eq!(Period::Month.bounds(day("2028-02-29")), (day("2028-02-01"), day("2028-02-29")));
        assert_eq!(Period::Month.bounds(day("2026-12-31")), (day("2026-12-01"), day("2026-12-31")));
    }

    #[test]
    fn only_submitted_and_approved_sheets_freeze_hours() {
        assert!(!SheetStatus::Open.locks_hours());
        assert!(SheetStatus::Submitted.locks_hours());
        assert!(SheetStatus::Approved.locks_hours());
        assert!(!SheetStatus::Rejected.locks_hours());
        assert!(SheetStatus::Rejected.can_submit() && !SheetStatus::Approved.can_submit());
        assert!(SheetStatus::Submitted.can_review() && !SheetStatus::Open.can_review());
    }
}
