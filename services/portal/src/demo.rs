//! Demo data for `docket dev`: a few demo contacts with portal access and a
//! known password, so a newcomer can log in at once, and a `support` web form.

use crate::{
    domain::{
        forms::{FieldKind, FieldTarget, FormDefinition, FormField},
        password,
    },
    error::{Result, internal},
    store::{Actor, ContactFacts, Store},
};
use docket_kit::mutation::Once;

/// The password of every demo portal user (printed by `docket dev`).
pub const DEV_PASSWORD: &str = "docket-dev-portal";

/// A demo contact who gets portal access.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub contact: ContactFacts,
    pub portal_manager: bool,
}

/// The `support` form: name, email, topic, serial number, what happened.
pub fn support_form() -> FormDefinition {
    FormDefinition {
        slug: "support".to_owned(),
        title: "Contact support".to_owned(),
        intro: "Tell us what is wrong; we answer within one business day.".to_owned(),
        fields: vec![
            FormField::new("name", "Your name", FieldKind::Text, FieldTarget::ContactName, true),
            FormField::new("email", "Email", FieldKind::Email, FieldTarget::ContactEmail, true),
            FormField::new("phone", "Phone", FieldKind::Text, FieldTarget::Phone, false),
            FormField::new("subject", "Subject", FieldKind::Text, FieldTarget::Subject, true),
            FormField {
                options: vec!["Machine or device".into(), "Software".into(), "Billing".into(), "Other".into()],
                ..FormField::new("topic", "Topic", FieldKind::Select, FieldTarget::AppendToDescription, false)
            },
            FormField::new("serial_number", "Serial number", FieldKind::Text, FieldTarget::AssetSerialNumber, false),
            FormField::new("message", "What happened?", FieldKind::Textarea, FieldTarget::Description, true),
        ],
        case_type_id: "service_request".to_owned(),
        priority: "medium".to_owned(),
        team_id: None,
        account_id: None,
        allowed_origins: vec!["http://localhost:8000".to_owned()],
        success_message: "Thank you. We have opened a case for you and sent you a confirmation email.".to_owned(),
        active: true,
    }
}

/// Seeds the demo portal users and the `support` form unless there are
/// portal users already. Returns whether it seeded.
pub async fn seed(store: &Store, users: &[DemoUser]) -> Result<bool> {
    if store.has_users().await? {
        return Ok(false);
    }
    let by = Actor { actor: "system:demo", reason: "demo data for docket dev", at: docket_kit::time::now() };
    let hash = tokio::task::spawn_blocking(|| password::hash(DEV_PASSWORD))
        .await
        .map_err(|err| internal(format!("hashing task: {err}")))?
        .map_err(|err| internal(err.to_string()))?;
    for user in users {
        store.add_active_user(&user.contact, user.portal_manager, hash.clone(), &by).await?;
    }
    store.create_form(support_form(), &by, Once::default()).await?;
    Ok(true)
}
