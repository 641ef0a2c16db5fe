//! The notification service (`docket.notification.v1`): listens to case
//! events (and to articles awaiting review) and decides who hears what,
//! renders emails from templates, sends them over SMTP (or into the dev
//! mailbox) with a delivery log, and turns incoming email into cases and
//! activities.
//!
//! - [`domain`] holds the rules (settings, who hears what, templates), no I/O;
//! - [`store`] the schema and the commands on it: every change of the
//!   settings, a template or an opt-out goes through the kit's mutation
//!   runner and leaves an audit trail;
//! - [`error`] the kit's error, with its one mapping to gRPC status;
//! - [`handler`] the event consumer that turns events into deliveries,
//!   [`mailer`] the loop that sends them, [`inbound`] email-to-case;
//! - [`grpc`] the API, a thin adapter;
//! - [`config`] and [`clients`] the operator's settings and the case
//!   service's clients.

pub mod clients;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod handler;
pub mod inbound;
pub mod mailer;
pub mod store;

use docket_proto::notification::v1::notification_service_server::NotificationServiceServer;
use tonic::{server::NamedService, service::RoutesBuilder};

/// The service name used for its schema, its file, its queue, and `docket serve notification`.
pub const SERVICE: &str = "notification";

pub const GRPC_SERVICES: &[&str] = &[<NotificationServiceServer<grpc::NotificationApi> as NamedService>::NAME];

/// Adds the notification service's API to a server's routes.
pub fn add_routes(routes: &mut RoutesBuilder, api: grpc::NotificationApi) {
    routes.add_service(NotificationServiceServer::new(api).max_decoding_message_size(grpc::MAX_EMAIL_BYTES + 64 * 1024));
}
