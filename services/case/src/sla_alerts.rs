//! Hears the billing service's SLA alerts (`case.sla_warning`,
//! `case.sla_breached`) and escalates the case by the escalation rules.

use docket_kit::{
    audit::Actor,
    events::{
        consumer::{EventHandler, HandlerError, Prepared},
        unpack,
    },
};
use docket_proto::{billing::v1::SlaTargetKind, events::v1 as ev, events::v1::Envelope};
use sea_orm::DatabaseTransaction;

use crate::{
    cache::CaseCache,
    domain::escalation::{Target, Trigger},
    store::escalation::escalate,
};

/// Who escalates, as recorded in the case's trail.
pub const ACTOR: &str = "system:escalation";

/// Escalates in the consumer's transaction, fencing each escalated case in
/// `cache` before that commits.
#[derive(Debug, Clone, Default)]
pub struct Escalator {
    pub cache: CaseCache,
}

#[async_trait::async_trait]
impl EventHandler for Escalator {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, _: Prepared) -> Result<(), HandlerError> {
        let Some(trigger) = Trigger::from_event_type(&event.r#type) else { return Ok(()) };
        let alert: ev::CaseSlaAlert = unpack(event, "docket.events.v1.CaseSlaAlert").map_err(HandlerError::permanent)?;
        let target = match SlaTargetKind::try_from(alert.target) {
            Ok(SlaTargetKind::FirstResponse) => Target::FirstResponse,
            Ok(SlaTargetKind::Resolution) => Target::Resolution,
            _ => return Err(HandlerError::permanent(format!("{}: the alert names no SLA target", event.r#type))),
        };
        let by = Actor { actor: ACTOR, reason: "", at: docket_kit::time::now() };
        let done = escalate(txn, &alert.case_id, trigger, target, &by, &self.cache).await.map_err(HandlerError::from)?;
        for escalation in done {
            tracing::info!(case = %alert.case_number, rule = %escalation.rule.name, actions = %escalation.actions, "escalated");
        }
        Ok(())
    }
}
