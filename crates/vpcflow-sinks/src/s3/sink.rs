//! The S3 sink: a [`FileWriter`] publishing into a [`Spool`], and the
//! [`Delivery`] draining it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vpcflow_core::aggregate::Released;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::format::LogFormat;
use vpcflow_core::layout::Layout;
use vpcflow_core::name::FlowLogId;

use super::delivery::Delivery;
use super::dest::S3Destination;
use super::options::S3Options;
use crate::error::SinkError;
use crate::sink::{RecordSink, RunSummary};
use crate::spool::{DeliveryReport, DeliveryStats, Spool, SpoolOptions, SpoolQueue};
use crate::writer::{FileWriter, WriterOptions};

/// How long [`RecordSink::finish`] waits for the spool to drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainPolicy {
    /// Up to this long (the daemon's shutdown timeout).
    For(Duration),
    /// Until everything is delivered, unless every object left fails with a
    /// permanent error (a one-shot conversion).
    UntilDelivered,
}

/// Where the S3 sink spools and delivers.
#[derive(Debug, Clone)]
pub struct S3SinkOptions {
    /// Bucket and key prefix.
    pub destination: S3Destination,
    /// Key layout.
    pub layout: Layout,
    /// The spool folder.
    pub spool_dir: PathBuf,
    /// Size limit of the spool, bytes.
    pub spool_max_bytes: u64,
    /// Client and upload settings.
    pub s3: S3Options,
    /// How long `finish` waits for deliveries.
    pub drain: DrainPolicy,
}

/// Spools and delivers: see the [module documentation](self).
pub struct S3Sink {
    writer: FileWriter<Spool>,
    queue: SpoolQueue,
    delivery: Delivery,
    stats: Arc<DeliveryStats>,
    drain: DrainPolicy,
    concurrency: usize,
    destination: S3Destination,
    report: Option<DeliveryReport>,
}

impl S3Sink {
    /// Opens the spool (delivering its leftovers first), starts the delivery
    /// and returns a sink writing flow log `id` in `format`.
    pub fn open(
        options: S3SinkOptions,
        id: FlowLogId,
        format: LogFormat,
        writer_options: WriterOptions,
    ) -> Result<S3Sink, SinkError> {
        let stats = Arc::new(DeliveryStats::default());
        let (spool, queue) = open_spool(&options, Arc::clone(&stats))?;
        let concurrency = options.s3.max_concurrent_uploads;
        let destination = options.destination.clone();
        let delivery = match options.drain {
            DrainPolicy::UntilDelivered => {
                Delivery::start_one_shot(queue.clone(), options.s3, &options.destination.bucket)?
            }
            DrainPolicy::For(_) => Delivery::start(queue.clone(), options.s3)?,
        };
        Ok(S3Sink {
            writer: FileWriter::new(spool, id, format, writer_options),
            queue,
            delivery,
            stats,
            drain: options.drain,
            concurrency,
            destination,
            report: None,
        })
    }

    /// The counters of the spool and the delivery (for `/metrics`).
    pub fn stats(&self) -> Arc<DeliveryStats> {
        Arc::clone(&self.stats)
    }

    /// A handle on the spool usable from other threads, e.g. to lift the
    /// size limit ([`SpoolQueue::admit_all`]) when a shutdown signal arrives
    /// while the writer waits for space.
    pub fn queue(&self) -> SpoolQueue {
        self.queue.clone()
    }

    /// What the delivery achieved, once [`RecordSink::finish`] returned.
    pub fn report(&self) -> Option<&DeliveryReport> {
        self.report.as_ref()
    }
}

/// Opens the spool of `options` for the destination's bucket.
fn open_spool(
    options: &S3SinkOptions,
    stats: Arc<DeliveryStats>,
) -> Result<(Spool, SpoolQueue), SinkError> {
    Spool::open(
        &options.spool_dir,
        SpoolOptions {
            bucket: options.destination.bucket.clone(),
            layout: options.layout,
            prefix: options.destination.prefix.clone(),
            max_bytes: options.spool_max_bytes,
            give_up_on_permanent_errors: match options.drain {
                DrainPolicy::UntilDelivered => Some(options.s3.max_concurrent_uploads),
                DrainPolicy::For(_) => None,
            },
        },
        stats,
    )
}

/// Delivers what the spool of `options` holds, without writing anything new
/// (`vpcflow deliver`), and reports what is left.
pub fn drain_spool(options: S3SinkOptions) -> Result<DeliveryReport, SinkError> {
    let stats = Arc::new(DeliveryStats::default());
    let (_spool, queue) = open_spool(&options, Arc::clone(&stats))?;
    let concurrency = options.s3.max_concurrent_uploads;
    let mut delivery =
        Delivery::start_one_shot(queue.clone(), options.s3, &options.destination.bucket)?;
    Ok(wait(
        &queue,
        &mut delivery,
        &stats,
        options.drain,
        concurrency,
        &options.destination,
    ))
}

/// Waits for the spool to drain under `policy`, stops the delivery and
/// reports.
fn wait(
    queue: &SpoolQueue,
    delivery: &mut Delivery,
    stats: &DeliveryStats,
    policy: DrainPolicy,
    concurrency: usize,
    destination: &S3Destination,
) -> DeliveryReport {
    let outcome = match policy {
        DrainPolicy::For(limit) => queue.wait_drained(Some(Instant::now() + limit), None),
        DrainPolicy::UntilDelivered => queue.wait_drained(None, Some(concurrency)),
    };
    delivery.stop();
    let counts = stats.snapshot();
    let left = queue.status();
    if left.files > 0 {
        tracing::warn!(
            folder = %left.folder.display(),
            files = left.files,
            bytes = left.bytes,
            outcome = ?outcome,
            "objects left in the spool; they are delivered at the next start"
        );
    }
    DeliveryReport {
        destination: destination.to_string(),
        outcome,
        delivered: counts.objects_delivered,
        already_present: counts.already_present,
        bytes_delivered: counts.bytes_delivered,
        left,
    }
}

impl RecordSink for S3Sink {
    fn write(&mut self, released: &Released, interfaces: &InterfaceTable) -> Result<(), SinkError> {
        self.writer.write(released, interfaces)
    }

    /// Seals every open file into the spool, then waits for the delivery as
    /// the [`DrainPolicy`] says. A bounded drain (the daemon stopping) seals
    /// whatever the spool's size limit; a one-shot conversion keeps the limit
    /// and waits for deliveries to free space, as while it ran.
    fn finish(&mut self) -> Result<RunSummary, SinkError> {
        if matches!(self.drain, DrainPolicy::For(_)) {
            self.queue.admit_all();
        }
        let summary = self.writer.finish()?;
        let report = wait(
            &self.queue,
            &mut self.delivery,
            &self.stats,
            self.drain,
            self.concurrency,
            &self.destination,
        );
        self.report = Some(report);
        Ok(summary)
    }

    fn delivery_report(&self) -> Option<DeliveryReport> {
        self.report.clone()
    }

    fn totals(&self) -> RunSummary {
        self.writer.summary()
    }

    fn open_files(&self) -> usize {
        self.writer.open_files()
    }
}
