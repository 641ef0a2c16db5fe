//! Routing: which assignment rule a new case matches, and which agent of a
//! team gets it. Pure rules; the store reads the team and saves the choice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AccountTier, Channel, Priority};

/// Largest limit of open cases per agent.
pub const CAPACITY_MAX: i32 = 10_000;

/// How a rule hands out the cases it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Into the team's queue, nobody's yet.
    TeamQueue,
    /// To one person (the team's queue while they are away).
    Person,
    RoundRobin,
    LeastLoaded,
    /// Least loaded among those below their limit; else the case waits.
    Capacity,
}

impl Method {
    pub const ALL: [Method; 5] = [Self::TeamQueue, Self::Person, Self::RoundRobin, Self::LeastLoaded, Self::Capacity];

    pub fn key(self) -> &'static str {
        match self {
            Self::TeamQueue => "team_queue",
            Self::Person => "person",
            Self::RoundRobin => "round_robin",
            Self::LeastLoaded => "least_loaded",
            Self::Capacity => "capacity",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == key)
    }

    /// Whether it hands out cases by the team's turn: a write of its own
    /// (the turn, or a wait for room), made under the team's row lock.
    pub fn takes_turns(self) -> bool {
        matches!(self, Self::RoundRobin | Self::LeastLoaded | Self::Capacity)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::TeamQueue => "team queue",
            Self::Person => "person",
            Self::RoundRobin => "round robin",
            Self::LeastLoaded => "least loaded",
            Self::Capacity => "capacity",
        }
    }

    /// Whether the rule hands the case to one of the team's members.
    pub fn distributes(self) -> bool {
        matches!(self, Self::RoundRobin | Self::LeastLoaded | Self::Capacity)
    }
}

/// What a rule matches: each non-empty list must match one of its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub case_type_ids: Vec<String>,
    pub priorities: Vec<Priority>,
    pub channels: Vec<Channel>,
    pub account_ids: Vec<String>,
    pub account_tiers: Vec<AccountTier>,
    pub web_form_ids: Vec<String>,
    /// Lower case.
    pub tags: Vec<String>,
    /// Lower case, one word each.
    pub subject_words: Vec<String>,
}

/// A validated assignment rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub conditions: Conditions,
    pub method: Method,
    pub team_id: Option<String>,
    pub owner_id: Option<String>,
    /// Open cases per agent, for [`Method::Capacity`].
    pub capacity: i32,
}

/// What rules look at in a case.
#[derive(Debug, Clone, Copy)]
pub struct CaseFacts<'a> {
    pub type_id: &'a str,
    pub priority: Priority,
    pub channel: Channel,
    pub account_id: &'a str,
    pub account_tier: Option<AccountTier>,
    pub web_form_id: Option<&'a str>,
    pub tags: &'a [String],
    pub subject: &'a str,
}

/// Whether `list` is empty (matches all) or holds a value `test` accepts.
fn any<T>(list: &[T], test: impl Fn(&T) -> bool) -> bool {
    list.is_empty() || list.iter().any(test)
}

/// The subject's words, lower-cased: runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

impl Conditions {
    pub fn matches(&self, case: &CaseFacts<'_>) -> bool {
        let subject_words = if self.subject_words.is_empty() { Vec::new() } else { words(case.subject) };
        any(&self.case_type_ids, |t| t == case.type_id)
            && any(&self.priorities, |p| *p == case.priority)
            && any(&self.channels, |c| *c == case.channel)
            && any(&self.account_ids, |a| a == case.account_id)
            && any(&self.account_tiers, |t| Some(*t) == case.account_tier)
            && any(&self.web_form_ids, |f| Some(f.as_str()) == case.web_form_id)
            && any(&self.tags, |t| case.tags.contains(t))
            && any(&self.subject_words, |w| subject_words.contains(w))
    }
}

/// Where routing put a case, for its trail and the `case.routed` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// `None`: no rule matched; the case went to the default team.
    pub rule: Option<(String, String)>,
    pub method: Option<Method>,
    /// For people: `rule "Billing": round robin in Billing`.
    pub reason: String,
}

impl Routed {
    /// The trail's `routed_by` value: the rule's name, or "default team".
    pub fn decided_by(&self) -> String {
        match &self.rule {
            Some((_, name)) => format!("rule \"{name}\""),
            None => "default team".to_owned(),
        }
    }
}

/// A period a staff user is away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub note: String,
}

/// Whether one of the periods covers `at`.
pub fn is_away(absences: &[Absence], at: DateTime<Utc>) -> bool {
    absences.iter().any(|a| a.start <= at && at < a.end)
}

/// Why a staff user cannot take cases at `at`, for the trail; `None` when
/// they can (as far as presence goes: viewers never can).
pub fn absence(active: bool, available: bool, absences: &[Absence], at: DateTime<Utc>) -> Option<&'static str> {
    if !active {
        Some("inactive")
    } else if !available {
        Some("unavailable")
    } else if is_away(absences, at) {
        Some("out of office")
    } else {
        None
    }
}

/// A team member as distribution sees them, in the team's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: String,
    /// Active, available, not away, and allowed to work cases.
    pub eligible: bool,
    pub open_cases: i64,
    /// Open cases weighted by priority rank.
    pub load: i64,
    /// Their own limit, if they have one.
    pub capacity: Option<i32>,
}

/// Round-robin: the first eligible member after the one who had the last
/// turn, in the team's order (from the top when that one left the team).
pub fn next_in_turn<'a>(agents: &'a [Agent], last: Option<&str>) -> Option<&'a Agent> {
    let start = last.and_then(|last| agents.iter().position(|a| a.id == last)).map_or(0, |i| i + 1);
    (0..agents.len()).map(|k| &agents[(start + k) % agents.len()]).find(|a| a.eligible)
}

/// Least loaded: the smallest weighted load, then the fewest cases, then
/// the team's order.
pub fn least_loaded(agents: &[Agent]) -> Option<&Agent> {
    agents.iter().filter(|a| a.eligible).min_by_key(|a| (a.load, a.open_cases))
}

/// Capacity: least loaded among those below their limit (their own, else
/// the rule's).
pub fn with_room(agents: &[Agent], rule_capacity: i32) -> Option<&Agent> {
    agents
        .iter()
        .filter(|a| a.eligible && a.open_cases < i64::from(a.capacity.unwrap_or(rule_capacity)))
        .min_by_key(|a| (a.load, a.open_cases))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, eligible: bool, open_cases: i64, load: i64) -> Agent {
        Agent { id: id.into(), eligible, open_cases, load, capacity: None }
    }

    fn facts<'a>(subject: &'a str, tags: &'a [String]) -> CaseFacts<'a> {
        CaseFacts {
            type_id: "billing",
            priority: Priority::High,
            channel: Channel::Email,
            account_id: "acc",
            account_tier: Some(AccountTier::Premium),
            web_form_id: None,
            tags,
            subject,
        }
    }

    #[test]
    fn every_listed_condition_must_match_one_entry() {
        let tags = vec!["vip".to_owned()];
        let case = facts("Invoice is wrong", &tags);
        assert!(Conditions::default().matches(&case));
        let words = Conditions { subject_words: vec!["invoice".into()], ..Default::default() };
        assert!(words.matches(&case));
        assert!(!words.matches(&facts("Invoices are wrong", &tags)), "whole words only");
        let both = Conditions {
            priorities: vec![Priority::Low, Priority::High],
            account_tiers: vec![AccountTier::Enterprise],
            ..Default::default()
        };
        assert!(!both.matches(&case), "the tier does not match");
        let form = Conditions { web_form_ids: vec!["f".into()], ..Default::default() };
        assert!(!form.matches(&case), "a case from no form matches no form");
        let tagged =
            Conditions { tags: vec!["urgent".into(), "vip".into()], channels: vec![Channel::Email], ..Default::default() };
        assert!(tagged.matches(&case));
    }

    #[test]
    fn turns_go_round_skipping_who_cannot_take_one() {
        let team = [agent("a", true, 0, 0), agent("b", false, 0, 0), agent("c", true, 0, 0)];
        assert_eq!(next_in_turn(&team, None).map(|a| a.id.as_str()), Some("a"));
        assert_eq!(next_in_turn(&team, Some("a")).map(|a| a.id.as_str()), Some("c"));
        assert_eq!(next_in_turn(&team, Some("c")).map(|a| a.id.as_str()), Some("a"));
        assert_eq!(next_in_turn(&team, Some("gone")).map(|a| a.id.as_str()), Some("a"));
        assert_eq!(next_in_turn(&[agent("x", false, 0, 0)], None), None);
    }

    #[test]
    fn the_least_loaded_with_room_gets_the_case() {
        let mut team = vec![agent("a", true, 2, 8), agent("b", true, 3, 3), agent("c", false, 0, 0)];
        assert_eq!(least_loaded(&team).map(|a| a.id.as_str()), Some("b"));
        assert_eq!(with_room(&team, 3).map(|a| a.id.as_str()), Some("a"), "b is full");
        assert_eq!(with_room(&team, 2), None, "everyone is full");
        team[0].capacity = Some(5);
        assert_eq!(with_room(&team, 2).map(|a| a.id.as_str()), Some("a"), "a's own limit");
        let away = [Absence {
            start: Utc::now() - chrono::Duration::hours(1),
            end: Utc::now() + chrono::Duration::hours(1),
            note: String::new(),
        }];
        assert!(is_away(&away, Utc::now()));
        assert!(!is_away(&away, Utc::now() + chrono::Duration::hours(2)));
    }
}
