//! The tables of the knowledge service, as sea-orm entities, and how the
//! mutation runner writes them.

pub mod entities;

use self::entities::category;

docket_kit::versioned_record!(
    category,
    "category",
    name = |m| m.slug.clone(),
    taken = |m| ("category.slug".to_owned(), format!("a category already has the slug {}", m.slug)),
);
