//! [`StateWriter`]: writes the converter's state to its [`StateStore`] while
//! `vpcflow run` runs (never on the ingest thread: periodic writes on a
//! thread of its own, checkpoint writes on the durability journal's thread)
//! and once more at the stop (waiting for it).
//!
//! Writes can finish out of order (a checkpoint handed to the journal
//! thread, the stop's write on the ingest thread): each state taken gets a
//! number, and a write whose state is older than the one already on disk
//! is skipped, so the file never goes back in time.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::snapshot::ConverterSnapshot;
use super::state_store::StateStore;
use crate::source::CheckpointWrite;

/// The store and what was written to it last, shared with the threads that
/// write.
struct Shared {
    store: StateStore,
    /// The number of the newest state written (held while writing).
    newest: Mutex<u64>,
    /// The last write failed (warned once until one succeeds).
    failing: AtomicBool,
}

impl Shared {
    /// Writes state number `seq` unless a newer one is on disk already;
    /// the number of flow states written (`None`: skipped).
    fn save(
        &self,
        seq: u64,
        snapshot: &ConverterSnapshot,
        now_ms: i64,
    ) -> io::Result<Option<usize>> {
        let mut newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
        if *newest >= seq {
            return Ok(None);
        }
        self.store.save(snapshot, now_ms)?;
        *newest = seq;
        Ok(Some(snapshot.flows.len()))
    }

    fn report(&self, result: io::Result<Option<usize>>, at_stop: bool) {
        let path = self.store.path();
        match result {
            Ok(flows) => {
                let was_failing = self.failing.swap(false, Ordering::Relaxed);
                if let Some(flows) = flows.filter(|_| was_failing || at_stop) {
                    tracing::info!(
                        "Skydive state written to {}: {flows} flow states",
                        path.display()
                    );
                }
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) || at_stop {
                    tracing::warn!("cannot write the Skydive state {}: {e}", path.display());
                }
            }
        }
    }
}

/// When and how the state is written.
pub(super) struct StateWriter {
    shared: Arc<Shared>,
    every: Duration,
    last_save: Instant,
    /// The number given to the last state taken.
    seq: u64,
    /// The durability journal takes checkpoints: periodic writes stop.
    checkpointed: bool,
    /// A background write.
    in_flight: Option<JoinHandle<io::Result<Option<usize>>>>,
}

impl StateWriter {
    /// Writes to `store` every `every`.
    pub(super) fn new(store: StateStore, every: Duration) -> StateWriter {
        StateWriter {
            shared: Arc::new(Shared {
                store,
                newest: Mutex::new(0),
                failing: AtomicBool::new(false),
            }),
            every,
            last_save: Instant::now(),
            seq: 0,
            checkpointed: false,
            in_flight: None,
        }
    }

    /// The store written to.
    pub(super) fn store(&self) -> &StateStore {
        &self.shared.store
    }

    /// Whether a periodic write is due (never once the journal takes
    /// checkpoints, which are more frequent).
    pub(super) fn due(&self) -> bool {
        !self.checkpointed && self.last_save.elapsed() >= self.every
    }

    /// Starts writing `snapshot` (taken at wall-clock `now_ms`) in the
    /// background; skipped while the previous write is still going on.
    pub(super) fn save_in_background(&mut self, snapshot: ConverterSnapshot, now_ms: i64) {
        self.last_save = Instant::now();
        if self.in_flight.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.collect();
        self.seq += 1;
        let (shared, seq) = (self.shared.clone(), self.seq);
        let spawned = thread::Builder::new()
            .name("vpcflow-state".into())
            .spawn(move || shared.save(seq, &snapshot, now_ms));
        match spawned {
            Ok(handle) => self.in_flight = Some(handle),
            Err(e) => self.shared.report(Err(e), false),
        }
    }

    /// Waits for a background write, then writes `snapshot` (the state at
    /// the stop), reporting the result. A checkpoint still on its way is
    /// then skipped (its state is older).
    pub(super) fn save_now(&mut self, snapshot: &ConverterSnapshot, now_ms: i64) {
        self.collect();
        self.last_save = Instant::now();
        self.seq += 1;
        let result = self.shared.save(self.seq, snapshot, now_ms);
        self.shared.report(result, true);
    }

    /// The write of `snapshot` (the state at a sync of the durability
    /// journal, its flows in any order), for the journal thread to run
    /// before it writes the sync's frame: sorting, encoding, writing and
    /// syncing the file do not hold the ingest thread. Failures are said as
    /// for periodic writes.
    pub(super) fn checkpoint(
        &mut self,
        mut snapshot: ConverterSnapshot,
        now_ms: i64,
    ) -> CheckpointWrite {
        self.checkpointed = true;
        self.collect();
        self.last_save = Instant::now();
        self.seq += 1;
        let (shared, seq) = (self.shared.clone(), self.seq);
        Box::new(move || {
            snapshot.sort_flows();
            let result = shared.save(seq, &snapshot, now_ms);
            shared.report(result, false);
        })
    }

    /// Waits for the background write, if any, and reports its result.
    fn collect(&mut self) {
        if let Some(handle) = self.in_flight.take() {
            let result = handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the state writer panicked")));
            self.shared.report(result, false);
        }
    }
}
