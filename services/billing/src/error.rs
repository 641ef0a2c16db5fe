//! Everything that can go wrong in the billing service: the outcomes every
//! service shares (the kit's [`Error`]); refusals of the contract and money
//! rules are preconditions or field violations.

/// The kit's error; billing has no refusals of its own beyond it.
pub type Error = docket_kit::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;
