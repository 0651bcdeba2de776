//! Aggregated records, before interface metadata is attached.

use crate::flow::{Action, FlowKey, InterfaceIndex, PacketAddrs};
use crate::tcp_flags::TcpFlags;

/// The `log-status` of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogStatus {
    /// Data is logging normally.
    Ok,
    /// No traffic to or from the interface during the window.
    NoData,
    /// Some records were skipped during the window.
    SkipData,
}

impl LogStatus {
    /// The text written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Ok => "OK",
            LogStatus::NoData => "NODATA",
            LogStatus::SkipData => "SKIPDATA",
        }
    }
}

/// The traffic part of an `OK` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Traffic {
    /// The 5-tuple.
    pub key: FlowKey,
    /// Innermost addresses of a tunnelled flow.
    pub packet_addrs: Option<PacketAddrs>,
    /// Packets in the window.
    pub packets: u64,
    /// IP-layer bytes in the window.
    pub bytes: u64,
    /// OR of the AWS TCP flags (0 for protocols other than TCP).
    pub tcp_flags: TcpFlags,
    /// ACCEPT or REJECT.
    pub action: Action,
}

/// One aggregated record of one interface and one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowRecord {
    /// The interface (ENI) the record belongs to.
    pub interface: InterfaceIndex,
    /// Start of the aggregation window (Unix seconds).
    pub window_start: u64,
    /// Unix second of the first packet in the window (the window start for
    /// NODATA and SKIPDATA).
    pub start: u64,
    /// Unix second of the last packet in the window (the window's last second
    /// for NODATA and SKIPDATA).
    pub end: u64,
    /// The traffic of an `OK` record; `None` for NODATA and SKIPDATA.
    pub traffic: Option<Traffic>,
    /// OK, NODATA or SKIPDATA.
    pub status: LogStatus,
}

impl FlowRecord {
    /// The order records are written in within a file: by `end`, interface,
    /// `start`, status, then the traffic itself (addresses, ports, protocol,
    /// action, counters), so output is deterministic. Packed into integers so
    /// that sorting a million records stays cheap.
    #[inline]
    pub fn sort_key(&self) -> (u128, u128, u128, u128) {
        let head = (u128::from(self.end) << 64)
            | (u128::from(self.interface.0) << 32)
            | u128::from(self.start.wrapping_sub(self.window_start) as u32);
        match &self.traffic {
            None => (head, 0, 0, self.status as u128),
            Some(t) => {
                let k = &t.key;
                let tail = (u128::from(k.src_port) << 112)
                    | (u128::from(k.dst_port) << 96)
                    | (u128::from(k.protocol) << 88)
                    | (u128::from(k.src.is_ipv6()) << 87)
                    | ((t.action as u128) << 86)
                    | (self.status as u128) << 84
                    | u128::from(t.packets & ((1 << 52) - 1)) << 32
                    | u128::from(pkt_addrs_digest(t.packet_addrs));
                (head, addr_bits(k.src), addr_bits(k.dst), tail)
            }
        }
    }
}

/// An address as 128 bits (IPv4 in its IPv4-mapped IPv6 form; the family is
/// kept apart in the sort key).
#[inline]
fn addr_bits(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped().to_bits()),
        std::net::IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// A stable 32-bit digest of the packet-level addresses (a tie-breaker only).
#[inline]
fn pkt_addrs_digest(p: Option<PacketAddrs>) -> u32 {
    match p {
        None => 0,
        Some(p) => {
            let x = addr_bits(p.src) ^ addr_bits(p.dst).rotate_left(61);
            ((x >> 96) ^ (x >> 64) ^ (x >> 32) ^ x) as u32 | 1
        }
    }
}

/// Sorts records into file order ([`FlowRecord::sort_key`]). The full key is
/// only computed to break ties of (`end`, interface, `start`).
pub fn sort_records(records: &mut [FlowRecord]) {
    #[inline(always)]
    fn head(r: &FlowRecord) -> (u64, u32, u64) {
        (r.end, r.interface.0, r.start)
    }
    records.sort_unstable_by(|a, b| {
        head(a)
            .cmp(&head(b))
            .then_with(|| a.sort_key().cmp(&b.sort_key()))
    });
}
