//! The case service (`docket.case.v1`): the system of record for accounts,
//! contacts, the staff directory, cases, their activities and the audit trail.
//!
//! `domain` holds the rules, `records` what is stored, `store` the
//! commands on it (through the kit's mutation runner), `events` and `wire`
//! how records look in events and on the API, `grpc` the adapter.

pub mod cache;
pub mod config;
pub mod contracts;
pub mod demo;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod own_events;
pub mod records;
pub mod sla_alerts;
pub mod store;
pub mod sweeper;
pub mod wire;

use docket_proto::case::v1::{
    account_service_server::AccountServiceServer, assignment_rule_service_server::AssignmentRuleServiceServer,
    case_service_server::CaseServiceServer, contact_service_server::ContactServiceServer,
    escalation_rule_service_server::EscalationRuleServiceServer, report_service_server::ReportServiceServer,
    staff_service_server::StaffServiceServer,
};
use tonic::{server::NamedService, service::RoutesBuilder};

/// The service name used for its schema, its file, and `docket serve case`.
pub const SERVICE: &str = "case";

/// The gRPC services this crate serves, for health reporting.
pub const GRPC_SERVICES: &[&str] = &[
    <AccountServiceServer<grpc::AccountApi> as NamedService>::NAME,
    <ContactServiceServer<grpc::ContactApi> as NamedService>::NAME,
    <StaffServiceServer<grpc::StaffApi> as NamedService>::NAME,
    <CaseServiceServer<grpc::CaseApi> as NamedService>::NAME,
    <EscalationRuleServiceServer<grpc::EscalationRuleApi> as NamedService>::NAME,
    <ReportServiceServer<grpc::ReportApi> as NamedService>::NAME,
    <AssignmentRuleServiceServer<grpc::AssignmentRuleApi> as NamedService>::NAME,
];

/// The calls a service token that `acts_for_contacts` (the portal's) may
/// make for a customer contact with `x-docket-on-behalf-of`: what a
/// customer may do to their own cases. Every other call refuses the header.
pub const CONTACT_CALLS: &[&str] = &[
    "/docket.case.v1.CaseService/CreateCase",
    "/docket.case.v1.CaseService/AddActivity",
    "/docket.case.v1.CaseService/CloseCase",
    "/docket.case.v1.CaseService/ReopenCase",
];

/// Largest request the case service accepts, in bytes.
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Adds the case service's gRPC services to a server's routes; `contracts`
/// checks service contracts with the billing service.
pub fn add_routes(routes: &mut RoutesBuilder, store: store::Store, contracts: contracts::ContractChecks) {
    routes
        .add_service(AccountServiceServer::new(grpc::AccountApi::new(store.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES))
        .add_service(ContactServiceServer::new(grpc::ContactApi::new(store.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES))
        .add_service(StaffServiceServer::new(grpc::StaffApi::new(store.clone())).max_decoding_message_size(MAX_MESSAGE_BYTES))
        .add_service(EscalationRuleServiceServer::new(grpc::EscalationRuleApi::new(store.clone())))
        .add_service(ReportServiceServer::new(grpc::ReportApi::new(store.clone())))
        .add_service(AssignmentRuleServiceServer::new(grpc::AssignmentRuleApi::new(store.clone())))
        .add_service(CaseServiceServer::new(grpc::CaseApi::new(store, contracts)).max_decoding_message_size(MAX_MESSAGE_BYTES));
}
