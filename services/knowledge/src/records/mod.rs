//! The tables of the knowledge service, as sea-orm entities, and how the
//! mutation runner writes them.

pub mod entities;

use self::entities::{article, category, draft_proposal};

docket_kit::versioned_record!(
    category,
    "category",
    name = |m| m.slug.clone(),
    taken = |m| ("category.slug".to_owned(), format!("a category already has the slug {}", m.slug)),
);

docket_kit::versioned_record!(
    article,
    "article",
    name = |m| m.slug.clone(),
    taken = |m| ("article.slug".to_owned(), format!("an article already has the slug {}", m.slug)),
);

/// A JSON array of strings as stored in a text column.
pub fn strings_json(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

/// The strings of a JSON array column. A damaged column reads as empty
/// (and is logged): a list of tags is not worth failing a read over.
pub fn strings_of(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_else(|err| {
        tracing::error!(%err, "a stored list is not a JSON array of strings");
        Vec::new()
    })
}

docket_kit::versioned_record!(draft_proposal, "draft_proposal", name = |m| m.case_number.clone(); untimed);
