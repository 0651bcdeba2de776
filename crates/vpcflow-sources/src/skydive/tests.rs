use std::collections::BTreeMap;
use std::net::IpAddr;

use vpcflow_core::aggregate::{Aggregator, AggregatorConfig};
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::window::Interval;
use vpcflow_core::{
    Action, FlowConsumer, FlowKey, FlowRecord, FlowUpdate, InterfaceIndex, LogStatus, LossEvent,
    PacketAddrs,
};

use super::message::{IcmpLayer, Layer, MessageError, TransportLayer};
use super::*;

/// Collects what the converter emits.
#[derive(Default)]
struct Sink {
    names: Vec<String>,
    updates: Vec<FlowUpdate>,
    losses: Vec<LossEvent>,
}

impl FlowConsumer for Sink {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return InterfaceIndex(i as u32);
        }
        self.names.push(name.to_string());
        InterfaceIndex(self.names.len() as u32 - 1)
    }
    fn update(&mut self, update: &FlowUpdate) {
        self.updates.push(*update);
    }
    fn loss(&mut self, loss: &LossEvent) {
        self.losses.push(*loss);
    }
}

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
fn tcp_flow(uuid: &str) -> Flow {
    Flow {
        uuid: uuid.into(),
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

fn with_delta(mut f: Flow, cumulative: FlowMetric, delta: FlowMetric) -> Flow {
    f.start = cumulative.start;
    f.last = cumulative.last;
    f.metric = Some(cumulative);
    f.last_update_metric = Some(delta);
    f
}

fn run(messages: &[Vec<Flow>]) -> (Sink, Converter) {
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = Sink::default();
    for m in messages {
        c.flows(m, &mut sink);
    }
    c.finish(&mut sink);
    (sink, c)
}

const MS: u64 = 1_000_000;

#[test]
fn json_struct_message_with_ports_as_numbers_or_strings() {
    let line = br#"{"Namespace":"flow","Type":"store","UUID":"m1","Status":200,"Obj":[
        {"UUID":"f1","LayersPath":"Ethernet/IPv4/TCP","NodeTID":"n1","CaptureID":"c1",
         "Link":{"Protocol":"ETHERNET","A":"02:00:00:00:00:01","B":"02:00:00:00:00:02"},
         "Network":{"Protocol":"IPV4","A":"10.0.0.1","B":"10.0.0.2"},
         "Transport":{"Protocol":"TCP","A":"40000","B":80,"ID":7},
         "Metric":{"ABPackets":2,"ABBytes":148,"Start":1000,"Last":2000,"RTT":5000},
         "Start":1000,"Last":2000,"FinishType":0,"L3TrackingID":"x","SomethingNew":[1,2]},
        {"UUID":"f2","Network":{"Protocol":"IPV6","A":"2001:db8::1","B":"2001:db8::2"},
         "ICMP":{"Type":"ECHO","Code":0,"ID":12}}]}"#;
    let Payload::Flows { namespace, flows } = parse_json(line).unwrap() else {
        panic!("flows expected")
    };
    assert_eq!(namespace.as_deref(), Some("flow"));
    assert_eq!(flows.len(), 2);
    let t = flows[0].transport.as_ref().unwrap();
    assert_eq!((t.protocol.as_str(), t.a, t.b), ("TCP", 40000, 80));
    assert_eq!(flows[0].metric.unwrap().ab_bytes, 148);
    assert_eq!(flows[0].metric.unwrap().rtt, 5000);
    assert_eq!(
        flows[1].icmp,
        Some(IcmpLayer {
            kind: "ECHO".into(),
            code: 0,
            id: 12
        })
    );
}

#[test]
fn bare_flow_array_stats_and_other_messages() {
    let flows = parse_json(br#"[{"UUID":"a"},{"UUID":"b"}]"#).unwrap();
    assert!(matches!(flows, Payload::Flows { namespace: None, ref flows } if flows.len() == 2));
    let stats = parse_json(
        br#"{"Namespace":"stats","Type":"stats","Obj":{"CaptureID":"c1","FlowCount":3,"FlowDropped":1,"KernelFlowDropped":2,"PacketsDropped":4,"PacketsReceived":100}}"#,
    )
    .unwrap();
    assert_eq!(
        stats,
        Payload::Stats(Stats {
            capture_id: "c1".into(),
            flow_count: 3,
            flow_dropped: 1,
            kernel_flow_dropped: 2,
            packets_dropped: 4,
            packets_received: 100,
        })
    );
    // Obj before Type: decoded after the envelope.
    let late =
        parse_json(br#"{"Obj":[{"UUID":"a"}],"Namespace":"flow/c","Type":"store"}"#).unwrap();
    assert!(
        matches!(late, Payload::Flows { ref flows, ref namespace } if flows.len() == 1 && namespace.as_deref() == Some("flow/c"))
    );
    let other = parse_json(br#"{"Namespace":"flow","Type":"hello","Obj":null}"#).unwrap();
    assert_eq!(other, Payload::Other("hello".into()));
    let empty = parse_json(br#"{"Namespace":"flow","Type":"store","Obj":null}"#).unwrap();
    assert!(matches!(empty, Payload::Flows { ref flows, .. } if flows.is_empty()));
}

#[test]
fn malformed_messages_are_errors() {
    for bad in [
        &b"not json"[..],
        b"42",
        b"{\"Type\":\"stats\"}",
        b"{\"Type\":\"store\",\"Obj\":{\"UUID\":1}}",
        b"[{\"Transport\":{\"A\":70000}}]",
        b"[{\"Transport\":{\"A\":\"http\"}}]",
        b"{\"Type\":\"store\",\"Obj\":[",
    ] {
        let e = parse_json(bad).unwrap_err();
        let text = e.to_string();
        assert!(!text.is_empty(), "{}", String::from_utf8_lossy(bad));
    }
    assert!(matches!(parse_json(b"42"), Err(MessageError::Shape)));
    assert!(matches!(
        parse_json(b"{\"Type\":\"stats\"}"),
        Err(MessageError::NoObj(_))
    ));
}

#[test]
fn deltas_are_counted_once_and_repeated_deltas_dropped() {
    let f = tcp_flow("u1");
    let m1 = with_delta(
        f.clone(),
        metric(3, 300, 2, 200, 1_000, 50_000),
        metric(3, 300, 2, 200, 1_000, 60_000),
    );
    // The same delta again (application timeout, agent stop, early expiry).
    let again = m1.clone();
    let m2 = with_delta(
        f,
        metric(5, 500, 2, 200, 1_000, 70_000),
        metric(2, 200, 0, 0, 60_000, 120_000),
    );
    let (sink, c) = run(&[vec![m1], vec![again], vec![m2]]);
    let ab: u64 = sink
        .updates
        .iter()
        .filter(|u| u.key.src == ip("10.0.0.1"))
        .map(|u| u.packets)
        .sum();
    let ba: u64 = sink
        .updates
        .iter()
        .filter(|u| u.key.src == ip("10.0.0.2"))
        .map(|u| u.packets)
        .sum();
    assert_eq!((ab, ba), (5, 2));
    assert_eq!(c.stats().duplicate_deltas, 1);
    assert_eq!(sink.updates.len(), 3);
    // Times: the first update spans the flow's start to its last packet; the
    // next one starts at the previous update.
    assert_eq!(sink.updates[0].first, 1_000 * MS);
    assert_eq!(sink.updates[0].last, 50_000 * MS);
    assert_eq!(sink.updates[2].first, 60_000 * MS);
    assert_eq!(sink.updates[2].last, 70_000 * MS);
}

#[test]
fn summing_every_delta_or_metric_would_overcount() {
    // A DNS flow sent at its application timeout and again at expiry with the
    // same delta: counted once.
    let mut f = tcp_flow("dns");
    f.transport = Some(TransportLayer {
        protocol: "UDP".into(),
        a: 5353,
        b: 53,
        id: 0,
    });
    f.layers_path = "IPv4/UDP/DNS".into();
    let m = with_delta(
        f,
        metric(1, 60, 1, 120, 5_000, 5_010),
        metric(1, 60, 1, 120, 5_000, 15_000),
    );
    let (sink, _) = run(&[vec![m.clone()], vec![m]]);
    let bytes: u64 = sink.updates.iter().map(|u| u.bytes).sum();
    assert_eq!(bytes, 180);
    assert_eq!(sink.updates[0].key.protocol, 17);
    assert_eq!(
        (sink.updates[0].key.src_port, sink.updates[0].key.dst_port),
        (5353, 53)
    );
    assert_eq!(
        (sink.updates[1].key.src_port, sink.updates[1].key.dst_port),
        (53, 5353)
    );
}

#[test]
fn metric_differences_when_the_delta_is_missing() {
    let mut f = tcp_flow("u2");
    let mk = |f: &mut Flow, m: FlowMetric| {
        f.metric = Some(m);
        f.start = m.start;
        f.last = m.last;
        f.clone()
    };
    let a = mk(&mut f, metric(2, 200, 1, 100, 1_000, 5_000));
    let same = a.clone();
    let b = mk(&mut f, metric(5, 500, 1, 100, 1_000, 65_000));
    // A restarted counter is taken as new.
    let c = mk(&mut f, metric(1, 100, 0, 0, 70_000, 70_500));
    let (sink, conv) = run(&[vec![a], vec![same], vec![b], vec![c]]);
    let got: Vec<(IpAddr, u64, u64, u64, u64)> = sink
        .updates
        .iter()
        .map(|u| (u.key.src, u.packets, u.bytes, u.first / MS, u.last / MS))
        .collect();
    assert_eq!(
        got,
        vec![
            (ip("10.0.0.1"), 2, 200, 1_000, 5_000),
            (ip("10.0.0.2"), 1, 100, 1_000, 5_000),
            (ip("10.0.0.1"), 3, 300, 5_000, 65_000),
            (ip("10.0.0.1"), 1, 100, 70_000, 70_500),
        ]
    );
    assert_eq!(conv.stats().counter_resets, 1);
}

#[test]
fn state_survives_analyzers_but_expires() {
    // The same converter serves every analyzer: a delta seen through one is
    // not counted again through another.
    let f = with_delta(
        tcp_flow("u3"),
        metric(1, 100, 0, 0, 1_000, 1_000),
        metric(1, 100, 0, 0, 1_000, 60_000),
    );
    let mut c = Converter::new(ConverterOptions {
        state_ttl_secs: 600,
        ..ConverterOptions::default()
    });
    let mut sink = Sink::default();
    c.flows(std::slice::from_ref(&f), &mut sink);
    c.flows(std::slice::from_ref(&f), &mut sink);
    assert_eq!(sink.updates.len(), 1);
    assert_eq!(c.tracked_flows(), 1);
    // Much later, other traffic: the old state is forgotten.
    let later = with_delta(
        tcp_flow("u4"),
        metric(1, 100, 0, 0, 2_000_000, 2_000_000),
        metric(1, 100, 0, 0, 2_000_000, 2_000_000),
    );
    c.flows(&[later], &mut sink);
    assert_eq!(c.tracked_flows(), 1);
    assert_eq!(c.stats().expired_states, 1);
}

#[test]
fn tracked_flows_are_capped() {
    let mut c = Converter::new(ConverterOptions {
        max_tracked_flows: 100,
        ..ConverterOptions::default()
    });
    let mut sink = Sink::default();
    for i in 0..1000i64 {
        let f = with_delta(
            tcp_flow(&format!("cap-{i}")),
            metric(1, 100, 0, 0, 1_000 + i, 1_000 + i),
            metric(1, 100, 0, 0, 1_000 + i, 1_000 + i),
        );
        c.flows(&[f], &mut sink);
        assert!(c.tracked_flows() <= 100);
    }
    assert_eq!(sink.updates.len(), 1000);
    assert!(c.stats().evicted_states >= 900);
}

#[test]
fn ip_layer_bytes_from_link_layers() {
    assert_eq!(link_overhead("Ethernet/IPv4/TCP", false), (14, 0));
    assert_eq!(
        link_overhead("Ethernet/Dot1Q/Dot1Q/IPv4/ICMPv4", false),
        (22, 0)
    );
    assert_eq!(link_overhead("IPv4/UDP", false), (0, 0));
    assert_eq!(link_overhead("/IPv4/UDP", false), (0, 0));
    assert_eq!(link_overhead("IPv6/TCP", true), (0, 40));
    assert_eq!(link_overhead("/IPv6/TCP", true), (0, 40));
    assert_eq!(link_overhead("Ethernet/IPv6/TCP", true), (14, 0));
    assert_eq!(link_overhead("Ethernet/MPLS/IPv4/ICMPv4", false), (18, 0));

    let mut f = tcp_flow("eth");
    f.layers_path = "Ethernet/Dot1Q/IPv4/TCP".into();
    let f = with_delta(
        f,
        metric(2, 2 * (18 + 60), 1, 18 + 40, 1_000, 1_000),
        metric(2, 2 * (18 + 60), 1, 18 + 40, 1_000, 1_000),
    );
    let mut v6 = tcp_flow("v6");
    v6.layers_path = "/IPv6/TCP".into();
    v6.network = Some(Layer {
        protocol: "IPV6".into(),
        a: "2001:db8::1".into(),
        b: "2001:db8::2".into(),
        id: 0,
    });
    let v6 = with_delta(
        v6,
        metric(3, 3 * 20, 0, 0, 1_000, 1_000),
        metric(3, 3 * 20, 0, 0, 1_000, 1_000),
    );
    let (sink, _) = run(&[vec![f, v6]]);
    let bytes: Vec<u64> = sink.updates.iter().map(|u| u.bytes).collect();
    assert_eq!(bytes, vec![120, 40, 180]);
}

#[test]
fn protocol_numbers() {
    let v4 = ip("10.0.0.1");
    let v6 = ip("2001:db8::1");
    let mut f = Flow {
        layers_path: "Ethernet/IPv4/GRE/IPv4/ICMPv4".into(),
        ..Flow::default()
    };
    assert_eq!(protocol_number(&f, v4), Some(47));
    f.layers_path = "/IPv4/ICMPv4".into();
    assert_eq!(protocol_number(&f, v4), Some(1));
    f.layers_path = "IPv6/IPv6HopByHop/ICMPv6".into();
    assert_eq!(protocol_number(&f, v6), Some(58));
    f.layers_path = "Ethernet/IPv4/IPv6/TCP".into();
    assert_eq!(protocol_number(&f, v4), Some(41));
    f.layers_path = "Ethernet/IPv4/Fragment".into();
    assert_eq!(protocol_number(&f, v4), None);
    f.layers_path = "Ethernet/ARP".into();
    assert_eq!(protocol_number(&f, v4), None);
    f.icmp = Some(IcmpLayer::default());
    assert_eq!(protocol_number(&f, v4), Some(1));
    assert_eq!(protocol_number(&f, v6), Some(58));
    f.transport = Some(TransportLayer {
        protocol: "SCTP".into(),
        ..TransportLayer::default()
    });
    assert_eq!(protocol_number(&f, v4), Some(132));
}

#[test]
fn icmp_flows_have_no_ports() {
    let mut f = tcp_flow("icmp");
    f.transport = None;
    f.layers_path = "Ethernet/IPv4/ICMPv4".into();
    f.icmp = Some(IcmpLayer {
        kind: "ECHO".into(),
        code: 0,
        id: 77,
    });
    let f = with_delta(
        f,
        metric(4, 4 * 98, 4, 4 * 98, 1_000, 4_000),
        metric(4, 4 * 98, 4, 4 * 98, 1_000, 4_000),
    );
    let (sink, _) = run(&[vec![f]]);
    assert_eq!(sink.updates.len(), 2);
    for u in &sink.updates {
        assert_eq!((u.key.protocol, u.key.src_port, u.key.dst_port), (1, 0, 0));
        assert_eq!((u.packets, u.bytes), (4, 4 * 84));
    }
}

#[test]
fn tcp_flags_from_tcp_metrics_reported_once() {
    let t = TcpMetric {
        ab_syn_start: 1_000,
        ba_syn_start: 1_001,
        ab_fin_start: 9_000,
        ..TcpMetric::default()
    };
    assert_eq!(tcp_flags(&t), [3, 18]);
    let rst = TcpMetric {
        ba_syn_start: 5,
        ab_rst_start: 6,
        ..TcpMetric::default()
    };
    assert_eq!(tcp_flags(&rst), [4, 2]);

    let mut f = tcp_flow("flags");
    f.tcp_metric = Some(TcpMetric {
        ab_syn_start: 1_000,
        ba_syn_start: 1_001,
        ..TcpMetric::default()
    });
    let first = with_delta(
        f.clone(),
        metric(2, 100, 1, 60, 1_000, 2_000),
        metric(2, 100, 1, 60, 1_000, 60_000),
    );
    f.tcp_metric.as_mut().unwrap().ab_fin_start = 70_000;
    let second = with_delta(
        f,
        metric(3, 140, 2, 100, 1_000, 70_000),
        metric(1, 40, 1, 40, 60_000, 120_000),
    );
    let (sink, _) = run(&[vec![first], vec![second]]);
    let flags: Vec<u8> = sink.updates.iter().map(|u| u.tcp_flags.value()).collect();
    assert_eq!(flags, vec![2, 18, 1, 0]);
}

#[test]
fn flags_wait_for_a_direction_with_packets() {
    let mut f = tcp_flow("late-flags");
    f.tcp_metric = Some(TcpMetric {
        ab_syn_start: 1_000,
        ba_syn_start: 1_001,
        ..TcpMetric::default()
    });
    // BA had no packets in the first delta (its SYN-ACK is reported later).
    let first = with_delta(
        f.clone(),
        metric(1, 40, 0, 0, 1_000, 1_000),
        metric(1, 40, 0, 0, 1_000, 60_000),
    );
    let second = with_delta(
        f,
        metric(1, 40, 1, 40, 1_000, 61_000),
        metric(0, 0, 1, 40, 60_000, 120_000),
    );
    let (sink, _) = run(&[vec![first], vec![second]]);
    let flags: Vec<u8> = sink.updates.iter().map(|u| u.tcp_flags.value()).collect();
    assert_eq!(flags, vec![2, 18]);
}

#[test]
fn udp_flows_carry_no_tcp_flags() {
    let mut f = tcp_flow("udp-flags");
    f.transport.as_mut().unwrap().protocol = "UDP".into();
    f.tcp_metric = Some(TcpMetric {
        ab_syn_start: 1,
        ..TcpMetric::default()
    });
    let f = with_delta(
        f,
        metric(1, 40, 0, 0, 1_000, 1_000),
        metric(1, 40, 0, 0, 1_000, 1_000),
    );
    let (sink, _) = run(&[vec![f]]);
    assert_eq!(sink.updates[0].tcp_flags, TcpFlags::NONE);
}

fn network(a: &str, b: &str) -> Option<Layer> {
    Some(Layer {
        protocol: if a.contains(':') { "IPV6" } else { "IPV4" }.into(),
        a: a.into(),
        b: b.into(),
        id: 0,
    })
}

fn gre_pair() -> (Flow, Flow) {
    let parent = with_delta(
        Flow {
            uuid: "gre-outer".into(),
            layers_path: "Ethernet/IPv4/GRE".into(),
            node_tid: "node-1".into(),
            network: network("192.0.2.1", "192.0.2.2"),
            ..Flow::default()
        },
        metric(2, 2 * (14 + 108), 2, 2 * (14 + 108), 1_000, 2_000),
        metric(2, 2 * (14 + 108), 2, 2 * (14 + 108), 1_000, 2_000),
    );
    let child = with_delta(
        Flow {
            uuid: "gre-inner".into(),
            parent_uuid: "gre-outer".into(),
            layers_path: "IPv4/ICMPv4".into(),
            node_tid: "node-1".into(),
            network: network("10.1.0.1", "10.1.0.2"),
            icmp: Some(IcmpLayer::default()),
            ..Flow::default()
        },
        metric(2, 2 * 84, 2, 2 * 84, 1_000, 2_000),
        metric(2, 2 * 84, 2, 2 * 84, 1_000, 2_000),
    );
    (parent, child)
}

#[test]
fn tunnel_inner_flows_give_packet_addresses_in_any_order() {
    let (parent, child) = gre_pair();
    for message in [
        vec![parent.clone(), child.clone()],
        vec![child.clone(), parent.clone()],
    ] {
        let (sink, c) = run(&[message]);
        assert_eq!(sink.updates.len(), 2, "only the outer flow counts");
        let u = &sink.updates[0];
        assert_eq!((u.key.src, u.key.protocol), (ip("192.0.2.1"), 47));
        assert_eq!((u.packets, u.bytes), (2, 216));
        assert_eq!(
            u.packet_addrs,
            Some(PacketAddrs {
                src: ip("10.1.0.1"),
                dst: ip("10.1.0.2")
            })
        );
        assert_eq!(
            sink.updates[1].packet_addrs,
            Some(PacketAddrs {
                src: ip("10.1.0.2"),
                dst: ip("10.1.0.1")
            })
        );
        assert_eq!(c.stats().tunnel_inner_flows, 1);
    }
    // The child in an earlier message than its parent: it waits, then is
    // recognised as an inner flow.
    let (sink, c) = run(&[vec![child], vec![parent]]);
    assert_eq!(sink.updates.len(), 2);
    assert_eq!(c.stats().tunnel_inner_flows, 1);
    assert_eq!(c.stats().orphan_flows, 0);
}

#[test]
fn ip_over_mpls_inner_flows_count_even_before_their_parent() {
    let parent = with_delta(
        Flow {
            uuid: "mpls-outer".into(),
            layers_path: "Ethernet/MPLS".into(),
            node_tid: "node-1".into(),
            ..Flow::default()
        },
        metric(1, 102, 0, 0, 1_000, 1_000),
        metric(1, 102, 0, 0, 1_000, 1_000),
    );
    let child = with_delta(
        Flow {
            uuid: "mpls-inner".into(),
            parent_uuid: "mpls-outer".into(),
            layers_path: "IPv4/ICMPv4".into(),
            node_tid: "node-1".into(),
            network: network("10.2.0.1", "10.2.0.2"),
            icmp: Some(IcmpLayer::default()),
            ..Flow::default()
        },
        metric(1, 84, 0, 0, 1_000, 1_000),
        metric(1, 84, 0, 0, 1_000, 1_000),
    );
    let (sink, c) = run(&[vec![child.clone()], vec![parent.clone()]]);
    assert_eq!(sink.updates.len(), 1);
    assert_eq!(sink.updates[0].key.src, ip("10.2.0.1"));
    assert_eq!(sink.updates[0].bytes, 84);
    assert_eq!(c.stats().non_ip_flows, 1);
    let (sink, _) = run(&[vec![parent, child.clone()]]);
    assert_eq!(sink.updates.len(), 1);
    // A child whose parent never comes is dropped at the end, and counted.
    let (sink, c) = run(&[vec![child]]);
    assert!(sink.updates.is_empty());
    assert_eq!(c.stats().orphan_flows, 1);
}

#[test]
fn non_ip_flows_and_other_captures_are_skipped() {
    let arp = with_delta(
        Flow {
            uuid: "arp".into(),
            layers_path: "Ethernet/ARP".into(),
            capture_id: "cap-1".into(),
            ..Flow::default()
        },
        metric(1, 60, 1, 60, 1_000, 1_000),
        metric(1, 60, 1, 60, 1_000, 1_000),
    );
    let mut other = with_delta(
        tcp_flow("other"),
        metric(1, 60, 0, 0, 1_000, 1_000),
        metric(1, 60, 0, 0, 1_000, 1_000),
    );
    other.capture_id = "cap-2".into();
    let mine = with_delta(
        tcp_flow("mine"),
        metric(1, 60, 0, 0, 1_000, 1_000),
        metric(1, 60, 0, 0, 1_000, 1_000),
    );
    let mut bad = mine.clone();
    bad.uuid = "bad".into();
    bad.network.as_mut().unwrap().b = "not-an-address".into();
    let mut c = Converter::new(ConverterOptions {
        capture_ids: vec!["cap-1".into()],
        ..ConverterOptions::default()
    });
    let mut sink = Sink::default();
    c.flows(&[arp, other, mine, bad], &mut sink);
    assert_eq!(sink.updates.len(), 1);
    assert_eq!(c.stats().bad_addresses, 1);
    assert_eq!(c.stats().non_ip_flows, 1);
    assert_eq!(c.stats().filtered_flows, 1);
}

#[test]
fn node_tids_are_interfaces() {
    let a = with_delta(
        tcp_flow("a"),
        metric(1, 60, 0, 0, 1_000, 1_000),
        metric(1, 60, 0, 0, 1_000, 1_000),
    );
    let mut b = a.clone();
    b.uuid = "b".into();
    b.node_tid = "node-2".into();
    let (sink, _) = run(&[vec![a, b]]);
    assert_eq!(sink.names, vec!["node-1", "node-2"]);
    assert_eq!(sink.updates[0].interface, InterfaceIndex(0));
    assert_eq!(sink.updates[1].interface, InterfaceIndex(1));
}

#[test]
fn drop_statistics_become_losses() {
    let f = with_delta(
        tcp_flow("s"),
        metric(1, 60, 0, 0, 1_000, 90_000),
        metric(1, 60, 0, 0, 1_000, 90_000),
    );
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = Sink::default();
    let stats = |dropped: i64| Stats {
        capture_id: "cap-1".into(),
        packets_dropped: dropped,
        packets_received: 1000,
        ..Stats::default()
    };
    c.flows(&[f], &mut sink);
    c.capture_stats(&stats(5), None, &mut sink); // baseline
    c.capture_stats(&stats(5), None, &mut sink); // nothing new
    assert!(sink.losses.is_empty());
    c.capture_stats(&stats(8), None, &mut sink);
    assert_eq!(
        sink.losses,
        vec![LossEvent {
            interface: InterfaceIndex(0),
            at: 90_000 * MS,
            count: 3
        }]
    );
    // The same interface seen under a second capture: that capture's drops
    // are attributed to it too.
    let mut g = tcp_flow("s2");
    g.capture_id = "cap-2".into();
    let g = with_delta(
        g,
        metric(1, 60, 0, 0, 1_000, 90_000),
        metric(1, 60, 0, 0, 1_000, 90_000),
    );
    c.flows(&[g], &mut sink);
    let cap2 = |dropped: i64| Stats {
        capture_id: "cap-2".into(),
        ..stats(dropped)
    };
    c.capture_stats(&cap2(0), None, &mut sink);
    c.capture_stats(&cap2(2), None, &mut sink);
    assert_eq!(sink.losses.len(), 2);
    assert_eq!(sink.losses[1].interface, InterfaceIndex(0));
    sink.losses.pop();
    // Unknown capture: counted, not attributed.
    c.capture_stats(
        &Stats {
            capture_id: "cap-9".into(),
            ..stats(1)
        },
        None,
        &mut sink,
    );
    c.capture_stats(
        &Stats {
            capture_id: "cap-9".into(),
            ..stats(4)
        },
        Some(95_000),
        &mut sink,
    );
    assert_eq!(sink.losses.len(), 1);
    assert_eq!(c.stats().unattributed_drops, 3);
}

// ---------------------------------------------------------------------------
// A scripted traffic history, sent as Skydive would send it, gives the same
// records as the packets themselves.

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
) -> Vec<Vec<Flow>> {
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
                uuid: format!("{}#{}", s.uuid, t.generation),
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
    let mut sink = Sink::default();
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
    assert!(stats.bad[0]
        .to_string()
        .starts_with("rec.jsonl:3: not a Skydive message"));
    assert_eq!(sink.updates.len(), 2);
    assert_eq!(sink.updates[1].packets, 2);
}

// ---------------------------------------------------------------------------
// REJECT from two capture points.

fn point_flow(uuid: &str, node: &str, tracking: &str, delta: (i64, i64), span: (i64, i64)) -> Flow {
    let mut f = tcp_flow(uuid);
    f.node_tid = node.into();
    f.l3_tracking_id = tracking.into();
    with_delta(
        f,
        metric(
            delta.0,
            delta.0 * 100,
            delta.1,
            delta.1 * 100,
            span.0,
            span.1,
        ),
        metric(
            delta.0,
            delta.0 * 100,
            delta.1,
            delta.1 * 100,
            span.0,
            span.1,
        ),
    )
}

fn two_point() -> Converter {
    Converter::new(ConverterOptions {
        two_point: Some(TwoPoint {
            outside: "fw-out".into(),
            inside: "fw-in".into(),
            timeout_secs: 120,
        }),
        ..ConverterOptions::default()
    })
}

/// (interface name, source, action) → packets.
fn by_action(sink: &Sink) -> BTreeMap<(String, IpAddr, Action), (u64, u64)> {
    let mut m = BTreeMap::new();
    for u in &sink.updates {
        let e = m
            .entry((
                sink.names[u.interface.0 as usize].clone(),
                u.key.src,
                u.action,
            ))
            .or_insert((0, 0));
        e.0 += u.packets;
        e.1 += u.bytes;
    }
    m
}

const T: i64 = 1_800_000_000_000;

#[test]
fn seen_on_both_sides_is_accept() {
    let mut c = two_point();
    let mut sink = Sink::default();
    // The inside report may come first, or in a later message.
    c.flows(
        &[point_flow("in", "fw-in", "t1", (3, 2), (T, T + 5_000))],
        &mut sink,
    );
    c.flows(
        &[point_flow("out", "fw-out", "t1", (3, 2), (T, T + 5_000))],
        &mut sink,
    );
    let m = by_action(&sink);
    let a = ip("10.0.0.1");
    let b = ip("10.0.0.2");
    assert_eq!(m[&("fw-out".into(), a, Action::Accept)], (3, 300));
    assert_eq!(m[&("fw-out".into(), b, Action::Accept)], (2, 200));
    assert_eq!(m[&("fw-in".into(), a, Action::Accept)], (3, 300));
    assert!(!m.keys().any(|k| k.2 == Action::Reject));
    let s = c.reject_stats().unwrap();
    assert_eq!((s.accepted_packets, s.rejected_packets), (5, 0));
}

#[test]
fn seen_only_outside_past_the_timeout_is_reject() {
    let mut c = two_point();
    let mut sink = Sink::default();
    c.flows(
        &[point_flow("out", "fw-out", "t2", (2, 0), (T, T + 1_000))],
        &mut sink,
    );
    // Within the timeout: undecided, nothing written yet.
    c.flows(
        &[point_flow(
            "x",
            "other",
            "",
            (1, 0),
            (T + 60_000, T + 60_000),
        )],
        &mut sink,
    );
    assert!(sink
        .updates
        .iter()
        .all(|u| sink.names[u.interface.0 as usize] == "other"));
    // Event time moves past the timeout (other traffic): REJECT.
    c.flows(
        &[point_flow(
            "y",
            "other",
            "",
            (1, 0),
            (T + 200_000, T + 200_000),
        )],
        &mut sink,
    );
    let m = by_action(&sink);
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Reject)],
        (2, 200)
    );
    let reject = sink
        .updates
        .iter()
        .find(|u| u.action == Action::Reject)
        .unwrap();
    assert_eq!(
        (reject.first, reject.last),
        (T as u64 * MS, (T as u64 + 1_000) * MS)
    );
}

#[test]
fn blocked_mid_stream_is_accept_then_reject() {
    let mut c = two_point();
    let mut sink = Sink::default();
    c.flows(
        &[
            point_flow("out", "fw-out", "t3", (5, 5), (T, T + 50_000)),
            point_flow("in", "fw-in", "t3", (5, 5), (T, T + 50_000)),
        ],
        &mut sink,
    );
    // The firewall starts dropping: only the outside point sees more.
    let mut more = point_flow("out", "fw-out", "t3", (3, 0), (T, T + 110_000));
    more.last_update_metric = Some(metric(3, 300, 0, 0, T + 60_000, T + 120_000));
    more.metric = Some(metric(8, 800, 5, 500, T, T + 110_000));
    c.flows(&[more], &mut sink);
    c.flows(
        &[point_flow(
            "z",
            "other",
            "",
            (1, 0),
            (T + 400_000, T + 400_000),
        )],
        &mut sink,
    );
    let m = by_action(&sink);
    let a = ip("10.0.0.1");
    assert_eq!(m[&("fw-out".into(), a, Action::Accept)], (5, 500));
    assert_eq!(m[&("fw-out".into(), a, Action::Reject)], (3, 300));
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.2"), Action::Accept)],
        (5, 500)
    );
    assert!(!m.contains_key(&("fw-out".into(), ip("10.0.0.2"), Action::Reject)));
}

#[test]
fn inside_capture_loss_and_end_of_input() {
    let mut c = two_point();
    let mut sink = Sink::default();
    // The inside capture missed one packet: the smaller measurement is
    // ACCEPT, the difference REJECT once the timeout has passed.
    c.flows(
        &[
            point_flow("out", "fw-out", "t4", (10, 0), (T, T + 1_000)),
            point_flow("in", "fw-in", "t4", (9, 0), (T, T + 1_000)),
            point_flow("out2", "fw-out", "t5", (4, 0), (T + 500_000, T + 500_000)),
        ],
        &mut sink,
    );
    let m = by_action(&sink);
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Accept)],
        (9, 900)
    );
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Reject)],
        (1, 100)
    );
    // t5 is younger than the timeout at the end of input: written as ACCEPT
    // and counted as undecided.
    c.finish(&mut sink);
    let m = by_action(&sink);
    assert_eq!(
        m[&("fw-out".into(), ip("10.0.0.1"), Action::Accept)],
        (13, 1300)
    );
    assert_eq!(c.reject_stats().unwrap().undecided_packets, 4);
}
