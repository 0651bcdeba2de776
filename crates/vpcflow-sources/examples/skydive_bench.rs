//! Skydive source benchmark helpers (not a test):
//!
//! ```sh
//! # A recording: FLOWS flows updated at each of TICKS update ticks, 100 flows
//! # per message (as an analyzer sends them), every flow with Metric,
//! # LastUpdateMetric and TCPMetric.
//! skydive_bench gen FILE FLOWS TICKS
//! # The floor: decode every message with vpcflow's decoder (`parse_json`).
//! skydive_bench decode FILE
//! # The peer floor: decode every message with serde_json's derived decoder
//! # into the same flow type.
//! skydive_bench serde FILE
//! # Decode and convert into flow updates (no aggregation, no files).
//! skydive_bench convert FILE
//! ```
//!
//! `decode`, `serde` and `convert` print flows/s and the peak RSS. The end-to-end figure
//! (to gzip files) is `vpcflow convert --skydive FILE --out DIR`; see
//! `bench/skydive.sh`.

use std::io::{BufRead, BufWriter, Write};
use std::time::Instant;

use serde::Deserialize;

use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};
use vpcflow_sources::skydive::{parse_json, Converter, ConverterOptions, Flow, Payload};

/// A struct message as serde_json's derived decoder reads it (only `Obj`).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Obj", borrow, default)]
    obj: Option<Vec<Flow<'a>>>,
}

/// The flows of one message decoded by serde_json alone.
fn serde_flows(line: &[u8]) -> usize {
    let text = std::str::from_utf8(line).unwrap();
    if text.starts_with('[') {
        serde_json::from_str::<Vec<Flow>>(text).unwrap().len()
    } else {
        let env: Envelope = serde_json::from_str(text).unwrap();
        env.obj.map_or(0, |o| o.len())
    }
}

struct Count {
    updates: u64,
    names: Vec<String>,
}

impl FlowConsumer for Count {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        self.names.push(name.into());
        InterfaceIndex(self.names.len() as u32 - 1)
    }
    fn update(&mut self, _: &FlowUpdate) {
        self.updates += 1;
    }
    fn update_batch(&mut self, u: &[FlowUpdate]) {
        self.updates += u.len() as u64;
    }
    fn loss(&mut self, _: &LossEvent) {}
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn gen(path: &str, flows: u64, ticks: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let t0: u64 = 1_800_000_000_000;
    let mut line = String::new();
    for tick in 1..=ticks {
        let now = t0 + tick * 60_000;
        let mut in_message = 0;
        for f in 0..flows {
            if in_message == 0 {
                line.clear();
                line.push_str(
                    r#"{"Namespace":"flow","Type":"store","UUID":"m","Status":200,"Obj":["#,
                );
            } else {
                line.push(',');
            }
            let (a, b) = (f % 250 + 1, (f / 250) % 250 + 1);
            let n = f % 7 + 1;
            let last = now - 1_000 - f % 50_000;
            let start = if tick == 1 {
                t0 + f % 50_000
            } else {
                now - 60_000
            };
            let fstart = t0 + f % 50_000;
            line.push_str(&format!(
                concat!(
                    r#"{{"UUID":"{:016x}","LayersPath":"Ethernet/IPv4/TCP","Application":"TCP","NodeTID":"node-{}","CaptureID":"cap-1","#,
                    r#""Link":{{"Protocol":"ETHERNET","A":"02:42:ac:11:00:{:02x}","B":"02:42:ac:11:00:{:02x}","ID":0}},"#,
                    r#""Network":{{"Protocol":"IPV4","A":"10.{}.{}.1","B":"10.{}.{}.2","ID":0}},"#,
                    r#""Transport":{{"Protocol":"TCP","A":{},"B":443,"ID":0}},"#,
                    r#""LastUpdateMetric":{{"ABPackets":{},"ABBytes":{},"BAPackets":{},"BABytes":{},"Start":{},"Last":{},"RTT":120000}},"#,
                    r#""Metric":{{"ABPackets":{},"ABBytes":{},"BAPackets":{},"BABytes":{},"Start":{},"Last":{},"RTT":120000}},"#,
                    r#""TCPMetric":{{"ABSynStart":{},"BASynStart":{},"ABSynTTL":64,"BASynTTL":64}},"#,
                    r#""Start":{},"Last":{},"TrackingID":"{:016x}","L3TrackingID":"{:016x}","FinishType":0}}"#
                ),
                f.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                f % 4,
                a % 256,
                b % 256,
                a, b, a, b,
                10_000 + f % 50_000,
                n, n * 600, n, n * 1200, start, now,
                n * tick, n * 600 * tick, n * tick, n * 1200 * tick, fstart, last,
                fstart, fstart + 1,
                fstart, last,
                f ^ 0x5555,
                f ^ 0xaaaa,
            ));
            in_message += 1;
            if in_message == 100 || f + 1 == flows {
                line.push_str("]}\n");
                out.write_all(line.as_bytes()).unwrap();
                in_message = 0;
            }
        }
    }
    out.flush().unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => gen(&args[2], args[3].parse().unwrap(), args[4].parse().unwrap()),
        Some(mode @ ("decode" | "serde" | "convert")) => {
            let file = std::fs::File::open(&args[2]).unwrap();
            let reader = std::io::BufReader::with_capacity(1 << 20, file);
            let mut conv = Converter::new(ConverterOptions::default());
            let mut sink = Count {
                updates: 0,
                names: Vec::new(),
            };
            let started = Instant::now();
            let mut flows = 0u64;
            for line in reader.split(b'\n') {
                let line = line.unwrap();
                if mode == "serde" {
                    flows += serde_flows(&line) as u64;
                    continue;
                }
                let payload = parse_json(&line).unwrap();
                if let Payload::Flows { flows: f, .. } = &payload {
                    flows += f.len() as u64;
                }
                if mode == "convert" {
                    conv.payload(&payload, &mut sink);
                }
            }
            conv.finish(&mut sink);
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{mode}: {flows} flow updates in {secs:.2} s = {:.0} flow updates/s; {} directional updates; {} UUIDs tracked; peak RSS {:.0} MB",
                flows as f64 / secs,
                sink.updates,
                conv.tracked_flows(),
                peak_rss_mb()
            );
        }
        _ => {
            eprintln!("usage: skydive_bench gen FILE FLOWS TICKS | decode FILE | serde FILE | convert FILE");
            std::process::exit(2);
        }
    }
}
