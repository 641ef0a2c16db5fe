//! The knowledge base's rules, free of storage and wire formats.

pub mod articles;
pub mod attachments;
pub mod categories;
pub mod deflection;
pub mod markdown;
pub mod redaction;
pub mod search;
pub mod slug;

docket_kit::record_ids!(CategoryId, ArticleId);
