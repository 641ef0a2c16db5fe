//! From a solved case to a proposed article: when a case closes with a
//! resolution (`case.closed`), the problem (subject and description) and
//! the solution (the resolution and the case's public notes) become a draft
//! proposal, redacted before anyone sees it. If a published article already
//! answers the same problem, the proposal points at it instead.

use docket_kit::{
    audit::{self, Actor, Changes},
    clients::CaseClients,
    events::{
        consumer::{EventHandler, HandlerError, Prepared},
        unpack,
    },
};
use docket_proto::{
    case::v1::{self as cpb, get_contact_request},
    events::v1::{CaseClosed, Envelope},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::{
    domain::{
        articles::Audience,
        redaction::{Known, Redaction, redact},
        search,
    },
    records::entities::draft_proposal,
    store::{SearchFilter, Store},
};

/// What the knowledge service listens to.
pub const BINDINGS: &[&str] = &["case.closed"];

/// Who the trail names as the author of proposals.
const ACTOR: &str = "system:knowledge";

/// The share of a proposal's title words that a published article's title
/// must hold for the proposal to point at it rather than be a new draft.
pub const ALREADY_ANSWERED: f64 = 0.6;

/// Writes a proposal for each case closed with a resolution.
pub struct ProposalWriter {
    clients: CaseClients,
    store: Store,
}

impl ProposalWriter {
    pub fn new(clients: CaseClients, store: Store) -> Self {
        Self { clients, store }
    }
}

/// A proposal as `prepare` builds it for `handle` to write.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub case_id: String,
    pub case_number: String,
    pub title: String,
    pub body_markdown: String,
    pub redactions: Vec<Redaction>,
    pub existing_article_id: Option<String>,
}

/// The case's text as a draft: the problem, then the solution.
pub fn draft_text(case: &cpb::Case, public_notes: &[String]) -> (String, String) {
    let mut body = String::from("## Problem\n\n");
    body.push_str(case.description.trim());
    body.push_str("\n\n## Solution\n\n");
    body.push_str(case.resolution_summary.trim());
    for note in public_notes {
        body.push_str("\n\n");
        body.push_str(note.trim());
    }
    body.push('\n');
    (case.subject.trim().to_owned(), body)
}

/// The redactions of title and body together, one entry per kind.
fn merged(a: Vec<Redaction>, b: Vec<Redaction>) -> Vec<Redaction> {
    let mut all: Vec<Redaction> = a;
    for entry in b {
        match all.iter_mut().find(|e| e.kind == entry.kind) {
            Some(existing) => existing.count += entry.count,
            None => all.push(entry),
        }
    }
    all.sort_by_key(|e| format!("{:?}", e.kind));
    all
}

/// Whether `title` answers a problem titled `problem`: most of the
/// problem's words are in it.
pub fn answers(problem: &str, title: &str) -> bool {
    let problem_words: Vec<String> = search::fold_text(problem).split(' ').filter(|w| w.len() > 2).map(str::to_owned).collect();
    if problem_words.is_empty() {
        return false;
    }
    let title_words = search::fold_text(title);
    let title_words: Vec<&str> = title_words.split(' ').collect();
    let held = problem_words.iter().filter(|w| title_words.contains(&w.as_str())).count();
    held as f64 / problem_words.len() as f64 >= ALREADY_ANSWERED
}

impl ProposalWriter {
    async fn build(&self, case: cpb::Case) -> Result<Proposal, HandlerError> {
        let mut known = Known::default();
        for link in &case.contacts {
            let request = cpb::GetContactRequest { lookup: Some(get_contact_request::Lookup::Id(link.contact_id.clone())) };
            let contact = self
                .clients
                .contacts
                .clone()
                .get_contact(request)
                .await
                .map_err(|status| HandlerError::from_status("reading the case's contact", &status))?
                .into_inner();
            known.names.push(contact.name);
            known.emails.push(contact.email);
        }
        if !case.account_id.is_empty() {
            let account = self
                .clients
                .accounts
                .clone()
                .get_account(cpb::GetAccountRequest { id: case.account_id.clone() })
                .await
                .map_err(|status| HandlerError::from_status("reading the case's account", &status))?
                .into_inner();
            known.names.push(account.name);
        }
        if !case.asset_serial_number.trim().is_empty() {
            known.serials.push(case.asset_serial_number.trim().to_owned());
        }
        let mut notes = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = cpb::ListActivitiesRequest {
                case_id: case.id.clone(),
                page_size: 200,
                page_token: page_token.clone(),
                public_only: true,
            };
            let page = self
                .clients
                .cases
                .clone()
                .list_activities(request)
                .await
                .map_err(|status| HandlerError::from_status("reading the case's notes", &status))?
                .into_inner();
            // Public notes only: emails quote the customer, calls are staff's own.
            notes.extend(page.activities.into_iter().filter(|a| a.kind() == cpb::ActivityKind::Note).map(|a| a.body));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        // Newest first from the service; a draft reads oldest first.
        notes.reverse();
        let (title, body) = draft_text(&case, &notes);
        let (title, body) = (redact(&title, &known), redact(&body, &known));
        let existing_article_id = self.already_answered(&title.text).await?;
        Ok(Proposal {
            case_id: case.id,
            case_number: case.case_number,
            title: title.text,
            body_markdown: body.text,
            redactions: merged(title.redactions, body.redactions),
            existing_article_id,
        })
    }

    /// A published article whose title answers the problem, if search finds one.
    async fn already_answered(&self, problem: &str) -> Result<Option<String>, HandlerError> {
        let query = search::parse(problem);
        if query.is_empty() {
            return Ok(None);
        }
        // Any of the problem's words: the title test below decides.
        let any = search::Query {
            any_of: query
                .any_of
                .into_iter()
                .flat_map(|c| c.must)
                .map(|term| search::Conjunction { must: vec![term], must_not: Vec::new() })
                .collect(),
        };
        let filter =
            SearchFilter { audiences: vec![Audience::Internal, Audience::Customers, Audience::Public], ..Default::default() };
        let results = self.store.search(&any, &filter, 0, 10).await.map_err(|err| HandlerError::transient(err.to_string()))?;
        Ok(results
            .hits
            .into_iter()
            .find(|hit| results.corrected.is_none() && answers(problem, &hit.title))
            .map(|hit| hit.article_id))
    }
}

#[async_trait::async_trait]
impl EventHandler for ProposalWriter {
    async fn prepare(&self, _db: &DatabaseConnection, event: &Envelope) -> Result<Prepared, HandlerError> {
        let closed: CaseClosed = unpack(event, "docket.events.v1.CaseClosed").map_err(HandlerError::permanent)?;
        let Some(case) = closed.case else {
            return Err(HandlerError::permanent(format!("{}: the event names no case", event.r#type)));
        };
        if case.resolution_summary.trim().is_empty() {
            return Ok(Prepared::nothing());
        }
        Ok(Prepared::new(self.build(case).await?))
    }

    async fn handle(&self, txn: &DatabaseTransaction, _event: &Envelope, prepared: Prepared) -> Result<(), HandlerError> {
        let Some(proposal) = prepared.take::<Proposal>() else { return Ok(()) };
        // One proposal per case: a case closed again after a reopen keeps its first.
        let existing = draft_proposal::Entity::find()
            .filter(draft_proposal::Column::CaseId.eq(proposal.case_id.as_str()))
            .one(txn)
            .await
            .map_err(transient)?;
        if existing.is_some() {
            return Ok(());
        }
        let at = docket_kit::time::now();
        let row = draft_proposal::Model {
            id: docket_kit::request::Uuid::now_v7().to_string(),
            case_id: proposal.case_id.clone(),
            case_number: proposal.case_number.clone(),
            title: proposal.title.clone(),
            body_markdown: proposal.body_markdown.clone(),
            redactions: serde_json::to_string(&proposal.redactions).unwrap_or_else(|_| "[]".to_owned()),
            existing_article_id: proposal.existing_article_id.clone(),
            state: "open".to_owned(),
            article_id: None,
            decided_by: None,
            decided_at: None,
            version: 1,
            created_at: at,
        };
        let by = Actor { actor: ACTOR, reason: "the case closed with a resolution", at };
        let mut trail = Changes::new();
        trail.set("proposed", "", &proposal.case_number);
        let id = row.id.clone();
        match row.into_active_model().insert(txn).await {
            Ok(_) => {}
            // The same case's proposal committed by another replica meanwhile.
            Err(err) if docket_kit::error::is_unique_violation(&err) => return Ok(()),
            Err(err) => return Err(transient(err)),
        }
        audit::write(txn, "draft_proposal", &id, &by, &trail).await.map_err(transient)
    }
}

fn transient(err: sea_orm::DbErr) -> HandlerError {
    HandlerError::transient(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_answered_by_a_title_holding_most_of_its_words() {
        assert!(answers("Printer shows error E-13 again", "Printer shows error E-13 (paper jam)"));
        assert!(!answers("Printer shows error E-13 again", "Replacing the toner cartridge"));
        assert!(!answers("", "Anything"));
    }

    #[test]
    fn the_draft_reads_problem_then_solution_with_the_public_notes() {
        let case = cpb::Case {
            subject: " Jam ".into(),
            description: "Tray 2 jams.".into(),
            resolution_summary: "Cleaned the rollers.".into(),
            ..Default::default()
        };
        let (title, body) = draft_text(&case, &["Told them how.".into()]);
        assert_eq!(title, "Jam");
        assert_eq!(body, "## Problem\n\nTray 2 jams.\n\n## Solution\n\nCleaned the rollers.\n\nTold them how.\n");
    }
}
