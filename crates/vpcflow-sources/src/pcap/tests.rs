//! Capture files built by hand: formats, interfaces, timestamps, damage.

use std::io::Write;
use std::path::Path;

use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};

use super::*;
use crate::decode::linktype::{ETHERNET, NULL, RAW};
use crate::decode::testutil::*;
use crate::stats::WarningKind;

/// Records everything it is given.
#[derive(Default)]
struct Recorder {
    names: Vec<String>,
    updates: Vec<FlowUpdate>,
    losses: Vec<LossEvent>,
}

impl FlowConsumer for Recorder {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| {
                self.names.push(name.to_owned());
                self.names.len() - 1
            });
        InterfaceIndex(i as u32)
    }
    fn update(&mut self, u: &FlowUpdate) {
        assert!((u.interface.0 as usize) < self.names.len());
        self.updates.push(*u);
    }
    fn loss(&mut self, l: &LossEvent) {
        self.losses.push(*l);
    }
}

impl Recorder {
    fn name_of(&self, u: &FlowUpdate) -> &str {
        &self.names[u.interface.0 as usize]
    }
}

fn read(data: &[u8], options: &PcapOptions) -> (Result<CaptureStats, CaptureError>, Recorder) {
    let mut rec = Recorder::default();
    let r = read_capture_bytes(Path::new("test.pcap"), data, options, &mut rec, &mut |_| {});
    (r, rec)
}

fn read_ok(data: &[u8]) -> (CaptureStats, Recorder) {
    let (r, rec) = read(data, &PcapOptions::default());
    (r.unwrap(), rec)
}

fn frame_tcp(sport: u16) -> Vec<u8> {
    eth(0x0800, &ipv4(6, A4, B4, &tcp(sport, 80, 0x02)))
}

/// A classic pcap file.
fn pcap_file(big: bool, nanos: bool, linktype: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let magic = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
    let mut v = Vec::new();
    v.extend_from_slice(&u32b(magic));
    v.extend_from_slice(&u16b(2));
    v.extend_from_slice(&u16b(4));
    v.extend_from_slice(&u32b(0));
    v.extend_from_slice(&u32b(0));
    v.extend_from_slice(&u32b(65535));
    v.extend_from_slice(&u32b(linktype));
    for &(sec, frac, frame) in records {
        v.extend_from_slice(&u32b(sec));
        v.extend_from_slice(&u32b(frac));
        v.extend_from_slice(&u32b(frame.len() as u32));
        v.extend_from_slice(&u32b(frame.len() as u32));
        v.extend_from_slice(frame);
    }
    v
}

/// A pcapng file being built.
struct Ng {
    big: bool,
    buf: Vec<u8>,
}

impl Ng {
    fn new(big: bool) -> Ng {
        let mut ng = Ng {
            big,
            buf: Vec::new(),
        };
        ng.shb();
        ng
    }
    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, t: u32, body: &[u8]) -> &mut Ng {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        let (t, l) = (self.u32b(t), self.u32b(len));
        self.buf.extend_from_slice(&t);
        self.buf.extend_from_slice(&l);
        self.buf.extend_from_slice(&body);
        self.buf.extend_from_slice(&l);
        self
    }
    fn options(&self, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        for &(code, value) in opts {
            v.extend_from_slice(&self.u16b(code));
            v.extend_from_slice(&self.u16b(value.len() as u16));
            v.extend_from_slice(value);
            while v.len() % 4 != 0 {
                v.push(0);
            }
        }
        if !opts.is_empty() {
            v.extend_from_slice(&[0, 0, 0, 0]);
        }
        v
    }
    fn shb(&mut self) -> &mut Ng {
        let mut body = self.u32b(0x1A2B_3C4D).to_vec();
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&[0xFF; 8]);
        self.block(0x0A0D_0D0A, &body)
    }
    fn idb(&mut self, linktype: u16, opts: &[(u16, &[u8])]) -> &mut Ng {
        let mut body = self.u16b(linktype).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32b(0));
        body.extend_from_slice(&self.options(opts));
        self.block(1, &body)
    }
    fn epb(&mut self, id: u32, ts: u64, frame: &[u8]) -> &mut Ng {
        let mut body = self.u32b(id).to_vec();
        body.extend_from_slice(&self.u32b((ts >> 32) as u32));
        body.extend_from_slice(&self.u32b(ts as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(frame);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        // An epb_flags option, as dumpcap writes.
        body.extend_from_slice(&self.options(&[(2, &[0, 0, 0, 1])]));
        self.block(6, &body)
    }
    fn opb(&mut self, id: u16, ts: u64, frame: &[u8]) -> &mut Ng {
        let mut body = self.u16b(id).to_vec();
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&self.u32b((ts >> 32) as u32));
        body.extend_from_slice(&self.u32b(ts as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(&self.u32b(frame.len() as u32));
        body.extend_from_slice(frame);
        self.block(2, &body)
    }
    fn spb(&mut self, frame: &[u8]) -> &mut Ng {
        let mut body = self.u32b(frame.len() as u32).to_vec();
        body.extend_from_slice(frame);
        self.block(3, &body)
    }
    fn isb(&mut self, id: u32, ts: u64, ifdrop: u64) -> &mut Ng {
        let mut body = self.u32b(id).to_vec();
        body.extend_from_slice(&self.u32b((ts >> 32) as u32));
        body.extend_from_slice(&self.u32b(ts as u32));
        let drop = if self.big {
            ifdrop.to_be_bytes()
        } else {
            ifdrop.to_le_bytes()
        };
        body.extend_from_slice(&self.options(&[(5, &drop)]));
        self.block(5, &body)
    }
}

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
fn progress_is_reported_up_to_the_end() {
    let frame = frame_tcp(1);
    let records: Vec<(u32, u32, &[u8])> = (0..100_000).map(|i| (i, 0, &frame[..])).collect();
    let file = pcap_file(false, false, ETHERNET, &records);
    let mut seen = Vec::new();
    let mut rec = Recorder::default();
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
        let mut rec = Recorder::default();
        let stats = read_capture(tmp.path(), &options, &mut rec, &mut |_| {}).unwrap();
        assert_eq!(rec.updates[1].key.src_port, ports);
        assert_eq!((stats.fragments_first, stats.fragments_nonfirst), (1, 1));
        assert_eq!(stats.fragments_tracked, u64::from(ports));
    }
    let empty = tempfile::NamedTempFile::new().unwrap();
    let e = read_capture(
        empty.path(),
        &PcapOptions::default(),
        &mut Recorder::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let missing = empty.path().with_extension("missing");
    let e = read_capture(
        &missing,
        &PcapOptions::default(),
        &mut Recorder::default(),
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
