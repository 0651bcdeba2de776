//! Where finished objects go: the [`ObjectStore`] trait and the temp files
//! objects are written into before they are published.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use vpcflow_core::name::FileName;

use crate::disk_full::retry_disk_full;
use crate::error::SinkError;

/// A destination for finished objects: a local directory now, S3 (through a
/// local spool) later.
///
/// An object is first written into a [`StagedFile`] from [`ObjectStore::stage`],
/// then handed to [`ObjectStore::publish`], which makes it visible under the
/// first name from `name_for_attempt` (0, 1, 2, …) that is free or already holds
/// the very same bytes. Names derive from the content, so publishing the same
/// object twice (a retry after a crash) is idempotent, while a different object
/// whose name happens to be taken moves on to the next attempt's name.
pub trait ObjectStore {
    /// A new, empty temp file on the same file system as the published objects.
    fn stage(&mut self) -> Result<StagedFile, SinkError>;

    /// Publishes a finished staged file; see the [trait documentation](ObjectStore).
    fn publish(
        &mut self,
        staged: StagedFile,
        name_for_attempt: &dyn Fn(u32) -> FileName,
    ) -> Result<PublishedObject, SinkError>;
}

impl<S: ObjectStore + ?Sized> ObjectStore for Box<S> {
    fn stage(&mut self) -> Result<StagedFile, SinkError> {
        (**self).stage()
    }

    fn publish(
        &mut self,
        staged: StagedFile,
        name_for_attempt: &dyn Fn(u32) -> FileName,
    ) -> Result<PublishedObject, SinkError> {
        (**self).publish(staged, name_for_attempt)
    }
}

/// An object as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedObject {
    /// Its name.
    pub name: FileName,
    /// Its full key (`[prefix/]AWSLogs/…/name`).
    pub key: String,
    /// Its size.
    pub bytes: u64,
    /// The key already held these bytes (an idempotent re-publish).
    pub already_present: bool,
}

/// A temp file an object is written into before it is published. Dropping it
/// unpublished removes the file.
#[derive(Debug)]
pub struct StagedFile {
    file: File,
    path: PathBuf,
    /// Remove `path` on drop.
    owned: bool,
    /// Retry writes and fsyncs that fail because the disk is full.
    wait_for_space: bool,
}

impl StagedFile {
    /// Wraps a freshly created temp file at `path`, opened for writing.
    pub fn new(file: File, path: PathBuf) -> StagedFile {
        StagedFile {
            file,
            path,
            owned: true,
            wait_for_space: false,
        }
    }

    /// Like [`StagedFile::new`], but writes and fsyncs that fail because the
    /// disk (or quota) is full wait for space and retry instead of failing,
    /// so that records already accepted are not lost.
    pub fn waiting_for_space(file: File, path: PathBuf) -> StagedFile {
        let mut staged = StagedFile::new(file, path);
        staged.wait_for_space = true;
        staged
    }

    /// Where the temp file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the content to stable storage (fsync).
    pub fn sync(&self) -> Result<(), SinkError> {
        if self.wait_for_space {
            retry_disk_full("fsync", &self.path, || self.file.sync_all())
        } else {
            self.file.sync_all()
        }
        .map_err(|e| SinkError::io("fsync", &self.path, e))
    }

    /// The size of the file.
    pub fn len(&self) -> Result<u64, SinkError> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| SinkError::io("stat", &self.path, e))
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> Result<bool, SinkError> {
        Ok(self.len()? == 0)
    }

    /// Closes the file once it has been moved (renamed or linked and unlinked)
    /// away from [`StagedFile::path`]: nothing is removed.
    pub fn moved_away(mut self) {
        self.owned = false;
    }
}

impl Write for StagedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.wait_for_space {
            // A write that fails with ENOSPC wrote nothing, so it can be repeated.
            retry_disk_full("write", &self.path, || self.file.write(buf))
        } else {
            self.file.write(buf)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if self.owned {
            if let Err(e) = std::fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove staged file");
                }
            }
        }
    }
}
