//! The `docket` binary's library: its settings and the assembly of services
//! into one process. `main.rs` only parses the command line and dispatches.

pub mod app;
pub mod dev;
pub mod mail_ingest;
pub mod settings;
