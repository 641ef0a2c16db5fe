//! SLA policies and the deadlines of a case.
//!
//! A policy promises a first response and a resolution within business
//! durations that depend on the case's priority, counted in its calendar.
//! When the policy says so, time spent Pending does not count.

use chrono::{DateTime, Duration, Utc};

use super::calendar::Calendar;

/// The four priorities of a case, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

/// Business-time targets for one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub first_response: Duration,
    pub resolution: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    pub calendar: Calendar,
    /// Low, Medium, High, Critical.
    pub targets: [Targets; 4],
    pub pause_while_pending: bool,
    /// Share of a target after which the case is at risk, in percent (e.g. 80).
    pub warn_at_percent: u8,
}

impl SlaPolicy {
    pub fn targets(&self, priority: Priority) -> Targets {
        self.targets[priority as usize]
    }
}

/// What the SLA clock knows of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseClock {
    pub priority: Priority,
    pub created_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Spans spent Pending; the last may still be open (`None` end).
    pub pending: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    /// Spans the case spent closed before it was reopened: they never count.
    pub closed: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Where one target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaState {
    /// Due at the deadline; the warning instant comes first.
    OnTrack {
        warn_at: DateTime<Utc>,
        due: DateTime<Utc>,
    },
    AtRisk {
        warn_at: DateTime<Utc>,
        due: DateTime<Utc>,
    },
    Breached {
        due: DateTime<Utc>,
    },
    /// The clock is stopped (Pending) with this much business time left.
    Paused {
        left: Duration,
    },
    /// Met: done within the target.
    Met,
    /// Done, but after the deadline.
    MetLate,
    /// No working time in the calendar: no deadline can be given.
    NoDeadline,
}

/// Deadlines of one target, given the pauses.
fn state_of(
    policy: &SlaPolicy,
    clock: &CaseClock,
    target: Duration,
    done_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> SlaState {
    let mut closed_pauses: Vec<(DateTime<Utc>, DateTime<Utc>)> = if policy.pause_while_pending {
        clock.pending.iter().map(|(start, end)| (*start, end.unwrap_or(DateTime::<Utc>::MAX_UTC))).collect()
    } else {
        Vec::new()
    };
    closed_pauses.extend(clock.closed.iter().copied());
    closed_pauses.sort();
    let calendar = &policy.calendar;
    let spent = calendar.between_excluding(clock.created_at, done_at.unwrap_or(now), &closed_pauses);
    if done_at.is_some() {
        return if spent <= target { SlaState::Met } else { SlaState::MetLate };
    }
    let open_pause = policy.pause_while_pending && clock.pending.last().is_some_and(|(_, end)| end.is_none());
    if open_pause {
        return if spent >= target {
            SlaState::Breached { due: due_before_pause(policy, clock, target, &closed_pauses) }
        } else {
            SlaState::Paused { left: target - spent }
        };
    }
    let Some(due) = calendar.add_excluding(clock.created_at, target, &closed_pauses) else { return SlaState::NoDeadline };
    let warn_share = target * i32::from(policy.warn_at_percent.min(100)) / 100;
    let warn_at = calendar.add_excluding(clock.created_at, warn_share, &closed_pauses).unwrap_or(due);
    if now >= due {
        SlaState::Breached { due }
    } else if now >= warn_at {
        SlaState::AtRisk { warn_at, due }
    } else {
        SlaState::OnTrack { warn_at, due }
    }
}

fn due_before_pause(
    policy: &SlaPolicy,
    clock: &CaseClock,
    target: Duration,
    pauses: &[(DateTime<Utc>, DateTime<Utc>)],
) -> DateTime<Utc> {
    policy.calendar.add_excluding(clock.created_at, target, pauses).unwrap_or(clock.created_at)
}

/// Where the first-response target of a case stands at `now`.
pub fn first_response(policy: &SlaPolicy, clock: &CaseClock, now: DateTime<Utc>) -> SlaState {
    state_of(policy, clock, policy.targets(clock.priority).first_response, clock.first_response_at, now)
}

/// Where the resolution target of a case stands at `now`.
pub fn resolution(policy: &SlaPolicy, clock: &CaseClock, now: DateTime<Utc>) -> SlaState {
    state_of(policy, clock, policy.targets(clock.priority).resolution, clock.resolved_at, now)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono_tz::Europe::Berlin;

    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn policy(pause: bool) -> SlaPolicy {
        let hours =
            |first: i64, resolve: i64| Targets { first_response: Duration::hours(first), resolution: Duration::hours(resolve) };
        SlaPolicy {
            calendar: Calendar::weekdays(Berlin, 9 * 60, 17 * 60, BTreeSet::new()).unwrap(),
            targets: [hours(8, 40), hours(4, 24), hours(2, 8), hours(1, 4)],
            pause_while_pending: pause,
            warn_at_percent: 80,
        }
    }

    fn critical_at(created: &str) -> CaseClock {
        CaseClock {
            priority: Priority::Critical,
            created_at: utc(created),
            first_response_at: None,
            resolved_at: None,
            pending: Vec::new(),
            closed: Vec::new(),
        }
    }

    #[test]
    fn a_critical_case_warns_at_eighty_percent_and_breaches_at_one_hour() {
        let policy = policy(true);
        let clock = critical_at("2026-11-23T09:00:00Z"); // Monday 10:00 Berlin
        assert_eq!(
            first_response(&policy, &clock, utc("2026-11-23T09:10:00Z")),
            SlaState::OnTrack { warn_at: utc("2026-11-23T09:48:00Z"), due: utc("2026-11-23T10:00:00Z") }
        );
        assert_eq!(
            first_response(&policy, &clock, utc("2026-11-23T09:50:00Z")),
            SlaState::AtRisk { warn_at: utc("2026-11-23T09:48:00Z"), due: utc("2026-11-23T10:00:00Z") }
        );
        assert_eq!(
            first_response(&policy, &clock, utc("2026-11-23T10:00:00Z")),
            SlaState::Breached { due: utc("2026-11-23T10:00:00Z") }
        );
        let answered = CaseClock { first_response_at: Some(utc("2026-11-23T09:30:00Z")), ..clock.clone() };
        assert_eq!(first_response(&policy, &answered, utc("2026-11-23T12:00:00Z")), SlaState::Met);
        let late = CaseClock { first_response_at: Some(utc("2026-11-23T11:00:00Z")), ..clock };
        assert_eq!(first_response(&policy, &late, utc("2026-11-23T12:00:00Z")), SlaState::MetLate);
    }

    #[test]
    fn pending_pauses_the_clock_when_the_policy_says_so() {
        let clock = CaseClock {
            pending: vec![(utc("2026-11-23T09:30:00Z"), Some(utc("2026-11-23T11:30:00Z")))],
            ..critical_at("2026-11-23T09:00:00Z")
        };
        // 30 minutes before the pause, 30 after: due at 12:00 UTC instead of 10:00.
        assert_eq!(
            resolution(&policy(true), &CaseClock { pending: Vec::new(), ..clock.clone() }, utc("2026-11-23T09:10:00Z")),
            SlaState::OnTrack { warn_at: utc("2026-11-23T12:12:00Z"), due: utc("2026-11-23T13:00:00Z") }
        );
        match first_response(&policy(true), &clock, utc("2026-11-23T11:40:00Z")) {
            SlaState::OnTrack { due, .. } | SlaState::AtRisk { due, .. } => assert_eq!(due, utc("2026-11-23T12:00:00Z")),
            other => panic!("{other:?}"),
        }
        // Without pausing, the same case breached at 10:00.
        assert_eq!(
            first_response(&policy(false), &clock, utc("2026-11-23T11:40:00Z")),
            SlaState::Breached { due: utc("2026-11-23T10:00:00Z") }
        );
        // While still Pending, the clock shows the time left.
        let still = CaseClock { pending: vec![(utc("2026-11-23T09:30:00Z"), None)], ..critical_at("2026-11-23T09:00:00Z") };
        assert_eq!(
            first_response(&policy(true), &still, utc("2026-11-23T15:00:00Z")),
            SlaState::Paused { left: Duration::minutes(30) }
        );
    }
}
