//! [`StateStore`]: the state folder of `vpcflow run`, where the Skydive
//! converter's state is kept across restarts (`DIR/skydive-state.bin`), locked
//! so that one process at a time uses it.
//!
//! The file is written atomically (temporary file, fsync, rename, fsync of
//! the folder). A file that cannot be used (damaged, truncated, of an unknown
//! format version, of another configuration) is set aside as
//! `skydive-state.bin.rejected` so that the next save does not overwrite it
//! before someone can look; the run starts with an empty state.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::snapshot::ConverterSnapshot;
use super::state_file::{decode, encode, StateFile};

/// Name of the Skydive state file in the state folder.
pub const STATE_FILE: &str = "skydive-state.bin";

/// Name of the lock file in the state folder.
pub const LOCK_FILE: &str = "state.lock";

/// What reading the state file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// A state to continue from.
    Restored(Box<StateFile>),
    /// No state file (first run).
    Missing,
    /// A state older than `skydive.state_ttl` (wall clock): ignored.
    Expired {
        /// Seconds between its writing and now.
        age_secs: u64,
    },
    /// An unusable file, set aside.
    Rejected {
        /// Why it cannot be used.
        reason: String,
        /// Where it was moved (`None`: it could not be moved).
        moved_to: Option<PathBuf>,
    },
}

/// The locked state folder of one configuration.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    identity: String,
    ttl: Duration,
    /// Held for the lifetime of the store: the `flock(2)` on `DIR/state.lock`.
    _lock: File,
}

impl StateStore {
    /// Creates `dir` when needed and locks it. `identity` describes the
    /// configuration the state belongs to (a state written under another
    /// identity is not used); a state older than `ttl` is not used either.
    /// The error names the folder; another process holding it is an error.
    pub fn open(dir: &Path, identity: &str, ttl: Duration) -> Result<StateStore, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the state folder {}: {e}", dir.display()))?;
        let lock = lock_exclusive(dir)?;
        Ok(StateStore {
            dir: dir.to_path_buf(),
            identity: identity.to_string(),
            ttl,
            _lock: lock,
        })
    }

    /// The state file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Reads the state file at wall-clock time `now_ms` (Unix ms).
    pub fn load(&self, now_ms: i64) -> LoadOutcome {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return LoadOutcome::Missing,
            Err(e) => return self.reject(&path, format!("cannot read it: {e}")),
        };
        match decode(&bytes, &self.identity) {
            Ok(file) => {
                let age_ms = now_ms.saturating_sub(file.written_ms).max(0);
                if age_ms as u128 > self.ttl.as_millis() {
                    return LoadOutcome::Expired {
                        age_secs: (age_ms / 1000) as u64,
                    };
                }
                LoadOutcome::Restored(Box::new(file))
            }
            Err(e) => self.reject(&path, e.to_string()),
        }
    }

    fn reject(&self, path: &Path, reason: String) -> LoadOutcome {
        let aside = path.with_extension("bin.rejected");
        let moved_to = std::fs::rename(path, &aside).ok().map(|_| aside);
        LoadOutcome::Rejected { reason, moved_to }
    }

    /// Writes `snapshot` atomically, stamped with wall-clock time `now_ms`.
    pub fn save(&self, snapshot: &ConverterSnapshot, now_ms: i64) -> io::Result<()> {
        let bytes = encode(snapshot, &self.identity, now_ms);
        let path = self.path();
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()
    }
}

/// What reading the state file found, as one line naming the file (and,
/// when it was not used, why).
pub fn describe(outcome: &LoadOutcome, path: &Path) -> String {
    match outcome {
        LoadOutcome::Restored(f) => format!(
            "Skydive state restored from {}: {} flow states (format version {})",
            path.display(),
            f.snapshot.flows.len(),
            f.version
        ),
        LoadOutcome::Missing => format!("no Skydive state at {}: starting clean", path.display()),
        LoadOutcome::Expired { age_secs } => format!(
            "Skydive state {} ignored: written {age_secs} s ago, longer than skydive.state_ttl",
            path.display()
        ),
        LoadOutcome::Rejected { reason, moved_to } => {
            let aside = match moved_to {
                Some(p) => format!("moved to {}", p.display()),
                None => "it could not be moved aside".to_string(),
            };
            format!(
                "Skydive state {} ignored, starting clean: {reason}; {aside}",
                path.display()
            )
        }
    }
}

/// Takes an exclusive `flock(2)` on `folder/state.lock` without waiting; it lasts
/// as long as the file is open (and ends with the process, even after
/// SIGKILL). The same approach as the spool's lock.
fn lock_exclusive(folder: &Path) -> Result<File, String> {
    let path = folder.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(file);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Err(format!(
            "the state folder {} is in use by another vpcflow process (lock {}); give each configuration its own [state] dir",
            folder.display(),
            path.display()
        ))
    } else {
        Err(format!("cannot lock {}: {e}", path.display()))
    }
}
