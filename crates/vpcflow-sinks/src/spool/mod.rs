//! The durable spool in front of an object store: every sealed object is
//! committed to a local folder before it is delivered, and removed only after
//! the store confirmed it.
//!
//! ```text
//! SPOOL/lock                 exclusive flock: one process per spool
//! SPOOL/tmp/<pid>-<n>.tmp    objects being written (removed at open)
//! SPOOL/ready/<seq>.json     sidecar: bucket, candidate keys, size, SHA-256
//! SPOOL/ready/<seq>.obj      committed object (its rename is the commit point)
//! ```
//!
//! [`Spool`] is the [`ObjectStore`] the file writer publishes into;
//! [`SpoolQueue`] is the delivery side's view of the same folder.

pub mod entry;
pub mod lock;
pub mod retry;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::FileName;

use crate::durable::{create_dirs, create_temp, sync_dir};
use crate::error::SinkError;
use crate::s3::stats::DeliveryStats;
use crate::store::{ObjectStore, PublishedObject, StagedFile};
use entry::{now_secs, parse_name, sha256_file, Entry, Sidecar, DATA_EXT, SIDECAR_EXT};
use retry::retry_disk_full;

/// Candidate keys per object: name attempts 0 to 16.
pub const KEY_ATTEMPTS: u32 = 17;

/// Default size limit of the committed objects in a spool: 1 GiB.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 1 << 30;

/// Where spooled objects go and how much the spool may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// The bucket written into each sidecar.
    pub bucket: String,
    /// Key layout of the candidate keys.
    pub layout: Layout,
    /// Key prefix of the candidate keys.
    pub prefix: Prefix,
    /// When committing an object would take the ready objects above this many
    /// bytes, [`ObjectStore::publish`] waits for deliveries to free space
    /// (an object larger than the limit is admitted into an empty spool).
    pub max_bytes: u64,
    /// When set (to the delivery's concurrency), a writer waiting for space
    /// gives up with an error once every upload in progress fails with a
    /// permanent error, instead of waiting for an operator (a one-shot
    /// conversion). Unset, it waits (a daemon: back-pressure).
    pub give_up_on_permanent_errors: Option<usize>,
}

/// The writer's side of a spool: an [`ObjectStore`] whose `publish` commits
/// the object durably into `ready/` and wakes the delivery.
///
/// [`PublishedObject::key`] is the key of name attempt 0; the object is
/// stored there unless the store already holds a different object at that
/// key, in which case the delivery takes the next candidate and logs the key
/// it used.
#[derive(Debug)]
pub struct Spool {
    shared: Arc<Shared>,
    next_temp: u64,
}

/// The delivery's side of a spool: takes committed objects oldest first and
/// removes them once delivered. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SpoolQueue {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    root: PathBuf,
    tmp: PathBuf,
    ready: PathBuf,
    options: SpoolOptions,
    stats: Arc<DeliveryStats>,
    state: Mutex<State>,
    /// Signalled whenever an entry is added, removed or changes state.
    changed: Condvar,
    /// Wakes the delivery when an entry is committed.
    wake: tokio::sync::Notify,
    _lock: File,
}

#[derive(Debug, Default)]
struct State {
    /// Every committed entry not yet removed, by sequence number.
    entries: BTreeMap<u64, Entry>,
    /// Entries the delivery is working on.
    taken: BTreeSet<u64>,
    /// Entries whose last attempt failed with a permanent error.
    failing: BTreeSet<u64>,
    /// Bytes of `entries` plus the object being committed.
    bytes: u64,
    next_seq: u64,
    /// Ignore the size limit (shutdown: everything must be kept).
    admit_all: bool,
    /// The writer is waiting for space.
    in_backpressure: bool,
}

/// How a wait for an empty spool ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every object was delivered.
    Drained,
    /// The deadline passed first.
    TimedOut,
    /// Every object left failed with a permanent error.
    OnlyPermanentErrors,
}

/// What a spool holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolStatus {
    /// The spool folder.
    pub folder: PathBuf,
    /// Committed objects not yet delivered.
    pub files: u64,
    /// Their size.
    pub bytes: u64,
    /// How many of them failed with a permanent error last time.
    pub failing: u64,
}

impl Spool {
    /// Opens (creating it if needed) the spool folder `root`, locks it for
    /// this process, removes what a crash left half-written and queues the
    /// committed objects found, oldest first.
    pub fn open(
        root: impl Into<PathBuf>,
        options: SpoolOptions,
        stats: Arc<DeliveryStats>,
    ) -> Result<(Spool, SpoolQueue), SinkError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| SinkError::io("create folder", &root, e))?;
        let lock = lock::lock_exclusive(&root)?;
        let tmp = create_dirs(&root, Path::new("tmp"))?;
        let ready = create_dirs(&root, Path::new("ready"))?;
        remove_all_files(&tmp)?;
        let (entries, next_seq) = recover(&ready)?;
        let bytes = entries.values().map(|e| e.sidecar.bytes).sum();
        if !entries.is_empty() {
            tracing::info!(
                folder = %root.display(),
                files = entries.len(),
                bytes,
                "objects left in the spool by an earlier run are delivered first"
            );
        }
        let shared = Arc::new(Shared {
            root,
            tmp,
            ready,
            options,
            stats,
            state: Mutex::new(State {
                entries,
                bytes,
                next_seq,
                ..State::default()
            }),
            changed: Condvar::new(),
            wake: tokio::sync::Notify::new(),
            _lock: lock,
        });
        shared.lock().publish_gauges(&shared.stats);
        let queue = SpoolQueue {
            shared: Arc::clone(&shared),
        };
        Ok((
            Spool {
                shared,
                next_temp: 0,
            },
            queue,
        ))
    }

    /// From now on, objects are committed whatever the size limit (at
    /// shutdown, when the open files are sealed and nothing may be dropped).
    pub fn admit_all(&self) {
        self.shared.lock().admit_all = true;
        self.shared.changed.notify_all();
    }

    /// The spool folder.
    pub fn folder(&self) -> &Path {
        &self.shared.root
    }

    /// Waits until `bytes` more fit under the limit (or the spool is empty,
    /// or the limit is lifted), then reserves them; see
    /// [`SpoolOptions::give_up_on_permanent_errors`] for when it gives up.
    fn reserve(&self, bytes: u64) -> Result<(), SinkError> {
        let shared = &self.shared;
        let max = shared.options.max_bytes;
        let mut state = shared.lock();
        let fits = |s: &State| s.admit_all || s.bytes == 0 || s.bytes.saturating_add(bytes) <= max;
        if !fits(&state) {
            state.in_backpressure = true;
            shared
                .stats
                .backpressure_waits
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                folder = %shared.root.display(),
                spool_bytes = state.bytes,
                max_bytes = max,
                object_bytes = bytes,
                "spool full: the writer waits for deliveries (back-pressure on the sources)"
            );
            let started = Instant::now();
            while !fits(&state) {
                if let Some(concurrency) = shared.options.give_up_on_permanent_errors {
                    if state.only_permanent_errors(concurrency) {
                        state.in_backpressure = false;
                        return Err(SinkError::Delivery(format!(
                            "the spool {} is full ({} bytes) and the store refuses every object being delivered (permanent errors: see the log)",
                            shared.root.display(),
                            state.bytes
                        )));
                    }
                }
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
            state.in_backpressure = false;
            tracing::warn!(
                folder = %shared.root.display(),
                waited_ms = started.elapsed().as_millis() as u64,
                "spool has room again: the writer continues"
            );
        }
        state.bytes += bytes;
        Ok(())
    }

    fn unreserve(&self, bytes: u64) {
        self.shared.lock().bytes -= bytes;
    }

    /// Writes the sidecar of `seq` durably into `ready/`.
    fn write_sidecar(&self, seq: u64, sidecar: &Sidecar) -> Result<(), SinkError> {
        let shared = &self.shared;
        let temp = shared.tmp.join(format!("{seq:020}.{SIDECAR_EXT}.tmp"));
        let (_, target) = Entry::paths(&shared.ready, seq);
        let json = serde_json::to_vec(sidecar).map_err(|e| SinkError::Sidecar {
            path: target.clone(),
            reason: e.to_string(),
        })?;
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&temp)?;
            f.write_all(&json)?;
            f.sync_all()
        };
        retry_disk_full("write sidecar", &temp, write)
            .map_err(|e| SinkError::io("write", &temp, e))?;
        retry_disk_full("move sidecar", &target, || fs::rename(&temp, &target))
            .map_err(|e| SinkError::io("move sidecar to", &target, e))?;
        sync_dir(&shared.ready)
    }

    fn commit(&self, staged: StagedFile, seq: u64, sidecar: Sidecar) -> Result<Entry, SinkError> {
        let shared = &self.shared;
        self.write_sidecar(seq, &sidecar)?;
        let (data, sidecar_path) = Entry::paths(&shared.ready, seq);
        let commit = || fs::rename(staged.path(), &data);
        if let Err(e) = retry_disk_full("commit spooled object", &data, commit) {
            let _ = fs::remove_file(&sidecar_path);
            return Err(SinkError::io("move spooled object to", data, e));
        }
        staged.moved_away();
        sync_dir(&shared.ready)?;
        Ok(Entry {
            seq,
            data,
            sidecar_path,
            sidecar,
        })
    }
}

impl ObjectStore for Spool {
    fn stage(&mut self) -> Result<StagedFile, SinkError> {
        let (file, path) = create_temp(&self.shared.tmp, &mut self.next_temp, |path| {
            retry_disk_full("create", path, || {
                OpenOptions::new().write(true).create_new(true).open(path)
            })
        })?;
        Ok(StagedFile::waiting_for_space(file, path))
    }

    fn publish(
        &mut self,
        staged: StagedFile,
        name_for_attempt: &dyn Fn(u32) -> FileName,
    ) -> Result<PublishedObject, SinkError> {
        staged.sync()?;
        let bytes = staged.len()?;
        let sha256 = sha256_file(staged.path())?;
        let options = &self.shared.options;
        let keys: Vec<String> = (0..KEY_ATTEMPTS)
            .map(|a| options.layout.key(&options.prefix, &name_for_attempt(a)))
            .collect();
        let sidecar = Sidecar {
            bucket: options.bucket.clone(),
            keys,
            bytes,
            sha256,
            created: now_secs(),
        };
        self.reserve(bytes)?;
        let seq = {
            let mut state = self.shared.lock();
            state.next_seq += 1;
            state.next_seq - 1
        };
        let entry = match self.commit(staged, seq, sidecar) {
            Ok(entry) => entry,
            Err(e) => {
                self.unreserve(bytes);
                return Err(e);
            }
        };
        let key = entry.sidecar.keys[0].clone();
        {
            let mut state = self.shared.lock();
            state.entries.insert(seq, entry);
            state.publish_gauges(&self.shared.stats);
        }
        self.shared.changed.notify_all();
        self.shared.wake.notify_one();
        Ok(PublishedObject {
            name: name_for_attempt(0),
            key,
            bytes,
            already_present: false,
        })
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
    /// [`Spool::admit_all`]. Callable from any thread, e.g. on a shutdown
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

impl State {
    /// Copies the spool's depth into the gauges of `stats`.
    fn publish_gauges(&self, stats: &DeliveryStats) {
        stats
            .spool_files
            .store(self.entries.len() as u64, Ordering::Relaxed);
        stats.spool_bytes.store(self.bytes, Ordering::Relaxed);
    }

    /// Whether every upload in progress failed with a permanent error and
    /// no other could start (`concurrency` uploads at most).
    fn only_permanent_errors(&self, concurrency: usize) -> bool {
        let busy = self.entries.len().min(concurrency);
        !self.failing.is_empty()
            && self.failing.len() == self.taken.len()
            && self.taken.len() == busy
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes every file in `folder` (half-written objects and sidecars).
fn remove_all_files(folder: &Path) -> Result<(), SinkError> {
    let mut removed = 0;
    for entry in fs::read_dir(folder).map_err(|e| SinkError::io("list", folder, e))? {
        let entry = entry.map_err(|e| SinkError::io("list", folder, e))?;
        let path = entry.path();
        if path.is_file() {
            fs::remove_file(&path).map_err(|e| SinkError::io("remove leftover", &path, e))?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(folder)?;
        tracing::info!(folder = %folder.display(), removed, "removed half-written spool files left by a crash");
    }
    Ok(())
}

/// The committed entries of `ready`, and the next sequence number. Sidecars
/// without their object (a crash before the commit, or after a delivery) are
/// removed; damaged entries are reported and left alone.
fn recover(ready: &Path) -> Result<(BTreeMap<u64, Entry>, u64), SinkError> {
    let mut data = BTreeSet::new();
    let mut sidecars = BTreeSet::new();
    let mut max_seq = None;
    for entry in fs::read_dir(ready).map_err(|e| SinkError::io("list", ready, e))? {
        let entry = entry.map_err(|e| SinkError::io("list", ready, e))?;
        let name = entry.file_name();
        let Some((seq, ext)) = name.to_str().and_then(parse_name) else {
            continue;
        };
        match ext {
            DATA_EXT => data.insert(seq),
            SIDECAR_EXT => sidecars.insert(seq),
            _ => continue,
        };
        max_seq = max_seq.max(Some(seq));
    }
    let mut entries = BTreeMap::new();
    let mut removed = 0;
    for &seq in &sidecars {
        let (data_path, sidecar_path) = Entry::paths(ready, seq);
        if !data.contains(&seq) {
            fs::remove_file(&sidecar_path)
                .map_err(|e| SinkError::io("remove leftover", &sidecar_path, e))?;
            removed += 1;
            continue;
        }
        match read_sidecar(&sidecar_path, &data_path) {
            Ok(sidecar) => {
                entries.insert(
                    seq,
                    Entry {
                        seq,
                        data: data_path,
                        sidecar_path,
                        sidecar,
                    },
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "damaged spool entry left in place, not delivered")
            }
        }
    }
    for seq in data.difference(&sidecars) {
        let (data_path, _) = Entry::paths(ready, *seq);
        tracing::error!(path = %data_path.display(), "spooled object without its sidecar left in place, not delivered");
    }
    if removed > 0 {
        sync_dir(ready)?;
    }
    Ok((entries, max_seq.map_or(0, |s| s + 1)))
}

fn read_sidecar(sidecar_path: &Path, data_path: &Path) -> Result<Sidecar, SinkError> {
    let bad = |reason: String| SinkError::Sidecar {
        path: sidecar_path.to_path_buf(),
        reason,
    };
    let text = fs::read(sidecar_path).map_err(|e| SinkError::io("read", sidecar_path, e))?;
    let sidecar: Sidecar = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let len = fs::metadata(data_path)
        .map_err(|e| SinkError::io("stat", data_path, e))?
        .len();
    if len != sidecar.bytes {
        return Err(bad(format!(
            "the object has {len} bytes, the sidecar says {}",
            sidecar.bytes
        )));
    }
    if sidecar.keys.is_empty() {
        return Err(bad("no keys".into()));
    }
    Ok(sidecar)
}
