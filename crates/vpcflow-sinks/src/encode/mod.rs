//! Encoders: how the records of one object become its bytes.
//!
//! An encoder streams into any [`Write`]: records are formatted and compressed as
//! they arrive, so memory does not grow with the size of the object. Text
//! objects come from [`TextGzipEncoder`], Parquet objects from
//! [`ParquetEncoder`]; [`ObjectEncoder`] is either, as [`FileFormat`] says.
//!
//! gzip members are compressed in independent blocks ([`BLOCK_SIZE`]) that a
//! [`DeflatePool`] can spread over several cores; the blocks still form one
//! standard deflate stream, identical whatever the number of threads.

mod block;
mod format;
mod gzip_stream;
mod object;
pub mod parquet;
mod pool;
mod text_gzip;

use std::io::{self, Write};

pub use self::parquet::ParquetEncoder;
pub use block::BLOCK_SIZE;
pub use format::{FileFormat, FileFormatError};
pub use object::ObjectEncoder;
pub use pool::{available_threads, DeflatePool};
pub use text_gzip::{GzipLevel, InvalidGzipLevel, TextGzipEncoder};

use vpcflow_core::name::ContentHasher;

/// What an encoder produced for one finished object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Records in the object (the header line not counted).
    pub records: u64,
    /// Bytes of the uncompressed body, header line included.
    pub uncompressed_bytes: u64,
    /// Bytes of the object as written (compressed).
    pub compressed_bytes: u64,
}

/// A finished object: the writer it went into, what it holds and the digest of
/// its uncompressed body (which names it).
pub struct Encoded<W> {
    /// The writer the object was written into, flushed.
    pub inner: W,
    /// Sizes and record count.
    pub stats: ObjectStats,
    /// Digest of the uncompressed body, for [`ContentHasher::name_hash`].
    pub hasher: ContentHasher,
}

/// A writer that counts the bytes passed through it.
#[derive(Debug)]
pub(crate) struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> CountingWriter<W> {
    pub(crate) fn new(inner: W) -> CountingWriter<W> {
        CountingWriter { inner, written: 0 }
    }

    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn get_ref(&self) -> &W {
        &self.inner
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
