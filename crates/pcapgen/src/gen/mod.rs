//! The generator: plans conversations, schedules their packets in timestamp
//! order and keeps the totals.

mod budget;
mod plan;
mod summary;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

pub use summary::Summary;

use crate::addr::{EPHEMERAL_COUNT, MAX_CLIENT_HOSTS, MAX_INTERNAL_SERVERS, MAX_PUBLIC_SERVERS};
use crate::config::{Config, ConfigError, TsResolution};
use crate::conv::{Conv, Kind, BIT_STARTED};
use crate::frame::{self, L4};
use crate::pcap;
use crate::rng::{hash2, Permutation, Rng};
use crate::truth::{FlowKey, TruthAcc};
use budget::Budget;

const KIND_SALT: u64 = 0x6b69_6e64_6b69_6e64;
/// File bytes per packet assumed when only one of the two targets is given.
pub(crate) const DEFAULT_FILE_BYTES_PER_PACKET: u64 = 600;
/// Packets per unidirectional flow assumed when neither target is given.
pub(crate) const DEFAULT_PACKETS_PER_FLOW: u64 = 8;

/// Metadata of one frame produced by [`Generator::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Timestamp, Unix nanoseconds (a multiple of 1000 with microsecond resolution).
    pub ts_ns: u64,
    /// IP-layer length of the packet.
    pub ip_len: u32,
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
