//! How an email reads: the templates (an admin's, or the built-in default
//! of each event type), the variables they can use, and how they are
//! checked when saved and rendered when sent.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::{
    audience::RecipientKind,
    settings::{ACCESS_EVENT_TYPES, EVENT_TYPES, REVIEW_EVENT_TYPES},
};

/// A template: subject and body in minijinja.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub body: String,
}

/// Longest subject, in characters.
pub const SUBJECT_MAX: usize = 500;
/// Longest body, in characters.
pub const BODY_MAX: usize = 50_000;

/// Event types with a template: case events, the portal's access emails
/// and the knowledge service's review requests.
pub fn templated_event_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().chain(ACCESS_EVENT_TYPES).chain(REVIEW_EVENT_TYPES).copied()
}

/// Whether an event type has a template.
pub fn is_templated(event_type: &str) -> bool {
    templated_event_types().any(|known| known == event_type)
}

/// The built-in template of an event type.
pub fn default_template(event_type: &str) -> Template {
    if let Some(template) = default_access_template(event_type) {
        return template;
    }
    if REVIEW_EVENT_TYPES.contains(&event_type) {
        return default_review_template();
    }
    let (subject, lead) = match event_type {
        "case.created" => {
            ("[{{ case.number }}] {{ case.subject }}", "We have received your request and opened case {{ case.number }}.")
        }
        "case.updated" => ("[{{ case.number }}] Updated: {{ case.subject }}", "Case {{ case.number }} was updated."),
        "case.assigned" => (
            "[{{ case.number }}] Assigned to you: {{ case.subject }}",
            "Case {{ case.number }} is now assigned to {{ case.owner_name or 'you' }}.",
        ),
        "case.routed" => (
            "[{{ case.number }}] Assigned to you: {{ case.subject }}",
            "Case {{ case.number }} was routed to {{ case.owner_name or 'you' }}.\n\n{{ event.reason }}",
        ),
        "case.status_changed" => {
            ("[{{ case.number }}] Now {{ case.status }}: {{ case.subject }}", "Case {{ case.number }} is now {{ case.status }}.")
        }
        "case.closed" => (
            "[{{ case.number }}] Resolved: {{ case.subject }}",
            "Case {{ case.number }} has been closed ({{ case.status }}).\n\nResolution:\n{{ case.resolution_summary }}",
        ),
        "case.reopened" => (
            "[{{ case.number }}] Reopened: {{ case.subject }}",
            "Case {{ case.number }} has been reopened.{% if event.reason %}\n\nReason: {{ event.reason }}{% endif %}",
        ),
        "case.escalated" => {
            ("[{{ case.number }}] Escalated: {{ case.subject }}", "Case {{ case.number }} was escalated.\n\n{{ event.reason }}")
        }
        "case.activity_added" => (
            "[{{ case.number }}] New update: {{ case.subject }}",
            "There is a new update on case {{ case.number }}:\n\n{{ activity.body }}",
        ),
        _ => ("[{{ case.number }}] {{ case.subject }}", "Case {{ case.number }} changed."),
    };
    let body = format!(
        "Hello {{{{ recipient.name }}}},\n\n{lead}\n{{% if changes %}}\nWhat changed:\n{{% for change in changes %}}  - {{{{ change.field }}}}: {{{{ change.old or '(none)' }}}} -> {{{{ change.new or '(none)' }}}}\n{{% endfor %}}{{% endif %}}\nSubject:  {{{{ case.subject }}}}\nStatus:   {{{{ case.status }}}}\nPriority: {{{{ case.priority }}}}\n\nSee the case and reply in the portal:\n{{{{ case.url }}}}\n\nYou can also reply to this email; keep {{{{ case.number }}}} in the subject.\n\n-- \n{{{{ sender.name }}}}\n"
    );
    Template { subject: subject.to_owned(), body }
}

/// The built-in templates of [`ACCESS_EVENT_TYPES`].
fn default_access_template(event_type: &str) -> Option<Template> {
    let (subject, lead, action) = match event_type {
        "portal.invitation_created" => (
            "Your access to the {{ sender.name }} portal",
            "you are invited to the customer portal, where you can open cases and follow them.",
            "To set your password and log in, open this link",
        ),
        "portal.password_reset_requested" => (
            "Reset your password for the {{ sender.name }} portal",
            "someone (we hope you) asked to reset your password for the customer portal.",
            "To choose a new password, open this link",
        ),
        "portal.submission_confirmation_requested" => {
            // No [C-…] in the subject: a reply would not thread into a case
            // that has no contact yet.
            let body = "Hello {{ recipient.name }},\n\nsomeone (we hope you) sent us a request through our web form, giving your address:\n\n  {{ request.subject }} (case {{ request.number }})\n\nTo confirm that it is yours and follow it with your other cases, open this link (it works until {{ expires }}):\n{{ link }}\n\nIf you did not send it, ignore this email: the request stays with our support team and is not added to your account.\n\n-- \n{{ sender.name }}\n";
            return Some(Template {
                subject: "Please confirm your request to {{ sender.name }}: {{ request.subject }}".to_owned(),
                body: body.to_owned(),
            });
        }
        _ => return None,
    };
    let body = format!(
        "Hello {{{{ recipient.name }}}},\n\n{lead}\n\n{action} (it works once, until {{{{ expires }}}}):\n{{{{ link }}}}\n\nIf you did not expect this email, you can ignore it.\n\n-- \n{{{{ sender.name }}}}\n"
    );
    Some(Template { subject: subject.to_owned(), body })
}

/// The built-in template of `article.submitted_for_review`. Staff have no
/// page of their own for drafts yet (the portal shows customers published
/// articles only), so the email names the article for the knowledge API.
fn default_review_template() -> Template {
    let body = "Hello {{ recipient.name }},\n\n{{ submitter.name }} submitted a knowledge-base article for review:\n\n  {{ article.title }}\n{% if article.summary %}\n{{ article.summary }}\n{% endif %}\nAudience: {{ article.audience }}\nLocale:   {{ article.locale }}\n{% if comment %}\nTheir comment:\n{{ comment }}\n{% endif %}\nPlease review it: read the draft with GetArticle (include_draft), then\npublish it with PublishArticle or send it back with RejectArticle\n(ArticleService of the knowledge API):\n\n  Article id: {{ article.id }}\n  Slug:       {{ article.slug }}\n\nYou receive this email as an admin of Docket.\n\n-- \n{{ sender.name }}\n";
    Template { subject: "Article awaiting review: {{ article.title }}".to_owned(), body: body.to_owned() }
}

/// What a template of [`REVIEW_EVENT_TYPES`] can use.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewContext {
    pub article: ArticleView,
    /// Who submitted the article for review.
    pub submitter: SubmitterView,
    /// The submitter's comment; empty when none was given.
    pub comment: String,
    pub recipient: RecipientView,
    pub sender: SenderView,
}

/// An article awaiting review, as its email names it.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleView {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// `internal`, `customers` or `public`.
    pub audience: String,
    pub locale: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubmitterView {
    /// The staff user's name, or the token's actor when the directory does not know it.
    pub name: String,
}

/// A review email's context with every variable filled, to check a template when saved.
pub fn sample_review_context() -> ReviewContext {
    ReviewContext {
        article: ArticleView {
            id: "0190f0c0-0000-7000-8000-00000000a001".into(),
            slug: "printer-error-e-13".into(),
            title: "Printer error E-13".into(),
            summary: "When the printer stops with E-13.".into(),
            audience: "customers".into(),
            locale: "en".into(),
        },
        submitter: SubmitterView { name: "Alex Agent".into() },
        comment: "Please check the second step.".into(),
        recipient: RecipientView { name: "Ada Admin".into(), email: "ada@example.com".into(), kind: RecipientKind::Reviewer },
        sender: SenderView { name: "Docket Support".into(), address: "support@example.com".into() },
    }
}

/// What a template of [`ACCESS_EVENT_TYPES`] can use.
#[derive(Debug, Clone, Serialize)]
pub struct AccessContext {
    pub recipient: RecipientView,
    pub sender: SenderView,
    /// The one-time link.
    pub link: String,
    /// When the link stops working, e.g. `2026-11-27 10:00 UTC`.
    pub expires: String,
    /// The request a confirmation link is about; empty for the other links.
    pub request: RequestView,
}

/// The case a web form submission opened, as its confirmation email names it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestView {
    pub number: String,
    pub subject: String,
}

/// An access email's context with every variable filled, to check a template when saved.
pub fn sample_access_context() -> AccessContext {
    AccessContext {
        recipient: RecipientView {
            name: "Petra Schmidt".into(),
            email: "petra@example.com".into(),
            kind: RecipientKind::Contact,
        },
        sender: SenderView { name: "Docket Support".into(), address: "support@example.com".into() },
        link: "http://127.0.0.1:8080/portal/invitation/3q2-7wT0Kz5y".into(),
        expires: "2026-11-27 10:00 UTC".into(),
        request: RequestView { number: "C-000123".into(), subject: "Printer jams".into() },
    }
}

/// What a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateContext {
    pub case: CaseView,
    pub event: EventView,
    pub activity: Option<ActivityView>,
    pub changes: Vec<ChangeView>,
    pub recipient: RecipientView,
    pub sender: SenderView,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: String,
    pub number: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub owner_name: String,
    pub resolution_summary: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub r#type: String,
    pub actor: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActivityView {
    pub kind: String,
    pub body: String,
    pub author: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    pub field: String,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecipientView {
    pub name: String,
    pub email: String,
    pub kind: RecipientKind,
}

#[derive(Debug, Clone, Serialize)]
pub struct SenderView {
    pub name: String,
    pub address: String,
}

/// The variables a template may use, for the admin screen.
pub fn template_variables() -> BTreeMap<String, String> {
    [
        ("case.number", "C-000123"),
        ("case.subject", "the case's subject"),
        ("case.description", "the case's description"),
        ("case.status", "e.g. Active – Assigned"),
        ("case.priority", "Low, Medium, High or Critical"),
        ("case.owner_name", "the owner's name, if any"),
        ("case.resolution_summary", "set when closed"),
        ("case.url", "the case in the portal"),
        ("event.type", "e.g. case.closed"),
        ("event.reason", "the reason given for the change"),
        ("activity.body", "for case.activity_added: the note or email text"),
        ("changes", "list of {field, old, new}"),
        ("recipient.name", "who receives it"),
        ("sender.name", "the sender name from the settings"),
        ("link", "portal.* only: the one-time link"),
        ("expires", "portal.* only: when the link stops working"),
        ("request.number", "portal.submission_confirmation_requested only: the case number"),
        ("request.subject", "portal.submission_confirmation_requested only: the case's subject"),
        ("article.id", "article.submitted_for_review only: the article's id"),
        ("article.slug", "article.submitted_for_review only: the article's slug"),
        ("article.title", "article.submitted_for_review only: the article's title"),
        ("article.summary", "article.submitted_for_review only: the article's summary"),
        ("article.audience", "article.submitted_for_review only: internal, customers or public"),
        ("article.locale", "article.submitted_for_review only: e.g. en"),
        ("submitter.name", "article.submitted_for_review only: who submitted it"),
        ("comment", "article.submitted_for_review only: the submitter's comment, if any"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TemplateError {
    /// `template.subject` or `template.body`.
    pub field: &'static str,
    pub message: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Plain-text email: nothing to escape, and a misspelt variable is an
    // error at save time rather than an empty hole in a customer's email.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Renders a template; the subject is one line.
pub fn render(template: &Template, context: &impl Serialize) -> Result<(String, String), TemplateError> {
    let env = environment();
    let subject = env
        .render_str(&template.subject, context)
        .map_err(|err| TemplateError { field: "template.subject", message: err.to_string() })?;
    let body = env
        .render_str(&template.body, context)
        .map_err(|err| TemplateError { field: "template.body", message: err.to_string() })?;
    let subject = subject.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    Ok((subject, body))
}

/// A context with every variable filled, to check a template when it is saved.
pub fn sample_context() -> TemplateContext {
    TemplateContext {
        case: CaseView {
            id: "0190f0c0-0000-7000-8000-000000000000".into(),
            number: "C-000123".into(),
            subject: "Conveyor stops every hour".into(),
            description: "It stops.".into(),
            status: "Active – Assigned".into(),
            priority: "High".into(),
            owner_name: "Alex Agent".into(),
            resolution_summary: "Replaced the controller board.".into(),
            url: "http://127.0.0.1:8080/portal/cases/C-000123".into(),
        },
        event: EventView { r#type: "case.closed".into(), actor: "staff:1".into(), reason: "Customer confirmed".into() },
        activity: Some(ActivityView { kind: "note".into(), body: "On my way.".into(), author: "staff:1".into() }),
        changes: vec![ChangeView { field: "priority".into(), old: "High".into(), new: "Critical".into() }],
        recipient: RecipientView {
            name: "Petra Schmidt".into(),
            email: "petra@example.com".into(),
            kind: RecipientKind::Contact,
        },
        sender: SenderView { name: "Docket Support".into(), address: "support@example.com".into() },
    }
}

/// Checks a template of `event_type` the way it will be used: it must
/// compile and render with every variable present, and its subject must
/// not be empty.
pub fn validate_template(event_type: &str, template: &Template) -> Result<(), TemplateError> {
    let (subject, _) = if ACCESS_EVENT_TYPES.contains(&event_type) {
        render(template, &sample_access_context())?
    } else if REVIEW_EVENT_TYPES.contains(&event_type) {
        render(template, &sample_review_context())?
    } else {
        render(template, &sample_context())?
    };
    if subject.is_empty() {
        return Err(TemplateError { field: "template.subject", message: "renders to an empty subject".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_template_renders() {
        for event_type in ACCESS_EVENT_TYPES {
            let template = default_template(event_type);
            validate_template(event_type, &template).unwrap();
            let (subject, body) = render(&template, &sample_access_context()).unwrap();
            assert!(subject.contains("Docket Support"), "{event_type}: {subject}");
            assert!(body.contains("http://127.0.0.1:8080/portal/invitation/3q2-7wT0Kz5y"), "{event_type}: {body}");
            assert!(body.contains("2026-11-27 10:00 UTC"), "{event_type}: {body}");
            // A case template's variables are not there.
            assert!(validate_template(event_type, &default_template("case.created")).is_err());
        }
        for event_type in EVENT_TYPES {
            let template = default_template(event_type);
            validate_template(event_type, &template).unwrap();
            let (subject, body) = render(&template, &sample_context()).unwrap();
            assert!(subject.starts_with("[C-000123]"), "{event_type}: {subject}");
            assert!(body.contains("http://127.0.0.1:8080/portal/cases/C-000123"), "{event_type}: {body}");
        }
    }

    #[test]
    fn the_review_template_names_the_article_its_submitter_and_comment() {
        for event_type in REVIEW_EVENT_TYPES {
            let template = default_template(event_type);
            validate_template(event_type, &template).unwrap();
            assert!(is_templated(event_type));
            let (subject, body) = render(&template, &sample_review_context()).unwrap();
            assert_eq!(subject, "Article awaiting review: Printer error E-13");
            for expected in [
                "Hello Ada Admin",
                "Alex Agent submitted",
                "When the printer stops with E-13.",
                "Please check the second step.",
                "0190f0c0-0000-7000-8000-00000000a001",
                "printer-error-e-13",
                "PublishArticle",
            ] {
                assert!(body.contains(expected), "{expected} in {body}");
            }
            // Without a comment or summary, no empty heading is left behind.
            let mut bare = sample_review_context();
            bare.comment.clear();
            bare.article.summary.clear();
            let (_, body) = render(&template, &bare).unwrap();
            assert!(!body.contains("Their comment"), "{body}");
            // A case template's variables are not there.
            assert!(validate_template(event_type, &default_template("case.created")).is_err());
        }
    }

    #[test]
    fn a_broken_or_misspelt_template_is_refused() {
        let broken = Template { subject: "[{{ case.number ".into(), body: "ok".into() };
        assert_eq!(validate_template("case.created", &broken).unwrap_err().field, "template.subject");
        let misspelt = Template { subject: "{{ case.number }}".into(), body: "{{ case.nubmer }}".into() };
        assert_eq!(validate_template("case.created", &misspelt).unwrap_err().field, "template.body");
        let empty = Template { subject: "  ".into(), body: "x".into() };
        assert!(validate_template("case.created", &empty).is_err());
    }
}
