//! The portal's rules, free of I/O: passwords, who sees which case, what a
//! customer may choose, and web form definitions and submissions.

pub mod access;
pub mod forms;
pub mod password;
