//! Validated commands: what the gRPC adapter hands the store once a request
//! has been parsed. Every value here has passed its checks.

use docket_kit::{mask_fields, request::UpdateTarget};

use super::routing::Absence;
use super::{
    AccountId, AccountTier, ActivityKind, CaseId, Channel, ContactId, Direction, Priority, StaffId, StaffRole, TeamId, Visibility,
};

/// Longest texts, in characters.
pub const NAME_MAX: usize = 200;
pub const SHORT_TEXT_MAX: usize = 200;
pub const SUBJECT_MAX: usize = 250;
pub const LONG_TEXT_MAX: usize = 20_000;
pub const TAG_MAX: usize = 50;
pub const TAGS_MAX: usize = 20;
pub const CONTACTS_MAX: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFields {
    pub name: String,
    pub industry: String,
    pub tier: AccountTier,
    pub annual_value: Option<Money>,
    pub address: Address,
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFields {
    pub account_id: AccountId,
    pub name: String,
    /// As written; compared lower-cased.
    pub email: String,
    pub phone: String,
    pub title: String,
    pub portal_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffFields {
    pub name: String,
    pub email: String,
    pub role: StaffRole,
    pub active: bool,
    pub available: bool,
    /// 0: the capacity rule's limit.
    pub case_capacity: i32,
    pub out_of_office: Vec<Absence>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamFields {
    pub name: String,
    pub description: String,
    pub requeue_on_absence: bool,
    pub keep_pending_on_absence: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseContactRef {
    pub contact_id: ContactId,
    pub primary: bool,
}

/// The descriptive fields of a case: what CreateCase sets and UpdateCase may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFields {
    pub subject: String,
    pub description: String,
    pub type_id: String,
    pub priority: Priority,
    pub channel: Channel,
    pub account_id: AccountId,
    /// Exactly one is primary when there are any.
    pub contacts: Vec<CaseContactRef>,
    pub team_id: Option<TeamId>,
    pub service_contract_id: String,
    pub service_contract_number: String,
    pub asset_description: String,
    pub asset_serial_number: String,
    /// Lower-cased, unique, sorted.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    pub fields: CaseFields,
    pub owner_id: Option<StaffId>,
    /// The portal web form it came in through.
    pub web_form_id: Option<uuid::Uuid>,
    /// Who sent it through a public door, named only by an address. The
    /// case's account is then the unassigned one, which the caller reads
    /// (or makes) first; a new contact without an account of its own goes there.
    pub sender: Option<CaseSender>,
}

/// The sender of a case that came through a public door (see `Sender` in
/// cases.proto): found or created as a contact in the case's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSender {
    /// Name, email and phone of a new contact (its account is not read).
    pub person: ContactFields,
    /// Where a new contact goes; `None`: the unassigned account.
    pub contact_account_id: Option<AccountId>,
    /// The unassigned account's name.
    pub unassigned: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    pub case_id: CaseId,
    pub kind: ActivityKind,
    pub visibility: Visibility,
    pub body: String,
    pub direction: Direction,
    pub call_duration_seconds: i32,
    pub email_from: String,
    pub email_to: Vec<String>,
    pub email_subject: String,
}

pub use docket_kit::idempotency::Idempotency;

mask_fields!(
    /// What UpdateAccount may change.
    pub enum AccountField {
        Name,
        Industry,
        Tier,
        AnnualValue,
        Address,
        Notes,
    }
);

mask_fields!(
    /// What UpdateContact may change.
    pub enum ContactField {
        AccountId,
        Name,
        Email,
        Phone,
        Title,
        PortalEnabled,
    }
);

mask_fields!(
    /// What UpdateStaffUser may change.
    pub enum StaffField {
        Name,
        Email,
        Role,
        Active,
        Available,
        CaseCapacity,
        OutOfOffice,
    }
);

mask_fields!(
    /// What UpdateTeam may change.
    pub enum TeamField {
        Name,
        Description,
        RequeueOnAbsence,
        KeepPendingOnAbsence,
    }
);

mask_fields!(
    /// The descriptive fields of a case: what UpdateCase may change (status,
    /// owner and resolution change only through their verbs).
    pub enum CaseField {
        Subject,
        Description,
        TypeId,
        Priority,
        Channel,
        AccountId,
        Contacts,
        TeamId,
        ServiceContractId,
        ServiceContractNumber,
        AssetDescription,
        AssetSerialNumber,
        Tags,
    }
);

mask_fields!(
    /// What UpdateCaseType may change.
    pub enum CaseTypeField {
        Name,
        Active,
    }
);

pub type AccountUpdate = UpdateTarget<AccountId, AccountField>;
pub type ContactUpdate = UpdateTarget<ContactId, ContactField>;
pub type StaffUpdate = UpdateTarget<StaffId, StaffField>;
pub type TeamUpdate = UpdateTarget<TeamId, TeamField>;
pub type CaseUpdate = UpdateTarget<CaseId, CaseField>;
