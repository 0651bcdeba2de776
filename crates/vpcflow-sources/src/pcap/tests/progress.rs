//! Progress, statistics over several files, reading from disk, warnings.

use super::*;

#[test]
fn progress_is_reported_up_to_the_end() {
    let frame = frame_tcp(1);
    let records: Vec<(u32, u32, &[u8])> = (0..100_000).map(|i| (i, 0, &frame[..])).collect();
    let file = pcap_file(false, false, ETHERNET, &records);
    let mut seen = Vec::new();
    let mut rec = RecordingConsumer::default();
    let stats = read_capture_bytes(
        Path::new("big.pcap"),
        &file,
        &PcapOptions::default(),
        &mut rec,
        &mut |b| seen.push(b),
    )
    .unwrap();
    assert_eq!(stats.frames, 100_000);
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*seen.last().unwrap(), file.len() as u64);
}

#[test]
fn stats_add_up_over_files() {
    let file = pcap_file(false, false, RAW, &[(5, 0, &ipv4(1, A4, B4, &icmp()))]);
    let (a, _) = read_ok(&file);
    let file = pcap_file(
        false,
        false,
        ETHERNET,
        &[(3, 0, &frame_tcp(1)), (9, 0, &frame_tcp(2))],
    );
    let (b, _) = read_ok(&file[..file.len() - 1]);
    let mut total = a.clone();
    total += &b;
    assert_eq!((total.files, total.frames, total.ip_packets), (2, 2, 2));
    assert_eq!(
        (total.first_ts, total.last_ts),
        (Some(3_000_000_000), Some(5_000_000_000))
    );
    assert_eq!(total.linktypes.len(), 2);
    assert_eq!(total.ip_protocols.get(&1), Some(&1));
    assert!(total.truncated_file);
    assert_eq!(total.warnings.len(), 1);
    assert_eq!(a + b, total);
    assert!(total.to_string().contains("2 file(s), 2 frames"));
}

#[test]
fn reading_from_disk_and_fragment_option() {
    let first = ipv4_full(17, A4, B4, 3, 0x2000, &[], &udp(1, 2, &[0; 16]));
    let later = ipv4_full(17, A4, B4, 3, 0x0003, &[], &[0; 16]);
    let file = pcap_file(false, false, RAW, &[(1, 0, &first), (1, 1, &later)]);
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(&file).unwrap();
    tmp.flush().unwrap();
    for (policy, ports) in [(FragmentPolicy::Zero, 0), (FragmentPolicy::TrackFirst, 1)] {
        let options = PcapOptions {
            fragments: policy,
            ..PcapOptions::default()
        };
        let mut rec = RecordingConsumer::default();
        let stats = read_capture(tmp.path(), &options, &mut rec, &mut |_| {}).unwrap();
        assert_eq!(rec.updates[1].key.src_port, ports);
        assert_eq!((stats.fragments_first, stats.fragments_nonfirst), (1, 1));
        assert_eq!(stats.fragments_tracked, u64::from(ports));
    }
    let empty = tempfile::NamedTempFile::new().unwrap();
    let e = read_capture(
        empty.path(),
        &PcapOptions::default(),
        &mut RecordingConsumer::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let missing = empty.path().with_extension("missing");
    let e = read_capture(
        &missing,
        &PcapOptions::default(),
        &mut RecordingConsumer::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, CaptureError::Open { .. }));
    assert!(e.to_string().contains("missing"), "{e}");
}

#[test]
fn warnings_are_bounded_per_file() {
    let mut ng = Ng::new(false);
    ng.idb(1, &[]);
    let start = ng.buf.len();
    for _ in 0..150 {
        ng.epb(0, 1, &frame_tcp(1));
    }
    ng.epb(0, 2, &frame_tcp(2));
    let block = (ng.buf.len() - start) / 151;
    // Break the captured length of the first 150 packet blocks.
    for i in 0..150 {
        ng.buf[start + i * block + 20] = 0xFF;
    }
    let (stats, rec) = read_ok(&ng.buf);
    assert_eq!(rec.updates.len(), 1);
    assert_eq!((stats.warnings.len(), stats.warnings_suppressed), (100, 50));
}
