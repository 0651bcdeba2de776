//! The generator: plans conversations, schedules their packets in timestamp
//! order and keeps the totals.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

use crate::addr::{
    self, EPHEMERAL_BASE, EPHEMERAL_COUNT, MAX_CLIENT_HOSTS, MAX_INTERNAL_SERVERS,
    MAX_PUBLIC_SERVERS,
};
use crate::conv::{
    self, Conv, Kind, BIT_PUBLIC, BIT_STARTED, BIT_V6, CLOSE_CLIENT_FIN, CLOSE_CLIENT_RST,
    CLOSE_SERVER_FIN, CLOSE_SERVER_RST,
};
use crate::frame::{self, L4};
use crate::pcap;
use crate::rng::{hash2, Permutation, Rng};
use crate::truth::{self, FlowKey, Truth, TruthAcc};
use crate::{Config, ConfigError, TsResolution};

const KIND_SALT: u64 = 0x6b69_6e64_6b69_6e64;
const CONV_SALT: u64 = 0x636f_6e76_636f_6e76;
/// File bytes per packet assumed when only one of the two targets is given.
pub(crate) const DEFAULT_FILE_BYTES_PER_PACKET: u64 = 600;
/// Packets per unidirectional flow assumed when neither target is given.
pub(crate) const DEFAULT_PACKETS_PER_FLOW: u64 = 8;

/// What was generated: counts always, per-flow truth when asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Frames written.
    pub packets: u64,
    pub ipv4_packets: u64,
    pub ipv6_packets: u64,
    /// Frames carrying an 802.1Q tag.
    pub vlan_packets: u64,
    /// IP-layer bytes (IPv4 total length, IPv6 payload length + 40).
    pub ip_bytes: u64,
    /// Captured frame bytes (Ethernet headers and padding included).
    pub frame_bytes: u64,
    /// Size of the capture file: 24-byte file header, 16 bytes and the frame per packet.
    pub file_bytes: u64,
    /// First and last packet timestamps, Unix nanoseconds as written (0 if no packet).
    pub first_ns: u64,
    pub last_ns: u64,
    /// Conversations (connections, exchanges) generated.
    pub conversations: u64,
    /// Distinct unidirectional flows (5-tuples) generated.
    pub flows: u64,
    /// Packets per IP protocol number.
    pub ip_protocols: BTreeMap<u8, u64>,
    /// Per-flow totals, when [`Config::truth`] is set.
    pub truth: Option<Truth>,
}

impl Summary {
    /// Writes the ground truth in the format of the reference `*.truth.json`
    /// files (`file`, `generator`, `policy`, `stats`, `totals`, `windows`).
    /// Without [`Config::truth`] only the statistics are written.
    pub fn write_truth_json<W: Write>(
        &self,
        file: &str,
        config: &Config,
        mut w: W,
    ) -> io::Result<()> {
        writeln!(w, "{{")?;
        writeln!(w, " \"file\": {},", truth::json_str(file))?;
        writeln!(
            w,
            " \"generator\": \"pcapgen {}\",",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(w, " \"seed\": {},", config.seed)?;
        writeln!(w, " \"policy\": {{")?;
        for (i, (k, v)) in truth::POLICY.iter().enumerate() {
            let comma = if i + 1 < truth::POLICY.len() { "," } else { "" };
            writeln!(w, "  \"{k}\": {}{comma}", truth::json_str(v))?;
        }
        writeln!(w, " }},")?;
        let format = match config.resolution {
            TsResolution::Micro => "pcap-le-us",
            TsResolution::Nano => "pcap-le-ns",
        };
        writeln!(w, " \"stats\": {{")?;
        writeln!(w, "  \"format\": \"{format}\",")?;
        writeln!(w, "  \"frames\": {},", self.packets)?;
        writeln!(w, "  \"ipv4_packets\": {},", self.ipv4_packets)?;
        writeln!(w, "  \"ipv6_packets\": {},", self.ipv6_packets)?;
        writeln!(
            w,
            "  \"ip_packets\": {},",
            self.ipv4_packets + self.ipv6_packets
        )?;
        writeln!(w, "  \"vlan_packets\": {},", self.vlan_packets)?;
        writeln!(w, "  \"ip_bytes\": {},", self.ip_bytes)?;
        writeln!(w, "  \"frame_bytes\": {},", self.frame_bytes)?;
        writeln!(w, "  \"file_bytes\": {},", self.file_bytes)?;
        writeln!(w, "  \"first_ns\": {},", self.first_ns)?;
        writeln!(w, "  \"last_ns\": {},", self.last_ns)?;
        writeln!(w, "  \"linktypes\": {{\"1\": {}}},", self.packets)?;
        write!(w, "  \"ip_protocols\": {{")?;
        for (i, (p, n)) in self.ip_protocols.iter().enumerate() {
            let comma = if i > 0 { ", " } else { "" };
            write!(w, "{comma}\"{p}\": {n}")?;
        }
        writeln!(w, "}},")?;
        writeln!(w, "  \"conversations\": {},", self.conversations)?;
        writeln!(w, "  \"flows\": {}", self.flows)?;
        match &self.truth {
            None => writeln!(w, " }}")?,
            Some(t) => {
                writeln!(w, " }},")?;
                writeln!(w, " \"totals\": [")?;
                for (i, f) in t.totals.iter().enumerate() {
                    write!(w, "  ")?;
                    truth::write_flow(&mut w, f, None)?;
                    writeln!(w, "{}", if i + 1 < t.totals.len() { "," } else { "" })?;
                }
                writeln!(w, " ],")?;
                writeln!(w, " \"windows\": {{")?;
                for (j, (width, v)) in t.windows.iter().enumerate() {
                    writeln!(w, "  \"{width}\": [")?;
                    for (i, f) in v.iter().enumerate() {
                        write!(w, "   ")?;
                        truth::write_flow(&mut w, &f.flow, Some(f.window_start))?;
                        writeln!(w, "{}", if i + 1 < v.len() { "," } else { "" })?;
                    }
                    let comma = if j + 1 < t.windows.len() { "," } else { "" };
                    writeln!(w, "  ]{comma}")?;
                }
                writeln!(w, " }}")?;
            }
        }
        writeln!(w, "}}")?;
        w.flush()
    }
}

/// Metadata of one frame produced by [`Generator::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Timestamp, Unix nanoseconds (a multiple of 1000 with microsecond resolution).
    pub ts_ns: u64,
    /// IP-layer length of the packet.
    pub ip_len: u32,
}

/// Spreads the packet and byte targets over conversations as they start.
#[derive(Debug, Clone)]
struct Budget {
    rem_packets: f64,
    rem_bytes: f64,
    rem_elastic: u64,
    rem_fixed: u64,
    fixed_packets: f64,
    fixed_bytes: f64,
    fixed_seen: f64,
}

impl Budget {
    fn fixed_avg(&self) -> (f64, f64) {
        (
            self.fixed_packets / self.fixed_seen,
            self.fixed_bytes / self.fixed_seen,
        )
    }

    /// (packets, file bytes per packet) for the next elastic conversation.
    fn next(&mut self, rng: &mut Rng) -> (f64, f64) {
        let (fp, fb) = self.fixed_avg();
        let n = self.rem_elastic.max(1) as f64;
        let avail_p = (self.rem_packets - self.rem_fixed as f64 * fp).max(2.0 * n);
        let avail_b = (self.rem_bytes - self.rem_fixed as f64 * fb).max(avail_p * 80.0);
        // Heavy-tailed sizes, but no conversation takes more than 2% of what
        // is left, so the end of the run can still correct the totals.
        let w = if self.rem_elastic <= 1 {
            1.0
        } else {
            rng.pareto_mean1(1.4, (n / 50.0).clamp(1.0, 5000.0))
        };
        let packets = w * avail_p / n;
        // Bigger conversations carry bigger packets.
        let ratio = avail_b / avail_p * (w.powf(0.2) / 0.93) * (0.8 + 0.4 * rng.f64());
        let ratio = ratio.min(0.02 * avail_b.max(0.0) / packets).max(80.0);
        (packets, ratio)
    }

    fn spend(&mut self, kind: Kind, cost: conv::Cost) {
        self.rem_packets -= cost.packets as f64;
        self.rem_bytes -= cost.file_bytes as f64;
        if kind.elastic() {
            self.rem_elastic = self.rem_elastic.saturating_sub(1);
        } else {
            self.rem_fixed = self.rem_fixed.saturating_sub(1);
            self.fixed_packets += cost.packets as f64;
            self.fixed_bytes += cost.file_bytes as f64;
            self.fixed_seen += 1.0;
        }
    }
}

/// A deterministic synthetic traffic generator.
///
/// ```
/// let cfg = pcapgen::Config { flows: 50, packets: Some(500), truth: true, ..Default::default() };
/// let mut file = Vec::new();
/// let summary = pcapgen::Generator::new(cfg).unwrap().write_pcap(&mut file).unwrap();
/// assert_eq!(summary.flows, 50);
/// assert_eq!(summary.truth.unwrap().totals.len(), 50);
/// assert_eq!(summary.file_bytes, file.len() as u64);
/// ```
#[derive(Debug)]
pub struct Generator {
    cfg: Config,
    n_conv: u64,
    forced_last: Option<Kind>,
    next_conv: u64,
    next_start: u64,
    perm: Permutation,
    internal: u32,
    public: u32,
    start_ns: u64,
    ramp_ns: u64,
    deadline: u64,
    budget: Budget,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    slab: Vec<Conv>,
    free: Vec<u32>,
    protocols: [u64; 256],
    summary: Summary,
    truth: Option<TruthAcc>,
}

/// The natural kind of conversation `i`: a function of (seed, mix, i) only.
fn natural_kind(cfg: &Config, i: u64) -> Kind {
    let mut r = Rng::new(hash2(cfg.seed ^ KIND_SALT, i));
    let m = &cfg.mix;
    let u = r.f64() * (m.tcp + m.udp + m.icmp);
    if u < m.tcp {
        match r.below(100) {
            0..=1 => Kind::TcpRefused,
            2 => Kind::TcpSynOnly,
            _ => Kind::TcpSession,
        }
    } else if u < m.tcp + m.udp {
        match r.below(100) {
            0..=64 => Kind::Dns,
            65..=89 => Kind::UdpBulk,
            _ => Kind::UdpOneWay,
        }
    } else if r.below(10) == 0 {
        Kind::EchoUnanswered
    } else {
        Kind::Echo
    }
}

impl Generator {
    /// Validates `config` and plans the run (cheap: one pass over the
    /// conversation kinds, no allocation proportional to the size).
    pub fn new(config: Config) -> Result<Generator, ConfigError> {
        config.validate()?;
        let cfg = config;
        // How many conversations make exactly `flows` unidirectional flows.
        let (mut flows, mut n_conv, mut elastic, mut fixed) = (0u64, 0u64, 0u64, 0u64);
        let mut forced_last = None;
        while flows < cfg.flows {
            let mut k = natural_kind(&cfg, n_conv);
            if flows + k.flows() > cfg.flows {
                k = k.one_way();
                forced_last = Some(k);
            }
            flows += k.flows();
            if k.elastic() {
                elastic += 1;
            } else {
                fixed += 1;
            }
            n_conv += 1;
        }
        let min_hosts = n_conv.div_ceil(EPHEMERAL_COUNT).max(1);
        if min_hosts > u64::from(MAX_CLIENT_HOSTS) {
            return Err(ConfigError(format!(
                "{} flows need more than {MAX_CLIENT_HOSTS} client hosts",
                cfg.flows
            )));
        }
        let default_hosts = (n_conv / 64).clamp(64, 4096);
        let hosts = cfg.hosts.map_or(default_hosts, u64::from).max(min_hosts);
        let hosts = hosts.min(u64::from(MAX_CLIENT_HOSTS));
        let servers = cfg.servers.max(3);
        let public = (servers / 3).clamp(1, MAX_PUBLIC_SERVERS);
        let internal = (servers - public).clamp(1, MAX_INTERNAL_SERVERS);

        let (packets, bytes) = match (cfg.packets, cfg.bytes) {
            (Some(p), Some(b)) => (p, b),
            (Some(p), None) => (p, p * DEFAULT_FILE_BYTES_PER_PACKET),
            (None, Some(b)) => (b / DEFAULT_FILE_BYTES_PER_PACKET, b),
            (None, None) => {
                let p = cfg.flows * DEFAULT_PACKETS_PER_FLOW;
                (p, p * DEFAULT_FILE_BYTES_PER_PACKET)
            }
        };
        let start_ns = cfg.start_ns;
        let ramp_ns = if cfg.open_at_once {
            (cfg.duration_ns / 20).max(1)
        } else {
            cfg.duration_ns
        };
        let truth = cfg.truth.then(|| TruthAcc::new(&cfg.truth_windows));
        let mut g = Generator {
            perm: Permutation::new(hosts * EPHEMERAL_COUNT, cfg.seed),
            n_conv,
            forced_last,
            next_conv: 0,
            next_start: 0,
            internal,
            public,
            start_ns,
            ramp_ns,
            deadline: start_ns + cfg.duration_ns - 1,
            budget: Budget {
                rem_packets: packets as f64,
                rem_bytes: bytes.saturating_sub(pcap::FILE_HEADER_LEN) as f64,
                rem_elastic: elastic,
                rem_fixed: fixed,
                fixed_packets: 40.0,
                fixed_bytes: 40.0 * 150.0,
                fixed_seen: 10.0,
            },
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            protocols: [0; 256],
            summary: Summary {
                conversations: n_conv,
                flows,
                file_bytes: pcap::FILE_HEADER_LEN,
                ..Summary::default()
            },
            truth,
            cfg,
        };
        g.next_start = g.start_of(0);
        Ok(g)
    }

    /// The configuration this generator runs.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Start time of conversation `i`: evenly spread over the ramp, jittered,
    /// non-decreasing in `i`.
    fn start_of(&self, i: u64) -> u64 {
        let u = hash2(self.cfg.seed ^ 0x7374_6172_7473, i) >> 32;
        let pos = (u128::from(i) << 32) | u128::from(u);
        let span = u128::from(self.n_conv.max(1)) << 32;
        self.start_ns + (u128::from(self.ramp_ns) * pos / span) as u64
    }

    fn kind_of(&self, i: u64) -> Kind {
        match self.forced_last {
            Some(k) if i + 1 == self.n_conv => k,
            _ => natural_kind(&self.cfg, i),
        }
    }

    /// Picks a server: public with probability `p_public`, popular ones more often.
    fn pick_server(&self, rng: &mut Rng, p_public: f64) -> (u32, bool) {
        let public = rng.chance(p_public);
        let n = if public { self.public } else { self.internal };
        let u = rng.f64();
        let idx = ((f64::from(n) * u * u) as u32).min(n - 1);
        if public {
            (self.internal + idx, true)
        } else {
            (idx, false)
        }
    }

    /// Plans conversation `i` completely (sizes, endpoints, timing).
    fn plan(&mut self, i: u64, start: u64) -> Conv {
        let kind = self.kind_of(i);
        let mut rng = Rng::new(hash2(self.cfg.seed ^ CONV_SALT, i));
        let mut c = conv::blank(kind, Rng::new(rng.next_u64()));
        let t = self.perm.apply(i);
        c.client = (t / EPHEMERAL_COUNT) as u32;
        let port_idx = (t % EPHEMERAL_COUNT) as u32;
        c.cport = EPHEMERAL_BASE + port_idx as u16;
        let v6 = rng.chance(self.cfg.ipv6_percent / 100.0);
        if v6 {
            c.bits |= BIT_V6;
        }
        if rng.chance(self.cfg.vlan_percent / 100.0) {
            c.vlan = 100 + (c.client % 32) as u16;
        }
        c.c_seq = rng.next_u32();
        c.s_seq = rng.next_u32();
        c.c_ipid = rng.next_u64() as u16;
        c.s_ipid = rng.next_u64() as u16;
        c.ts_base = rng.next_u32();

        let public = match kind {
            Kind::TcpSession | Kind::TcpRefused | Kind::TcpSynOnly => {
                let (s, p) = self.pick_server(&mut rng, 0.3);
                c.server = s;
                let table = if p {
                    addr::TCP_PUBLIC
                } else {
                    addr::TCP_INTERNAL
                };
                c.sport = rng.weighted(table);
                p
            }
            Kind::UdpBulk => {
                let (s, p) = self.pick_server(&mut rng, 0.3);
                c.server = s;
                c.sport = rng.weighted(addr::UDP_BULK);
                p
            }
            Kind::UdpOneWay => {
                let (s, p) = self.pick_server(&mut rng, 0.05);
                c.server = s;
                c.sport = rng.weighted(addr::UDP_ONE_WAY);
                p
            }
            Kind::Dns => {
                c.sport = 53;
                rng.chance(0.15)
            }
            Kind::Echo | Kind::EchoUnanswered => {
                // Ping targets are internal (public ones would repeat pairs).
                c.server = port_idx;
                false
            }
        };
        if public {
            c.bits |= BIT_PUBLIC;
        }
        let rtt = if public {
            rng.log_uniform(8e6, 180e6)
        } else {
            rng.log_uniform(80e3, 2e6)
        };
        c.rtt_ns = rtt as u32;
        let base_ttl = if rng.chance(0.15) { 128 } else { 64 };
        c.s_ttl = if public {
            base_ttl - rng.range(6, 22) as u8
        } else {
            base_ttl - 1
        };

        let (l2, iph) = (
            if c.vlan != 0 { 18.0 } else { 14.0 },
            if v6 { 40.0 } else { 20.0 },
        );
        let max_udp = if v6 { 1500 - 48 } else { 1500 - 28 };
        match kind {
            Kind::TcpSession => {
                c.close = rng.weighted(&[
                    (CLOSE_CLIENT_FIN, 80),
                    (CLOSE_SERVER_FIN, 8),
                    (CLOSE_CLIENT_RST, 8),
                    (CLOSE_SERVER_RST, 4),
                ]);
                c.think_ns = if rng.chance(0.04) {
                    rng.log_uniform(2e9, 30e9) as u32
                } else {
                    rng.log_uniform(1e6, 200e6) as u32
                };
                let (pc, ratio) = self.budget.next(&mut rng);
                size_tcp(&mut c, &mut rng, pc, ratio, 16.0 + l2 + iph + 32.0);
            }
            Kind::TcpRefused => {}
            Kind::TcpSynOnly => c.rounds = 3,
            Kind::Dns => {
                c.rounds = if rng.chance(0.4) { 2 } else { 1 };
                c.q = rng.range(28, 60) as u32;
                c.b = c.q + rng.range(16, 400) as u32;
                if public {
                    c.rtt_ns = rng.log_uniform(5e6, 40e6) as u32;
                }
            }
            Kind::UdpBulk => {
                let (pc, ratio) = self.budget.next(&mut rng);
                let n = (pc.round() as u64).clamp(2, u64::from(u32::MAX / 2));
                let k = rng.range(1, 8);
                let n_c = n.div_ceil(k + 1).clamp(1, n - 1);
                let n_s = n - n_c;
                c.k = k as u8;
                c.aux = n_c as u32;
                c.aux2 = k as u32;
                c.rounds = n_s as u32;
                c.q = rng.range(30, 80) as u32;
                let d = (ratio - (16.0 + l2 + iph + 8.0)).max(0.0);
                let b = (d * n as f64 - f64::from(c.q) * n_c as f64) / n_s as f64;
                c.b = (b.round() as u32).clamp(16, max_udp);
                c.gap_ns = if c.b < 300 {
                    20_000_000
                } else {
                    rng.log_uniform(20e3, 2e6) as u32
                };
            }
            Kind::UdpOneWay => {
                let (pc, ratio) = self.budget.next(&mut rng);
                let n = (pc.round() as u64).clamp(1, u64::from(u32::MAX / 2));
                c.aux = n as u32;
                c.rounds = 0;
                let d = ratio - (16.0 + l2 + iph + 8.0);
                c.q = (d.round().max(0.0) as u32).clamp(16, max_udp);
                c.gap_ns = rng.log_uniform(1e6, 1e9) as u32;
            }
            Kind::Echo | Kind::EchoUnanswered => {
                c.q = if rng.chance(0.2) { 32 } else { 56 };
                c.rounds = if kind == Kind::Echo {
                    rng.range(1, 8) as u32
                } else {
                    rng.range(1, 4) as u32
                };
            }
        }
        let cost = c.cost();
        self.budget.spend(kind, cost);
        c.pkts_left = cost.packets as u32;
        if self.cfg.open_at_once {
            let span = (self.deadline - start) as f64 * (0.85 + 0.14 * rng.f64());
            c.pace_ns = ((span / cost.packets.max(2) as f64) as u64).max(1);
        }
        c
    }

    /// Starts every conversation due before the earliest pending packet.
    fn admit(&mut self) {
        while self.next_conv < self.n_conv {
            if let Some(Reverse((t, _))) = self.heap.peek() {
                if *t < self.next_start {
                    return;
                }
            }
            let i = self.next_conv;
            let start = self.next_start;
            let c = self.plan(i, start);
            let slot = match self.free.pop() {
                Some(s) => {
                    self.slab[s as usize] = c;
                    s
                }
                None => {
                    self.slab.push(c);
                    (self.slab.len() - 1) as u32
                }
            };
            self.heap.push(Reverse((start, slot)));
            self.next_conv += 1;
            if self.next_conv < self.n_conv {
                self.next_start = self.start_of(self.next_conv);
            }
        }
    }

    /// Writes the next frame into `buf` (cleared first) and returns its
    /// timestamp, or `None` when the capture is complete.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Option<FrameInfo> {
        self.admit();
        let mut top = self.heap.peek_mut()?;
        let Reverse((t, slot)) = *top;
        let c = &mut self.slab[slot as usize];
        let (pkt, gap) = c.step();
        let ts = match self.cfg.resolution {
            TsResolution::Micro => t - t % 1000,
            TsResolution::Nano => t,
        };
        let ends = c.endpoints(self.internal);
        let wire = c.wire(&pkt, ends, ts);
        buf.clear();
        let ip_len = frame::build(buf, &pkt, &wire);
        c.pkts_left -= 1;
        match gap {
            Some(natural) => {
                debug_assert!(c.pkts_left > 0);
                // Open at once: the first reply comes naturally (both
                // directions open early), the rest is spread to the end.
                let first = c.bits & BIT_STARTED == 0;
                c.bits |= BIT_STARTED;
                let g = if c.pace_ns > 0 && !first {
                    let f = 0.5 + c.rng.f64();
                    (c.pace_ns as f64 * f) as u64
                } else {
                    natural
                };
                let allowed = (self.deadline - t) / u64::from(c.pkts_left.max(1));
                *top = Reverse((t + g.min(allowed), slot));
            }
            None => {
                debug_assert_eq!(c.pkts_left, 0);
                std::collections::binary_heap::PeekMut::pop(top);
                self.free.push(slot);
            }
        }

        // Counts, from the packet description (not from the bytes).
        let v6 = wire.src.v6;
        let proto = pkt.proto(v6);
        let frame_len = buf.len() as u64;
        let s = &mut self.summary;
        if s.packets == 0 {
            s.first_ns = ts;
        }
        s.last_ns = ts;
        s.packets += 1;
        if v6 {
            s.ipv6_packets += 1;
        } else {
            s.ipv4_packets += 1;
        }
        if wire.vlan.is_some() {
            s.vlan_packets += 1;
        }
        s.ip_bytes += ip_len as u64;
        s.frame_bytes += frame_len;
        s.file_bytes += pcap::RECORD_HEADER_LEN + frame_len;
        self.protocols[proto as usize] += 1;
        if let Some(tr) = &mut self.truth {
            let (sport, dport, flags) = match pkt.l4 {
                L4::Tcp { flags, .. } => (wire.sport, wire.dport, flags),
                L4::Udp => (wire.sport, wire.dport, 0),
                L4::Echo { .. } => (0, 0, 0),
            };
            let key = FlowKey {
                src: wire.src.to_ip(),
                dst: wire.dst.to_ip(),
                sport,
                dport,
                proto,
            };
            tr.record(key, ip_len as u64, frame_len, ts, flags);
        }
        Some(FrameInfo {
            ts_ns: ts,
            ip_len: ip_len as u32,
        })
    }

    /// Counts so far (without the truth, which [`Generator::finish`] builds).
    pub fn progress(&self) -> &Summary {
        &self.summary
    }

    /// Ends the run: the summary, with the truth if it was asked for.
    pub fn finish(mut self) -> Summary {
        let mut s = std::mem::take(&mut self.summary);
        s.ip_protocols = self
            .protocols
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(p, n)| (p as u8, *n))
            .collect();
        s.truth = self.truth.take().map(TruthAcc::finish);
        s
    }

    /// Writes the whole capture to `out` (buffer it, or pass a `BufWriter`;
    /// this method adds its own 1 MiB buffer) and returns the summary.
    pub fn write_pcap<W: Write>(mut self, out: W) -> io::Result<Summary> {
        let mut w = io::BufWriter::with_capacity(1 << 20, out);
        pcap::write_file_header(&mut w, self.cfg.resolution)?;
        let mut buf = Vec::with_capacity(2048);
        while let Some(info) = self.next_frame(&mut buf) {
            pcap::write_record(&mut w, self.cfg.resolution, info.ts_ns, &buf)?;
        }
        w.flush()?;
        Ok(self.finish())
    }
}

/// Chooses request/response sizes and rounds of a TCP session so that it has
/// about `pc` packets of about `ratio` file bytes each (`hdr`: file bytes of a
/// payload-less segment).
fn size_tcp(c: &mut Conv, rng: &mut Rng, pc: f64, ratio: f64, hdr: f64) {
    let mss = Conv::mss_payload(c.v6());
    let fin = c.close <= CLOSE_SERVER_FIN;
    let fixed = 3.0 + if fin { 3.0 } else { 1.0 };
    // Handshake (SYN options: 8 bytes more) and close packets carry no data.
    let fixed_bytes = 3.0 * hdr + 16.0 + if fin { 3.0 * hdr } else { hdr - 12.0 };
    let pd = (pc - fixed).max(3.0);
    // Payload bytes per data-phase packet wanted.
    let d = ((pc * ratio - fixed_bytes) / pd - hdr).max(1.0);
    let pkts = |q: u32, b: u32| -> f64 {
        let nq = q.div_ceil(mss);
        let nb = b.div_ceil(mss);
        f64::from(nq + (nq - 1) / 2 + nb + nb.div_ceil(2))
    };
    let small = (rng.log_uniform(40.0, 1200.0) as u32)
        .min((2.0 * d) as u32)
        .max(1);
    // Largest b with (small + b) / pkts <= d, by bisection.
    let (mut lo, mut hi) = (1u32, 1u32 << 26);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if f64::from(small + mid) / pkts(small, mid) <= d {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut big = lo;
    let per_round = pkts(small, big);
    let mut rounds = (pd / per_round).round().max(1.0);
    if rounds == 1.0 && per_round > pd {
        // Fewer packets wanted than this ratio needs: keep the packet count.
        let nq = f64::from(small.div_ceil(mss));
        let nb = ((pd - nq) / 1.5).max(1.0) as u32;
        big = big.min(nb.saturating_mul(mss)).max(1);
    }
    rounds = rounds.min(f64::from(u32::MAX / 4));
    if rng.chance(0.08) {
        // Upload: the client sends the big messages.
        c.q = big;
        c.b = small;
    } else {
        c.q = small;
        c.b = big;
    }
    c.rounds = rounds as u32;
}
