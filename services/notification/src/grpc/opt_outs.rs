//! SetContactOptOut, ListContactOptOuts.

use docket_kit::{auth::caller, error::FieldViolations, page, time};
use docket_proto::{
    case::v1::{GetContactRequest, get_contact_request::Lookup},
    notification::v1 as pb,
};
use tonic::{Code, Request, Response, Status};

use super::shared::{actor, reason};
use crate::{
    clients::CaseClients,
    domain::ContactId,
    error::Error,
    store::{Store, opt_outs::OptOutRecord},
};

fn to_proto(record: OptOutRecord) -> pb::ContactOptOut {
    pb::ContactOptOut {
        contact_id: record.contact_id,
        opted_out: record.opted_out,
        update_time: time::to_proto_opt(record.updated_at),
    }
}

/// Asks the case service whether the contact exists.
async fn confirm_contact(clients: &CaseClients, id: ContactId) -> Result<(), Error> {
    let request = GetContactRequest { lookup: Some(Lookup::Id(id.to_string())) };
    match clients.contacts.clone().get_contact(request).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::NotFound => Err(Error::field("contact_id", format!("no contact has the id {id}"))),
        Err(status) => Err(Error::Unavailable(format!("the case service cannot confirm the contact: {}", status.message()))),
    }
}

pub async fn set(
    store: &Store,
    clients: &CaseClients,
    request: Request<pb::SetContactOptOutRequest>,
) -> Result<Response<pb::ContactOptOut>, Status> {
    let caller = caller(&request)?;
    caller.require_write()?;
    let request = request.into_inner();
    let mut violations = FieldViolations::new();
    let contact_id: ContactId = violations.id("contact_id", &request.contact_id);
    let reason = reason(&mut violations, &request.reason);
    violations.into_result()?;
    confirm_contact(clients, contact_id).await?;
    let saved = store.set_opt_out(contact_id, request.opted_out, &actor(&caller, &reason)).await?;
    Ok(Response::new(to_proto(saved)))
}

pub async fn list(
    store: &Store,
    request: Request<pb::ListContactOptOutsRequest>,
) -> Result<Response<pb::ListContactOptOutsResponse>, Status> {
    caller(&request)?;
    let request = request.into_inner();
    let mut violations = FieldViolations::new();
    let limit = page::page_size(&mut violations, request.page_size);
    let after: Option<String> = page::decode(&mut violations, &request.page_token);
    violations.into_result()?;
    let (rows, next) = store.list_opt_outs(after, limit).await?;
    Ok(Response::new(pb::ListContactOptOutsResponse {
        opt_outs: rows.into_iter().map(to_proto).collect(),
        next_page_token: next.map(|last| page::encode(&last)).unwrap_or_default(),
    }))
}
