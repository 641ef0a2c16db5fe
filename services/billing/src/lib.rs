//! The contract & billing service (`docket.billing.v1`): service contracts
//! and their SLA policies, the SLA clocks of cases, booked hours, service
//! parts, timesheets, invoices and prepaid sub-contracts.
//!
//! - [`domain`]: the rules — business hours, SLA deadlines and tracking,
//!   contracts and entitlement, money and invoices; no I/O.
//! - [`store`]: the `billing` schema, one transaction per command, audit
//!   trail and outbox events in the same transaction.
//! - [`clocks`]: the SLA clock of each case, fed by the case service's events.
//! - [`scheduler`]: raises `case.sla_warning` and `case.sla_breached`.
//! - [`grpc`]: the wire adapter.

pub mod clients;
pub mod clocks;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod records;
pub mod scheduler;
pub mod store;
pub mod wire;
pub mod work_orders;

use docket_proto::billing::v1::{
    case_sla_service_server::CaseSlaServiceServer, contract_service_server::ContractServiceServer,
    sla_policy_service_server::SlaPolicyServiceServer, work_service_server::WorkServiceServer,
};
use tonic::{server::NamedService, service::RoutesBuilder};

/// The service name used for its schema, its file, and `docket serve billing`.
pub const SERVICE: &str = "billing";

/// The gRPC services this crate serves, for health reporting.
pub const GRPC_SERVICES: &[&str] = &[
    <SlaPolicyServiceServer<grpc::SlaPolicyApi> as NamedService>::NAME,
    <ContractServiceServer<grpc::ContractApi> as NamedService>::NAME,
    <CaseSlaServiceServer<grpc::CaseSlaApi> as NamedService>::NAME,
    <WorkServiceServer<grpc::WorkApi> as NamedService>::NAME,
];

/// Adds the billing service's API to a server's routes.
pub fn add_routes(
    routes: &mut RoutesBuilder,
    store: store::Store,
    clients: clients::CaseClients,
    settings: config::BillingSettings,
) {
    routes
        .add_service(SlaPolicyServiceServer::new(grpc::SlaPolicyApi::new(store.clone())))
        .add_service(ContractServiceServer::new(grpc::ContractApi::new(store.clone(), clients.clone())))
        .add_service(CaseSlaServiceServer::new(grpc::CaseSlaApi::new(store.clone(), clients.clone())))
        .add_service(WorkServiceServer::new(grpc::WorkApi::new(store, clients, settings)));
}
