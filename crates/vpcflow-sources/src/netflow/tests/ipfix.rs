//! IPFIX: templates arriving late, refreshed and withdrawn, variable-length
//! and enterprise fields, biflows, options (clock, sampling), and what the
//! fuzz target found in them.

use super::*;

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
