//! Reading the SLA clocks: one case's, the at-risk and breached queues, and
//! compliance per contract or policy.

use chrono::{DateTime, Utc};
use docket_kit::error::is_unique_violation;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{Store, page_end, policy_of};
use crate::{
    clocks::{self, Snapshot},
    domain::sla::SlaPolicy,
    error::Result,
    records::entities::{case_clock, sla_policy},
};

/// Which queue to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaQueue {
    AtRisk,
    Breached,
    /// At risk or breached.
    Both,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DueCursor {
    pub due: i64,
    pub case_id: String,
}

/// Met and missed counts of one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetCounts {
    pub open: i64,
    pub met: i64,
    pub missed: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compliance {
    pub cases: i64,
    pub first_response: TargetCounts,
    pub resolution: TargetCounts,
}

/// Compliance of the cases of one contract or one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplianceScope {
    Contract(String),
    Policy(String),
}

#[derive(Debug, FromQueryResult)]
struct OutcomeCount {
    outcome: String,
    n: i64,
}

impl Store {
    /// A case's clock and its policy. Without a clock yet (its events are
    /// still on their way), one is made from `case` and not kept.
    pub async fn case_clock(&self, case_id: &str) -> Result<Option<(case_clock::Model, Option<SlaPolicy>)>> {
        let Some(row) = case_clock::Entity::find_by_id(case_id.to_owned()).one(&self.db).await? else { return Ok(None) };
        let policy = self.policy_of_clock(&row).await?;
        Ok(Some((row, policy)))
    }

    /// A clock as it would be for `snapshot`, computed in a transaction that
    /// is rolled back: nothing is written.
    pub async fn provisional_clock(
        &self,
        snapshot: &Snapshot,
        now: DateTime<Utc>,
    ) -> Result<(case_clock::Model, Option<SlaPolicy>)> {
        let txn = self.db.begin().await?;
        match clocks::follow(&txn, snapshot, now).await {
            Ok(()) => {}
            // The case's event arrived meanwhile and made the real clock.
            Err(err) if is_unique_violation(&err) => {
                txn.rollback().await?;
                if let Some(found) = self.case_clock(&snapshot.case_id).await? {
                    return Ok(found);
                }
                return Err(err.into());
            }
            Err(err) => return Err(err.into()),
        }
        let row = case_clock::Entity::find_by_id(snapshot.case_id.clone()).one(&txn).await?;
        txn.rollback().await?;
        let row = row.ok_or_else(|| crate::error::Error::NotFound(format!("case {} has no SLA clock", snapshot.case_id)))?;
        let policy = self.policy_of_clock(&row).await?;
        Ok((row, policy))
    }

    async fn policy_of_clock(&self, row: &case_clock::Model) -> Result<Option<SlaPolicy>> {
        let model = if row.resolve_policy {
            clocks::resolve_policy(&self.db, row.contract_id.as_deref()).await?
        } else {
            match &row.sla_policy_id {
                Some(id) => sla_policy::Entity::find_by_id(id.clone()).one(&self.db).await?,
                None => None,
            }
        };
        Ok(model.as_ref().and_then(policy_of))
    }

    /// Open cases at risk or breached at `now`, soonest due first.
    pub async fn list_case_slas(
        &self,
        queue: SlaQueue,
        contract_id: Option<&str>,
        now: DateTime<Utc>,
        after: Option<DueCursor>,
        limit: u64,
    ) -> Result<(Vec<(case_clock::Model, Option<SlaPolicy>)>, Option<DueCursor>)> {
        use case_clock::Column as C;
        let at_risk = Condition::any()
            .add(Condition::all().add(C::FirstResponseWarnAt.lte(now)).add(C::FirstResponseDue.gt(now)))
            .add(Condition::all().add(C::ResolutionWarnAt.lte(now)).add(C::ResolutionDue.gt(now)));
        let breached = Condition::all().add(C::NextDueAt.lte(now));
        let mut query = case_clock::Entity::find().filter(C::NextDueAt.is_not_null()).filter(match queue {
            SlaQueue::AtRisk => Condition::all().add(at_risk).add(C::NextDueAt.gt(now)),
            SlaQueue::Breached => breached,
            SlaQueue::Both => Condition::any().add(at_risk).add(breached),
        });
        if let Some(contract) = contract_id {
            query = query.filter(C::ContractId.eq(contract));
        }
        if let Some(after) = after
            && let Some(due) = docket_kit::time::from_micros(after.due)
        {
            query = query.filter(
                Condition::any()
                    .add(C::NextDueAt.gt(due))
                    .add(Condition::all().add(C::NextDueAt.eq(due)).add(C::CaseId.gt(after.case_id))),
            );
        }
        let mut rows = query.order_by_asc(C::NextDueAt).order_by_asc(C::CaseId).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).and_then(|last| {
            last.next_due_at.map(|due| DueCursor { due: due.timestamp_micros(), case_id: last.case_id.clone() })
        });
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let policy = self.policy_of_clock(&row).await?;
            out.push((row, policy));
        }
        Ok((out, next))
    }

    /// How the cases opened in [from, to) of a contract or policy did.
    pub async fn compliance(&self, scope: &ComplianceScope, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Compliance> {
        use case_clock::Column as C;
        let scoped = || {
            let query = case_clock::Entity::find().filter(C::OpenedAt.gte(from)).filter(C::OpenedAt.lt(to));
            match scope {
                ComplianceScope::Contract(id) => query.filter(C::ContractId.eq(id.clone())),
                ComplianceScope::Policy(id) => query.filter(C::SlaPolicyId.eq(id.clone())),
            }
        };
        let mut compliance = Compliance::default();
        for (column, counts) in
            [(C::FirstResponseOutcome, &mut compliance.first_response), (C::ResolutionOutcome, &mut compliance.resolution)]
        {
            let rows = scoped()
                .select_only()
                .column_as(column, "outcome")
                .column_as(Expr::col(C::CaseId).count(), "n")
                .group_by(column)
                .into_model::<OutcomeCount>()
                .all(&self.db)
                .await?;
            for row in rows {
                match row.outcome.as_str() {
                    "met" => counts.met += row.n,
                    "missed" => counts.missed += row.n,
                    _ => counts.open += row.n,
                }
            }
        }
        compliance.cases = compliance.first_response.open + compliance.first_response.met + compliance.first_response.missed;
        Ok(compliance)
    }
}
