//! sea-orm entities of the `knowledge` schema (migrations/src/knowledge).

pub mod category {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "categories")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slug: String,
        pub name: String,
        pub description: String,
        pub parent_id: Option<String>,
        pub position: i32,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An article's working copy and where it stands; its published versions
/// are `article_version` rows.
pub mod article {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "articles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slug: String,
        pub title: String,
        pub summary: String,
        pub body_markdown: String,
        pub locale: String,
        pub category_id: Option<String>,
        /// JSON array of strings.
        pub tags: String,
        /// JSON array of article ids.
        pub related_article_ids: String,
        pub audience: String,
        pub owner_id: String,
        pub state: String,
        pub draft_pending: bool,
        pub live_version: Option<i32>,
        pub versions: i32,
        pub publish_at: Option<DateTimeUtc>,
        pub submitted_by: Option<String>,
        pub view_count: i64,
        pub helpful_count: i64,
        pub not_helpful_count: i64,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A published version: frozen, never changed.
pub mod article_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "article_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub article_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub title: String,
        pub summary: String,
        pub body_markdown: String,
        pub body_html: String,
        pub tags: String,
        pub author_id: String,
        pub published_by: String,
        pub published_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A reader's answer to "did this help?".
pub mod article_feedback {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "article_feedback")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub article_id: String,
        pub helpful: bool,
        pub comment: String,
        pub reader: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A file on an article; its bytes are the `blob` of its digest.
pub mod attachment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attachments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub article_id: String,
        pub file_name: String,
        pub content_type: String,
        pub size: i64,
        pub digest: String,
        pub uploaded_by: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Bytes stored once per SHA-256 digest, whatever the files holding them are called.
pub mod blob {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "blobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        pub size: i64,
        pub content: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A draft proposed from a closed case, redacted, waiting for staff.
pub mod draft_proposal {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "draft_proposals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub case_id: String,
        pub case_number: String,
        pub title: String,
        pub body_markdown: String,
        /// JSON: [{kind, count}].
        pub redactions: String,
        pub existing_article_id: Option<String>,
        /// open, accepted or dismissed.
        pub state: String,
        /// The draft an accepted proposal became (or the article it pointed at).
        pub article_id: Option<String>,
        pub decided_by: Option<String>,
        pub decided_at: Option<DateTimeUtc>,
        pub version: i64,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A case an article helped solve.
pub mod article_case_link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "article_case_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub article_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: String,
        pub linked_by: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One thing a reader did with suggested articles (see
/// `domain::deflection`). Written once per (session, kind, article).
pub mod deflection_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deflection_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        /// `suggestions_shown`, `article_opened`, `solved` or `case_opened`.
        pub kind: String,
        /// `portal` or a web form's slug.
        pub source: String,
        pub article_id: Option<String>,
        pub occurred_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
