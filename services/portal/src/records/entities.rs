//! The tables of the `portal` schema.

pub mod portal_user {
    use sea_orm::entity::prelude::*;

    /// A contact's portal access: credentials, manager flag, switch.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "portal_users")]
    pub struct Model {
        /// The contact's id in the case service.
        #[sea_orm(primary_key, auto_increment = false)]
        pub contact_id: String,
        pub account_id: String,
        /// Lower-cased, as the case service last told it.
        pub email: String,
        pub name: String,
        pub portal_manager: bool,
        pub enabled: bool,
        /// argon2id PHC string; none until the invitation is accepted.
        pub password_hash: Option<String>,
        /// Sessions record the epoch they were made in; raising it ends them all.
        pub session_epoch: i64,
        pub invited_at: DateTimeUtc,
        pub activated_at: Option<DateTimeUtc>,
        pub last_login_at: Option<DateTimeUtc>,
        pub password_changed_at: Option<DateTimeUtc>,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod portal_token {
    use sea_orm::entity::prelude::*;

    /// A one-time link: invitation or password reset. Only its digest is kept.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "portal_tokens")]
    pub struct Model {
        /// SHA-256 of the token, hex. Until the notification service asks
        /// for the secret it emails, the digest of one nobody knows.
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        /// What the link's event names it by (none for links made before).
        #[sea_orm(unique)]
        pub link_id: Option<String>,
        /// `invitation` or `password_reset`.
        pub purpose: String,
        pub contact_id: String,
        pub expires_at: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        /// Set when a newer token of the same purpose replaced it.
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod web_form {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "web_forms")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub slug: String,
        pub title: String,
        pub intro: String,
        /// JSON array of `domain::forms::FormField`.
        pub fields: String,
        pub case_type_id: String,
        /// `low`, `medium`, `high` or `critical`.
        pub priority: String,
        pub team_id: Option<String>,
        pub account_id: Option<String>,
        /// JSON array of origins.
        pub allowed_origins: String,
        pub success_message: String,
        pub active: bool,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod form_submission {
    use sea_orm::entity::prelude::*;

    /// One accepted submission and the case it opened: makes retries answer
    /// with the first case.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "form_submissions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub form_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub submission_id: String,
        /// Hash of the submitted values: the same id with other values is refused.
        pub request_hash: String,
        pub contact_id: String,
        pub case_id: String,
        pub case_number: String,
        pub client_ip: String,
        pub origin: String,
        pub created_at: DateTimeUtc,
        /// Digest of the link that confirms a submission naming a known
        /// customer's address; none when it needed no confirmation.
        #[sea_orm(unique)]
        pub confirm_token_hash: Option<String>,
        /// The address the link went to ("" when none did).
        pub confirm_email: String,
        pub confirm_expires_at: Option<DateTimeUtc>,
        pub confirmed_at: Option<DateTimeUtc>,
        /// What the confirmation's event names the link by.
        #[sea_orm(unique)]
        pub confirm_link_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use docket_kit::audit::entity as audit_entry;
