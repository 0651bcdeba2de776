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
mod config;
mod conv;
mod frame;
mod gen;
pub mod pcap;
mod rng;
mod truth;

pub use addr::{MAX_CLIENT_HOSTS, MAX_INTERNAL_SERVERS, MAX_PUBLIC_SERVERS};
pub use config::{Config, ConfigError, Mix, TsResolution, DEFAULT_START_SECS};
pub use gen::{FrameInfo, Generator, Summary};
pub use truth::{aws_tcp_flags, FlowKey, FlowTotal, Truth, WindowTotal};

use std::io::Write;

/// Generates the capture described by `config` into `out`.
pub fn generate<W: Write>(config: Config, out: W) -> Result<Summary, anyhow::Error> {
    let g = Generator::new(config)?;
    Ok(g.write_pcap(out)?)
}
