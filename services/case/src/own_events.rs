//! What the case service does with events: the billing service's SLA
//! alerts escalate a case (`sla_alerts`); its own case events keep the
//! period reports' day counts, and the ones that free an agent's room
//! (a case of theirs closed or went to someone else) let a capacity queue
//! hand out. One consumer (one queue, one inbox) for all of them, so each
//! event counts once, in the transaction of its inbox row.

use docket_kit::{
    audit::Actor,
    db::NewRows,
    events::{
        consumer::{EventHandler, HandlerError, Prepared},
        unpack,
    },
    time,
};
use docket_proto::{
    case::v1 as pb,
    events::v1::{self as ev, Envelope},
};
use sea_orm::DatabaseTransaction;

use crate::{
    cache::CaseCache,
    domain::{
        Channel, Priority,
        period::{Dimension, day_of},
    },
    sla_alerts,
    store::{
        period_reports::{DayCounts, case_row, day_rows},
        routing::{ROUTING_ACTOR, hand_out_waiting},
    },
    wire::WireEnum,
};

/// Everything the case service's consumer binds.
pub const BINDINGS: &[&str] = &[
    "case.sla_warning",
    "case.sla_breached",
    "case.created",
    "case.closed",
    "case.reopened",
    "case.assigned",
    "case.routed",
    "case.activity_added",
];

/// The case service's consumer of its own events; it fences in `cache` the
/// cases it hands out before its transaction commits.
#[derive(Debug, Clone, Default)]
pub struct CaseEvents {
    pub cache: CaseCache,
}

/// A case's key under every dimension the reports keep.
fn keys_of(case: &pb::Case) -> Vec<(Dimension, String)> {
    vec![
        (Dimension::All, String::new()),
        (Dimension::Type, case.type_id.clone()),
        (Dimension::Channel, Channel::from_wire(case.channel).map(|c| c.key().to_owned()).unwrap_or_default()),
        (Dimension::Team, case.team_id.clone()),
        (Dimension::Priority, Priority::from_wire(case.priority).map(|p| p.key().to_owned()).unwrap_or_default()),
        (Dimension::Owner, case.owner_id.clone()),
    ]
}

/// Seconds from the case's creation to `at`.
fn since_created(case: &pb::Case, at: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    let created = case.create_time.as_ref().and_then(time::from_proto)?;
    Some((at - created).num_seconds().max(0))
}

/// What an event means for the day counts and for capacity queues.
struct Meaning {
    counts: Option<DayCounts>,
    /// A new case, for the repeat-case report.
    made: Option<pb::Case>,
    /// The agent who may have room now.
    freed: Option<String>,
}

impl Meaning {
    /// The report rows it adds.
    fn rows(&self) -> Vec<NewRows> {
        let mut rows = Vec::with_capacity(2);
        if let Some(case) = &self.made {
            let created = case.create_time.as_ref().and_then(time::from_proto).map(|at| at.timestamp()).unwrap_or_default();
            rows.push(case_row(&case.id, created, &case.account_id, &case.asset_serial_number));
        }
        if let Some(counts) = &self.counts {
            rows.push(day_rows(counts));
        }
        rows
    }
}

fn meaning_of(event: &Envelope) -> Result<Meaning, HandlerError> {
    meaning(event).map_err(|err| HandlerError::permanent(format!("{}: {err}", event.r#type)))
}

fn is_sla_alert(event: &Envelope) -> bool {
    matches!(event.r#type.as_str(), "case.sla_warning" | "case.sla_breached")
}

fn meaning(event: &Envelope) -> Result<Meaning, String> {
    let case_of = |case: Option<pb::Case>| case.ok_or_else(|| "the event carries no case".to_owned());
    let at =
        |ts: &Option<prost_types::Timestamp>| ts.as_ref().and_then(time::from_proto).ok_or("the case has no time".to_owned());
    let nothing = Meaning { counts: None, made: None, freed: None };
    Ok(match event.r#type.as_str() {
        "case.created" => {
            let case = case_of(unpack::<ev::CaseCreated>(event, "docket.events.v1.CaseCreated")?.case)?;
            let day = day_of(at(&case.create_time)?);
            let assigned = i64::from(!case.owner_id.is_empty());
            let counts = DayCounts { day, keys: keys_of(&case), created: 1, assigned, ..Default::default() };
            Meaning { counts: Some(counts), made: Some(case), freed: None }
        }
        "case.closed" => {
            let case = case_of(unpack::<ev::CaseClosed>(event, "docket.events.v1.CaseClosed")?.case)?;
            let closed = at(&case.closed_time)?;
            let counts = DayCounts {
                day: day_of(closed),
                keys: keys_of(&case),
                closed: 1,
                resolution: since_created(&case, closed),
                ..Default::default()
            };
            Meaning { counts: Some(counts), made: None, freed: Some(case.owner_id).filter(|owner| !owner.is_empty()) }
        }
        "case.reopened" => {
            let case = case_of(unpack::<ev::CaseReopened>(event, "docket.events.v1.CaseReopened")?.case)?;
            let day = day_of(at(&case.update_time)?);
            let counts = DayCounts { day, keys: keys_of(&case), reopened: 1, ..Default::default() };
            Meaning { counts: Some(counts), made: None, freed: None }
        }
        "case.assigned" | "case.routed" => {
            let (case, previous_owner) = if event.r#type == "case.routed" {
                let routed: ev::CaseRouted = unpack(event, "docket.events.v1.CaseRouted")?;
                (case_of(routed.case)?, routed.previous_owner_id)
            } else {
                let assigned: ev::CaseAssigned = unpack(event, "docket.events.v1.CaseAssigned")?;
                (case_of(assigned.case)?, assigned.previous_owner_id)
            };
            if previous_owner == case.owner_id {
                return Ok(nothing);
            }
            // A case routed as it was made was counted with case.created.
            let at_creation = event.r#type == "case.routed" && case.create_time == case.update_time;
            let counts = (!case.owner_id.is_empty() && !at_creation)
                .then(|| -> Result<DayCounts, String> {
                    Ok(DayCounts { day: day_of(at(&case.update_time)?), keys: keys_of(&case), assigned: 1, ..Default::default() })
                })
                .transpose()?;
            Meaning { counts, made: None, freed: Some(previous_owner).filter(|owner| !owner.is_empty()) }
        }
        "case.activity_added" => {
            let added: ev::CaseActivityAdded = unpack(event, "docket.events.v1.CaseActivityAdded")?;
            let case = case_of(added.case)?;
            let activity = added.activity.ok_or("the event carries no activity")?;
            // The activity that set the case's first response is its first.
            if case.first_response_time.is_none() || case.first_response_time != activity.create_time {
                return Ok(nothing);
            }
            let answered = at(&case.first_response_time)?;
            let counts = DayCounts {
                day: day_of(answered),
                keys: keys_of(&case),
                first_response: since_created(&case, answered),
                ..Default::default()
            };
            Meaning { counts: Some(counts), made: None, freed: None }
        }
        _ => nothing,
    })
}

#[async_trait::async_trait]
impl EventHandler for CaseEvents {
    /// An event that frees no agent's room only adds report rows.
    fn rows(&self, event: &Envelope) -> Result<Option<Vec<NewRows>>, HandlerError> {
        if is_sla_alert(event) {
            return Ok(None);
        }
        let meaning = meaning_of(event)?;
        Ok(meaning.freed.is_none().then(|| meaning.rows()))
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope, prepared: Prepared) -> Result<(), HandlerError> {
        if is_sla_alert(event) {
            return sla_alerts::Escalator { cache: self.cache.clone() }.handle(txn, event, prepared).await;
        }
        let meaning = meaning_of(event)?;
        for rows in meaning.rows() {
            rows.insert(txn).await?;
        }
        let Some(freed) = meaning.freed else { return Ok(()) };
        let by = Actor { actor: ROUTING_ACTOR, reason: "", at: docket_kit::time::now() };
        let handed = hand_out_waiting(txn, &freed, &by).await.map_err(HandlerError::from)?;
        for case in handed {
            self.cache.fence(&case.case.id, case.case.version).await.map_err(HandlerError::transient)?;
            tracing::info!(case = %crate::domain::format_case_number(case.case.number), owner = ?case.case.owner_id, "handed out from the capacity queue");
        }
        Ok(())
    }
}
