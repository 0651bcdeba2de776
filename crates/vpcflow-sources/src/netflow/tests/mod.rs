//! Unit tests of the decoder on hand-built messages: the edges of each
//! format (the counts against real exporters are checked end to end in
//! `crates/vpcflow/tests/netflow_*.rs`).

use std::net::IpAddr;

use vpcflow_core::Action;
use vpcflow_testkit::RecordingConsumer;

use super::*;

mod ipfix;

const EXPORTER: [u8; 4] = [192, 0, 2, 1];

fn exporter() -> IpAddr {
    IpAddr::from(EXPORTER)
}

fn be16(v: &mut Vec<u8>, n: u16) {
    v.extend_from_slice(&n.to_be_bytes());
}

fn be32(v: &mut Vec<u8>, n: u32) {
    v.extend_from_slice(&n.to_be_bytes());
}

/// A v5 message of `records` (src last octet, packets, bytes, proto, dport).
fn v5(seq: u32, sampling: u16, records: &[(u8, u32, u32, u8, u16)]) -> Vec<u8> {
    let mut m = Vec::new();
    be16(&mut m, 5);
    be16(&mut m, records.len() as u16);
    be32(&mut m, 100_000); // uptime ms
    be32(&mut m, 1_700_000_000);
    be32(&mut m, 0);
    be32(&mut m, seq);
    be16(&mut m, 0);
    be16(&mut m, sampling);
    for &(src, packets, bytes, proto, dport) in records {
        m.extend_from_slice(&[10, 0, 0, src, 10, 0, 0, 99, 0, 0, 0, 0]);
        be16(&mut m, 3); // input
        be16(&mut m, 4); // output
        be32(&mut m, packets);
        be32(&mut m, bytes);
        be32(&mut m, 40_000); // first: 60 s before export
        be32(&mut m, 90_000); // last: 10 s before export
        be16(&mut m, 1234);
        be16(&mut m, dport);
        m.extend_from_slice(&[0, 0x13, proto, 0]);
        m.extend_from_slice(&[0; 8]);
    }
    m
}

#[test]
fn v5_records_times_ports_and_sampling() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    d.datagram(
        exporter(),
        &v5(1, 0, &[(1, 2, 120, 6, 80), (2, 1, 84, 1, 0x0800)]),
        &mut c,
    )
    .unwrap();
    assert_eq!(c.names, ["192.0.2.1/ifindex-3"]);
    let u = &c.updates[0];
    assert_eq!(
        (u.packets, u.bytes, u.key.dst_port, u.key.protocol),
        (2, 120, 80, 6)
    );
    assert_eq!(u.first, (1_700_000_000 - 60) * 1_000_000_000);
    assert_eq!(u.last, (1_700_000_000 - 10) * 1_000_000_000);
    // FIN|SYN|ACK: ACK is never reported from an OR of flags.
    assert_eq!(u.tcp_flags.value(), 3);
    // ICMP: type/code in the destination port become 0.
    let icmp = &c.updates[1];
    assert_eq!(
        (icmp.key.src_port, icmp.key.dst_port, icmp.tcp_flags.value()),
        (0, 0, 0)
    );
    // Sampled 1 in 10 (mode 1): scaled, or kept raw.
    d.datagram(
        exporter(),
        &v5(3, 0x4000 | 10, &[(3, 2, 100, 17, 53)]),
        &mut c,
    )
    .unwrap();
    assert_eq!((c.updates[2].packets, c.updates[2].bytes), (20, 1000));
    let mut raw = Decoder::new(DecoderOptions {
        sampling: Sampling::Raw,
        ..DecoderOptions::default()
    });
    let mut c2 = RecordingConsumer::default();
    raw.datagram(
        exporter(),
        &v5(3, 0x4000 | 10, &[(3, 2, 100, 17, 53)]),
        &mut c2,
    )
    .unwrap();
    assert_eq!((c2.updates[0].packets, c2.updates[0].bytes), (2, 100));
}

#[test]
fn v5_sequence_gap_is_a_loss_on_the_exporters_interfaces() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    d.datagram(exporter(), &v5(10, 0, &[(1, 1, 40, 6, 80); 2]), &mut c)
        .unwrap();
    assert!(c.losses.is_empty());
    // Records 12..=16 were lost.
    d.datagram(exporter(), &v5(17, 0, &[(1, 1, 40, 6, 80)]), &mut c)
        .unwrap();
    assert_eq!(c.losses.len(), 1);
    assert_eq!(c.losses[0].count, 5);
    assert_eq!(c.losses[0].at, 1_700_000_000 * 1_000_000_000);
    assert_eq!(d.stats().sequence_gaps, 1);
}

#[test]
fn garbage_is_an_error_never_a_panic() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    for bad in [
        &[][..],
        &[0][..],
        &[0, 5, 0, 1][..],
        &[0, 9, 0, 1, 0, 0][..],
        &[0, 10, 0, 200, 0, 0, 0, 0][..],
        &[0, 7, 1, 2, 3][..],
    ] {
        let e = d.datagram(exporter(), bad, &mut c).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
    // A v5 header claiming more records than present.
    let mut m = v5(1, 0, &[(1, 1, 40, 6, 80)]);
    m[3] = 2;
    assert!(d.datagram(exporter(), &m, &mut c).is_err());
    assert!(c.updates.is_empty());
    assert_eq!(d.stats().malformed, 7);
    // Every prefix and byte flip of a valid IPFIX message: no panic.
    let good = ipfix(
        1,
        0,
        &[
            template_set(256, &[(8, 4), (12, 4), (4, 1), (2, 8), (1, 8)]),
            data_set(256, &[flow_v4(1, 7, 700)]),
        ],
    );
    for n in 0..good.len() {
        let _ = Decoder::new(DecoderOptions::default()).datagram(exporter(), &good[..n], &mut c);
        let mut flipped = good.clone();
        flipped[n] ^= 0xFF;
        let _ = Decoder::new(DecoderOptions::default()).datagram(exporter(), &flipped, &mut c);
    }
}

fn ipfix(seq: u32, domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = sets.concat();
    let mut m = Vec::new();
    be16(&mut m, 10);
    be16(&mut m, (16 + body.len()) as u16);
    be32(&mut m, 1_700_000_000);
    be32(&mut m, seq);
    be32(&mut m, domain);
    m.extend_from_slice(&body);
    m
}

fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    be16(&mut s, id);
    be16(&mut s, (4 + body.len()) as u16);
    s.extend_from_slice(body);
    s
}

/// An IPFIX template set; a field id with the top bit set takes PEN 29305
/// (reverse), id 0x7FFF with the top bit an unknown enterprise's element.
fn template_set(id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
    let mut b = Vec::new();
    be16(&mut b, id);
    be16(&mut b, fields.len() as u16);
    for &(f, len) in fields {
        be16(&mut b, f);
        be16(&mut b, len);
        if f & 0x8000 != 0 {
            be32(&mut b, if f == 0xFFFF { 9 } else { fields::REVERSE_PEN });
        }
    }
    set(2, &b)
}

fn data_set(id: u16, records: &[Vec<u8>]) -> Vec<u8> {
    set(id, &records.concat())
}

/// src 10.0.0.S -> 10.0.0.99, protocol P, packets, bytes (8-byte counters).
fn flow_v4(s: u8, packets: u64, bytes: u64) -> Vec<u8> {
    let mut r = vec![10, 0, 0, s, 10, 0, 0, 99, 17];
    r.extend_from_slice(&packets.to_be_bytes());
    r.extend_from_slice(&bytes.to_be_bytes());
    r
}

/// A v9 message.
fn v9(seq: u32, source: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let mut m = Vec::new();
    be16(&mut m, 9);
    be16(&mut m, sets.len() as u16);
    be32(&mut m, 50_000);
    be32(&mut m, 1_700_000_000);
    be32(&mut m, seq);
    be32(&mut m, source);
    m.extend_from_slice(&sets.concat());
    m
}

#[test]
fn v9_templates_per_source_id_and_packet_sequence() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    let mut t = Vec::new();
    for v in [260u16, 7, 8, 4, 12, 4, 4, 1, 2, 4, 1, 4, 22, 4, 21, 4] {
        be16(&mut t, v);
    }
    let tpl = set(0, &t);
    let rec = |s: u8| {
        let mut r = vec![10, 0, 0, s, 10, 0, 0, 99, 1];
        r.extend_from_slice(&2u32.to_be_bytes());
        r.extend_from_slice(&168u32.to_be_bytes());
        r.extend_from_slice(&20_000u32.to_be_bytes());
        r.extend_from_slice(&30_000u32.to_be_bytes());
        r
    };
    // Padding to a 4-byte boundary after the 25-byte record.
    let mut body = rec(1);
    body.extend_from_slice(&[0, 0, 0]);
    d.datagram(
        exporter(),
        &v9(1, 5, &[tpl.clone(), set(260, &body)]),
        &mut c,
    )
    .unwrap();
    assert_eq!(c.updates.len(), 1);
    assert_eq!(c.updates[0].first, (1_700_000_000 - 30) * 1_000_000_000);
    assert_eq!(c.updates[0].last, (1_700_000_000 - 20) * 1_000_000_000);
    // Source id 6 has no template 260 yet.
    d.datagram(exporter(), &v9(1, 6, &[set(260, &rec(2))]), &mut c)
        .unwrap();
    assert_eq!(c.updates.len(), 1);
    // Export packets 2 and 3 of source 5 lost.
    d.datagram(exporter(), &v9(4, 5, &[set(260, &rec(3))]), &mut c)
        .unwrap();
    assert_eq!(c.updates.len(), 2);
    assert_eq!(c.lost(), 2);
}

#[test]
fn flow_direction_chooses_the_interface_and_the_direction() {
    use vpcflow_core::flow::FlowDirection::{Egress, Ingress};
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    // IPFIX: src, dst, proto, packets, bytes, ingressInterface (10),
    // egressInterface (14), flowDirection (61); and a template without it.
    let base = [(8, 4), (12, 4), (4, 1), (2, 8), (1, 8), (10, 4), (14, 4)];
    let with = template_set(300, &[&base[..], &[(61, 1)]].concat());
    let without = template_set(301, &base);
    let rec = |s: u8, direction: Option<u8>| {
        let mut r = flow_v4(s, 1, 100);
        be32(&mut r, 3);
        be32(&mut r, 7);
        r.extend(direction);
        r
    };
    d.datagram(
        exporter(),
        &ipfix(
            0,
            0,
            &[
                with,
                without,
                data_set(300, &[rec(1, Some(0)), rec(2, Some(1)), rec(3, Some(5))]),
                data_set(301, &[rec(4, None)]),
            ],
        ),
        &mut c,
    )
    .unwrap();
    let got: Vec<(&str, _)> = c
        .updates
        .iter()
        .map(|u| (c.name_of(u), u.direction))
        .collect();
    assert_eq!(
        got,
        [
            // 0: ingress, on the ingress interface.
            ("192.0.2.1/ifindex-3", Some(Ingress)),
            // 1: egress, on the egress interface.
            ("192.0.2.1/ifindex-7", Some(Egress)),
            // Another value, or no field: today's rule (the ingress
            // interface, the direction from its addresses).
            ("192.0.2.1/ifindex-3", None),
            ("192.0.2.1/ifindex-3", None),
        ]
    );
    // NetFlow v9: DIRECTION (61), INPUT_SNMP (10), OUTPUT_SNMP (14).
    let mut t = Vec::new();
    for v in [262u16, 6, 8, 4, 12, 4, 4, 1, 2, 4, 1, 4, 61, 1] {
        be16(&mut t, v);
    }
    let mut body = Vec::new();
    for direction in [1u8, 0] {
        body.extend_from_slice(&[10, 0, 0, 5, 10, 0, 0, 99, 17]);
        be32(&mut body, 1);
        be32(&mut body, 60);
        body.push(direction);
    }
    let mut c = RecordingConsumer::default();
    let mut t3 = Vec::new();
    for v in [
        264u16, 8, 8, 4, 12, 4, 4, 1, 2, 4, 1, 4, 10, 2, 14, 2, 61, 1,
    ] {
        be16(&mut t3, v);
    }
    let mut r3 = vec![10, 0, 0, 6, 10, 0, 0, 99, 17];
    be32(&mut r3, 1);
    be32(&mut r3, 60);
    be16(&mut r3, 11);
    be16(&mut r3, 12);
    r3.push(1);
    d.datagram(
        exporter(),
        &v9(
            1,
            0,
            &[set(0, &[t, t3].concat()), set(262, &body), set(264, &r3)],
        ),
        &mut c,
    )
    .unwrap();
    let got: Vec<(&str, _)> = c
        .updates
        .iter()
        .map(|u| (c.name_of(u), u.direction))
        .collect();
    assert_eq!(
        got,
        [
            // No interface fields: ifindex 0 either way.
            ("192.0.2.1/ifindex-0", Some(Egress)),
            ("192.0.2.1/ifindex-0", Some(Ingress)),
            ("192.0.2.1/ifindex-12", Some(Egress)),
        ]
    );
}

#[test]
fn biflow_reverse_direction_is_the_opposite_one() {
    use vpcflow_core::flow::FlowDirection::{Egress, Ingress};
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    let tpl = template_set(
        410,
        &[
            (8, 4),
            (12, 4),
            (4, 1),
            (2, 4),
            (1, 4),
            (0x8002, 4),
            (0x8001, 4),
            (10, 4),
            (14, 4),
            (61, 1),
        ],
    );
    let mut r = vec![10, 0, 0, 1, 10, 0, 0, 2, 17];
    for n in [4, 400, 3, 300, 3, 7] {
        be32(&mut r, n);
    }
    r.push(1);
    d.datagram(exporter(), &ipfix(0, 0, &[tpl, set(410, &r)]), &mut c)
        .unwrap();
    let got: Vec<_> = c
        .updates
        .iter()
        .map(|u| (c.name_of(u), u.packets, u.direction))
        .collect();
    assert_eq!(
        got,
        [
            ("192.0.2.1/ifindex-7", 4, Some(Egress)),
            ("192.0.2.1/ifindex-7", 3, Some(Ingress)),
        ]
    );
}

/// Found by the `netflow` fuzz target: the decoder's packet and byte totals
/// added records' counts without a bound and overflowed.
#[test]
fn huge_counts_saturate_the_totals() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    let tpl = template_set(256, &[(8, 4), (12, 4), (4, 1), (2, 8), (1, 8)]);
    let big = u64::MAX / 2 + 1;
    let records = [flow_v4(1, big, big), flow_v4(2, big, big)];
    d.datagram(
        exporter(),
        &ipfix(0, 7, &[tpl, data_set(256, &records)]),
        &mut c,
    )
    .unwrap();
    let got: Vec<_> = c.updates.iter().map(|u| (u.packets, u.bytes)).collect();
    assert_eq!(got, [(big, big), (big, big)]);
    assert_eq!((d.stats().packets, d.stats().bytes), (u64::MAX, u64::MAX));
}

/// The records of `data` read by the plan of `fixed` (a template without
/// variable-length fields), after checking that walking its fields one by
/// one reads the same.
fn read_by_plan(fixed: &super::templates::Template, data: &[u8]) -> Vec<fields::FlowFields> {
    use super::sets::records;
    use super::templates::Template;
    assert!(fixed.plan.is_some());
    let read = |t: &Template| {
        let mut all = Vec::new();
        let n = records(t, data, 0, |f| all.push(*f)).unwrap();
        assert_eq!(n as usize, all.len());
        all
    };
    let walked = Template {
        plan: None,
        ..fixed.clone()
    };
    let planned = read(fixed);
    assert_eq!(planned, read(&walked));
    planned
}

#[test]
fn a_fixed_template_read_by_its_plan_gives_the_fields_of_the_walk() {
    use super::templates::{FieldSpec, Template};
    let spec = |id, pen, len| FieldSpec { id, pen, len };
    // Skipped fields between used ones, an enterprise field, reverse
    // counters, both address families (the IPv4 ones zero), a reverse
    // field vpcflow does not read, and reduced-size counters.
    let fields = vec![
        spec(fields::SRC_IPV6, 0, 16),
        spec(fields::DST_IPV6, 0, 16),
        spec(fields::SRC_IPV4, 0, 4),
        spec(1000, 9, 3),
        spec(fields::DST_IPV4, 0, 4),
        spec(fields::SRC_PORT, 0, 2),
        spec(fields::DST_PORT, 0, 2),
        spec(fields::PROTOCOL, 0, 1),
        spec(fields::OCTET_DELTA_COUNT, 0, 4),
        spec(fields::PACKET_DELTA_COUNT, 0, 2),
        spec(fields::POST_OCTET_DELTA_COUNT, 0, 8),
        spec(fields::OCTET_DELTA_COUNT, fields::REVERSE_PEN, 8),
        spec(fields::PACKET_DELTA_COUNT, fields::REVERSE_PEN, 3),
        spec(fields::PROTOCOL, fields::REVERSE_PEN, 1),
        spec(fields::FLOW_START_MILLISECONDS, 0, 8),
        spec(fields::FLOW_END_SYSUPTIME, 0, 4),
        spec(fields::TCP_CONTROL_BITS, 0, 2),
        spec(fields::FORWARDING_STATUS, 0, 1),
        spec(fields::INGRESS_INTERFACE, 0, 4),
        spec(fields::FLOW_DIRECTION, 0, 1),
    ];
    let template = Template::new(fields, false).unwrap();
    // Three records of varied bytes, then padding shorter than a record.
    let len = template.min_len;
    let mut data: Vec<u8> = (0..3 * len)
        .map(|i| (i.wrapping_mul(37) % 251) as u8)
        .collect();
    // The second record's IPv4 addresses are zeros: the IPv6 ones stay.
    data[len + 32..len + 36].fill(0);
    data[len + 39..len + 43].fill(0);
    data.extend_from_slice(&[0; 3]);
    let a = read_by_plan(&template, &data);
    assert_eq!(a.len(), 3);
    assert!(a[1].src.unwrap().is_ipv6() && a[0].src.unwrap().is_ipv4());
    assert!(a[0].reverse.bytes.is_some() && a[0].forward.start != fields::Time::None);

    // Fields whose value depends on the one before: nothing of a record
    // carries over into the next one read by the plan.
    let carried = Template::new(
        vec![
            spec(fields::SRC_IPV4, 0, 4),
            spec(fields::DST_IPV6, 0, 16),
            spec(fields::POST_OCTET_DELTA_COUNT, 0, 4),
            spec(fields::POST_PACKET_DELTA_COUNT, fields::REVERSE_PEN, 2),
        ],
        false,
    )
    .unwrap();
    let mut data = vec![10, 0, 0, 1];
    data.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    data.extend_from_slice(&[0, 0, 5, 0, 0, 7]);
    data.extend_from_slice(&[0; 26]);
    let b = read_by_plan(&carried, &data);
    assert_eq!(b[1].src, Some(IpAddr::from([0, 0, 0, 0])));
    assert_eq!(b[1].forward.bytes, Some(0));
    assert_eq!(b[1].reverse.packets, Some(0));
}
