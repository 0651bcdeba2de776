//! What a flow's fields come from: IP-layer bytes, protocols, ports, TCP flags.

use vpcflow_core::tcp_flags::TcpFlags;

use super::*;
use crate::skydive::message::IcmpLayer;

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

/// Addresses of two families belong to no packet: such a flow is counted as
/// having bad addresses, never aggregated (the aggregator keeps one family
/// per key).
#[test]
fn a_flow_whose_addresses_mix_families_is_refused() {
    let mut mixed = with_delta(
        tcp_flow("mixed"),
        metric(1, 60, 0, 0, 1_000, 1_000),
        metric(1, 60, 0, 0, 1_000, 1_000),
    );
    mixed.network.as_mut().unwrap().b = "2001:db8::2".into();
    let mut c = Converter::new(ConverterOptions::default());
    let mut sink = RecordingConsumer::default();
    c.flows(&[mixed], &mut sink);
    assert!(sink.updates.is_empty());
    assert_eq!(c.stats().bad_addresses, 1);
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
