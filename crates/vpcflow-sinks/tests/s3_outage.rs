//! A store that is down when delivery starts: objects wait in the spool,
//! transient errors are counted, and everything arrives once it is up.
//! Uses its own Garage server (see `common`); skipped like `s3_delivery`.

mod common;

use std::time::Duration;

use common::{bytes, drained, put, set_profile, spool, Garage, Reader};
use vpcflow_sinks::s3::Delivery;
use vpcflow_sinks::spool::DrainOutcome;

#[test]
fn objects_wait_while_the_server_is_down_then_arrive() {
    let Some(g) = Garage::start_or_skip() else {
        return;
    };
    set_profile("outage", &g.key_id, &g.secret);
    g.stop();
    let dir = tempfile::tempdir().unwrap();
    let (mut sp, queue, stats) = spool(dir.path(), &g.bucket, "outage");
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| bytes(40_000, 70 + i)).collect();
    let keys: Vec<String> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| put(&mut sp, b, 70 + i as u32 * 100))
        .collect();
    let mut delivery = Delivery::start(queue.clone(), g.options("outage")).unwrap();
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
    let reader = Reader::new(&g.options("outage"));
    for (key, body) in keys.iter().zip(&bodies) {
        assert!(reader.get(&g.bucket, key).unwrap().body == *body, "{key}");
    }
}
