//! Records as messages: what the gRPC adapter answers and the events carry.

use docket_kit::mutation::Stamps;
use docket_proto::knowledge::v1 as pb;

use crate::{
    domain::{
        articles::{Audience, State},
        markdown,
    },
    records::{
        entities::{article, article_version},
        strings_of,
    },
};

pub fn audience(audience: Audience) -> pb::Audience {
    match audience {
        Audience::Internal => pb::Audience::Internal,
        Audience::Customers => pb::Audience::Customers,
        Audience::Public => pb::Audience::Public,
    }
}

pub fn state(state: State) -> pb::ArticleState {
    match state {
        State::Draft => pb::ArticleState::Draft,
        State::InReview => pb::ArticleState::InReview,
        State::Scheduled => pb::ArticleState::Scheduled,
        State::Published => pb::ArticleState::Published,
        State::Archived => pb::ArticleState::Archived,
    }
}

/// What of an article a message shows.
pub enum Shown<'a> {
    /// The working copy, as its editors see it.
    Working,
    /// A published version, as readers see it.
    Version(&'a article_version::Model),
    /// An archived article: who it was, not what it said.
    Archived,
}

/// The message of an article showing `shown`.
pub fn article(model: &article::Model, shown: Shown<'_>) -> pb::Article {
    let Stamps { create_time, update_time, etag } = Stamps::of(model.created_at, model.updated_at, model.version);
    let mut message = pb::Article {
        id: model.id.clone(),
        slug: model.slug.clone(),
        locale: model.locale.clone(),
        category_id: model.category_id.clone().unwrap_or_default(),
        audience: Audience::from_name(&model.audience).map_or(pb::Audience::Unspecified, audience) as i32,
        related_article_ids: strings_of(&model.related_article_ids),
        owner_id: model.owner_id.clone(),
        view_count: model.view_count,
        helpful_count: model.helpful_count,
        not_helpful_count: model.not_helpful_count,
        create_time,
        update_time,
        etag,
        ..Default::default()
    };
    match shown {
        Shown::Working => {
            message.title.clone_from(&model.title);
            message.summary.clone_from(&model.summary);
            message.body_markdown.clone_from(&model.body_markdown);
            message.body_html = markdown::to_html(&model.body_markdown);
            message.tags = strings_of(&model.tags);
            message.state = State::from_name(&model.state).map_or(pb::ArticleState::Unspecified, state) as i32;
            message.publish_time = model.publish_at.map(docket_kit::time::to_proto);
            message.version = model.versions + i32::from(model.draft_pending || model.live_version.is_none());
        }
        Shown::Version(version) => {
            message.title.clone_from(&version.title);
            message.summary.clone_from(&version.summary);
            message.body_markdown.clone_from(&version.body_markdown);
            message.body_html.clone_from(&version.body_html);
            message.tags = strings_of(&version.tags);
            message.state = pb::ArticleState::Published as i32;
            message.version = version.version;
            message.publish_time = Some(docket_kit::time::to_proto(version.published_at));
        }
        Shown::Archived => {
            message.title.clone_from(&model.title);
            message.state = pb::ArticleState::Archived as i32;
            message.version = model.live_version.unwrap_or(model.versions);
        }
    }
    message
}
