//! File system steps of an atomic, durable, never-overwriting publish: moving a
//! file into place without replacing what is there, fsyncing folders, creating
//! folders durably and comparing two files.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::SinkError;

/// Moves `from` to `to` unless `to` exists, atomically: an error of kind
/// [`io::ErrorKind::AlreadyExists`] leaves both untouched.
///
/// Uses `renameat2(RENAME_NOREPLACE)` on Linux and falls back to `link(2)` then
/// `unlink(2)` where the file system or kernel lacks it (and on other systems).
/// Both paths must be on the same file system.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        match renameat2_noreplace(from, to) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                ) => {}
            other => return other,
        }
    }
    link_noreplace(from, to)
}

/// `renameat2(from, to, RENAME_NOREPLACE)`, through `syscall(2)` so that it
/// works with C libraries older than the call's wrapper.
#[cfg(target_os = "linux")]
fn renameat2_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let from = c_path(from)?;
    let to = c_path(to)?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call;
    // the call reads them and takes no other pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(target_os = "linux")]
fn c_path(path: &Path) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// The portable no-replace move: a hard link (which fails if `to` exists), then
/// removal of `from`. A crash in between leaves `from` behind as a leftover; `to`
/// is complete either way.
pub fn link_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    fs::hard_link(from, to)?;
    if let Err(e) = fs::remove_file(from) {
        tracing::warn!(path = %from.display(), error = %e, "cannot remove the staged file after linking it into place");
    }
    Ok(())
}

/// Suffix of temp files (`PID-N.tmp`) of the directory sink and the spool.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Creates a new temp file `PID-N.tmp` in `dir` with `create` (which must
/// refuse an existing path), counting `next` up past names already taken.
pub fn create_temp(
    dir: &Path,
    next: &mut u64,
    mut create: impl FnMut(&Path) -> io::Result<File>,
) -> Result<(File, PathBuf), SinkError> {
    let pid = std::process::id();
    loop {
        let path = dir.join(format!("{pid}-{next}{TEMP_SUFFIX}"));
        *next += 1;
        match create(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SinkError::io("create", path, e)),
        }
    }
}

/// Flushes a folder's entries (new, renamed or removed files) to stable storage.
pub fn sync_dir(dir: &Path) -> Result<(), SinkError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SinkError::io("fsync folder", dir, e))
}

/// Creates `root/relative` and its missing parents below the existing `root`,
/// fsyncing the parent of each folder created, and returns its path.
pub fn create_dirs(root: &Path, relative: &Path) -> Result<PathBuf, SinkError> {
    let folder = root.join(relative);
    if folder.is_dir() {
        return Ok(folder);
    }
    let mut current = root.to_path_buf();
    for part in relative.components() {
        let parent = current.clone();
        current.push(part);
        match fs::create_dir(&current) {
            Ok(()) => sync_dir(&parent)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && current.is_dir() => {}
            Err(e) => return Err(SinkError::io("create folder", current, e)),
        }
    }
    Ok(folder)
}

/// Whether two files hold the same bytes.
pub fn same_contents(a: &Path, b: &Path) -> Result<bool, SinkError> {
    let open = |p: &Path| File::open(p).map_err(|e| SinkError::io("open", p, e));
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let len = |f: &File, p: &Path| {
        f.metadata()
            .map(|m| m.len())
            .map_err(|e| SinkError::io("stat", p, e))
    };
    if len(&fa, a)? != len(&fb, b)? {
        return Ok(false);
    }
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let n = read_full(&mut fa, &mut ba).map_err(|e| SinkError::io("read", a, e))?;
        let m = read_full(&mut fb, &mut bb).map_err(|e| SinkError::io("read", b, e))?;
        if ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"new").unwrap();
        fs::write(&b, b"old").unwrap();
        for mv in [rename_noreplace, link_noreplace] {
            let e = mv(&a, &b).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
            assert_eq!(fs::read(&a).unwrap(), b"new");
            assert_eq!(fs::read(&b).unwrap(), b"old");
        }
        for mv in [rename_noreplace, link_noreplace] {
            let c = dir.path().join("c");
            mv(&a, &c).unwrap();
            assert!(!a.exists());
            assert_eq!(fs::read(&c).unwrap(), b"new");
            fs::rename(&c, &a).unwrap();
        }
    }

    #[test]
    fn creates_nested_folders() {
        let dir = tempfile::tempdir().unwrap();
        let deep = create_dirs(dir.path(), Path::new("x/y/z")).unwrap();
        assert_eq!(deep, dir.path().join("x/y/z"));
        assert!(deep.is_dir());
        create_dirs(dir.path(), Path::new("x/y/z")).unwrap();
        fs::write(dir.path().join("file"), b"").unwrap();
        let e = create_dirs(dir.path(), Path::new("file/sub")).unwrap_err();
        assert!(e.to_string().starts_with("cannot create folder "), "{e}");
    }

    #[test]
    fn compares_contents() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut other = big.clone();
        other[150_000] ^= 1;
        fs::write(p("a"), &big).unwrap();
        fs::write(p("b"), &big).unwrap();
        fs::write(p("c"), &other).unwrap();
        fs::write(p("d"), &big[..1000]).unwrap();
        assert!(same_contents(&p("a"), &p("b")).unwrap());
        assert!(!same_contents(&p("a"), &p("c")).unwrap());
        assert!(!same_contents(&p("a"), &p("d")).unwrap());
        assert!(same_contents(&p("a"), &p("missing")).is_err());
    }
}
