//! Delivery from the spool into a real S3-compatible server (Garage, started
//! by `../shared/scripts/s3-server-start.sh`): keys, headers, bodies,
//! multipart, idempotence, collisions and permanent errors.
//!
//! Skipped with a message when Garage or the shared scripts are missing,
//! unless `VPCFLOW_REQUIRE_S3=1`.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{bytes, drained, put, s3_options, set_profile, spool};
use vpcflow_core::layout::Layout;
use vpcflow_sinks::s3::{drain_spool, Delivery, DrainPolicy, S3Destination, S3SinkOptions};
use vpcflow_sinks::spool::DrainOutcome;
use vpcflow_testkit::garage::Garage;

/// One server for the whole file; each test writes below its own prefix.
fn server() -> Option<&'static Garage> {
    static SERVER: OnceLock<Option<Garage>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let g = Garage::start()?;
            set_profile("good", g.key_id(), g.secret());
            set_profile(
                "bad",
                g.key_id(),
                "0000000000000000000000000000000000000000000000000000000000000000",
            );
            Some(g)
        })
        .as_ref()
}

#[test]
fn an_object_lands_at_its_key_with_the_right_headers_and_bytes() {
    let Some(g) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, stats) = spool(dir.path(), g.bucket(), "headers");
    let body = bytes(300_000, 1);
    let key = put(&mut sp, &body, 10);
    let mut delivery = Delivery::start(queue.clone(), s3_options(g, "good")).unwrap();
    assert_eq!(
        drained(&queue, Duration::from_secs(60)),
        DrainOutcome::Drained
    );
    delivery.stop();
    let stored = g.client().get(&key).expect("delivered");
    assert!(stored.body == body, "body differs");
    assert_eq!(
        stored.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(stored.content_encoding, None);
    let s = stats.snapshot();
    assert_eq!((s.objects_delivered, s.already_present), (1, 0));
    assert_eq!(
        (s.bytes_delivered, s.spool_files, s.spool_bytes),
        (300_000, 0, 0)
    );
    assert_eq!(s.upload_latency_count, 1);
    assert!(std::fs::read_dir(dir.path().join("ready"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn a_large_object_is_sent_in_parts() {
    let Some(g) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, _stats) = spool(dir.path(), g.bucket(), "multipart");
    let body = bytes(12 << 20, 2);
    let key = put(&mut sp, &body, 20);
    let mut options = s3_options(g, "good");
    options.multipart_threshold = 5 << 20;
    options.multipart_part_size = 5 << 20;
    let mut delivery = Delivery::start(queue.clone(), options).unwrap();
    assert_eq!(
        drained(&queue, Duration::from_secs(120)),
        DrainOutcome::Drained
    );
    delivery.stop();
    let stored = g.client().get(&key).expect("delivered");
    assert!(stored.body == body, "body differs");
    assert_eq!(
        stored.content_type.as_deref(),
        Some("application/octet-stream")
    );
    // The ETag of a multipart object ends with its number of parts.
    let e_tag = stored.e_tag.unwrap_or_default();
    assert!(e_tag.trim_matches('"').ends_with("-3"), "{e_tag}");
}

#[test]
fn a_multipart_upload_left_by_a_killed_attempt_is_aborted() {
    let Some(g) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, _stats) = spool(dir.path(), g.bucket(), "leftover-parts");
    let body = bytes(11 << 20, 4);
    let key = put(&mut sp, &body, 21);
    let options = || {
        let mut o = s3_options(g, "good");
        o.multipart_threshold = 5 << 20;
        o.multipart_part_size = 5 << 20;
        o
    };
    let reader = g.client();
    reader.abandon_multipart(&key);
    assert_eq!(reader.incomplete_uploads(&key).len(), 1);
    // Garage drops a key's incomplete uploads itself once an object is
    // stored there (AWS S3 keeps them until aborted), so the log shows that
    // delivery aborted it.
    let log = capture_logs();
    let mut delivery = Delivery::start(queue.clone(), options()).unwrap();
    assert_eq!(
        drained(&queue, Duration::from_secs(120)),
        DrainOutcome::Drained
    );
    delivery.stop();
    assert!(reader.get(&key).expect("delivered").body == body);
    assert_eq!(
        reader.incomplete_uploads(&key),
        Vec::<String>::new(),
        "the abandoned upload is aborted"
    );
    let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        log.contains("aborted an incomplete multipart upload left by an earlier attempt"),
        "{log}"
    );
}

/// Log lines of this test process (info and up), collected from now on.
fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex};
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(buffer.clone());
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("only this test sets the global subscriber");
    buffer
}

#[test]
fn the_same_object_twice_is_stored_once() {
    let Some(g) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, stats) = spool(dir.path(), g.bucket(), "twice");
    let body = bytes(50_000, 3);
    let key = put(&mut sp, &body, 30);
    let mut delivery = Delivery::start(queue.clone(), s3_options(g, "good")).unwrap();
    assert_eq!(
        drained(&queue, Duration::from_secs(60)),
        DrainOutcome::Drained
    );
    // A retry after an unknown outcome: the same object spooled again.
    assert_eq!(put(&mut sp, &body, 30), key);
    assert_eq!(
        drained(&queue, Duration::from_secs(60)),
        DrainOutcome::Drained
    );
    delivery.stop();
    let s = stats.snapshot();
    assert_eq!((s.objects_delivered, s.already_present), (2, 1));
    let reader = g.client();
    assert_eq!(reader.keys("twice/"), [key]);
}

#[test]
fn a_key_holding_another_object_sends_it_to_the_next_candidate() {
    let Some(g) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, stats) = spool(dir.path(), g.bucket(), "collision");
    let reader = g.client();
    let key0 = key_of(40, 0);
    reader.put(&key0, b"another exporter's object");
    let body = bytes(10_000, 4);
    assert_eq!(put(&mut sp, &body, 40), key0);
    let mut delivery = Delivery::start(queue.clone(), s3_options(g, "good")).unwrap();
    assert_eq!(
        drained(&queue, Duration::from_secs(60)),
        DrainOutcome::Drained
    );
    delivery.stop();
    assert_eq!(
        reader.get(&key0).unwrap().body,
        b"another exporter's object"
    );
    let key1 = key_of(40, 1);
    assert!(reader.get(&key1).unwrap().body == body);
    let mut keys = reader.keys("collision/");
    keys.sort();
    let mut want = vec![key0, key1];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(stats.snapshot().already_present, 0);
}

/// The key of attempt `a` of the object of `hash`, below `collision/`.
fn key_of(hash: u32, a: u32) -> String {
    Layout::default().key(
        &vpcflow_core::layout::Prefix::new("collision").unwrap(),
        &common::name(hash, a),
    )
}

/// Waits until the delivery reports a permanent error, and checks that the
/// object is kept in the spool.
fn assert_permanent(bucket: &str, profile: &str, prefix: &str) {
    let g = server().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, stats) = spool(dir.path(), bucket, prefix);
    put(&mut sp, b"kept", 50);
    let mut options = s3_options(g, profile);
    options.permanent_error_retry = Duration::from_secs(3600);
    let mut delivery = Delivery::start(queue.clone(), options).unwrap();
    let outcome = queue.wait_drained(Some(Instant::now() + Duration::from_secs(60)), Some(4));
    delivery.stop();
    assert_eq!(outcome, DrainOutcome::OnlyPermanentErrors);
    let s = stats.snapshot();
    assert_eq!(s.upload_errors_permanent, 1);
    assert_eq!((s.objects_delivered, s.spool_files), (0, 1));
    let ready: Vec<_> = std::fs::read_dir(dir.path().join("ready"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ready.len(), 2, "{ready:?}");
}

#[test]
fn a_body_that_does_not_match_its_checksum_is_refused_by_the_store() {
    let Some(g) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, stats) = spool(dir.path(), g.bucket(), "corrupt");
    let key = put(&mut sp, &bytes(5_000, 5), 80);
    // Damage the committed object after its SHA-256 went into the sidecar.
    let data = std::fs::read_dir(dir.path().join("ready"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "obj"))
        .unwrap();
    let mut damaged = std::fs::read(&data).unwrap();
    damaged[100] ^= 0xff;
    std::fs::write(&data, damaged).unwrap();
    let mut options = s3_options(g, "good");
    options.permanent_error_retry = Duration::from_secs(3600);
    let mut delivery = Delivery::start(queue.clone(), options).unwrap();
    let outcome = queue.wait_drained(Some(Instant::now() + Duration::from_secs(60)), Some(4));
    delivery.stop();
    assert_eq!(outcome, DrainOutcome::OnlyPermanentErrors);
    assert_eq!(stats.snapshot().upload_errors_permanent, 1);
    assert!(g.client().get(&key).is_none());
}

#[test]
fn a_missing_bucket_is_a_permanent_error_and_the_object_is_kept() {
    if server().is_none() {
        return;
    }
    assert_permanent("vpcflow-no-such-bucket", "good", "missing");
}

#[test]
fn wrong_credentials_are_a_permanent_error_and_the_object_is_kept() {
    let Some(g) = server() else { return };
    assert_permanent(g.bucket(), "bad", "badcreds");
}

#[test]
fn objects_left_by_an_earlier_run_are_delivered_at_the_next_start() {
    let Some(g) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| bytes(20_000 + i, 60 + i as u64)).collect();
    let keys: Vec<String> = {
        let (mut sp, _queue, _stats) = spool(dir.path(), g.bucket(), "leftovers");
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| put(&mut sp, b, 60 + i as u32 * 100))
            .collect()
        // Dropped without delivery, as by a crash.
    };
    let report = drain_spool(S3SinkOptions {
        destination: S3Destination::parse(&format!("s3://{}/leftovers/", g.bucket())).unwrap(),
        layout: Layout::default(),
        spool_dir: dir.path().to_path_buf(),
        spool_max_bytes: 1 << 30,
        s3: s3_options(g, "good"),
        drain: DrainPolicy::For(Duration::from_secs(60)),
    })
    .unwrap();
    assert_eq!(report.outcome, DrainOutcome::Drained);
    assert_eq!((report.delivered, report.left.files), (3, 0));
    let reader = g.client();
    for (key, body) in keys.iter().zip(&bodies) {
        assert!(reader.get(key).unwrap().body == *body, "{key}");
    }
}
