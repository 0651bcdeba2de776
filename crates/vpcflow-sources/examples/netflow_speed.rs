//! How fast NetFlow v5/v9 and IPFIX export datagrams are decoded and
//! aggregated on one core (`bench/netflow.sh`).
//!
//! ```text
//! cargo run --release -p vpcflow-sources --example netflow_speed -- FILE [--repeat N]
//! ```
//!
//! FILE is a capture of export traffic. Its UDP payloads are read into memory
//! first (not timed), then decoded by [`Decoder`] into vpcflow's
//! [`Aggregator`] (600-second windows), `--repeat` times (default 1; each
//! pass with a fresh decoder and aggregator). Prints flow records, seconds,
//! records per second, and the flow log records released.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use vpcflow_core::aggregate::{Aggregator, AggregatorConfig};
use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};
use vpcflow_sources::netflow::replay::{for_each_datagram, ReplayOptions};
use vpcflow_sources::netflow::{Decoder, DecoderOptions};

/// The aggregation stage as the pipeline has it: interfaces registered,
/// updates observed in batches, released windows taken (and counted).
struct Aggregate {
    aggregator: Aggregator,
    names: Vec<String>,
    records: u64,
}

impl FlowConsumer for Aggregate {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        let i = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        let index = InterfaceIndex(i as u32);
        self.aggregator.add_interface(index);
        index
    }
    fn update(&mut self, update: &FlowUpdate) {
        self.aggregator.observe(update);
        self.take();
    }
    fn update_batch(&mut self, updates: &[FlowUpdate]) {
        self.aggregator.observe_batch(updates);
        self.take();
    }
    fn loss(&mut self, loss: &LossEvent) {
        self.aggregator.lose(loss);
    }
}

impl Aggregate {
    fn take(&mut self) {
        if let Some(closed) = self.aggregator.take_released() {
            self.records += closed.len() as u64;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut repeat = 1;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--repeat N")
            }
            _ => file = Some(PathBuf::from(a)),
        }
    }
    let file = file.expect("usage: netflow_speed FILE [--repeat N]");
    let datagrams = datagrams(&file);
    let bytes: usize = datagrams.iter().map(|(_, d)| d.len()).sum();
    println!("{} datagrams, {} bytes", datagrams.len(), bytes);
    for pass in 0..repeat {
        let mut decoder = Decoder::new(DecoderOptions::default());
        let mut out = Aggregate {
            aggregator: Aggregator::new(AggregatorConfig::default()),
            names: Vec::new(),
            records: 0,
        };
        let started = Instant::now();
        for (from, d) in &datagrams {
            let _ = decoder.datagram(*from, d, &mut out);
        }
        decoder.finish(&mut out);
        out.records += out.aggregator.finish().len() as u64;
        let secs = started.elapsed().as_secs_f64();
        let s = decoder.stats();
        println!(
            "pass {pass}: {} flow records in {secs:.3} s: {:.0} records/s; {} malformed datagrams, {} sequence gaps; {} flow log records",
            s.records,
            s.records as f64 / secs,
            s.malformed,
            s.sequence_gaps,
            out.records
        );
    }
}

/// The UDP payloads of the capture at `file`, with their source addresses.
fn datagrams(file: &std::path::Path) -> Vec<(IpAddr, Vec<u8>)> {
    let mut v = Vec::new();
    for_each_datagram(file, &ReplayOptions::default(), &mut |_, from, d| {
        v.push((from, d.to_vec()))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    v
}
