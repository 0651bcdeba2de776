//! Throughput of the gzip text encoder on realistic records.
//!
//! ```text
//! cargo run --release -p vpcflow-sinks --example gzip_speed [RECORDS [RUNS]]
//! ```
//!
//! Generates RECORDS (default 1,000,000) aggregated records (mixed IPv4/IPv6,
//! TCP/UDP/ICMP, ephemeral and service ports, heavy-tailed counters, a few
//! NODATA), then times enrichment + formatting alone and enrichment +
//! formatting + gzip at levels 1 and 6, in MB/s of uncompressed text:
//!
//! * `one stream`: flate2's `GzEncoder` over the whole body (the reference
//!   for size: one deflate stream, no blocks);
//! * `inline`: [`TextGzipEncoder`] compressing its blocks on the caller's
//!   thread;
//! * `pool of 2`: the same encoder with a [`DeflatePool`] of 2 threads (same
//!   bytes as inline).
//!
//! Each is run RUNS times (default 3) and the fastest run is shown, with the
//! CPU time of all threads during that run: on a busy machine the wall-clock
//! figure of the pool is only as good as the cores left free.

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

use vpcflow_core::enrich::record_values;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::flow::{Action, FlowKey, InterfaceIndex};
use vpcflow_core::format::LogFormat;
use vpcflow_core::interface::{InterfaceConfig, InterfaceDefaults};
use vpcflow_core::record::{FlowRecord, LogStatus, Traffic};
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_sinks::{DeflatePool, GzipLevel, TextGzipEncoder};

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
            InterfaceConfig {
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
                    direction: None,
                }),
                status: LogStatus::Ok,
            }
        })
        .collect();
    out.sort_unstable_by_key(|r| r.sort_key());
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
    let runs: usize = std::env::args()
        .nth(2)
        .map(|a| a.parse().expect("RUNS must be a number"))
        .unwrap_or(3);
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

    let pool = Arc::new(DeflatePool::new(2));
    for level in [1, 6] {
        let gzip_level = GzipLevel::new(level).expect("1 and 6 are levels");
        let run = best_of(runs, || {
            let gz = GzBuilder::new()
                .mtime(0)
                .write(CountingSink(0), Compression::new(level));
            one_stream(gz, &format, &records, &table)
        });
        report(level, "one stream", &run, n);
        let run = best_of(runs, || {
            let enc = TextGzipEncoder::new(io::sink(), &format, gzip_level);
            encoder(enc, &records, &table, version)
        });
        report(level, "inline", &run, n);
        let run = best_of(runs, || {
            let enc =
                TextGzipEncoder::with_pool(io::sink(), &format, gzip_level, Arc::clone(&pool));
            encoder(enc, &records, &table, version)
        });
        report(level, "pool of 2", &run, n);
    }
}

/// What one run measured.
struct Run {
    secs: f64,
    cpu_secs: f64,
    text: u64,
    gz: u64,
}

/// The fastest of `runs` runs of `f`.
fn best_of(runs: usize, mut f: impl FnMut() -> (u64, u64)) -> Run {
    (0..runs.max(1))
        .map(|_| time(&mut f))
        .min_by(|a, b| a.secs.total_cmp(&b.secs))
        .expect("at least one run")
}

/// Runs `f` (which returns its text and gzip byte counts), timing it.
fn time(f: impl FnOnce() -> (u64, u64)) -> Run {
    let (t, cpu) = (Instant::now(), cpu_secs());
    let (text, gz) = f();
    Run {
        secs: t.elapsed().as_secs_f64(),
        cpu_secs: cpu_secs() - cpu,
        text,
        gz,
    }
}

/// CPU seconds used by the process so far, all threads.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn report(level: u32, how: &str, run: &Run, n: usize) {
    let mb = run.text as f64 / 1e6;
    println!(
        "gzip level {level}, {how:10}: {mb:6.1} MB text in {:6.3} s = {:6.1} MB/s ({:.2} M records/s, {:4.2} s CPU), {:6.2} MB gzip, ratio {:.3}",
        run.secs,
        mb / run.secs,
        n as f64 / run.secs / 1e6,
        run.cpu_secs,
        run.gz as f64 / 1e6,
        run.text as f64 / run.gz as f64
    );
}

/// Encodes `records` with `enc`; returns (text, gzip) bytes.
fn encoder(
    mut enc: TextGzipEncoder<io::Sink>,
    records: &[FlowRecord],
    table: &InterfaceTable,
    version: u8,
) -> (u64, u64) {
    for r in records {
        enc.write_record(&record_values(r, table.get(r.interface), version))
            .expect("writing to io::sink cannot fail");
    }
    let s = enc.finish().expect("writing to io::sink cannot fail").stats;
    (s.uncompressed_bytes, s.compressed_bytes)
}

/// The body as one deflate stream, in 64 KiB writes like the encoder's.
fn one_stream(
    mut gz: GzEncoder<CountingSink>,
    format: &LogFormat,
    records: &[FlowRecord],
    table: &InterfaceTable,
) -> (u64, u64) {
    let mut text = format.header_line().into_bytes();
    let mut total = 0u64;
    for r in records {
        let values = record_values(r, table.get(r.interface), format.version());
        format.write_line(&values, &mut text);
        if text.len() >= 64 * 1024 {
            gz.write_all(&text)
                .expect("writing to a counter cannot fail");
            total += text.len() as u64;
            text.clear();
        }
    }
    gz.write_all(&text)
        .expect("writing to a counter cannot fail");
    total += text.len() as u64;
    (
        total,
        gz.finish().expect("writing to a counter cannot fail").0,
    )
}

/// A sink that counts what it is given.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
