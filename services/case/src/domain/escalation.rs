//! Escalation: what a rule does to a case when an SLA alert arrives.

use super::Priority;

/// The SLA alert a rule reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `case.sla_warning`
    SlaWarning,
    /// `case.sla_breached`
    SlaBreached,
}

impl Trigger {
    pub fn key(self) -> &'static str {
        match self {
            Trigger::SlaWarning => "sla_warning",
            Trigger::SlaBreached => "sla_breached",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "sla_warning" => Some(Trigger::SlaWarning),
            "sla_breached" => Some(Trigger::SlaBreached),
            _ => None,
        }
    }

    /// The routing key of the alert.
    pub fn from_event_type(event_type: &str) -> Option<Self> {
        event_type.strip_prefix("case.").and_then(Self::from_key)
    }

    pub fn label(self) -> &'static str {
        match self {
            Trigger::SlaWarning => "SLA at risk",
            Trigger::SlaBreached => "SLA breached",
        }
    }
}

/// Which SLA target an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    FirstResponse,
    Resolution,
}

impl Target {
    pub fn key(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::Resolution => "resolution",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "first_response" => Some(Target::FirstResponse),
            "resolution" => Some(Target::Resolution),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Target::FirstResponse => "first response",
            Target::Resolution => "resolution",
        }
    }
}

/// A validated escalation rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub trigger: Trigger,
    /// `None`: either target.
    pub target: Option<Target>,
    /// Empty: every priority.
    pub priorities: Vec<Priority>,
    pub raise_priority: bool,
    pub reassign_team_id: Option<String>,
    pub reassign_owner_id: Option<String>,
    pub notify_owner: bool,
    pub notify_staff_ids: Vec<String>,
}

impl Rule {
    /// Whether the rule acts on this alert for a case of this priority.
    pub fn matches(&self, trigger: Trigger, target: Target, priority: Priority) -> bool {
        self.trigger == trigger
            && self.target.is_none_or(|t| t == target)
            && (self.priorities.is_empty() || self.priorities.contains(&priority))
    }
}

/// One step up; Critical stays Critical.
pub fn raised(priority: Priority) -> Priority {
    match priority {
        Priority::Low => Priority::Medium,
        Priority::Medium => Priority::High,
        Priority::High | Priority::Critical => Priority::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(trigger: Trigger, target: Option<Target>, priorities: Vec<Priority>) -> Rule {
        Rule {
            id: "r".into(),
            name: "Tier 2".into(),
            trigger,
            target,
            priorities,
            raise_priority: true,
            reassign_team_id: None,
            reassign_owner_id: None,
            notify_owner: false,
            notify_staff_ids: Vec::new(),
        }
    }

    #[test]
    fn a_rule_matches_its_trigger_target_and_priorities() {
        let any = rule(Trigger::SlaBreached, None, vec![]);
        assert!(any.matches(Trigger::SlaBreached, Target::FirstResponse, Priority::Low));
        assert!(any.matches(Trigger::SlaBreached, Target::Resolution, Priority::Critical));
        assert!(!any.matches(Trigger::SlaWarning, Target::Resolution, Priority::Critical));
        let narrow = rule(Trigger::SlaWarning, Some(Target::Resolution), vec![Priority::High, Priority::Critical]);
        assert!(narrow.matches(Trigger::SlaWarning, Target::Resolution, Priority::High));
        assert!(!narrow.matches(Trigger::SlaWarning, Target::FirstResponse, Priority::High));
        assert!(!narrow.matches(Trigger::SlaWarning, Target::Resolution, Priority::Medium));
    }

    #[test]
    fn priorities_rise_one_step_up_to_critical() {
        assert_eq!(raised(Priority::Low), Priority::Medium);
        assert_eq!(raised(Priority::High), Priority::Critical);
        assert_eq!(raised(Priority::Critical), Priority::Critical);
        assert_eq!(Trigger::from_event_type("case.sla_breached"), Some(Trigger::SlaBreached));
        assert_eq!(Trigger::from_event_type("case.created"), None);
    }
}
