//! Classic pcap and pcapng: byte orders, resolutions, link types, interfaces, timestamps.

use super::*;

#[test]
fn classic_pcap_in_every_byte_order_and_resolution() {
    let (a, b) = (frame_tcp(1), frame_tcp(2));
    for big in [false, true] {
        for nanos in [false, true] {
            let file = pcap_file(
                big,
                nanos,
                ETHERNET,
                &[(1_700_000_000, 5, &a), (1_700_000_001, 7, &b)],
            );
            let (stats, rec) = read_ok(&file);
            let unit = if nanos { 1 } else { 1_000 };
            assert_eq!(rec.names, ["capture0"]);
            assert_eq!(rec.updates.len(), 2);
            assert_eq!(rec.updates[0].first, 1_700_000_000_000_000_000 + 5 * unit);
            assert_eq!(rec.updates[1].last, 1_700_000_001_000_000_000 + 7 * unit);
            assert_eq!(rec.updates[1].key.src_port, 2);
            assert_eq!((rec.updates[0].packets, rec.updates[0].bytes), (1, 40));
            assert_eq!((stats.frames, stats.ip_packets, stats.ip_bytes), (2, 2, 80));
            assert_eq!(stats.linktypes.get(&ETHERNET), Some(&2));
            assert_eq!((stats.files, stats.file_bytes), (1, file.len() as u64));
            assert!(!stats.truncated_file && stats.warnings.is_empty());
        }
    }
}

#[test]
fn link_type_field_fcs_bits_are_ignored() {
    let file = pcap_file(
        false,
        false,
        ETHERNET | 0x1400_0000,
        &[(1, 0, &frame_tcp(1))],
    );
    let (stats, rec) = read_ok(&file);
    assert_eq!((stats.ip_packets, rec.updates.len()), (1, 1));
}

#[test]
fn interface_name_override() {
    let options = PcapOptions {
        interface_name: Some("eni-0123".into()),
        ..PcapOptions::default()
    };
    let file = pcap_file(false, false, ETHERNET, &[(1, 0, &frame_tcp(1))]);
    let (r, rec) = read(&file, &options);
    r.unwrap();
    assert_eq!(rec.names, ["eni-0123"]);
    let mut ng = Ng::new(false);
    ng.idb(1, &[(2, b"eth0")])
        .idb(1, &[(2, b"eth1")])
        .idb(1, &[]);
    ng.epb(0, 1, &frame_tcp(1))
        .epb(1, 2, &frame_tcp(2))
        .epb(2, 3, &frame_tcp(3));
    let (r, rec) = read(&ng.buf, &options);
    assert_eq!(r.unwrap().interfaces, 3);
    assert_eq!(rec.names, ["eni-0123", "eth1", "capture2"]);
    let names: Vec<&str> = rec.updates.iter().map(|u| rec.name_of(u)).collect();
    assert_eq!(names, ["eni-0123", "eth1", "capture2"]);
}

#[test]
fn pcapng_interfaces_link_types_and_timestamps() {
    for big in [false, true] {
        let v4 = ipv4(17, A4, B4, &udp(1, 2, &[]));
        let mut ng = Ng::new(big);
        let offset = if big {
            (-100i64).to_be_bytes()
        } else {
            (-100i64).to_le_bytes()
        };
        ng.idb(1, &[(2, b"eth0")]) // microseconds by default
            .idb(0, &[(9, &[9])]) // NULL, nanoseconds, unnamed
            .idb(101, &[(9, &[0x80 | 10]), (14, &offset)]) // RAW, 2^-10 s, -100 s
            .block(0x0BAD, &[1, 2, 3, 4]) // custom block: skipped
            .block(0x4242, &[]) // unknown block: skipped
            .epb(0, 1_000_000_000_000_001, &frame_tcp(1))
            .epb(
                1,
                1_000_000_000_000_000_002,
                &cat(&[&2u32.to_le_bytes(), &v4]),
            )
            .epb(2, 1024 * 1_000_000_200 + 512, &v4);
        let (stats, rec) = read_ok(&ng.buf);
        assert_eq!(rec.names, ["eth0", "capture1", "capture2"]);
        let ts: Vec<u64> = rec.updates.iter().map(|u| u.first).collect();
        assert_eq!(
            ts,
            [
                1_000_000_000_000_001_000,
                1_000_000_000_000_000_002,
                1_000_000_100_500_000_000
            ],
            "big endian: {big}"
        );
        let names: Vec<&str> = rec.updates.iter().map(|u| rec.name_of(u)).collect();
        assert_eq!(names, ["eth0", "capture1", "capture2"]);
        assert_eq!(stats.linktypes.len(), 3);
        assert_eq!((stats.frames, stats.ip_packets), (3, 3));
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    }
}

#[test]
fn simple_packet_blocks_take_the_previous_packets_timestamp() {
    let mut ng = Ng::new(false);
    ng.idb(1, &[])
        .spb(&frame_tcp(1))
        .epb(0, 5_000_000, &frame_tcp(2))
        .spb(&frame_tcp(3))
        .epb(0, 6_000_000, &frame_tcp(4));
    let (stats, rec) = read_ok(&ng.buf);
    let mut ts: Vec<(u16, u64)> = rec
        .updates
        .iter()
        .map(|u| (u.key.src_port, u.first))
        .collect();
    ts.sort();
    // The first one has no packet before it: it takes the next one's time.
    assert_eq!(
        ts,
        [
            (1, 5_000_000_000),
            (2, 5_000_000_000),
            (3, 5_000_000_000),
            (4, 6_000_000_000)
        ]
    );
    assert_eq!(stats.pcapng_simple_packet_no_ts, 2);
    assert_eq!(stats.ts_backwards, 0);
}

#[test]
fn simple_packet_blocks_without_any_timestamp_in_the_file_are_at_zero() {
    let mut ng = Ng::new(false);
    ng.idb(1, &[]).spb(&frame_tcp(1));
    let (stats, rec) = read_ok(&ng.buf);
    assert_eq!(rec.updates.len(), 1);
    assert_eq!(rec.updates[0].first, 0);
    assert_eq!(stats.pcapng_simple_packet_no_ts, 1);
}

#[test]
fn obsolete_packet_blocks() {
    let mut ng = Ng::new(true);
    ng.idb(1, &[]).opb(0, 7, &frame_tcp(9));
    let (stats, rec) = read_ok(&ng.buf);
    assert_eq!(stats.frames, 1);
    assert_eq!(
        (rec.updates[0].first, rec.updates[0].key.src_port),
        (7_000, 9)
    );
}

#[test]
fn several_sections_restart_interface_ids() {
    let mut ng = Ng::new(false);
    ng.idb(1, &[(2, b"a")]).epb(0, 1, &frame_tcp(1));
    ng.shb().idb(1, &[(2, b"b")]).epb(0, 2, &frame_tcp(2));
    let (stats, rec) = read_ok(&ng.buf);
    let names: Vec<&str> = rec.updates.iter().map(|u| rec.name_of(u)).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(stats.interfaces, 2);
}
