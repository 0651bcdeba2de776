//! Waiting out a full disk: file system steps that fail with ENOSPC (or
//! EDQUOT) are retried with a growing pause instead of losing records that
//! were already accepted.

use std::io;
use std::path::Path;
use std::time::Duration;

/// First pause after a full-disk error.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// Longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Whether `e` says the file system (or the user's quota) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Runs `step` until it succeeds or fails with an error other than a full
/// disk; full-disk errors are logged (once per episode at warn level) and
/// retried after a pause that doubles up to 30 s.
pub fn retry_disk_full<T>(
    what: &str,
    path: &Path,
    mut step: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let mut pause = FIRST_PAUSE;
    let mut waited = false;
    loop {
        match step() {
            Err(e) if is_disk_full(&e) => {
                if !waited {
                    tracing::warn!(
                        op = what,
                        path = %path.display(),
                        error = %e,
                        "disk full: waiting for space, retrying (records already accepted are kept)"
                    );
                }
                waited = true;
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Ok(v) => {
                if waited {
                    tracing::warn!(op = what, path = %path.display(), "disk space available again; continuing");
                }
                return Ok(v);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_full_disk_errors() {
        let mut calls = 0;
        let r = retry_disk_full("write", Path::new("/x"), || {
            calls += 1;
            if calls < 3 {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r.unwrap(), 3);
        let mut calls = 0;
        let r: io::Result<()> = retry_disk_full("write", Path::new("/x"), || {
            calls += 1;
            Err(io::Error::from_raw_os_error(libc::EACCES))
        });
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EACCES));
        assert_eq!(calls, 1);
    }
}
