//! ListTemplates, UpdateTemplate, ResetTemplate.

use docket_kit::{auth::caller, error::FieldViolations, time};
use docket_proto::notification::v1 as pb;
use tonic::{Request, Response, Status};

use super::shared::{actor, reason};
use crate::{
    domain::templates::{
        BODY_MAX, SUBJECT_MAX, Template, is_templated, template_variables, templated_event_types, validate_template,
    },
    store::{Store, templates::TemplateRecord},
};

fn to_proto(record: TemplateRecord) -> pb::Template {
    pb::Template {
        event_type: record.event_type,
        subject: record.template.subject,
        body: record.template.body,
        customized: record.customized,
        update_time: if record.customized { time::to_proto_opt(record.updated_at) } else { None },
    }
}

/// An event type with a template; bad input parses as itself and is
/// refused with the other violations.
pub fn event_type(violations: &mut FieldViolations, field: &str, event_type: &str) -> String {
    if !is_templated(event_type) {
        violations.add(
            field,
            format!(
                "`{}` is not an event type; known: {}",
                event_type.chars().take(64).collect::<String>(),
                templated_event_types().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    event_type.to_owned()
}

/// A template as sent, checked the way it will be used: it must render.
fn parse_template(violations: &mut FieldViolations, event_type: &str, sent: &pb::Template) -> Template {
    let subject = violations.required_text("template.subject", &sent.subject, SUBJECT_MAX);
    if sent.body.trim().is_empty() {
        violations.add("template.body", "is required");
    } else if sent.body.chars().count() > BODY_MAX {
        violations.add("template.body", format!("is longer than {BODY_MAX} characters"));
    }
    let template = Template { subject, body: sent.body.clone() };
    if violations.is_empty()
        && let Err(err) = validate_template(event_type, &template)
    {
        violations.add(err.field, format!("does not render: {}", err.message));
    }
    template
}

pub async fn list(
    store: &Store,
    request: Request<pb::ListTemplatesRequest>,
) -> Result<Response<pb::ListTemplatesResponse>, Status> {
    caller(&request)?;
    let mut templates = Vec::new();
    for event_type in templated_event_types() {
        templates.push(to_proto(store.template(event_type).await?));
    }
    Ok(Response::new(pb::ListTemplatesResponse { templates, variables: template_variables().into_iter().collect() }))
}

pub async fn update(store: &Store, request: Request<pb::UpdateTemplateRequest>) -> Result<Response<pb::Template>, Status> {
    let caller = caller(&request)?;
    caller.require_admin()?;
    let request = request.into_inner();
    let sent = request.template.unwrap_or_default();
    let mut violations = FieldViolations::new();
    let event_type = event_type(&mut violations, "template.event_type", &sent.event_type);
    let template = parse_template(&mut violations, &event_type, &sent);
    let reason = reason(&mut violations, &request.reason);
    violations.into_result()?;
    let saved = store.update_template(&event_type, template, &actor(&caller, &reason)).await?;
    Ok(Response::new(to_proto(saved)))
}

pub async fn reset(store: &Store, request: Request<pb::ResetTemplateRequest>) -> Result<Response<pb::Template>, Status> {
    let caller = caller(&request)?;
    caller.require_admin()?;
    let request = request.into_inner();
    let mut violations = FieldViolations::new();
    let event_type = event_type(&mut violations, "event_type", &request.event_type);
    let reason = reason(&mut violations, &request.reason);
    violations.into_result()?;
    let reset = store.reset_template(&event_type, &actor(&caller, &reason)).await?;
    Ok(Response::new(to_proto(reset)))
}
