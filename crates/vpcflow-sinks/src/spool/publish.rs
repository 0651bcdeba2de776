//! The writer's side of a spool: [`Spool`], the [`ObjectStore`] whose
//! `publish` commits each object durably into `ready/` and wakes the
//! delivery, waiting for space when the spool is full.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use vpcflow_core::name::FileName;

use super::entry::{now_secs, sha256_file, Entry, Sidecar, SIDECAR_EXT};
use super::options::KEY_ATTEMPTS;
use super::state::{Shared, State};
use crate::disk_full::retry_disk_full;
use crate::durable::{create_temp, sync_dir};
use crate::error::SinkError;
use crate::store::{ObjectStore, PublishedObject, StagedFile};

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

impl Spool {
    /// The writer's side of `shared`.
    pub(super) fn new(shared: Arc<Shared>) -> Spool {
        Spool {
            shared,
            next_temp: 0,
        }
    }
}

impl Spool {
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
        let options = &self.shared.options;
        let keys: Vec<String> = (0..KEY_ATTEMPTS)
            .map(|a| options.layout.key(&options.prefix, &name_for_attempt(a)))
            .collect();
        let bucket = options.bucket.clone();
        let entry = self.commit_keys(staged, bucket, keys)?;
        Ok(PublishedObject {
            name: name_for_attempt(0),
            key: entry.sidecar.keys[0].clone(),
            bytes: entry.sidecar.bytes,
            already_present: false,
        })
    }
}

impl Spool {
    /// Commits a sealed batch of a destination that takes records rather
    /// than objects (CloudWatch Logs, Firehose): `target` (log group,
    /// delivery stream) and `key` (log stream) are written into the sidecar
    /// as its bucket and only key. Durable when this returns; the delivery
    /// is woken.
    pub fn commit_batch(
        &mut self,
        staged: StagedFile,
        target: &str,
        key: &str,
    ) -> Result<Entry, SinkError> {
        self.commit_keys(staged, target.to_string(), vec![key.to_string()])
    }

    /// Syncs `staged`, waits for room, commits it with its sidecar and
    /// queues it for the delivery.
    fn commit_keys(
        &mut self,
        staged: StagedFile,
        bucket: String,
        keys: Vec<String>,
    ) -> Result<Entry, SinkError> {
        staged.sync()?;
        let bytes = staged.len()?;
        let sha256 = sha256_file(staged.path())?;
        let sidecar = Sidecar {
            bucket,
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
        {
            let mut state = self.shared.lock();
            state.entries.insert(seq, entry.clone());
            state.publish_gauges(&self.shared.stats);
        }
        self.shared.changed.notify_all();
        self.shared.wake.notify_one();
        Ok(entry)
    }
}
