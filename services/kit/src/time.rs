//! Conversions between chrono and protobuf timestamps.

use chrono::{DateTime, Utc};

pub fn to_proto(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: time.timestamp(), nanos: time.timestamp_subsec_nanos() as i32 }
}

pub fn to_proto_opt(time: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    time.map(to_proto)
}

/// `None` for a timestamp out of range.
pub fn from_proto(ts: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return None;
    }
    DateTime::from_timestamp(ts.seconds, ts.nanos as u32)
}

/// Now, truncated to microseconds: what PostgreSQL and SQLite both store, so
/// a value read back equals the value written.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
