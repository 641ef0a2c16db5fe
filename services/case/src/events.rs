//! The events this service writes to its outbox, in the transaction of the
//! change they report (`docket.events.v1`, routing key = event type).

use docket_kit::events::{envelope, outbox, pack};
use docket_proto::events::v1 as ev;
use sea_orm::ConnectionTrait;

use crate::{
    domain::Changes,
    error::Result,
    grpc,
    store::{
        Actor, CaseRecord,
        entities::{account, case_activity, contact},
    },
};

/// The `source` of every event this service writes.
pub const SOURCE: &str = "case";

fn changes(changes: &Changes) -> Vec<ev::FieldChange> {
    changes
        .fields()
        .map(|c| ev::FieldChange { field: c.field.to_owned(), old_value: c.old.clone(), new_value: c.new.clone() })
        .collect()
}

async fn write(
    txn: &impl ConnectionTrait,
    event_type: &str,
    subject: &str,
    by: &Actor<'_>,
    payload_name: &str,
    payload: &impl prost::Message,
) -> Result<()> {
    let envelope = envelope(SOURCE, event_type, subject, by.actor, by.at, pack(payload_name, payload));
    outbox::append(txn, &envelope).await?;
    Ok(())
}

pub(crate) async fn account_changed(
    txn: &impl ConnectionTrait,
    created: bool,
    model: &account::Model,
    trail: &Changes,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::AccountChanged {
        account: Some(grpc::account_to_proto(model.clone())),
        changes: changes(trail),
        reason: by.reason.to_owned(),
    };
    let event_type = if created { "account.created" } else { "account.updated" };
    write(txn, event_type, &model.id, by, "docket.events.v1.AccountChanged", &payload).await
}

pub(crate) async fn contact_changed(
    txn: &impl ConnectionTrait,
    created: bool,
    model: &contact::Model,
    trail: &Changes,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::ContactChanged {
        contact: Some(grpc::contact_to_proto(model.clone())),
        changes: changes(trail),
        reason: by.reason.to_owned(),
    };
    let event_type = if created { "contact.created" } else { "contact.updated" };
    write(txn, event_type, &model.id, by, "docket.events.v1.ContactChanged", &payload).await
}

pub(crate) async fn case_created(txn: &impl ConnectionTrait, record: &CaseRecord, by: &Actor<'_>) -> Result<()> {
    let payload = ev::CaseCreated { case: Some(grpc::case_to_proto(record.clone())) };
    write(txn, "case.created", &record.case.id, by, "docket.events.v1.CaseCreated", &payload).await
}

pub(crate) async fn case_updated(txn: &impl ConnectionTrait, record: &CaseRecord, trail: &Changes, by: &Actor<'_>) -> Result<()> {
    let payload = ev::CaseUpdated {
        case: Some(grpc::case_to_proto(record.clone())),
        changes: changes(trail),
        reason: by.reason.to_owned(),
    };
    write(txn, "case.updated", &record.case.id, by, "docket.events.v1.CaseUpdated", &payload).await
}

pub(crate) async fn case_assigned(
    txn: &impl ConnectionTrait,
    before: &CaseRecord,
    after: &CaseRecord,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::CaseAssigned {
        case: Some(grpc::case_to_proto(after.clone())),
        previous_owner_id: before.case.owner_id.clone().unwrap_or_default(),
        previous_team_id: before.case.team_id.clone().unwrap_or_default(),
        reason: by.reason.to_owned(),
    };
    write(txn, "case.assigned", &after.case.id, by, "docket.events.v1.CaseAssigned", &payload).await?;
    status_events(txn, before, after, by).await
}

/// `case.status_changed` for any change of status, plus `case.closed` or
/// `case.reopened` when the case crossed between active and closed.
pub(crate) async fn status_events(
    txn: &impl ConnectionTrait,
    before: &CaseRecord,
    after: &CaseRecord,
    by: &Actor<'_>,
) -> Result<()> {
    let (from, to) = (before.status(), after.status());
    if from == to {
        return Ok(());
    }
    let case = grpc::case_to_proto(after.clone());
    let payload = ev::CaseStatusChanged {
        case: Some(case.clone()),
        previous_status: grpc::status_to_proto(from) as i32,
        reason: by.reason.to_owned(),
    };
    write(txn, "case.status_changed", &after.case.id, by, "docket.events.v1.CaseStatusChanged", &payload).await?;
    match (from.is_closed(), to.is_closed()) {
        (false, true) => {
            let payload = ev::CaseClosed { case: Some(case), reason: by.reason.to_owned() };
            write(txn, "case.closed", &after.case.id, by, "docket.events.v1.CaseClosed", &payload).await
        }
        (true, false) => {
            let payload = ev::CaseReopened { case: Some(case), reason: by.reason.to_owned() };
            write(txn, "case.reopened", &after.case.id, by, "docket.events.v1.CaseReopened", &payload).await
        }
        _ => Ok(()),
    }
}

pub(crate) async fn activity_added(
    txn: &impl ConnectionTrait,
    record: &CaseRecord,
    activity: &case_activity::Model,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::CaseActivityAdded {
        case: Some(grpc::case_to_proto(record.clone())),
        activity: Some(grpc::activity_to_proto(activity.clone())),
    };
    write(txn, "case.activity_added", &record.case.id, by, "docket.events.v1.CaseActivityAdded", &payload).await
}

/// case.escalated: an escalation rule acted on the case after an SLA alert.
pub(crate) async fn case_escalated(
    txn: &impl ConnectionTrait,
    record: &CaseRecord,
    escalation: &crate::store::escalation::Escalation,
    trigger: crate::domain::escalation::Trigger,
    target: crate::domain::escalation::Target,
    by: &Actor<'_>,
) -> Result<()> {
    let payload = ev::CaseEscalated {
        case: Some(grpc::case_to_proto(record.clone())),
        rule_id: escalation.rule.id.clone(),
        rule_name: escalation.rule.name.clone(),
        trigger: trigger.key().to_owned(),
        target: target.key().to_owned(),
        actions: escalation.actions.clone(),
        notify_staff_ids: escalation.notify.clone(),
    };
    write(txn, "case.escalated", &record.case.id, by, "docket.events.v1.CaseEscalated", &payload).await
}
