//! Tunnels, whose inner flows give packet addresses, and the flows that are skipped.

use vpcflow_core::PacketAddrs;

use super::*;
use crate::skydive::message::IcmpLayer;

fn gre_pair() -> (Flow<'static>, Flow<'static>) {
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
    let mut sink = RecordingConsumer::default();
    c.flows(&[arp, other, mine, bad], &mut sink);
    assert_eq!(sink.updates.len(), 1);
    assert_eq!(c.stats().bad_addresses, 1);
    assert_eq!(c.stats().non_ip_flows, 1);
    assert_eq!(c.stats().filtered_flows, 1);
}
