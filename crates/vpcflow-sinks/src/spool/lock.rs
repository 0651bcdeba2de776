//! The exclusive lock that keeps a second process off a spool folder.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::SinkError;

/// Name of the lock file in the spool folder.
pub const LOCK_FILE: &str = "lock";

/// Takes an exclusive `flock(2)` on `folder/lock`, without waiting; the lock
/// lasts as long as the returned file is open (and ends with the process,
/// even after SIGKILL).
pub fn lock_exclusive(folder: &Path) -> Result<File, SinkError> {
    let path = folder.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| SinkError::io("open", &path, e))?;
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(file);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Err(SinkError::SpoolBusy {
            folder: folder.to_path_buf(),
        })
    } else {
        Err(SinkError::io("lock", path, e))
    }
}
