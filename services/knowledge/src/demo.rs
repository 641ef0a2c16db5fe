//! Demo data for `docket dev`: the help center's categories and a handful
//! of published articles for each audience, so the knowledge base is never
//! empty on first start.

use docket_kit::{audit::Actor, mutation::Once, request::RecordId};

use crate::{
    domain::{
        ArticleId, CategoryId,
        articles::{ArticleFields, Audience, Step},
        categories::CategoryFields,
        slug,
    },
    store::Store,
};

/// (name, description) of each top-level demo category, in order.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("Getting started", "Your account, the portal and how to reach us."),
    ("Printers & scanners", "Paper jams, toner, drivers and error codes."),
    ("Billing & invoices", "Contracts, prepaid hours and reading an invoice."),
    ("Accounts & access", "Logins, passwords and who may see what."),
];

/// (category index, title, audience, tags, Markdown) of each demo article.
pub const ARTICLES: &[(usize, &str, Audience, &[&str], &str)] = &[
    (
        0,
        "How to reach support",
        Audience::Public,
        &["contact", "hours"],
        "Write to **support@docket.example** or use the *Contact support* form.\n\n\
         We answer within one business day; customers with a contract see their cases in the portal.",
    ),
    (
        1,
        "Printer shows error E-13 (paper jam)",
        Audience::Public,
        &["printer", "paper jam", "e-13"],
        "E-13 means a sheet is stuck in tray 2.\n\n1. Switch the printer off.\n2. Open the front cover.\n\
         3. Pull the sheet out slowly, towards you.\n4. Close the cover and switch the printer on.",
    ),
    (
        1,
        "Replacing the toner cartridge",
        Audience::Customers,
        &["printer", "toner"],
        "Order cartridges through your service contract; they are covered by prepaid hours.\n\n\
         Open the side panel, lift the old cartridge out and click the new one in.",
    ),
    (
        2,
        "Reading your invoice",
        Audience::Customers,
        &["invoice", "billing"],
        "Each invoice lists the hours booked on your cases and the parts used, with tax computed once on the total.",
    ),
    (
        3,
        "Resetting your portal password",
        Audience::Public,
        &["portal", "password"],
        "On the portal's login page choose *Forgot your password?*; the link in the email works for 30 minutes.",
    ),
    (
        1,
        "Escalating a printer fleet failure",
        Audience::Internal,
        &["printer", "escalation"],
        "When more than three printers of one account fail in a day, call the vendor's hotline and set the case to critical.",
    ),
];

/// Files the demo categories and articles unless there are categories
/// already; whether it did.
pub async fn seed(store: &Store) -> Result<bool, docket_kit::Error> {
    if !store.list_categories().await?.is_empty() {
        return Ok(false);
    }
    let by = Actor { actor: "system:dev", reason: "demo data", at: docket_kit::time::now() };
    let mut categories = Vec::new();
    for (position, (name, description)) in CATEGORIES.iter().enumerate() {
        let fields = CategoryFields {
            slug: crate::domain::slug::slugify(name),
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            parent_id: None,
            position: i32::try_from(position).unwrap_or(i32::MAX),
        };
        categories.push(store.create_category(fields, &by, Once::default()).await?.id);
    }
    for (category, title, audience, tags, body) in ARTICLES {
        let fields = ArticleFields {
            slug: slug::slugify(title),
            title: (*title).to_owned(),
            summary: String::new(),
            body_markdown: (*body).to_owned(),
            locale: "en".to_owned(),
            category_id: Some(CategoryId::stored(&categories[*category])?),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            audience: *audience,
            related_article_ids: Vec::new(),
            owner_id: "system:dev".to_owned(),
        };
        let article = store.create_article(fields, &by, Once::default()).await?;
        store.move_article(ArticleId::stored(&article.id)?, None, Step::Publish, None, &by, true).await?;
    }
    Ok(true)
}
