//! The error type of every sink.

use std::io;
use std::path::PathBuf;

/// Why a sink could not encode, stage or publish an object. The cause is the
/// error's `source()`: print the chain (`{:#}` with anyhow) to see it.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A file system operation on `path` failed.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done, e.g. `create folder`, `fsync`, `write`.
        op: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing to a stream without a path (stdout) failed.
    #[error("cannot write to {target}")]
    Stream {
        /// What the stream is, e.g. `stdout`.
        target: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Every name offered for an object is already taken by a different object.
    #[error("cannot publish {key}: it and the next {attempts} alternative names are taken by files with other contents")]
    NameCollision {
        /// The key of the first name tried.
        key: String,
        /// How many alternative names were tried after it.
        attempts: u32,
    },
    /// Another process holds the spool folder.
    #[error("the spool folder {} is in use by another process (one vpcflow per spool: give each its own --spool folder)", folder.display())]
    SpoolBusy {
        /// The spool folder.
        folder: PathBuf,
    },
    /// A spooled object's sidecar cannot be written or read.
    #[error("bad spool sidecar {}: {reason}", path.display())]
    Sidecar {
        /// The sidecar file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The delivery to the object store is not possible (bad destination or
    /// settings, or it stopped).
    #[error("{0}")]
    Delivery(String),
    /// No credentials for the object store (a permanent error of a one-shot
    /// run; the message says where they were looked for).
    #[error("{0}")]
    Credentials(String),
}

impl SinkError {
    /// An [`SinkError::Io`] error: `op` failed on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> SinkError {
        SinkError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
