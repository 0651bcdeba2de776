//! A store that is down: objects wait in the spool, transient errors are
//! counted, and everything arrives once it is up (with its own Garage server
//! of `vpcflow_testkit::garage`; skipped like `s3_delivery`); a bounded
//! shutdown while it is down leaves the objects in the spool and reports them
//! (no server needed).

mod common;

use std::time::Duration;

use common::{bytes, drained, put, s3_options, set_profile, spool};
use vpcflow_sinks::s3::Delivery;
use vpcflow_sinks::spool::DrainOutcome;
use vpcflow_testkit::garage::Garage;

#[test]
fn objects_wait_while_the_server_is_down_then_arrive() {
    let Some(mut g) = Garage::start() else {
        return;
    };
    set_profile("outage", g.key_id(), g.secret());
    g.stop();
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, stats) = spool(dir.path(), g.bucket(), "outage");
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| bytes(40_000, 70 + i)).collect();
    let keys: Vec<String> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| put(&mut sp, b, 70 + i as u32 * 100))
        .collect();
    let mut delivery = Delivery::start(queue.clone(), s3_options(&g, "outage")).unwrap();
    assert_eq!(
        drained(&queue, Duration::from_secs(3)),
        DrainOutcome::TimedOut
    );
    let s = stats.snapshot();
    assert!(s.upload_errors_transient >= 3, "{s:?}");
    assert_eq!((s.upload_errors_permanent, s.spool_files), (0, 3));
    g.restart();
    assert_eq!(
        drained(&queue, Duration::from_secs(120)),
        DrainOutcome::Drained
    );
    delivery.stop();
    assert_eq!(stats.snapshot().objects_delivered, 3);
    let reader = g.client();
    for (key, body) in keys.iter().zip(&bodies) {
        assert!(reader.get(key).unwrap().body == *body, "{key}");
    }
}

#[test]
fn a_bounded_shutdown_leaves_what_is_not_delivered_in_the_spool_and_says_so() {
    use std::time::Instant;

    use vpcflow_core::format::LogFormat;
    use vpcflow_core::layout::Layout;
    use vpcflow_core::name::FlowLogId;
    use vpcflow_sinks::s3::{DrainPolicy, S3Destination, S3Options, S3Sink, S3SinkOptions};
    use vpcflow_sinks::{RecordSink, WriterOptions};

    // Nothing listens there: every attempt is a refused connection.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    set_profile("nowhere", "GK0000", "secret");
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut sp, _queue, _stats) = spool(dir.path(), "flowlogs", "shutdown");
        put(&mut sp, b"one", 90);
        put(&mut sp, b"two", 190);
    }
    let options = S3SinkOptions {
        destination: S3Destination::parse("s3://flowlogs/shutdown/").unwrap(),
        layout: Layout::default(),
        spool_dir: dir.path().to_path_buf(),
        spool_max_bytes: 1 << 30,
        s3: S3Options {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: Some("us-east-1".into()),
            profile: Some("nowhere".into()),
            ..S3Options::default()
        },
        drain: DrainPolicy::For(Duration::from_secs(2)),
    };
    let id = FlowLogId::new("123456789012", "us-east-1", "fl-0123456789abcdef0").unwrap();
    let mut sink =
        S3Sink::open(options, id, LogFormat::default(), WriterOptions::default()).unwrap();
    let stats = sink.stats();
    let started = Instant::now();
    let summary = sink.finish().unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(summary.files, 0);
    let report = sink.report().unwrap();
    assert_eq!(report.outcome, DrainOutcome::TimedOut);
    assert_eq!(
        (report.delivered, report.left.files, report.left.bytes),
        (0, 2, 6)
    );
    assert_eq!(report.left.folder, dir.path());
    let s = stats.snapshot();
    assert!(s.upload_errors_transient >= 1, "{s:?}");
    assert_eq!(s.upload_errors_permanent, 0);
    drop(sink);
    // Both are still committed in the spool for the next start.
    let ready = std::fs::read_dir(dir.path().join("ready")).unwrap().count();
    assert_eq!(ready, 4);
}
