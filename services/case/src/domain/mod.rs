//! The case service's rules, free of I/O and of wire types: the vocabulary
//! (priorities, statuses, channels, ...), the status machine, and the
//! validated commands the gRPC adapter builds from requests.

pub mod commands;
pub mod escalation;
pub mod period;
pub mod routing;
pub mod status;

use std::fmt;

docket_kit::record_ids!(AccountId, ContactId, StaffId, TeamId, CaseId, ActivityId, EscalationRuleId, AssignmentRuleId,);

/// Generates the text key stored in the database and a label for people.
macro_rules! keyed_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $key:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The key stored in the database.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }

            pub fn from_key(key: &str) -> Option<Self> {
                match key { $($key => Some($name::$variant),)+ _ => None }
            }

            /// How people read it.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

keyed_enum!(
    /// The seeds' five statuses.
    CaseStatus {
        New => "new", "Active – New";
        Assigned => "assigned", "Active – Assigned";
        Pending => "pending", "Pending";
        ClosedComplete => "closed_complete", "Closed – Complete";
        ClosedNoFault => "closed_no_fault", "Closed – No Fault";
    }
);

impl CaseStatus {
    pub fn is_closed(self) -> bool {
        matches!(self, CaseStatus::ClosedComplete | CaseStatus::ClosedNoFault)
    }
}

keyed_enum!(
    Priority {
        Low => "low", "Low";
        Medium => "medium", "Medium";
        High => "high", "High";
        Critical => "critical", "Critical";
    }
);

impl Priority {
    /// 1 (Low) to 4 (Critical): stored as a number so queues sort by it.
    pub fn rank(self) -> i16 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
            Priority::Critical => 4,
        }
    }

    pub fn from_rank(rank: i16) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.rank() == rank)
    }
}

keyed_enum!(
    Channel {
        Phone => "phone", "Phone";
        Email => "email", "Email";
        WebForm => "web_form", "Web form";
        Portal => "portal", "Portal";
        Api => "api", "API";
    }
);

keyed_enum!(
    AccountTier {
        Standard => "standard", "Standard";
        Premium => "premium", "Premium";
        Enterprise => "enterprise", "Enterprise";
    }
);

keyed_enum!(
    StaffRole {
        Admin => "admin", "Admin";
        Agent => "agent", "Agent";
        Viewer => "viewer", "Viewer";
    }
);

keyed_enum!(
    ActivityKind {
        Note => "note", "Note";
        Call => "call", "Call";
        Email => "email", "Email";
    }
);

keyed_enum!(
    Visibility {
        Internal => "internal", "Internal";
        Public => "public", "Public";
    }
);

keyed_enum!(
    Direction {
        None => "", "";
        Inbound => "inbound", "Inbound";
        Outbound => "outbound", "Outbound";
    }
);

/// A case number for people: `C-000123`.
pub fn format_case_number(number: i64) -> String {
    format!("C-{number:06}")
}

/// Parses `C-000123` (or `c-123`) back into its number.
pub fn parse_case_number(text: &str) -> Option<i64> {
    let digits = text.trim().strip_prefix("C-").or_else(|| text.trim().strip_prefix("c-"))?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// Whether an activity counts as the first response to the customer: a
/// public note, an outbound email or an outbound call, written by staff.
pub fn is_staff_reply(kind: ActivityKind, visibility: Visibility, direction: Direction, by_staff: bool) -> bool {
    by_staff
        && visibility == Visibility::Public
        && match kind {
            ActivityKind::Note => true,
            ActivityKind::Email | ActivityKind::Call => direction == Direction::Outbound,
        }
}

pub use docket_kit::audit::{Changes, FieldChange};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_round_trip() {
        assert_eq!(format_case_number(123), "C-000123");
        assert_eq!(parse_case_number("C-000123"), Some(123));
        assert_eq!(parse_case_number("c-7"), Some(7));
        assert_eq!(format_case_number(1_234_567), "C-1234567");
        for bad in ["", "C-", "C-12a", "123", "C--1", "C-0"] {
            assert_eq!(parse_case_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_key_parses_back() {
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::from_key(s.key()), Some(*s));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), Some(*p));
        }
    }

    #[test]
    fn only_public_staff_replies_count_as_first_response() {
        use ActivityKind::*;
        assert!(is_staff_reply(Note, Visibility::Public, Direction::None, true));
        assert!(!is_staff_reply(Note, Visibility::Internal, Direction::None, true));
        assert!(!is_staff_reply(Note, Visibility::Public, Direction::None, false));
        assert!(is_staff_reply(Email, Visibility::Public, Direction::Outbound, true));
        assert!(!is_staff_reply(Email, Visibility::Public, Direction::Inbound, true));
    }
}
