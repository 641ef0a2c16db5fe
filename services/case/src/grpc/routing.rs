//! `docket.case.v1.AssignmentRuleService`: assignment rules and the routing
//! settings. Reads need any staff role; changes need admin.

use docket_kit::{
    auth::caller,
    error::FieldViolations,
    mutation::Once,
    request::{FieldMask, wanted},
};
use docket_proto::case::v1::{self as pb, assignment_rule_service_server::AssignmentRuleService};
use tonic::{Request, Response, Status};

use super::{actor, idempotency, unique_enum_values};
use crate::{
    domain::{
        AccountTier, AssignmentRuleId, Channel, Priority,
        commands::{NAME_MAX, TAG_MAX},
        routing::{Conditions, Method, Rule},
    },
    store::{
        Store,
        routing::{AssignmentRuleField, AssignmentRuleFields},
    },
    wire::{self, WireEnum},
};

pub struct AssignmentRuleApi {
    store: Store,
}

impl AssignmentRuleApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Most entries in one condition list.
const CONDITION_MAX: usize = 50;

/// A condition list of texts: each entry checked by `parse` (which adds its
/// own violation and answers `None`), duplicates dropped.
fn texts(
    violations: &mut FieldViolations,
    field: &str,
    values: &[String],
    parse: impl Fn(&mut FieldViolations, &str, &str) -> Option<String>,
) -> Vec<String> {
    if values.len() > CONDITION_MAX {
        violations.add(field, format!("has {} entries; the most allowed is {CONDITION_MAX}", values.len()));
        return Vec::new();
    }
    let mut parsed = Vec::new();
    for (i, value) in values.iter().enumerate() {
        if let Some(value) = parse(violations, &format!("{field}[{i}]"), value)
            && !parsed.contains(&value)
        {
            parsed.push(value);
        }
    }
    parsed
}

/// One word: letters and digits only, lower-cased.
fn word(violations: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    let word = value.trim().to_lowercase();
    if word.is_empty() {
        violations.add(field, "is blank");
        None
    } else if word.chars().count() > TAG_MAX || !word.chars().all(char::is_alphanumeric) {
        violations.add(field, format!("must be one word of letters and digits, at most {TAG_MAX} long"));
        None
    } else {
        Some(word)
    }
}

fn tag(violations: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    let tag = violations.required_text(field, value, TAG_MAX).to_lowercase();
    (!tag.is_empty()).then_some(tag)
}

fn id(violations: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    violations.required_id(field, value).map(|id| id.to_string())
}

/// Validates what a create sets (`mask: None`) or an update changes. What
/// needs the database (the team, owner, case types and accounts exist, the
/// method's action is complete) the store checks.
fn parse_fields(
    violations: &mut FieldViolations,
    rule: &pb::AssignmentRule,
    mask: Option<&FieldMask<AssignmentRuleField>>,
) -> AssignmentRuleFields {
    use AssignmentRuleField as F;
    let name = if wanted(mask, F::Name) { violations.required_text("rule.name", &rule.name, NAME_MAX) } else { String::new() };
    let conditions = Conditions {
        case_type_ids: if wanted(mask, F::CaseTypeIds) {
            texts(violations, "rule.case_type_ids", &rule.case_type_ids, |v, f, value| {
                let key = v.key(f, value);
                (!key.is_empty()).then_some(key)
            })
        } else {
            Vec::new()
        },
        priorities: if wanted(mask, F::Priorities) {
            unique_enum_values::<Priority>(violations, "rule.priorities", &rule.priorities)
        } else {
            Vec::new()
        },
        channels: if wanted(mask, F::Channels) {
            unique_enum_values::<Channel>(violations, "rule.channels", &rule.channels)
        } else {
            Vec::new()
        },
        account_ids: if wanted(mask, F::AccountIds) {
            texts(violations, "rule.account_ids", &rule.account_ids, id)
        } else {
            Vec::new()
        },
        account_tiers: if wanted(mask, F::AccountTiers) {
            unique_enum_values::<AccountTier>(violations, "rule.account_tiers", &rule.account_tiers)
        } else {
            Vec::new()
        },
        web_form_ids: if wanted(mask, F::WebFormIds) {
            texts(violations, "rule.web_form_ids", &rule.web_form_ids, id)
        } else {
            Vec::new()
        },
        tags: if wanted(mask, F::Tags) { texts(violations, "rule.tags", &rule.tags, tag) } else { Vec::new() },
        subject_words: if wanted(mask, F::SubjectWords) {
            texts(violations, "rule.subject_words", &rule.subject_words, word)
        } else {
            Vec::new()
        },
    };
    let method = if wanted(mask, F::Method) {
        violations.enum_value("rule.method", rule.method, Method::from_wire).unwrap_or(Method::TeamQueue)
    } else {
        Method::TeamQueue
    };
    let team_id = if wanted(mask, F::TeamId) {
        violations.optional_id("rule.team_id", &rule.team_id).map(|id| id.to_string())
    } else {
        None
    };
    let owner_id = if wanted(mask, F::OwnerId) {
        violations.optional_id("rule.owner_id", &rule.owner_id).map(|id| id.to_string())
    } else {
        None
    };
    if wanted(mask, F::Position) && rule.position < 0 {
        violations.add("rule.position", "must not be negative");
    }
    if wanted(mask, F::Capacity) && rule.capacity < 0 {
        violations.add("rule.capacity", "must not be negative");
    }
    AssignmentRuleFields {
        rule: Rule { id: String::new(), name, conditions, method, team_id, owner_id, capacity: rule.capacity },
        active: rule.active,
        position: rule.position,
    }
}

#[tonic::async_trait]
impl AssignmentRuleService for AssignmentRuleApi {
    async fn create_assignment_rule(
        &self,
        request: Request<pb::CreateAssignmentRuleRequest>,
    ) -> Result<Response<pb::AssignmentRule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let rule = request.rule.clone().unwrap_or_default();
        let fields = parse_fields(&mut violations, &rule, None);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateAssignmentRuleRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let created = self
            .store
            .create_assignment_rule(fields, &actor(&caller, ""), Once { scope: "CreateAssignmentRule", key: key.as_ref() })
            .await?;
        Ok(Response::new(wire::assignment_rule(created)))
    }

    async fn get_assignment_rule(
        &self,
        request: Request<pb::GetAssignmentRuleRequest>,
    ) -> Result<Response<pb::AssignmentRule>, Status> {
        caller(&request)?;
        let mut violations = FieldViolations::new();
        let id: AssignmentRuleId = violations.id("id", &request.get_ref().id);
        violations.into_result()?;
        Ok(Response::new(wire::assignment_rule(self.store.get_assignment_rule(id).await?)))
    }

    async fn list_assignment_rules(
        &self,
        request: Request<pb::ListAssignmentRulesRequest>,
    ) -> Result<Response<pb::ListAssignmentRulesResponse>, Status> {
        caller(&request)?;
        let rules = self.store.list_assignment_rules(request.get_ref().include_inactive).await?;
        Ok(Response::new(pb::ListAssignmentRulesResponse { rules: rules.into_iter().map(wire::assignment_rule).collect() }))
    }

    async fn update_assignment_rule(
        &self,
        request: Request<pb::UpdateAssignmentRuleRequest>,
    ) -> Result<Response<pb::AssignmentRule>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let rule = request.rule.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let target = violations.update_target("rule", &rule.id, &rule.etag, request.update_mask.as_ref());
        let fields = parse_fields(&mut violations, &rule, Some(&target.mask));
        violations.into_result()?;
        let updated = self.store.update_assignment_rule(target, fields, &actor(&caller, "")).await?;
        Ok(Response::new(wire::assignment_rule(updated)))
    }

    async fn delete_assignment_rule(
        &self,
        request: Request<pb::DeleteAssignmentRuleRequest>,
    ) -> Result<Response<pb::DeleteAssignmentRuleResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id: AssignmentRuleId = violations.id("id", &request.id);
        let version = violations.etag("etag", &request.etag, false);
        violations.into_result()?;
        self.store.delete_assignment_rule(id, version, &actor(&caller, "")).await?;
        Ok(Response::new(pb::DeleteAssignmentRuleResponse {}))
    }

    async fn reorder_assignment_rules(
        &self,
        request: Request<pb::ReorderAssignmentRulesRequest>,
    ) -> Result<Response<pb::ListAssignmentRulesResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let mut ids = Vec::new();
        for (i, raw) in request.rule_ids.iter().enumerate() {
            if let Some(id) = violations.required_id(&format!("rule_ids[{i}]"), raw).map(|id| id.to_string()) {
                if ids.contains(&id) {
                    violations.add("rule_ids", format!("names {id} twice"));
                }
                ids.push(id);
            }
        }
        violations.into_result()?;
        let rules = self.store.reorder_assignment_rules(&ids, &actor(&caller, "")).await?;
        Ok(Response::new(pb::ListAssignmentRulesResponse { rules: rules.into_iter().map(wire::assignment_rule).collect() }))
    }

    async fn get_routing_settings(
        &self,
        request: Request<pb::GetRoutingSettingsRequest>,
    ) -> Result<Response<pb::RoutingSettings>, Status> {
        caller(&request)?;
        Ok(Response::new(wire::routing_settings(self.store.routing_settings().await?)))
    }

    async fn update_routing_settings(
        &self,
        request: Request<pb::UpdateRoutingSettingsRequest>,
    ) -> Result<Response<pb::RoutingSettings>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let settings = request.into_inner().settings.unwrap_or_default();
        let mut violations = FieldViolations::new();
        let default_team_id = violations.opt_id_text("settings.default_team_id", &settings.default_team_id);
        violations.into_result()?;
        let saved = self.store.update_routing_settings(default_team_id, &actor(&caller, "")).await?;
        Ok(Response::new(wire::routing_settings(saved)))
    }
}
