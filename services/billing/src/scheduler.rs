//! The SLA scheduler: raises `case.sla_warning` and `case.sla_breached` once
//! each per case and target.
//!
//! Each clock stores when it must be looked at next (`next_check_at`,
//! indexed), so a sweep reads only the clocks that fall due, however many
//! cases are open. Several replicas may sweep at once: each takes its rows
//! with `FOR UPDATE SKIP LOCKED`, marks the alerts raised and writes their
//! events in the same transaction, so one replica raises an alert and the
//! others skip it.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use docket_kit::{audit::Actor, events::outbox::RelayWaker};
use docket_proto::{billing::v1 as pb, events::v1 as ev};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{LockBehavior, LockType},
};
use tokio::sync::watch;

use crate::{
    clocks::{self, Raised, Target},
    domain::{sla::SlaPolicy, tracking::Alert},
    records::entities::{case_clock, sla_policy},
    store::{SOURCE, policy_of},
};

/// Who raises SLA alerts, as recorded in their events.
pub const ACTOR: &str = "system:sla-scheduler";

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Clocks read because they fell due.
    pub examined: u64,
    /// Warning and breach events written.
    pub raised: u64,
}

pub struct SlaScheduler {
    db: DatabaseConnection,
    interval: Duration,
    batch: u64,
    relay: RelayWaker,
}

impl SlaScheduler {
    pub fn new(db: DatabaseConnection, interval: Duration, batch: u64, relay: RelayWaker) -> Self {
        Self { db, interval, batch: batch.max(1), relay }
    }

    /// Sweeps every `interval` until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.sweep(docket_kit::time::now()).await {
                Ok(sweep) if sweep.raised > 0 => tracing::info!(examined = sweep.examined, raised = sweep.raised, "SLA sweep"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "SLA sweep failed; retrying at the next tick"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                changed = shutdown.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Handles every clock due at `now`, a batch per transaction.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Sweep, DbErr> {
        let mut total = Sweep::default();
        loop {
            let batch = self.sweep_batch(now).await?;
            total.examined += batch.examined;
            total.raised += batch.raised;
            if batch.examined < self.batch {
                return Ok(total);
            }
        }
    }

    async fn sweep_batch(&self, now: DateTime<Utc>) -> Result<Sweep, DbErr> {
        let txn = self.db.begin().await?;
        let mut query = case_clock::Entity::find()
            .filter(case_clock::Column::NextCheckAt.lte(now))
            .order_by_asc(case_clock::Column::NextCheckAt)
            .limit(self.batch);
        if txn.get_database_backend() == DbBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        let mut sweep = Sweep { examined: rows.len() as u64, raised: 0 };
        let mut policies: HashMap<String, Option<SlaPolicy>> = HashMap::new();
        let by = Actor { actor: ACTOR, reason: "", at: now };
        let mut alerted = Vec::new();
        for mut row in rows {
            let policy_id = if row.resolve_policy {
                let resolved = clocks::resolve_policy(&txn, row.contract_id.as_deref()).await?;
                row.resolve_policy = false;
                row.sla_policy_id = resolved.as_ref().map(|p| p.id.clone());
                if let Some(model) = resolved {
                    policies.insert(model.id.clone(), policy_of(&model));
                }
                row.sla_policy_id.clone()
            } else {
                row.sla_policy_id.clone()
            };
            let policy = match policy_id {
                Some(id) => {
                    if !policies.contains_key(&id) {
                        let model = sla_policy::Entity::find_by_id(id.clone()).one(&txn).await?;
                        policies.insert(id.clone(), model.as_ref().and_then(policy_of));
                    }
                    policies.get(&id).cloned().flatten()
                }
                None => None,
            };
            let raised = clocks::refresh(&mut row, policy.as_ref(), now, true);
            for alert in &raised {
                alert_event(&txn, &row, alert, &by).await?;
                let target = match alert.target {
                    Target::FirstResponse => "first_response",
                    Target::Resolution => "resolution",
                };
                alerted.push((matches!(alert.alert, Alert::Breach), target));
            }
            sweep.raised += raised.len() as u64;
            row.updated_at = now;
            row.into_active_model().reset_all().update(&txn).await?;
        }
        txn.commit().await?;
        docket_kit::metrics::sla_clocks_due(sweep.examined);
        for (breach, target) in alerted {
            if breach {
                docket_kit::metrics::sla_breached(target);
            } else {
                docket_kit::metrics::sla_warned(target);
            }
        }
        if sweep.raised > 0 {
            self.relay.wake();
        }
        Ok(sweep)
    }
}

async fn alert_event(
    txn: &sea_orm::DatabaseTransaction,
    row: &case_clock::Model,
    raised: &Raised,
    by: &Actor<'_>,
) -> Result<(), DbErr> {
    let (event_type, state) = match raised.alert {
        Alert::Warning => ("case.sla_warning", pb::SlaState::AtRisk),
        Alert::Breach => ("case.sla_breached", pb::SlaState::Breached),
    };
    let payload = ev::CaseSlaAlert {
        case_id: row.case_id.clone(),
        case_number: row.case_number.clone(),
        target: match raised.target {
            Target::FirstResponse => pb::SlaTargetKind::FirstResponse,
            Target::Resolution => pb::SlaTargetKind::Resolution,
        } as i32,
        state: state as i32,
        due_time: docket_kit::time::to_proto_opt(raised.due),
        sla_policy_id: row.sla_policy_id.clone().unwrap_or_default(),
        contract_id: row.contract_id.clone().unwrap_or_default(),
    };
    let event = docket_kit::mutation::Event::new(event_type, &row.case_id, "docket.events.v1.CaseSlaAlert", &payload);
    docket_kit::mutation::emit(txn, by, SOURCE, [event]).await
}
