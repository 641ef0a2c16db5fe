//! Who hears about an event, by kind, before anyone is looked up: the
//! case's contacts, its owner, its team, or the staff an escalation names;
//! and which staff review a knowledge-base article.

use serde::Serialize;

use super::settings::NotifySettings;

/// Why someone receives an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    Contact,
    Owner,
    Team,
    /// Staff an escalation rule names.
    Escalation,
    /// Staff who review a knowledge-base article awaiting review.
    Reviewer,
}

impl RecipientKind {
    pub fn key(self) -> &'static str {
        match self {
            RecipientKind::Contact => "contact",
            RecipientKind::Owner => "owner",
            RecipientKind::Team => "team",
            RecipientKind::Escalation => "escalation",
            RecipientKind::Reviewer => "reviewer",
        }
    }
}

/// What the rules need to know about one event.
#[derive(Debug, Clone)]
pub struct EventFacts<'a> {
    pub event_type: &'a str,
    /// `staff:<id>`, `service:<name>`, `contact:<id>`, ...
    pub actor: &'a str,
    pub has_owner: bool,
    pub has_team: bool,
    /// For activities: whether customers may see it.
    pub public_activity: Option<bool>,
    /// For activities: whether staff wrote it.
    pub activity_by_staff: Option<bool>,
}

/// Who to tell, by kind, before looking anyone up.
pub fn audiences(settings: &NotifySettings, facts: &EventFacts<'_>) -> Vec<RecipientKind> {
    let enabled = |list: &[String]| list.iter().any(|t| t == facts.event_type);
    let mut kinds = Vec::new();
    // Customers never hear about internal activities.
    let visible_to_customers = facts.public_activity.unwrap_or(true);
    if enabled(&settings.contact_event_types) && visible_to_customers {
        kinds.push(RecipientKind::Contact);
    }
    // Owners hear about assignment, and about updates that do not come from staff.
    let owner_cares = match facts.event_type {
        "case.assigned" | "case.routed" => true,
        "case.activity_added" => facts.activity_by_staff == Some(false),
        _ => !facts.actor.starts_with("staff:"),
    };
    if facts.has_owner && enabled(&settings.owner_event_types) && owner_cares {
        kinds.push(RecipientKind::Owner);
    }
    // A team hears about new cases nobody owns yet.
    if facts.has_team && !facts.has_owner && enabled(&settings.team_event_types) {
        kinds.push(RecipientKind::Team);
    }
    kinds
}

/// A staff user of the directory as the reviewer rule sees them.
#[derive(Debug, Clone, Copy)]
pub struct StaffMember<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub is_admin: bool,
    pub active: bool,
}

/// The staff ids behind an article awaiting review: its owner, and whoever
/// submitted it when that was a staff user (`staff:<id>`; a token without a
/// staff id names no one in the directory).
pub fn article_authors<'a>(owner_id: &'a str, actor: &'a str) -> Vec<&'a str> {
    [Some(owner_id), actor.strip_prefix("staff:")].into_iter().flatten().filter(|id| !id.is_empty()).collect()
}

/// Whether `member` is asked to review an article by `authors`: every
/// active admin (admins may publish any article, and approve one that is
/// not theirs) who did not write or submit it, and has an address to write to.
pub fn reviews(member: &StaffMember<'_>, authors: &[&str]) -> bool {
    member.active && member.is_admin && !member.email.trim().is_empty() && !authors.contains(&member.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(event_type: &'a str, actor: &'a str) -> EventFacts<'a> {
        EventFacts { event_type, actor, has_owner: true, has_team: true, public_activity: None, activity_by_staff: None }
    }

    #[test]
    fn customers_never_hear_about_internal_activities() {
        let settings = NotifySettings::default();
        let mut internal = facts("case.activity_added", "staff:1");
        internal.public_activity = Some(false);
        internal.activity_by_staff = Some(true);
        assert!(!audiences(&settings, &internal).contains(&RecipientKind::Contact));
        let mut public = internal.clone();
        public.public_activity = Some(true);
        assert_eq!(audiences(&settings, &public), [RecipientKind::Contact]);
    }

    #[test]
    fn owners_hear_about_assignment_and_customer_updates() {
        let settings = NotifySettings::default();
        assert_eq!(audiences(&settings, &facts("case.assigned", "staff:2")), [RecipientKind::Owner]);
        let mut customer_note = facts("case.activity_added", "service:portal");
        customer_note.public_activity = Some(true);
        customer_note.activity_by_staff = Some(false);
        assert_eq!(audiences(&settings, &customer_note), [RecipientKind::Contact, RecipientKind::Owner]);
    }

    #[test]
    fn a_team_hears_about_new_unowned_cases() {
        let settings = NotifySettings::default();
        let mut unowned = facts("case.created", "staff:1");
        unowned.has_owner = false;
        assert_eq!(audiences(&settings, &unowned), [RecipientKind::Contact, RecipientKind::Team]);
        assert_eq!(audiences(&settings, &facts("case.created", "staff:1")), [RecipientKind::Contact]);
    }

    #[test]
    fn active_admins_other_than_the_author_review_articles() {
        let member = |id, is_admin, active, email| StaffMember { id, email, is_admin, active };
        let authors = article_authors("s-owner", "staff:s-submitter");
        assert_eq!(authors, ["s-owner", "s-submitter"]);
        assert!(reviews(&member("s-2", true, true, "ana@staff.example"), &authors));
        assert!(!reviews(&member("s-owner", true, true, "own@staff.example"), &authors), "the owner");
        assert!(!reviews(&member("s-submitter", true, true, "sub@staff.example"), &authors), "the submitter");
        assert!(!reviews(&member("s-3", false, true, "agent@staff.example"), &authors), "an agent");
        assert!(!reviews(&member("s-4", true, false, "gone@staff.example"), &authors), "an inactive admin");
        assert!(!reviews(&member("s-5", true, true, "  "), &authors), "no address");
        // A token without a staff id names nobody; an empty owner neither.
        assert_eq!(article_authors("", "admin:ops"), Vec::<&str>::new());
    }
}
