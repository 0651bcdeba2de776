//! The interface the pipeline writes released records to, whatever the output.

use vpcflow_core::aggregate::Released;
use vpcflow_core::interface::InterfaceTable;

use crate::error::SinkError;
use crate::spool::DeliveryReport;

/// Takes the records released by aggregation and turns them into output.
pub trait RecordSink {
    /// Writes one batch. `interfaces` resolves each record's interface metadata;
    /// `released.complete_before` lets file sinks publish the slots it closes.
    fn write(&mut self, released: &Released, interfaces: &InterfaceTable) -> Result<(), SinkError>;

    /// Publishes or flushes everything still open (end of input or shutdown)
    /// and returns the totals of the run so far.
    fn finish(&mut self) -> Result<RunSummary, SinkError>;

    /// The totals so far, while running (what metrics report).
    fn totals(&self) -> RunSummary;

    /// Files being written and not published yet.
    fn open_files(&self) -> usize;

    /// What the delivery to an object store achieved, after
    /// [`RecordSink::finish`], for sinks that deliver from a spool (S3); `None` otherwise.
    fn delivery_report(&self) -> Option<DeliveryReport> {
        None
    }
}

/// What a sink produced during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Objects published (including those that were already present).
    pub files: u64,
    /// Objects whose key already held the same bytes (idempotent re-publish).
    pub files_already_present: u64,
    /// Records written.
    pub records: u64,
    /// Uncompressed bytes written, header lines included.
    pub uncompressed_bytes: u64,
    /// Compressed bytes of the published objects (0 for uncompressed output).
    pub compressed_bytes: u64,
}
