//! `CategoryService`: the help center's category tree, kept by admins.

use docket_proto::knowledge::v1 as pb;
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, PORTAL, SERVICE, TestApp, VIEWER, assert_field_error, field_violations},
    fixtures::mask,
    on_both_backends,
    support::{as_customer, publish_new, titled},
};

fn category(name: &str, parent_id: &str) -> pb::CreateCategoryRequest {
    pb::CreateCategoryRequest {
        category: Some(pb::Category { name: name.into(), parent_id: parent_id.into(), ..Default::default() }),
        idempotency_key: String::new(),
    }
}

async fn an_admin_files_a_tree_that_everyone_reads_in_order(app: TestApp) {
    let mut admin = app.categories(ADMIN);
    let printers = admin.create_category(category("Drucker & Scanner", "")).await.unwrap().into_inner();
    assert_eq!(printers.slug, "drucker-scanner", "a slug from the name, accents folded");
    let mut paper = category("Paper jams", &printers.id);
    paper.category.as_mut().unwrap().position = 1;
    let paper = admin.create_category(paper).await.unwrap().into_inner();
    let mut toner = category("Toner", &printers.id);
    toner.category.as_mut().unwrap().slug = "toner-and-ink".into();
    let toner = admin.create_category(toner).await.unwrap().into_inner();
    assert_eq!(
        (toner.slug.as_str(), toner.parent_id.as_str(), toner.etag.as_str()),
        ("toner-and-ink", printers.id.as_str(), "1")
    );

    // Agents and services read the tree; only admins change it.
    let listed = app.categories(AGENT).list_categories(pb::ListCategoriesRequest {}).await.unwrap().into_inner();
    let names: Vec<&str> = listed.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Drucker & Scanner", "Toner", "Paper jams"], "by position, then name");
    let refused = app.categories(AGENT).create_category(category("Mine", "")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let anonymous = app.categories("").list_categories(pb::ListCategoriesRequest {}).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Moving: under another parent, renamed, with the etag it was read at.
    let moved = admin
        .update_category(pb::UpdateCategoryRequest {
            category: Some(pb::Category {
                id: paper.id.clone(),
                etag: paper.etag.clone(),
                parent_id: toner.id.clone(),
                ..paper.clone()
            }),
            update_mask: mask(&["parent_id"]),
            reason: "jams come from toner".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((moved.parent_id.as_str(), moved.etag.as_str()), (toner.id.as_str(), "2"));
    let stale = admin
        .update_category(pb::UpdateCategoryRequest {
            category: Some(pb::Category { name: "Paper".into(), ..paper.clone() }),
            update_mask: mask(&["name"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
}

async fn a_tree_cannot_loop_and_bad_categories_change_nothing(app: TestApp) {
    let mut admin = app.categories(ADMIN);
    let root = admin.create_category(category("Hardware", "")).await.unwrap().into_inner();
    let child = admin.create_category(category("Laptops", &root.id)).await.unwrap().into_inner();
    let before = app.table_counts("knowledge", &["categories", "audit_entries"]).await;

    let looped = admin
        .update_category(pb::UpdateCategoryRequest {
            category: Some(pb::Category { parent_id: child.id.clone(), ..root.clone() }),
            update_mask: mask(&["parent_id"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&looped, Code::InvalidArgument, "category.parent_id");
    let own = admin
        .update_category(pb::UpdateCategoryRequest {
            category: Some(pb::Category { parent_id: root.id.clone(), ..root.clone() }),
            update_mask: mask(&["parent_id"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_field_error(&own, Code::InvalidArgument, "category.parent_id");

    let taken = admin.create_category(category("Hardware", "")).await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "the slug `hardware` is taken: {taken:?}");
    let unknown_parent = admin.create_category(category("Phones", "0190a000-0000-7000-8000-000000000000")).await.unwrap_err();
    assert_field_error(&unknown_parent, Code::InvalidArgument, "category.parent_id");

    let bad = pb::CreateCategoryRequest {
        category: Some(pb::Category {
            name: " ".into(),
            slug: "Not A Slug!".into(),
            parent_id: "nope".into(),
            position: -1,
            description: "x".repeat(2_001),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    };
    let refused = admin.create_category(bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields: Vec<String> = field_violations(&refused).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["category.description", "category.name", "category.parent_id", "category.position", "category.slug"],
        "every bad field at once"
    );
    let no_mask = admin
        .update_category(pb::UpdateCategoryRequest { category: Some(root.clone()), update_mask: None, reason: String::new() })
        .await
        .unwrap_err();
    assert_field_error(&no_mask, Code::InvalidArgument, "update_mask");
    let unknown = admin
        .update_category(pb::UpdateCategoryRequest {
            category: Some(pb::Category { id: "0190a000-0000-7000-8000-000000000000".into(), ..root.clone() }),
            update_mask: mask(&["name"]),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(app.table_counts("knowledge", &["categories", "audit_entries"]).await, before, "nothing written");
}

async fn a_retried_create_with_its_key_files_one_category(app: TestApp) {
    let mut admin = app.categories(ADMIN);
    let request = pb::CreateCategoryRequest { idempotency_key: "import-42".into(), ..category("Billing questions", "") };
    let first = admin.create_category(request.clone()).await.unwrap().into_inner();
    let again = admin.create_category(request.clone()).await.unwrap().into_inner();
    assert_eq!(first.id, again.id);
    let other = pb::CreateCategoryRequest { idempotency_key: "import-42".into(), ..category("Invoices", "") };
    let reused = admin.create_category(other).await.unwrap_err();
    assert_field_error(&reused, Code::InvalidArgument, "idempotency_key");
    assert_eq!(app.table_counts("knowledge", &["categories"]).await, [("categories".to_owned(), 1)]);
}

/// Which categories hold something a reader may read: the help center
/// offers only those (and their parents).
async fn each_reader_learns_which_categories_hold_what_it_may_read(app: TestApp) {
    let mut admin = app.categories(ADMIN);
    let open = admin.create_category(category("Open", "")).await.unwrap().into_inner();
    let staff_only = admin.create_category(category("Runbooks", "")).await.unwrap().into_inner();
    let for_customers = admin.create_category(category("Accounts", "")).await.unwrap().into_inner();
    let empty = admin.create_category(category("Empty", "")).await.unwrap().into_inner();
    let filed = |title: &str, audience: pb::Audience, category_id: &str| pb::Article {
        category_id: category_id.to_owned(),
        ..titled(title, audience)
    };
    publish_new(&app, filed("Printer basics", pb::Audience::Public, &open.id)).await;
    publish_new(&app, filed("Escalation runbook", pb::Audience::Internal, &staff_only.id)).await;
    publish_new(&app, filed("Closing an account", pb::Audience::Customers, &for_customers.id)).await;
    // A draft is not read by anyone outside the team.
    let draft = filed("Unfinished", pb::Audience::Public, &empty.id);
    app.articles(ADMIN).create_article(pb::CreateArticleRequest { article: Some(draft), ..Default::default() }).await.unwrap();

    let holding = |listed: pb::ListCategoriesResponse| -> Vec<String> {
        listed.categories.into_iter().filter(|c| c.has_articles).map(|c| c.name).collect()
    };
    let staff = app.categories(VIEWER).list_categories(pb::ListCategoriesRequest {}).await.unwrap().into_inner();
    assert_eq!(staff.categories.len(), 4, "every category is listed");
    assert_eq!(holding(staff), ["Accounts", "Open", "Runbooks"]);
    let customer = app.categories(PORTAL).list_categories(as_customer(pb::ListCategoriesRequest {})).await.unwrap();
    assert_eq!(holding(customer.into_inner()), ["Accounts", "Open"]);
    let visitor = app.categories(SERVICE).list_categories(pb::ListCategoriesRequest {}).await.unwrap().into_inner();
    assert_eq!(holding(visitor), ["Open"]);
}

on_both_backends!(
    an_admin_files_a_tree_that_everyone_reads_in_order,
    each_reader_learns_which_categories_hold_what_it_may_read,
    a_tree_cannot_loop_and_bad_categories_change_nothing,
    a_retried_create_with_its_key_files_one_category,
);
