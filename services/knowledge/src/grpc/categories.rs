//! `CategoryService`: admins file the help center's tree; everyone with a
//! token reads it.

use docket_kit::{
    auth::caller,
    error::FieldViolations,
    mutation::{Once, Stamps},
    request::{FieldMask, wanted},
};
use docket_proto::knowledge::v1::{self as pb, category_service_server::CategoryService};
use tonic::{Request, Response, Status};

use super::{actor, articles::reader, idempotency, reason};
use crate::{
    domain::{
        categories::{CategoryField, CategoryFields, DESCRIPTION_MAX, NAME_MAX},
        slug,
    },
    records::entities::category,
    store::Store,
};

pub struct CategoryApi {
    store: Store,
}

impl CategoryApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// The fields of `category` a create (no mask) or an update (its mask) sets.
fn parse(violations: &mut FieldViolations, category: &pb::Category, mask: Option<&FieldMask<CategoryField>>) -> CategoryFields {
    let name = if wanted(mask, CategoryField::Name) {
        violations.required_text("category.name", &category.name, NAME_MAX)
    } else {
        String::new()
    };
    let slug = if wanted(mask, CategoryField::Slug) {
        // A create without a slug gets one from the name; an update must say it.
        let given = category.slug.trim();
        let slug = if given.is_empty() && mask.is_none() { slug::for_new(&name, "topic") } else { given.to_owned() };
        if let Err(why) = slug::check(&slug) {
            violations.add("category.slug", why);
        }
        slug
    } else {
        String::new()
    };
    CategoryFields {
        slug,
        name,
        description: if wanted(mask, CategoryField::Description) {
            violations.optional_text("category.description", &category.description, DESCRIPTION_MAX)
        } else {
            String::new()
        },
        parent_id: if wanted(mask, CategoryField::ParentId) {
            violations.opt_id("category.parent_id", &category.parent_id)
        } else {
            None
        },
        position: if wanted(mask, CategoryField::Position) {
            if category.position < 0 {
                violations.add("category.position", "must not be negative");
            }
            category.position
        } else {
            0
        },
    }
}

fn wire(model: category::Model, has_articles: bool) -> pb::Category {
    let Stamps { etag, .. } = Stamps::of(model.created_at, model.updated_at, model.version);
    pb::Category {
        id: model.id,
        slug: model.slug,
        name: model.name,
        description: model.description,
        parent_id: model.parent_id.unwrap_or_default(),
        position: model.position,
        etag,
        has_articles,
    }
}

#[tonic::async_trait]
impl CategoryService for CategoryApi {
    async fn create_category(&self, request: Request<pb::CreateCategoryRequest>) -> Result<Response<pb::Category>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let fields = parse(&mut violations, &request.category.clone().unwrap_or_default(), None);
        let key = idempotency(
            &mut violations,
            &request.idempotency_key,
            &pb::CreateCategoryRequest { idempotency_key: String::new(), ..request.clone() },
        );
        violations.into_result()?;
        let once = Once { scope: "CreateCategory", key: key.as_ref() };
        // A new category has nothing filed in it yet.
        Ok(Response::new(wire(self.store.create_category(fields, &actor(&caller, ""), once).await?, false)))
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let caller = caller(&request)?;
        let in_use = self.store.categories_in_use(reader(&caller).audiences()).await?;
        let categories = self.store.list_categories().await?.into_iter().map(|c| {
            let has_articles = in_use.contains(&c.id);
            wire(c, has_articles)
        });
        let categories = categories.collect();
        Ok(Response::new(pb::ListCategoriesResponse { categories }))
    }

    async fn update_category(&self, request: Request<pb::UpdateCategoryRequest>) -> Result<Response<pb::Category>, Status> {
        let caller = caller(&request)?;
        caller.require_admin()?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let category = request.category.unwrap_or_default();
        let target = violations.update_target("category", &category.id, &category.etag, request.update_mask.as_ref());
        let fields = parse(&mut violations, &category, Some(&target.mask));
        let reason = reason(&mut violations, &request.reason);
        violations.into_result()?;
        let updated = self.store.update_category(target, fields, &actor(&caller, &reason)).await?;
        let has_articles = self.store.categories_in_use(reader(&caller).audiences()).await?.contains(&updated.id);
        Ok(Response::new(wire(updated, has_articles)))
    }
}
