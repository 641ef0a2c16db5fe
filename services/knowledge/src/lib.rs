//! Docket's knowledge-base service. It serves the
//! category tree (`CategoryService`) and articles with their review
//! lifecycle, versions, search, views and feedback (`ArticleService`), and
//! their files (`AttachmentService`), the cases they helped solve
//! (`ArticleLinkService`), and drafts proposed from closed cases
//! (`DraftProposalService`, fed by [`proposals`]), and what readers do with
//! the articles suggested while they type a new case, counted as cases
//! deflected (`DeflectionService`); the rules stand as pure functions with
//! their own tests:
//!
//! - [`domain::deflection`]: deflection events and the calendar periods
//!   (UTC days, ISO weeks, months) their stats are counted in;
//! - [`domain::markdown`]: an article's Markdown to HTML that is safe to
//!   serve whatever its author typed;
//! - [`domain::redaction`]: a solved case's text with the customer's
//!   personal data replaced by placeholders, and the list of what was
//!   replaced, before a draft article is proposed from it;
//! - [`domain::search`]: what a reader types, read as web search engines
//!   read it; text folded as the index keeps it, each locale's stemmer,
//!   typos corrected to known words, snippets;
//! - [`domain::slug`]: readable, stable URL slugs.
//!
//! The API is `proto/docket/knowledge/v1/knowledge.proto`.

pub mod config;
pub mod demo;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod proposals;
pub mod records;
pub mod scheduler;
pub mod store;
pub mod wire;

use docket_kit::clients::CaseClients;
use docket_proto::knowledge::v1::{
    article_link_service_server::ArticleLinkServiceServer, article_service_server::ArticleServiceServer,
    attachment_service_server::AttachmentServiceServer, category_service_server::CategoryServiceServer,
    deflection_service_server::DeflectionServiceServer, draft_proposal_service_server::DraftProposalServiceServer,
};
use tonic::{server::NamedService, service::RoutesBuilder};

/// The service's name: its schema, queue and `docket serve` target.
pub const SERVICE: &str = "knowledge";

/// The gRPC services this crate serves, for health reporting.
pub const GRPC_SERVICES: &[&str] = &[
    <ArticleServiceServer<grpc::ArticleApi> as NamedService>::NAME,
    <ArticleLinkServiceServer<grpc::ArticleLinkApi> as NamedService>::NAME,
    <AttachmentServiceServer<grpc::AttachmentApi> as NamedService>::NAME,
    <CategoryServiceServer<grpc::CategoryApi> as NamedService>::NAME,
    <DeflectionServiceServer<grpc::DeflectionApi> as NamedService>::NAME,
    <DraftProposalServiceServer<grpc::DraftProposalApi> as NamedService>::NAME,
];

/// The calls the portal's token may make for a logged-in customer (with
/// `x-docket-on-behalf-of`): reading, searching and rating what the
/// customers' audience allows (and which categories hold some of it), and
/// recording what they did with the articles suggested while typing a new
/// case.
pub const CONTACT_CALLS: &[&str] = &[
    "/docket.knowledge.v1.CategoryService/ListCategories",
    "/docket.knowledge.v1.ArticleService/GetArticle",
    "/docket.knowledge.v1.ArticleService/ListArticles",
    "/docket.knowledge.v1.ArticleService/SearchArticles",
    "/docket.knowledge.v1.ArticleService/RecordFeedback",
    "/docket.knowledge.v1.ArticleService/RecordView",
    "/docket.knowledge.v1.AttachmentService/GetAttachment",
    "/docket.knowledge.v1.DeflectionService/RecordDeflectionEvent",
];

/// Largest request the knowledge service accepts, in bytes (an attachment
/// of 10 MiB and its envelope).
const MAX_MESSAGE_BYTES: usize = 11 * 1024 * 1024;

/// Adds the knowledge service's gRPC services to a server's routes;
/// `clients` reach the case service (links check that a case exists).
pub fn add_routes(routes: &mut RoutesBuilder, store: store::Store, clients: CaseClients) {
    routes
        .add_service(ArticleLinkServiceServer::new(grpc::ArticleLinkApi::new(store.clone(), clients)))
        .add_service(ArticleServiceServer::new(grpc::ArticleApi::new(store.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES))
        .add_service(
            AttachmentServiceServer::new(grpc::AttachmentApi::new(store.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            CategoryServiceServer::new(grpc::CategoryApi::new(store.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(DeflectionServiceServer::new(grpc::DeflectionApi::new(store.clone())))
        .add_service(
            DraftProposalServiceServer::new(grpc::DraftProposalApi::new(store)).max_decoding_message_size(MAX_MESSAGE_BYTES),
        );
}
