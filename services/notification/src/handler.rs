//! Turns case events into deliveries: decides who hears what, renders the
//! template, and writes one pending delivery per recipient in the consumer's
//! transaction (the mailer sends them).

use docket_kit::events::{
    consumer::{EventHandler, HandlerError},
    unpack,
};
use docket_proto::{
    case::v1::{self as pb, get_contact_request::Lookup},
    events::v1::{self as ev, Envelope},
};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, IntoActiveModel};

use crate::{
    clients::CaseClients,
    domain::{
        audience::{EventFacts, RecipientKind, audiences},
        settings::ACCESS_EVENT_TYPES,
        templates::{
            AccessContext, ActivityView, CaseView, ChangeView, EventView, RecipientView, SenderView, TemplateContext,
            default_template, render,
        },
    },
    store::{
        PENDING,
        entities::delivery,
        opt_outs::is_opted_out,
        settings::load_settings,
        templates::{TemplateRecord, template_of},
    },
};

/// The notification service's event handler.
pub struct Notifier {
    clients: CaseClients,
}

impl Notifier {
    pub fn new(clients: CaseClients) -> Self {
        Self { clients }
    }
}

/// The events the notifier reads: every case event, and the portal's
/// invitation and password-reset events (an email with a link each).
pub const BINDINGS: &[&str] = &["case.*", "portal.*"];

struct Parsed {
    case: pb::Case,
    activity: Option<pb::Activity>,
    changes: Vec<ev::FieldChange>,
    reason: String,
    /// For `case.escalated`: the staff the rule names.
    escalate_to: Option<Vec<String>>,
}

fn parse(event: &Envelope) -> Result<Option<Parsed>, HandlerError> {
    let bad = |err: String| HandlerError(format!("{}: {err}", event.r#type));
    let parsed = match event.r#type.as_str() {
        "case.created" => {
            let p: ev::CaseCreated = unpack(event, "docket.events.v1.CaseCreated").map_err(bad)?;
            (p.case, None, Vec::new(), String::new())
        }
        "case.updated" => {
            let p: ev::CaseUpdated = unpack(event, "docket.events.v1.CaseUpdated").map_err(bad)?;
            (p.case, None, p.changes, p.reason)
        }
        "case.assigned" => {
            let p: ev::CaseAssigned = unpack(event, "docket.events.v1.CaseAssigned").map_err(bad)?;
            (p.case, None, Vec::new(), p.reason)
        }
        "case.status_changed" => {
            let p: ev::CaseStatusChanged = unpack(event, "docket.events.v1.CaseStatusChanged").map_err(bad)?;
            (p.case, None, Vec::new(), p.reason)
        }
        "case.closed" => {
            let p: ev::CaseClosed = unpack(event, "docket.events.v1.CaseClosed").map_err(bad)?;
            (p.case, None, Vec::new(), p.reason)
        }
        "case.reopened" => {
            let p: ev::CaseReopened = unpack(event, "docket.events.v1.CaseReopened").map_err(bad)?;
            (p.case, None, Vec::new(), p.reason)
        }
        "case.activity_added" => {
            let p: ev::CaseActivityAdded = unpack(event, "docket.events.v1.CaseActivityAdded").map_err(bad)?;
            (p.case, p.activity, Vec::new(), String::new())
        }
        "case.escalated" => {
            let p: ev::CaseEscalated = unpack(event, "docket.events.v1.CaseEscalated").map_err(bad)?;
            let what = format!(
                "{} ({}): rule \"{}\": {}",
                p.trigger.replace('_', " "),
                p.target.replace('_', " "),
                p.rule_name,
                p.actions
            );
            let case = p.case.ok_or_else(|| bad("the event carries no case".to_owned()))?;
            return Ok(Some(Parsed {
                case,
                activity: None,
                changes: Vec::new(),
                reason: what,
                escalate_to: Some(p.notify_staff_ids),
            }));
        }
        _ => return Ok(None),
    };
    let (case, activity, changes, reason) = parsed;
    let case = case.ok_or_else(|| bad("the event carries no case".to_owned()))?;
    Ok(Some(Parsed { case, activity, changes, reason, escalate_to: None }))
}

/// Staff act as `staff:<id>` or `<role>:<token>` with a staff role.
pub fn is_staff_actor(actor: &str) -> bool {
    ["staff:", "admin:", "agent:", "viewer:"].iter().any(|prefix| actor.starts_with(prefix))
}

/// Whether telling this contact would echo back what the contact just did
/// (through the portal, which acts as `contact:<id>`). A case the contact
/// opened still gets its receipt, with the case number.
pub fn is_echo(event_type: &str, actor: &str, contact_id: &str) -> bool {
    event_type != "case.created" && actor.strip_prefix("contact:") == Some(contact_id)
}

fn status_label(status: i32) -> &'static str {
    match pb::CaseStatus::try_from(status) {
        Ok(pb::CaseStatus::ActiveNew) => "Active – New",
        Ok(pb::CaseStatus::ActiveAssigned) => "Active – Assigned",
        Ok(pb::CaseStatus::Pending) => "Pending",
        Ok(pb::CaseStatus::ClosedComplete) => "Closed – Complete",
        Ok(pb::CaseStatus::ClosedNoFault) => "Closed – No Fault",
        _ => "",
    }
}

fn priority_label(priority: i32) -> &'static str {
    match pb::CasePriority::try_from(priority) {
        Ok(pb::CasePriority::Low) => "Low",
        Ok(pb::CasePriority::Medium) => "Medium",
        Ok(pb::CasePriority::High) => "High",
        Ok(pb::CasePriority::Critical) => "Critical",
        _ => "",
    }
}

/// How a changed value reads in an email: the case service's trail keeps
/// machine keys for statuses and priorities, people read their labels.
fn change_text(field: &str, value: &str) -> String {
    let label = match (field, value) {
        ("status", "new") => status_label(pb::CaseStatus::ActiveNew as i32),
        ("status", "assigned") => status_label(pb::CaseStatus::ActiveAssigned as i32),
        ("status", "pending") => status_label(pb::CaseStatus::Pending as i32),
        ("status", "closed_complete") => status_label(pb::CaseStatus::ClosedComplete as i32),
        ("status", "closed_no_fault") => status_label(pb::CaseStatus::ClosedNoFault as i32),
        ("priority", "low") => priority_label(pb::CasePriority::Low as i32),
        ("priority", "medium") => priority_label(pb::CasePriority::Medium as i32),
        ("priority", "high") => priority_label(pb::CasePriority::High as i32),
        ("priority", "critical") => priority_label(pb::CasePriority::Critical as i32),
        _ => "",
    };
    if label.is_empty() { value.to_owned() } else { label.to_owned() }
}

struct Recipient {
    email: String,
    name: String,
    kind: RecipientKind,
}

fn unavailable(what: &str, status: tonic::Status) -> HandlerError {
    HandlerError(format!("case service, {what}: {} {}", status.code(), status.message()))
}

impl Notifier {
    async fn staff_user(&self, id: &str) -> Result<Option<pb::StaffUser>, HandlerError> {
        match self.clients.staff.clone().get_staff_user(pb::GetStaffUserRequest { id: id.to_owned() }).await {
            Ok(user) => Ok(Some(user.into_inner())),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(unavailable("reading a staff user", status)),
        }
    }

    /// The active staff users an escalation rule names.
    async fn escalation_recipients(&self, staff_ids: &[String]) -> Result<Vec<Recipient>, HandlerError> {
        let mut found: Vec<Recipient> = Vec::new();
        for id in staff_ids {
            if let Some(user) = self.staff_user(id).await?
                && user.active
                && !found.iter().any(|r| r.email == user.email.to_lowercase())
            {
                found.push(Recipient { email: user.email.to_lowercase(), name: user.name, kind: RecipientKind::Escalation });
            }
        }
        Ok(found)
    }

    async fn recipients(
        &self,
        txn: &DatabaseTransaction,
        kinds: &[RecipientKind],
        case: &pb::Case,
        event_type: &str,
        actor: &str,
    ) -> Result<Vec<Recipient>, HandlerError> {
        let mut found: Vec<Recipient> = Vec::new();
        let add = |found: &mut Vec<Recipient>, email: &str, name: &str, kind| {
            let email = email.trim().to_lowercase();
            if !email.is_empty() && !found.iter().any(|r| r.email == email) {
                found.push(Recipient { email, name: name.to_owned(), kind });
            }
        };
        for kind in kinds {
            match kind {
                RecipientKind::Contact => {
                    for link in &case.contacts {
                        if is_echo(event_type, actor, &link.contact_id) || is_opted_out(txn, &link.contact_id).await? {
                            continue;
                        }
                        let request = pb::GetContactRequest { lookup: Some(Lookup::Id(link.contact_id.clone())) };
                        match self.clients.contacts.clone().get_contact(request).await {
                            Ok(contact) => {
                                let contact = contact.into_inner();
                                add(&mut found, &contact.email, &contact.name, *kind);
                            }
                            Err(status) if status.code() == tonic::Code::NotFound => {}
                            Err(status) => return Err(unavailable("reading a contact", status)),
                        }
                    }
                }
                RecipientKind::Owner => {
                    if actor == format!("staff:{}", case.owner_id) {
                        continue;
                    }
                    if let Some(owner) = self.staff_user(&case.owner_id).await?
                        && owner.active
                    {
                        add(&mut found, &owner.email, &owner.name, *kind);
                    }
                }
                // Named by the escalation rule itself (see `escalation_recipients`).
                RecipientKind::Escalation => {}
                RecipientKind::Team => {
                    let team = match self.clients.staff.clone().get_team(pb::GetTeamRequest { id: case.team_id.clone() }).await {
                        Ok(team) => team.into_inner(),
                        Err(status) if status.code() == tonic::Code::NotFound => continue,
                        Err(status) => return Err(unavailable("reading a team", status)),
                    };
                    for member in &team.member_ids {
                        if actor == format!("staff:{member}") {
                            continue;
                        }
                        if let Some(user) = self.staff_user(member).await?
                            && user.active
                            && user.available
                        {
                            add(&mut found, &user.email, &user.name, *kind);
                        }
                    }
                }
            }
        }
        Ok(found)
    }
}

#[async_trait::async_trait]
impl EventHandler for Notifier {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), HandlerError> {
        if ACCESS_EVENT_TYPES.contains(&event.r#type.as_str()) {
            return access_email(txn, event).await;
        }
        let Some(parsed) = parse(event)? else { return Ok(()) };
        let case = &parsed.case;
        let settings = load_settings(txn).await?.settings;
        let activity = parsed.activity.as_ref();
        let facts = EventFacts {
            event_type: &event.r#type,
            actor: &event.actor,
            has_owner: !case.owner_id.is_empty(),
            has_team: !case.team_id.is_empty(),
            public_activity: activity.map(|a| a.visibility == pb::Visibility::Public as i32),
            activity_by_staff: activity.map(|a| is_staff_actor(&a.author)),
        };
        let mut recipients = match &parsed.escalate_to {
            Some(staff_ids) => self.escalation_recipients(staff_ids).await?,
            None => {
                let kinds = audiences(&settings, &facts);
                if kinds.is_empty() {
                    return Ok(());
                }
                self.recipients(txn, &kinds, case, &event.r#type, &event.actor).await?
            }
        };
        // Whoever wrote an inbound email does not get it echoed back.
        if let Some(email) = activity.and_then(|a| a.email.as_ref())
            && email.direction == pb::Direction::Inbound as i32
        {
            let sender = email.from.trim().to_lowercase();
            recipients.retain(|r| r.email != sender);
        }
        if recipients.is_empty() {
            return Ok(());
        }
        let owner_name = if case.owner_id.is_empty() {
            String::new()
        } else {
            self.staff_user(&case.owner_id).await?.map(|u| u.name).unwrap_or_default()
        };
        let TemplateRecord { template, customized, .. } = template_of(txn, &event.r#type).await?;
        let now = docket_kit::time::now();
        let not_before = now + chrono::Duration::seconds(i64::from(settings.digest_window_seconds.max(0)));
        for recipient in recipients {
            let context = TemplateContext {
                case: CaseView {
                    id: case.id.clone(),
                    number: case.case_number.clone(),
                    subject: case.subject.clone(),
                    description: case.description.clone(),
                    status: status_label(case.status).to_owned(),
                    priority: priority_label(case.priority).to_owned(),
                    owner_name: owner_name.clone(),
                    resolution_summary: case.resolution_summary.clone(),
                    url: format!("{}/cases/{}", settings.portal_base_url.trim_end_matches('/'), case.case_number),
                },
                event: EventView { r#type: event.r#type.clone(), actor: event.actor.clone(), reason: parsed.reason.clone() },
                activity: activity.map(|a| ActivityView {
                    kind: match pb::ActivityKind::try_from(a.kind) {
                        Ok(pb::ActivityKind::Call) => "call",
                        Ok(pb::ActivityKind::Email) => "email",
                        _ => "note",
                    }
                    .to_owned(),
                    body: a.body.clone(),
                    author: a.author.clone(),
                }),
                changes: parsed
                    .changes
                    .iter()
                    .map(|c| ChangeView {
                        field: c.field.clone(),
                        old: change_text(&c.field, &c.old_value),
                        new: change_text(&c.field, &c.new_value),
                    })
                    .collect(),
                recipient: RecipientView { name: recipient.name.clone(), email: recipient.email.clone(), kind: recipient.kind },
                sender: SenderView { name: settings.sender_name.clone(), address: settings.sender_address.clone() },
            };
            // A saved template was checked when saved; should it still fail
            // (e.g. an event without an activity), the default keeps the
            // customer informed.
            let (subject, body) = match render(&template, &context) {
                Ok(rendered) => rendered,
                Err(err) => {
                    tracing::warn!(error = %err, event_type = %event.r#type, customized, "template failed; using the default");
                    render(&default_template(&event.r#type), &context).map_err(|err| HandlerError(err.to_string()))?
                }
            };
            let row = delivery::Model {
                id: uuid::Uuid::now_v7().to_string(),
                event_id: event.id.clone(),
                event_type: event.r#type.clone(),
                case_id: case.id.clone(),
                case_number: case.case_number.clone(),
                recipient: recipient.email.clone(),
                recipient_name: recipient.name.clone(),
                recipient_kind: recipient.kind.key().to_owned(),
                subject,
                body,
                status: PENDING.to_owned(),
                attempts: 0,
                last_error: String::new(),
                message_id: String::new(),
                not_before,
                created_at: now,
                sent_at: None,
            };
            row.into_active_model().reset_all().insert(txn).await?;
        }
        Ok(())
    }
}

/// A portal invitation or password reset: one email with the link, to the
/// address in the event. Opt-outs of case emails do not apply: the person
/// (or staff for them) asked for this one.
async fn access_email(txn: &DatabaseTransaction, event: &Envelope) -> Result<(), HandlerError> {
    let bad = |err: String| HandlerError(format!("{}: {err}", event.r#type));
    let (email, name, token, expires, path) = match event.r#type.as_str() {
        "portal.invitation_created" => {
            let p: ev::PortalInvitationCreated = unpack(event, "docket.events.v1.PortalInvitationCreated").map_err(bad)?;
            (p.email, p.name, p.token, p.expire_time, "invitation")
        }
        _ => {
            let p: ev::PortalPasswordResetRequested =
                unpack(event, "docket.events.v1.PortalPasswordResetRequested").map_err(bad)?;
            (p.email, p.name, p.token, p.expire_time, "reset")
        }
    };
    let email = email.trim().to_lowercase();
    if email.is_empty() || token.is_empty() {
        return Err(bad("the event carries no email or no token".to_owned()));
    }
    let settings = load_settings(txn).await?.settings;
    let expires = expires
        .as_ref()
        .and_then(docket_kit::time::from_proto)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let context = AccessContext {
        recipient: RecipientView { name: name.clone(), email: email.clone(), kind: RecipientKind::Contact },
        sender: SenderView { name: settings.sender_name.clone(), address: settings.sender_address.clone() },
        link: format!("{}/{path}/{token}", settings.portal_base_url.trim_end_matches('/')),
        expires,
    };
    let TemplateRecord { template, customized, .. } = template_of(txn, &event.r#type).await?;
    let (subject, body) = match render(&template, &context) {
        Ok(rendered) => rendered,
        Err(err) => {
            tracing::warn!(error = %err, event_type = %event.r#type, customized, "template failed; using the default");
            render(&default_template(&event.r#type), &context).map_err(|err| HandlerError(err.to_string()))?
        }
    };
    let now = docket_kit::time::now();
    let row = delivery::Model {
        id: uuid::Uuid::now_v7().to_string(),
        event_id: event.id.clone(),
        event_type: event.r#type.clone(),
        case_id: String::new(),
        case_number: String::new(),
        recipient: email,
        recipient_name: name,
        recipient_kind: RecipientKind::Contact.key().to_owned(),
        subject,
        body,
        status: PENDING.to_owned(),
        attempts: 0,
        last_error: String::new(),
        message_id: String::new(),
        not_before: now,
        created_at: now,
        sent_at: None,
    };
    row.into_active_model().reset_all().insert(txn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_is_not_told_what_it_did_itself_except_for_the_receipt_of_its_case() {
        assert!(is_echo("case.activity_added", "contact:c-1", "c-1"));
        assert!(is_echo("case.closed", "contact:c-1", "c-1"));
        assert!(!is_echo("case.created", "contact:c-1", "c-1"));
        assert!(!is_echo("case.activity_added", "contact:c-1", "c-2"));
        assert!(!is_echo("case.activity_added", "service:portal", "c-1"));
        assert!(!is_echo("case.activity_added", "staff:c-1", "c-1"));
    }
}
