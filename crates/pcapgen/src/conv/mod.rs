//! Conversations: what kinds exist, their compact state, their addresses and
//! header fields; `machine` has the state machines that yield their packets
//! one at a time.

mod machine;

use crate::addr::{self, Addr};
use crate::frame::{frame_len, Pkt, Wire};
use crate::rng::{hash2, Rng};

/// The kinds of conversation the generator emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// Three-way handshake, request/response rounds, FIN or RST close.
    TcpSession,
    /// SYN answered by RST-ACK (connection refused).
    TcpRefused,
    /// SYN and two retransmissions, never answered (one direction only).
    TcpSynOnly,
    /// One or two DNS queries and their responses.
    Dns,
    /// Bidirectional bulk UDP (QUIC, RTP, VPN-like).
    UdpBulk,
    /// One-way UDP (syslog, statsd, NetFlow export): one direction only.
    UdpOneWay,
    /// ICMP/ICMPv6 echo requests and replies.
    Echo,
    /// ICMP/ICMPv6 echo requests nobody answers (one direction only).
    EchoUnanswered,
}

impl Kind {
    /// Unidirectional flows (distinct 5-tuples) the conversation produces.
    pub(crate) fn flows(self) -> u64 {
        match self {
            Kind::TcpSynOnly | Kind::UdpOneWay | Kind::EchoUnanswered => 1,
            _ => 2,
        }
    }

    /// Whether its size is chosen to meet the packet and byte targets.
    pub(crate) fn elastic(self) -> bool {
        matches!(self, Kind::TcpSession | Kind::UdpBulk | Kind::UdpOneWay)
    }

    /// The one-way kind of the same protocol.
    pub(crate) fn one_way(self) -> Kind {
        match self {
            Kind::TcpSession | Kind::TcpRefused | Kind::TcpSynOnly => Kind::TcpSynOnly,
            Kind::Dns | Kind::UdpBulk | Kind::UdpOneWay => Kind::UdpOneWay,
            Kind::Echo | Kind::EchoUnanswered => Kind::EchoUnanswered,
        }
    }
}

/// Flag bits of [`Conv::bits`].
pub(crate) const BIT_V6: u8 = 1;
/// The server side is a public (documentation-range) address.
pub(crate) const BIT_PUBLIC: u8 = 2;
/// The first packet has been emitted.
pub(crate) const BIT_STARTED: u8 = 4;

/// How a TCP session ends.
pub(crate) const CLOSE_CLIENT_FIN: u8 = 0;
pub(crate) const CLOSE_SERVER_FIN: u8 = 1;
pub(crate) const CLOSE_CLIENT_RST: u8 = 2;
pub(crate) const CLOSE_SERVER_RST: u8 = 3;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

/// One conversation in flight (96 bytes; a million fit in about 100 MB).
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    pub rng: Rng,
    /// Open-at-once mode: mean gap between packets (0: natural timing).
    pub pace_ns: u64,
    /// Client host index.
    pub client: u32,
    /// Server index (TCP, bulk UDP), resolver choice (DNS) or target index (echo).
    pub server: u32,
    pub rtt_ns: u32,
    /// Mean client think time between request/response rounds.
    pub think_ns: u32,
    /// Mean gap between UDP packets.
    pub gap_ns: u32,
    /// TCP/DNS/echo: rounds left; bulk UDP: server packets left.
    pub rounds: u32,
    /// Request (client) payload bytes per round / per UDP packet.
    pub q: u32,
    /// Response (server) payload bytes per round / per UDP packet.
    pub b: u32,
    /// Bytes of the current message sent so far.
    pub sent: u32,
    /// TCP: segments of the current message; UDP: client packets left; echo: sequence.
    pub aux: u32,
    /// Bulk UDP: server packets since the last client packet.
    pub aux2: u32,
    pub c_seq: u32,
    pub s_seq: u32,
    /// Packets left to emit, including the next one.
    pub pkts_left: u32,
    pub ts_base: u32,
    pub cport: u16,
    pub sport: u16,
    pub c_ipid: u16,
    pub s_ipid: u16,
    /// 802.1Q VLAN id (0: untagged).
    pub vlan: u16,
    pub kind: Kind,
    pub phase: u8,
    pub close: u8,
    pub bits: u8,
    pub s_ttl: u8,
    /// Bulk UDP: server packets per client packet.
    pub k: u8,
}

/// Exact cost of a conversation: what it adds to the capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    pub packets: u64,
    /// Capture-file bytes (16-byte record headers included).
    pub file_bytes: u64,
}

impl Conv {
    #[inline]
    pub(crate) fn v6(&self) -> bool {
        self.bits & BIT_V6 != 0
    }

    /// TCP payload bytes of a full segment (1500-byte MTU, timestamps on).
    #[inline]
    pub(crate) fn mss_payload(v6: bool) -> u32 {
        if v6 {
            1500 - 40 - 32
        } else {
            1500 - 20 - 32
        }
    }

    /// Client and server addresses.
    pub(crate) fn endpoints(&self, internal_servers: u32) -> (Addr, Addr) {
        let v6 = self.v6();
        let c = addr::client(self.client, v6);
        let s = match self.kind {
            Kind::Echo | Kind::EchoUnanswered => addr::ping_target(self.server, v6),
            Kind::Dns => addr::resolver(self.bits & BIT_PUBLIC != 0, v6),
            _ => addr::server(self.server, internal_servers, v6),
        };
        (c, s)
    }

    /// Header fields for `pkt` sent at `t_ns`.
    pub(crate) fn wire(&mut self, pkt: &Pkt, ends: (Addr, Addr), t_ns: u64) -> Wire {
        let (c, s) = ends;
        let ms = (t_ns / MS) as u32;
        let rtt_ms = self.rtt_ns / MS as u32;
        let (src, dst, sport, dport, ttl, ip_id, salt) = if pkt.c2s {
            self.c_ipid = self.c_ipid.wrapping_add(1);
            (c, s, self.cport, self.sport, 64, self.c_ipid, 0)
        } else {
            self.s_ipid = self.s_ipid.wrapping_add(1);
            (s, c, self.sport, self.cport, self.s_ttl, self.s_ipid, 1)
        };
        let label = hash2(u64::from(self.cport) << 16 | u64::from(self.sport), salt) as u32;
        let tsval = self
            .ts_base
            .wrapping_add(ms)
            .wrapping_add(salt as u32 * 0x1234_5678);
        let tsecr = self
            .ts_base
            .wrapping_add(ms.wrapping_sub(rtt_ms))
            .wrapping_add((1 - salt) as u32 * 0x1234_5678);
        Wire {
            src,
            dst,
            sport,
            dport,
            vlan: (self.vlan != 0).then_some(self.vlan),
            ttl,
            ip_id,
            flow_label: label & 0x000f_ffff,
            tsval,
            tsecr,
        }
    }

    /// Runs a copy of the state machine to the end: exact packets and bytes.
    pub(crate) fn cost(&self) -> Cost {
        let mut sim = self.clone();
        let v6 = self.v6();
        let vlan = self.vlan != 0;
        let mut cost = Cost::default();
        loop {
            let (p, gap) = sim.step();
            cost.packets += 1;
            cost.file_bytes += 16 + frame_len(p.ip_len(v6), vlan) as u64;
            if gap.is_none() {
                return cost;
            }
        }
    }
}

/// A blank conversation of `kind` (fields filled in by the planner).
pub(crate) fn blank(kind: Kind, rng: Rng) -> Conv {
    Conv {
        rng,
        pace_ns: 0,
        client: 0,
        server: 0,
        rtt_ns: 1_000_000,
        think_ns: 10_000_000,
        gap_ns: 1_000_000,
        rounds: 1,
        q: 1,
        b: 1,
        sent: 0,
        aux: 0,
        aux2: 0,
        c_seq: 0,
        s_seq: 0,
        pkts_left: 0,
        ts_base: 0,
        cport: 0,
        sport: 0,
        c_ipid: 0,
        s_ipid: 0,
        vlan: 0,
        kind,
        phase: 0,
        close: CLOSE_CLIENT_FIN,
        bits: 0,
        s_ttl: 63,
        k: 1,
    }
}

#[cfg(test)]
mod tests;
