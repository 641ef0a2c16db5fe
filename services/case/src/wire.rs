//! The case service's records as `docket.case.v1` messages: what the API
//! answers and what the events carry, in one place so both say the same.

use docket_kit::mutation::Stamps;
use docket_kit::{mutation::etag, time};
use docket_proto::case::v1 as pb;

use crate::{
    domain::{
        AccountTier, ActivityKind, CaseStatus, Channel, Direction, Priority, StaffRole, Visibility,
        escalation::{Target, Trigger},
        format_case_number,
        routing::Method,
    },
    records::{
        CaseRecord, TeamRecord, absences, assignment_rule_of,
        entities::{account, assignment_rule, case_activity, case_type, contact, escalation_rule, routing_settings, staff_user},
        model_money, rule_of,
    },
};

/// A domain enum and its wire enum, both ways.
pub trait WireEnum: Sized + Copy {
    type Wire: Default;

    fn to_wire(self) -> Self::Wire;

    /// The domain value of a wire number; `None` for unknown numbers and
    /// for the unspecified value.
    fn from_wire(raw: i32) -> Option<Self>;
}

macro_rules! wire_enum {
    ($domain:ident => $wire:ident { $($d:ident => $w:ident),+ $(,)? }) => {
        impl WireEnum for $domain {
            type Wire = pb::$wire;

            fn to_wire(self) -> pb::$wire {
                #[allow(unreachable_patterns)]
                match self {
                    $($domain::$d => pb::$wire::$w,)+
                    _ => pb::$wire::Unspecified,
                }
            }

            fn from_wire(raw: i32) -> Option<Self> {
                #[allow(unreachable_patterns)]
                match pb::$wire::try_from(raw).ok()? {
                    $(pb::$wire::$w => Some($domain::$d),)+
                    _ => None,
                }
            }
        }
    };
}

wire_enum!(CaseStatus => CaseStatus {
    New => ActiveNew,
    Assigned => ActiveAssigned,
    Pending => Pending,
    ClosedComplete => ClosedComplete,
    ClosedNoFault => ClosedNoFault,
});
wire_enum!(Priority => CasePriority { Low => Low, Medium => Medium, High => High, Critical => Critical });
wire_enum!(Channel => CaseChannel { Phone => Phone, Email => Email, WebForm => WebForm, Portal => Portal, Api => Api });
wire_enum!(Direction => Direction { Inbound => Inbound, Outbound => Outbound });
wire_enum!(AccountTier => AccountTier { Standard => Standard, Premium => Premium, Enterprise => Enterprise });
wire_enum!(StaffRole => StaffRole { Admin => Admin, Agent => Agent, Viewer => Viewer });
wire_enum!(ActivityKind => ActivityKind { Note => Note, Call => Call, Email => Email });
wire_enum!(Visibility => Visibility { Internal => Internal, Public => Public });
wire_enum!(Trigger => EscalationTrigger { SlaWarning => SlaWarning, SlaBreached => SlaBreached });
wire_enum!(Method => RoutingMethod {
    TeamQueue => TeamQueue,
    Person => Person,
    RoundRobin => RoundRobin,
    LeastLoaded => LeastLoaded,
    Capacity => Capacity,
});
wire_enum!(Target => EscalationTarget { FirstResponse => FirstResponse, Resolution => Resolution });

/// The wire value of a stored key (unspecified for a key this version does not know).
fn stored<E: WireEnum>(parsed: Option<E>) -> i32
where
    E::Wire: Into<i32>,
{
    parsed.map(E::to_wire).unwrap_or_default().into()
}

pub fn account(model: account::Model) -> pb::Account {
    let annual_value = model_money(&model).map(|m| pb::Money { amount_minor: m.amount_minor, currency: m.currency });
    let Stamps { create_time, update_time, etag } = Stamps::of(model.created_at, model.updated_at, model.version);
    pb::Account {
        tier: stored(AccountTier::from_key(&model.tier)),
        annual_value,
        address: Some(pb::Address {
            street: model.address_street,
            city: model.address_city,
            region: model.address_region,
            postal_code: model.address_postal_code,
            country: model.address_country,
        }),
        create_time,
        update_time,
        etag,
        id: model.id,
        name: model.name,
        industry: model.industry,
        notes: model.notes,
    }
}

pub fn contact(model: contact::Model) -> pb::Contact {
    let Stamps { create_time, update_time, etag } = Stamps::of(model.created_at, model.updated_at, model.version);
    pb::Contact {
        create_time,
        update_time,
        etag,
        id: model.id,
        account_id: model.account_id,
        name: model.name,
        email: model.email,
        phone: model.phone,
        title: model.title,
        portal_enabled: model.portal_enabled,
    }
}

pub fn staff_user(model: staff_user::Model) -> pb::StaffUser {
    let Stamps { create_time, update_time, etag } = Stamps::of(model.created_at, model.updated_at, model.version);
    pb::StaffUser {
        role: stored(StaffRole::from_key(&model.role)),
        create_time,
        update_time,
        etag,
        id: model.id,
        name: model.name,
        email: model.email,
        active: model.active,
        available: model.available,
        case_capacity: model.case_capacity,
        out_of_office: absences(&model.out_of_office)
            .into_iter()
            .map(|a| pb::OutOfOffice {
                start_time: Some(time::to_proto(a.start)),
                end_time: Some(time::to_proto(a.end)),
                note: a.note,
            })
            .collect(),
    }
}

pub fn team(record: TeamRecord) -> pb::Team {
    let Stamps { create_time, update_time, etag } =
        Stamps::of(record.team.created_at, record.team.updated_at, record.team.version);
    pb::Team {
        create_time,
        update_time,
        etag,
        id: record.team.id,
        name: record.team.name,
        description: record.team.description,
        requeue_on_absence: record.team.requeue_on_absence,
        keep_pending_on_absence: record.team.keep_pending_on_absence,
        member_ids: record.member_ids,
    }
}

pub fn case(record: CaseRecord) -> pb::Case {
    let status = stored(record.status().ok());
    let case = record.case;
    pb::Case {
        case_number: format_case_number(case.number),
        status,
        priority: stored(Priority::from_rank(case.priority)),
        channel: stored(Channel::from_key(&case.channel)),
        contacts: record
            .contacts
            .into_iter()
            .map(|c| pb::CaseContact { contact_id: c.contact_id.to_string(), primary: c.primary })
            .collect(),
        tags: record.tags,
        owner_id: case.owner_id.unwrap_or_default(),
        team_id: case.team_id.unwrap_or_default(),
        create_time: Some(time::to_proto(case.created_at)),
        update_time: Some(time::to_proto(case.updated_at)),
        first_response_time: time::to_proto_opt(case.first_response_at),
        resolved_time: time::to_proto_opt(case.resolved_at),
        closed_time: time::to_proto_opt(case.closed_at),
        etag: etag(case.version),
        id: case.id,
        subject: case.subject,
        description: case.description,
        type_id: case.type_id,
        account_id: case.account_id,
        service_contract_id: case.service_contract_id,
        service_contract_number: case.service_contract_number,
        asset_description: case.asset_description,
        asset_serial_number: case.asset_serial_number,
        resolution_summary: case.resolution_summary,
        created_by: case.created_by,
        web_form_id: case.web_form_id.unwrap_or_default(),
    }
}

pub fn activity(model: case_activity::Model) -> pb::Activity {
    let kind = ActivityKind::from_key(&model.kind);
    let direction = stored(Direction::from_key(&model.direction));
    pb::Activity {
        kind: stored(kind),
        visibility: stored(Visibility::from_key(&model.visibility)),
        call: (kind == Some(ActivityKind::Call))
            .then_some(pb::CallDetail { direction, duration_seconds: model.call_duration_seconds }),
        email: (kind == Some(ActivityKind::Email)).then(|| pb::EmailDetail {
            direction,
            from: model.email_from.clone(),
            to: model.email_to.lines().map(str::to_owned).collect(),
            subject: model.email_subject.clone(),
        }),
        create_time: Some(time::to_proto(model.created_at)),
        id: model.id,
        case_id: model.case_id,
        author: model.author,
        body: model.body,
        sequence: model.sequence,
    }
}

pub fn case_type(model: case_type::Model) -> pb::CaseType {
    pb::CaseType { id: model.id, name: model.name, active: model.active }
}

pub fn assignment_rule(model: assignment_rule::Model) -> pb::AssignmentRule {
    let rule = assignment_rule_of(&model);
    let Stamps { create_time, update_time, etag } = Stamps::of(model.created_at, model.updated_at, model.version);
    let (conditions, method) = match rule {
        Some(rule) => (rule.conditions, stored(Some(rule.method))),
        None => (Default::default(), 0),
    };
    pb::AssignmentRule {
        case_type_ids: conditions.case_type_ids,
        priorities: conditions.priorities.iter().map(|p| p.to_wire() as i32).collect(),
        channels: conditions.channels.iter().map(|c| c.to_wire() as i32).collect(),
        account_ids: conditions.account_ids,
        account_tiers: conditions.account_tiers.iter().map(|t| t.to_wire() as i32).collect(),
        web_form_ids: conditions.web_form_ids,
        tags: conditions.tags,
        subject_words: conditions.subject_words,
        method,
        create_time,
        update_time,
        etag,
        id: model.id,
        name: model.name,
        position: model.position,
        active: model.active,
        team_id: model.team_id.unwrap_or_default(),
        owner_id: model.owner_id.unwrap_or_default(),
        capacity: model.capacity,
    }
}

pub fn routing_settings(model: routing_settings::Model) -> pb::RoutingSettings {
    pb::RoutingSettings {
        default_team_id: model.default_team_id.unwrap_or_default(),
        update_time: (model.updated_at.timestamp() > 0).then(|| time::to_proto(model.updated_at)),
    }
}

pub fn escalation_rule(model: escalation_rule::Model) -> pb::EscalationRule {
    let rule = rule_of(&model);
    let Stamps { create_time, update_time, etag } = Stamps::of(model.created_at, model.updated_at, model.version);
    pb::EscalationRule {
        trigger: stored(rule.as_ref().map(|r| r.trigger)),
        target: stored(rule.as_ref().and_then(|r| r.target)),
        priorities: rule.as_ref().map(|r| r.priorities.iter().map(|p| p.to_wire() as i32).collect()).unwrap_or_default(),
        notify_staff_ids: rule.map(|r| r.notify_staff_ids).unwrap_or_default(),
        create_time,
        update_time,
        etag,
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
