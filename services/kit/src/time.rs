//! Conversions between chrono and protobuf timestamps.

use chrono::{DateTime, Utc};

pub fn to_proto(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: time.timestamp(), nanos: time.timestamp_subsec_nanos() as i32 }
}

pub fn to_proto_opt(time: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    time.map(to_proto)
}

/// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range
/// `google.protobuf.Timestamp` allows (and both databases can store).
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// `None` for a timestamp out of range.
pub fn from_proto(ts: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    if !(0..1_000_000_000).contains(&ts.nanos) || !(MIN_SECONDS..=MAX_SECONDS).contains(&ts.seconds) {
        return None;
    }
    DateTime::from_timestamp(ts.seconds, ts.nanos as u32)
}

/// A time from microseconds since the epoch; `None` outside the range above.
pub fn from_micros(micros: i64) -> Option<DateTime<Utc>> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&micros.div_euclid(1_000_000)) {
        return None;
    }
    DateTime::from_timestamp_micros(micros)
}

/// Now, truncated to microseconds: what PostgreSQL and SQLite both store, so
/// a value read back equals the value written.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
