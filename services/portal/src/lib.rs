//! The portal service (`docket.portal.v1`): who may use the customer portal
//! and what a customer may see and do there, plus the web forms any website
//! can embed.
//!
//! - portal users are contacts of the case service with credentials here
//!   (argon2id), invited by staff through a one-time emailed link;
//! - sessions and login counters live in the kit's expiring key store
//!   (Redis, or memory under `docket dev`) — see [`sessions`];
//! - every read and write of a customer's cases is checked here
//!   ([`domain::access`]) and made in the case service as the contact;
//! - web form submissions become a contact and a case with channel WEB_FORM.
//!
//! `domain` holds the rules and the validated commands, `records` the
//! tables and what the portal keeps in them, `store` the commands on them
//! (every change through the kit's mutation runner), `grpc` the wire
//! adapter, `events` what goes to the outbox (the invitation and reset
//! emails).

pub mod addresses;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod records;
pub mod sessions;
pub mod store;

use docket_proto::portal::v1::{
    portal_access_service_server::PortalAccessServiceServer, portal_auth_service_server::PortalAuthServiceServer,
    portal_case_service_server::PortalCaseServiceServer, web_form_service_server::WebFormServiceServer,
};
use tonic::{server::NamedService, service::RoutesBuilder};

/// The service name used for its schema, its file, and `docket serve portal`.
pub const SERVICE: &str = "portal";

/// The gRPC services this crate serves, for health reporting.
pub const GRPC_SERVICES: &[&str] = &[
    <PortalAccessServiceServer<grpc::PortalAccessApi> as NamedService>::NAME,
    <PortalAuthServiceServer<grpc::PortalAuthApi> as NamedService>::NAME,
    <PortalCaseServiceServer<grpc::PortalCaseApi> as NamedService>::NAME,
    <WebFormServiceServer<grpc::WebFormApi> as NamedService>::NAME,
];

/// Largest request the portal service accepts, in bytes.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Adds the portal service's gRPC services to a server's routes.
pub fn add_routes(routes: &mut RoutesBuilder, portal: grpc::Portal) {
    routes
        .add_service(
            PortalAccessServiceServer::new(grpc::PortalAccessApi::new(portal.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            PortalAuthServiceServer::new(grpc::PortalAuthApi::new(portal.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            PortalCaseServiceServer::new(grpc::PortalCaseApi::new(portal.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(WebFormServiceServer::new(grpc::WebFormApi::new(portal)).max_decoding_message_size(MAX_MESSAGE_BYTES));
}
