use vpcflow_core::aggregate::{Aggregator, AggregatorConfig};
use vpcflow_core::record::FlowRecord;
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::window::Interval;
use vpcflow_core::{Action, FlowKey, FlowUpdate, InterfaceIndex};

use super::*;

const ID: &str = "flow_log=test";

fn open(dir: &Path) -> (Journal, Option<Recovered>) {
    Journal::open(dir, ID, Arc::default()).unwrap()
}

/// Batches of records, one per minute from `t0`: each closes the window
/// of the minute before.
fn batches(t0: u64, minutes: u64) -> Vec<Batch> {
    let mut a = Aggregator::new(AggregatorConfig {
        interval: Interval::OneMinute,
        allowed_lateness_secs: 0,
        ..AggregatorConfig::default()
    });
    let mut out = Vec::new();
    for m in 0..=minutes {
        for port in 0..20u16 {
            let t = (t0 + m * 60 + u64::from(port)) * 1_000_000_000;
            a.observe(&FlowUpdate {
                interface: InterfaceIndex(0),
                key: FlowKey {
                    src: "10.0.0.1".parse().unwrap(),
                    dst: "10.0.0.2".parse().unwrap(),
                    src_port: port,
                    dst_port: 80,
                    protocol: 6,
                },
                packet_addrs: None,
                packets: 1,
                bytes: 100,
                first: t,
                last: t,
                tcp_flags: TcpFlags::NONE,
                action: Action::Accept,
            });
        }
        if let Some(c) = a.take_released() {
            let mut bytes = Vec::new();
            c.encode(&mut bytes);
            out.push(Batch {
                seq: out.len() as u64 + 1,
                complete_before: c.complete_before,
                bytes,
            });
        }
    }
    out
}

fn records(batches: &[Batch]) -> Vec<FlowRecord> {
    batches
        .iter()
        .flat_map(|b| Closed::decode(&b.bytes).unwrap().into_sorted_records())
        .collect()
}

fn segment(dir: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = fs::read_dir(dir.join(FOLDER))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

#[test]
fn frames_are_read_back_and_a_torn_end_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let all = batches(3_000, 6);
    {
        let (mut j, recovered) = open(tmp.path());
        assert!(recovered.is_none());
        assert!(j.snapshot_due());
        j.snapshot(0, 0, &["eth0".into()], b"s0", &[]).unwrap();
        assert!(!j.snapshot_due());
        j.append(2, &["eth1".into()], b"s1", &all[..2]).unwrap();
        j.append(all.len() as u64, &[], b"s2", &all[2..]).unwrap();
    }
    let (j, recovered) = open(tmp.path());
    let r = recovered.unwrap();
    assert_eq!(r.interfaces, ["eth0", "eth1"]);
    assert_eq!(r.states, [b"s0".to_vec(), b"s1".to_vec(), b"s2".to_vec()]);
    assert_eq!(r.batches, all);
    assert_eq!(r.last_seq, all.len() as u64);
    assert_eq!(r.ignored_bytes, 0);
    drop(j);
    // A write cut short: the last frame is not used, the others are.
    let path = segment(tmp.path());
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let r = open(tmp.path()).1.unwrap();
    assert_eq!(r.states.len(), 2);
    assert_eq!(r.batches, all[..2]);
    assert_eq!(r.last_seq, 2);
    assert!(r.ignored_bytes > 0);
    // A damaged byte in the middle frame: it and what follows are ignored.
    let mut bytes = fs::read(&path).unwrap();
    // Header 61 bytes, snapshot frame 39: inside the second frame.
    let at = 61 + 39 + 12;
    bytes[at] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let r = open(tmp.path()).1.unwrap();
    assert_eq!(r.states, [b"s0".to_vec()]);
    assert!(r.batches.is_empty());
}

#[test]
fn a_snapshot_keeps_the_records_of_unsealed_slots_and_unacknowledged_batches() {
    let tmp = tempfile::tempdir().unwrap();
    // Twenty minutes: four 5-minute slots.
    let all = batches(6_000, 20);
    let (mut j, _) = open(tmp.path());
    j.snapshot(0, 0, &[], b"", &[]).unwrap();
    j.append(all.len() as u64, &[], b"", &all).unwrap();
    let first = segment(tmp.path());
    // The writer has done the first 12 batches.
    let acked = 12;
    let sealed_before = all[acked as usize - 1].complete_before;
    j.snapshot(all.len() as u64, acked, &["eth0".into()], b"full", &[])
        .unwrap();
    let second = segment(tmp.path());
    assert_ne!(first, second, "the old segment is removed");
    drop(j);
    let r = open(tmp.path()).1.unwrap();
    assert_eq!(r.states, [b"full".to_vec()]);
    let kept = records(&r.batches);
    let want: Vec<FlowRecord> = all
        .iter()
        .flat_map(|b| {
            let rs = Closed::decode(&b.bytes).unwrap().into_sorted_records();
            let unsealed = move |r: &FlowRecord| slot_of(r.end) + SLOT_SECS > sealed_before;
            let whole = b.seq > acked;
            rs.into_iter().filter(move |r| whole || unsealed(r))
        })
        .collect();
    assert_eq!(kept, want);
    assert!(
        kept.len() < records(&all).len(),
        "sealed slots were dropped"
    );
    // Batch order and numbers are kept.
    assert!(r.batches.windows(2).all(|w| w[0].seq < w[1].seq));
    // A clean stop leaves nothing.
    let (mut j, _) = open(tmp.path());
    j.clear().unwrap();
    drop(j);
    assert!(open(tmp.path()).1.is_none());
}

#[test]
fn another_configurations_journal_is_set_aside_and_the_folder_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = open(tmp.path());
    j.snapshot(0, 0, &[], b"", &[]).unwrap();
    let e = Journal::open(tmp.path(), ID, Arc::default()).err().unwrap();
    assert!(e.contains("in use by another vpcflow run"), "{e}");
    drop(j);
    let (_j, recovered) = Journal::open(tmp.path(), "flow_log=other", Arc::default()).unwrap();
    assert!(recovered.is_none());
    let rejected: Vec<_> = fs::read_dir(tmp.path().join(FOLDER))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rejected"))
        .collect();
    assert_eq!(rejected.len(), 1);
}
