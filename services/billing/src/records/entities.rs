//! sea-orm entities of the `billing` schema (see migrations/src/billing).

pub use docket_kit::audit::entity as audit_entry;

pub mod sla_policy {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sla_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub description: String,
        pub time_zone: String,
        /// JSON lists: [{weekday, start, end}], ["2026-12-25"], [{priority, ...}].
        pub working_hours: String,
        pub holidays: String,
        pub targets: String,
        pub pause_while_pending: bool,
        pub warn_at_percent: i32,
        pub is_default: bool,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod service_contract {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_contracts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub contract_number: String,
        pub account_id: String,
        pub name: String,
        pub contract_type: String,
        /// As stored: draft, active, expired, cancelled (see `ContractStatus::effective`).
        pub status: String,
        pub start_date: String,
        pub end_date: String,
        pub sla_policy_id: Option<String>,
        pub currency: String,
        pub hourly_rate_minor: i64,
        pub tax_rate_bp: i32,
        pub description: String,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod covered_asset {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "covered_assets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub contract_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i32,
        pub description: String,
        pub serial_number: String,
        pub serial_key: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sub_contract {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sub_contracts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub contract_id: String,
        pub name: String,
        /// "money" (minor units of the contract's currency) or "hours" (minutes).
        pub balance_kind: String,
        pub balance: i64,
        pub allow_overdraft: bool,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ledger_entry {
    use sea_orm::entity::prelude::*;

    /// One credit or debit of a sub-contract's balance; never changed.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ledger_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub sub_contract_id: String,
        /// "credit" or "debit".
        pub kind: String,
        /// Signed: credits positive, debits negative.
        pub amount: i64,
        pub balance_after: i64,
        pub case_id: Option<String>,
        pub description: String,
        pub actor: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod case_clock {
    use sea_orm::entity::prelude::*;

    /// What the billing service knows of a case for its SLA: a projection of
    /// the case service's events, and where the scheduler stands.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_clocks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: String,
        pub case_number: String,
        pub account_id: String,
        pub contract_id: Option<String>,
        pub sla_policy_id: Option<String>,
        pub resolve_policy: bool,
        /// 1 Low .. 4 Critical.
        pub priority: i16,
        /// The case status key, e.g. "pending".
        pub status: String,
        pub case_version: i64,
        pub opened_at: DateTimeUtc,
        pub first_response_at: Option<DateTimeUtc>,
        pub closed_at: Option<DateTimeUtc>,
        pub status_log: String,
        pub first_response_warn_at: Option<DateTimeUtc>,
        pub first_response_due: Option<DateTimeUtc>,
        pub resolution_warn_at: Option<DateTimeUtc>,
        pub resolution_due: Option<DateTimeUtc>,
        pub next_due_at: Option<DateTimeUtc>,
        pub first_response_warned: bool,
        pub first_response_breached: bool,
        pub resolution_warned: bool,
        pub resolution_breached: bool,
        pub first_response_outcome: String,
        pub resolution_outcome: String,
        pub next_check_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod booked_hours {
    use sea_orm::entity::prelude::*;

    /// Time a staff user spent on a case or an internal project.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "booked_hours")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub staff_id: String,
        pub case_id: Option<String>,
        pub project_code: Option<String>,
        pub work_date: String,
        pub minutes: i32,
        pub billable: bool,
        pub rate_minor: i64,
        pub currency: String,
        pub description: String,
        pub invoice_id: Option<String>,
        pub ledger_entry_id: Option<String>,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod service_part {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_parts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub case_id: String,
        pub part_number: String,
        pub description: String,
        pub quantity_milli: i64,
        pub unit_price_minor: i64,
        pub currency: String,
        pub billable: bool,
        pub invoice_id: Option<String>,
        pub ledger_entry_id: Option<String>,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod timesheet {
    use sea_orm::entity::prelude::*;

    /// A submitted week or month of a staff user's hours (open ones have no row).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "timesheets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub staff_id: String,
        pub period: String,
        pub period_start: String,
        pub period_end: String,
        pub status: String,
        pub submitted_by: String,
        pub submitted_at: DateTimeUtc,
        pub reviewed_by: String,
        pub reviewed_at: Option<DateTimeUtc>,
        pub review_note: String,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invoice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub invoice_number: Option<String>,
        pub case_id: String,
        pub account_id: String,
        pub contract_id: Option<String>,
        /// draft, issued, paid, void
        pub status: String,
        pub currency: String,
        pub net_minor: i64,
        pub tax_rate_bp: i32,
        pub tax_minor: i64,
        pub gross_minor: i64,
        pub created_at: DateTimeUtc,
        pub issued_at: Option<DateTimeUtc>,
        pub paid_at: Option<DateTimeUtc>,
        pub voided_at: Option<DateTimeUtc>,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invoice_line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub invoice_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i32,
        /// hours or part
        pub source: String,
        pub source_id: String,
        pub description: String,
        pub amount_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
