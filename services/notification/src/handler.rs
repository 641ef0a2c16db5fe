//! Turns case events (and the portal's link events and the knowledge
//! service's review requests) into deliveries: decides who hears what,
//! renders the template, and writes one pending delivery per recipient in
//! the consumer's transaction (the mailer sends them).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use docket_kit::events::{
    consumer::{EventHandler, HandlerError, Prepared},
    unpack,
};
use docket_proto::{
    case::v1::{self as pb, get_contact_request::Lookup},
    events::v1::{self as ev, Envelope},
    knowledge::v1 as kb,
};
use sea_orm::{ActiveModelTrait, DatabaseConnection, DatabaseTransaction, IntoActiveModel};
use serde::Serialize;
use tokio::sync::Notify;

use crate::{
    clients::{CaseClients, PortalLinks},
    domain::{
        audience::{EventFacts, RecipientKind, StaffMember, article_authors, audiences, reviews},
        settings::{ACCESS_EVENT_TYPES, NotifySettings, REVIEW_EVENT_TYPES},
        templates::{
            AccessContext, ActivityView, ArticleView, CaseView, ChangeView, EventView, RecipientView, RequestView, ReviewContext,
            SenderView, SubmitterView, TemplateContext, default_template, render,
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
    links: PortalLinks,
    /// Wakes the mailer of this process once new deliveries are committed.
    mail: Arc<Notify>,
}

impl Notifier {
    pub fn new(clients: CaseClients, links: PortalLinks, mail: Arc<Notify>) -> Self {
        Self { clients, links, mail }
    }
}

/// The events the notifier reads: every case event, the portal's
/// invitation and password-reset events (an email with a link each), and
/// the knowledge service's articles awaiting review (bound by name: its
/// other article events email nobody).
pub const BINDINGS: &[&str] = &["case.*", "portal.*", "article.submitted_for_review"];

struct Parsed {
    case: pb::Case,
    activity: Option<pb::Activity>,
    changes: Vec<ev::FieldChange>,
    reason: String,
    /// For `case.escalated`: the staff the rule names.
    escalate_to: Option<Vec<String>>,
}

/// What the notifier reads of a case event: the case, the activity added,
/// the fields changed, the reason given.
type Facts = (Option<pb::Case>, Option<pb::Activity>, Vec<ev::FieldChange>, String);

/// The payload of a case event.
trait CasePayload: prost::Message + Default {
    /// Its full proto name, as the payload's type URL ends.
    const NAME: &'static str;
    fn facts(self) -> Facts;
}

/// Each payload and what the notifier reads of it.
macro_rules! case_payloads {
    ($($name:ident: |$p:ident| $facts:expr;)*) => {$(
        impl CasePayload for ev::$name {
            const NAME: &'static str = concat!("docket.events.v1.", stringify!($name));
            fn facts(self) -> Facts {
                let $p = self;
                $facts
            }
        }
    )*};
}

case_payloads! {
    CaseCreated: |p| (p.case, None, Vec::new(), String::new());
    CaseUpdated: |p| (p.case, None, p.changes, p.reason);
    CaseAssigned: |p| (p.case, None, Vec::new(), p.reason);
    CaseRouted: |p| (p.case, None, Vec::new(), p.reason);
    CaseStatusChanged: |p| (p.case, None, Vec::new(), p.reason);
    CaseClosed: |p| (p.case, None, Vec::new(), p.reason);
    CaseReopened: |p| (p.case, None, Vec::new(), p.reason);
    CaseActivityAdded: |p| (p.case, p.activity, Vec::new(), String::new());
}

fn facts<P: CasePayload>(event: &Envelope) -> Result<Facts, String> {
    unpack::<P>(event, P::NAME).map(P::facts)
}

fn parse(event: &Envelope) -> Result<Option<Parsed>, HandlerError> {
    let bad = |err: String| HandlerError::permanent(format!("{}: {err}", event.r#type));
    let facts = match event.r#type.as_str() {
        "case.created" => facts::<ev::CaseCreated>(event),
        "case.updated" => facts::<ev::CaseUpdated>(event),
        "case.assigned" => facts::<ev::CaseAssigned>(event),
        "case.routed" => facts::<ev::CaseRouted>(event),
        "case.status_changed" => facts::<ev::CaseStatusChanged>(event),
        "case.closed" => facts::<ev::CaseClosed>(event),
        "case.reopened" => facts::<ev::CaseReopened>(event),
        "case.activity_added" => facts::<ev::CaseActivityAdded>(event),
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
    let (case, activity, changes, reason) = facts.map_err(bad)?;
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

/// A status or priority: its number, the key the case service's trail keeps
/// for it, and its label in an email.
type Labels = [(i32, &'static str, &'static str)];

const STATUS_LABELS: &Labels = &[
    (pb::CaseStatus::ActiveNew as i32, "new", "Active – New"),
    (pb::CaseStatus::ActiveAssigned as i32, "assigned", "Active – Assigned"),
    (pb::CaseStatus::Pending as i32, "pending", "Pending"),
    (pb::CaseStatus::ClosedComplete as i32, "closed_complete", "Closed – Complete"),
    (pb::CaseStatus::ClosedNoFault as i32, "closed_no_fault", "Closed – No Fault"),
];

const PRIORITY_LABELS: &Labels = &[
    (pb::CasePriority::Low as i32, "low", "Low"),
    (pb::CasePriority::Medium as i32, "medium", "Medium"),
    (pb::CasePriority::High as i32, "high", "High"),
    (pb::CasePriority::Critical as i32, "critical", "Critical"),
];

/// The label of a status or priority number; empty when it has none.
fn label(labels: &Labels, number: i32) -> &'static str {
    labels.iter().find(|(n, _, _)| *n == number).map_or("", |(_, _, label)| label)
}

/// How a changed value reads in an email: the case service's trail keeps
/// machine keys for statuses and priorities, people read their labels.
fn change_text(field: &str, value: &str) -> String {
    let labels: &Labels = match field {
        "status" => STATUS_LABELS,
        "priority" => PRIORITY_LABELS,
        _ => &[],
    };
    labels.iter().find(|(_, key, _)| *key == value).map_or(value, |(_, _, label)| label).to_owned()
}

struct Recipient {
    email: String,
    name: String,
    kind: RecipientKind,
}

fn unavailable(what: &str, status: tonic::Status) -> HandlerError {
    HandlerError::from_status(&format!("case service, {what}"), &status)
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

    /// The active staff of a team, or of the whole directory when `team_id`
    /// is empty: one call per page of members, not one per member.
    async fn active_staff(&self, team_id: &str) -> Result<Vec<pb::StaffUser>, HandlerError> {
        let mut members = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListStaffUsersRequest {
                page_size: i32::try_from(docket_kit::page::MAX_PAGE_SIZE).unwrap_or(i32::MAX),
                page_token,
                query: String::new(),
                team_id: team_id.to_owned(),
                active_only: true,
                include_total_size: false,
            };
            let page = match self.clients.staff.clone().list_staff_users(request).await {
                Ok(page) => page.into_inner(),
                Err(status) if status.code() == tonic::Code::NotFound => return Ok(members),
                Err(status) => return Err(unavailable("listing a team's staff", status)),
            };
            members.extend(page.staff_users);
            if page.next_page_token.is_empty() {
                return Ok(members);
            }
            page_token = page.next_page_token;
        }
    }

    /// Who hears of a case event, by `kinds`. The owner, when looked up,
    /// is kept in `owner` for the email's text.
    async fn recipients(
        &self,
        db: &DatabaseConnection,
        kinds: &[RecipientKind],
        case: &pb::Case,
        event_type: &str,
        actor: &str,
        owner: &mut Option<Option<pb::StaffUser>>,
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
                        if is_echo(event_type, actor, &link.contact_id) || is_opted_out(db, &link.contact_id).await? {
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
                    let user = self.staff_user(&case.owner_id).await?;
                    if let Some(user) = &user
                        && user.active
                    {
                        add(&mut found, &user.email, &user.name, *kind);
                    }
                    *owner = Some(user);
                }
                // Named by the escalation rule itself (see `escalation_recipients`),
                // or not about a case (see `review_plan`).
                RecipientKind::Escalation | RecipientKind::Reviewer => {}
                RecipientKind::Team => {
                    for user in self.active_staff(&case.team_id).await? {
                        if actor != format!("staff:{}", user.id) && user.active && user.available {
                            add(&mut found, &user.email, &user.name, *kind);
                        }
                    }
                }
            }
        }
        Ok(found)
    }
}

/// What an event's emails need from other services, found before the
/// consumer opens its transaction.
enum Plan {
    /// A case event: who hears of it, and the case as the emails show it.
    Case { parsed: Box<Parsed>, settings: NotifySettings, recipients: Vec<Recipient>, owner_name: String },
    /// A link email, with the secret the portal service issued for it.
    Link(LinkEmail),
    /// An article awaiting review, and the staff asked to review it.
    Review { review: Review, recipients: Vec<Recipient> },
}

/// An article awaiting review, as its emails name it.
struct Review {
    article: ArticleView,
    submitter: String,
    comment: String,
}

/// A portal invitation, password reset or submission confirmation, ready to write.
struct LinkEmail {
    recipient: Recipient,
    /// `invitation`, `reset` or `confirm`: the link's path.
    path: &'static str,
    token: String,
    expires: String,
    request: RequestView,
}

#[async_trait::async_trait]
impl EventHandler for Notifier {
    async fn prepare(&self, db: &DatabaseConnection, event: &Envelope) -> Result<Prepared, HandlerError> {
        if ACCESS_EVENT_TYPES.contains(&event.r#type.as_str()) {
            return Ok(Prepared::new(link_email(event, &self.links).await?.map(Plan::Link)));
        }
        if REVIEW_EVENT_TYPES.contains(&event.r#type.as_str()) {
            return Ok(Prepared::new(self.review_plan(event).await?));
        }
        Ok(Prepared::new(self.case_plan(db, event).await?))
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, prepared: Prepared) -> Result<(), HandlerError> {
        match prepared.take::<Option<Plan>>().flatten() {
            None => Ok(()),
            Some(Plan::Link(email)) => write_link_email(txn, event, email).await,
            Some(Plan::Review { review, recipients }) => write_review_emails(txn, event, &review, recipients).await,
            Some(Plan::Case { parsed, settings, recipients, owner_name }) => {
                write_case_emails(txn, event, &parsed, &settings, recipients, &owner_name).await
            }
        }
    }

    fn committed(&self) {
        self.mail.notify_one();
    }
}

impl Notifier {
    /// Who hears of a case event (none: no email).
    async fn case_plan(&self, db: &DatabaseConnection, event: &Envelope) -> Result<Option<Plan>, HandlerError> {
        let Some(parsed) = parse(event)? else { return Ok(None) };
        let case = &parsed.case;
        let settings = load_settings(db).await?.settings;
        let activity = parsed.activity.as_ref();
        let facts = EventFacts {
            event_type: &event.r#type,
            actor: &event.actor,
            has_owner: !case.owner_id.is_empty(),
            has_team: !case.team_id.is_empty(),
            public_activity: activity.map(|a| a.visibility == pb::Visibility::Public as i32),
            activity_by_staff: activity.map(|a| is_staff_actor(&a.author)),
        };
        let mut owner = None;
        let mut recipients = match &parsed.escalate_to {
            Some(staff_ids) => self.escalation_recipients(staff_ids).await?,
            None => {
                let kinds = audiences(&settings, &facts);
                if kinds.is_empty() {
                    return Ok(None);
                }
                self.recipients(db, &kinds, case, &event.r#type, &event.actor, &mut owner).await?
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
            return Ok(None);
        }
        let owner = match owner {
            Some(looked_up) => looked_up,
            None if case.owner_id.is_empty() => None,
            None => self.staff_user(&case.owner_id).await?,
        };
        let owner_name = owner.map(|u| u.name).unwrap_or_default();
        Ok(Some(Plan::Case { parsed: Box::new(parsed), settings, recipients, owner_name }))
    }
}

/// The article of an `article.submitted_for_review` event and the
/// submitter's comment. A payload that is not one can never be handled:
/// refused for good (dead-lettered).
fn submitted_article(event: &Envelope) -> Result<(kb::Article, String), HandlerError> {
    let bad = |err: String| HandlerError::permanent(format!("{}: {err}", event.r#type));
    let payload: ev::ArticleChanged = unpack(event, "docket.events.v1.ArticleChanged").map_err(bad)?;
    let article = payload.article.ok_or_else(|| bad("the event carries no article".to_owned()))?;
    if article.id.trim().is_empty() || article.title.trim().is_empty() {
        return Err(bad(format!("the event's article has no id or title (id {:?})", article.id)));
    }
    Ok((article, payload.comment))
}

/// How an article's audience reads in an email.
fn audience_name(audience: i32) -> &'static str {
    match kb::Audience::try_from(audience) {
        Ok(kb::Audience::Internal) => "internal",
        Ok(kb::Audience::Customers) => "customers",
        Ok(kb::Audience::Public) => "public",
        _ => "",
    }
}

impl Notifier {
    /// Who reviews an article submitted for review: the active admins of
    /// the case service's staff directory other than its owner and its
    /// submitter (see [`reviews`]). Nobody to ask is no error: no email.
    async fn review_plan(&self, event: &Envelope) -> Result<Option<Plan>, HandlerError> {
        let (article, comment) = submitted_article(event)?;
        let authors = article_authors(&article.owner_id, &event.actor);
        let staff = self.active_staff("").await?;
        let mut recipients: Vec<Recipient> = Vec::new();
        for user in &staff {
            let member = StaffMember {
                id: &user.id,
                email: &user.email,
                is_admin: user.role == pb::StaffRole::Admin as i32,
                active: user.active,
            };
            let email = user.email.trim().to_lowercase();
            if reviews(&member, &authors) && !recipients.iter().any(|r| r.email == email) {
                recipients.push(Recipient { email, name: user.name.clone(), kind: RecipientKind::Reviewer });
            }
        }
        if recipients.is_empty() {
            tracing::info!(article = %article.id, actor = %event.actor, "an article awaits review, but no active admin other than its author has an email address; no email");
            return Ok(None);
        }
        let submitter = match event.actor.strip_prefix("staff:") {
            Some(id) => match staff.iter().find(|u| u.id == id) {
                Some(user) => Some(user.name.clone()),
                None => self.staff_user(id).await?.map(|u| u.name),
            },
            None => None,
        }
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| event.actor.clone());
        let review = Review {
            article: ArticleView {
                id: article.id,
                slug: article.slug,
                title: article.title,
                summary: article.summary,
                audience: audience_name(article.audience).to_owned(),
                locale: article.locale,
            },
            submitter,
            comment: comment.trim().to_owned(),
        };
        Ok(Some(Plan::Review { review, recipients }))
    }
}

/// Writes one pending delivery per reviewer of an article awaiting review,
/// due at once (a digest gathers the updates of one case; this is none).
async fn write_review_emails(
    txn: &DatabaseTransaction,
    event: &Envelope,
    review: &Review,
    recipients: Vec<Recipient>,
) -> Result<(), HandlerError> {
    let settings = load_settings(txn).await?.settings;
    let template = template_of(txn, &event.r#type).await?;
    let now = docket_kit::time::now();
    for recipient in recipients {
        let context = ReviewContext {
            article: review.article.clone(),
            submitter: SubmitterView { name: review.submitter.clone() },
            comment: review.comment.clone(),
            recipient: RecipientView { name: recipient.name.clone(), email: recipient.email.clone(), kind: recipient.kind },
            sender: SenderView { name: settings.sender_name.clone(), address: settings.sender_address.clone() },
        };
        let content = rendered(&template, &event.r#type, &context)?;
        queue(txn, event, None, recipient, content, now, now).await?;
    }
    Ok(())
}

/// Writes one pending delivery per recipient of a case event.
async fn write_case_emails(
    txn: &DatabaseTransaction,
    event: &Envelope,
    parsed: &Parsed,
    settings: &NotifySettings,
    recipients: Vec<Recipient>,
    owner_name: &str,
) -> Result<(), HandlerError> {
    let case = &parsed.case;
    let activity = parsed.activity.as_ref();
    let template = template_of(txn, &event.r#type).await?;
    let now = docket_kit::time::now();
    let not_before = now + chrono::Duration::seconds(i64::from(settings.digest_window_seconds.max(0)));
    for recipient in recipients {
        let context = TemplateContext {
            case: CaseView {
                id: case.id.clone(),
                number: case.case_number.clone(),
                subject: case.subject.clone(),
                description: case.description.clone(),
                status: label(STATUS_LABELS, case.status).to_owned(),
                priority: label(PRIORITY_LABELS, case.priority).to_owned(),
                owner_name: owner_name.to_owned(),
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
        let content = rendered(&template, &event.r#type, &context)?;
        queue(txn, event, Some(case), recipient, content, not_before, now).await?;
    }
    Ok(())
}

/// A portal invitation, password reset or submission confirmation: one email
/// with the link, to the address the portal service names as it hands out
/// the link's secret (the event carries only the link's id). A link that no
/// longer works gets no email (`None`). Opt-outs of case emails do not
/// apply: the person (or staff for them) asked for this one.
async fn link_email(event: &Envelope, links: &PortalLinks) -> Result<Option<LinkEmail>, HandlerError> {
    let bad = |err: String| HandlerError::permanent(format!("{}: {err}", event.r#type));
    let mut request = RequestView::default();
    let (name, link_id, path) = match event.r#type.as_str() {
        "portal.invitation_created" => {
            let p: ev::PortalInvitationCreated = unpack(event, "docket.events.v1.PortalInvitationCreated").map_err(bad)?;
            (p.name, p.link_id, "invitation")
        }
        "portal.submission_confirmation_requested" => {
            let p: ev::PortalSubmissionConfirmationRequested =
                unpack(event, "docket.events.v1.PortalSubmissionConfirmationRequested").map_err(bad)?;
            request = RequestView { number: p.case_number, subject: p.subject };
            (p.name, p.link_id, "confirm")
        }
        _ => {
            let p: ev::PortalPasswordResetRequested =
                unpack(event, "docket.events.v1.PortalPasswordResetRequested").map_err(bad)?;
            (p.name, p.link_id, "reset")
        }
    };
    if uuid::Uuid::parse_str(&link_id).is_err() {
        return Err(bad(format!("the event names no link (link_id {link_id:?})")));
    }
    let Some(issued) =
        links.issue_secret(&link_id).await.map_err(|status| HandlerError::from_status("the portal service", &status))?
    else {
        return Ok(None);
    };
    let expires = issued
        .expire_time
        .as_ref()
        .and_then(docket_kit::time::from_proto)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let recipient = Recipient { email: issued.email.trim().to_lowercase(), name, kind: RecipientKind::Contact };
    Ok(Some(LinkEmail { recipient, path, token: issued.token, expires, request }))
}

/// Writes the pending delivery of a link email.
async fn write_link_email(txn: &DatabaseTransaction, event: &Envelope, email: LinkEmail) -> Result<(), HandlerError> {
    let settings = load_settings(txn).await?.settings;
    let LinkEmail { recipient, path, token, expires, request } = email;
    let context = AccessContext {
        recipient: RecipientView { name: recipient.name.clone(), email: recipient.email.clone(), kind: RecipientKind::Contact },
        sender: SenderView { name: settings.sender_name.clone(), address: settings.sender_address.clone() },
        link: format!("{}/{path}/{token}", settings.portal_base_url.trim_end_matches('/')),
        expires,
        request,
    };
    let template = template_of(txn, &event.r#type).await?;
    let content = rendered(&template, &event.r#type, &context)?;
    let now = docket_kit::time::now();
    queue(txn, event, None, recipient, content, now, now).await
}

/// The subject and body of an email from `template`. A saved template was
/// checked when saved; should it still fail (e.g. an event without an
/// activity), the default keeps the customer informed.
fn rendered(template: &TemplateRecord, event_type: &str, context: &impl Serialize) -> Result<(String, String), HandlerError> {
    match render(&template.template, context) {
        Ok(rendered) => Ok(rendered),
        Err(err) => {
            tracing::warn!(
                error = %err,
                event_type = %event_type,
                customized = template.customized,
                "template failed; using the default"
            );
            render(&default_template(event_type), context).map_err(|err| HandlerError::permanent(err.to_string()))
        }
    }
}

/// Writes one pending delivery of an email about `event` (and its case, when
/// it is about one) to `recipient`; the mailer sends it from `not_before` on.
async fn queue(
    txn: &DatabaseTransaction,
    event: &Envelope,
    case: Option<&pb::Case>,
    recipient: Recipient,
    (subject, body): (String, String),
    not_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), HandlerError> {
    let row = delivery::Model {
        id: uuid::Uuid::now_v7().to_string(),
        event_id: event.id.clone(),
        event_type: event.r#type.clone(),
        case_id: case.map(|c| c.id.clone()).unwrap_or_default(),
        case_number: case.map(|c| c.case_number.clone()).unwrap_or_default(),
        recipient: recipient.email,
        recipient_name: recipient.name,
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
        leased_by: None,
        // The consumer handles the event inside a span of the change's trace.
        traceparent: docket_kit::telemetry::current_traceparent(),
    };
    row.into_active_model().reset_all().insert(txn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn envelope(type_url: &str, value: Vec<u8>) -> Envelope {
        Envelope {
            id: "0190f0c0-0000-7000-8000-0000000000e1".into(),
            r#type: "article.submitted_for_review".into(),
            actor: "staff:s-1".into(),
            payload: Some(prost_types::Any { type_url: type_url.into(), value }),
            ..Default::default()
        }
    }

    #[test]
    fn a_review_request_that_is_not_one_is_refused_for_good() {
        let article = kb::Article { id: "a-1".into(), title: "Printer error E-13".into(), ..Default::default() };
        let good = ev::ArticleChanged { article: Some(article), changes: Vec::new(), comment: "Please look".into() };
        let url = "type.googleapis.com/docket.events.v1.ArticleChanged";
        let (read, comment) = submitted_article(&envelope(url, good.encode_to_vec())).unwrap();
        assert_eq!((read.title.as_str(), comment.as_str()), ("Printer error E-13", "Please look"));

        let no_article = ev::ArticleChanged { article: None, ..good.clone() }.encode_to_vec();
        let untitled =
            ev::ArticleChanged { article: Some(kb::Article { id: "a-1".into(), ..Default::default() }), ..good.clone() };
        for bad in [
            envelope(url, vec![0xff, 0xff, 0xff]),
            envelope("type.googleapis.com/docket.events.v1.CaseCreated", good.encode_to_vec()),
            envelope(url, no_article),
            envelope(url, untitled.encode_to_vec()),
            Envelope { payload: None, ..envelope(url, Vec::new()) },
        ] {
            let err = submitted_article(&bad).expect_err("refused");
            assert!(err.permanent, "{}", err.reason);
            assert!(err.reason.starts_with("article.submitted_for_review: "), "{}", err.reason);
        }
    }

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
