//! Damaged and foreign files: truncation, corrupt blocks, undecodable frames, drops.

use super::*;

#[test]
fn truncated_files_keep_what_was_read() {
    let file = pcap_file(
        false,
        false,
        ETHERNET,
        &[(1, 0, &frame_tcp(1)), (2, 0, &frame_tcp(2))],
    );
    // Cut inside the last record's data, and inside its header.
    for cut in [file.len() - 1, file.len() - 54 - 10] {
        let (stats, rec) = read_ok(&file[..cut]);
        assert_eq!((stats.frames, rec.updates.len()), (1, 1));
        assert!(stats.truncated_file);
        assert!(matches!(
            stats.warnings[..],
            [CaptureWarning {
                offset: 94,
                kind: WarningKind::TruncatedRecord { .. },
                ..
            }]
        ));
        assert_eq!(stats.file_bytes, cut as u64);
    }
    let mut ng = Ng::new(false);
    ng.idb(1, &[])
        .epb(0, 1, &frame_tcp(1))
        .epb(0, 2, &frame_tcp(2));
    for cut in [ng.buf.len() - 4, ng.buf.len() - 60, ng.buf.len() - 90] {
        let (stats, rec) = read_ok(&ng.buf[..cut]);
        assert_eq!(rec.updates.len(), 1, "cut at {cut}");
        assert!(stats.truncated_file);
    }
}

#[test]
fn corrupt_pcapng_blocks() {
    let mut ng = Ng::new(false);
    ng.idb(1, &[]).epb(0, 1, &frame_tcp(1));
    let good = ng.buf.len();
    ng.epb(0, 2, &frame_tcp(2)).epb(0, 3, &frame_tcp(3));
    // Leading length not a multiple of 4: reading stops there.
    let mut bad = ng.buf.clone();
    bad[good + 4] = bad[good + 4].wrapping_add(1);
    let (stats, rec) = read_ok(&bad);
    assert_eq!(rec.updates.len(), 1);
    assert!(matches!(
        stats.warnings[0].kind,
        WarningKind::CorruptBlock { .. }
    ));
    assert_eq!(stats.warnings[0].offset, good as u64);
    // A captured length larger than the block: that block is skipped only.
    let mut bad = ng.buf.clone();
    bad[good + 20] = 0xFF;
    let (stats, rec) = read_ok(&bad);
    assert_eq!(rec.updates.len(), 2);
    assert!(matches!(
        stats.warnings[0].kind,
        WarningKind::BadBlock { .. }
    ));
    // A packet of an interface no IDB declared.
    let mut ng = Ng::new(false);
    ng.idb(1, &[])
        .epb(3, 1, &frame_tcp(1))
        .epb(3, 1, &frame_tcp(1));
    let (stats, rec) = read_ok(&ng.buf);
    assert!(rec.updates.is_empty());
    assert_eq!((stats.frames, stats.unknown_interface_packets), (0, 2));
    assert_eq!(
        stats.warnings[0].kind,
        WarningKind::UnknownInterface { interface_id: 3 }
    );
    assert_eq!(stats.warnings.len(), 1);
}

#[test]
fn files_that_are_not_captures() {
    for (data, needle) in [
        (&b""[..], "empty"),
        (&b"hello world, not a capture"[..], "68 65 6c 6c"),
        (&[0x1F, 0x8B, 8, 0, 0, 0][..], "gzip"),
        (&[0xD4][..], "1 bytes"),
    ] {
        let (r, _) = read(data, &PcapOptions::default());
        let e = r.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, CaptureError::NotACapture { .. }), "{msg}");
        assert!(msg.starts_with("test.pcap: not a pcap or pcapng"), "{msg}");
        assert!(msg.contains(needle), "{msg}");
        assert_eq!(e.path(), Path::new("test.pcap"));
    }
    let header = pcap_file(false, false, ETHERNET, &[]);
    let (r, _) = read(&header[..10], &PcapOptions::default());
    let e = r.unwrap_err();
    assert!(matches!(e, CaptureError::BadHeader { .. }), "{e}");
    assert!(e.to_string().contains("too short"), "{e}");
    let (r, _) = read(
        &[0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 1, 2, 3, 4, 0, 0],
        &PcapOptions::default(),
    );
    assert!(matches!(r.unwrap_err(), CaptureError::BadHeader { .. }));
    // A header alone is an empty capture, not an error.
    let (stats, rec) = read_ok(&header);
    assert_eq!((stats.frames, rec.names.len()), (0, 1));
}

#[test]
fn undecodable_frames_are_losses_of_their_interface() {
    let short_ip = eth(0x0800, &[0x45, 0, 0, 20, 0, 0]);
    let arp = eth(0x0806, &[0; 28]);
    let file = pcap_file(
        false,
        false,
        ETHERNET,
        &[(1, 0, &short_ip), (2, 0, &arp), (3, 0, &frame_tcp(1))],
    );
    let (stats, rec) = read_ok(&file);
    assert_eq!(
        rec.losses,
        [LossEvent {
            interface: InterfaceIndex(0),
            at: 1_000_000_000,
            count: 1
        }]
    );
    assert_eq!(
        (stats.undecodable, stats.non_ip, stats.ip_packets),
        (1, 1, 1)
    );
    assert_eq!(stats.accounted_frames(), stats.frames);
    // Unsupported link types: a warning, and every frame is a loss.
    let file = pcap_file(false, false, 127, &[(1, 0, &frame_tcp(1))]);
    let (stats, rec) = read_ok(&file);
    assert_eq!((stats.unsupported_linktype, rec.losses.len()), (1, 1));
    assert_eq!(
        stats.warnings[0].kind,
        WarningKind::UnsupportedLinktype { linktype: 127 }
    );
}

#[test]
fn interface_statistics_drops_are_losses() {
    let mut ng = Ng::new(false);
    ng.idb(NULL as u16, &[])
        .isb(0, 1_000_000, 5)
        .isb(0, 2_000_000, 5)
        .isb(0, 3_000_000, 12);
    let (stats, rec) = read_ok(&ng.buf);
    let drops: Vec<(u64, u64)> = rec.losses.iter().map(|l| (l.at, l.count)).collect();
    assert_eq!(drops, [(1_000_000_000, 5), (3_000_000_000, 7)]);
    assert_eq!(stats.capture_drops, 12);
}

#[test]
fn an_unreadable_section_header_is_one_short_line_with_offset_and_reason() {
    let shb = |len: u32, magic: u32, major: u16, trailing: u32, total: usize| {
        let mut b = vec![0x0A, 0x0D, 0x0D, 0x0A];
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&magic.to_le_bytes());
        b.extend_from_slice(&major.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.resize(total - 4, 0);
        b.extend_from_slice(&trailing.to_le_bytes());
        // Followed by a large body, which must not be echoed.
        b.extend(std::iter::repeat_n(0xAB, 85_000));
        b
    };
    for (data, reason) in [
        (
            shb(12, 0x1A2B_3C4D, 1, 12, 28),
            "block length 12 is not a multiple of 4 of at least 28",
        ),
        (
            shb(28, 0x1A2B_3C4D, 1, 28, 28)[..20].to_vec(),
            "the file ends after 20 bytes",
        ),
        (
            shb(0x7FFF_FFF0, 0x1A2B_3C4D, 1, 28, 28),
            "runs past the end of the file (85028 bytes)",
        ),
        (
            shb(28, 0x0102_0304, 1, 28, 28),
            "byte-order magic 0x01020304",
        ),
    ] {
        let (r, _) = read(&data, &PcapOptions::default());
        let e = r.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, CaptureError::BadHeader { .. }), "{msg}");
        assert!(msg.starts_with("test.pcap: bad capture file header: unreadable pcapng section header block at byte 0: "), "{msg}");
        assert!(msg.contains(reason), "{msg}");
        assert!(msg.len() < 200 && !msg.contains('\n'), "{msg}");
    }
}

#[test]
fn zero_bytes_after_the_records_are_a_warning_not_a_packet_of_1970() {
    let mut file = pcap_file(false, false, ETHERNET, &[(1_700_000_000, 0, &frame_tcp(1))]);
    let records_end = file.len();
    file.extend_from_slice(&[0; 16]);
    let (stats, rec) = read_ok(&file);
    assert_eq!(rec.updates.len(), 1);
    assert!(rec.losses.is_empty(), "{:?}", rec.losses);
    assert_eq!(stats.warnings.len(), 1);
    assert_eq!(stats.warnings[0].offset, records_end as u64);
    assert!(
        stats.warnings[0]
            .to_string()
            .contains("record header of zero bytes"),
        "{}",
        stats.warnings[0]
    );
}
