//! Throughput of the gzip text encoder on realistic records.
//!
//! ```text
//! cargo run --release -p vpcflow-sinks --example gzip_speed [RECORDS]
//! ```
//!
//! Generates RECORDS (default 1,000,000) aggregated records (mixed IPv4/IPv6,
//! TCP/UDP/ICMP, ephemeral and service ports, heavy-tailed counters, a few
//! NODATA), then times enrichment + formatting alone and enrichment +
//! formatting + gzip at levels 1 and 6, in MB/s of uncompressed text.

use std::collections::HashMap;
use std::hint::black_box;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use vpcflow_core::enrich::record_values;
use vpcflow_core::flow::{Action, FlowKey, InterfaceIndex};
use vpcflow_core::format::LogFormat;
use vpcflow_core::interface::{InterfaceDefaults, InterfaceOverrides, InterfaceTable};
use vpcflow_core::record::{FlowRecord, LogStatus, Traffic};
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_sinks::{GzipLevel, TextGzipEncoder};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Roughly log-uniform in [1, max): many small flows, a few large ones.
    fn heavy_tail(&mut self, max: u64) -> u64 {
        let bits = 64 - max.leading_zeros() as u64;
        let scale = 1u64 << self.below(bits);
        (1 + self.below(scale)).min(max - 1)
    }
}

fn interfaces() -> (InterfaceTable, Vec<(InterfaceIndex, IpAddr, IpAddr)>) {
    let mut configured = HashMap::new();
    let mut own = Vec::new();
    for i in 0..16u16 {
        let v4: IpAddr = Ipv4Addr::new(10, 0, (i / 4) as u8, 10 + i as u8).into();
        let v6: IpAddr =
            Ipv6Addr::new(0x2600, 0x1f18, 0x47b, 0xa00 + i / 4, 0, 0, 0, 0x10 + i).into();
        configured.insert(
            format!("eth{i}"),
            InterfaceOverrides {
                addresses: vec![v4, v6],
                ..Default::default()
            },
        );
        own.push((v4, v6));
    }
    let mut table = InterfaceTable::new(
        InterfaceDefaults {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        },
        configured,
    );
    let list = own
        .into_iter()
        .enumerate()
        .map(|(i, (v4, v6))| (table.register(&format!("eth{i}")), v4, v6))
        .collect();
    (table, list)
}

fn records(n: usize, ifaces: &[(InterfaceIndex, IpAddr, IpAddr)]) -> Vec<FlowRecord> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let window = 1_616_729_100 - 1_616_729_100 % 600;
    let mut out: Vec<FlowRecord> = (0..n)
        .map(|_| {
            let (interface, own4, own6) = ifaces[rng.below(ifaces.len() as u64) as usize];
            let end = window + 300 + rng.below(300);
            let start = end - rng.below(end - window + 1);
            if rng.below(200) == 0 {
                return FlowRecord {
                    interface,
                    window_start: window,
                    start: window,
                    end: window + 599,
                    traffic: None,
                    status: LogStatus::NoData,
                };
            }
            let v6 = rng.below(5) == 0;
            let peer: IpAddr = if v6 {
                Ipv6Addr::new(
                    0x2a00 + rng.below(0x500) as u16,
                    rng.below(0x10000) as u16,
                    rng.below(0x10000) as u16,
                    0,
                    0,
                    0,
                    rng.below(0x10000) as u16,
                    rng.below(0x10000) as u16,
                )
                .into()
            } else if rng.below(3) == 0 {
                Ipv4Addr::new(10, 0, rng.below(8) as u8, rng.below(256) as u8).into()
            } else {
                Ipv4Addr::from(rng.next() as u32).into()
            };
            let own = if v6 { own6 } else { own4 };
            let protocol = match rng.below(10) {
                0..=5 => 6,
                6..=8 => 17,
                _ if v6 => 58,
                _ => 1,
            };
            let service = [443u16, 80, 53, 22, 3306, 5432, 6379, 8080, 123][rng.below(9) as usize];
            let ephemeral = 32768 + rng.below(28232) as u16;
            let inbound = rng.below(2) == 0;
            let (src, dst, src_port, dst_port) = match (protocol, inbound) {
                (1 | 58, true) => (peer, own, 0, 0),
                (1 | 58, false) => (own, peer, 0, 0),
                (_, true) => (peer, own, ephemeral, service),
                (_, false) => (own, peer, ephemeral, service),
            };
            let packets = rng.heavy_tail(2_000_000);
            let bytes = packets * (40 + rng.below(1461));
            FlowRecord {
                interface,
                window_start: window,
                start,
                end,
                traffic: Some(Traffic {
                    key: FlowKey {
                        src,
                        dst,
                        src_port,
                        dst_port,
                        protocol,
                    },
                    packet_addrs: None,
                    packets,
                    bytes,
                    tcp_flags: TcpFlags(if protocol == 6 {
                        [2u8, 18, 3, 19, 1, 0, 4][rng.below(7) as usize]
                    } else {
                        0
                    }),
                    action: if rng.below(10) == 0 {
                        Action::Reject
                    } else {
                        Action::Accept
                    },
                }),
                status: LogStatus::Ok,
            }
        })
        .collect();
    out.sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| {
            a.replace('_', "")
                .parse()
                .expect("RECORDS must be a number")
        })
        .unwrap_or(1_000_000);
    let (table, ifaces) = interfaces();
    let records = records(n, &ifaces);
    let format = LogFormat::default();
    let version = format.version();
    println!("{n} records, default v2 format, zlib-rs backend");

    let t = Instant::now();
    let mut line = Vec::with_capacity(256);
    let mut text_bytes = 0u64;
    for r in &records {
        line.clear();
        format.write_line(
            &record_values(r, table.get(r.interface), version),
            &mut line,
        );
        text_bytes += line.len() as u64;
        black_box(&line);
    }
    let secs = t.elapsed().as_secs_f64();
    let mb = text_bytes as f64 / 1e6;
    println!(
        "format only : {mb:8.1} MB text in {secs:6.3} s = {:7.1} MB/s ({:.2} M records/s)",
        mb / secs,
        n as f64 / secs / 1e6
    );

    for level in [1, 6] {
        let t = Instant::now();
        let mut enc = TextGzipEncoder::new(io::sink(), &format, GzipLevel::new(level).unwrap());
        for r in &records {
            enc.write_record(&record_values(r, table.get(r.interface), version))
                .expect("writing to io::sink cannot fail");
        }
        let done = enc.finish().expect("writing to io::sink cannot fail");
        let secs = t.elapsed().as_secs_f64();
        let s = done.stats;
        let mb = s.uncompressed_bytes as f64 / 1e6;
        println!(
            "gzip level {level}: {mb:8.1} MB text in {secs:6.3} s = {:7.1} MB/s ({:.2} M records/s), {:.1} MB gzip, ratio {:.2}",
            mb / secs,
            n as f64 / secs / 1e6,
            s.compressed_bytes as f64 / 1e6,
            s.uncompressed_bytes as f64 / s.compressed_bytes as f64
        );
    }
}
