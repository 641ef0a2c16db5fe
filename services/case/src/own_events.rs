//! What the case service does with events: the billing service's SLA
//! alerts escalate a case (`sla_alerts`), and its own `case.closed` and
//! `case.assigned` free room for a capacity queue to hand out. One consumer
//! (one queue, one inbox) for all of them.

use docket_kit::{
    audit::Actor,
    events::{
        consumer::{EventHandler, HandlerError, Prepared},
        unpack,
    },
};
use docket_proto::events::v1::{self as ev, Envelope};
use sea_orm::DatabaseTransaction;

use crate::{sla_alerts, store::routing::hand_out_waiting};

/// The events that may free an agent's room: a case of theirs closed, or
/// went to someone else (by hand or by a rule).
const ROOM_FREED: &[&str] = &["case.closed", "case.assigned", "case.routed"];

/// Everything the case service's consumer binds.
pub const BINDINGS: &[&str] = &["case.sla_warning", "case.sla_breached", "case.closed", "case.assigned", "case.routed"];

/// Who hands out waiting cases, as recorded in their trail.
pub const ROUTING_ACTOR: &str = "system:routing";

pub struct CaseEvents;

#[async_trait::async_trait]
impl EventHandler for CaseEvents {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, prepared: Prepared) -> Result<(), HandlerError> {
        if !ROOM_FREED.contains(&event.r#type.as_str()) {
            return sla_alerts::Escalator.handle(txn, event, prepared).await;
        }
        let bad = |err: String| HandlerError::permanent(format!("{}: {err}", event.r#type));
        let freed = if event.r#type == "case.closed" {
            let closed: ev::CaseClosed = unpack(event, "docket.events.v1.CaseClosed").map_err(bad)?;
            closed.case.ok_or_else(|| bad("the event carries no case".to_owned()))?.owner_id
        } else {
            let (case, previous_owner_id) = if event.r#type == "case.routed" {
                let routed: ev::CaseRouted = unpack(event, "docket.events.v1.CaseRouted").map_err(bad)?;
                (routed.case, routed.previous_owner_id)
            } else {
                let assigned: ev::CaseAssigned = unpack(event, "docket.events.v1.CaseAssigned").map_err(bad)?;
                (assigned.case, assigned.previous_owner_id)
            };
            let now = case.map(|c| c.owner_id).unwrap_or_default();
            if previous_owner_id == now { String::new() } else { previous_owner_id }
        };
        if freed.is_empty() {
            return Ok(());
        }
        let by = Actor { actor: ROUTING_ACTOR, reason: "", at: docket_kit::time::now() };
        let handed = hand_out_waiting(txn, &freed, &by).await.map_err(HandlerError::from)?;
        for case in handed {
            tracing::info!(case = %crate::domain::format_case_number(case.case.number), owner = ?case.case.owner_id, "handed out from the capacity queue");
        }
        Ok(())
    }
}
