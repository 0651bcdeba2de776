//! The delivery of sealed batches with a scripted sender: a batch leaves
//! the spool only once confirmed, failures are retried as classified, and
//! leftovers of an earlier run go first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::delivery::BatchSender;
use super::{SpoolSettings, SpooledBatches};
use crate::aws::{Class, Failure};
use crate::s3::DrainPolicy;
use crate::spool::entry::Entry;
use crate::spool::DrainOutcome;

/// Answers each send with the next scripted result (then success), and
/// keeps what it was given.
#[derive(Clone, Default)]
struct Scripted {
    answers: Arc<Mutex<VecDeque<Result<(), Failure>>>>,
    sent: Arc<Mutex<Vec<(String, String)>>>,
}

impl BatchSender for Scripted {
    async fn send(&mut self, entry: &Entry, body: &[u8]) -> Result<(), Failure> {
        self.sent.lock().unwrap().push((
            entry.sidecar.keys[0].clone(),
            String::from_utf8_lossy(body).into_owned(),
        ));
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}

fn open(dir: &std::path::Path, sender: Scripted, drain: DrainPolicy) -> SpooledBatches {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let spool = SpoolSettings {
        dir: dir.to_path_buf(),
        max_bytes: 1 << 20,
        drain,
    };
    SpooledBatches::deliver_with(
        "cloudwatch://group".into(),
        "group",
        &spool,
        "test-delivery",
        runtime,
        Duration::from_secs(3600),
        |_| sender,
    )
    .unwrap()
}

fn ready_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("ready")).unwrap().count()
}

#[test]
fn transient_failures_are_retried_and_the_batch_removed_once_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let sender = Scripted::default();
    sender.answers.lock().unwrap().extend([
        Err(Failure::new(
            Class::Transient,
            "ThrottlingException",
            "slow down",
        )),
        Err(Failure::new(Class::Transient, "connection", "refused")),
    ]);
    let mut batches = open(dir.path(), sender.clone(), DrainPolicy::UntilDelivered);
    batches.seal("group", "eni-1-all", b"1000 a\n").unwrap();
    batches.finish();
    let report = batches.report().unwrap();
    assert_eq!(report.outcome, DrainOutcome::Drained);
    assert_eq!((report.delivered, report.left.files), (1, 0));
    assert_eq!(ready_files(dir.path()), 0);
    let sent = sender.sent.lock().unwrap();
    assert_eq!(sent.len(), 3);
    assert!(sent
        .iter()
        .all(|s| *s == ("eni-1-all".into(), "1000 a\n".into())));
    let counts = batches.stats().snapshot();
    assert_eq!(counts.upload_errors_transient, 2);
    assert_eq!(counts.objects_delivered, 1);
}

#[test]
fn a_permanent_failure_keeps_the_batch_and_ends_a_one_shot_wait() {
    let dir = tempfile::tempdir().unwrap();
    let sender = Scripted::default();
    sender.answers.lock().unwrap().push_back(Err(Failure::new(
        Class::Permanent,
        "AccessDeniedException",
        "no",
    )));
    let mut batches = open(dir.path(), sender.clone(), DrainPolicy::UntilDelivered);
    batches.seal("group", "eni-1-all", b"1000 a\n").unwrap();
    batches.finish();
    let report = batches.report().unwrap();
    assert_eq!(report.outcome, DrainOutcome::OnlyPermanentErrors);
    assert_eq!(report.left.files, 1);
    assert_eq!(ready_files(dir.path()), 2, "data and sidecar stay");
    assert_eq!(batches.stats().snapshot().upload_errors_permanent, 1);
}

#[test]
fn leftovers_of_an_earlier_run_are_sent_first_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        // An earlier run whose sends never succeed, stopped at once.
        let sender = Scripted::default();
        sender.answers.lock().unwrap().extend((0..100).map(|_| {
            Err(Failure::new(
                Class::Permanent,
                "AccessDeniedException",
                "no",
            ))
        }));
        let mut batches = open(dir.path(), sender, DrainPolicy::For(Duration::ZERO));
        batches.seal("group", "s1", b"1 first\n").unwrap();
        batches.seal("group", "s2", b"2 second\n").unwrap();
        batches.finish();
        let report = batches.report().unwrap();
        assert_eq!(report.left.files, 2);
    }
    let sender = Scripted::default();
    let mut batches = open(dir.path(), sender.clone(), DrainPolicy::UntilDelivered);
    batches.seal("group", "s3", b"3 third\n").unwrap();
    batches.finish();
    let report = batches.report().unwrap();
    assert_eq!(report.left.files, 0);
    let keys: Vec<String> = sender
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0.clone())
        .collect();
    assert_eq!(keys, ["s1", "s2", "s3"]);
}
