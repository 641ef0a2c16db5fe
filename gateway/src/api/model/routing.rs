//! The JSON shapes of assignment rules and the routing settings (the case
//! service's `AssignmentRuleService`), under `/api/v1/routing`.

use chrono::{DateTime, Utc};
use docket_proto::case::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AccountTier, CaseChannel, CasePriority, enum_or_unspecified, reference, time};

wire_enum!(
    /// How a rule hands out the cases it matches: the team's queue, one
    /// person, or among the team's available members in turn, to the least
    /// loaded, or to the least loaded below their case limit.
    RoutingMethod => pb::RoutingMethod { TeamQueue, Person, RoundRobin, LeastLoaded, Capacity }
);

/// An assignment rule: where a case created without an owner goes. Rules
/// are tried by position; the first whose conditions all match decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssignmentRule {
    pub id: String,
    pub name: String,
    /// Tried in ascending position (then name).
    pub position: i32,
    pub active: bool,
    /// Conditions: each list that is not empty must match one of its entries.
    pub case_type_ids: Vec<String>,
    pub priorities: Vec<CasePriority>,
    pub channels: Vec<CaseChannel>,
    pub account_ids: Vec<String>,
    pub account_tiers: Vec<AccountTier>,
    pub web_form_ids: Vec<String>,
    pub tags: Vec<String>,
    /// Whole words of the subject, ignoring case.
    pub subject_words: Vec<String>,
    pub method: Option<RoutingMethod>,
    pub team_id: Option<String>,
    /// The person of a `person` rule.
    pub owner_id: Option<String>,
    /// Open cases per agent of a `capacity` rule, unless the agent has their own limit.
    pub capacity: i32,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    /// Changes on every change; send it back in `If-Match`.
    pub etag: String,
}

impl From<pb::AssignmentRule> for AssignmentRule {
    fn from(r: pb::AssignmentRule) -> Self {
        Self {
            id: r.id,
            name: r.name,
            position: r.position,
            active: r.active,
            case_type_ids: r.case_type_ids,
            priorities: r.priorities.into_iter().filter_map(CasePriority::from_proto).collect(),
            channels: r.channels.into_iter().filter_map(CaseChannel::from_proto).collect(),
            account_ids: r.account_ids,
            account_tiers: r.account_tiers.into_iter().filter_map(AccountTier::from_proto).collect(),
            web_form_ids: r.web_form_ids,
            tags: r.tags,
            subject_words: r.subject_words,
            method: RoutingMethod::from_proto(r.method),
            team_id: reference(r.team_id),
            owner_id: reference(r.owner_id),
            capacity: r.capacity,
            create_time: time(r.create_time),
            update_time: time(r.update_time),
            etag: r.etag,
        }
    }
}

/// The fields of a rule a create sets or an update changes. On create,
/// `name` and `method` are required, `team_id` too except for `person`
/// rules (which need `owner_id`), `capacity` for `capacity` rules; `active`
/// defaults to `true`. On update, every field present is changed (lists
/// replaced whole) and every field absent is kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRuleFields {
    pub name: Option<String>,
    pub position: Option<i32>,
    pub active: Option<bool>,
    pub case_type_ids: Option<Vec<String>>,
    pub priorities: Option<Vec<CasePriority>>,
    pub channels: Option<Vec<CaseChannel>>,
    pub account_ids: Option<Vec<String>>,
    pub account_tiers: Option<Vec<AccountTier>>,
    pub web_form_ids: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub subject_words: Option<Vec<String>>,
    pub method: Option<RoutingMethod>,
    /// `""` clears it.
    pub team_id: Option<String>,
    /// `""` clears it.
    pub owner_id: Option<String>,
    pub capacity: Option<i32>,
}

impl AssignmentRuleFields {
    /// The rule message, and the field mask of the fields present.
    pub fn into_proto(self) -> (pb::AssignmentRule, Vec<String>) {
        let mask = [
            ("name", self.name.is_some()),
            ("position", self.position.is_some()),
            ("active", self.active.is_some()),
            ("case_type_ids", self.case_type_ids.is_some()),
            ("priorities", self.priorities.is_some()),
            ("channels", self.channels.is_some()),
            ("account_ids", self.account_ids.is_some()),
            ("account_tiers", self.account_tiers.is_some()),
            ("web_form_ids", self.web_form_ids.is_some()),
            ("tags", self.tags.is_some()),
            ("subject_words", self.subject_words.is_some()),
            ("method", self.method.is_some()),
            ("team_id", self.team_id.is_some()),
            ("owner_id", self.owner_id.is_some()),
            ("capacity", self.capacity.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect();
        let rule = pb::AssignmentRule {
            name: self.name.unwrap_or_default(),
            position: self.position.unwrap_or_default(),
            // A rule made through the API routes unless told otherwise.
            active: self.active.unwrap_or(true),
            case_type_ids: self.case_type_ids.unwrap_or_default(),
            priorities: self.priorities.unwrap_or_default().into_iter().map(CasePriority::to_proto).collect(),
            channels: self.channels.unwrap_or_default().into_iter().map(CaseChannel::to_proto).collect(),
            account_ids: self.account_ids.unwrap_or_default(),
            account_tiers: self.account_tiers.unwrap_or_default().into_iter().map(AccountTier::to_proto).collect(),
            web_form_ids: self.web_form_ids.unwrap_or_default(),
            tags: self.tags.unwrap_or_default(),
            subject_words: self.subject_words.unwrap_or_default(),
            method: enum_or_unspecified(self.method, RoutingMethod::to_proto),
            team_id: self.team_id.unwrap_or_default(),
            owner_id: self.owner_id.unwrap_or_default(),
            capacity: self.capacity.unwrap_or_default(),
            ..Default::default()
        };
        (rule, mask)
    }
}

/// The rules, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssignmentRuleList {
    pub rules: Vec<AssignmentRule>,
}

impl From<pb::ListAssignmentRulesResponse> for AssignmentRuleList {
    fn from(list: pb::ListAssignmentRulesResponse) -> Self {
        Self { rules: list.rules.into_iter().map(Into::into).collect() }
    }
}

/// Filters of `GET /routing/rules`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignmentRuleQuery {
    /// Inactive rules too.
    pub include_inactive: Option<bool>,
}

/// A new order of the rules: every rule's id, each once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRuleOrder {
    pub rule_ids: Vec<String>,
}

/// Where a case no rule matches waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoutingSettings {
    /// `null`: no team.
    pub default_team_id: Option<String>,
    pub update_time: Option<DateTime<Utc>>,
}

impl From<pb::RoutingSettings> for RoutingSettings {
    fn from(s: pb::RoutingSettings) -> Self {
        Self { default_team_id: reference(s.default_team_id), update_time: time(s.update_time) }
    }
}

/// The routing settings as they should be.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettingsFields {
    /// `null` or `""`: no default team.
    pub default_team_id: Option<String>,
}
