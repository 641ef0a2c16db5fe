//! sea-orm entities of the `notification` schema (see
//! migrations/src/notification).

/// The admin's settings: one row (id 1) once first saved; event types are
/// JSON arrays.
pub mod settings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub contact_event_types: String,
        pub owner_event_types: String,
        pub team_event_types: String,
        pub sender_address: String,
        pub sender_name: String,
        pub digest_window_seconds: i32,
        pub portal_base_url: String,
        pub version: i64,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An admin's template of an event type; none while it is the default.
pub mod template {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_type: String,
        pub subject: String,
        pub body: String,
        pub updated_by: String,
        pub version: i64,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A contact's choice about notification emails; none until first set.
pub mod opt_out {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "contact_opt_outs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: String,
        pub opted_out: bool,
        pub version: i64,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The delivery log: one row per email to one recipient about one event.
pub mod delivery {
    use sea_orm::entity::prelude::*;

    /// The stored values of `status`.
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const FAILED: &str = "failed";
    pub const MERGED: &str = "merged";

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub event_id: String,
        pub event_type: String,
        pub case_id: String,
        pub case_number: String,
        pub recipient: String,
        pub recipient_name: String,
        pub recipient_kind: String,
        pub subject: String,
        pub body: String,
        /// [`PENDING`], [`SENT`], [`FAILED`] or [`MERGED`].
        pub status: String,
        pub attempts: i32,
        pub last_error: String,
        pub message_id: String,
        /// Due time; while leased, when the lease ends.
        pub not_before: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub sent_at: Option<DateTimeUtc>,
        /// The mailer sending it now ([`super::mailer_instance`]), if any.
        pub leased_by: Option<String>,
        /// The W3C trace of the change that caused it: sending it joins that trace.
        pub traceparent: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A running mailer, and when it was last seen alive: the leases of one
/// not seen for a while are free again.
pub mod mailer_instance {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mailer_instances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub seen_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use docket_kit::audit::entity as audit_entry;
