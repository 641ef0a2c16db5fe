//! The contract & billing service (`docket.billing.v1`): service contracts
//! and their SLA policies, the SLA clocks of cases, booked hours, service
//! parts, invoices and prepaid sub-contracts.
//!
//! Built in steps. Today: the domain rules the rest stands on — business
//! hours ([`domain::calendar`]), SLA deadlines ([`domain::sla`]), money and
//! its rounding rule ([`domain::money`]), invoices and prepaid debits
//! ([`domain::invoice`]) — and SLA policies over gRPC ([`grpc`]).

pub mod domain;
pub mod grpc;
pub mod store;

use docket_proto::billing::v1::sla_policy_service_server::SlaPolicyServiceServer;
use tonic::{server::NamedService, service::RoutesBuilder};

/// The service name used for its schema, its file, and `docket serve billing`.
pub const SERVICE: &str = "billing";

pub const GRPC_SERVICES: &[&str] = &[<SlaPolicyServiceServer<grpc::SlaPolicyApi> as NamedService>::NAME];

/// Adds the billing service's API to a server's routes.
pub fn add_routes(routes: &mut RoutesBuilder, store: store::Store) {
    routes.add_service(SlaPolicyServiceServer::new(grpc::SlaPolicyApi::new(store)));
}
