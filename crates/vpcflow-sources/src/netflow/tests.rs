//! Unit tests of the decoder on hand-built messages: the edges of each
//! format (the counts against real exporters are checked end to end in
//! `crates/vpcflow/tests/netflow_*.rs`).

use std::net::IpAddr;

use vpcflow_core::Action;
use vpcflow_testkit::RecordingConsumer;

use super::*;

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

#[test]
fn ipfix_data_before_its_template_is_held_then_decoded() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    let tpl = template_set(256, &[(8, 4), (12, 4), (4, 1), (2, 8), (1, 8)]);
    d.datagram(
        exporter(),
        &ipfix(0, 7, &[data_set(256, &[flow_v4(1, 2, 200)])]),
        &mut c,
    )
    .unwrap();
    assert!(c.updates.is_empty());
    assert_eq!(d.stats().sets_held, 1);
    d.datagram(
        exporter(),
        &ipfix(1, 7, &[tpl.clone(), data_set(256, &[flow_v4(2, 3, 300)])]),
        &mut c,
    )
    .unwrap();
    let got: Vec<_> = c.updates.iter().map(|u| (u.packets, u.bytes)).collect();
    assert_eq!(got, [(2, 200), (3, 300)]);
    // No time in the template: the export time.
    assert_eq!(c.updates[0].first, 1_700_000_000 * 1_000_000_000);
    assert!(c.losses.is_empty());
    // Another domain of the same exporter does not see domain 7's template.
    d.datagram(
        exporter(),
        &ipfix(0, 8, &[data_set(256, &[flow_v4(3, 1, 100)])]),
        &mut c,
    )
    .unwrap();
    assert_eq!(c.updates.len(), 2);
    d.finish(&mut c);
    assert_eq!(d.stats().sets_lost, 1);
    assert_eq!(c.losses.len(), 1);
}

/// A held data set that does not fit the template that comes later is
/// counted on its own: its datagram was counted without error, and the
/// datagram bringing the template is malformed only for its own faults.
#[test]
fn a_held_set_that_does_not_fit_its_template_is_not_a_malformed_datagram() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    // Addresses, then a variable-length field whose length runs past the set.
    let tpl = template_set(256, &[(8, 4), (12, 4), (82, 0xFFFF)]);
    let mut record = vec![10, 0, 0, 1, 10, 0, 0, 99, 200];
    record.extend_from_slice(b"eth0");
    d.datagram(
        exporter(),
        &ipfix(0, 7, &[data_set(256, &[record])]),
        &mut c,
    )
    .unwrap();
    assert_eq!(d.stats().sets_held, 1);
    // The template, then a set shorter than its header says.
    let mut bad = ipfix(1, 7, &[tpl]);
    bad.extend_from_slice(&[1, 0, 0, 40]);
    let len = bad.len() as u16;
    bad[2..4].copy_from_slice(&len.to_be_bytes());
    assert!(d.datagram(exporter(), &bad, &mut c).is_err());
    assert_eq!(d.stats().malformed, 1);
    assert_eq!(d.stats().sets_malformed, 1);
    assert_eq!(d.stats().sets_released, 0);
    assert!(c.updates.is_empty());
}

/// A template whose records would have no bytes (fields of length 0) is
/// refused: no record could be read with it (the fuzz target's second
/// finding: reading its data set never advanced).
#[test]
fn a_template_of_records_without_bytes_is_refused() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    let tpl = template_set(256, &[(8, 0), (12, 0)]);
    let e = d
        .datagram(
            exporter(),
            &ipfix(0, 7, &[tpl, data_set(256, &[vec![0; 8]])]),
            &mut c,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("template of records without bytes"),
        "{e}"
    );
    assert_eq!(d.stats().templates, 0);
    assert_eq!(d.stats().malformed, 1);
    // A v9 options template without scope or option fields, likewise.
    let mut v9 = vec![
        0, 9, 0, 1, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    v9.extend_from_slice(&[0, 1, 0, 10, 1, 0, 0, 0, 0, 0]);
    let e = d.datagram(exporter(), &v9, &mut c).unwrap_err();
    assert!(
        e.to_string().contains("template of records without bytes"),
        "{e}"
    );
    assert_eq!(d.stats().templates, 0);
    assert!(c.updates.is_empty());
}

/// Templates with both IPv4 and IPv6 address fields (the other family's
/// zero-filled) give the real addresses; a record whose addresses are of two
/// families is not counted (the fuzz target's third finding: such records
/// were aggregated under a key of one family, two flows becoming one).
#[test]
fn address_fields_of_both_families() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    // IPv4 src, dst; IPv6 src, dst; protocol; packets; bytes.
    let tpl = template_set(
        256,
        &[(8, 4), (12, 4), (27, 16), (28, 16), (4, 1), (2, 8), (1, 8)],
    );
    let record = |v4: [u8; 8], v6: [u8; 32]| {
        let mut r = v4.to_vec();
        r.extend_from_slice(&v6);
        r.push(17);
        r.extend_from_slice(&1u64.to_be_bytes());
        r.extend_from_slice(&100u64.to_be_bytes());
        r
    };
    let mut v6 = [0u8; 32];
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[15] = 1;
    v6[16] = 0x20;
    v6[17] = 0x01;
    v6[31] = 2;
    let mut mixed = [0u8; 32];
    mixed[16..].copy_from_slice(&v6[16..]);
    // An IPv6-first template: a request from 0.0.0.0 keeps ::'s place
    // until the destination says IPv4.
    let tpl6 = template_set(257, &[(27, 16), (8, 4), (12, 4), (4, 1), (2, 8), (1, 8)]);
    let dhcp = {
        let mut r = vec![0u8; 16];
        r.extend_from_slice(&[0, 0, 0, 0, 255, 255, 255, 255, 17]);
        r.extend_from_slice(&1u64.to_be_bytes());
        r.extend_from_slice(&300u64.to_be_bytes());
        r
    };
    let records = [
        record([10, 0, 0, 1, 10, 0, 0, 2], [0; 32]),
        record([0; 8], v6),
        record([10, 0, 0, 1, 0, 0, 0, 0], mixed),
    ];
    d.datagram(
        exporter(),
        &ipfix(
            0,
            1,
            &[tpl, tpl6, data_set(256, &records), data_set(257, &[dhcp])],
        ),
        &mut c,
    )
    .unwrap();
    let keys: Vec<String> = c
        .updates
        .iter()
        .map(|u| format!("{} {}", u.key.src, u.key.dst))
        .collect();
    assert_eq!(
        keys,
        [
            "10.0.0.1 10.0.0.2",
            "2001::1 2001::2",
            "0.0.0.0 255.255.255.255"
        ]
    );
    assert_eq!(d.stats().records_without_addresses, 1);
}

#[test]
fn ipfix_template_refresh_withdrawal_padding_and_variable_fields() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    // Layout 1: addresses, protocol, packets (8), bytes (8).
    let t1 = template_set(300, &[(8, 4), (12, 4), (4, 1), (2, 8), (1, 8)]);
    // Padding after the last record (3 bytes).
    let mut padded = flow_v4(1, 1, 10);
    padded.extend_from_slice(&[0, 0, 0]);
    d.datagram(exporter(), &ipfix(0, 0, &[t1, set(300, &padded)]), &mut c)
        .unwrap();
    // Layout 2 of the same id: reduced-size counters (2 and 4 bytes), an
    // unknown enterprise's variable-length field, a variable-length field
    // of three-byte length form.
    let t2 = template_set(
        300,
        &[
            (0xFFFF, 0xFFFF),
            (8, 4),
            (12, 4),
            (4, 1),
            (2, 2),
            (1, 4),
            (82, 0xFFFF),
        ],
    );
    let mut r = vec![3, b'a', b'b', b'c'];
    r.extend_from_slice(&[10, 0, 0, 2, 10, 0, 0, 99, 6]);
    r.extend_from_slice(&5u16.to_be_bytes());
    r.extend_from_slice(&500u32.to_be_bytes());
    r.extend_from_slice(&[255, 0, 3, b'e', b't', b'h']);
    d.datagram(exporter(), &ipfix(1, 0, &[t2, set(300, &r)]), &mut c)
        .unwrap();
    let got: Vec<_> = c
        .updates
        .iter()
        .map(|u| (u.key.protocol, u.packets, u.bytes))
        .collect();
    assert_eq!(got, [(17, 1, 10), (6, 5, 500)]);
    // Withdrawn: the next data set waits (and is lost at the end).
    let mut w = Vec::new();
    be16(&mut w, 300);
    be16(&mut w, 0);
    d.datagram(
        exporter(),
        &ipfix(2, 0, &[set(2, &w), set(300, &r)]),
        &mut c,
    )
    .unwrap();
    assert_eq!(c.updates.len(), 2);
    assert_eq!(d.stats().withdrawals, 1);
}

#[test]
fn ipfix_biflow_splits_and_forwarding_status_rejects() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    // src, dst, proto, sport, dport, packets, bytes, reverse packets,
    // reverse bytes, forwardingStatus, flowStart/EndMilliseconds.
    let tpl = template_set(
        400,
        &[
            (8, 4),
            (12, 4),
            (4, 1),
            (7, 2),
            (11, 2),
            (2, 4),
            (1, 4),
            (0x8002, 4),
            (0x8001, 4),
            (89, 1),
            (152, 8),
            (153, 8),
        ],
    );
    let mut r = vec![10, 0, 0, 1, 10, 0, 0, 2, 6];
    be16(&mut r, 40000);
    be16(&mut r, 443);
    be32(&mut r, 4);
    be32(&mut r, 400);
    be32(&mut r, 3);
    be32(&mut r, 3000);
    r.push(0x80); // dropped
    r.extend_from_slice(&1_699_999_990_500u64.to_be_bytes());
    r.extend_from_slice(&1_699_999_995_250u64.to_be_bytes());
    d.datagram(exporter(), &ipfix(0, 0, &[tpl, set(400, &r)]), &mut c)
        .unwrap();
    assert_eq!(c.updates.len(), 2);
    let (f, b) = (&c.updates[0], &c.updates[1]);
    assert_eq!(
        (f.key.src_port, f.key.dst_port, f.packets, f.bytes),
        (40000, 443, 4, 400)
    );
    assert_eq!(
        (b.key.src_port, b.key.dst_port, b.packets, b.bytes),
        (443, 40000, 3, 3000)
    );
    assert_eq!(b.key.src, f.key.dst);
    assert_eq!(f.first, 1_699_999_990_500 * 1_000_000);
    assert_eq!(b.last, 1_699_999_995_250 * 1_000_000);
    assert!(c.updates.iter().all(|u| u.action == Action::Reject));
    // The records' interface: no interface field, ifindex 0.
    assert_eq!(c.names, ["192.0.2.1/ifindex-0"]);
}

#[test]
fn ipfix_uptime_times_use_the_options_clock_and_sampling() {
    let mut d = Decoder::new(DecoderOptions::default());
    let mut c = RecordingConsumer::default();
    // Options template 256: scope meteringProcessId, then
    // systemInitTimeMilliseconds, samplingPacketInterval, samplingPacketSpace.
    let mut o = Vec::new();
    be16(&mut o, 256);
    be16(&mut o, 4);
    be16(&mut o, 1);
    for (id, len) in [(143u16, 4u16), (160, 8), (305, 4), (306, 4)] {
        be16(&mut o, id);
        be16(&mut o, len);
    }
    let mut od = Vec::new();
    be32(&mut od, 1);
    od.extend_from_slice(&1_699_990_000_000u64.to_be_bytes());
    be32(&mut od, 1);
    be32(&mut od, 99);
    let tpl = template_set(
        257,
        &[
            (8, 4),
            (12, 4),
            (4, 1),
            (2, 8),
            (1, 8),
            (22, 4),
            (21, 4),
            (10, 4),
            (14, 4),
            (61, 1),
        ],
    );
    let mut r = flow_v4(5, 1, 60);
    be32(&mut r, 1_000);
    be32(&mut r, 2_000);
    be32(&mut r, 7);
    be32(&mut r, 9);
    r.push(1); // egress
    d.datagram(
        exporter(),
        &ipfix(0, 0, &[set(3, &o), set(256, &od), tpl, set(257, &r)]),
        &mut c,
    )
    .unwrap();
    let u = &c.updates[0];
    assert_eq!(
        (u.first, u.last),
        (1_699_990_001_000_000_000, 1_699_990_002_000_000_000)
    );
    assert_eq!((u.packets, u.bytes), (100, 6000));
    assert_eq!(c.names, ["192.0.2.1/ifindex-9"]);
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
