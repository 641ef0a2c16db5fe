//! Docket's wire contract: the code generated from `proto/docket/**.proto`.
//!
//! Services and clients import their messages from here; domain code never does
//! (it converts at the gRPC edge).

#![allow(clippy::all, clippy::unwrap_used, clippy::expect_used)]

/// The encoded `FileDescriptorSet` of every Docket proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/docket_descriptor.bin"));

pub mod events {
    pub mod v1 {
        tonic::include_proto!("docket.events.v1");
    }
}

pub mod billing {
    pub mod v1 {
        tonic::include_proto!("docket.billing.v1");
    }
}

pub mod notification {
    pub mod v1 {
        tonic::include_proto!("docket.notification.v1");
    }
}

pub mod portal {
    pub mod v1 {
        tonic::include_proto!("docket.portal.v1");
    }
}

pub mod knowledge {
    pub mod v1 {
        tonic::include_proto!("docket.knowledge.v1");
    }
}

pub mod case {
    pub mod v1 {
        tonic::include_proto!("docket.case.v1");
    }
}
