//! gRPC clients of the case service, as the notification service calls it:
//! the kit's, with its service token (see [`docket_kit::clients`]).

pub use docket_kit::clients::{Authed, CaseClients};
