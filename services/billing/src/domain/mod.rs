//! The billing service's rules, free of I/O and of wire types.

pub mod calendar;
pub mod contract;
pub mod invoice;
pub mod money;
pub mod sla;
pub mod timesheet;
pub mod tracking;
pub mod work_order;
