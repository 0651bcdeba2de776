//! The state both sides of a spool share: the committed entries, the bytes
//! reserved, who works on what, and the signals between writer and delivery.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::entry::Entry;
use super::options::SpoolOptions;
use super::stats::DeliveryStats;

/// What the writer's and the delivery's sides of a spool share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) root: PathBuf,
    pub(super) tmp: PathBuf,
    pub(super) ready: PathBuf,
    pub(super) options: SpoolOptions,
    pub(super) stats: Arc<DeliveryStats>,
    pub(super) state: Mutex<State>,
    /// Signalled whenever an entry is added, removed or changes state.
    pub(super) changed: Condvar,
    /// Wakes the delivery when an entry is committed.
    pub(super) wake: tokio::sync::Notify,
    pub(super) _lock: File,
}

/// The committed entries and who works on them, under [`Shared::state`].
#[derive(Debug, Default)]
pub(super) struct State {
    /// Every committed entry not yet removed, by sequence number.
    pub(super) entries: BTreeMap<u64, Entry>,
    /// Entries the delivery is working on.
    pub(super) taken: BTreeSet<u64>,
    /// Entries whose last attempt failed with a permanent error.
    pub(super) failing: BTreeSet<u64>,
    /// Bytes of `entries` plus the object being committed.
    pub(super) bytes: u64,
    pub(super) next_seq: u64,
    /// Ignore the size limit (shutdown: everything must be kept).
    pub(super) admit_all: bool,
    /// The writer is waiting for space.
    pub(super) in_backpressure: bool,
}

impl State {
    /// Copies the spool's depth into the gauges of `stats`.
    pub(super) fn publish_gauges(&self, stats: &DeliveryStats) {
        stats
            .spool_files
            .store(self.entries.len() as u64, Ordering::Relaxed);
        stats.spool_bytes.store(self.bytes, Ordering::Relaxed);
    }

    /// Whether every upload in progress failed with a permanent error and
    /// no other could start (`concurrency` uploads at most).
    pub(super) fn only_permanent_errors(&self, concurrency: usize) -> bool {
        let busy = self.entries.len().min(concurrency);
        !self.failing.is_empty()
            && self.failing.len() == self.taken.len()
            && self.taken.len() == busy
    }
}

impl Shared {
    /// The state, also after a panic of another holder (its updates are
    /// single assignments, never left half done).
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
