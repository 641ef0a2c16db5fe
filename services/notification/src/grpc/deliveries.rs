//! ListDeliveries: the delivery log as messages.

use docket_kit::{auth::caller, error::FieldViolations, page, time};
use docket_proto::notification::v1 as pb;
use tonic::{Request, Response, Status};

use crate::store::{
    FAILED, MERGED, PENDING, SENT, Store,
    deliveries::{DeliveryCursor, DeliveryFilter},
    entities::delivery,
};

/// The stored status of a wire status; `None` for unknown numbers and the
/// unspecified value.
fn status_key(status: i32) -> Option<&'static str> {
    match pb::DeliveryStatus::try_from(status).ok()? {
        pb::DeliveryStatus::Unspecified => None,
        pb::DeliveryStatus::Pending => Some(PENDING),
        pb::DeliveryStatus::Sent => Some(SENT),
        pb::DeliveryStatus::Failed => Some(FAILED),
        pb::DeliveryStatus::Merged => Some(MERGED),
    }
}

fn to_proto(row: delivery::Model) -> pb::Delivery {
    let status = match row.status.as_str() {
        PENDING => pb::DeliveryStatus::Pending,
        SENT => pb::DeliveryStatus::Sent,
        FAILED => pb::DeliveryStatus::Failed,
        MERGED => pb::DeliveryStatus::Merged,
        _ => pb::DeliveryStatus::Unspecified,
    };
    pb::Delivery {
        status: status as i32,
        create_time: Some(time::to_proto(row.created_at)),
        sent_time: time::to_proto_opt(row.sent_at),
        id: row.id,
        event_id: row.event_id,
        event_type: row.event_type,
        case_id: row.case_id,
        case_number: row.case_number,
        recipient: row.recipient,
        recipient_kind: row.recipient_kind,
        subject: row.subject,
        attempts: row.attempts,
        last_error: row.last_error,
        message_id: row.message_id,
    }
}

pub async fn list(
    store: &Store,
    request: Request<pb::ListDeliveriesRequest>,
) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
    caller(&request)?;
    let request = request.into_inner();
    let mut violations = FieldViolations::new();
    let limit = page::page_size(&mut violations, request.page_size);
    let after: Option<DeliveryCursor> = page::decode(&mut violations, &request.page_token);
    let case_id = violations.optional_id("case_id", &request.case_id).map(|id| id.to_string());
    let recipient = (!request.recipient.trim().is_empty()).then(|| violations.email("recipient", &request.recipient, true));
    let status = match request.status {
        0 => None,
        raw => {
            let key = status_key(raw);
            if key.is_none() {
                violations.add("status", format!("{raw} is not a known value"));
            }
            key
        }
    };
    let after = match after {
        Some(cursor) => match time::from_micros(cursor.at) {
            Some(at) => Some((at, cursor.id)),
            None => {
                violations.add("page_token", "is not a page token returned by this list call");
                None
            }
        },
        None => None,
    };
    violations.into_result()?;
    let filter = DeliveryFilter { case_id, recipient, status };
    let (rows, next) = store.list_deliveries(&filter, after, limit).await?;
    Ok(Response::new(pb::ListDeliveriesResponse {
        deliveries: rows.into_iter().map(to_proto).collect(),
        next_page_token: next.map(|c| page::encode(&c)).unwrap_or_default(),
    }))
}
