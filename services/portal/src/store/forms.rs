//! Web form definitions and the submissions they turned into cases.

use chrono::{DateTime, Utc};
use docket_kit::{error::is_unique_violation, idempotency::Idempotency};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{
    Actor, Store, Trail,
    entities::{form_submission, web_form},
    find_idempotent, new_id, page_end, stale, write_trail,
};
use crate::{
    domain::forms::{FormDefinition, FormField},
    error::{Error, Result},
};

/// The fields UpdateWebForm may change.
pub const FORM_FIELDS: &[&str] = &[
    "slug",
    "title",
    "intro",
    "fields",
    "case_type_id",
    "priority",
    "team_id",
    "account_id",
    "allowed_origins",
    "success_message",
    "active",
];

/// A stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRecord {
    pub id: String,
    pub definition: FormDefinition,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormCursor {
    pub slug: String,
}

/// The case a submission opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub contact_id: String,
    pub case_id: String,
    pub case_number: String,
}

fn to_record(model: web_form::Model) -> Result<FormRecord> {
    let fields: Vec<FormField> = serde_json::from_str(&model.fields)
        .map_err(|err| Error::Internal(format!("web form {} has unreadable fields: {err}", model.id)))?;
    let allowed_origins: Vec<String> = serde_json::from_str(&model.allowed_origins)
        .map_err(|err| Error::Internal(format!("web form {} has unreadable origins: {err}", model.id)))?;
    Ok(FormRecord {
        id: model.id,
        definition: FormDefinition {
            slug: model.slug,
            title: model.title,
            intro: model.intro,
            fields,
            case_type_id: model.case_type_id,
            priority: model.priority,
            team_id: model.team_id,
            account_id: model.account_id,
            allowed_origins,
            success_message: model.success_message,
            active: model.active,
        },
        version: model.version,
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

fn to_model(record: &FormRecord) -> web_form::Model {
    let form = &record.definition;
    web_form::Model {
        id: record.id.clone(),
        slug: form.slug.clone(),
        title: form.title.clone(),
        intro: form.intro.clone(),
        fields: fields_json(&form.fields),
        case_type_id: form.case_type_id.clone(),
        priority: form.priority.clone(),
        team_id: form.team_id.clone(),
        account_id: form.account_id.clone(),
        allowed_origins: serde_json::to_string(&form.allowed_origins).unwrap_or_else(|_| "[]".to_owned()),
        success_message: form.success_message.clone(),
        active: form.active,
        version: record.version,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

fn fields_json(fields: &[FormField]) -> String {
    // Plain data always serializes.
    serde_json::to_string(fields).unwrap_or_else(|_| "[]".to_owned())
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// Copies the masked fields of `new` onto `form`, recording each change.
fn apply(form: &mut FormDefinition, new: &FormDefinition, mask: &[&str], trail: &mut Trail) {
    for field in mask {
        match *field {
            "slug" => {
                trail.diff("slug", &form.slug, &new.slug);
                form.slug.clone_from(&new.slug);
            }
            "title" => {
                trail.diff("title", &form.title, &new.title);
                form.title.clone_from(&new.title);
            }
            "intro" => {
                trail.diff("intro", &form.intro, &new.intro);
                form.intro.clone_from(&new.intro);
            }
            "fields" => {
                trail.diff("fields", fields_json(&form.fields), fields_json(&new.fields));
                form.fields.clone_from(&new.fields);
            }
            "case_type_id" => {
                trail.diff("case_type_id", &form.case_type_id, &new.case_type_id);
                form.case_type_id.clone_from(&new.case_type_id);
            }
            "priority" => {
                trail.diff("priority", &form.priority, &new.priority);
                form.priority.clone_from(&new.priority);
            }
            "team_id" => {
                trail.diff("team_id", opt(&form.team_id), opt(&new.team_id));
                form.team_id.clone_from(&new.team_id);
            }
            "account_id" => {
                trail.diff("account_id", opt(&form.account_id), opt(&new.account_id));
                form.account_id.clone_from(&new.account_id);
            }
            "allowed_origins" => {
                trail.diff("allowed_origins", form.allowed_origins.join(" "), new.allowed_origins.join(" "));
                form.allowed_origins.clone_from(&new.allowed_origins);
            }
            "success_message" => {
                trail.diff("success_message", &form.success_message, &new.success_message);
                form.success_message.clone_from(&new.success_message);
            }
            "active" => {
                trail.diff("active", form.active, new.active);
                form.active = new.active;
            }
            _ => {}
        }
    }
}

fn slug_taken(slug: &str) -> Error {
    Error::AlreadyExists { field: "web_form.slug".to_owned(), message: format!("another form already has the slug {slug}") }
}

impl Store {
    pub async fn create_form(&self, form: FormDefinition, by: &Actor<'_>, key: Option<&Idempotency>) -> Result<FormRecord> {
        const SCOPE: &str = "CreateWebForm";
        if let Some(key) = key
            && let Some(id) = find_idempotent(&self.db, SCOPE, by.actor, key).await?
        {
            return self.get_form(&id).await;
        }
        let txn = self.db.begin().await?;
        if web_form::Entity::find().filter(web_form::Column::Slug.eq(form.slug.clone())).one(&txn).await?.is_some() {
            return Err(slug_taken(&form.slug));
        }
        let record = FormRecord { id: new_id(), definition: form, version: 1, created_at: by.at, updated_at: by.at };
        let mut trail = Trail::new();
        trail.set("created", "", &record.definition.slug);
        let mut blank = FormDefinition {
            slug: String::new(),
            title: String::new(),
            intro: String::new(),
            fields: Vec::new(),
            case_type_id: String::new(),
            priority: String::new(),
            team_id: None,
            account_id: None,
            allowed_origins: Vec::new(),
            success_message: String::new(),
            active: false,
        };
        apply(&mut blank, &record.definition, FORM_FIELDS, &mut trail);
        match to_model(&record).into_active_model().reset_all().insert(&txn).await {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Err(slug_taken(&record.definition.slug)),
            Err(err) => return Err(err.into()),
        }
        write_trail(&txn, "web_form", &record.id, by, &trail).await?;
        if let Some(key) = key
            && !docket_kit::idempotency::remember(&txn, SCOPE, by.actor, key, &record.id, by.at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_form(record.definition, by, Some(key))).await;
        }
        txn.commit().await?;
        Ok(record)
    }

    pub async fn get_form(&self, id: &str) -> Result<FormRecord> {
        let model = web_form::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("web form {id} not found")))?;
        to_record(model)
    }

    pub async fn get_form_by_slug(&self, slug: &str) -> Result<FormRecord> {
        let model = web_form::Entity::find()
            .filter(web_form::Column::Slug.eq(slug))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no web form has the slug {slug}")))?;
        to_record(model)
    }

    pub async fn list_forms(
        &self,
        active_only: bool,
        after: Option<FormCursor>,
        limit: u64,
    ) -> Result<(Vec<FormRecord>, Option<FormCursor>)> {
        let mut query = web_form::Entity::find();
        if active_only {
            query = query.filter(web_form::Column::Active.eq(true));
        }
        if let Some(after) = after {
            query = query.filter(web_form::Column::Slug.gt(after.slug));
        }
        let mut rows = query.order_by_asc(web_form::Column::Slug).limit(limit + 1).all(&self.db).await?;
        let next = page_end(&mut rows, limit).map(|last| FormCursor { slug: last.slug.clone() });
        Ok((rows.into_iter().map(to_record).collect::<Result<_>>()?, next))
    }

    pub async fn update_form(
        &self,
        id: &str,
        version: i64,
        new: &FormDefinition,
        mask: &[&str],
        by: &Actor<'_>,
    ) -> Result<FormRecord> {
        let txn = self.db.begin().await?;
        let model = web_form::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("web form {id} not found")))?;
        if model.version != version {
            return Err(stale("web form", id, version, model.version));
        }
        let before = to_record(model)?;
        let mut after = before.clone();
        let mut trail = Trail::new();
        apply(&mut after.definition, new, mask, &mut trail);
        if trail.is_empty() {
            return Ok(before);
        }
        if trail.touches("slug")
            && web_form::Entity::find()
                .filter(web_form::Column::Slug.eq(after.definition.slug.clone()))
                .one(&txn)
                .await?
                .is_some()
        {
            return Err(slug_taken(&after.definition.slug));
        }
        after.version = before.version + 1;
        after.updated_at = by.at;
        let updated = web_form::Entity::update_many()
            .set(to_model(&after).into_active_model().reset_all())
            .filter(web_form::Column::Id.eq(id))
            .filter(web_form::Column::Version.eq(before.version))
            .exec(&txn)
            .await;
        match updated {
            Ok(done) if done.rows_affected == 1 => {}
            Ok(_) => return Err(stale("web form", id, version, version + 1)),
            Err(err) if is_unique_violation(&err) => return Err(slug_taken(&after.definition.slug)),
            Err(err) => return Err(err.into()),
        }
        write_trail(&txn, "web_form", id, by, &trail).await?;
        txn.commit().await?;
        Ok(after)
    }

    pub async fn delete_form(&self, id: &str, version: i64, by: &Actor<'_>) -> Result<()> {
        let txn = self.db.begin().await?;
        let model = web_form::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound(format!("web form {id} not found")))?;
        if model.version != version {
            return Err(stale("web form", id, version, model.version));
        }
        let deleted = web_form::Entity::delete_many()
            .filter(web_form::Column::Id.eq(id))
            .filter(web_form::Column::Version.eq(version))
            .exec(&txn)
            .await?;
        if deleted.rows_affected != 1 {
            return Err(stale("web form", id, version, version + 1));
        }
        let mut trail = Trail::new();
        trail.set("deleted", &model.slug, "");
        write_trail(&txn, "web_form", id, by, &trail).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The case an earlier submission with this id opened, if any; the same
    /// id with other values is refused.
    pub async fn find_submission(&self, form_id: &str, submission_id: &str, request_hash: &str) -> Result<Option<Submitted>> {
        let found = form_submission::Entity::find_by_id((form_id.to_owned(), submission_id.to_owned())).one(&self.db).await?;
        match found {
            None => Ok(None),
            Some(row) if row.request_hash == request_hash => {
                Ok(Some(Submitted { contact_id: row.contact_id, case_id: row.case_id, case_number: row.case_number }))
            }
            Some(_) => Err(Error::field(
                "submission_id",
                "was already used with different values; a new submission needs a new submission_id",
            )),
        }
    }

    /// Remembers a submission and its case; when a concurrent retry got
    /// there first, answers with what it recorded.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_submission(
        &self,
        form_id: &str,
        submission_id: &str,
        request_hash: &str,
        submitted: Submitted,
        client_ip: &str,
        origin: &str,
        by: &Actor<'_>,
    ) -> Result<Submitted> {
        let txn = self.db.begin().await?;
        let row = form_submission::Model {
            form_id: form_id.to_owned(),
            submission_id: submission_id.to_owned(),
            request_hash: request_hash.to_owned(),
            contact_id: submitted.contact_id.clone(),
            case_id: submitted.case_id.clone(),
            case_number: submitted.case_number.clone(),
            client_ip: client_ip.to_owned(),
            origin: origin.to_owned(),
            created_at: by.at,
        };
        match row.into_active_model().reset_all().insert(&txn).await {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                txn.rollback().await?;
                return self
                    .find_submission(form_id, submission_id, request_hash)
                    .await?
                    .ok_or_else(|| Error::Internal(format!("submission {submission_id} exists but cannot be read")));
            }
            Err(err) => return Err(err.into()),
        }
        let mut trail = Trail::new();
        trail.set("submission", "", &submitted.case_number);
        write_trail(&txn, "web_form", form_id, by, &trail).await?;
        txn.commit().await?;
        Ok(submitted)
    }
}
