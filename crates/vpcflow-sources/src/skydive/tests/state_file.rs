//! The state file: its format, damaged files, and the state folder.

use std::time::Duration;

use sha2::{Digest, Sha256};
use vpcflow_core::PacketAddrs;

use super::*;
use crate::skydive::snapshot::{
    ConversationEntry, ConverterSnapshot, DirectionEntry, FlowEntry, SideEntry, TemplateEntry,
};
use crate::skydive::state_file::{decode, encode, StateFileError, FORMAT_VERSION, MAGIC};
use crate::skydive::state_store::STATE_FILE;

const ID: &str = "flow_log=123456789012/eu-west-1/fl-0123456789abcdef0";

/// A snapshot with every kind of entry and value.
fn sample() -> ConverterSnapshot {
    let side = |src: &str, packets| SideEntry {
        src: Some(ip(src)),
        packets,
        bytes: packets * 100,
    };
    ConverterSnapshot {
        now_ms: 1_700_000_123_456,
        last_sweep_ms: 1_700_000_000_000,
        flows: vec![
            FlowEntry {
                id: u128::MAX - 7,
                delta_span: (1, 2),
                metric: [3, -4, 5, 6],
                metric_last: 7,
                last_seen: 8,
                bits: 15,
                flags_done: [2, 18],
                inner: Some(PacketAddrs {
                    src: ip("2001:db8::1"),
                    dst: ip("10.1.2.3"),
                }),
            },
            FlowEntry {
                id: 42,
                ..FlowEntry::default()
            },
        ],
        interfaces: vec![
            ("node-1".into(), "cap-1".into()),
            ("fw-out".into(), "".into()),
        ],
        capture_interfaces: vec![("cap-1".into(), vec!["node-1".into(), "fw-out".into()])],
        conversations: vec![ConversationEntry {
            tracking: "trk-é".into(),
            last_seen_ms: 99,
            dirs: [
                DirectionEntry {
                    template: Some(TemplateEntry {
                        interface: "fw-out".into(),
                        src: ip("10.0.0.1"),
                        dst: ip("10.0.0.2"),
                        src_port: 40000,
                        dst_port: 443,
                        protocol: 6,
                        packet_addrs: None,
                    }),
                    outside: side("10.0.0.1", 10),
                    decided_packets: 4,
                    decided_bytes: 400,
                    first: 11,
                    last: 12,
                    flags: 3,
                },
                DirectionEntry::default(),
            ],
            inside: [side("10.0.0.1", 4), SideEntry::default()],
        }],
    }
}

/// `content` (everything but the checksum) with a valid checksum after it.
fn sealed(content: &[u8]) -> Vec<u8> {
    let mut out = content.to_vec();
    out.extend_from_slice(&Sha256::digest(content));
    out
}

#[test]
fn a_snapshot_comes_back_as_it_was_written() {
    let s = sample();
    let bytes = encode(&s, ID, 1_700_000_200_000);
    assert!(bytes.starts_with(MAGIC));
    let file = decode(&bytes, ID).unwrap();
    assert_eq!(file.snapshot, s);
    assert_eq!(
        (file.version, file.written_ms),
        (FORMAT_VERSION, 1_700_000_200_000)
    );
    let empty = decode(&encode(&ConverterSnapshot::default(), ID, 0), ID).unwrap();
    assert_eq!(empty.snapshot, ConverterSnapshot::default());
}

#[test]
fn every_truncation_and_every_flipped_byte_is_an_error() {
    let bytes = encode(&sample(), ID, 5);
    for n in 0..bytes.len() {
        assert!(decode(&bytes[..n], ID).is_err(), "prefix of {n} bytes");
    }
    for i in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            let e = decode(&bad, ID).unwrap_err();
            assert!(
                matches!(e, StateFileError::BadMagic | StateFileError::BadChecksum),
                "byte {i}: {e}"
            );
        }
    }
    assert_eq!(decode(b"", ID), Err(StateFileError::Truncated));
    assert_eq!(
        decode(b"hello, world, this is not a state file at all", ID),
        Err(StateFileError::BadMagic)
    );
}

#[test]
fn damaged_content_under_a_valid_checksum_is_an_error_not_a_panic() {
    let bytes = encode(&sample(), ID, 5);
    let content = &bytes[..bytes.len() - 32];
    // Every truncation of the content, sealed again.
    for n in MAGIC.len()..content.len() {
        let e = decode(&sealed(&content[..n]), ID).unwrap_err();
        assert!(
            matches!(e, StateFileError::Malformed(_) | StateFileError::Truncated),
            "content of {n} bytes: {e}"
        );
    }
    // Every byte changed, sealed again: an error or a different snapshot,
    // never a panic.
    for i in MAGIC.len()..content.len() {
        let mut bad = content.to_vec();
        bad[i] = bad[i].wrapping_add(0x7f);
        let _ = decode(&sealed(&bad), ID);
    }
    // A list length larger than the file.
    let mut huge = encode(&ConverterSnapshot::default(), ID, 5);
    huge.truncate(huge.len() - 32);
    let flows_at = huge.len() - 4 * 5;
    huge[flows_at..flows_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        decode(&sealed(&huge), ID),
        Err(StateFileError::Malformed(_))
    ));
}

#[test]
fn another_format_version_is_refused_with_its_number() {
    let bytes = encode(&sample(), ID, 5);
    let mut content = bytes[..bytes.len() - 32].to_vec();
    content[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = decode(&sealed(&content), ID).unwrap_err();
    assert_eq!(e, StateFileError::UnsupportedVersion(FORMAT_VERSION + 1));
    assert!(e.to_string().contains("format version 2"), "{e}");
}

#[test]
fn a_state_of_another_configuration_is_refused_naming_it() {
    let bytes = encode(&sample(), ID, 5);
    let e = decode(&bytes, "flow_log=another").unwrap_err();
    assert_eq!(e, StateFileError::ForeignConfiguration(ID.into()));
    assert!(e.to_string().contains("another configuration"), "{e}");
}

#[test]
fn the_state_folder_saves_loads_expires_and_sets_damaged_files_aside() {
    let dir = tempfile::tempdir().unwrap();
    let ttl = Duration::from_secs(1800);
    let store = StateStore::open(dir.path(), ID, ttl).unwrap();
    assert_eq!(store.load(0), LoadOutcome::Missing);
    let t = 1_700_000_000_000;
    store.save(&sample(), t).unwrap();
    assert!(!dir.path().join(format!("{STATE_FILE}.tmp")).exists());
    match store.load(t + 60_000) {
        LoadOutcome::Restored(f) => assert_eq!(f.snapshot, sample()),
        other => panic!("{other:?}"),
    }
    // Older than the TTL (wall clock): ignored, and left in place.
    assert_eq!(
        store.load(t + 1_801_000),
        LoadOutcome::Expired { age_secs: 1801 }
    );
    assert!(store.path().exists());

    // A second process (here a second open) cannot use the folder.
    let busy = StateStore::open(dir.path(), ID, ttl).unwrap_err();
    assert!(busy.contains("in use by another vpcflow process"), "{busy}");
    assert!(busy.contains(dir.path().to_str().unwrap()), "{busy}");

    // A damaged file is set aside, not overwritten by the next save.
    let mut bytes = std::fs::read(store.path()).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(store.path(), &bytes).unwrap();
    let aside = dir.path().join(format!("{STATE_FILE}.rejected"));
    match store.load(t) {
        LoadOutcome::Rejected { reason, moved_to } => {
            assert!(reason.contains("checksum"), "{reason}");
            assert_eq!(moved_to.as_deref(), Some(aside.as_path()));
        }
        other => panic!("{other:?}"),
    }
    assert!(!store.path().exists());
    assert_eq!(std::fs::read(&aside).unwrap(), bytes);
    drop(store);

    // Another configuration's state: set aside with the reason.
    let other = StateStore::open(dir.path(), "flow_log=other", ttl).unwrap();
    other.save(&sample(), t).unwrap();
    drop(other);
    let store = StateStore::open(dir.path(), ID, ttl).unwrap();
    let outcome = store.load(t);
    let text = state_store::describe(&outcome, &store.path());
    assert!(
        matches!(outcome, LoadOutcome::Rejected { .. }),
        "{outcome:?}"
    );
    assert!(
        text.contains("another configuration (flow_log=other)"),
        "{text}"
    );
    assert!(text.contains(STATE_FILE), "{text}");
}

#[test]
fn checkpoints_are_written_off_the_ingest_thread_and_never_go_back_in_time() {
    use crate::skydive::state_writer::StateWriter;
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(dir.path(), ID, Duration::from_secs(1800)).unwrap();
    let mut writer = StateWriter::new(store, Duration::ZERO);
    assert!(
        writer.due(),
        "periodic writes until the journal checkpoints"
    );
    let t = 1_700_000_000_000;
    // Checkpoints take the flows in any order and write them sorted.
    let at = |ms: i64| {
        let mut s = ConverterSnapshot {
            now_ms: ms,
            ..sample()
        };
        s.sort_flows();
        s
    };

    // Taking a checkpoint writes nothing yet; its write does, on any thread.
    let mut unsorted = at(t + 1);
    unsorted.flows.reverse();
    let write = writer.checkpoint(unsorted, t);
    assert!(
        !writer.due(),
        "no periodic writes once checkpoints are taken"
    );
    assert_eq!(writer.store().load(t), LoadOutcome::Missing);
    std::thread::spawn(write).join().unwrap();
    match writer.store().load(t) {
        LoadOutcome::Restored(f) => assert_eq!(f.snapshot, at(t + 1)),
        other => panic!("{other:?}"),
    }

    // A checkpoint still on its way when the stop writes a newer state is
    // skipped: the file keeps the newest state.
    let late = writer.checkpoint(at(t + 2), t);
    writer.save_now(&at(t + 3), t);
    late();
    match writer.store().load(t) {
        LoadOutcome::Restored(f) => assert_eq!(f.snapshot, at(t + 3)),
        other => panic!("{other:?}"),
    }
    // Checkpoints taken after it are written again.
    writer.checkpoint(at(t + 4), t)();
    match writer.store().load(t) {
        LoadOutcome::Restored(f) => assert_eq!(f.snapshot, at(t + 4)),
        other => panic!("{other:?}"),
    }
}
