//! `AttachmentService`: staff attach images and files to articles; a file
//! is read by whoever may read its article (staff: any article; others:
//! the live version their audience allows).

use docket_kit::{auth::caller, error::FieldViolations, request::RecordId};
use docket_proto::knowledge::v1::{self as pb, attachment_service_server::AttachmentService};
use tonic::{Request, Response, Status};

use super::{
    actor,
    articles::{reader, require_editor, shown_to},
};
use crate::{
    domain::{
        ArticleId,
        articles::{Reader, State},
        attachments,
    },
    records::entities::attachment,
    store::{Lookup, Store, Upload},
};

pub struct AttachmentApi {
    store: Store,
}

impl AttachmentApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn wire(row: attachment::Model) -> pb::Attachment {
    pb::Attachment {
        id: row.id,
        article_id: row.article_id,
        file_name: row.file_name,
        content_type: row.content_type,
        size: row.size,
        digest: row.digest,
        create_time: Some(docket_kit::time::to_proto(row.created_at)),
    }
}

#[tonic::async_trait]
impl AttachmentService for AttachmentApi {
    async fn upload_attachment(&self, request: Request<pb::UploadAttachmentRequest>) -> Result<Response<pb::Attachment>, Status> {
        let caller = caller(&request)?;
        require_editor(&caller)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let article_id: ArticleId = violations.id("article_id", &request.article_id);
        let file_name = attachments::file_name(&request.file_name);
        if file_name.is_none() {
            violations.add("file_name", "name the file");
        }
        let content_type = if request.content.is_empty() {
            violations.add("content", "the file is empty");
            None
        } else if request.content.len() > attachments::MAX_BYTES {
            violations.add("content", format!("the file is larger than {} MiB", attachments::MAX_BYTES / 1024 / 1024));
            None
        } else {
            let kind = attachments::content_type(&request.content);
            if kind.is_none() {
                violations
                    .add("content", "is not a kind of file articles take: PNG, JPEG, GIF or WebP images, PDF, or UTF-8 text");
            }
            kind
        };
        violations.into_result()?;
        let stored = self.store.find_article(&Lookup::Id(article_id)).await?;
        if stored.article.state == State::Archived.name() {
            return Err(Status::failed_precondition("the article is archived"));
        }
        let upload = Upload {
            file_name: file_name.unwrap_or_default(),
            content_type: content_type.unwrap_or_default(),
            content: request.content,
        };
        Ok(Response::new(wire(self.store.attach(&stored.article, upload, &actor(&caller, "")).await?)))
    }

    async fn get_attachment(
        &self,
        request: Request<pb::GetAttachmentRequest>,
    ) -> Result<Response<pb::AttachmentContent>, Status> {
        let caller = caller(&request)?;
        let reader = reader(&caller);
        let mut violations = FieldViolations::new();
        let id = violations.id_text("id", &request.get_ref().id);
        violations.into_result()?;
        let (row, content) = self.store.attachment(&id).await?;
        let article_id = ArticleId::stored(&row.article_id).map_err(docket_kit::Error::<std::convert::Infallible>::from)?;
        let article = self.store.find_article(&Lookup::Id(article_id)).await?;
        // Readers see a file only where they see its article's text.
        let readable = reader == Reader::Staff
            || shown_to(&article, reader, false).is_some_and(|shown| shown.state() == pb::ArticleState::Published);
        if !readable {
            return Err(Status::not_found(format!("no attachment {id}")));
        }
        Ok(Response::new(pb::AttachmentContent { attachment: Some(wire(row)), content }))
    }
}
