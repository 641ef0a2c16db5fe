//! The contract & billing service (`docket.billing.v1`): service contracts
//! and their SLA policies, the SLA clocks of cases, booked hours, service
//! parts, invoices and prepaid sub-contracts.
//!
//! Built in steps; today it holds the domain rules the rest stands on:
//! business-hours arithmetic ([`domain::calendar`]), SLA deadlines
//! ([`domain::sla`]), money and its rounding rule ([`domain::money`]), and
//! invoices and prepaid debits ([`domain::invoice`]).

pub mod domain;

/// The service name used for its schema, its file, and `docket serve billing`.
pub const SERVICE: &str = "billing";
