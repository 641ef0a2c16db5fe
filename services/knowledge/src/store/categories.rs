//! The category tree.

use std::collections::{HashMap, HashSet};

use docket_kit::db::placeholder;
use docket_kit::{
    mutation::{self, Once, Tx},
    request::{FieldMask, RecordId, UpdateTarget},
};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, Statement, Value};

use super::{Actor, Store, Trail};
use crate::{
    domain::{
        CategoryId,
        articles::Audience,
        categories::{CategoryField, CategoryFields, ParentRefusal, check_parent},
    },
    records::entities::category,
};

type Result<T> = std::result::Result<T, docket_kit::Error>;

pub type CategoryUpdate = UpdateTarget<CategoryId, CategoryField>;

fn apply(model: &mut category::Model, fields: &CategoryFields, mask: &FieldMask<CategoryField>, trail: &mut Trail) {
    for field in mask.iter() {
        match field {
            CategoryField::Slug => trail.assign("slug", &mut model.slug, &fields.slug),
            CategoryField::Name => trail.assign("name", &mut model.name, &fields.name),
            CategoryField::Description => trail.assign("description", &mut model.description, &fields.description),
            CategoryField::ParentId => {
                let parent = fields.parent_id.map(|id| id.to_string());
                if parent != model.parent_id {
                    trail.diff("parent_id", model.parent_id.clone().unwrap_or_default(), parent.clone().unwrap_or_default());
                    model.parent_id = parent;
                }
            }
            CategoryField::Position => trail.assign("position", &mut model.position, &fields.position),
        }
    }
}

/// A parent must exist and must not put the category under itself or
/// make the tree too deep.
async fn check_tree(tx: &Tx, category: &category::Model) -> Result<()> {
    let Some(parent) = &category.parent_id else { return Ok(()) };
    let rows = category::Entity::find().all(&**tx).await?;
    let mut parents: HashMap<CategoryId, Option<CategoryId>> = HashMap::new();
    for row in &rows {
        let parent = row.parent_id.as_deref().map(CategoryId::stored).transpose()?;
        parents.insert(CategoryId::stored(&row.id)?, parent);
    }
    let (id, parent) = (CategoryId::stored(&category.id)?, CategoryId::stored(parent)?);
    if !parents.contains_key(&parent) {
        return Err(docket_kit::Error::field("category.parent_id", format!("no category has the id {parent}")));
    }
    // Its old parent does not count; its children stay below it.
    parents.insert(id, None);
    match check_parent(id, parent, &parents) {
        Ok(()) => Ok(()),
        Err(ParentRefusal::Cycle) => Err(docket_kit::Error::field("category.parent_id", "would put the category under itself")),
        Err(ParentRefusal::TooDeep) => Err(docket_kit::Error::field(
            "category.parent_id",
            format!("would make the category tree deeper than {} levels", crate::domain::categories::MAX_DEPTH),
        )),
    }
}

impl Store {
    pub async fn create_category(&self, fields: CategoryFields, by: &Actor<'_>, once: Once<'_>) -> Result<category::Model> {
        self.mutations
            .create(by, once, async |tx| {
                let mut model = category::Model {
                    id: CategoryId::generate().to_string(),
                    slug: String::new(),
                    name: String::new(),
                    description: String::new(),
                    parent_id: None,
                    position: 0,
                    version: 1,
                    created_at: by.at,
                    updated_at: by.at,
                };
                let mut trail = Trail::new();
                trail.set("created", "", "");
                apply(&mut model, &fields, &FieldMask::all(), &mut trail);
                check_tree(&tx, &model).await?;
                Ok((model, trail, Vec::new()))
            })
            .await
    }

    pub async fn update_category(
        &self,
        target: CategoryUpdate,
        fields: CategoryFields,
        by: &Actor<'_>,
    ) -> Result<category::Model> {
        self.mutations
            .update_fields(
                by,
                &target,
                &fields,
                apply,
                |tx, _before, after: category::Model| async move { check_tree(&tx, &after).await },
                |_, _, _| Vec::new(),
            )
            .await
    }

    pub async fn get_category(&self, id: CategoryId) -> Result<category::Model> {
        mutation::find(&self.db, id).await
    }

    /// Every category, in the order a tree is shown: by position, then name.
    /// The categories in which a live article of one of `audiences` is filed.
    pub async fn categories_in_use(&self, audiences: &[Audience]) -> Result<HashSet<String>> {
        if audiences.is_empty() {
            return Ok(HashSet::new());
        }
        let backend = self.db.get_database_backend();
        let placeholders: Vec<String> = (1..=audiences.len()).map(|n| placeholder(backend, n)).collect();
        // One probe of the search table's (category, audience) index a category.
        let sql = format!(
            "SELECT c.id FROM categories c WHERE EXISTS (SELECT 1 FROM article_search s \
             WHERE s.category_id = c.id AND s.audience IN ({}))",
            placeholders.join(", ")
        );
        let values = audiences.iter().map(|a| Value::from(a.name()));
        let rows = self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        Ok(rows.iter().map(|row| row.try_get::<String>("", "id")).collect::<std::result::Result<_, _>>()?)
    }

    pub async fn list_categories(&self) -> Result<Vec<category::Model>> {
        Ok(category::Entity::find()
            .order_by_asc(category::Column::Position)
            .order_by_asc(category::Column::Name)
            .order_by_asc(category::Column::Id)
            .all(&self.db)
            .await?)
    }
}
