//! Aggregated records, before interface metadata is attached.

use crate::flow::{Action, FlowDirection, FlowKey, InterfaceIndex, PacketAddrs};
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
    /// The direction its source reported (`None`: the interface's addresses
    /// decide, at enrichment).
    pub direction: Option<FlowDirection>,
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
    pub fn sort_key(&self) -> SortKey {
        let head = sort_head(self.end, self.interface, self.start, self.window_start);
        match &self.traffic {
            None => (head, 0, 0, self.status as u128, 0),
            Some(t) => {
                let k = &t.key;
                sort_key_of_traffic(
                    head,
                    (addr_bits(k.src), addr_bits(k.dst)),
                    (k.src_port, k.dst_port, k.protocol, k.src.is_ipv6()),
                    (t.action, t.direction),
                    self.status,
                    (t.packets, t.bytes, t.tcp_flags.value()),
                    t.packet_addrs,
                )
            }
        }
    }
}

/// See [`FlowRecord::sort_key`].
pub type SortKey = (u128, u128, u128, u128, u128);

/// The leading part of a sort key: `end`, interface, `start`.
#[inline(always)]
pub(crate) fn sort_head(
    end: u64,
    interface: InterfaceIndex,
    start: u64,
    window_start: u64,
) -> u128 {
    (u128::from(end) << 64)
        | (u128::from(interface.0) << 32)
        | u128::from(start.wrapping_sub(window_start) as u32)
}

/// The sort key of a traffic record from its parts (shared with the compact
/// form of aggregation, which must order records the same way).
#[inline(always)]
pub(crate) fn sort_key_of_traffic(
    head: u128,
    (src, dst): (u128, u128),
    (src_port, dst_port, protocol, v6): (u16, u16, u8, bool),
    (action, direction): (Action, Option<FlowDirection>),
    status: LogStatus,
    (packets, bytes, tcp_flags): (u64, u64, u8),
    packet_addrs: Option<PacketAddrs>,
) -> SortKey {
    let tail = (u128::from(src_port) << 112)
        | (u128::from(dst_port) << 96)
        | (u128::from(protocol) << 88)
        | (u128::from(v6) << 87)
        | ((action as u128) << 84)
        | ((status as u128) << 82)
        | (u128::from(direction.map_or(0u8, |d| d as u8 + 1)) << 80)
        | u128::from(pkt_addrs_digest(packet_addrs));
    let counts = (u128::from(packets) << 72) | (u128::from(bytes) << 8) | u128::from(tcp_flags);
    (head, src, dst, tail, counts)
}

/// An address as 128 bits: IPv4 in the top 32 (the family is kept apart in the
/// sort key).
#[inline(always)]
pub(crate) fn addr_bits(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(v4) => u128::from(v4.to_bits()) << 96,
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
