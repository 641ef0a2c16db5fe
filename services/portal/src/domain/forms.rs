//! Web forms: what a definition must satisfy, and how a submission's values
//! become a contact and a case. Every problem is a field violation, named
//! after the definition's field (`web_form.fields[2].name`) or the
//! submitted value (`values.email`).

use std::collections::BTreeMap;

use docket_kit::error::FieldViolations;
use serde::{Deserialize, Serialize};

use super::{AccountId, TeamId};

/// Limits of the case service, in characters.
const SUBJECT_MAX: usize = 250;
const LONG_TEXT_MAX: usize = 20_000;
const SERIAL_MAX: usize = 100;
const NAME_MAX: usize = 200;
const EMAIL_MAX: usize = 254;
const PHONE_MAX: usize = 50;
/// One line of a text field.
const TEXT_MAX: usize = 500;

pub const FIELDS_MAX: usize = 30;
pub const OPTIONS_MAX: usize = 50;
pub const ORIGINS_MAX: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Textarea,
    Email,
    Select,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldTarget {
    Subject,
    Description,
    AssetSerialNumber,
    ContactName,
    ContactEmail,
    Phone,
    AppendToDescription,
}

impl FieldTarget {
    /// The most characters what it fills takes.
    fn capacity(self) -> usize {
        match self {
            FieldTarget::Subject => SUBJECT_MAX,
            FieldTarget::Description | FieldTarget::AppendToDescription => LONG_TEXT_MAX,
            FieldTarget::AssetSerialNumber => SERIAL_MAX,
            FieldTarget::ContactName => NAME_MAX,
            FieldTarget::ContactEmail => EMAIL_MAX,
            FieldTarget::Phone => PHONE_MAX,
        }
    }

    /// Whether a form may have several fields with this target.
    fn repeatable(self) -> bool {
        self == FieldTarget::AppendToDescription
    }
}

/// One field of a form, as stored (JSON) and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub options: Vec<String>,
    pub required: bool,
    /// 0: the most its target takes.
    pub max_length: u32,
    pub target: FieldTarget,
    #[serde(default)]
    pub help_text: String,
}

impl FormField {
    /// A field with no options, no limit of its own and no help text.
    pub fn new(name: &str, label: &str, kind: FieldKind, target: FieldTarget, required: bool) -> Self {
        FormField {
            name: name.to_owned(),
            label: label.to_owned(),
            kind,
            options: Vec::new(),
            required,
            max_length: 0,
            target,
            help_text: String::new(),
        }
    }

    /// The longest value accepted.
    pub fn limit(&self) -> usize {
        let own = match self.kind {
            FieldKind::Text | FieldKind::Select => TEXT_MAX,
            FieldKind::Textarea => LONG_TEXT_MAX,
            FieldKind::Email => EMAIL_MAX,
        };
        let limit = own.min(self.target.capacity());
        match self.max_length {
            0 => limit,
            n => limit.min(n as usize),
        }
    }
}

/// A form as an admin defines it (everything but its id and version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormDefinition {
    pub slug: String,
    pub title: String,
    pub intro: String,
    pub fields: Vec<FormField>,
    pub case_type_id: String,
    /// `low`, `medium`, `high` or `critical`.
    pub priority: String,
    pub team_id: Option<TeamId>,
    pub account_id: Option<AccountId>,
    pub allowed_origins: Vec<String>,
    pub success_message: String,
    pub active: bool,
}

impl FormDefinition {
    /// Whether a page of `origin` may use the form; an empty origin is the
    /// gateway's own page.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        origin.is_empty() || self.allowed_origins.contains(&origin)
    }
}

/// A field name: a-z, 0-9 and _, starting with a letter, at most 50.
fn is_field_name(name: &str) -> bool {
    name.len() <= 50
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A slug: a-z, 0-9 and -, 1 to 60, not starting or ending with -.
pub fn check_slug(violations: &mut FieldViolations, field: &str, slug: &str) -> String {
    let slug = slug.trim();
    if slug.is_empty() {
        violations.add(field, "is required");
    } else if slug.len() > 60
        || slug.starts_with('-')
        || slug.ends_with('-')
        || !slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        violations.add(field, "must be 1 to 60 of a-z, 0-9 and - (e.g. support or warranty-claim)");
    }
    slug.to_owned()
}

/// Checks the fields of a form definition together (each field's own
/// values were parsed already): unique names, one contact email field,
/// targets that fit, options only for selects.
pub fn check_fields(violations: &mut FieldViolations, fields: &[FormField]) {
    if fields.is_empty() {
        violations.add("web_form.fields", "a form needs at least its contact email field");
    }
    if fields.len() > FIELDS_MAX {
        violations.add("web_form.fields", format!("has {} fields; the most allowed is {FIELDS_MAX}", fields.len()));
        return;
    }
    let mut names: Vec<&str> = Vec::new();
    let mut targets: Vec<FieldTarget> = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let at = |part: &str| format!("web_form.fields[{i}].{part}");
        if !is_field_name(&field.name) {
            violations.add(at("name"), "must be 1 to 50 of a-z, 0-9 and _, starting with a letter (e.g. serial_number)");
        } else if names.contains(&field.name.as_str()) {
            violations.add(at("name"), format!("`{}` is used by another field", field.name));
        }
        names.push(&field.name);
        if field.label.trim().is_empty() {
            violations.add(at("label"), "is required");
        }
        if !field.target.repeatable() && targets.contains(&field.target) {
            violations.add(at("target"), "another field already fills this; only append_to_description may repeat");
        }
        targets.push(field.target);
        match field.kind {
            FieldKind::Select => {
                if field.options.is_empty() {
                    violations.add(at("options"), "a select needs at least one option");
                }
                if field.options.len() > OPTIONS_MAX {
                    violations
                        .add(at("options"), format!("has {} options; the most allowed is {OPTIONS_MAX}", field.options.len()));
                }
                for (j, option) in field.options.iter().enumerate() {
                    if option.trim().is_empty() {
                        violations.add(format!("web_form.fields[{i}].options[{j}]"), "is empty");
                    } else if field.options[..j].contains(option) {
                        violations.add(format!("web_form.fields[{i}].options[{j}]"), "is listed twice");
                    } else if option.chars().count() > field.limit() {
                        violations.add(format!("web_form.fields[{i}].options[{j}]"), "is longer than the field may be");
                    }
                }
            }
            _ if !field.options.is_empty() => violations.add(at("options"), "only a select has options"),
            _ => {}
        }
        if field.target == FieldTarget::ContactEmail {
            if field.kind != FieldKind::Email {
                violations.add(at("kind"), "the contact email field must be of kind email");
            }
            if !field.required {
                violations.add(at("required"), "the contact email field must be required");
            }
        } else if field.kind == FieldKind::Email && field.target != FieldTarget::AppendToDescription {
            violations.add(at("target"), "an email field fills the contact email (or is appended to the description)");
        }
        if field.max_length as usize > field.target.capacity() {
            violations.add(at("max_length"), format!("must be 0 (the most) to {}", field.target.capacity()));
        }
    }
    if !fields.is_empty() && !targets.contains(&FieldTarget::ContactEmail) {
        violations.add("web_form.fields", "a form needs one field with target contact_email, to find or create the submitter");
    }
}

/// An allowed embedding origin: `scheme://host[:port]`, http or https,
/// nothing after the host. Returned lower-cased, without a trailing slash.
pub fn check_origin(violations: &mut FieldViolations, field: &str, origin: &str) -> String {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    let valid = rest.is_some_and(|rest| {
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        host_ok && port_ok
    });
    if !valid {
        violations.add(
            field,
            format!(
                "`{}` is not an origin; write scheme and host only, e.g. https://www.example.com",
                origin.chars().take(100).collect::<String>()
            ),
        );
    }
    origin
}

/// What a valid submission becomes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    pub email: String,
    pub contact_name: String,
    pub phone: String,
    pub subject: String,
    pub description: String,
    pub asset_serial_number: String,
}

/// Checks submitted values against the form's fields and maps them onto
/// the case and contact. Violations are named `values.<field name>`.
pub fn read_submission(
    violations: &mut FieldViolations,
    title: &str,
    fields: &[FormField],
    values: &BTreeMap<String, String>,
) -> Submission {
    for name in values.keys() {
        if !fields.iter().any(|f| &f.name == name) {
            violations.add(format!("values.{}", name.chars().take(50).collect::<String>()), "is not a field of this form");
        }
    }
    let mut out = Submission::default();
    let mut appended: Vec<String> = Vec::new();
    for field in fields {
        let key = format!("values.{}", field.name);
        let raw = values.get(&field.name).map(String::as_str).unwrap_or_default();
        let value = match field.kind {
            FieldKind::Email => violations.email(&key, raw, field.required),
            FieldKind::Textarea => violations.optional_text(&key, raw, field.limit()),
            FieldKind::Text | FieldKind::Select => {
                let value = violations.optional_text(&key, raw, field.limit());
                if value.contains(['\n', '\r']) {
                    violations.add(&key, "must be one line");
                }
                value
            }
        };
        if value.is_empty() {
            if field.required && field.kind != FieldKind::Email {
                violations.add(&key, format!("is required ({})", field.label));
            }
            continue;
        }
        if field.kind == FieldKind::Select && !field.options.contains(&value) {
            violations.add(&key, format!("must be one of: {}", field.options.join(", ")));
            continue;
        }
        match field.target {
            FieldTarget::Subject => out.subject = value,
            FieldTarget::Description => out.description = value,
            FieldTarget::AssetSerialNumber => out.asset_serial_number = value,
            FieldTarget::ContactName => out.contact_name = value,
            FieldTarget::ContactEmail => out.email = value,
            FieldTarget::Phone => out.phone = value,
            FieldTarget::AppendToDescription => appended.push(format!("{}: {value}", field.label.trim())),
        }
    }
    if out.subject.is_empty() {
        out.subject = title.chars().take(SUBJECT_MAX).collect();
    }
    if !appended.is_empty() {
        let extra = appended.join("\n");
        out.description = if out.description.is_empty() { extra } else { format!("{}\n\n{extra}", out.description) };
        if out.description.chars().count() > LONG_TEXT_MAX {
            violations.add("values", format!("the description these values make is longer than {LONG_TEXT_MAX} characters"));
        }
    }
    if out.contact_name.is_empty() {
        out.contact_name = out.email.split('@').next().unwrap_or_default().to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind, target: FieldTarget, required: bool) -> FormField {
        FormField::new(name, &name.replace('_', " "), kind, target, required)
    }

    fn support_form() -> Vec<FormField> {
        vec![
            field("email", FieldKind::Email, FieldTarget::ContactEmail, true),
            field("name", FieldKind::Text, FieldTarget::ContactName, false),
            field("topic", FieldKind::Text, FieldTarget::Subject, true),
            field("details", FieldKind::Textarea, FieldTarget::Description, true),
            FormField {
                options: vec!["Printer".into(), "Scanner".into()],
                ..field("device", FieldKind::Select, FieldTarget::AppendToDescription, false)
            },
        ]
    }

    fn fields_of(violations: &FieldViolations) -> Vec<String> {
        violations.iter().map(|(f, _)| f.to_owned()).collect()
    }

    #[test]
    fn a_sound_definition_passes() {
        let mut v = FieldViolations::new();
        check_fields(&mut v, &support_form());
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn a_definition_names_each_bad_field() {
        let mut fields = support_form();
        fields[1].name = "Bad Name".into();
        fields[2].target = FieldTarget::ContactName;
        fields[3].options = vec!["x".into()];
        fields[4].options.clear();
        let mut v = FieldViolations::new();
        check_fields(&mut v, &fields);
        assert_eq!(
            fields_of(&v),
            ["web_form.fields[1].name", "web_form.fields[2].target", "web_form.fields[3].options", "web_form.fields[4].options"]
        );

        let mut v = FieldViolations::new();
        check_fields(&mut v, &support_form()[1..]);
        assert_eq!(fields_of(&v), ["web_form.fields"], "no contact email field");
        let mut optional_email = support_form();
        optional_email[0].required = false;
        let mut v = FieldViolations::new();
        check_fields(&mut v, &optional_email);
        assert_eq!(fields_of(&v), ["web_form.fields[0].required"]);
    }

    #[test]
    fn origins_are_scheme_and_host_only() {
        let mut v = FieldViolations::new();
        assert_eq!(check_origin(&mut v, "o", "https://WWW.Example.com/"), "https://www.example.com");
        assert_eq!(check_origin(&mut v, "o", "http://localhost:8080"), "http://localhost:8080");
        assert!(v.is_empty());
        for bad in [
            "www.example.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://",
            "https://a b.com",
            "https://x.com:99999",
            "https://user@x.com",
            "https://x.com?q=1",
        ] {
            let mut v = FieldViolations::new();
            check_origin(&mut v, "o", bad);
            assert!(!v.is_empty(), "{bad} should be refused");
        }
    }

    #[test]
    fn a_submission_fills_the_case_and_the_contact() {
        let values: BTreeMap<String, String> =
            [("email", " Petra@Acme.Example "), ("topic", "Printer jams"), ("details", "Every morning."), ("device", "Printer")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let mut v = FieldViolations::new();
        let out = read_submission(&mut v, "Support", &support_form(), &values);
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(out.email, "petra@acme.example");
        assert_eq!(out.contact_name, "petra");
        assert_eq!(out.subject, "Printer jams");
        assert_eq!(out.description, "Every morning.\n\ndevice: Printer");
    }

    #[test]
    fn bad_values_are_named_after_their_field() {
        let values: BTreeMap<String, String> =
            [("email", "not-an-email"), ("topic", "two\nlines"), ("device", "Fax"), ("unknown", "x")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let mut v = FieldViolations::new();
        read_submission(&mut v, "Support", &support_form(), &values);
        let mut named = fields_of(&v);
        named.sort();
        assert_eq!(named, ["values.details", "values.device", "values.email", "values.topic", "values.unknown"]);

        let mut v = FieldViolations::new();
        let mut short = support_form();
        short[2].max_length = 5;
        let values: BTreeMap<String, String> = [("email", "a@b.example"), ("topic", "too long"), ("details", "x")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        read_submission(&mut v, "Support", &short, &values);
        assert_eq!(fields_of(&v), ["values.topic"]);
    }
}
