//! The events this service writes to its outbox (`docket.events.v1`,
//! routing key = event type), in the transaction of the change they report.

use docket_kit::{audit::Changes, mutation::Event};
use docket_proto::events::v1 as ev;

use crate::{
    records::entities::article,
    wire::{self, Shown},
};

/// `article.created`, `article.updated`, `article.submitted_for_review`,
/// `article.rejected`, `article.published`, `article.archived`: the
/// working copy after the change (at a publish, the version that went live).
pub fn article_changed(event_type: &'static str, model: &article::Model, changes: &Changes, comment: &str) -> Event {
    let payload = ev::ArticleChanged {
        article: Some(wire::article(model, Shown::Working)),
        changes: changes
            .fields()
            .map(|c| ev::FieldChange { field: c.field.to_owned(), old_value: c.old.clone(), new_value: c.new.clone() })
            .collect(),
        comment: comment.to_owned(),
    };
    Event::new(event_type, &model.id, "docket.events.v1.ArticleChanged", &payload)
}

/// `article.feedback_received`.
pub fn feedback_received(model: &article::Model, helpful: bool, comment: &str, reader: &str) -> Event {
    let payload = ev::ArticleFeedbackReceived {
        article_id: model.id.clone(),
        slug: model.slug.clone(),
        title: model.title.clone(),
        helpful,
        comment: comment.to_owned(),
        reader: reader.to_owned(),
    };
    Event::new("article.feedback_received", &model.id, "docket.events.v1.ArticleFeedbackReceived", &payload)
}
