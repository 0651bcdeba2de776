//! The directory sink: objects land below a root folder exactly at their S3
//! keys (spec §3.6, §3.7), each published atomically and never overwriting a
//! different file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use vpcflow_core::layout::{Layout, Prefix};
use vpcflow_core::name::FileName;

use crate::durable::{
    create_dirs, create_temp, rename_noreplace, same_contents, sync_dir, TEMP_SUFFIX,
};
use crate::error::SinkError;
use crate::store::{ObjectStore, PublishedObject, StagedFile};

/// The suffix of the staging folder, where objects are written before they
/// are moved into place: see [`staging_dir`].
pub const STAGING_DIR: &str = ".vpcflow-staging";

/// The staging folder of the output folder `root` (which exists): the sibling
/// `.NAME.vpcflow-staging` beside it, on the same file system, so that the
/// output folder holds nothing but the layout (`aws s3 sync OUT s3://…`
/// uploads only `AWSLogs/…`). When `root` is a mount point (or `/`), a
/// sibling would be on another file system, where a rename cannot go: the
/// folder is then `root/.vpcflow-staging`, and a sync needs
/// `--exclude '.vpcflow-staging/*'`.
pub fn staging_dir(root: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let root = fs::canonicalize(root)?;
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return Ok(root.join(STAGING_DIR));
    };
    if fs::metadata(&root)?.dev() != fs::metadata(parent)?.dev() {
        return Ok(root.join(STAGING_DIR));
    }
    let mut sibling = std::ffi::OsString::from(".");
    sibling.push(name);
    sibling.push(STAGING_DIR);
    Ok(parent.join(sibling))
}

/// Lock file in the staging folder: every open sink holds a shared lock on it;
/// leftovers are only removed under an exclusive one, so a sink never removes
/// the temp files of another live writer.
const LOCK_FILE: &str = ".lock";

/// Alternative names tried when an object's name is taken by another file.
const MAX_EXTRA_ATTEMPTS: u32 = 16;

/// Publishes objects into a local folder laid out like the S3 bucket.
///
/// An object is written to a temp file in the staging folder
/// ([`staging_dir`]: `.ROOT.vpcflow-staging/` beside `root`), fsynced, then
/// moved to `root/<key>` without replacing an existing file and the
/// folder fsynced. If the key already holds the same bytes, publishing is a
/// no-op; if it holds other bytes, the next name is tried. Temp files left by
/// a crash are removed when a sink is opened and no other one is running.
#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
    staging: PathBuf,
    layout: Layout,
    prefix: Prefix,
    /// Holds the shared lock on the staging folder while the sink lives.
    _lock: File,
    next_temp: u64,
}

impl DirSink {
    /// Opens (creating it if needed) the folder `root` for objects keyed with
    /// `layout` below `prefix`, and removes temp files left by a crash.
    pub fn open(
        root: impl Into<PathBuf>,
        layout: Layout,
        prefix: Prefix,
    ) -> Result<DirSink, SinkError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| SinkError::io("create folder", &root, e))?;
        let staging = staging_dir(&root)
            .map_err(|e| SinkError::io("find the staging folder of", &root, e))?;
        fs::create_dir_all(&staging).map_err(|e| SinkError::io("create folder", &staging, e))?;
        let lock_path = staging.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| SinkError::io("open", &lock_path, e))?;
        match flock(&lock, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => remove_leftovers(&staging)?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tracing::debug!(folder = %staging.display(), "another writer is active; leftovers are kept");
            }
            Err(e) => return Err(SinkError::io("lock", &lock_path, e)),
        }
        flock(&lock, libc::LOCK_SH).map_err(|e| SinkError::io("lock", &lock_path, e))?;
        let inside = root.join(STAGING_DIR);
        if inside.is_dir() && fs::canonicalize(&inside).ok().as_deref() != Some(staging.as_path()) {
            remove_old_staging(&inside);
        }
        Ok(DirSink {
            root,
            staging,
            layout,
            prefix,
            _lock: lock,
            next_temp: 0,
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The staging folder ([`staging_dir`]).
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// The key layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The key prefix.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// The path an object key is stored at.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

impl ObjectStore for DirSink {
    fn stage(&mut self) -> Result<StagedFile, SinkError> {
        let (file, path) = create_temp(&self.staging, &mut self.next_temp, |path| {
            OpenOptions::new().write(true).create_new(true).open(path)
        })?;
        Ok(StagedFile::new(file, path))
    }

    fn publish(
        &mut self,
        staged: StagedFile,
        name_for_attempt: &dyn Fn(u32) -> FileName,
    ) -> Result<PublishedObject, SinkError> {
        staged.sync()?;
        let bytes = staged.len()?;
        let mut first_key = None;
        for attempt in 0..=MAX_EXTRA_ATTEMPTS {
            let name = name_for_attempt(attempt);
            let folder = self.layout.folder(&self.prefix, &name);
            let key = format!("{folder}{name}");
            let folder = create_dirs(&self.root, Path::new(&folder))?;
            let target = self.root.join(&key);
            match rename_noreplace(staged.path(), &target) {
                Ok(()) => {
                    staged.moved_away();
                    sync_dir(&folder)?;
                    return Ok(PublishedObject {
                        name,
                        key,
                        bytes,
                        already_present: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if same_contents(staged.path(), &target)? {
                        drop(staged);
                        return Ok(PublishedObject {
                            name,
                            key,
                            bytes,
                            already_present: true,
                        });
                    }
                    tracing::warn!(
                        key,
                        "name taken by a file with other contents; trying the next name"
                    );
                    first_key.get_or_insert(key);
                }
                Err(e) => return Err(SinkError::io("move staged file to", target, e)),
            }
        }
        Err(SinkError::NameCollision {
            key: first_key.unwrap_or_default(),
            attempts: MAX_EXTRA_ATTEMPTS,
        })
    }
}

/// `flock(2)` on an open file.
fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Removes the temp files in `staging` (left by a writer that crashed).
/// Removes the staging folder earlier versions kept inside the output folder
/// (`OUT/.vpcflow-staging`), with its temp files, unless a writer of such a
/// version still holds it. Best effort: a failure is logged, not an error.
fn remove_old_staging(folder: &Path) {
    let lock_path = folder.join(LOCK_FILE);
    let locked = match OpenOptions::new().write(true).open(&lock_path) {
        Ok(lock) => flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(_) => false,
    };
    if !locked {
        return;
    }
    let result = remove_leftovers(folder)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let _ = fs::remove_file(&lock_path);
            fs::remove_dir(folder).map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => {
            tracing::info!(folder = %folder.display(), "removed the staging folder of an earlier version from the output folder")
        }
        Err(e) => {
            tracing::warn!(folder = %folder.display(), error = %e, "cannot remove the staging folder of an earlier version")
        }
    }
}

fn remove_leftovers(staging: &Path) -> Result<(), SinkError> {
    let entries = fs::read_dir(staging).map_err(|e| SinkError::io("list", staging, e))?;
    let mut removed = 0u64;
    for entry in entries {
        let entry = entry.map_err(|e| SinkError::io("list", staging, e))?;
        if entry.file_name().to_string_lossy().ends_with(TEMP_SUFFIX) {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| SinkError::io("remove leftover", &path, e))?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(staging)?;
        tracing::info!(folder = %staging.display(), removed, "removed temp files left by an earlier run");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use vpcflow_core::name::{FileKind, FlowLogId};

    use super::*;

    fn name(hash: u32) -> FileName {
        FileName {
            id: FlowLogId::new("123456789012", "us-east-1", "fl-1234abcd").unwrap(),
            slot: 1_529_511_600,
            hash,
            kind: FileKind::TextGzip,
        }
    }

    /// An output folder `out` in a temp dir, so that its sibling staging
    /// folder is removed with it.
    struct OutDir {
        _tmp: tempfile::TempDir,
        root: PathBuf,
    }

    impl OutDir {
        fn path(&self) -> &Path {
            &self.root
        }
    }

    fn out_dir() -> OutDir {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        fs::create_dir(&root).unwrap();
        OutDir { _tmp: tmp, root }
    }

    fn sink(root: &Path) -> DirSink {
        DirSink::open(root, Layout::default(), Prefix::default()).unwrap()
    }

    fn staged(sink: &mut DirSink, bytes: &[u8]) -> StagedFile {
        let mut s = sink.stage().unwrap();
        s.write_all(bytes).unwrap();
        s
    }

    fn staging_files(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(staging_dir(root).unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != LOCK_FILE)
            .collect();
        v.sort();
        v
    }

    const KEY: &str = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_00000000.log.gz";

    #[test]
    fn publishes_at_the_key_and_leaves_no_temp_file() {
        let dir = out_dir();
        let mut s = sink(dir.path());
        let f = staged(&mut s, b"object");
        let tmp = f.path().to_path_buf();
        // The staging folder is the sibling .out.vpcflow-staging: the output
        // folder holds nothing but the layout.
        let staging = staging_dir(dir.path()).unwrap();
        assert_eq!(staging.file_name().unwrap(), ".out.vpcflow-staging");
        assert_eq!(
            staging.parent(),
            fs::canonicalize(dir.path()).unwrap().parent()
        );
        assert!(tmp.starts_with(&staging));
        let p = s.publish(f, &|a| name(a)).unwrap();
        assert_eq!(p.key, KEY);
        assert_eq!((p.bytes, p.already_present), (6, false));
        assert_eq!(p.name, name(0));
        assert_eq!(fs::read(dir.path().join(KEY)).unwrap(), b"object");
        assert!(!tmp.exists());
        assert!(staging_files(dir.path()).is_empty());
        let top: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(top, ["AWSLogs"]);
    }

    #[test]
    fn identical_existing_file_is_an_idempotent_publish() {
        let dir = out_dir();
        let mut s = sink(dir.path());
        let first = staged(&mut s, b"object");
        s.publish(first, &|a| name(a)).unwrap();
        let again = staged(&mut s, b"object");
        let p = s.publish(again, &|a| name(a)).unwrap();
        assert_eq!(p.key, KEY);
        assert!(p.already_present);
        assert!(staging_files(dir.path()).is_empty());
    }

    #[test]
    fn different_existing_file_is_kept_and_the_next_name_taken() {
        let dir = out_dir();
        let target = dir.path().join(KEY);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(&target, b"someone else's").unwrap();
        let mut s = sink(dir.path());
        let f = staged(&mut s, b"object");
        let p = s.publish(f, &|a| name(a)).unwrap();
        assert_eq!(p.name.hash, 1);
        assert!(!p.already_present);
        assert_eq!(fs::read(&target).unwrap(), b"someone else's");
        assert_eq!(fs::read(dir.path().join(&p.key)).unwrap(), b"object");
        assert!(staging_files(dir.path()).is_empty());
    }

    #[test]
    fn gives_up_when_every_name_is_taken() {
        let dir = out_dir();
        let mut s = sink(dir.path());
        let other = staged(&mut s, b"other");
        s.publish(other, &|_| name(7)).unwrap();
        let f = staged(&mut s, b"object");
        let e = s.publish(f, &|_| name(7)).unwrap_err();
        assert!(
            matches!(e, SinkError::NameCollision { attempts: 16, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("_00000007.log.gz"), "{e}");
        assert!(staging_files(dir.path()).is_empty());
    }

    #[test]
    fn keys_follow_layout_and_prefix() {
        let dir = out_dir();
        let layout: Layout = "hive-hourly".parse().unwrap();
        let mut s = DirSink::open(dir.path(), layout, Prefix::new("/a/b/").unwrap()).unwrap();
        let f = staged(&mut s, b"x");
        let p = s.publish(f, &|a| name(a)).unwrap();
        assert_eq!(p.key, layout.key(&Prefix::new("a/b").unwrap(), &name(0)));
        assert!(p
            .key
            .starts_with("a/b/AWSLogs/aws-account-id=123456789012/"));
        assert!(s.path_of(&p.key).is_file());
    }

    #[test]
    fn leftovers_are_removed_unless_another_writer_is_active() {
        let dir = out_dir();
        let staging = staging_dir(dir.path()).unwrap();
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("999-0.tmp"), b"crashed").unwrap();
        let mut first = sink(dir.path());
        assert!(staging_files(dir.path()).is_empty());
        let open = staged(&mut first, b"in progress");
        // A second writer on the same root must not remove the first one's file.
        let second = sink(dir.path());
        assert!(open.path().exists());
        drop(second);
        // Unpublished staged files are removed when dropped.
        let path = open.path().to_path_buf();
        drop(open);
        assert!(!path.exists());
    }

    #[test]
    fn the_staging_folder_of_earlier_versions_is_removed_from_the_output() {
        let dir = out_dir();
        let old = dir.path().join(STAGING_DIR);
        fs::create_dir_all(&old).unwrap();
        fs::write(old.join(LOCK_FILE), b"").unwrap();
        fs::write(old.join("12-0.tmp"), b"crashed").unwrap();
        let _s = sink(dir.path());
        assert!(!old.exists());
        // Kept while a writer of such a version holds it.
        fs::create_dir_all(&old).unwrap();
        let lock = File::create(old.join(LOCK_FILE)).unwrap();
        flock(&lock, libc::LOCK_SH).unwrap();
        fs::write(old.join("13-0.tmp"), b"in progress").unwrap();
        let _t = sink(dir.path());
        assert!(old.join("13-0.tmp").exists());
    }

    #[test]
    fn errors_name_the_path() {
        let dir = out_dir();
        let file = dir.path().join("not-a-folder");
        fs::write(&file, b"").unwrap();
        let e = DirSink::open(&file, Layout::default(), Prefix::default()).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("cannot create folder "), "{text}");
        assert!(text.contains("not-a-folder"), "{text}");
    }
}
