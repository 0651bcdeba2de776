//! The file-batching stage: released records become gzip text or Parquet
//! objects, one or more per 5-minute slot of `end` time (spec §3.3, §3.4), handed to an
//! [`ObjectStore`] when complete.

use std::collections::HashSet;
use std::sync::Arc;

use vpcflow_core::aggregate::Released;
use vpcflow_core::batch::SlotRouter;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::format::LogFormat;
use vpcflow_core::name::{slot_of, ContentHasher, FileName, FlowLogId};

use crate::encode::{
    available_threads, DeflatePool, Encoded, FileFormat, GzipLevel, ObjectEncoder, ObjectStats,
};
use crate::error::SinkError;
use crate::sink::{RecordSink, RunSummary};
use crate::store::{ObjectStore, PublishedObject, StagedFile};

/// The size cap of the 2018–2023 AWS documentation: 75 MB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 75_000_000;

/// Which size the file cap is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CapMeasure {
    /// The object's compressed size (what S3 stores).
    #[default]
    Compressed,
    /// The uncompressed body (the spec's conservative reading, §3.3).
    Uncompressed,
}

/// Settings of a [`FileWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Text or Parquet objects.
    pub file_format: FileFormat,
    /// gzip level of the objects (of the column chunks, for Parquet).
    pub level: GzipLevel,
    /// A file is sealed, and a new one started for its slot, as soon as its
    /// size reaches this many bytes. Uncompressed, it may end up larger by the
    /// last record. Compressed, the size compared for text is
    /// [`TextGzipEncoder::estimated_compressed_bytes`](crate::TextGzipEncoder::estimated_compressed_bytes): what is written plus
    /// what is not compressed and written yet (the block being filled and up
    /// to two blocks per compression thread, 128 KiB of text each) at the
    /// ratio so far, so the file may end up larger or smaller by the error of
    /// that ratio on those blocks — a few kilobytes for flow log text. For
    /// Parquet it is [`ParquetEncoder::estimated_compressed_bytes`](crate::ParquetEncoder::estimated_compressed_bytes):
    /// the row groups written plus the buffered rows at their ratio;
    /// uncompressed, the PLAIN size of the values.
    pub max_file_bytes: u64,
    /// The size the cap applies to.
    pub cap_measure: CapMeasure,
    /// Seconds a slot stays open after `complete_before` has passed its end.
    pub grace_secs: u64,
    /// Threads compressing the text files of the writer, shared by all its
    /// open files; 0 or 1 compresses on the caller's thread. Defaults to the
    /// number of available cores. Parquet files are compressed on the
    /// caller's thread whatever this says.
    ///
    /// The bytes of a file do not depend on it. With a compressed size cap,
    /// where a full slot is split may (by a few records: blocks in flight
    /// are estimated, and there are two per thread); give it a fixed value
    /// where reruns on machines with other core counts must give the same
    /// files.
    pub compression_threads: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            file_format: FileFormat::default(),
            level: GzipLevel::default(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            cap_measure: CapMeasure::default(),
            grace_secs: 0,
            compression_threads: available_threads(),
        }
    }
}

/// Batches records of one flow log into gzip text or Parquet objects and
/// publishes them.
///
/// Each record is enriched with its interface's metadata and encoded into the
/// open file of its slot (`floor(end / 300) * 300`). A file
/// is published when it reaches the size cap or when `complete_before` of a
/// released batch says no more records can end in its slot;
/// [`FileWriter::finish`] publishes the rest. Records arriving for a slot whose
/// file was already published start another file of that slot.
///
/// After an error the writer should be dropped: files still open are
/// discarded with their staged temp files.
pub struct FileWriter<S: ObjectStore> {
    store: S,
    id: FlowLogId,
    format: LogFormat,
    version: u8,
    options: WriterOptions,
    router: SlotRouter<ObjectEncoder<StagedFile>>,
    /// Compression threads of all open files.
    pool: Arc<DeflatePool>,
    /// (slot, hash) of every object published by this writer, so that two
    /// objects of one run with equal content get distinct names instead of
    /// being taken for a re-publish of each other.
    published: HashSet<(u64, u32)>,
    summary: RunSummary,
}

impl<S: ObjectStore> FileWriter<S> {
    /// A writer of flow log `id` in `format`, publishing into `store`.
    pub fn new(store: S, id: FlowLogId, format: LogFormat, options: WriterOptions) -> Self {
        FileWriter {
            store,
            id,
            version: format.version(),
            format,
            router: SlotRouter::new(options.grace_secs),
            pool: Arc::new(DeflatePool::new(options.compression_threads)),
            options,
            published: HashSet::new(),
            summary: RunSummary::default(),
        }
    }

    /// Writes one released batch; see the [type documentation](FileWriter).
    pub fn write(
        &mut self,
        released: &Released,
        interfaces: &InterfaceTable,
    ) -> Result<(), SinkError> {
        // Records come in file order (aggregation sorts them): once one ends
        // in a later slot, the files of the slots behind both it and
        // `complete_before` are complete and are sealed right away, so the
        // files open at once stay few however many slots one batch spans (a
        // descriptor each). A batch out of order is sealed at its end only.
        let in_order = released.records.is_sorted_by_key(|r| r.end);
        let mut current_slot = None;
        let mut enricher = interfaces.enricher(self.version);
        for record in &released.records {
            let slot = slot_of(record.end);
            if in_order && current_slot != Some(slot) {
                current_slot = Some(slot);
                for (slot, file) in self
                    .router
                    .take_sealable(record.end.min(released.complete_before))
                {
                    self.seal(slot, file)?;
                }
            }
            let values = enricher.values(record);
            let (store, format, level) = (&mut self.store, &self.format, self.options.level);
            let (pool, file_format) = (&self.pool, self.options.file_format);
            let file = self.router.file_for(record.end, |_slot| {
                let staged = store.stage()?;
                let path = staged.path().to_path_buf();
                ObjectEncoder::new(file_format, staged, format, level, pool)
                    .map_err(|e| SinkError::io("write", path, e))
            })?;
            file.write_record(values)
                .map_err(|e| SinkError::io("write", file.get_ref().path(), e))?;
            let size = match self.options.cap_measure {
                CapMeasure::Compressed => file.estimated_compressed_bytes(),
                CapMeasure::Uncompressed => file.uncompressed_bytes(),
            };
            if size >= self.options.max_file_bytes {
                let full = self.router.take(slot).expect("the file was just written");
                self.seal(slot, full)?;
            }
        }
        for (slot, file) in self.router.take_sealable(released.complete_before) {
            self.seal(slot, file)?;
        }
        Ok(())
    }

    /// Publishes every open file and returns the totals of the run.
    pub fn finish(&mut self) -> Result<RunSummary, SinkError> {
        for (slot, file) in self.router.take_all() {
            self.seal(slot, file)?;
        }
        Ok(self.summary)
    }

    /// Totals of what was published so far.
    pub fn summary(&self) -> RunSummary {
        self.summary
    }

    /// Number of files open (one per slot with unpublished records).
    pub fn open_files(&self) -> usize {
        self.router.len()
    }

    /// The store objects are published into.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, after [`FileWriter::finish`]; files still open are discarded.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Completes the file of `slot` and publishes it.
    fn seal(&mut self, slot: u64, file: ObjectEncoder<StagedFile>) -> Result<(), SinkError> {
        let path = file.get_ref().path().to_path_buf();
        let Encoded {
            inner: staged,
            stats,
            hasher,
        } = file.finish().map_err(|e| SinkError::io("write", path, e))?;
        let first_free = self.first_unused_attempt(slot, &hasher);
        let (id, kind) = (&self.id, self.options.file_format.kind());
        let name_for_attempt = |attempt: u32| FileName {
            id: id.clone(),
            slot,
            hash: hasher.name_hash(id, slot, first_free + attempt),
            kind,
        };
        let published = self.store.publish(staged, &name_for_attempt)?;
        self.record_published(slot, &published, stats);
        Ok(())
    }

    /// The first name attempt that this writer has not published yet.
    fn first_unused_attempt(&self, slot: u64, hasher: &ContentHasher) -> u32 {
        (0..)
            .find(|a| {
                !self
                    .published
                    .contains(&(slot, hasher.name_hash(&self.id, slot, *a)))
            })
            .expect("fewer objects than attempts")
    }

    fn record_published(&mut self, slot: u64, published: &PublishedObject, stats: ObjectStats) {
        self.published.insert((slot, published.name.hash));
        let s = &mut self.summary;
        s.files += 1;
        s.files_already_present += u64::from(published.already_present);
        s.records += stats.records;
        s.uncompressed_bytes += stats.uncompressed_bytes;
        s.compressed_bytes += published.bytes;
        tracing::info!(
            key = %published.key,
            records = stats.records,
            bytes = published.bytes,
            already_present = published.already_present,
            "published"
        );
    }
}

impl<S: ObjectStore> RecordSink for FileWriter<S> {
    fn write(&mut self, released: &Released, interfaces: &InterfaceTable) -> Result<(), SinkError> {
        FileWriter::write(self, released, interfaces)
    }

    fn finish(&mut self) -> Result<RunSummary, SinkError> {
        FileWriter::finish(self)
    }

    fn totals(&self) -> RunSummary {
        self.summary
    }

    fn open_files(&self) -> usize {
        FileWriter::open_files(self)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod parquet_tests;
