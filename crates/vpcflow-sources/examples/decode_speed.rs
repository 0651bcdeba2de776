//! How fast captures are read, decoded and aggregated into a hash table.
//!
//! ```text
//! cargo run --release -p vpcflow-sources --example decode_speed -- [FILE...]
//!     [--packets N] [--snaplen N]
//! ```
//!
//! With files, each is read with `read_capture` into a consumer that updates a
//! hash table per (interface, 5-tuple). Without files, a synthetic classic pcap
//! is built first in the temporary directory from the Ethernet packets of the
//! shared captures (`$VPCFLOW_SHARED/pcaps`, default `../shared/pcaps` next to
//! the workspace), cut to `--snaplen` bytes (default 128; 0 keeps them whole)
//! and repeated up to `--packets` packets (default 10 000 000) with increasing
//! timestamps. Also prints the speed of `decode` alone on those frames.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use foldhash::fast::FixedState;
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::{FlowConsumer, FlowKey, FlowUpdate, InterfaceIndex, LossEvent};
use vpcflow_sources::{decode, read_capture, PcapOptions};

#[derive(Default, Clone, Copy)]
struct Acc {
    packets: u64,
    bytes: u64,
    first: u64,
    last: u64,
    flags: TcpFlags,
}

/// A consumer doing what an aggregator does per packet: one hash-table update.
struct Table {
    flows: HashMap<(InterfaceIndex, FlowKey), Acc, FixedState>,
    losses: u64,
}

impl FlowConsumer for Table {
    fn interface(&mut self, _name: &str) -> InterfaceIndex {
        InterfaceIndex(0)
    }
    #[inline]
    fn update(&mut self, u: &FlowUpdate) {
        let a = self.flows.entry((u.interface, u.key)).or_insert(Acc {
            first: u.first,
            ..Acc::default()
        });
        a.packets += u.packets;
        a.bytes += u.bytes;
        a.first = a.first.min(u.first);
        a.last = a.last.max(u.last);
        a.flags = a.flags.union(u.tcp_flags);
    }
    fn loss(&mut self, l: &LossEvent) {
        self.losses += l.count;
    }
}

/// Ethernet frames (with their wire lengths) of the classic pcaps in `dir`.
fn ethernet_frames(dir: &Path, snaplen: usize) -> Vec<(Vec<u8>, u32)> {
    let mut frames = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    paths.sort();
    for p in paths {
        let d = std::fs::read(&p).unwrap();
        // Little-endian microsecond Ethernet files only: enough for a mix.
        if d.len() < 24 || d[..4] != [0xD4, 0xC3, 0xB2, 0xA1] || d[20..24] != [1, 0, 0, 0] {
            continue;
        }
        let mut off = 24;
        while off + 16 <= d.len() {
            let caplen = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
            let wire = u32::from_le_bytes(d[off + 12..off + 16].try_into().unwrap());
            let Some(frame) = d.get(off + 16..off + 16 + caplen) else {
                break;
            };
            let keep = if snaplen == 0 {
                caplen
            } else {
                caplen.min(snaplen)
            };
            frames.push((frame[..keep].to_vec(), wire));
            off += 16 + caplen;
        }
    }
    frames
}

fn synthetic_file(frames: &[(Vec<u8>, u32)], packets: usize, path: &Path) {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut header = 0xA1B2_C3D4u32.to_le_bytes().to_vec();
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    w.write_all(&header).unwrap();
    let start = 1_700_000_000u64 * 1_000_000;
    for i in 0..packets {
        let (frame, wire) = &frames[i % frames.len()];
        let us = start + i as u64;
        let rec = [
            ((us / 1_000_000) as u32).to_le_bytes(),
            ((us % 1_000_000) as u32).to_le_bytes(),
            (frame.len() as u32).to_le_bytes(),
            (*wire).max(frame.len() as u32).to_le_bytes(),
        ];
        w.write_all(rec.as_flattened()).unwrap();
        w.write_all(frame).unwrap();
    }
    w.flush().unwrap();
}

fn read_files(files: &[PathBuf]) {
    let mut table = Table {
        flows: HashMap::with_hasher(FixedState::default()),
        losses: 0,
    };
    let options = PcapOptions::default();
    let mut total = vpcflow_sources::CaptureStats::default();
    let t = Instant::now();
    for f in files {
        match read_capture(f, &options, &mut table, &mut |_| {}) {
            Ok(s) => total += s,
            Err(e) => eprintln!("{e}"),
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "read_capture + hash update: {} frames, {} bytes of files in {:.3} s: {:.2} M packets/s, {:.0} MB/s ({} flows)",
        total.frames,
        total.file_bytes,
        secs,
        total.frames as f64 / secs / 1e6,
        total.file_bytes as f64 / secs / 1e6,
        table.flows.len()
    );
    println!("{total}");
}

fn main() {
    let mut files = Vec::new();
    let mut packets = 10_000_000usize;
    let mut snaplen = 128usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--packets" => {
                packets = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--packets N")
            }
            "--snaplen" => {
                snaplen = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--snaplen N")
            }
            _ => files.push(PathBuf::from(a)),
        }
    }
    if !files.is_empty() {
        read_files(&files);
        return;
    }
    let shared = std::env::var_os("VPCFLOW_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let frames = ethernet_frames(&shared.join("pcaps"), snaplen);
    assert!(
        !frames.is_empty(),
        "no frames found under {}",
        shared.display()
    );

    // Decode alone, in memory.
    let rounds = packets.div_ceil(frames.len());
    let t = Instant::now();
    let mut ip = 0u64;
    for _ in 0..rounds {
        for (f, wire) in &frames {
            let d = decode::decode(decode::linktype::ETHERNET, std::hint::black_box(f), *wire);
            ip += u64::from(matches!(d.outcome, decode::Outcome::Ip(_)));
        }
    }
    let n = (rounds * frames.len()) as f64;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "decode only: {} frames ({} distinct, {ip} IP) in {secs:.3} s: {:.2} M frames/s",
        n,
        frames.len(),
        n / secs / 1e6
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.pcap");
    synthetic_file(&frames, packets, &path);
    println!(
        "synthetic capture: {} packets, snaplen {snaplen}, {} bytes",
        packets,
        std::fs::metadata(&path).unwrap().len()
    );
    read_files(&[path]);
}
