//! Parquet objects (spec §3.2): one OPTIONAL column per field of the format,
//! GZIP-compressed column chunks, data page v1 with PLAIN and dictionary
//! encodings only; a plain Parquet file, not wrapped in gzip.

mod columns;

use std::io::{self, Write};
use std::sync::Arc;

use parquet::basic::{Compression, GzipLevel as ParquetGzipLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use vpcflow_core::format::LogFormat;
use vpcflow_core::name::ContentHasher;
use vpcflow_core::values::RecordValues;

pub use self::columns::schema;
use self::columns::ColumnBuffer;
use super::encoded::{Encoded, ObjectStats};
use super::text_gzip::GzipLevel;

/// Rows buffered before they are written as one row group: memory per open
/// file stays bounded (a few tens of MB for the widest formats) while row
/// groups stay large enough to compress well.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The `created_by` of every file: fixed, so that the bytes depend only on the
/// records.
const CREATED_BY: &str = concat!("vpcflow ", env!("CARGO_PKG_VERSION"));

fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e)
}

/// A writer that feeds everything written through it to a [`ContentHasher`]:
/// a Parquet object is named after its bytes.
struct Hashing<W> {
    inner: W,
    hasher: ContentHasher,
    /// Bytes written so far.
    written: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Streams one Parquet object into `W`.
///
/// Records are buffered column by column and written as a row group every
/// [`ROW_GROUP_ROWS`] rows (and at the end), so memory does not grow with the
/// object. The writer settings are fixed (format version 1 data pages,
/// dictionary encoding falling back to PLAIN, GZIP at the given level, chunk
/// statistics, no page index or bloom filter, a fixed `created_by`), so the
/// same records always give the same bytes; the object's name hash is taken
/// from those bytes.
///
/// ```
/// use vpcflow_core::format::LogFormat;
/// use vpcflow_core::values::RecordValues;
/// use vpcflow_sinks::encode::{GzipLevel, ParquetEncoder};
///
/// let mut enc = ParquetEncoder::new(Vec::new(), &LogFormat::default(), GzipLevel::default()).unwrap();
/// enc.write_record(&RecordValues::default()).unwrap();
/// let done = enc.finish().unwrap();
/// assert_eq!(done.stats.records, 1);
/// assert!(done.inner.starts_with(b"PAR1") && done.inner.ends_with(b"PAR1"));
/// ```
pub struct ParquetEncoder<W: Write + Send> {
    writer: SerializedFileWriter<Hashing<W>>,
    columns: Vec<ColumnBuffer>,
    /// Rows buffered, not yet in a row group.
    pending_rows: usize,
    /// PLAIN-encoded size of the buffered values.
    pending_plain: u64,
    /// PLAIN-encoded size of the values already in row groups.
    flushed_plain: u64,
    records: u64,
}

impl<W: Write + Send> ParquetEncoder<W> {
    /// An encoder of records in `format` writing into `inner`, compressing
    /// column chunks with gzip at `level`. The file's magic is written at once.
    pub fn new(inner: W, format: &LogFormat, level: GzipLevel) -> io::Result<ParquetEncoder<W>> {
        let level = ParquetGzipLevel::try_new(level.get()).map_err(to_io)?;
        let properties = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::GZIP(level))
            .set_dictionary_enabled(true)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true)
            .set_bloom_filter_enabled(false)
            .set_created_by(CREATED_BY.to_string())
            .build();
        let hashing = Hashing {
            inner,
            hasher: ContentHasher::new(),
            written: 0,
        };
        let writer = SerializedFileWriter::new(
            hashing,
            schema(format).map_err(to_io)?,
            Arc::new(properties),
        )
        .map_err(to_io)?;
        Ok(ParquetEncoder {
            writer,
            columns: format
                .fields()
                .iter()
                .map(|f| ColumnBuffer::new(*f))
                .collect(),
            pending_rows: 0,
            pending_plain: 0,
            flushed_plain: 0,
            records: 0,
        })
    }

    /// Appends one record as a row.
    #[inline]
    pub fn write_record(&mut self, values: &RecordValues<'_>) -> io::Result<()> {
        for column in &mut self.columns {
            self.pending_plain += column.push(values);
        }
        self.pending_rows += 1;
        self.records += 1;
        if self.pending_rows >= ROW_GROUP_ROWS {
            self.write_row_group()?;
        }
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// PLAIN-encoded size of the values so far: what the columns hold before
    /// dictionary encoding and compression (4 bytes an INT32, 8 an INT64, 4
    /// plus the length a string; nulls count 0).
    pub fn uncompressed_bytes(&self) -> u64 {
        self.flushed_plain + self.pending_plain
    }

    /// Bytes of the file handed to the inner writer so far (the magic and the
    /// row groups written).
    pub fn compressed_bytes(&self) -> u64 {
        self.writer.bytes_written() as u64
    }

    /// An estimate of the file's size so far: the bytes written plus the
    /// buffered rows at the ratio of the row groups written. Before the first
    /// row group that ratio is unknown and the buffered rows count with their
    /// PLAIN size, an over-estimate, so a small size cap seals files early
    /// rather than late.
    pub fn estimated_compressed_bytes(&self) -> u64 {
        let written = self.compressed_bytes();
        if self.flushed_plain == 0 {
            written + self.pending_plain
        } else {
            let ratio = written as f64 / self.flushed_plain as f64;
            written + (self.pending_plain as f64 * ratio) as u64
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.writer.inner().inner
    }

    /// Writes the last row group and the footer and returns the inner writer
    /// (flushed) with the object's sizes and the digest of its bytes.
    pub fn finish(mut self) -> io::Result<Encoded<W>> {
        if self.pending_rows > 0 {
            self.write_row_group()?;
        }
        let mut hashing = self.writer.into_inner().map_err(to_io)?;
        hashing.flush()?;
        // The digest and the count have seen every byte of the file once.
        let Hashing {
            inner,
            hasher,
            written,
        } = hashing;
        let stats = ObjectStats {
            records: self.records,
            uncompressed_bytes: self.flushed_plain,
            compressed_bytes: written,
        };
        Ok(Encoded {
            inner,
            stats,
            hasher,
        })
    }

    fn write_row_group(&mut self) -> io::Result<()> {
        let mut group = self.writer.next_row_group().map_err(to_io)?;
        for column in &mut self.columns {
            let mut writer = group
                .next_column()
                .map_err(to_io)?
                .expect("one column writer per field of the schema");
            column.write_to(&mut writer).map_err(to_io)?;
            writer.close().map_err(to_io)?;
        }
        group.close().map_err(to_io)?;
        self.flushed_plain += self.pending_plain;
        self.pending_plain = 0;
        self.pending_rows = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
