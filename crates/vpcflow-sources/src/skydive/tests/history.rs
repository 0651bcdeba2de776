//! A scripted traffic history, sent as Skydive would send it, gives the same
//! records as the packets themselves.

use std::collections::BTreeMap;

use vpcflow_core::aggregate::{Aggregator, AggregatorConfig};
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::window::Interval;
use vpcflow_core::{
    Action, FlowConsumer, FlowKey, FlowRecord, FlowUpdate, InterfaceIndex, LogStatus, LossEvent,
};

use super::*;

/// One packet of the history.
#[derive(Clone, Copy)]
struct Pkt {
    flow: usize,
    /// Unix ms.
    at: i64,
    /// A→B (false) or B→A (true).
    reverse: bool,
    ip_bytes: i64,
    /// TCP flags byte (raw header bits).
    flags: u8,
}

struct ScriptFlow {
    uuid: String,
    node: &'static str,
    layers: &'static str,
    link: i64,
    a: &'static str,
    b: &'static str,
    ports: (u16, u16),
    proto: &'static str,
}

/// A model of a Skydive agent's flow table: it updates every `tick` ms (at
/// multiples of it) and sends each changed flow with its cumulative metric and
/// the delta since the previous update; flows idle for `expire` ms get a final
/// update; `repeat` says which (tick, flow) updates are sent twice.
fn skydive_messages(
    flows: &[ScriptFlow],
    packets: &[Pkt],
    tick: i64,
    expire: i64,
    repeat: impl Fn(i64, usize) -> bool,
) -> Vec<Vec<Flow<'static>>> {
    #[derive(Clone, Default)]
    struct Table {
        metric: FlowMetric,
        sent: [i64; 4],
        last_update: i64,
        tcp: TcpMetric,
        alive: bool,
        expired: bool,
        generation: u32,
    }
    let mut state = vec![Table::default(); flows.len()];
    let end = packets.iter().map(|p| p.at).max().unwrap() + expire + 2 * tick;
    let mut messages = Vec::new();
    let mut i = 0;
    let mut now = 0;
    while now <= end {
        now += tick;
        while i < packets.len() && packets[i].at < now {
            let p = packets[i];
            let t = &mut state[p.flow];
            if t.expired {
                // An expired flow is gone: new packets make a new flow (UUID).
                *t = Table {
                    generation: t.generation + 1,
                    ..Table::default()
                };
            }
            if !t.alive {
                t.alive = true;
                t.metric.start = p.at;
            }
            t.metric.last = p.at;
            let bytes = p.ip_bytes + flows[p.flow].link;
            if p.reverse {
                t.metric.ba_packets += 1;
                t.metric.ba_bytes += bytes;
            } else {
                t.metric.ab_packets += 1;
                t.metric.ab_bytes += bytes;
            }
            let side = |ab: &mut i64, ba: &mut i64| {
                let slot = if p.reverse { ba } else { ab };
                if *slot == 0 {
                    *slot = p.at;
                }
            };
            if p.flags & 0x02 != 0 {
                side(&mut t.tcp.ab_syn_start, &mut t.tcp.ba_syn_start);
            }
            if p.flags & 0x01 != 0 {
                side(&mut t.tcp.ab_fin_start, &mut t.tcp.ba_fin_start);
            }
            if p.flags & 0x04 != 0 {
                side(&mut t.tcp.ab_rst_start, &mut t.tcp.ba_rst_start);
            }
            i += 1;
        }
        let mut message = Vec::new();
        for (n, t) in state.iter_mut().enumerate() {
            if !t.alive || t.expired {
                continue;
            }
            let changed = t.metric.last >= now - tick;
            let expiring = now - t.metric.last >= expire;
            if !changed && !expiring {
                continue;
            }
            let m = t.metric;
            let sent = t.sent;
            let delta = FlowMetric {
                ab_packets: m.ab_packets - sent[0],
                ab_bytes: m.ab_bytes - sent[1],
                ba_packets: m.ba_packets - sent[2],
                ba_bytes: m.ba_bytes - sent[3],
                // Skydive: the table's previous update for a flow already
                // sent, the flow's start for a new one.
                start: if t.last_update == 0 {
                    m.start
                } else {
                    now - tick
                },
                last: now,
                rtt: 0,
            };
            t.sent = [m.ab_packets, m.ab_bytes, m.ba_packets, m.ba_bytes];
            t.last_update = now;
            t.expired = expiring;
            let s = &flows[n];
            let f = Flow {
                uuid: format!("{}#{}", s.uuid, t.generation).into(),
                layers_path: s.layers.into(),
                node_tid: s.node.into(),
                capture_id: "cap".into(),
                network: network(s.a, s.b),
                transport: Some(TransportLayer {
                    protocol: s.proto.into(),
                    a: s.ports.0,
                    b: s.ports.1,
                    id: 0,
                }),
                metric: Some(m),
                last_update_metric: Some(delta),
                tcp_metric: (s.proto == "TCP").then_some(t.tcp),
                start: m.start,
                last: m.last,
                ..Flow::default()
            };
            if repeat(now, n) {
                message.push(f.clone());
            }
            message.push(f);
        }
        if !message.is_empty() {
            messages.push(message);
        }
    }
    messages
}

/// (interface name, window start, key) → (packets, bytes, start, end, tcp-flags).
type Records = BTreeMap<(String, u64, FlowKey), (u64, u64, u64, u64, u8)>;

/// Aggregates into records; interfaces are registered by the consumer.
struct Agg {
    names: Vec<String>,
    aggregator: Aggregator,
    records: Vec<FlowRecord>,
}

impl Agg {
    fn new(interval: Interval) -> Agg {
        Agg {
            names: Vec::new(),
            aggregator: Aggregator::new(AggregatorConfig {
                interval,
                ..AggregatorConfig::default()
            }),
            records: Vec::new(),
        }
    }
    fn finish(mut self) -> Records {
        let closed = self.aggregator.finish();
        self.records.extend(closed.into_sorted_records());
        let mut out = BTreeMap::new();
        for r in self.records {
            if r.status != LogStatus::Ok {
                continue;
            }
            let t = r.traffic.unwrap();
            let prev = out.insert(
                (
                    self.names[r.interface.0 as usize].clone(),
                    r.window_start,
                    t.key,
                ),
                (t.packets, t.bytes, r.start, r.end, t.tcp_flags.value()),
            );
            assert!(prev.is_none(), "one record per flow and window");
        }
        out
    }
}

impl FlowConsumer for Agg {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return InterfaceIndex(i as u32);
        }
        self.names.push(name.to_string());
        let i = InterfaceIndex(self.names.len() as u32 - 1);
        self.aggregator.add_interface(i);
        i
    }
    fn update(&mut self, update: &FlowUpdate) {
        self.aggregator.observe(update);
        if let Some(c) = self.aggregator.take_released() {
            self.records.extend(c.into_sorted_records());
        }
    }
    fn loss(&mut self, loss: &LossEvent) {
        self.aggregator.lose(loss);
    }
}

/// The history: a long TCP connection with bursts every few seconds across
/// several windows, short UDP exchanges, a one-way flow, a flow on a second
/// interface, IPv6 without a link layer, a VLAN-tagged flow. Each burst is a
/// request and its answer in the same second; a flow that continues into a new
/// update interval has a burst in its first second (Skydive's delta starts at
/// the update, so the record's start is then exact).
fn history() -> (Vec<ScriptFlow>, Vec<Pkt>) {
    let sf = |uuid: &str, node, layers, link, a, b, ports, proto| ScriptFlow {
        uuid: uuid.into(),
        node,
        layers,
        link,
        a,
        b,
        ports,
        proto,
    };
    let flows = vec![
        sf(
            "tcp-long",
            "n1",
            "Ethernet/IPv4/TCP",
            14,
            "10.0.0.1",
            "10.0.0.2",
            (40000, 443),
            "TCP",
        ),
        sf(
            "udp-dns",
            "n1",
            "Ethernet/IPv4/UDP/DNS",
            14,
            "10.0.0.1",
            "10.0.0.53",
            (5353, 53),
            "UDP",
        ),
        sf(
            "udp-oneway",
            "n1",
            "Ethernet/IPv4/UDP",
            14,
            "10.0.0.9",
            "10.0.0.1",
            (514, 514),
            "UDP",
        ),
        sf(
            "tcp-n2",
            "n2",
            "Ethernet/Dot1Q/IPv4/TCP",
            18,
            "10.0.1.1",
            "10.0.1.2",
            (50000, 80),
            "TCP",
        ),
        sf(
            "tcp-v6",
            "n2",
            "IPv6/TCP",
            -40,
            "2001:db8::1",
            "2001:db8::2",
            (50001, 22),
            "TCP",
        ),
    ];
    let base = 1_800_000_000_000i64; // a multiple of 600 s
    let mut p = Vec::new();
    let mut burst =
        |flow: usize, sec: i64, ms: i64, req: i64, resp: Option<i64>, flags: (u8, u8)| {
            let at = base + sec * 1000 + ms;
            p.push(Pkt {
                flow,
                at,
                reverse: false,
                ip_bytes: req,
                flags: flags.0,
            });
            if let Some(r) = resp {
                p.push(Pkt {
                    flow,
                    at: at + 1,
                    reverse: true,
                    ip_bytes: r,
                    flags: flags.1,
                });
            }
        };
    // The long connection: SYN/SYN-ACK, data every 7 s and at the first second
    // of every minute, FIN at the end.
    burst(0, 5, 100, 60, Some(60), (0x02, 0x12));
    for s in 6..300 {
        if s % 7 == 0 || s % 60 == 0 {
            burst(0, s, 200, 40 + s, Some(1400), (0x10, 0x10));
        }
    }
    burst(0, 300, 500, 40, Some(40), (0x11, 0x11));
    // DNS: one exchange each, new flows.
    burst(1, 30, 10, 70, Some(130), (0, 0));
    burst(1, 31, 10, 70, Some(200), (0, 0));
    // One-way syslog in two minutes.
    for s in [62, 70, 119, 120, 150] {
        burst(2, s, 500, 300, None, (0, 0));
    }
    // Second interface, VLAN-tagged, with a RST.
    burst(3, 200, 0, 60, Some(60), (0x02, 0x12));
    burst(3, 240, 0, 500, Some(40), (0x10, 0x10));
    burst(3, 240, 500, 40, None, (0x04, 0));
    // IPv6 without a link layer.
    burst(4, 10, 0, 80, Some(80), (0x02, 0x12));
    burst(4, 11, 0, 1000, Some(40), (0x10, 0x10));
    p.sort_by_key(|p| p.at);
    (flows, p)
}

fn direct_records(flows: &[ScriptFlow], packets: &[Pkt], interval: Interval) -> Records {
    let mut agg = Agg::new(interval);
    for p in packets {
        let s = &flows[p.flow];
        let interface = agg.interface(s.node);
        let (src, dst, sp, dp) = if p.reverse {
            (s.b, s.a, s.ports.1, s.ports.0)
        } else {
            (s.a, s.b, s.ports.0, s.ports.1)
        };
        let proto = if s.proto == "TCP" { 6 } else { 17 };
        agg.update(&FlowUpdate {
            interface,
            key: FlowKey {
                src: ip(src),
                dst: ip(dst),
                src_port: sp,
                dst_port: dp,
                protocol: proto,
            },
            packet_addrs: None,
            packets: 1,
            bytes: p.ip_bytes as u64,
            first: p.at as u64 * MS,
            last: p.at as u64 * MS,
            tcp_flags: if proto == 6 {
                TcpFlags::from_tcp_header_byte(p.flags)
            } else {
                TcpFlags::NONE
            },
            action: Action::Accept,
            direction: None,
        });
    }
    agg.finish()
}

#[test]
fn scripted_history_gives_the_records_of_its_packets() {
    let (flows, packets) = history();
    for interval in [Interval::OneMinute, Interval::TenMinutes] {
        let expected = direct_records(&flows, &packets, interval);
        // Updates every 60 s, expiry after 30 s idle; some updates sent twice
        // (as Skydive does at application timeouts and agent stops).
        let messages = skydive_messages(&flows, &packets, 60_000, 30_000, |now, n| {
            (now / 60_000 + n as i64) % 3 == 0
        });
        assert!(messages.iter().flatten().count() > 10);
        let mut agg = Agg::new(interval);
        let mut c = Converter::new(ConverterOptions::default());
        for m in &messages {
            c.flows(m, &mut agg);
        }
        c.finish(&mut agg);
        assert!(c.stats().duplicate_deltas > 0);
        let got = agg.finish();
        assert_eq!(got, expected, "{interval:?}");
        // Summing every delta would have counted more.
        let naive: i64 = messages
            .iter()
            .flatten()
            .map(|f| {
                let d = f.last_update_metric.unwrap();
                d.ab_packets + d.ba_packets
            })
            .sum();
        assert!(naive > packets.len() as i64);
    }
}

#[test]
fn scripted_history_from_metrics_only() {
    // Without LastUpdateMetric: differences of Metric, same packets and bytes.
    let (flows, packets) = history();
    let expected = direct_records(&flows, &packets, Interval::TenMinutes);
    let mut messages = skydive_messages(&flows, &packets, 60_000, 30_000, |now, _| {
        now % 120_000 == 0
    });
    for f in messages.iter_mut().flatten() {
        f.last_update_metric = None;
    }
    let mut agg = Agg::new(Interval::TenMinutes);
    let mut c = Converter::new(ConverterOptions::default());
    for m in &messages {
        c.flows(m, &mut agg);
    }
    let got = agg.finish();
    let counts = |m: &Records| {
        m.iter()
            .map(|(k, v)| (k.clone(), (v.0, v.1, v.4)))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(counts(&got), counts(&expected));
}

#[test]
fn replay_counts_malformed_lines_and_continues() {
    let text = concat!(
        r#"{"Namespace":"flow","Type":"store","Obj":[{"UUID":"r1","LayersPath":"IPv4/UDP","NodeTID":"n","Network":{"Protocol":"IPV4","A":"10.0.0.1","B":"10.0.0.2"},"Transport":{"Protocol":"UDP","A":1,"B":2},"LastUpdateMetric":{"ABPackets":1,"ABBytes":50,"Start":1000,"Last":1000},"Start":1000,"Last":1000}]}"#,
        "\n\n",
        "{not json\n",
        r#"[{"UUID":"r2","LayersPath":"IPv4/UDP","NodeTID":"n","Network":{"Protocol":"IPV4","A":"10.0.0.1","B":"10.0.0.3"},"Transport":{"Protocol":"UDP","A":"1","B":"2"},"LastUpdateMetric":{"ABPackets":2,"ABBytes":80,"Start":2000,"Last":2000},"Start":2000,"Last":2000}]"#,
        "\n",
        r#"{"Namespace":"stats","Type":"stats","Obj":{"CaptureID":"c"}}"#,
    );
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = RecordingConsumer::default();
    let stats = replay::read(
        std::path::Path::new("rec.jsonl"),
        text.as_bytes(),
        &mut c,
        &mut sink,
    )
    .unwrap();
    assert_eq!(stats.messages, 3);
    assert_eq!(stats.bad_lines, 1);
    assert_eq!(stats.bad[0].line, 3);
    let shown = stats.bad[0].to_string();
    assert!(shown.starts_with("rec.jsonl:3:"), "{shown}");
    assert!(shown.contains(": not a Skydive message"), "{shown}");
    assert!(!shown.contains(" at line "), "{shown}");
    assert_eq!(sink.updates.len(), 2);
    assert_eq!(sink.updates[1].packets, 2);
}
