//! Who sees which case, and what a customer may choose: the portal's
//! security rules in one place, so every RPC asks the same questions.

use chrono::{DateTime, Duration, Utc};

/// The logged-in customer, as the case service knows it right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub contact_id: String,
    pub account_id: String,
    pub name: String,
    /// Sees every case of its account.
    pub portal_manager: bool,
}

/// What visibility depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseParties<'a> {
    pub account_id: &'a str,
    pub contact_ids: Vec<&'a str>,
}

/// How a viewer sees a case, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// The viewer is one of the case's contacts.
    Own,
    /// The viewer manages the portal for the case's account.
    AsManager,
}

/// A contact sees the cases it is a contact of; a portal manager also sees
/// every case of its account. Nothing else.
pub fn sight(viewer: &Viewer, case: &CaseParties<'_>) -> Option<Sight> {
    if case.contact_ids.contains(&viewer.contact_id.as_str()) {
        Some(Sight::Own)
    } else if viewer.portal_manager && !viewer.account_id.is_empty() && case.account_id == viewer.account_id {
        Some(Sight::AsManager)
    } else {
        None
    }
}

/// Until when a case closed at `closed_at` may be reopened by its customer.
pub fn reopen_until(closed_at: DateTime<Utc>, window_days: u32) -> DateTime<Utc> {
    closed_at + Duration::days(i64::from(window_days))
}

/// Whether a customer may still reopen a case closed at `closed_at`.
pub fn may_reopen(closed_at: DateTime<Utc>, window_days: u32, now: DateTime<Utc>) -> bool {
    now <= reopen_until(closed_at, window_days)
}

/// Who wrote an activity, as a customer may be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    Staff(String),
    Contact(String),
    /// A service, a script, the demo seeder: "Support" to the customer.
    System,
}

/// Reads an actor string (`staff:<id>`, `contact:<id>`, `service:<name>`, ...).
pub fn author(actor: &str) -> Author {
    if let Some(id) = actor.strip_prefix("staff:") {
        Author::Staff(id.to_owned())
    } else if let Some(id) = actor.strip_prefix("contact:") {
        Author::Contact(id.to_owned())
    } else {
        Author::System
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(manager: bool) -> Viewer {
        Viewer { contact_id: "ann".into(), account_id: "acme".into(), name: "Ann".into(), portal_manager: manager }
    }

    #[test]
    fn a_contact_sees_its_own_cases_and_a_manager_its_accounts() {
        let own = CaseParties { account_id: "acme", contact_ids: vec!["bob", "ann"] };
        let colleagues = CaseParties { account_id: "acme", contact_ids: vec!["bob"] };
        let foreign = CaseParties { account_id: "globex", contact_ids: vec!["eve"] };
        assert_eq!(sight(&viewer(false), &own), Some(Sight::Own));
        assert_eq!(sight(&viewer(false), &colleagues), None);
        assert_eq!(sight(&viewer(false), &foreign), None);
        assert_eq!(sight(&viewer(true), &own), Some(Sight::Own));
        assert_eq!(sight(&viewer(true), &colleagues), Some(Sight::AsManager));
        assert_eq!(sight(&viewer(true), &foreign), None);
        // A manager without an account (should never happen) sees nothing extra.
        let lost = Viewer { account_id: String::new(), ..viewer(true) };
        assert_eq!(sight(&lost, &CaseParties { account_id: "", contact_ids: vec![] }), None);
    }

    #[test]
    fn a_case_can_be_reopened_only_within_the_window() {
        let closed = DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z").unwrap().with_timezone(&Utc);
        assert!(may_reopen(closed, 14, closed + Duration::days(14)));
        assert!(!may_reopen(closed, 14, closed + Duration::days(14) + Duration::seconds(1)));
        assert!(!may_reopen(closed, 0, closed + Duration::seconds(1)));
    }

    #[test]
    fn actors_name_their_kind_of_author() {
        assert_eq!(author("staff:s1"), Author::Staff("s1".into()));
        assert_eq!(author("contact:c1"), Author::Contact("c1".into()));
        assert_eq!(author("service:notification"), Author::System);
        assert_eq!(author("system:demo"), Author::System);
    }
}
