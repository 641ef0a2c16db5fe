//! Demo data for `docket dev`: the help center's categories, so the tree is
//! never empty on first start. (Demo articles come with the articles.)

use docket_kit::{audit::Actor, mutation::Once};

use crate::{domain::categories::CategoryFields, store::Store};

/// (name, description) of each top-level demo category, in order.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("Getting started", "Your account, the portal and how to reach us."),
    ("Printers & scanners", "Paper jams, toner, drivers and error codes."),
    ("Billing & invoices", "Contracts, prepaid hours and reading an invoice."),
    ("Accounts & access", "Logins, passwords and who may see what."),
];

/// Files the demo categories unless there are categories already; whether it did.
pub async fn seed(store: &Store) -> Result<bool, docket_kit::Error> {
    if !store.list_categories().await?.is_empty() {
        return Ok(false);
    }
    let by = Actor { actor: "system:dev", reason: "demo data", at: docket_kit::time::now() };
    for (position, (name, description)) in CATEGORIES.iter().enumerate() {
        let fields = CategoryFields {
            slug: crate::domain::slug::slugify(name),
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            parent_id: None,
            position: i32::try_from(position).unwrap_or(i32::MAX),
        };
        store.create_category(fields, &by, Once::default()).await?;
    }
    Ok(true)
}
