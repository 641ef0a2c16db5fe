//! The knowledge base's rules, free of storage and wire formats.

pub mod markdown;
pub mod redaction;
pub mod slug;
