//! Unit tests of the Skydive converter, one file per topic; the flows and
//! helpers they share are here.

mod counters;
mod deltas;
mod fast_json;
mod fields;
mod history;
mod interfaces;
mod message;
mod restart;
mod state_file;
mod tunnels;
mod two_point;

use std::net::IpAddr;

use vpcflow_testkit::RecordingConsumer;

use super::message::{Layer, TransportLayer};
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn metric(ab_p: i64, ab_b: i64, ba_p: i64, ba_b: i64, start: i64, last: i64) -> FlowMetric {
    FlowMetric {
        ab_packets: ab_p,
        ab_bytes: ab_b,
        ba_packets: ba_p,
        ba_bytes: ba_b,
        start,
        last,
        rtt: 0,
    }
}

/// A TCP flow 10.0.0.1:40000 -> 10.0.0.2:80 captured without a link layer.
fn tcp_flow(uuid: &str) -> Flow<'static> {
    Flow {
        uuid: uuid.to_string().into(),
        layers_path: "IPv4/TCP".into(),
        node_tid: "node-1".into(),
        capture_id: "cap-1".into(),
        network: Some(Layer {
            protocol: "IPV4".into(),
            a: "10.0.0.1".into(),
            b: "10.0.0.2".into(),
            id: 0,
        }),
        transport: Some(TransportLayer {
            protocol: "TCP".into(),
            a: 40000,
            b: 80,
            id: 0,
        }),
        ..Flow::default()
    }
}

/// A network layer between `a` and `b` (IPv6 when `a` has a colon).
fn network(a: &str, b: &str) -> Option<Layer<'static>> {
    Some(Layer {
        protocol: if a.contains(':') { "IPV6" } else { "IPV4" }.into(),
        a: a.to_string().into(),
        b: b.to_string().into(),
        id: 0,
    })
}

fn with_delta(mut f: Flow, cumulative: FlowMetric, delta: FlowMetric) -> Flow {
    f.start = cumulative.start;
    f.last = cumulative.last;
    f.metric = Some(cumulative);
    f.last_update_metric = Some(delta);
    f
}

fn run(messages: &[Vec<Flow>]) -> (RecordingConsumer, Converter) {
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = RecordingConsumer::default();
    for m in messages {
        c.flows(m, &mut sink);
    }
    c.finish(&mut sink);
    (sink, c)
}

const MS: u64 = 1_000_000;
