//! The JSON shapes of web form definitions (the portal service's
//! `WebFormService`), which admins manage through `/api/v1/forms`.
//! Submissions are not part of the API: the public `/f/{slug}` pages make them.

use chrono::{DateTime, Utc};
use docket_proto::portal::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{CasePriority, enum_or_unspecified, reference, time};

wire_enum!(
    /// How a form field is entered.
    FormFieldKind => pb::FormFieldKind { Text, Textarea, Email, Select }
);
wire_enum!(
    /// Which part of the new case (or its contact) a form field fills.
    FormFieldTarget => pb::FormFieldTarget {
        Subject, Description, AssetSerialNumber, ContactName, ContactEmail, Phone, AppendToDescription
    }
);

/// One field of a web form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The key of its value in a submission: a-z, 0-9 and `_`, e.g. `serial_number`.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub label: String,
    pub kind: Option<FormFieldKind>,
    /// `select` only: the choices.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub required: bool,
    /// Longest value in characters; 0 means the most its target takes.
    #[serde(default, deserialize_with = "super::whole_number::deserialize")]
    pub max_length: i32,
    /// Every form has exactly one required `contact_email` field of kind `email`.
    pub target: Option<FormFieldTarget>,
    /// Shown under the field.
    #[serde(default)]
    pub help_text: String,
}

impl From<pb::FormField> for FormField {
    fn from(f: pb::FormField) -> Self {
        Self {
            name: f.name,
            label: f.label,
            kind: FormFieldKind::from_proto(f.kind),
            options: f.options,
            required: f.required,
            max_length: f.max_length,
            target: FormFieldTarget::from_proto(f.target),
            help_text: f.help_text,
        }
    }
}

impl From<FormField> for pb::FormField {
    fn from(f: FormField) -> Self {
        Self {
            name: f.name,
            label: f.label,
            kind: enum_or_unspecified(f.kind, FormFieldKind::to_proto),
            options: f.options,
            required: f.required,
            max_length: f.max_length,
            target: enum_or_unspecified(f.target, FormFieldTarget::to_proto),
            help_text: f.help_text,
        }
    }
}

/// A web form any website can embed (`/f/{slug}`): each submission opens a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebForm {
    pub id: String,
    /// In the form's address, `/f/{slug}`: a-z, 0-9 and `-`, unique.
    pub slug: String,
    pub title: String,
    /// Shown above the fields.
    pub intro: String,
    pub fields: Vec<FormField>,
    /// The type of the cases it opens, e.g. `technical_issue`.
    pub case_type_id: String,
    /// The priority of the cases it opens.
    pub priority: Option<CasePriority>,
    /// The team the cases it opens go to.
    pub team_id: Option<String>,
    /// New contacts go to this account; `null`: the "Unassigned" account.
    pub account_id: Option<String>,
    /// Sites that may embed it, e.g. `https://www.example.com`.
    pub allowed_origins: Vec<String>,
    /// Shown after a submission, with the case number.
    pub success_message: String,
    /// An inactive form refuses submissions.
    pub active: bool,
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
    /// Changes on every change; send it back in `If-Match`.
    pub etag: String,
}

impl From<pb::WebForm> for WebForm {
    fn from(f: pb::WebForm) -> Self {
        Self {
            id: f.id,
            slug: f.slug,
            title: f.title,
            intro: f.intro,
            fields: f.fields.into_iter().map(Into::into).collect(),
            case_type_id: f.case_type_id,
            priority: CasePriority::from_proto(f.priority),
            team_id: reference(f.team_id),
            account_id: reference(f.account_id),
            allowed_origins: f.allowed_origins,
            success_message: f.success_message,
            active: f.active,
            create_time: time(f.create_time),
            update_time: time(f.update_time),
            etag: f.etag,
        }
    }
}

/// The fields of a web form a create sets or an update changes. On create,
/// `slug`, `title`, `fields` and `case_type_id` are required, `priority`
/// defaults to `medium` and `active` to `true`; on update, every field
/// present is changed and every field absent is kept (`fields` and
/// `allowed_origins` are replaced whole).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebFormFields {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub intro: Option<String>,
    pub fields: Option<Vec<FormField>>,
    pub case_type_id: Option<String>,
    pub priority: Option<CasePriority>,
    /// `""` clears it.
    pub team_id: Option<String>,
    /// `""` clears it.
    pub account_id: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    /// `""` or absent on create: a standard thank-you.
    pub success_message: Option<String>,
    pub active: Option<bool>,
    /// Update only: why, for the audit trail.
    pub reason: Option<String>,
}

impl WebFormFields {
    /// The form message, and the field mask of the fields present.
    pub fn into_proto(self) -> (pb::WebForm, Vec<String>) {
        let mask = [
            ("slug", self.slug.is_some()),
            ("title", self.title.is_some()),
            ("intro", self.intro.is_some()),
            ("fields", self.fields.is_some()),
            ("case_type_id", self.case_type_id.is_some()),
            ("priority", self.priority.is_some()),
            ("team_id", self.team_id.is_some()),
            ("account_id", self.account_id.is_some()),
            ("allowed_origins", self.allowed_origins.is_some()),
            ("success_message", self.success_message.is_some()),
            ("active", self.active.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect();
        let form = pb::WebForm {
            slug: self.slug.unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            intro: self.intro.unwrap_or_default(),
            fields: self.fields.unwrap_or_default().into_iter().map(Into::into).collect(),
            case_type_id: self.case_type_id.unwrap_or_default(),
            priority: enum_or_unspecified(self.priority, CasePriority::to_proto),
            team_id: self.team_id.unwrap_or_default(),
            account_id: self.account_id.unwrap_or_default(),
            allowed_origins: self.allowed_origins.unwrap_or_default(),
            success_message: self.success_message.unwrap_or_default(),
            // A form made through the API takes submissions unless told otherwise.
            active: self.active.unwrap_or(true),
            ..Default::default()
        };
        (form, mask)
    }
}

/// A page of web forms, by slug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebFormPage {
    pub web_forms: Vec<WebForm>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    pub next_page_token: Option<String>,
}

/// Filters and paging of `GET /forms`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebFormQuery {
    /// At most 500; 0 or absent means 50.
    pub page_size: Option<i32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// Only forms that take submissions.
    pub active_only: Option<bool>,
}

impl From<WebFormQuery> for pb::ListWebFormsRequest {
    fn from(q: WebFormQuery) -> Self {
        Self {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            active_only: q.active_only.unwrap_or_default(),
        }
    }
}

/// Why a form is deleted (optional).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Why, for the audit trail.
    pub reason: Option<String>,
}
