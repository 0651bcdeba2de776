//! NetFlow v5: a 24-byte header and fixed 48-byte records.

use std::net::{IpAddr, Ipv4Addr};

use super::fields::{Counts, FlowFields, Time};
use super::templates::Clock;
use super::DecodeError;

/// Header length.
pub const HEADER: usize = 24;
/// Record length.
pub const RECORD: usize = 48;

/// The header of a v5 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Records in the message.
    pub count: u16,
    /// Times of the message.
    pub clock: Clock,
    /// Number of the first record (the exporter's flow count).
    pub flow_sequence: u32,
    /// `engine_type << 8 | engine_id`: the domain of the sequence.
    pub engine: u32,
    /// Sampling: one packet in this many (1: not sampled).
    pub sampling: u64,
}

/// Parses the header and checks the length of `msg`.
pub fn header(msg: &[u8]) -> Result<Header, DecodeError> {
    if msg.len() < HEADER {
        return Err(DecodeError::new(
            "NetFlow v5 header",
            0,
            "shorter than 24 bytes",
        ));
    }
    let be16 = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([msg[at], msg[at + 1], msg[at + 2], msg[at + 3]]);
    let count = be16(2);
    let need = HEADER + usize::from(count) * RECORD;
    if msg.len() < need {
        return Err(DecodeError::new(
            "NetFlow v5 message",
            0,
            "shorter than its record count says",
        ));
    }
    let uptime = be32(4);
    let secs = u64::from(be32(8));
    let nsecs = u64::from(be32(12)).min(999_999_999);
    let sampling_field = be16(22);
    // Top two bits: the sampling mode; the other 14: the interval (some
    // exporters leave the mode at 0 with an interval set: still sampled).
    let interval = u64::from(sampling_field & 0x3FFF);
    Ok(Header {
        count,
        clock: Clock {
            export_ns: secs * 1_000_000_000 + nsecs,
            uptime_ms: Some(uptime),
        },
        flow_sequence: be32(16),
        engine: u32::from(be16(20)),
        sampling: interval.max(1),
    })
}

/// The fields of record `i` (checked present by [`header`]).
pub fn record(msg: &[u8], i: usize) -> FlowFields {
    let r = &msg[HEADER + i * RECORD..HEADER + (i + 1) * RECORD];
    let be16 = |at: usize| u16::from_be_bytes([r[at], r[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
    let mut f = FlowFields::EMPTY;
    f.src = Some(IpAddr::V4(Ipv4Addr::new(r[0], r[1], r[2], r[3])));
    f.dst = Some(IpAddr::V4(Ipv4Addr::new(r[4], r[5], r[6], r[7])));
    f.ingress = Some(u32::from(be16(12)));
    f.egress = Some(u32::from(be16(14)));
    f.forward = Counts {
        packets: Some(u64::from(be32(16))),
        bytes: Some(u64::from(be32(20))),
        total_bytes: None,
        total_packets: None,
        tcp_flags: r[37],
        start: Time::Uptime(be32(24)),
        end: Time::Uptime(be32(28)),
    };
    f.src_port = be16(32);
    f.dst_port = be16(34);
    f.protocol = r[38];
    f
}
