//! From a solved case to a draft: `case.closed` with a resolution becomes a
//! redacted proposal (the customer's names, addresses, numbers and serial
//! gone; internal notes left out), accepted into a draft article, or, when
//! a published article already answers the problem, into a link to it.

use docket_proto::{case::v1 as cpb, knowledge::v1 as pb};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, SERVICE, TestApp, VIEWER, assert_field_error, eventually},
    fixtures::{Customer, account, contact, new_case, note},
    on_both_backends,
};

/// What must not survive into a proposal: every piece of the customer.
const SECRETS: &[&str] =
    &["Petra", "Schmidt", "acme-printing", "Acme Printing", "1234 5678", "SN-4711", "DE89", "192.168", "4111"];

async fn customer(app: &TestApp) -> Customer {
    let account = account(app, "Acme Printing GmbH").await;
    let contact = contact(app, &account.id, "Petra Schmidt", "petra.schmidt@acme-printing.example").await;
    Customer { account, contact }
}

/// Opens a case, adds its notes, and closes it with `resolution`.
async fn solved(app: &TestApp, customer: &Customer, subject: &str, description: &str, resolution: &str) -> cpb::Case {
    let case = cpb::Case {
        description: description.to_owned(),
        asset_serial_number: "SN-4711-XZ".into(),
        ..new_case(customer, subject)
    };
    let case = app
        .cases(AGENT)
        .create_case(cpb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
        .await
        .unwrap()
        .into_inner();
    note(app, &case.id, "Asked Petra Schmidt to clean the pickup rollers with a dry cloth.", cpb::Visibility::Public).await;
    note(app, &case.id, "Customer is difficult on the phone.", cpb::Visibility::Internal).await;
    let close = cpb::CloseCaseRequest {
        id: case.id.clone(),
        status: cpb::CaseStatus::ClosedComplete as i32,
        resolution_summary: resolution.to_owned(),
        etag: String::new(),
        reason: String::new(),
    };
    app.cases(AGENT).close_case(close).await.unwrap().into_inner()
}

async fn proposals(app: &TestApp, state: pb::ProposalState) -> Vec<pb::DraftProposal> {
    let request = pb::ListDraftProposalsRequest { state: state as i32, ..Default::default() };
    app.draft_proposals(VIEWER).list_draft_proposals(request).await.unwrap().into_inner().proposals
}

/// The proposal of `case`, once the knowledge service wrote it.
async fn proposal_of(app: &TestApp, case: &cpb::Case) -> pb::DraftProposal {
    eventually("the proposal of the closed case", async || {
        let all = proposals(app, pb::ProposalState::Unspecified).await;
        all.into_iter().find(|p| p.case_id == case.id).ok_or("not yet")
    })
    .await
}

fn decide(proposal: &pb::DraftProposal, reason: &str) -> pb::DecideDraftProposalRequest {
    pb::DecideDraftProposalRequest { id: proposal.id.clone(), etag: proposal.etag.clone(), reason: reason.into() }
}

async fn a_solved_case_becomes_a_redacted_draft(app: TestApp) {
    let customer = customer(&app).await;
    let case = solved(
        &app,
        &customer,
        "Printer of Acme Printing GmbH jams on tray 2",
        "Petra Schmidt (petra.schmidt@acme-printing.example, +49 30 1234 5678) reports jams on SN-4711-XZ. \
         Refund to DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111, seen from 192.168.10.20.",
        "Cleaned the pickup rollers; Petra Schmidt confirmed by mail from petra.schmidt@acme-printing.example.",
    )
    .await;
    let proposal = proposal_of(&app, &case).await;
    assert_eq!((proposal.case_number.as_str(), proposal.state()), (case.case_number.as_str(), pb::ProposalState::Open));
    assert_eq!(proposal.title, "Printer of [name] jams on tray 2");
    for secret in SECRETS {
        assert!(
            !proposal.title.contains(secret) && !proposal.body_markdown.contains(secret),
            "{secret} survived:\n{}",
            proposal.body_markdown
        );
    }
    assert!(proposal.body_markdown.starts_with("## Problem\n\n"), "{}", proposal.body_markdown);
    assert!(proposal.body_markdown.contains("Cleaned the pickup rollers"), "the resolution");
    assert!(proposal.body_markdown.contains("clean the pickup rollers with a dry cloth"), "the public note");
    assert!(!proposal.body_markdown.contains("difficult"), "an internal note stays out");
    let kinds: Vec<&str> = proposal.redactions.iter().map(|r| r.kind.as_str()).collect();
    for kind in ["name", "email", "phone", "iban", "card", "ip_address", "serial"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(proposal.existing_article_id.is_empty());

    // Accepted: an internal draft for the editors, and the proposal is decided.
    let article = app.draft_proposals(AGENT).accept_draft_proposal(decide(&proposal, "useful")).await.unwrap().into_inner();
    assert_eq!(
        (article.title.as_str(), article.state(), article.audience()),
        (proposal.title.as_str(), pb::ArticleState::Draft, pb::Audience::Internal)
    );
    assert_eq!(article.body_markdown, proposal.body_markdown);
    let accepted = proposals(&app, pb::ProposalState::Accepted).await;
    assert_eq!(accepted.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [proposal.id.as_str()]);
    assert!(proposals(&app, pb::ProposalState::Open).await.is_empty());
    for again in [
        app.draft_proposals(AGENT).accept_draft_proposal(decide(&accepted[0], "")).await.unwrap_err(),
        app.draft_proposals(AGENT).dismiss_draft_proposal(decide(&accepted[0], "")).await.unwrap_err(),
    ] {
        assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    }
}

async fn a_problem_an_article_answers_links_to_it_and_others_can_be_dismissed(app: TestApp) {
    let mut admin = app.articles(ADMIN);
    let article =
        pb::Article { title: "Printer jams on tray 2".into(), audience: pb::Audience::Public as i32, ..Default::default() };
    let created =
        admin.create_article(pb::CreateArticleRequest { article: Some(article), idempotency_key: String::new() }).await.unwrap();
    let created = created.into_inner();
    let publish = pb::PublishArticleRequest {
        id: created.id.clone(),
        etag: created.etag.clone(),
        publish_time: None,
        comment: String::new(),
    };
    let answer = admin.publish_article(publish).await.unwrap().into_inner();

    let customer = customer(&app).await;
    let again = solved(&app, &customer, "Printer jams on tray 2 again", "Same as last week.", "Rollers cleaned.").await;
    let proposal = proposal_of(&app, &again).await;
    assert_eq!(proposal.existing_article_id, answer.id, "the published article answers it");
    let linked = app.draft_proposals(AGENT).accept_draft_proposal(decide(&proposal, "")).await.unwrap().into_inner();
    assert_eq!(linked.id, answer.id);
    assert_eq!(
        app.table_counts("knowledge", &["article_case_links", "articles"]).await,
        [("article_case_links".to_owned(), 1), ("articles".to_owned(), 1)]
    );

    let other = solved(&app, &customer, "Scanner driver crashes", "On Windows 11.", "Installed driver 2.4.").await;
    let proposal = proposal_of(&app, &other).await;
    assert!(proposal.existing_article_id.is_empty());
    let dismissed =
        app.draft_proposals(AGENT).dismiss_draft_proposal(decide(&proposal, "too specific")).await.unwrap().into_inner();
    assert_eq!(dismissed.state(), pb::ProposalState::Dismissed);
    assert_eq!(app.table_counts("knowledge", &["articles"]).await, [("articles".to_owned(), 1)], "no draft of a dismissed one");
}

async fn bad_decisions_change_nothing(app: TestApp) {
    let customer = customer(&app).await;
    let case = solved(&app, &customer, "Paper tray cracked", "The tray is cracked.", "Replaced the tray.").await;
    let proposal = proposal_of(&app, &case).await;
    let tables = ["draft_proposals", "articles", "audit_entries", "outbox"];
    let before = app.table_counts("knowledge", &tables).await;

    let listed = app.draft_proposals(SERVICE).list_draft_proposals(pb::ListDraftProposalsRequest::default()).await.unwrap_err();
    assert_eq!(listed.code(), Code::PermissionDenied);
    let bad_state = pb::ListDraftProposalsRequest { state: 9, ..Default::default() };
    assert_field_error(
        &app.draft_proposals(VIEWER).list_draft_proposals(bad_state).await.unwrap_err(),
        Code::InvalidArgument,
        "state",
    );
    for token in [VIEWER, SERVICE] {
        let denied = app.draft_proposals(token).accept_draft_proposal(decide(&proposal, "")).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{token}");
    }
    let mut agent = app.draft_proposals(AGENT);
    let bad_id = pb::DecideDraftProposalRequest { id: "nope".into(), ..decide(&proposal, "") };
    assert_field_error(&agent.accept_draft_proposal(bad_id).await.unwrap_err(), Code::InvalidArgument, "id");
    let bad_etag = pb::DecideDraftProposalRequest { etag: "x".into(), ..decide(&proposal, "") };
    assert_field_error(&agent.dismiss_draft_proposal(bad_etag).await.unwrap_err(), Code::InvalidArgument, "etag");
    let stale = pb::DecideDraftProposalRequest { etag: "7".into(), ..decide(&proposal, "") };
    assert_eq!(agent.accept_draft_proposal(stale).await.unwrap_err().code(), Code::Aborted);
    let unknown = pb::DecideDraftProposalRequest { id: "0190a000-0000-7000-8000-000000000000".into(), ..decide(&proposal, "") };
    assert_eq!(agent.dismiss_draft_proposal(unknown).await.unwrap_err().code(), Code::NotFound);
    let long = decide(&proposal, &"x".repeat(1_001));
    assert_field_error(&agent.dismiss_draft_proposal(long).await.unwrap_err(), Code::InvalidArgument, "reason");
    assert_eq!(app.table_counts("knowledge", &tables).await, before);
}

on_both_backends!(
    a_solved_case_becomes_a_redacted_draft,
    a_problem_an_article_answers_links_to_it_and_others_can_be_dismissed,
    bad_decisions_change_nothing
);
