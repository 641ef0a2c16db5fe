//! Attachments: a row per file on an article, the bytes once per digest.

use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};
use sha2::{Digest, Sha256};

use super::{Actor, Store, Trail};
use crate::records::entities::{article, attachment, blob};

type Result<T> = std::result::Result<T, docket_kit::Error>;

/// A file to attach, already checked (kind, size, name).
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub content_type: &'static str,
    pub content: Vec<u8>,
}

impl Store {
    /// Attaches the file to the article, storing its bytes unless a file
    /// with the same bytes is stored already; the article's trail notes it.
    pub async fn attach(&self, article: &article::Model, upload: Upload, by: &Actor<'_>) -> Result<attachment::Model> {
        let digest = Sha256::digest(&upload.content).iter().map(|b| format!("{b:02x}")).collect::<String>();
        let size = i64::try_from(upload.content.len()).unwrap_or(i64::MAX);
        self.mutations
            .run(by, async |tx| {
                if blob::Entity::find_by_id(digest.clone()).one(&*tx).await?.is_none() {
                    blob::Model { digest: digest.clone(), size, content: upload.content.clone() }
                        .into_active_model()
                        .insert(&*tx)
                        .await?;
                }
                let row = attachment::Model {
                    id: docket_kit::request::Uuid::now_v7().to_string(),
                    article_id: article.id.clone(),
                    file_name: upload.file_name.clone(),
                    content_type: upload.content_type.to_owned(),
                    size,
                    digest: digest.clone(),
                    uploaded_by: by.actor.to_owned(),
                    created_at: by.at,
                }
                .into_active_model()
                .insert(&*tx)
                .await?;
                let mut trail = Trail::new();
                trail.set("attachment_added", "", &row.file_name);
                tx.trail("article", &article.id, &trail).await?;
                Ok::<_, docket_kit::Error>(row)
            })
            .await
    }

    /// The attachment and its bytes.
    pub async fn attachment(&self, id: &str) -> Result<(attachment::Model, Vec<u8>)> {
        let row = attachment::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| docket_kit::Error::not_found("attachment", id))?;
        let bytes = blob::Entity::find_by_id(row.digest.clone())
            .one(&self.db)
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound(format!("the bytes of attachment {id}")))?;
        Ok((row, bytes.content))
    }
}
