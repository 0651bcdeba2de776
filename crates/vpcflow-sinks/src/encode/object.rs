//! [`ObjectEncoder`]: either encoder behind one interface, for the file writer.

use std::io::{self, Write};
use std::sync::Arc;

use vpcflow_core::format::LogFormat;
use vpcflow_core::values::RecordValues;

use super::encoded::Encoded;
use super::format::FileFormat;
use super::parquet::ParquetEncoder;
use super::pool::DeflatePool;
use super::text_gzip::{GzipLevel, TextGzipEncoder};

/// The encoder of one object in the chosen [`FileFormat`].
pub enum ObjectEncoder<W: Write + Send> {
    /// gzip text.
    Text(TextGzipEncoder<W>),
    /// Parquet.
    Parquet(ParquetEncoder<W>),
}

impl<W: Write + Send> ObjectEncoder<W> {
    /// An encoder of `file_format` writing into `inner`; text is compressed by
    /// the threads of `pool`, Parquet on the caller's thread.
    pub fn new(
        file_format: FileFormat,
        inner: W,
        format: &LogFormat,
        level: GzipLevel,
        pool: &Arc<DeflatePool>,
    ) -> io::Result<ObjectEncoder<W>> {
        Ok(match file_format {
            FileFormat::Text => ObjectEncoder::Text(TextGzipEncoder::with_pool(
                inner,
                format,
                level,
                Arc::clone(pool),
            )),
            FileFormat::Parquet => {
                ObjectEncoder::Parquet(ParquetEncoder::new(inner, format, level)?)
            }
        })
    }

    /// Appends one record.
    #[inline]
    pub fn write_record(&mut self, values: &RecordValues<'_>) -> io::Result<()> {
        match self {
            ObjectEncoder::Text(e) => e.write_record(values),
            ObjectEncoder::Parquet(e) => e.write_record(values),
        }
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        match self {
            ObjectEncoder::Text(e) => e.records(),
            ObjectEncoder::Parquet(e) => e.records(),
        }
    }

    /// Uncompressed size so far: text bytes, or PLAIN-encoded Parquet values.
    pub fn uncompressed_bytes(&self) -> u64 {
        match self {
            ObjectEncoder::Text(e) => e.uncompressed_bytes(),
            ObjectEncoder::Parquet(e) => e.uncompressed_bytes(),
        }
    }

    /// Estimated size of the object so far, as written.
    pub fn estimated_compressed_bytes(&self) -> u64 {
        match self {
            ObjectEncoder::Text(e) => e.estimated_compressed_bytes(),
            ObjectEncoder::Parquet(e) => e.estimated_compressed_bytes(),
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        match self {
            ObjectEncoder::Text(e) => e.get_ref(),
            ObjectEncoder::Parquet(e) => e.get_ref(),
        }
    }

    /// Completes the object.
    pub fn finish(self) -> io::Result<Encoded<W>> {
        match self {
            ObjectEncoder::Text(e) => e.finish(),
            ObjectEncoder::Parquet(e) => e.finish(),
        }
    }
}
