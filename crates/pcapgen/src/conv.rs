//! Conversations: what kinds exist, their compact state, and the state machine
//! that yields their packets one at a time.

use crate::addr::{self, Addr};
use crate::frame::{
    frame_len, Pkt, TcpOpts, Wire, L4, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN,
};
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

// TCP phases.
const PH_SYN: u8 = 0;
const PH_SYNACK: u8 = 1;
const PH_REFUSE: u8 = 2;
const PH_ACK: u8 = 3;
const PH_REQ: u8 = 4;
const PH_REQ_ACK: u8 = 5;
const PH_RESP: u8 = 6;
const PH_RESP_ACK: u8 = 7;
const PH_CLOSE1: u8 = 8;
const PH_CLOSE2: u8 = 9;
const PH_CLOSE3: u8 = 10;

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

    /// The next packet and the natural gap to the one after it (`None`: last).
    pub(crate) fn step(&mut self) -> (Pkt, Option<u64>) {
        match self.kind {
            Kind::TcpSession | Kind::TcpRefused | Kind::TcpSynOnly => self.step_tcp(),
            Kind::Dns => self.step_dns(),
            Kind::UdpBulk | Kind::UdpOneWay => self.step_udp(),
            Kind::Echo | Kind::EchoUnanswered => self.step_echo(),
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

    #[inline]
    fn jitter(&mut self, ns: u64) -> u64 {
        // 0.75 .. 1.25 of the nominal value.
        let f = 0.75 + 0.5 * self.rng.f64();
        ((ns as f64) * f) as u64
    }

    fn ack_gap(&mut self) -> u64 {
        self.rng.range(5_000, 40_000)
    }

    fn seg_gap(&mut self) -> u64 {
        let g = 12_000 + u64::from(self.rtt_ns) / 32;
        self.jitter(g)
    }

    fn rtt(&mut self) -> u64 {
        self.jitter(u64::from(self.rtt_ns))
    }

    fn tcp(&self, c2s: bool, flags: u8, opts: TcpOpts, payload: u32) -> Pkt {
        let (seq, ack) = if c2s {
            (self.c_seq, self.s_seq)
        } else {
            (self.s_seq, self.c_seq)
        };
        let mss = if self.v6() { 1440 } else { 1460 };
        Pkt {
            c2s,
            l4: L4::Tcp {
                flags,
                seq,
                ack,
                opts,
                mss,
            },
            payload,
        }
    }

    fn step_tcp(&mut self) -> (Pkt, Option<u64>) {
        let mss = Conv::mss_payload(self.v6());
        match self.phase {
            PH_SYN => {
                let p = self.tcp(true, TCP_SYN, TcpOpts::Syn, 0);
                match self.kind {
                    Kind::TcpSynOnly => {
                        // Retransmissions reuse the sequence number: 1 s, then 2 s.
                        self.rounds -= 1;
                        if self.rounds == 0 {
                            return (p, None);
                        }
                        let g = SEC << self.aux;
                        self.aux += 1;
                        (p, Some(g))
                    }
                    Kind::TcpRefused => {
                        self.c_seq = self.c_seq.wrapping_add(1);
                        self.phase = PH_REFUSE;
                        (p, Some(self.rtt()))
                    }
                    _ => {
                        self.c_seq = self.c_seq.wrapping_add(1);
                        self.phase = PH_SYNACK;
                        (p, Some(self.rtt()))
                    }
                }
            }
            PH_REFUSE => {
                let mut p = self.tcp(false, TCP_RST | TCP_ACK, TcpOpts::None, 0);
                if let L4::Tcp { seq, .. } = &mut p.l4 {
                    *seq = 0;
                }
                (p, None)
            }
            PH_SYNACK => {
                let p = self.tcp(false, TCP_SYN | TCP_ACK, TcpOpts::Syn, 0);
                self.s_seq = self.s_seq.wrapping_add(1);
                self.phase = PH_ACK;
                (p, Some(self.ack_gap()))
            }
            PH_ACK => {
                let p = self.tcp(true, TCP_ACK, TcpOpts::Ts, 0);
                self.phase = PH_REQ;
                self.sent = 0;
                self.aux = 0;
                let g = self.rng.range(20_000, 1_000_000);
                (p, Some(g))
            }
            PH_REQ => {
                let len = mss.min(self.q - self.sent);
                let last = self.sent + len == self.q;
                let flags = if last { TCP_ACK | TCP_PSH } else { TCP_ACK };
                let p = self.tcp(true, flags, TcpOpts::Ts, len);
                self.c_seq = self.c_seq.wrapping_add(len);
                self.sent += len;
                self.aux += 1;
                if last {
                    self.phase = PH_RESP;
                    self.sent = 0;
                    self.aux = 0;
                    let server_time = self.rng.range(20_000, 2_000_000);
                    (p, Some(self.rtt() + server_time))
                } else if self.aux % 2 == 0 {
                    self.phase = PH_REQ_ACK;
                    (p, Some(self.ack_gap()))
                } else {
                    (p, Some(self.seg_gap()))
                }
            }
            PH_REQ_ACK => {
                let p = self.tcp(false, TCP_ACK, TcpOpts::Ts, 0);
                self.phase = PH_REQ;
                (p, Some(self.seg_gap()))
            }
            PH_RESP => {
                let len = mss.min(self.b - self.sent);
                let last = self.sent + len == self.b;
                let flags = if last { TCP_ACK | TCP_PSH } else { TCP_ACK };
                let p = self.tcp(false, flags, TcpOpts::Ts, len);
                self.s_seq = self.s_seq.wrapping_add(len);
                self.sent += len;
                self.aux += 1;
                if last || self.aux % 2 == 0 {
                    self.phase = PH_RESP_ACK;
                    (p, Some(self.ack_gap()))
                } else {
                    (p, Some(self.seg_gap()))
                }
            }
            PH_RESP_ACK => {
                let p = self.tcp(true, TCP_ACK, TcpOpts::Ts, 0);
                if self.sent < self.b {
                    self.phase = PH_RESP;
                    return (p, Some(self.seg_gap()));
                }
                self.rounds -= 1;
                if self.rounds > 0 {
                    self.phase = PH_REQ;
                    self.sent = 0;
                    self.aux = 0;
                    let think = self.rng.exp(f64::from(self.think_ns)) as u64;
                    (p, Some(think.max(1_000)))
                } else {
                    self.phase = PH_CLOSE1;
                    let g = self.rng.range(50_000, 50 * MS);
                    (p, Some(g))
                }
            }
            PH_CLOSE1 => match self.close {
                CLOSE_CLIENT_FIN | CLOSE_SERVER_FIN => {
                    let c2s = self.close == CLOSE_CLIENT_FIN;
                    let p = self.tcp(c2s, TCP_FIN | TCP_ACK, TcpOpts::Ts, 0);
                    self.bump_seq(c2s);
                    self.phase = PH_CLOSE2;
                    (p, Some(self.rtt()))
                }
                c => {
                    let c2s = c == CLOSE_CLIENT_RST;
                    (self.tcp(c2s, TCP_RST | TCP_ACK, TcpOpts::None, 0), None)
                }
            },
            PH_CLOSE2 => {
                let c2s = self.close != CLOSE_CLIENT_FIN;
                let p = self.tcp(c2s, TCP_FIN | TCP_ACK, TcpOpts::Ts, 0);
                self.bump_seq(c2s);
                self.phase = PH_CLOSE3;
                (p, Some(self.ack_gap()))
            }
            _ => {
                let c2s = self.close == CLOSE_CLIENT_FIN;
                (self.tcp(c2s, TCP_ACK, TcpOpts::Ts, 0), None)
            }
        }
    }

    fn bump_seq(&mut self, c2s: bool) {
        if c2s {
            self.c_seq = self.c_seq.wrapping_add(1);
        } else {
            self.s_seq = self.s_seq.wrapping_add(1);
        }
    }

    fn step_dns(&mut self) -> (Pkt, Option<u64>) {
        if self.phase == 0 {
            self.phase = 1;
            let p = Pkt {
                c2s: true,
                l4: L4::Udp,
                payload: self.q,
            };
            (p, Some(self.rtt()))
        } else {
            self.phase = 0;
            self.rounds -= 1;
            let p = Pkt {
                c2s: false,
                l4: L4::Udp,
                payload: self.b,
            };
            let next = (self.rounds > 0).then(|| self.rng.range(10_000, 200_000));
            (p, next)
        }
    }

    fn step_udp(&mut self) -> (Pkt, Option<u64>) {
        let c2s = self.aux > 0 && (self.aux2 >= u32::from(self.k) || self.rounds == 0);
        let payload = if c2s {
            self.aux -= 1;
            self.aux2 = 0;
            self.q
        } else {
            self.rounds -= 1;
            self.aux2 += 1;
            self.b
        };
        let p = Pkt {
            c2s,
            l4: L4::Udp,
            payload,
        };
        if self.aux == 0 && self.rounds == 0 {
            return (p, None);
        }
        let g = self.jitter(u64::from(self.gap_ns));
        (p, Some(g.max(1_000)))
    }

    fn step_echo(&mut self) -> (Pkt, Option<u64>) {
        let seq = self.aux as u16;
        if self.phase == 0 {
            let p = Pkt {
                c2s: true,
                l4: L4::Echo {
                    reply: false,
                    id: self.cport,
                    seq,
                },
                payload: self.q,
            };
            if self.kind == Kind::EchoUnanswered {
                self.aux += 1;
                self.rounds -= 1;
                return (p, (self.rounds > 0).then_some(SEC));
            }
            self.phase = 1;
            (p, Some(self.rtt()))
        } else {
            let p = Pkt {
                c2s: false,
                l4: L4::Echo {
                    reply: true,
                    id: self.cport,
                    seq,
                },
                payload: self.q,
            };
            self.phase = 0;
            self.aux += 1;
            self.rounds -= 1;
            let next = (self.rounds > 0).then(|| SEC.saturating_sub(u64::from(self.rtt_ns)));
            (p, next)
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
mod tests {
    use super::*;

    fn run(c: &mut Conv) -> Vec<Pkt> {
        let mut out = Vec::new();
        loop {
            let (p, g) = c.step();
            out.push(p);
            if g.is_none() {
                return out;
            }
        }
    }

    fn flags(p: &Pkt) -> u8 {
        match p.l4 {
            L4::Tcp { flags, .. } => flags,
            _ => 0,
        }
    }

    #[test]
    fn tcp_session_sequence() {
        let mut c = blank(Kind::TcpSession, Rng::new(1));
        c.q = 300;
        c.b = 4 * 1448 + 10; // five segments: acks after 2, 4 and the last
        c.rounds = 2;
        let pkts = run(&mut c);
        let f: Vec<(bool, u8, u32)> = pkts.iter().map(|p| (p.c2s, flags(p), p.payload)).collect();
        let round = [
            (true, 0x18, 300),
            (false, 0x10, 1448),
            (false, 0x10, 1448),
            (true, 0x10, 0),
            (false, 0x10, 1448),
            (false, 0x10, 1448),
            (true, 0x10, 0),
            (false, 0x18, 10),
            (true, 0x10, 0),
        ];
        let mut want = vec![(true, 0x02, 0), (false, 0x12, 0), (true, 0x10, 0)];
        want.extend(round);
        want.extend(round);
        want.extend([(true, 0x11, 0), (false, 0x11, 0), (true, 0x10, 0)]);
        assert_eq!(f, want);
    }

    #[test]
    fn state_stays_small() {
        // A million open conversations must fit in about 100 MB.
        assert!(
            std::mem::size_of::<Conv>() <= 96,
            "{}",
            std::mem::size_of::<Conv>()
        );
    }

    #[test]
    fn cost_matches_a_run() {
        for kind in [
            Kind::TcpSession,
            Kind::TcpRefused,
            Kind::TcpSynOnly,
            Kind::Dns,
            Kind::UdpBulk,
            Kind::UdpOneWay,
            Kind::Echo,
            Kind::EchoUnanswered,
        ] {
            let mut c = blank(kind, Rng::new(3));
            c.rounds = 3;
            c.aux = if kind == Kind::UdpBulk { 2 } else { 0 };
            if kind == Kind::UdpOneWay {
                c.aux = 4;
                c.rounds = 0;
            }
            c.k = 2;
            c.aux2 = 2;
            c.q = 3000;
            c.b = 200;
            let cost = c.cost();
            let pkts = run(&mut c);
            assert_eq!(cost.packets, pkts.len() as u64, "{kind:?}");
        }
    }
}
