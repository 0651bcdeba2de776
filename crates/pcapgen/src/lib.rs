//! Deterministic synthetic packet captures for vpcflow's tests, demo and
//! benchmarks.
//!
//! [`Generator`] writes a classic little-endian pcap (Ethernet link type,
//! microsecond or nanosecond timestamps) of realistic traffic from a seed: the
//! same [`Config`] always gives the same bytes (on one platform: a few sizes
//! and gaps go through `f64::ln`/`powf`).
//!
//! # What is in a capture
//!
//! * **Conversations**, each producing one or two unidirectional flows (both
//!   directions are written, so most give two VPC flow records):
//!   TCP sessions (SYN, SYN-ACK, ACK, request/response rounds with full
//!   1500-byte segments, a delayed ACK every second segment, FIN/ACK or RST
//!   close), refused connections (RST-ACK), unanswered SYNs with
//!   retransmissions, DNS queries and responses, bidirectional bulk UDP,
//!   one-way UDP, ICMP/ICMPv6 echo with and without replies.
//! * **Addresses**: clients in 10.16.0.0/12, 10.32.0.0/12, 172.16.0.0/13,
//!   192.168.0.0/17 (fd00:0:0:10::/64); internal servers in 10.128.0.0/12,
//!   172.24.0.0/13, 192.168.128.0/17 (fd00:0:0:20::/64); public servers in
//!   192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (2001:db8:100::/64); the VPC
//!   resolver 10.0.0.2 / fd00:ec2::253; ping targets in 10.192.0.0/12. Every
//!   conversation has its own (client, ephemeral port) pair, so the number of
//!   distinct unidirectional 5-tuples is exactly [`Config::flows`].
//! * **Headers** are valid: IPv4 total length and header checksum, IPv6
//!   payload length, TCP data offset with real options (MSS, SACK-permitted,
//!   timestamps, window scale), UDP length, and TCP, UDP, ICMP and ICMPv6
//!   checksums (all computed; payload bytes are zeros). Frames are complete
//!   (caplen = wire length); frames under 60 bytes are zero-padded like on a
//!   switch port, so IP length and frame length differ. MAC addresses are
//!   derived from IP addresses (02:00:a:b:c:d).
//! * **Time**: conversations start spread evenly (with jitter) over
//!   `[start, start + duration)` — or within the first 5% of it with
//!   [`Config::open_at_once`], then stay open until near the end — and
//!   overlap; packets are merged in timestamp order with a binary heap, so
//!   memory is proportional to the conversations open at once.
//! * **Size**: the packet and byte targets are spread over TCP sessions and
//!   bulk UDP as they start (heavy-tailed sizes); totals land within a few
//!   percent of the targets when there are enough flows to carry them.
//!
//! # Ground truth
//!
//! With [`Config::truth`], per-direction 5-tuple totals (and per-window totals
//! for [`Config::truth_windows`]) are counted from the packet descriptions as
//! frames are produced, with the rules of the reference captures' truth files,
//! and returned in [`Summary::truth`]; [`Summary::write_truth_json`] writes
//! them in the same JSON shape as `pcaps/*.truth.json`.
//!
//! ```
//! use pcapgen::{Config, Generator};
//!
//! let cfg = Config { flows: 20, packets: Some(300), truth: true, ..Config::default() };
//! let mut pcap = Vec::new();
//! let summary = Generator::new(cfg).unwrap().write_pcap(&mut pcap).unwrap();
//! let truth = summary.truth.unwrap();
//! assert_eq!(truth.totals.len(), 20);
//! assert_eq!(truth.totals.iter().map(|t| t.packets).sum::<u64>(), summary.packets);
//! ```

mod addr;
mod conv;
mod frame;
mod gen;
pub mod pcap;
mod rng;
mod truth;

pub use addr::{MAX_CLIENT_HOSTS, MAX_INTERNAL_SERVERS, MAX_PUBLIC_SERVERS};
pub use gen::{FrameInfo, Generator, Summary};
pub use truth::{aws_tcp_flags, FlowKey, FlowTotal, Truth, WindowTotal};

use std::fmt;
use std::io::Write;

/// 2025-12-31T23:50:00Z: ten minutes before a day (and year) boundary, and a
/// multiple of 600 s, so the default 600 s capture fills exactly one 10-minute
/// window and a longer one crosses midnight.
pub const DEFAULT_START_SECS: u64 = 1_767_225_000;

/// Timestamp resolution of the capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TsResolution {
    /// Magic 0xa1b2c3d4: microseconds.
    #[default]
    Micro,
    /// Magic 0xa1b23c4d: nanoseconds.
    Nano,
}

/// Relative weights of conversation protocols (any scale; percentages read best).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// TCP conversations: 95% sessions, 2% refused, 1% unanswered SYNs.
    pub tcp: f64,
    /// UDP conversations: 65% DNS, 25% bulk, 10% one-way.
    pub udp: f64,
    /// ICMP/ICMPv6 echo conversations: 10% unanswered.
    pub icmp: f64,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            tcp: 80.0,
            udp: 16.0,
            icmp: 4.0,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Exact number of distinct unidirectional flows (5-tuples). Most
    /// conversations give two; unanswered ones give one.
    pub flows: u64,
    /// Target number of packets (default: from `bytes`, or 8 per flow).
    pub packets: Option<u64>,
    /// Target capture file size in bytes (default: 600 bytes per packet).
    pub bytes: Option<u64>,
    /// First possible timestamp, Unix nanoseconds.
    pub start_ns: u64,
    /// Every timestamp is in `[start_ns, start_ns + duration_ns)`.
    pub duration_ns: u64,
    pub seed: u64,
    pub mix: Mix,
    /// Share of conversations over IPv6, percent.
    pub ipv6_percent: f64,
    /// Share of conversations carried in 802.1Q-tagged frames, percent.
    pub vlan_percent: f64,
    /// Start every conversation in the first 5% of the duration and keep it
    /// going until near the end: all flows are open at the same time.
    pub open_at_once: bool,
    /// Client hosts (default: conversations / 64, between 64 and 4096; raised
    /// when needed so that every conversation gets its own ephemeral port).
    pub hosts: Option<u32>,
    /// Server hosts (a third of them public).
    pub servers: u32,
    pub resolution: TsResolution,
    /// Keep per-flow totals ([`Summary::truth`]); costs memory per flow.
    pub truth: bool,
    /// Window widths (seconds) for per-window truth totals.
    pub truth_windows: Vec<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            flows: 1000,
            packets: None,
            bytes: None,
            start_ns: DEFAULT_START_SECS * 1_000_000_000,
            duration_ns: 600 * 1_000_000_000,
            seed: 1,
            mix: Mix::default(),
            ipv6_percent: 10.0,
            vlan_percent: 2.0,
            open_at_once: false,
            hosts: None,
            servers: 450,
            resolution: TsResolution::Micro,
            truth: false,
            truth_windows: vec![60, 600],
        }
    }
}

/// A configuration the generator cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pcapgen configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks every field; [`Generator::new`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if self.duration_ns < 1_000_000 {
            return err("duration must be at least 1 ms".into());
        }
        if self.start_ns.checked_add(self.duration_ns).is_none()
            || (self.start_ns + self.duration_ns) / 1_000_000_000 > u64::from(u32::MAX)
        {
            return err("start + duration must fit a 32-bit pcap timestamp (before 2106)".into());
        }
        let m = &self.mix;
        for (name, v) in [("tcp", m.tcp), ("udp", m.udp), ("icmp", m.icmp)] {
            if !(v.is_finite() && v >= 0.0) {
                return err(format!("mix weight {name} must be a non-negative number"));
            }
        }
        if m.tcp + m.udp + m.icmp <= 0.0 {
            return err("the mix weights add up to 0".into());
        }
        for (name, v) in [("ipv6", self.ipv6_percent), ("vlan", self.vlan_percent)] {
            if !(0.0..=100.0).contains(&v) {
                return err(format!(
                    "{name} percentage must be between 0 and 100, not {v}"
                ));
            }
        }
        if self.truth_windows.contains(&0) {
            return err("truth window widths must be positive".into());
        }
        if self.hosts == Some(0) {
            return err("hosts must be positive".into());
        }
        Ok(())
    }
}

/// Generates the capture described by `config` into `out`.
pub fn generate<W: Write>(config: Config, out: W) -> Result<Summary, anyhow::Error> {
    let g = Generator::new(config)?;
    Ok(g.write_pcap(out)?)
}
