use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use vpcflow_core::name::{FileKind, FlowLogId};

use super::*;

fn name(hash: u32) -> FileName {
    FileName {
        id: FlowLogId::new("123456789012", "us-east-1", "fl-1234abcd").unwrap(),
        slot: 1_529_511_600,
        hash,
        kind: FileKind::TextGzip,
    }
}

fn options(max_bytes: u64) -> SpoolOptions {
    SpoolOptions {
        bucket: "flow-bucket".into(),
        layout: Layout::default(),
        prefix: Prefix::new("logs").unwrap(),
        max_bytes,
    }
}

fn open(root: &Path, max_bytes: u64) -> (Spool, SpoolQueue) {
    Spool::open(root, options(max_bytes), Arc::default()).unwrap()
}

fn publish(spool: &mut Spool, body: &[u8], hash: u32) -> PublishedObject {
    let mut staged = spool.stage().unwrap();
    staged.write_all(body).unwrap();
    spool.publish(staged, &|a| name(hash + a)).unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const KEY0: &str = "logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_00000000.log.gz";

#[test]
fn publish_commits_data_and_sidecar_then_recovers_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, queue) = open(dir.path(), 1 << 20);
    let p = publish(&mut spool, b"first", 0);
    assert_eq!(p.key, KEY0);
    assert_eq!((p.bytes, p.already_present), (5, false));
    publish(&mut spool, b"second!", 100);
    assert!(files(&dir.path().join("tmp")).is_empty());
    assert_eq!(
        files(&dir.path().join("ready")),
        [
            "00000000000000000000.json",
            "00000000000000000000.obj",
            "00000000000000000001.json",
            "00000000000000000001.obj"
        ]
    );
    let status = queue.status();
    assert_eq!((status.files, status.bytes), (2, 12));
    assert_eq!(queue.stats().spool_bytes.load(Ordering::Relaxed), 12);
    drop((spool, queue));

    let (mut spool, queue) = open(dir.path(), 1 << 20);
    let first = queue.take_next().unwrap();
    assert_eq!(first.seq, 0);
    assert_eq!(fs::read(&first.data).unwrap(), b"first");
    let s = &first.sidecar;
    assert_eq!((s.bucket.as_str(), s.bytes), ("flow-bucket", 5));
    assert_eq!(s.keys.len(), KEY_ATTEMPTS as usize);
    assert_eq!(s.keys[0], KEY0);
    assert!(s.keys[1].ends_with("_00000001.log.gz"), "{}", s.keys[1]);
    assert_eq!(
        s.sha256,
        "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"
    );
    let second = queue.take_next().unwrap();
    assert_eq!(second.seq, 1);
    assert_eq!(queue.take_next(), None);
    // New objects continue the sequence after the recovered ones.
    publish(&mut spool, b"third", 200);
    assert_eq!(queue.take_next().unwrap().seq, 2);
    queue.remove(&first).unwrap();
    assert!(!first.data.exists() && !first.sidecar_path.exists());
    assert_eq!(queue.status().files, 2);
}

#[test]
fn crash_leftovers_are_removed_and_committed_objects_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, queue) = open(dir.path(), 1 << 20);
    publish(&mut spool, b"committed", 0);
    drop((spool, queue));
    let ready = dir.path().join("ready");
    let tmp = dir.path().join("tmp");
    // A crash while writing an object, and one between the sidecar and the
    // commit point (the rename of the data): neither was published.
    fs::write(tmp.join("999-3.tmp"), b"half written").unwrap();
    fs::write(tmp.join("00000000000000000007.json.tmp"), b"{").unwrap();
    fs::write(ready.join("00000000000000000005.json"), b"{\"bucket\":").unwrap();
    // A sidecar that does not match its data is damaged: kept, not delivered.
    fs::write(ready.join("00000000000000000009.obj"), b"xx").unwrap();
    fs::copy(
        ready.join("00000000000000000000.json"),
        ready.join("00000000000000000009.json"),
    )
    .unwrap();

    let (mut spool, queue) = open(dir.path(), 1 << 20);
    assert!(files(&tmp).is_empty());
    assert_eq!(
        files(&ready),
        [
            "00000000000000000000.json",
            "00000000000000000000.obj",
            "00000000000000000009.json",
            "00000000000000000009.obj"
        ]
    );
    let entry = queue.take_next().unwrap();
    assert_eq!(fs::read(&entry.data).unwrap(), b"committed");
    assert_eq!(queue.take_next(), None);
    // Sequence numbers never reuse one seen on disk.
    publish(&mut spool, b"new", 0);
    assert_eq!(queue.take_next().unwrap().seq, 10);
}

#[test]
fn a_second_process_on_the_spool_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path(), 1 << 20);
    let e = Spool::open(dir.path(), options(1 << 20), Arc::default()).unwrap_err();
    assert!(matches!(e, SinkError::SpoolBusy { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    assert!(text.contains("in use by another process"), "{text}");
    drop(first);
    open(dir.path(), 1 << 20);
}

#[test]
fn a_full_spool_blocks_the_writer_until_a_delivery_frees_space() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, queue) = open(dir.path(), 10);
    publish(&mut spool, b"eight by", 0);
    let (done, finished) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        let p = publish(&mut spool, b"8 more!!", 100);
        done.send(p.bytes).unwrap();
        spool
    });
    assert_eq!(
        finished.recv_timeout(Duration::from_millis(300)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "the second object must wait: 16 bytes exceed the limit of 10"
    );
    assert_eq!(queue.stats().backpressure_waits.load(Ordering::Relaxed), 1);
    let first = queue.take_next().unwrap();
    queue.remove(&first).unwrap();
    assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(8));
    let mut spool = writer.join().unwrap();
    assert_eq!(queue.status().bytes, 8);
    // An object larger than the limit is admitted once the spool is empty.
    let second = queue.take_next().unwrap();
    queue.remove(&second).unwrap();
    let big = publish(&mut spool, b"much larger than ten bytes", 200);
    assert_eq!(big.bytes, 26);
    assert_eq!(queue.stats().backpressure_waits.load(Ordering::Relaxed), 1);
}

#[test]
fn admit_all_releases_a_waiting_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, queue) = open(dir.path(), 10);
    publish(&mut spool, b"eight by", 0);
    let writer = std::thread::spawn(move || publish(&mut spool, b"8 more!!", 100).bytes);
    std::thread::sleep(Duration::from_millis(100));
    queue.admit_all();
    assert_eq!(writer.join().unwrap(), 8);
    assert_eq!(queue.status().bytes, 16);
}

#[test]
fn waiting_for_the_drain_ends_on_time_or_on_permanent_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, queue) = open(dir.path(), 1 << 20);
    assert_eq!(queue.wait_drained(None, None), DrainOutcome::Drained);
    publish(&mut spool, b"a", 0);
    publish(&mut spool, b"b", 100);
    let soon = Instant::now() + Duration::from_millis(50);
    assert_eq!(queue.wait_drained(Some(soon), None), DrainOutcome::TimedOut);
    let a = queue.take_next().unwrap();
    queue.set_failing(a.seq, true);
    // With room for two uploads, b could still succeed: keep waiting.
    let soon = Instant::now() + Duration::from_millis(50);
    assert_eq!(
        queue.wait_drained(Some(soon), Some(2)),
        DrainOutcome::TimedOut
    );
    // With one upload at a time and it failing permanently, stop.
    assert_eq!(
        queue.wait_drained(None, Some(1)),
        DrainOutcome::OnlyPermanentErrors
    );
    let b = queue.take_next().unwrap();
    let remover = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            queue.remove(&a).unwrap();
            queue.remove(&b).unwrap();
        })
    };
    assert_eq!(queue.wait_drained(None, Some(1)), DrainOutcome::Drained);
    remover.join().unwrap();
    assert_eq!(queue.stats().spool_files.load(Ordering::Relaxed), 0);
}
