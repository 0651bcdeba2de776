//! The delivery's side of a spool: [`SpoolQueue`] hands out committed
//! entries oldest first, removes them once delivered and waits for the spool
//! to drain.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::entry::Entry;
use super::report::{DrainOutcome, SpoolStatus};
use super::state::{Shared, State};
use super::stats::DeliveryStats;
use crate::durable::sync_dir;
use crate::error::SinkError;

/// The delivery's side of a spool: takes committed objects oldest first and
/// removes them once delivered. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SpoolQueue {
    shared: Arc<Shared>,
}

impl SpoolQueue {
    /// The delivery's side of `shared`.
    pub(super) fn new(shared: Arc<Shared>) -> SpoolQueue {
        SpoolQueue { shared }
    }
}

impl SpoolQueue {
    /// The oldest committed entry nobody is delivering, now marked taken.
    pub fn take_next(&self) -> Option<Entry> {
        let mut state = self.shared.lock();
        let State { entries, taken, .. } = &mut *state;
        let entry = entries.values().find(|e| !taken.contains(&e.seq))?.clone();
        taken.insert(entry.seq);
        Some(entry)
    }

    /// Gives back every taken entry undelivered (the delivery stopped).
    pub fn release_all(&self) {
        {
            let mut state = self.shared.lock();
            state.taken.clear();
            state.failing.clear();
        }
        self.shared.changed.notify_all();
    }

    /// Marks whether the last attempt on `seq` failed with a permanent error.
    pub fn set_failing(&self, seq: u64, failing: bool) {
        {
            let mut state = self.shared.lock();
            if failing {
                state.failing.insert(seq);
            } else {
                state.failing.remove(&seq);
            }
        }
        self.shared.changed.notify_all();
    }

    /// Removes a delivered entry: data file, then sidecar, then an fsync of
    /// the folder (a crash in between leaves a sidecar alone, removed at the
    /// next open).
    pub fn remove(&self, entry: &Entry) -> Result<(), SinkError> {
        let remove = |p: &Path| match fs::remove_file(p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(SinkError::io("remove delivered", p, e))
            }
            _ => Ok(()),
        };
        remove(&entry.data)?;
        remove(&entry.sidecar_path)?;
        sync_dir(&self.shared.ready)?;
        {
            let mut state = self.shared.lock();
            if state.entries.remove(&entry.seq).is_some() {
                state.bytes -= entry.sidecar.bytes;
            }
            state.taken.remove(&entry.seq);
            state.failing.remove(&entry.seq);
            state.publish_gauges(&self.shared.stats);
        }
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Resolves when an entry may have been committed since the last call.
    pub async fn committed(&self) {
        self.shared.wake.notified().await
    }

    /// Wakes the delivery as if an entry was committed.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Waits until the spool is empty, `deadline` passes, or (when
    /// `stop_on_permanent` gives the delivery's concurrency) every entry
    /// being delivered has failed with a permanent error and no other could
    /// be.
    pub fn wait_drained(
        &self,
        deadline: Option<Instant>,
        stop_on_permanent: Option<usize>,
    ) -> DrainOutcome {
        let mut state = self.shared.lock();
        loop {
            if state.entries.is_empty() {
                return DrainOutcome::Drained;
            }
            if stop_on_permanent.is_some_and(|c| state.only_permanent_errors(c)) {
                return DrainOutcome::OnlyPermanentErrors;
            }
            state = match deadline {
                None => self
                    .shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return DrainOutcome::TimedOut;
                    }
                    self.shared
                        .changed
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// What the spool holds now.
    pub fn status(&self) -> SpoolStatus {
        let state = self.shared.lock();
        SpoolStatus {
            folder: self.shared.root.clone(),
            files: state.entries.len() as u64,
            bytes: state.entries.values().map(|e| e.sidecar.bytes).sum(),
            failing: state.failing.len() as u64,
        }
    }

    /// From now on, objects are committed whatever the size limit; see
    /// [`Spool::admit_all`](super::Spool::admit_all). Callable from any thread, e.g. on a shutdown
    /// signal while the writer waits for space.
    pub fn admit_all(&self) {
        self.shared.lock().admit_all = true;
        self.shared.changed.notify_all();
    }

    /// The counters updated by the spool.
    pub fn stats(&self) -> &Arc<DeliveryStats> {
        &self.shared.stats
    }
}
