//! The case service and the billing service together: a case's contract is
//! checked by entitlement, and SLA alerts escalate cases by the rules.

use std::time::Duration;

use docket_billing::scheduler::SlaScheduler;
use docket_kit::events::outbox::RelayWaker;
use docket_proto::{
    billing::v1 as billing_pb,
    case::v1::{self as pb, CasePriority},
    notification::v1 as notification_pb,
};
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, TestApp, VIEWER, assert_field_error, eventually},
    contracts::{contract_for, create_contract},
    fixtures::{customer, history, mask, new_case, staff_user, team},
    on_both_backends,
    sla_tracking::{always_open, create_policy, wait_for_clock},
};

on_both_backends!(
    a_case_names_a_contract_that_covers_it_or_is_refused,
    a_new_case_gets_the_contract_that_covers_its_asset,
    escalation_rules_are_managed_by_admins_and_checked,
    a_breached_case_is_escalated_by_the_rules_with_a_trail_and_an_email,
);

async fn a_case_names_a_contract_that_covers_it_or_is_refused(app: TestApp) {
    let acme = customer(&app).await;
    let globex = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Gold")).await;
    let mut cases = app.cases(AGENT);
    let create = |case: pb::Case| pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None };

    // By number: the case gets the contract's id too.
    let covered = cases
        .create_case(create(pb::Case {
            service_contract_number: contract.contract_number.clone(),
            asset_serial_number: "CX-1001".into(),
            ..new_case(&acme, "Controller fault")
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(covered.service_contract_id, contract.id);
    assert_eq!(covered.service_contract_number, contract.contract_number);

    let before = app.row_counts().await;
    for (case, field, words) in [
        (
            pb::Case { service_contract_id: contract.id.clone(), ..new_case(&globex, "Not theirs") },
            "case.service_contract_id",
            "another account",
        ),
        (
            pb::Case {
                service_contract_id: contract.id.clone(),
                asset_serial_number: "ZZ-9".into(),
                ..new_case(&acme, "Other asset")
            },
            "case.service_contract_id",
            "does not cover the asset",
        ),
        (
            pb::Case { service_contract_number: "SC-424242".into(), ..new_case(&acme, "No such") },
            "case.service_contract_number",
            "no service contract",
        ),
        (
            pb::Case {
                service_contract_id: contract.id.clone(),
                service_contract_number: "SC-000999".into(),
                ..new_case(&acme, "Mismatch")
            },
            "case.service_contract_number",
            "does not match",
        ),
    ] {
        let refused = cases.create_case(create(case)).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
        assert!(refused.message().contains(words), "{}", refused.message());
    }
    assert_eq!(app.row_counts().await, before, "refused cases write nothing");

    // A cancelled contract covers nothing new, and changing a case to it is refused too.
    app.contracts(AGENT)
        .set_contract_status(billing_pb::SetContractStatusRequest {
            id: contract.id.clone(),
            status: billing_pb::ContractStatus::Cancelled as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let plain = cases.create_case(create(new_case(&acme, "No contract"))).await.unwrap().into_inner();
    assert!(plain.service_contract_id.is_empty());
    let refused = cases
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: plain.id.clone(),
                etag: plain.etag.clone(),
                service_contract_id: contract.id.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["service_contract_id"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&refused, Code::InvalidArgument, "case.service_contract_id");
    assert!(refused.message().contains("cancelled"), "{}", refused.message());
    // Clearing a contract needs no check.
    let cleared = cases
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case { id: covered.id.clone(), etag: covered.etag.clone(), ..Default::default() }),
            update_mask: mask(&["service_contract_id", "service_contract_number"]),
            reason: "contract cancelled".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(cleared.service_contract_id.is_empty() && cleared.service_contract_number.is_empty());
}

async fn a_new_case_gets_the_contract_that_covers_its_asset(app: TestApp) {
    let acme = customer(&app).await;
    let contract = create_contract(&app, contract_for(&acme, "Controller cover")).await;
    let mut cases = app.cases(AGENT);
    let case = cases
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case { asset_serial_number: "cx-1001".into(), ..new_case(&acme, "Controller fault") }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.service_contract_id, contract.id);
    // An asset the contract does not list stays without one.
    let other = cases
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case { asset_serial_number: "ZZ-9".into(), ..new_case(&acme, "Printer") }),
            idempotency_key: String::new(),
            sender: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(other.service_contract_id.is_empty());
}

fn rule(name: &str) -> pb::EscalationRule {
    pb::EscalationRule {
        name: name.to_owned(),
        trigger: pb::EscalationTrigger::SlaBreached as i32,
        raise_priority: true,
        active: true,
        ..Default::default()
    }
}

async fn escalation_rules_are_managed_by_admins_and_checked(app: TestApp) {
    let manager = staff_user(&app, "Morgan Manager").await;
    let mut rules = app.escalation_rules(ADMIN);
    let created = rules
        .create_escalation_rule(pb::CreateEscalationRuleRequest {
            rule: Some(pb::EscalationRule {
                target: pb::EscalationTarget::Resolution as i32,
                priorities: vec![CasePriority::High as i32, CasePriority::Critical as i32],
                notify_staff_ids: vec![manager.id.clone()],
                ..rule("Breach to manager")
            }),
            idempotency_key: "rule-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.priorities.len(), 2);
    assert_eq!(created.notify_staff_ids, std::slice::from_ref(&manager.id));
    let listed = app.escalation_rules(VIEWER).list_escalation_rules(pb::ListEscalationRulesRequest::default()).await.unwrap();
    assert_eq!(listed.into_inner().rules, std::slice::from_ref(&created));
    let updated = rules
        .update_escalation_rule(pb::UpdateEscalationRuleRequest {
            rule: Some(pb::EscalationRule {
                id: created.id.clone(),
                etag: created.etag.clone(),
                active: false,
                ..Default::default()
            }),
            update_mask: mask(&["active"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!updated.active);
    let active = rules.list_escalation_rules(pb::ListEscalationRulesRequest::default()).await.unwrap().into_inner().rules;
    assert!(active.is_empty());

    let before = app.row_counts().await;
    let create = |r: pb::EscalationRule| pb::CreateEscalationRuleRequest { rule: Some(r), idempotency_key: String::new() };
    for (bad, field) in [
        (pb::EscalationRule { name: String::new(), ..rule("x") }, "rule.name"),
        (pb::EscalationRule { trigger: 0, ..rule("x") }, "rule.trigger"),
        (pb::EscalationRule { target: 9, ..rule("x") }, "rule.target"),
        (pb::EscalationRule { priorities: vec![0], ..rule("x") }, "rule.priorities[0]"),
        (pb::EscalationRule { raise_priority: false, ..rule("x") }, "rule"),
        (pb::EscalationRule { reassign_team_id: "team".into(), ..rule("x") }, "rule.reassign_team_id"),
        (pb::EscalationRule { reassign_team_id: uuid::Uuid::now_v7().to_string(), ..rule("x") }, "rule.reassign_team_id"),
        (pb::EscalationRule { reassign_owner_id: uuid::Uuid::now_v7().to_string(), ..rule("x") }, "rule.reassign_owner_id"),
        (
            pb::EscalationRule { notify_staff_ids: vec![uuid::Uuid::now_v7().to_string()], ..rule("x") },
            "rule.notify_staff_ids[0]",
        ),
        (pb::EscalationRule { position: -1, ..rule("x") }, "rule.position"),
    ] {
        let refused = rules.create_escalation_rule(create(bad)).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let duplicate = rules.create_escalation_rule(create(rule("Breach to manager"))).await.unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    let refused = app.escalation_rules(AGENT).create_escalation_rule(create(rule("y"))).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = rules
        .update_escalation_rule(pb::UpdateEscalationRuleRequest {
            rule: Some(pb::EscalationRule { id: created.id.clone(), etag: created.etag.clone(), ..Default::default() }),
            update_mask: mask(&["active"]),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted, "stale etag");
    assert_eq!(app.row_counts().await, before);

    rules
        .delete_escalation_rule(pb::DeleteEscalationRuleRequest { id: created.id.clone(), etag: updated.etag.clone() })
        .await
        .unwrap();
    let gone = rules.get_escalation_rule(pb::GetEscalationRuleRequest { id: created.id.clone() }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

async fn a_breached_case_is_escalated_by_the_rules_with_a_trail_and_an_email(app: TestApp) {
    create_policy(&app, always_open("One hour for critical", true)).await;
    let manager = staff_user(&app, "Morgan Manager").await;
    let tier2 = team(&app, "Tier 2").await;
    let mut rules = app.escalation_rules(ADMIN);
    rules
        .create_escalation_rule(pb::CreateEscalationRuleRequest {
            rule: Some(pb::EscalationRule {
                target: pb::EscalationTarget::FirstResponse as i32,
                reassign_team_id: tier2.id.clone(),
                notify_staff_ids: vec![manager.id.clone()],
                ..rule("Breached first response to tier 2")
            }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    // Only for Low cases: does not apply to the case below.
    rules
        .create_escalation_rule(pb::CreateEscalationRuleRequest {
            rule: Some(pb::EscalationRule { priorities: vec![CasePriority::Low as i32], ..rule("Low only") }),
            idempotency_key: String::new(),
        })
        .await
        .unwrap();
    let acme = customer(&app).await;
    let billing = app.service_db("billing").await;
    let case = pb::Case { priority: CasePriority::High as i32, ..new_case(&acme, "Slow line") };
    let case = app
        .cases(AGENT)
        .create_case(pb::CreateCaseRequest { case: Some(case), idempotency_key: String::new(), sender: None })
        .await
        .unwrap()
        .into_inner();
    wait_for_clock(&billing, &case.id, &case.etag).await;
    let created = docket_kit::time::from_proto(case.create_time.as_ref().unwrap()).unwrap();
    // High: first response within two hours; the scheduler looks at 2h01.
    let scheduler = SlaScheduler::new(billing.clone(), Duration::from_secs(1), 100, RelayWaker::default());
    assert_eq!(scheduler.sweep(created + chrono::Duration::minutes(121)).await.unwrap().raised, 2);

    let escalated = wait_for_case(&app, &case.id, |c| c.team_id == tier2.id).await;
    assert_eq!(escalated.priority(), CasePriority::Critical, "raised one step");
    let trail = history(&app, &case.id).await;
    let escalation = trail.iter().find(|e| e.field == "escalation").expect("an escalation row");
    assert_eq!(escalation.actor, "system:escalation");
    assert!(escalation.reason.contains("SLA breached (first response)"), "{}", escalation.reason);
    assert!(escalation.new_value.contains("Breached first response to tier 2"), "{}", escalation.new_value);
    let priority = trail.iter().rfind(|e| e.field == "priority").expect("a priority row");
    assert_eq!((priority.old_value.as_str(), priority.new_value.as_str()), ("high", "critical"));
    assert_eq!(priority.reason, escalation.reason);
    // The warning matched no rule: one escalation only, although the raised
    // priority moved the deadlines.
    assert_eq!(trail.iter().filter(|e| e.field == "escalation").count(), 1);

    // The manager hears about it.
    let email = eventually("the escalation email", async || {
        let deliveries = app
            .notifications(ADMIN)
            .list_deliveries(notification_pb::ListDeliveriesRequest { case_id: case.id.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .deliveries;
        deliveries.iter().find(|d| d.event_type == "case.escalated").cloned().ok_or_else(|| format!("{deliveries:?}"))
    })
    .await;
    assert_eq!(email.recipient, manager.email);
    assert_eq!(email.recipient_kind, "escalation");
    assert!(email.subject.contains("Escalated"), "{}", email.subject);
}

/// Polls the case until `done` holds.
async fn wait_for_case(app: &TestApp, id: &str, done: impl Fn(&pb::Case) -> bool) -> pb::Case {
    eventually("the case to get there", async || {
        let case = app
            .cases(VIEWER)
            .get_case(pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::Id(id.to_owned())) })
            .await
            .unwrap()
            .into_inner();
        if done(&case) { Ok(case) } else { Err(format!("{case:?}")) }
    })
    .await
}
