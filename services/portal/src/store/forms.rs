//! Web form definitions and the submissions they turned into cases.

use chrono::{DateTime, Utc};
use docket_kit::{
    error::is_unique_violation,
    mutation::{Edit, Once, Record, already_exists},
    request::{FieldMask, RecordId},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use serde::{Deserialize, Serialize};

use super::{Actor, Store, Trail, links::NewLink, page_end};
use crate::{
    domain::{
        WebFormId,
        commands::{WebFormField, WebFormUpdate},
        forms::FormDefinition,
    },
    error::{Error, Result},
    events,
    records::{
        FormRecord,
        entities::{form_submission, web_form},
        fields_json,
    },
};

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
    /// The case waits outside the contact's account until the address confirms it.
    pub awaiting_confirmation: bool,
}

impl From<form_submission::Model> for Submitted {
    fn from(row: form_submission::Model) -> Self {
        Self {
            awaiting_confirmation: row.confirm_token_hash.is_some() && row.confirmed_at.is_none(),
            contact_id: row.contact_id,
            case_id: row.case_id,
            case_number: row.case_number,
        }
    }
}

/// The link that asks the owner of a known address to confirm a submission.
#[derive(Debug, Clone)]
pub struct ConfirmationLink {
    pub email: String,
    pub name: String,
    pub subject: String,
    pub expires_at: DateTime<Utc>,
}

fn opt(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Copies the masked fields of `new` onto `form`, recording each change.
fn apply(form: &mut FormDefinition, new: &FormDefinition, mask: &FieldMask<WebFormField>, trail: &mut Trail) {
    for field in mask.iter() {
        match field {
            WebFormField::Slug => trail.assign("slug", &mut form.slug, &new.slug),
            WebFormField::Title => trail.assign("title", &mut form.title, &new.title),
            WebFormField::Intro => trail.assign("intro", &mut form.intro, &new.intro),
            WebFormField::Fields => {
                trail.diff("fields", fields_json(&form.fields), fields_json(&new.fields));
                form.fields.clone_from(&new.fields);
            }
            WebFormField::CaseTypeId => trail.assign("case_type_id", &mut form.case_type_id, &new.case_type_id),
            WebFormField::Priority => trail.assign("priority", &mut form.priority, &new.priority),
            WebFormField::TeamId => {
                trail.diff("team_id", opt(form.team_id), opt(new.team_id));
                form.team_id = new.team_id;
            }
            WebFormField::AccountId => {
                trail.diff("account_id", opt(form.account_id), opt(new.account_id));
                form.account_id = new.account_id;
            }
            WebFormField::AllowedOrigins => {
                trail.diff("allowed_origins", form.allowed_origins.join(" "), new.allowed_origins.join(" "));
                form.allowed_origins.clone_from(&new.allowed_origins);
            }
            WebFormField::SuccessMessage => trail.assign("success_message", &mut form.success_message, &new.success_message),
            WebFormField::Active => trail.assign("active", &mut form.active, &new.active),
        }
    }
}

/// Refuses a slug another form has, before a unique index would.
async fn check_slug_free(db: &impl ConnectionTrait, form: &web_form::Model) -> Result<()> {
    let taken = web_form::Entity::find()
        .filter(web_form::Column::Slug.eq(form.slug.clone()))
        .filter(web_form::Column::Id.ne(form.id.clone()))
        .one(db)
        .await?;
    if taken.is_some() { Err(already_exists(form)) } else { Ok(()) }
}

/// What an earlier submission with the same id opened, if `found`; the same
/// id with other values (`request_hash`) is refused.
fn earlier_submission(found: Option<form_submission::Model>, request_hash: &str) -> Result<Option<Submitted>> {
    match found {
        None => Ok(None),
        Some(row) if row.request_hash == request_hash => Ok(Some(row.into())),
        Some(_) => Err(submission_id_reused()),
    }
}

/// The refusal of a `submission_id` sent before with other values.
pub fn submission_id_reused() -> Error {
    Error::field("submission_id", "was already used with different values; a new submission needs a new submission_id")
}

impl Store {
    pub async fn create_form(&self, form: FormDefinition, by: &Actor<'_>, once: Once<'_>) -> Result<FormRecord> {
        let created = self
            .mutations
            .create(by, once, async |tx| {
                let mut trail = Trail::new();
                trail.set("created", "", &form.slug);
                let mut definition = FormDefinition::default();
                apply(&mut definition, &form, &FieldMask::all(), &mut trail);
                let id = WebFormId::generate().to_string();
                let model = FormRecord { id, definition, version: 1, created_at: by.at, updated_at: by.at }.to_model();
                check_slug_free(&*tx, &model).await?;
                Ok((model, trail, Vec::new()))
            })
            .await?;
        Ok(FormRecord::from_model(created)?)
    }

    pub async fn get_form(&self, id: WebFormId) -> Result<FormRecord> {
        let model = web_form::Model::load(&self.db, &id.to_string())
            .await?
            .ok_or_else(|| Error::not_found(&web_form::Model::noun(), id))?;
        Ok(FormRecord::from_model(model)?)
    }

    pub async fn get_form_by_slug(&self, slug: &str) -> Result<FormRecord> {
        let model = web_form::Entity::find()
            .filter(web_form::Column::Slug.eq(slug))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no web form has the slug {slug}")))?;
        Ok(FormRecord::from_model(model)?)
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
        Ok((rows.into_iter().map(FormRecord::from_model).collect::<Result<_, _>>()?, next))
    }

    pub async fn update_form(&self, target: WebFormUpdate, new: FormDefinition, by: &Actor<'_>) -> Result<FormRecord> {
        let (new, mask) = (&new, &target.mask);
        let updated = self
            .mutations
            .update(
                by,
                &target.id.to_string(),
                Some(target.etag),
                |tx, before: web_form::Model| async move {
                    let mut form = FormRecord::from_model(before.clone())?;
                    let mut trail = Trail::new();
                    apply(&mut form.definition, new, mask, &mut trail);
                    let after = form.to_model();
                    if after.slug != before.slug {
                        check_slug_free(&*tx, &after).await?;
                    }
                    Ok(Edit { after, changes: trail })
                },
                |_, _, _| Vec::new(),
            )
            .await?;
        Ok(FormRecord::from_model(updated)?)
    }

    pub async fn delete_form(&self, id: WebFormId, etag: i64, by: &Actor<'_>) -> Result<()> {
        let id = id.to_string();
        let noun = web_form::Model::noun();
        self.mutations
            .run(by, async |tx| {
                let model = web_form::Model::load(&*tx, &id).await?.ok_or_else(|| Error::not_found(&noun, &id))?;
                if model.version != etag {
                    return Err(Error::stale(&noun, &id, etag, model.version));
                }
                let deleted = web_form::Entity::delete_many()
                    .filter(web_form::Column::Id.eq(id.clone()))
                    .filter(web_form::Column::Version.eq(etag))
                    .exec(&*tx)
                    .await?;
                if deleted.rows_affected != 1 {
                    return Err(Error::stale(&noun, &id, etag, etag + 1));
                }
                let mut trail = Trail::new();
                trail.set("deleted", &model.slug, "");
                tx.trail(web_form::Model::KIND, &id, &trail).await?;
                Ok(())
            })
            .await
    }

    /// The case an earlier submission with this id opened, if any; the same
    /// id with other values is refused.
    pub async fn find_submission(&self, form_id: &str, submission_id: &str, request_hash: &str) -> Result<Option<Submitted>> {
        let found = form_submission::Entity::find_by_id((form_id.to_owned(), submission_id.to_owned())).one(&self.db).await?;
        earlier_submission(found, request_hash)
    }

    /// Remembers a submission and its case, and for one awaiting
    /// confirmation, the link to email (in the same transaction); when a
    /// concurrent retry got there first, answers with what it recorded.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_submission(
        &self,
        form_id: &str,
        submission_id: &str,
        request_hash: &str,
        submitted: Submitted,
        confirmation: Option<ConfirmationLink>,
        client_ip: &str,
        origin: &str,
        by: &Actor<'_>,
    ) -> Result<Submitted> {
        let plain = form_submission::Model {
            form_id: form_id.to_owned(),
            submission_id: submission_id.to_owned(),
            request_hash: request_hash.to_owned(),
            contact_id: submitted.contact_id.clone(),
            case_id: submitted.case_id.clone(),
            case_number: submitted.case_number.clone(),
            client_ip: client_ip.to_owned(),
            origin: origin.to_owned(),
            created_at: by.at,
            confirm_token_hash: None,
            confirm_link_id: None,
            confirm_email: String::new(),
            confirm_expires_at: None,
            confirmed_at: None,
        };
        let mut trail = Trail::new();
        trail.set("submission", "", &submitted.case_number);
        let recorded = match &confirmation {
            // Nothing to announce: the row and its trail in one statement.
            None => {
                let insert =
                    form_submission::Entity::insert(plain.into_active_model().reset_all()).build(self.db.get_database_backend());
                docket_kit::audit::insert_new_with_trail(
                    &self.db,
                    insert,
                    &["form_id", "submission_id"],
                    (web_form::Model::KIND, form_id),
                    by,
                    &trail,
                )
                .await?
            }
            Some(link) => self.record_awaiting_confirmation(plain, link, trail, by).await?,
        };
        if recorded {
            return Ok(submitted);
        }
        // A concurrent copy of the submission got there first.
        self.find_submission(form_id, submission_id, request_hash)
            .await?
            .ok_or_else(|| crate::error::internal(format!("submission {submission_id} exists but cannot be read")))
    }

    /// [`Store::record_submission`] of one that sends a confirmation link,
    /// with its event; `false` when the submission was already recorded.
    async fn record_awaiting_confirmation(
        &self,
        plain: form_submission::Model,
        confirmation: &ConfirmationLink,
        mut trail: Trail,
        by: &Actor<'_>,
    ) -> Result<bool> {
        let recorded = self
            .mutations
            .run(by, async |tx| {
                let link = NewLink::new()?;
                let row = form_submission::Model {
                    confirm_token_hash: Some(link.sealed_digest.clone()),
                    confirm_link_id: Some(link.id.clone()),
                    confirm_email: confirmation.email.clone(),
                    confirm_expires_at: Some(confirmation.expires_at),
                    ..plain
                };
                match row.clone().into_active_model().reset_all().insert(&*tx).await {
                    Ok(_) => {}
                    Err(err) if is_unique_violation(&err) => {
                        return Err(Error::AlreadyExists {
                            field: "submission_id".to_owned(),
                            message: format!("submission {} is already recorded", row.submission_id),
                        });
                    }
                    Err(err) => return Err(err.into()),
                }
                trail.set("awaiting_confirmation", "", &row.case_number);
                let event = events::submission_confirmation_requested(
                    &row,
                    &confirmation.name,
                    &confirmation.subject,
                    confirmation.expires_at,
                );
                tx.emit([event]).await?;
                tx.trail(web_form::Model::KIND, &row.form_id, &trail).await?;
                Ok(())
            })
            .await;
        match recorded {
            Ok(()) => Ok(true),
            Err(Error::AlreadyExists { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The submission whose confirmation link has this digest.
    pub async fn submission_by_confirmation(&self, token_hash: &str) -> Result<form_submission::Model> {
        form_submission::Entity::find()
            .filter(form_submission::Column::ConfirmTokenHash.eq(token_hash))
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound("This link does not work: it may be mistyped or cut short.".to_owned()))
    }

    /// Notes that the owner of the address confirmed `submission` (once;
    /// a second confirmation writes nothing).
    pub async fn mark_confirmed(&self, submission: &form_submission::Model, by: &Actor<'_>) -> Result<()> {
        self.mutations
            .run(by, async |tx| {
                let marked = form_submission::Entity::update_many()
                    .col_expr(form_submission::Column::ConfirmedAt, sea_orm::sea_query::Expr::value(Some(by.at)))
                    .filter(form_submission::Column::FormId.eq(&submission.form_id))
                    .filter(form_submission::Column::SubmissionId.eq(&submission.submission_id))
                    .filter(form_submission::Column::ConfirmedAt.is_null())
                    .exec(&*tx)
                    .await?;
                if marked.rows_affected == 1 {
                    let mut trail = Trail::new();
                    trail.set("confirmed", "", &submission.case_number);
                    tx.trail(web_form::Model::KIND, &submission.form_id, &trail).await?;
                }
                Ok(())
            })
            .await
    }
}
