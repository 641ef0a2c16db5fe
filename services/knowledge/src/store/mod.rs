//! The knowledge service's commands and queries on its records. Every
//! change goes through the kit's mutation runner, so it writes its audit
//! rows and events in its own transaction.

mod articles;
mod attachments;
mod categories;
mod deflection;
mod links;
mod proposals;
mod readers;
mod search;

pub use self::articles::{ArticleFilter, ArticleUpdate, Lookup, Stored};
pub use self::attachments::Upload;
pub use self::categories::CategoryUpdate;
pub use self::deflection::{DeflectionCounts, DeflectionEvent};
pub use self::links::CaseCursor;
pub use self::proposals::Decision;
pub use self::search::{
    Hit, Results, SearchFilter, add_vocabulary, index_article, postgres_alike_statement, postgres_search_statement, vocabulary_of,
};

docket_kit::service_store!(
    /// The knowledge service's database. Cheap to clone.
    pub struct Store, source = crate::SERVICE
);

pub use docket_kit::audit::{Actor, Changes as Trail};
