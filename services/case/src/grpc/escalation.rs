//! `docket.case.v1.EscalationRuleService`.

use docket_kit::mutation::Once;
use docket_kit::{
    auth::caller,
    error::FieldViolations,
    request::{FieldMask, wanted},
};
use docket_proto::case::v1::{self as pb, escalation_rule_service_server::EscalationRuleService};
use tonic::{Request, Response, Status};

use super::{actor, idempotency, unique_enum_values};
use crate::{
    domain::{
        EscalationRuleId, Priority,
        commands::NAME_MAX,
        escalation::{Rule, Target, Trigger},
    },
    store::{
        Store,
        escalation::{RuleField, RuleFields},
    },
    wire::{self, WireEnum},
};

pub struct EscalationRuleApi {
    store: Store,
}

impl EscalationRuleApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Most staff users one rule notifies.
const NOTIFY_MAX: usize = 50;

/// Validates what a create sets (`mask: None`) or an update changes.
fn parse_fields(violations: &mut FieldViolations, rule: &pb::EscalationRule, mask: Option<&FieldMask<RuleField>>) -> RuleFields {
    let name =
        if wanted(mask, RuleField::Name) { violations.required_text("rule.name", &rule.name, NAME_MAX) } else { String::new() };
    let trigger = if wanted(mask, RuleField::Trigger) {
        violations.enum_value("rule.trigger", rule.trigger, Trigger::from_wire).unwrap_or(Trigger::SlaBreached)
    } else {
        Trigger::SlaBreached
    };
    // Unspecified means any target.
    let target = match (rule.target, Target::from_wire(rule.target)) {
        (0, _) => None,
        (_, Some(target)) => Some(target),
        (raw, None) => {
            if wanted(mask, RuleField::Target) {
                violations.add("rule.target", format!("{raw} is not a known value"));
            }
            None
        }
    };
    let priorities: Vec<Priority> = if wanted(mask, RuleField::Priorities) {
        unique_enum_values(violations, "rule.priorities", &rule.priorities)
    } else {
        Vec::new()
    };
    let id = |violations: &mut FieldViolations, field: &str, value: &str| {
        violations.optional_id(field, value).map(|id| id.to_string())
    };
    let reassign_team_id = if wanted(mask, RuleField::ReassignTeamId) {
        id(violations, "rule.reassign_team_id", &rule.reassign_team_id)
    } else {
        None
    };
    let reassign_owner_id = if wanted(mask, RuleField::ReassignOwnerId) {
        id(violations, "rule.reassign_owner_id", &rule.reassign_owner_id)
    } else {
        None
    };
    let mut notify_staff_ids = Vec::new();
    if wanted(mask, RuleField::NotifyStaffIds) {
        if rule.notify_staff_ids.len() > NOTIFY_MAX {
            violations.add("rule.notify_staff_ids", format!("names more than {NOTIFY_MAX} staff users"));
        }
        for (i, raw) in rule.notify_staff_ids.iter().enumerate().take(NOTIFY_MAX) {
            if let Some(staff) = violations.required_id(&format!("rule.notify_staff_ids[{i}]"), raw).map(|id| id.to_string())
                && !notify_staff_ids.contains(&staff)
            {
                notify_staff_ids.push(staff);
            }
        }
    }
    if mask.is_none()
        && !rule.raise_priority
        && reassign_team_id.is_none()
        && reassign_owner_id.is_none()
        && !rule.notify_owner
        && notify_staff_ids.is_empty()
    {
        violations.add("rule", "does nothing: raise the priority, reassign, or notify someone");
    }
    if wanted(mask, RuleField::Position) && rule.position < 0 {
        violations.add("rule.position", "must not be negative");
    }
    RuleFields {
        rule: Rule {
            id: String::new(),
            name,
            trigger,
            target,
            priorities,
            raise_priority: rule.raise_priority,
            reassign_team_id,
            reassign_owner_id,
            notify_owner: rule.notify_owner,
            notify_staff_ids,
        },
        active: rule.active,
        position: rule.position,
    }
}

#[tonic::async_trait]
impl EscalationRuleService for EscalationRuleApi {
    async fn create_escalation_rule(
        &self,
        request: Request<pb::CreateEscalationRuleRequest>,
    ) -> Result<Response<pb::EscalationRule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let rule = request.rule.clone().unwrap_or_default();
        let fields = parse_fields(&mut violations, &rule, None);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateEscalationRuleRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let created = self
            .store
            .create_escalation_rule(fields, &actor(&caller, ""), Once { scope: "CreateEscalationRule", key: key.as_ref() })
            .await?;
        Ok(Response::new(wire::escalation_rule(created)))
    }

    async fn get_escalation_rule(
        &self,
        request: Request<pb::GetEscalationRuleRequest>,
    ) -> Result<Response<pb::EscalationRule>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id: EscalationRuleId = violations.id("id", &request.get_ref().id);
        violations.into_result()?;
        Ok(Response::new(wire::escalation_rule(self.store.get_escalation_rule(id).await?)))
    }

    async fn list_escalation_rules(
        &self,
        request: Request<pb::ListEscalationRulesRequest>,
    ) -> Result<Response<pb::ListEscalationRulesResponse>, Status> {
        caller(&request)?;
        let rules = self.store.list_escalation_rules(request.get_ref().include_inactive).await?;
        Ok(Response::new(pb::ListEscalationRulesResponse { rules: rules.into_iter().map(wire::escalation_rule).collect() }))
    }

    async fn update_escalation_rule(
        &self,
        request: Request<pb::UpdateEscalationRuleRequest>,
    ) -> Result<Response<pb::EscalationRule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let rule = request.rule.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let target = violations.update_target("rule", &rule.id, &rule.etag, request.update_mask.as_ref());
        let fields = parse_fields(&mut violations, &rule, Some(&target.mask));
        violations.into_result()?;
        let updated = self.store.update_escalation_rule(target, fields, &actor(&caller, "")).await?;
        Ok(Response::new(wire::escalation_rule(updated)))
    }

    async fn delete_escalation_rule(
        &self,
        request: Request<pb::DeleteEscalationRuleRequest>,
    ) -> Result<Response<pb::DeleteEscalationRuleResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: EscalationRuleId = violations.id("id", &request.id);
        let version = violations.etag("etag", &request.etag, false);
        violations.into_result()?;
        self.store.delete_escalation_rule(id, version, &actor(&caller, "")).await?;
        Ok(Response::new(pb::DeleteEscalationRuleResponse {}))
    }
}
