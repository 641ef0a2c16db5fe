//! `AttachmentService`: files on articles, kinds read from the bytes, the
//! bytes stored once, read only by whoever may read the article.

use docket_proto::knowledge::v1 as pb;
use tonic::Code;

use crate::{
    common::{ADMIN, AGENT, PORTAL, SERVICE, TestApp, VIEWER, assert_field_error},
    on_both_backends,
    support::{as_customer, publish_new, titled},
};

/// An article of `audience`: a draft, or published.
async fn article(app: &TestApp, title: &str, audience: pb::Audience, publish: bool) -> pb::Article {
    if publish {
        return publish_new(app, titled(title, audience)).await;
    }
    let request = pb::CreateArticleRequest { article: Some(titled(title, audience)), idempotency_key: String::new() };
    app.articles(ADMIN).create_article(request).await.unwrap().into_inner()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

fn upload(article: &pb::Article, file_name: &str, content: &[u8]) -> pb::UploadAttachmentRequest {
    pb::UploadAttachmentRequest { article_id: article.id.clone(), file_name: file_name.into(), content: content.to_vec() }
}

fn get(id: &str) -> pb::GetAttachmentRequest {
    pb::GetAttachmentRequest { id: id.into() }
}

async fn files_are_typed_by_their_bytes_stored_once_and_read_by_the_articles_readers(app: TestApp) {
    let public = article(&app, "Jam diagram", pb::Audience::Public, true).await;
    let internal = article(&app, "Vendor sheet", pb::Audience::Internal, true).await;
    let draft = article(&app, "Work in progress", pb::Audience::Public, false).await;
    let mut agent = app.attachments(AGENT);

    let png = agent.upload_attachment(upload(&public, "C:\\Users\\ann\\jam.png", PNG)).await.unwrap().into_inner();
    assert_eq!((png.file_name.as_str(), png.content_type.as_str(), png.size), ("jam.png", "image/png", PNG.len() as i64));
    assert_eq!(png.digest.len(), 64);
    // The same bytes under another name and on another article: one blob.
    let again = agent.upload_attachment(upload(&internal, "copy.png", PNG)).await.unwrap().into_inner();
    assert_eq!(again.digest, png.digest);
    assert_eq!(app.table_counts("knowledge", &["attachments", "blobs"]).await, [("attachments".into(), 2), ("blobs".into(), 1)]);
    // A name says nothing: a PDF called .png is a PDF.
    let pdf = agent.upload_attachment(upload(&public, "manual.png", b"%PDF-1.7\n%\xe2\xe3\n")).await.unwrap().into_inner();
    assert_eq!(pdf.content_type, "application/pdf");
    let in_draft = agent.upload_attachment(upload(&draft, "notes.txt", b"step one\n")).await.unwrap().into_inner();
    assert_eq!(in_draft.content_type, "text/plain; charset=utf-8");

    // Readers: the file of a public, published article for anyone; the
    // rest as NOT_FOUND, like an attachment that is not there.
    let read = app.attachments(SERVICE).get_attachment(get(&png.id)).await.unwrap().into_inner();
    assert_eq!((read.content.as_slice(), read.attachment.unwrap().file_name.as_str()), (PNG, "jam.png"));
    assert!(app.attachments(PORTAL).get_attachment(as_customer(get(&png.id))).await.is_ok());
    for hidden in [&again.id, &in_draft.id] {
        let refused = app.attachments(SERVICE).get_attachment(get(hidden)).await.unwrap_err();
        assert_eq!(refused.code(), Code::NotFound);
        let refused = app.attachments(PORTAL).get_attachment(as_customer(get(hidden))).await.unwrap_err();
        assert_eq!(refused.code(), Code::NotFound);
        assert!(app.attachments(VIEWER).get_attachment(get(hidden)).await.is_ok(), "staff read every file");
    }
}

async fn bad_files_are_refused_and_change_nothing(app: TestApp) {
    let public = article(&app, "Jam diagram", pb::Audience::Public, true).await;
    let mut agent = app.attachments(AGENT);
    let before = app.table_counts("knowledge", &["attachments", "blobs", "audit_entries"]).await;
    for (request, field) in [
        (upload(&public, "setup.exe", b"MZ\x90\0\x03\0\0\0\x04\0"), "content"),
        (upload(&public, "archive.zip", b"PK\x03\x04\x14\0"), "content"),
        (upload(&public, "empty.txt", b""), "content"),
        (upload(&public, "big.txt", &vec![b'a'; 10 * 1024 * 1024 + 1]), "content"),
        (upload(&public, "/", PNG), "file_name"),
        (pb::UploadAttachmentRequest { article_id: "nope".into(), ..upload(&public, "a.png", PNG) }, "article_id"),
    ] {
        let refused = agent.upload_attachment(request).await.unwrap_err();
        assert_field_error(&refused, Code::InvalidArgument, field);
    }
    let missing = pb::UploadAttachmentRequest {
        article_id: "0190a000-0000-7000-8000-000000000000".into(),
        ..upload(&public, "a.png", PNG)
    };
    assert_eq!(agent.upload_attachment(missing).await.unwrap_err().code(), Code::NotFound);
    for token in [VIEWER, SERVICE] {
        let denied = app.attachments(token).upload_attachment(upload(&public, "a.png", PNG)).await.unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{token}");
    }
    assert_field_error(&agent.get_attachment(get("nope")).await.unwrap_err(), Code::InvalidArgument, "id");
    let unknown = agent.get_attachment(get("0190a000-0000-7000-8000-000000000000")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(app.table_counts("knowledge", &["attachments", "blobs", "audit_entries"]).await, before);
}

on_both_backends!(
    files_are_typed_by_their_bytes_stored_once_and_read_by_the_articles_readers,
    bad_files_are_refused_and_change_nothing
);
