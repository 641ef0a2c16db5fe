//! The events this service writes to its outbox (`docket.events.v1`,
//! routing key = event type): pure mappings from records to events. The
//! mutation runner writes them in the transaction of the change they report.

use docket_kit::mutation::Event;
use docket_proto::events::v1 as ev;

use crate::{
    domain::{
        Changes,
        escalation::{Target, Trigger},
        routing::Routed,
    },
    records::{
        CaseRecord,
        entities::{account, case_activity, contact},
    },
    wire::{self, WireEnum},
};

/// The `source` of every event this service writes.
pub const SOURCE: &str = "case";

fn changes(changes: &Changes) -> Vec<ev::FieldChange> {
    changes
        .fields()
        .map(|c| ev::FieldChange { field: c.field.to_owned(), old_value: c.old.clone(), new_value: c.new.clone() })
        .collect()
}

/// `account.created` or `account.updated`.
pub fn account_changed(created: bool, model: &account::Model, trail: &Changes, reason: &str) -> Event {
    let payload =
        ev::AccountChanged { account: Some(wire::account(model.clone())), changes: changes(trail), reason: reason.to_owned() };
    let event_type = if created { "account.created" } else { "account.updated" };
    Event::new(event_type, &model.id, "docket.events.v1.AccountChanged", &payload)
}

/// `contact.created` or `contact.updated`.
pub fn contact_changed(created: bool, model: &contact::Model, trail: &Changes, reason: &str) -> Event {
    let payload =
        ev::ContactChanged { contact: Some(wire::contact(model.clone())), changes: changes(trail), reason: reason.to_owned() };
    let event_type = if created { "contact.created" } else { "contact.updated" };
    Event::new(event_type, &model.id, "docket.events.v1.ContactChanged", &payload)
}

pub fn case_created(record: &CaseRecord) -> Event {
    let payload = ev::CaseCreated { case: Some(wire::case(record.clone())) };
    Event::new("case.created", &record.case.id, "docket.events.v1.CaseCreated", &payload)
}

pub fn case_updated(record: &CaseRecord, trail: &Changes, reason: &str) -> Event {
    let payload = ev::CaseUpdated { case: Some(wire::case(record.clone())), changes: changes(trail), reason: reason.to_owned() };
    Event::new("case.updated", &record.case.id, "docket.events.v1.CaseUpdated", &payload)
}

/// `case.assigned`, and the status events when the assignment moved the status.
pub fn case_assigned(before: &CaseRecord, after: &CaseRecord, reason: &str) -> Vec<Event> {
    let mut events = vec![owner_changed(before, after, reason)];
    events.extend(status_events(before, after, reason));
    events
}

/// `case.assigned` alone: the owner or team changed.
pub fn owner_changed(before: &CaseRecord, after: &CaseRecord, reason: &str) -> Event {
    let payload = ev::CaseAssigned {
        case: Some(wire::case(after.clone())),
        previous_owner_id: before.case.owner_id.clone().unwrap_or_default(),
        previous_team_id: before.case.team_id.clone().unwrap_or_default(),
        reason: reason.to_owned(),
    };
    Event::new("case.assigned", &after.case.id, "docket.events.v1.CaseAssigned", &payload)
}

/// `case.status_changed` for any change of status, plus `case.closed` or
/// `case.reopened` when the case crossed between active and closed.
pub fn status_events(before: &CaseRecord, after: &CaseRecord, reason: &str) -> Vec<Event> {
    let (Ok(from), Ok(to)) = (before.status(), after.status()) else { return Vec::new() };
    if from == to {
        return Vec::new();
    }
    let case = wire::case(after.clone());
    let subject = &after.case.id;
    let payload =
        ev::CaseStatusChanged { case: Some(case.clone()), previous_status: from.to_wire() as i32, reason: reason.to_owned() };
    let mut events = vec![Event::new("case.status_changed", subject, "docket.events.v1.CaseStatusChanged", &payload)];
    match (from.is_closed(), to.is_closed()) {
        (false, true) => {
            let payload = ev::CaseClosed { case: Some(case), reason: reason.to_owned() };
            events.push(Event::new("case.closed", subject, "docket.events.v1.CaseClosed", &payload));
        }
        (true, false) => {
            let payload = ev::CaseReopened { case: Some(case), reason: reason.to_owned() };
            events.push(Event::new("case.reopened", subject, "docket.events.v1.CaseReopened", &payload));
        }
        _ => {}
    }
    events
}

/// `case.routed`: an assignment rule (or the default team) decided where the
/// case goes; `before` is the case before routing moved it, if it existed.
pub fn case_routed(record: &CaseRecord, routed: &Routed, before: Option<&CaseRecord>) -> Event {
    let (rule_id, rule_name) = routed.rule.clone().unwrap_or_default();
    let payload = ev::CaseRouted {
        case: Some(wire::case(record.clone())),
        rule_id,
        rule_name,
        method: routed.method.map(|m| m.key().to_owned()).unwrap_or_default(),
        reason: routed.reason.clone(),
        previous_owner_id: before.and_then(|b| b.case.owner_id.clone()).unwrap_or_default(),
        previous_team_id: before.and_then(|b| b.case.team_id.clone()).unwrap_or_default(),
    };
    Event::new("case.routed", &record.case.id, "docket.events.v1.CaseRouted", &payload)
}

pub fn activity_added(record: &CaseRecord, activity: &case_activity::Model) -> Event {
    let payload =
        ev::CaseActivityAdded { case: Some(wire::case(record.clone())), activity: Some(wire::activity(activity.clone())) };
    Event::new("case.activity_added", &record.case.id, "docket.events.v1.CaseActivityAdded", &payload)
}

/// What an escalation rule did to a case after an SLA alert.
#[derive(Debug, Clone)]
pub struct Escalated<'a> {
    pub rule_id: &'a str,
    pub rule_name: &'a str,
    pub trigger: Trigger,
    pub target: Target,
    pub actions: &'a str,
    pub notify_staff_ids: &'a [String],
}

/// `case.escalated`: an escalation rule acted on the case after an SLA alert.
pub fn case_escalated(record: &CaseRecord, escalated: &Escalated<'_>) -> Event {
    let payload = ev::CaseEscalated {
        case: Some(wire::case(record.clone())),
        rule_id: escalated.rule_id.to_owned(),
        rule_name: escalated.rule_name.to_owned(),
        trigger: escalated.trigger.key().to_owned(),
        target: escalated.target.key().to_owned(),
        actions: escalated.actions.to_owned(),
        notify_staff_ids: escalated.notify_staff_ids.to_vec(),
    };
    Event::new("case.escalated", &record.case.id, "docket.events.v1.CaseEscalated", &payload)
}
