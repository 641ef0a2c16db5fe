//! IngestEmail: email-to-case through the API (see `crate::inbound`).

use docket_kit::{auth::caller, error::FieldViolations};
use docket_proto::notification::v1::{self as pb, ingest_email_response::Outcome};
use tonic::{Request, Response, Status};

use crate::{
    clients::CaseClients,
    error::Error,
    inbound::{InboundSettings, IngestError, IngestOutcome, ingest},
    store::Store,
};

/// Largest raw email IngestEmail takes.
pub const MAX_EMAIL_BYTES: usize = 10 * 1024 * 1024;

pub async fn ingest_email(
    store: &Store,
    clients: &CaseClients,
    inbound: &InboundSettings,
    request: Request<pb::IngestEmailRequest>,
) -> Result<Response<pb::IngestEmailResponse>, Status> {
    caller(&request)?.require_write()?;
    let raw = request.into_inner().raw_message;
    let mut violations = FieldViolations::new();
    if raw.len() > MAX_EMAIL_BYTES {
        violations.add("raw_message", format!("is larger than {MAX_EMAIL_BYTES} bytes"));
    }
    violations.into_result()?;
    // Mail from our own sender address is a loop.
    let mut inbound = inbound.clone();
    inbound.own_addresses.push(store.settings().await?.settings.sender_address);
    let outcome = ingest(&raw, clients, &inbound).await.map_err(|err| match err {
        IngestError::Malformed(message) => Error::field("raw_message", message).into(),
        IngestError::CaseService(status) => status,
    })?;
    Ok(Response::new(match outcome {
        IngestOutcome::AddedToCase { case_id, case_number, activity_id } => pb::IngestEmailResponse {
            outcome: Outcome::AddedToCase as i32,
            case_id,
            case_number,
            activity_id,
            reason: String::new(),
        },
        IngestOutcome::CreatedCase { case_id, case_number, reason } => pb::IngestEmailResponse {
            outcome: Outcome::CreatedCase as i32,
            case_id,
            case_number,
            activity_id: String::new(),
            reason: reason.unwrap_or_default(),
        },
        IngestOutcome::Ignored { reason } => {
            pb::IngestEmailResponse { outcome: Outcome::Ignored as i32, reason, ..Default::default() }
        }
    }))
}
