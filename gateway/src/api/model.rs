//! The JSON shapes of the REST API and their conversion to and from the
//! services' messages: the case service's here, the portal and billing
//! services' in the submodules. JSON rules: snake_case fields, enums as
//! lower-case words (`active_new`, `critical`), timestamps RFC 3339, money
//! as `{amount_minor, currency}`, a reference without a value is `null`.
//!
//! Inputs take every field as optional and leave the checking to the
//! service, so a request is judged by one set of rules whichever door it
//! came in by; the service's field violations name the JSON fields.

use chrono::{DateTime, Utc};
use docket_proto::case::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A JSON enum mirroring a proto enum (without its `_UNSPECIFIED` value).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident => $proto:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn to_proto(self) -> i32 {
                match self { $(Self::$variant => <$proto>::$variant as i32),+ }
            }

            /// `None` for the unspecified value (or one newer than this gateway).
            pub fn from_proto(value: i32) -> Option<Self> {
                match <$proto>::try_from(value).ok()? {
                    $(<$proto>::$variant => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

wire_enum!(
    /// How urgent a case is.
    CasePriority => pb::CasePriority { Low, Medium, High, Critical }
);
wire_enum!(
    /// Where a case stands in its status machine.
    CaseStatus => pb::CaseStatus { ActiveNew, ActiveAssigned, Pending, ClosedComplete, ClosedNoFault }
);
wire_enum!(
    /// How a case reached the support team.
    CaseChannel => pb::CaseChannel { Phone, Email, WebForm, Portal, Api }
);
wire_enum!(
    /// The order of a case list.
    CaseOrder => pb::CaseOrder { CreateTimeDesc, CreateTimeAsc, UpdateTimeDesc, PriorityDesc }
);
wire_enum!(
    /// What an activity records.
    ActivityKind => pb::ActivityKind { Note, Call, Email }
);
wire_enum!(
    /// Who may see an activity: `internal` is staff only.
    Visibility => pb::Visibility { Internal, Public }
);
wire_enum!(
    /// Whether a call or email came in or went out.
    Direction => pb::Direction { Inbound, Outbound }
);
wire_enum!(
    /// An account's service tier.
    AccountTier => pb::AccountTier { Standard, Premium, Enterprise }
);

/// A whole number in a body. JSON has one kind of number, and JSON Schema's
/// `integer` is any number without a fraction, so `100.0` is taken as 100
/// like `100`; `100.5` and numbers out of range are refused.
pub(crate) mod whole_number {
    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<i64>>(deserializer: D) -> Result<T, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        let whole = number.as_i64().or_else(|| {
            // Within ±2^53 every whole f64 is exact; beyond it, refuse rather than round.
            number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).map(|f| f as i64)
        });
        whole
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| D::Error::custom(format!("`{number}` is not a whole number in range")))
    }

    /// The same for an optional number: `null` (or, with `#[serde(default)]`, absent) is none.
    pub fn deserialize_option<'de, D: Deserializer<'de>, T: TryFrom<i64>>(deserializer: D) -> Result<Option<T>, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound(deserialize = "T: TryFrom<i64>"))]
        struct Whole<T>(#[serde(deserialize_with = "deserialize")] T);
        Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|Whole(n)| n))
    }
}

fn time(ts: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.as_ref().and_then(docket_kit::time::from_proto)
}

/// An empty reference is no reference.
fn reference(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn enum_or_unspecified<E>(value: Option<E>, to_proto: impl Fn(E) -> i32) -> i32 {
    value.map_or(0, to_proto)
}

// The shapes of the other services' resources, one module per area; they
// use the macro and helpers above.
pub mod forms;
pub mod kb;
pub mod portal_users;
pub mod reports;
pub mod routing;
pub mod sla;

/// A contact linked to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseContact {
    pub contact_id: String,
    /// Exactly one contact of a case is primary.
    #[serde(default)]
    pub primary: bool,
}

impl From<pb::CaseContact> for CaseContact {
    fn from(c: pb::CaseContact) -> Self {
        Self { contact_id: c.contact_id, primary: c.primary }
    }
}

impl From<CaseContact> for pb::CaseContact {
    fn from(c: CaseContact) -> Self {
        Self { contact_id: c.contact_id, primary: c.primary }
    }
}

/// A customer problem, from creation to its closing resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Case {
    pub id: String,
    /// For people: `C-000123`. Unique and increasing.
    pub case_number: String,
    pub subject: String,
    pub description: String,
    /// Key of a case type, e.g. `technical_issue`.
    pub type_id: Option<String>,
    pub priority: Option<CasePriority>,
    pub status: Option<CaseStatus>,
    pub channel: Option<CaseChannel>,
    pub account_id: String,
    pub contacts: Vec<CaseContact>,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub service_contract_id: Option<String>,
    pub service_contract_number: Option<String>,
    pub asset_description: String,
    pub asset_serial_number: String,
    pub resolution_summary: String,
    pub tags: Vec<String>,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    pub first_response_time: Option<DateTime<Utc>>,
    pub resolved_time: Option<DateTime<Utc>>,
    pub closed_time: Option<DateTime<Utc>>,
    /// Who created it: `staff:<id>` or `<role>:<token name>`.
    pub created_by: String,
    /// Changes on every change; send it back in `If-Match`.
    pub etag: String,
    /// The web form it came in through.
    pub web_form_id: Option<String>,
}

impl From<pb::Case> for Case {
    fn from(c: pb::Case) -> Self {
        Self {
            id: c.id,
            case_number: c.case_number,
            subject: c.subject,
            description: c.description,
            type_id: reference(c.type_id),
            priority: CasePriority::from_proto(c.priority),
            status: CaseStatus::from_proto(c.status),
            channel: CaseChannel::from_proto(c.channel),
            account_id: c.account_id,
            contacts: c.contacts.into_iter().map(Into::into).collect(),
            owner_id: reference(c.owner_id),
            team_id: reference(c.team_id),
            service_contract_id: reference(c.service_contract_id),
            service_contract_number: reference(c.service_contract_number),
            asset_description: c.asset_description,
            asset_serial_number: c.asset_serial_number,
            resolution_summary: c.resolution_summary,
            tags: c.tags,
            create_time: time(c.create_time),
            update_time: time(c.update_time),
            first_response_time: time(c.first_response_time),
            resolved_time: time(c.resolved_time),
            closed_time: time(c.closed_time),
            created_by: c.created_by,
            etag: c.etag,
            web_form_id: reference(c.web_form_id),
        }
    }
}

/// The fields of a case that a create sets or an update changes. On create,
/// `subject` and `account_id` are required; on update, every field present
/// is changed and every field absent is kept (send `""` to clear a text or
/// a reference).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseFields {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub type_id: Option<String>,
    pub priority: Option<CasePriority>,
    pub channel: Option<CaseChannel>,
    pub account_id: Option<String>,
    pub contacts: Option<Vec<CaseContact>>,
    /// Create only: a case created with an owner starts Active – Assigned.
    /// To change the owner later use `POST /cases/{id}/assign`.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub service_contract_id: Option<String>,
    pub service_contract_number: Option<String>,
    pub asset_description: Option<String>,
    pub asset_serial_number: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Update only: why, for the audit trail.
    pub reason: Option<String>,
}

impl CaseFields {
    /// The case message, and the field mask of the fields present.
    pub fn into_proto(self) -> (pb::Case, Vec<String>) {
        let mut mask = Vec::new();
        let mut present = |name: &str, is: bool| {
            if is {
                mask.push(name.to_owned());
            }
        };
        present("subject", self.subject.is_some());
        present("description", self.description.is_some());
        present("type_id", self.type_id.is_some());
        present("priority", self.priority.is_some());
        present("channel", self.channel.is_some());
        present("account_id", self.account_id.is_some());
        present("contacts", self.contacts.is_some());
        present("owner_id", self.owner_id.is_some());
        present("team_id", self.team_id.is_some());
        present("service_contract_id", self.service_contract_id.is_some());
        present("service_contract_number", self.service_contract_number.is_some());
        present("asset_description", self.asset_description.is_some());
        present("asset_serial_number", self.asset_serial_number.is_some());
        present("tags", self.tags.is_some());
        let case = pb::Case {
            subject: self.subject.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            type_id: self.type_id.unwrap_or_default(),
            priority: enum_or_unspecified(self.priority, CasePriority::to_proto),
            channel: enum_or_unspecified(self.channel, CaseChannel::to_proto),
            account_id: self.account_id.unwrap_or_default(),
            contacts: self.contacts.unwrap_or_default().into_iter().map(Into::into).collect(),
            owner_id: self.owner_id.unwrap_or_default(),
            team_id: self.team_id.unwrap_or_default(),
            service_contract_id: self.service_contract_id.unwrap_or_default(),
            service_contract_number: self.service_contract_number.unwrap_or_default(),
            asset_description: self.asset_description.unwrap_or_default(),
            asset_serial_number: self.asset_serial_number.unwrap_or_default(),
            tags: self.tags.unwrap_or_default(),
            ..Default::default()
        };
        (case, mask)
    }
}

/// A page of cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CasePage {
    pub cases: Vec<Case>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    pub next_page_token: Option<String>,
    /// How many match over every page; only with `include_total_size=true`.
    pub total_size: Option<i64>,
}

/// Filters and paging of `GET /cases`. Lists repeat the parameter
/// (`?status=active_new&status=pending`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// Any of these statuses.
    #[serde(default)]
    pub status: Vec<CaseStatus>,
    /// Any of these priorities.
    #[serde(default)]
    pub priority: Vec<CasePriority>,
    pub type_id: Option<String>,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Case-insensitive text in subject or description.
    pub text: Option<String>,
    /// Newest first unless told otherwise.
    pub order_by: Option<CaseOrder>,
    /// Only cases without an owner.
    pub unassigned_only: Option<bool>,
    pub tag: Option<String>,
    /// Also count every match (`total_size`).
    pub include_total_size: Option<bool>,
}

impl From<CaseQuery> for pb::ListCasesRequest {
    fn from(q: CaseQuery) -> Self {
        Self {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            statuses: q.status.into_iter().map(CaseStatus::to_proto).collect(),
            priorities: q.priority.into_iter().map(CasePriority::to_proto).collect(),
            type_id: q.type_id.unwrap_or_default(),
            owner_id: q.owner_id.unwrap_or_default(),
            team_id: q.team_id.unwrap_or_default(),
            account_id: q.account_id.unwrap_or_default(),
            contact_id: q.contact_id.unwrap_or_default(),
            created_after: q.created_after.map(docket_kit::time::to_proto),
            created_before: q.created_before.map(docket_kit::time::to_proto),
            text: q.text.unwrap_or_default(),
            order_by: enum_or_unspecified(q.order_by, CaseOrder::to_proto),
            unassigned_only: q.unassigned_only.unwrap_or_default(),
            tag: q.tag.unwrap_or_default(),
            include_total_size: q.include_total_size.unwrap_or_default(),
        }
    }
}

/// Paging of a list without filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// Sets or clears the owner of a case.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignCase {
    /// The new owner (a staff user id); `""` or absent clears the owner.
    #[serde(default)]
    pub owner_id: String,
    /// Optional: also move the case to this team.
    #[serde(default)]
    pub team_id: String,
    /// Why, for the audit trail.
    #[serde(default)]
    pub reason: String,
}

/// Moves a case between the active statuses (`active_assigned` and `pending`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCaseStatus {
    pub status: CaseStatus,
    #[serde(default)]
    pub reason: String,
}

/// Closes a case with its resolution.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseCase {
    /// `closed_complete` or `closed_no_fault`.
    pub status: CaseStatus,
    #[serde(default)]
    pub resolution_summary: String,
    #[serde(default)]
    pub reason: String,
}

/// Reopens a closed case.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenCase {
    /// Required: why the case is open again.
    #[serde(default)]
    pub reason: String,
}

/// Direction and length of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallDetail {
    pub direction: Option<Direction>,
    #[serde(default, deserialize_with = "whole_number::deserialize")]
    pub duration_seconds: i32,
}

/// Envelope of an email activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailDetail {
    pub direction: Option<Direction>,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub subject: String,
}

impl From<pb::CallDetail> for CallDetail {
    fn from(c: pb::CallDetail) -> Self {
        Self { direction: Direction::from_proto(c.direction), duration_seconds: c.duration_seconds }
    }
}

impl From<CallDetail> for pb::CallDetail {
    fn from(c: CallDetail) -> Self {
        Self { direction: enum_or_unspecified(c.direction, Direction::to_proto), duration_seconds: c.duration_seconds }
    }
}

impl From<pb::EmailDetail> for EmailDetail {
    fn from(e: pb::EmailDetail) -> Self {
        Self { direction: Direction::from_proto(e.direction), from: e.from, to: e.to, subject: e.subject }
    }
}

impl From<EmailDetail> for pb::EmailDetail {
    fn from(e: EmailDetail) -> Self {
        Self { direction: enum_or_unspecified(e.direction, Direction::to_proto), from: e.from, to: e.to, subject: e.subject }
    }
}

/// One entry of a case's timeline: a note, call or email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    pub id: String,
    pub case_id: String,
    pub kind: Option<ActivityKind>,
    pub visibility: Option<Visibility>,
    /// Who added it.
    pub author: String,
    pub body: String,
    pub call: Option<CallDetail>,
    pub email: Option<EmailDetail>,
    pub create_time: Option<DateTime<Utc>>,
    /// Position in the case's timeline, from 1.
    pub sequence: i64,
}

impl From<pb::Activity> for Activity {
    fn from(a: pb::Activity) -> Self {
        Self {
            id: a.id,
            case_id: a.case_id,
            kind: ActivityKind::from_proto(a.kind),
            visibility: Visibility::from_proto(a.visibility),
            author: a.author,
            body: a.body,
            call: a.call.map(Into::into),
            email: a.email.map(Into::into),
            create_time: time(a.create_time),
            sequence: a.sequence,
        }
    }
}

/// A new activity on a case.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    pub kind: Option<ActivityKind>,
    /// Absent: notes and calls are internal, emails public.
    pub visibility: Option<Visibility>,
    #[serde(default)]
    pub body: String,
    /// Calls only.
    pub call: Option<CallDetail>,
    /// Emails only.
    pub email: Option<EmailDetail>,
}

impl NewActivity {
    pub fn into_proto(self, case_id: String) -> pb::Activity {
        pb::Activity {
            case_id,
            kind: enum_or_unspecified(self.kind, ActivityKind::to_proto),
            visibility: enum_or_unspecified(self.visibility, Visibility::to_proto),
            body: self.body,
            call: self.call.map(Into::into),
            email: self.email.map(Into::into),
            ..Default::default()
        }
    }
}

/// A page of a case's activities, in the order they happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActivityPage {
    pub activities: Vec<Activity>,
    pub next_page_token: Option<String>,
}

/// Paging of a case's activities.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
    /// Only public activities (what a customer may see).
    pub public_only: Option<bool>,
}

/// One changed field in a record's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// `account`, `contact`, `case`, ...
    pub record_type: String,
    pub record_id: String,
    /// Who made the change: `staff:<id>` or `<role>:<token name>`.
    pub actor: String,
    pub time: Option<DateTime<Utc>>,
    pub field: String,
    pub old_value: String,
    pub new_value: String,
    pub reason: String,
}

impl From<pb::AuditEntry> for AuditEntry {
    fn from(e: pb::AuditEntry) -> Self {
        Self {
            id: e.id,
            record_type: e.record_type,
            record_id: e.record_id,
            actor: e.actor,
            time: time(e.time),
            field: e.field,
            old_value: e.old_value,
            new_value: e.new_value,
            reason: e.reason,
        }
    }
}

/// A page of a record's audit trail, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryPage {
    pub entries: Vec<AuditEntry>,
    pub next_page_token: Option<String>,
}

impl From<pb::ListHistoryResponse> for HistoryPage {
    fn from(r: pb::ListHistoryResponse) -> Self {
        Self { entries: r.entries.into_iter().map(Into::into).collect(), next_page_token: reference(r.next_page_token) }
    }
}

/// An amount of money in integer minor units (cents) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[serde(deserialize_with = "whole_number::deserialize")]
    pub amount_minor: i64,
    /// Three upper-case letters, e.g. `EUR`.
    pub currency: String,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
}

impl From<pb::Money> for Money {
    fn from(m: pb::Money) -> Self {
        Self { amount_minor: m.amount_minor, currency: m.currency }
    }
}

impl From<Money> for pb::Money {
    fn from(m: Money) -> Self {
        Self { amount_minor: m.amount_minor, currency: m.currency }
    }
}

impl From<pb::Address> for Address {
    fn from(a: pb::Address) -> Self {
        Self { street: a.street, city: a.city, region: a.region, postal_code: a.postal_code, country: a.country }
    }
}

impl From<Address> for pb::Address {
    fn from(a: Address) -> Self {
        Self { street: a.street, city: a.city, region: a.region, postal_code: a.postal_code, country: a.country }
    }
}

/// A customer: a company, household or citizen that cases belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub tier: Option<AccountTier>,
    pub annual_value: Option<Money>,
    pub address: Option<Address>,
    pub notes: String,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    /// Changes on every change; send it back in `If-Match`.
    pub etag: String,
}

impl From<pb::Account> for Account {
    fn from(a: pb::Account) -> Self {
        Self {
            id: a.id,
            name: a.name,
            industry: a.industry,
            tier: AccountTier::from_proto(a.tier),
            annual_value: a.annual_value.map(Into::into),
            address: a.address.map(Into::into),
            notes: a.notes,
            create_time: time(a.create_time),
            update_time: time(a.update_time),
            etag: a.etag,
        }
    }
}

/// The fields of an account a create sets or an update changes (on update,
/// only the fields present; `name` is required on create).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountFields {
    pub name: Option<String>,
    pub industry: Option<String>,
    pub tier: Option<AccountTier>,
    pub annual_value: Option<Money>,
    pub address: Option<Address>,
    pub notes: Option<String>,
    /// Update only: why, for the audit trail.
    pub reason: Option<String>,
}

impl AccountFields {
    pub fn into_proto(self) -> (pb::Account, Vec<String>) {
        let mask = [
            ("name", self.name.is_some()),
            ("industry", self.industry.is_some()),
            ("tier", self.tier.is_some()),
            ("annual_value", self.annual_value.is_some()),
            ("address", self.address.is_some()),
            ("notes", self.notes.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect();
        let account = pb::Account {
            name: self.name.unwrap_or_default(),
            industry: self.industry.unwrap_or_default(),
            tier: enum_or_unspecified(self.tier, AccountTier::to_proto),
            annual_value: self.annual_value.map(Into::into),
            address: self.address.map(Into::into),
            notes: self.notes.unwrap_or_default(),
            ..Default::default()
        };
        (account, mask)
    }
}

/// A page of accounts, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub next_page_token: Option<String>,
    /// How many match over every page; only with `include_total_size=true`.
    pub total_size: Option<i64>,
}

/// Filters and paging of `GET /accounts`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
    /// Matches names case-insensitively.
    pub query: Option<String>,
    pub industry: Option<String>,
    pub tier: Option<AccountTier>,
    /// Also count every match (`total_size`).
    pub include_total_size: Option<bool>,
}

impl From<AccountQuery> for pb::ListAccountsRequest {
    fn from(q: AccountQuery) -> Self {
        Self {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            query: q.query.unwrap_or_default(),
            industry: q.industry.unwrap_or_default(),
            tier: enum_or_unspecified(q.tier, AccountTier::to_proto),
            include_total_size: q.include_total_size.unwrap_or_default(),
        }
    }
}

/// A person of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// Unique, compared case-insensitively.
    pub email: String,
    pub phone: String,
    pub title: String,
    /// Whether this contact may use the customer portal.
    pub portal_enabled: bool,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    /// Changes on every change; send it back in `If-Match`.
    pub etag: String,
}

impl From<pb::Contact> for Contact {
    fn from(c: pb::Contact) -> Self {
        Self {
            id: c.id,
            account_id: c.account_id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            title: c.title,
            portal_enabled: c.portal_enabled,
            create_time: time(c.create_time),
            update_time: time(c.update_time),
            etag: c.etag,
        }
    }
}

/// The fields of a contact a create sets or an update changes (on update,
/// only the fields present; `account_id` and `name` are required on create).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactFields {
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub portal_enabled: Option<bool>,
    /// Update only: why, for the audit trail.
    pub reason: Option<String>,
}

impl ContactFields {
    pub fn into_proto(self) -> (pb::Contact, Vec<String>) {
        let mask = [
            ("account_id", self.account_id.is_some()),
            ("name", self.name.is_some()),
            ("email", self.email.is_some()),
            ("phone", self.phone.is_some()),
            ("title", self.title.is_some()),
            ("portal_enabled", self.portal_enabled.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect();
        let contact = pb::Contact {
            account_id: self.account_id.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            email: self.email.unwrap_or_default(),
            phone: self.phone.unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            portal_enabled: self.portal_enabled.unwrap_or_default(),
            ..Default::default()
        };
        (contact, mask)
    }
}

/// A page of contacts, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ContactPage {
    pub contacts: Vec<Contact>,
    pub next_page_token: Option<String>,
    /// How many match over every page; only with `include_total_size=true`.
    pub total_size: Option<i64>,
}

/// Filters and paging of `GET /contacts`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    pub page_token: Option<String>,
    /// Matches name or email case-insensitively.
    pub query: Option<String>,
    pub account_id: Option<String>,
    /// Also count every match (`total_size`).
    pub include_total_size: Option<bool>,
}

impl From<ContactQuery> for pb::ListContactsRequest {
    fn from(q: ContactQuery) -> Self {
        Self {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            query: q.query.unwrap_or_default(),
            account_id: q.account_id.unwrap_or_default(),
            include_total_size: q.include_total_size.unwrap_or_default(),
        }
    }
}

/// Wraps a list answer's token: empty means the last page.
pub fn next_page(token: String) -> Option<String> {
    reference(token)
}
