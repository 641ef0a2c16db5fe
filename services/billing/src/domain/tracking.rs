//! SLA tracking of one case: from the statuses a case went through to the
//! spans that stop its clock, and from where a target stands to what the
//! scheduler must do — raise a warning or a breach (once each), and when to
//! look again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sla::SlaState;

/// What the SLA cares about of a case's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStatus {
    /// Active – New or Active – Assigned: the clock runs.
    Active,
    /// Pending: the clock stops if the policy says so.
    Pending,
    /// Closed – Complete or Closed – No Fault: both targets are done.
    Closed,
}

/// The status a case had from `at` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPoint {
    pub at: DateTime<Utc>,
    pub status: ClockStatus,
}

/// Adds a point to a log kept in time order; the same point twice (an event
/// delivered again) changes nothing.
pub fn record(log: &mut Vec<StatusPoint>, point: StatusPoint) {
    if log.contains(&point) {
        return;
    }
    let at = log.partition_point(|p| p.at <= point.at);
    log.insert(at, point);
}

/// The spans spent Pending (the last may still be open) and the spans spent
/// closed before a reopen.
#[allow(clippy::type_complexity)]
pub fn spans(log: &[StatusPoint]) -> (Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>, Vec<(DateTime<Utc>, DateTime<Utc>)>) {
    let mut pending = Vec::new();
    let mut closed = Vec::new();
    for (i, point) in log.iter().enumerate() {
        let end = log[i + 1..].iter().find(|next| next.status != point.status).map(|next| next.at);
        // Only the first point of a run of equal statuses opens a span.
        if i > 0 && log[i - 1].status == point.status {
            continue;
        }
        match point.status {
            ClockStatus::Pending => pending.push((point.at, end)),
            ClockStatus::Closed => {
                if let Some(end) = end {
                    closed.push((point.at, end));
                }
            }
            ClockStatus::Active => {}
        }
    }
    (pending, closed)
}

/// Whether a target's compliance is decided, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Met,
    Missed,
}

impl Outcome {
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Met => "met",
            Outcome::Missed => "missed",
        }
    }
}

/// An event the scheduler raises for a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// `case.sla_warning`
    Warning,
    /// `case.sla_breached`
    Breach,
}

/// What the scheduler does about one target now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlan {
    /// Alerts to raise now, in order; each at most once per target.
    pub alerts: Vec<Alert>,
    pub warned: bool,
    pub breached: bool,
    /// The deadlines while the clock runs (not met, not paused).
    pub warn_at: Option<DateTime<Utc>>,
    pub due: Option<DateTime<Utc>>,
    /// When to look at it again (an alert still to come); `None`: nothing pending.
    pub next_check: Option<DateTime<Utc>>,
    pub outcome: Outcome,
}

/// Plans one target given where it stands at `now` and which alerts were
/// already raised. A warning missed while the scheduler was down is raised
/// before the breach, so every breached target has had its warning.
pub fn plan(state: SlaState, warned: bool, breached: bool) -> TargetPlan {
    let mut plan = TargetPlan {
        alerts: Vec::new(),
        warned,
        breached,
        warn_at: None,
        due: None,
        next_check: None,
        outcome: if breached { Outcome::Missed } else { Outcome::Open },
    };
    match state {
        SlaState::OnTrack { warn_at, due } => {
            plan.warn_at = Some(warn_at);
            plan.due = Some(due);
            plan.next_check = if !warned {
                Some(warn_at)
            } else if !breached {
                Some(due)
            } else {
                None
            };
        }
        SlaState::AtRisk { warn_at, due } => {
            plan.warn_at = Some(warn_at);
            plan.due = Some(due);
            if !warned {
                plan.alerts.push(Alert::Warning);
                plan.warned = true;
            }
            plan.next_check = (!breached).then_some(due);
        }
        SlaState::Breached { due } => {
            plan.due = Some(due);
            if !warned {
                plan.alerts.push(Alert::Warning);
                plan.warned = true;
            }
            if !breached {
                plan.alerts.push(Alert::Breach);
                plan.breached = true;
            }
            plan.outcome = Outcome::Missed;
        }
        SlaState::Met => plan.outcome = if breached { Outcome::Missed } else { Outcome::Met },
        SlaState::MetLate => plan.outcome = Outcome::Missed,
        SlaState::Paused { .. } | SlaState::NoDeadline => {}
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn point(at: &str, status: ClockStatus) -> StatusPoint {
        StatusPoint { at: utc(at), status }
    }

    #[test]
    fn the_log_stays_in_time_order_and_ignores_repeats() {
        let mut log = Vec::new();
        record(&mut log, point("2026-11-23T10:00:00Z", ClockStatus::Pending));
        record(&mut log, point("2026-11-23T09:00:00Z", ClockStatus::Active));
        record(&mut log, point("2026-11-23T11:00:00Z", ClockStatus::Active));
        record(&mut log, point("2026-11-23T10:00:00Z", ClockStatus::Pending));
        let times: Vec<_> = log.iter().map(|p| p.at).collect();
        assert_eq!(times, [utc("2026-11-23T09:00:00Z"), utc("2026-11-23T10:00:00Z"), utc("2026-11-23T11:00:00Z")]);
    }

    #[test]
    fn pending_and_closed_spans_come_from_the_log() {
        let log = vec![
            point("2026-11-23T09:00:00Z", ClockStatus::Active),
            point("2026-11-23T10:00:00Z", ClockStatus::Pending),
            point("2026-11-23T10:30:00Z", ClockStatus::Pending),
            point("2026-11-23T11:00:00Z", ClockStatus::Active),
            point("2026-11-23T12:00:00Z", ClockStatus::Closed),
            point("2026-11-23T13:00:00Z", ClockStatus::Active),
            point("2026-11-23T14:00:00Z", ClockStatus::Pending),
        ];
        let (pending, closed) = spans(&log);
        assert_eq!(
            pending,
            [(utc("2026-11-23T10:00:00Z"), Some(utc("2026-11-23T11:00:00Z"))), (utc("2026-11-23T14:00:00Z"), None)]
        );
        assert_eq!(closed, [(utc("2026-11-23T12:00:00Z"), utc("2026-11-23T13:00:00Z"))]);
    }

    #[test]
    fn a_target_warns_then_breaches_once_each() {
        let warn_at = utc("2026-11-23T09:48:00Z");
        let due = utc("2026-11-23T10:00:00Z");
        let on_track = plan(SlaState::OnTrack { warn_at, due }, false, false);
        assert!(on_track.alerts.is_empty());
        assert_eq!(on_track.next_check, Some(warn_at));

        let at_risk = plan(SlaState::AtRisk { warn_at, due }, false, false);
        assert_eq!(at_risk.alerts, [Alert::Warning]);
        assert_eq!(at_risk.next_check, Some(due));
        let again = plan(SlaState::AtRisk { warn_at, due }, true, false);
        assert!(again.alerts.is_empty());

        let breached = plan(SlaState::Breached { due }, true, false);
        assert_eq!(breached.alerts, [Alert::Breach]);
        assert_eq!(breached.next_check, None);
        assert_eq!(breached.outcome, Outcome::Missed);
        let again = plan(SlaState::Breached { due }, true, true);
        assert!(again.alerts.is_empty());
    }

    #[test]
    fn a_late_scheduler_raises_the_missed_warning_before_the_breach() {
        let late = plan(SlaState::Breached { due: utc("2026-11-23T10:00:00Z") }, false, false);
        assert_eq!(late.alerts, [Alert::Warning, Alert::Breach]);
        assert!(late.warned && late.breached);
    }

    #[test]
    fn met_paused_and_targetless_clocks_need_no_check() {
        assert_eq!(plan(SlaState::Met, false, false).outcome, Outcome::Met);
        assert_eq!(plan(SlaState::MetLate, true, true).outcome, Outcome::Missed);
        // Met after the breach was raised (the response came late) stays missed.
        assert_eq!(plan(SlaState::Met, true, true).outcome, Outcome::Missed);
        for state in [SlaState::Paused { left: chrono::Duration::minutes(5) }, SlaState::NoDeadline, SlaState::Met] {
            let planned = plan(state, false, false);
            assert_eq!(planned.next_check, None, "{state:?}");
            assert!(planned.alerts.is_empty());
        }
    }
}
