//! `DraftProposalService`: staff see the drafts proposed from closed cases
//! (already redacted) and accept or dismiss each.

use docket_kit::{
    auth::caller,
    error::FieldViolations,
    mutation::Stamps,
    page::{self, IdCursor},
};
use docket_proto::knowledge::v1::{self as pb, draft_proposal_service_server::DraftProposalService};
use tonic::{Request, Response, Status};

use super::{actor, articles::require_editor, reason};
use crate::{
    records::entities::draft_proposal,
    store::{Decision, Store},
    wire::{self, Shown},
};

pub struct DraftProposalApi {
    store: Store,
}

impl DraftProposalApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn state(name: &str) -> pb::ProposalState {
    match name {
        "open" => pb::ProposalState::Open,
        "accepted" => pb::ProposalState::Accepted,
        "dismissed" => pb::ProposalState::Dismissed,
        _ => pb::ProposalState::Unspecified,
    }
}

fn wire_proposal(row: draft_proposal::Model) -> pb::DraftProposal {
    let Stamps { create_time, etag, .. } = Stamps::of(row.created_at, row.created_at, row.version);
    let redactions: Vec<serde_json::Value> = serde_json::from_str(&row.redactions).unwrap_or_default();
    pb::DraftProposal {
        state: state(&row.state) as i32,
        id: row.id,
        case_id: row.case_id,
        case_number: row.case_number,
        title: row.title,
        body_markdown: row.body_markdown,
        redactions: redactions
            .iter()
            .map(|r| pb::Redaction {
                kind: r["kind"].as_str().unwrap_or_default().to_owned(),
                count: i32::try_from(r["count"].as_u64().unwrap_or_default()).unwrap_or(i32::MAX),
            })
            .collect(),
        existing_article_id: row.existing_article_id.unwrap_or_default(),
        create_time,
        etag,
    }
}

/// The proposal a decision is about: (id, etag).
fn decision(request: &pb::DecideDraftProposalRequest) -> Result<(String, Option<i64>, String), Status> {
    let mut violations = FieldViolations::new();
    let id = violations.id_text("id", &request.id);
    let etag = violations.etag("etag", &request.etag, false);
    let reason = reason(&mut violations, &request.reason);
    violations.into_result()?;
    Ok((id, etag, reason))
}

#[tonic::async_trait]
impl DraftProposalService for DraftProposalApi {
    async fn list_draft_proposals(
        &self,
        request: Request<pb::ListDraftProposalsRequest>,
    ) -> Result<Response<pb::ListDraftProposalsResponse>, Status> {
        let caller = caller(&request)?;
        if !caller.is_staff() {
            return Err(Status::permission_denied("draft proposals are for staff"));
        }
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let limit = page::page_size(&mut violations, request.page_size);
        let after: Option<IdCursor> = page::decode(&mut violations, &request.page_token);
        let state = match pb::ProposalState::try_from(request.state) {
            Ok(pb::ProposalState::Unspecified) => None,
            Ok(pb::ProposalState::Open) => Some("open"),
            Ok(pb::ProposalState::Accepted) => Some("accepted"),
            Ok(pb::ProposalState::Dismissed) => Some("dismissed"),
            Err(_) => {
                violations.add("state", "choose OPEN, ACCEPTED or DISMISSED");
                None
            }
        };
        violations.into_result()?;
        let (rows, next) = self.store.list_proposals(state, after, limit).await?;
        Ok(Response::new(pb::ListDraftProposalsResponse {
            proposals: rows.into_iter().map(wire_proposal).collect(),
            next_page_token: next.map(|cursor| page::encode(&cursor)).unwrap_or_default(),
        }))
    }

    async fn accept_draft_proposal(
        &self,
        request: Request<pb::DecideDraftProposalRequest>,
    ) -> Result<Response<pb::Article>, Status> {
        let caller = caller(&request)?;
        require_editor(&caller)?;
        let (id, etag, reason) = decision(request.get_ref())?;
        let owner = caller.staff_id.clone().unwrap_or_else(|| caller.actor.clone());
        let decided = self.store.decide_proposal(&id, etag, Decision::Accept, &owner, &actor(&caller, &reason)).await?;
        let article = self.store.proposal_article(&decided).await?;
        Ok(Response::new(wire::article(&article, Shown::Working)))
    }

    async fn dismiss_draft_proposal(
        &self,
        request: Request<pb::DecideDraftProposalRequest>,
    ) -> Result<Response<pb::DraftProposal>, Status> {
        let caller = caller(&request)?;
        require_editor(&caller)?;
        let (id, etag, reason) = decision(request.get_ref())?;
        let decided = self.store.decide_proposal(&id, etag, Decision::Dismiss, "", &actor(&caller, &reason)).await?;
        Ok(Response::new(wire_proposal(decided)))
    }
}
