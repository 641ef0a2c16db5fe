//! `docket.case.v1.EscalationRuleService`.

use docket_kit::{auth::caller, error::FieldViolations, time};
use docket_proto::case::v1::{self as pb, escalation_rule_service_server::EscalationRuleService};
use tonic::{Request, Response, Status};

use super::{
    actor,
    cases::{priority_from_proto, priority_to_proto},
    idempotency, wanted,
};
use crate::{
    domain::{
        commands::NAME_MAX,
        escalation::{Rule, Target, Trigger},
    },
    error::Error,
    store::{
        Store,
        entities::escalation_rule,
        escalation::{RULE_FIELDS, RuleFields, rule_of},
    },
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

fn trigger_from_proto(raw: i32) -> Option<Trigger> {
    match pb::EscalationTrigger::try_from(raw).ok()? {
        pb::EscalationTrigger::Unspecified => None,
        pb::EscalationTrigger::SlaWarning => Some(Trigger::SlaWarning),
        pb::EscalationTrigger::SlaBreached => Some(Trigger::SlaBreached),
    }
}

fn to_proto(model: escalation_rule::Model) -> pb::EscalationRule {
    let rule = rule_of(&model);
    pb::EscalationRule {
        trigger: match rule.as_ref().map(|r| r.trigger) {
            Some(Trigger::SlaWarning) => pb::EscalationTrigger::SlaWarning,
            Some(Trigger::SlaBreached) => pb::EscalationTrigger::SlaBreached,
            None => pb::EscalationTrigger::Unspecified,
        } as i32,
        target: match rule.as_ref().and_then(|r| r.target) {
            Some(Target::FirstResponse) => pb::EscalationTarget::FirstResponse,
            Some(Target::Resolution) => pb::EscalationTarget::Resolution,
            None => pb::EscalationTarget::Unspecified,
        } as i32,
        priorities: rule
            .as_ref()
            .map(|r| r.priorities.iter().map(|p| priority_to_proto(p.rank()) as i32).collect())
            .unwrap_or_default(),
        notify_staff_ids: rule.map(|r| r.notify_staff_ids).unwrap_or_default(),
        create_time: Some(time::to_proto(model.created_at)),
        update_time: Some(time::to_proto(model.updated_at)),
        etag: model.version.to_string(),
        id: model.id,
        name: model.name,
        raise_priority: model.raise_priority,
        reassign_team_id: model.reassign_team_id.unwrap_or_default(),
        reassign_owner_id: model.reassign_owner_id.unwrap_or_default(),
        notify_owner: model.notify_owner,
        active: model.active,
        position: model.position,
    }
}

/// Validates what a create sets (`mask: None`) or an update changes.
fn parse_fields(violations: &mut FieldViolations, rule: &pb::EscalationRule, mask: Option<&[&str]>) -> RuleFields {
    let name = if wanted(mask, "name") { violations.required_text("rule.name", &rule.name, NAME_MAX) } else { String::new() };
    let trigger = if wanted(mask, "trigger") {
        violations.enum_value("rule.trigger", rule.trigger, trigger_from_proto).unwrap_or(Trigger::SlaBreached)
    } else {
        Trigger::SlaBreached
    };
    let target = match pb::EscalationTarget::try_from(rule.target) {
        Ok(pb::EscalationTarget::Unspecified) => None,
        Ok(pb::EscalationTarget::FirstResponse) => Some(Target::FirstResponse),
        Ok(pb::EscalationTarget::Resolution) => Some(Target::Resolution),
        Err(_) => {
            if wanted(mask, "target") {
                violations.add("rule.target", format!("{} is not a known value", rule.target));
            }
            None
        }
    };
    let mut priorities = Vec::new();
    if wanted(mask, "priorities") {
        for p in violations.enum_values("rule.priorities", &rule.priorities, priority_from_proto) {
            if !priorities.contains(&p) {
                priorities.push(p);
            }
        }
    }
    let id = |violations: &mut FieldViolations, field: &str, value: &str| {
        violations.optional_id(field, value).map(|id| id.to_string())
    };
    let reassign_team_id =
        if wanted(mask, "reassign_team_id") { id(violations, "rule.reassign_team_id", &rule.reassign_team_id) } else { None };
    let reassign_owner_id =
        if wanted(mask, "reassign_owner_id") { id(violations, "rule.reassign_owner_id", &rule.reassign_owner_id) } else { None };
    let mut notify_staff_ids = Vec::new();
    if wanted(mask, "notify_staff_ids") {
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
    if wanted(mask, "position") && rule.position < 0 {
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

fn required_id(violations: &mut FieldViolations, field: &str, id: &str) -> String {
    violations.required_id(field, id).map(|id| id.to_string()).unwrap_or_default()
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
        violations.into_result().map_err(Error::from)?;
        let created = self.store.create_escalation_rule(fields, &actor(&caller, ""), key.as_ref()).await?;
        Ok(Response::new(to_proto(created)))
    }

    async fn get_escalation_rule(
        &self,
        request: Request<pb::GetEscalationRuleRequest>,
    ) -> Result<Response<pb::EscalationRule>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.get_ref().id);
        violations.into_result().map_err(Error::from)?;
        Ok(Response::new(to_proto(self.store.get_escalation_rule(&id).await?)))
    }

    async fn list_escalation_rules(
        &self,
        request: Request<pb::ListEscalationRulesRequest>,
    ) -> Result<Response<pb::ListEscalationRulesResponse>, Status> {
        caller(&request)?;
        let rules = self.store.list_escalation_rules(request.get_ref().include_inactive).await?;
        Ok(Response::new(pb::ListEscalationRulesResponse { rules: rules.into_iter().map(to_proto).collect() }))
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
        let id = required_id(&mut violations, "rule.id", &rule.id);
        let version = violations.etag("rule.etag", &rule.etag, true);
        let mask = violations.update_mask(request.update_mask.as_ref(), RULE_FIELDS);
        let fields = parse_fields(&mut violations, &rule, Some(&mask));
        violations.into_result().map_err(Error::from)?;
        let Some(version) = version else { return Err(Status::internal("validated etag missing")) };
        let updated = self.store.update_escalation_rule(&id, version, fields, &mask, &actor(&caller, "")).await?;
        Ok(Response::new(to_proto(updated)))
    }

    async fn delete_escalation_rule(
        &self,
        request: Request<pb::DeleteEscalationRuleRequest>,
    ) -> Result<Response<pb::DeleteEscalationRuleResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = required_id(&mut violations, "id", &request.id);
        let version = violations.etag("etag", &request.etag, false);
        violations.into_result().map_err(Error::from)?;
        self.store.delete_escalation_rule(&id, version, &actor(&caller, "")).await?;
        Ok(Response::new(pb::DeleteEscalationRuleResponse {}))
    }
}
