//! [`RecordSink`]: the interface the pipeline writes released records to,
//! whatever the output, and how a new destination joins vpcflow.
//!
//! # Adding a destination
//!
//! 1. **Code**: a folder of its own here (`src/NAME/`, as [`crate::s3`]),
//!    public through `lib.rs`, with one type that implements [`RecordSink`].
//!    A destination of files reuses [`FileWriter`](crate::FileWriter) (slots,
//!    size cap, encoders, AWS names) over an [`ObjectStore`](crate::ObjectStore)
//!    of its own; one that takes records (log events, stream records) formats
//!    them with the record format and batches them within the service's
//!    limits itself. Whatever leaves the process is first made durable in the
//!    [`Spool`](crate::Spool) and removed only when the service confirmed it,
//!    so a crash or an outage loses nothing that was sealed; its delivery
//!    counters are a [`DeliveryStats`](crate::DeliveryStats) for the metrics.
//! 2. **Configuration**: its section in a file of its own under
//!    `crates/vpcflow/src/config/` (as `s3.rs`: a `serde` struct with
//!    `deny_unknown_fields` and doc comments, validated into a settings type
//!    whose errors name the key), its form of `--out` / `output.out` parsed
//!    into a variant of `Destination`; every key documented in
//!    `docs/configuration.md` (a test compares it with the parser).
//! 3. **Wiring**: one arm in `crates/vpcflow/src/pipeline/sinks.rs` opens it
//!    from the settings; `convert`, `run` and `deliver` all open sinks there,
//!    and the writer thread calls [`RecordSink::write`] for every batch and
//!    [`RecordSink::finish`] at the end.
//! 4. **Tests**: unit tests next to the code for batching limits and
//!    encoding; delivery tested against a real server on loopback (Garage for
//!    S3; a stand-in only where no real server implements the API, and say
//!    so), including faults (refused connections, throttling, a kill between
//!    upload and confirmation) and that nothing is lost or duplicated; an
//!    end-to-end test through the `vpcflow` binary in `crates/vpcflow/tests/`;
//!    shared helpers come from `vpcflow-testkit`.

use vpcflow_core::aggregate::Released;
use vpcflow_core::enrich::InterfaceTable;

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
    /// [`RecordSink::finish`], for sinks that deliver from a spool (S3, CloudWatch
    /// Logs, Firehose); `None` otherwise.
    fn delivery_report(&self) -> Option<DeliveryReport> {
        None
    }

    /// The delivery reports of every destination behind this sink (several
    /// for a [`FanOut`](crate::FanOut)), after [`RecordSink::finish`].
    fn delivery_reports(&self) -> Vec<DeliveryReport> {
        self.delivery_report().into_iter().collect()
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
