//! [`StateWriter`]: writes the converter's state to its [`StateStore`] while
//! `vpcflow run` runs (on a thread of its own, so the ingest thread does not
//! wait for the disk) and once more at the stop (waiting for it).

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::snapshot::ConverterSnapshot;
use super::state_store::StateStore;

/// When and how the state is written.
pub(super) struct StateWriter {
    store: Arc<StateStore>,
    every: Duration,
    last_save: Instant,
    /// The last write failed (warned once until one succeeds).
    failing: bool,
    /// A background write: the number of flow states written.
    in_flight: Option<JoinHandle<io::Result<usize>>>,
}

impl StateWriter {
    /// Writes to `store` every `every`.
    pub(super) fn new(store: StateStore, every: Duration) -> StateWriter {
        StateWriter {
            store: Arc::new(store),
            every,
            last_save: Instant::now(),
            failing: false,
            in_flight: None,
        }
    }

    /// The store written to.
    pub(super) fn store(&self) -> &StateStore {
        &self.store
    }

    /// Whether a periodic write is due.
    pub(super) fn due(&self) -> bool {
        self.last_save.elapsed() >= self.every
    }

    /// Starts writing `snapshot` (taken at wall-clock `now_ms`) in the
    /// background; skipped while the previous write is still going on.
    pub(super) fn save_in_background(&mut self, snapshot: ConverterSnapshot, now_ms: i64) {
        self.last_save = Instant::now();
        if self.in_flight.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.collect();
        let store = self.store.clone();
        let spawned = thread::Builder::new()
            .name("vpcflow-state".into())
            .spawn(move || store.save(&snapshot, now_ms).map(|()| snapshot.flows.len()));
        match spawned {
            Ok(handle) => self.in_flight = Some(handle),
            Err(e) => self.report(Err(e), false),
        }
    }

    /// Waits for a background write, then writes `snapshot` (the state at
    /// the stop), reporting the result.
    pub(super) fn save_now(&mut self, snapshot: &ConverterSnapshot, now_ms: i64) {
        self.collect();
        self.last_save = Instant::now();
        let result = self
            .store
            .save(snapshot, now_ms)
            .map(|()| snapshot.flows.len());
        self.report(result, true);
    }

    /// Waits for a background write, then writes `snapshot` (the state at a
    /// sync of the durability journal); failures are said as for periodic
    /// writes.
    pub(super) fn save_checkpoint(&mut self, snapshot: &ConverterSnapshot, now_ms: i64) {
        self.collect();
        self.last_save = Instant::now();
        let result = self
            .store
            .save(snapshot, now_ms)
            .map(|()| snapshot.flows.len());
        self.report(result, false);
    }

    /// Waits for the background write, if any, and reports its result.
    fn collect(&mut self) {
        if let Some(handle) = self.in_flight.take() {
            let result = handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the state writer panicked")));
            self.report(result, false);
        }
    }

    fn report(&mut self, result: io::Result<usize>, at_stop: bool) {
        let path = self.store.path();
        match result {
            Ok(flows) => {
                if self.failing || at_stop {
                    tracing::info!(
                        "Skydive state written to {}: {flows} flow states",
                        path.display()
                    );
                }
                self.failing = false;
            }
            Err(e) if at_stop || !self.failing => {
                self.failing = true;
                tracing::warn!("cannot write the Skydive state {}: {e}", path.display());
            }
            Err(_) => {}
        }
    }
}
