//! Opening a spool: the folder is locked for this process, what a crash left
//! half-written is removed and the committed entries are queued again.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use super::entry::{parse_name, Entry, Sidecar, DATA_EXT, SIDECAR_EXT};
use super::lock;
use super::options::SpoolOptions;
use super::publish::Spool;
use super::queue::SpoolQueue;
use super::state::{Shared, State};
use super::stats::DeliveryStats;
use crate::durable::{create_dirs, sync_dir};
use crate::error::SinkError;

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
        let queue = SpoolQueue::new(Arc::clone(&shared));
        Ok((Spool::new(shared), queue))
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
