//! The Firehose sink: one Firehose record per flow log record (the line
//! with its LF, no header), sealed into the spool in batches PutRecordBatch
//! accepts, and delivered from there.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use vpcflow_core::aggregate::Released;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::format::LogFormat;

use super::batch::{split, MAX_RECORD_BYTES};
use super::dest::DeliveryStreamDestination;
use super::send::FirehoseSender;
use crate::batches::{DeliveryOptions, SpoolSettings, SpooledBatches};
use crate::error::SinkError;
use crate::sink::{RecordSink, RunSummary};
use crate::spool::{DeliveryReport, DeliveryStats, SpoolQueue};

/// Where the Firehose sink spools and delivers.
#[derive(Debug, Clone)]
pub struct FirehoseSinkOptions {
    /// The delivery stream.
    pub destination: DeliveryStreamDestination,
    /// Its spool.
    pub spool: SpoolSettings,
    /// Client and retries.
    pub delivery: DeliveryOptions,
}

/// Spools and delivers Firehose records: see the [module documentation](self).
pub struct FirehoseSink {
    batches: SpooledBatches,
    stream: String,
    format: LogFormat,
    version: u8,
    pending: Vec<Vec<u8>>,
    body: Vec<u8>,
    summary: RunSummary,
}

impl FirehoseSink {
    /// Opens the spool (its leftovers are delivered first), starts the
    /// delivery and returns a sink writing records in `format`.
    pub fn open(
        options: FirehoseSinkOptions,
        format: LogFormat,
    ) -> Result<FirehoseSink, SinkError> {
        options
            .delivery
            .validate()
            .map_err(|e| SinkError::Delivery(format!("Firehose settings: {e}")))?;
        let stream = options.destination.name.clone();
        let batches = SpooledBatches::start(
            "Firehose",
            "firehose-delivery",
            options.destination.to_string(),
            &stream,
            &options.spool,
            &options.delivery,
            |loaded, stats| {
                let mut config = aws_sdk_firehose::config::Builder::from(&loaded.config);
                if let Some(region) = &loaded.fallback_region {
                    config = config.region(aws_config::Region::new(region.clone()));
                }
                FirehoseSender {
                    client: aws_sdk_firehose::Client::from_conf(config.build()),
                    stats,
                }
            },
        )?;
        Ok(FirehoseSink {
            batches,
            stream,
            version: format.version(),
            format,
            pending: Vec::new(),
            body: Vec::new(),
            summary: RunSummary::default(),
        })
    }

    /// The counters of the spool and the delivery (for `/metrics`).
    pub fn stats(&self) -> Arc<DeliveryStats> {
        Arc::clone(self.batches.stats())
    }

    /// A handle on the spool usable from other threads.
    pub fn queue(&self) -> SpoolQueue {
        self.batches.queue()
    }

    fn seal_pending(&mut self) -> Result<(), SinkError> {
        let pending = std::mem::take(&mut self.pending);
        for range in split(&pending) {
            self.body.clear();
            for record in &pending[range] {
                self.body.extend_from_slice(record);
            }
            self.batches.seal(&self.stream, &self.stream, &self.body)?;
        }
        Ok(())
    }
}

impl RecordSink for FirehoseSink {
    fn write(&mut self, released: &Released, interfaces: &InterfaceTable) -> Result<(), SinkError> {
        for record in &released.records {
            let values = interfaces.values(record, self.version);
            let mut line = Vec::with_capacity(160);
            self.format.write_line(&values, &mut line);
            self.summary.records += 1;
            self.summary.uncompressed_bytes += line.len() as u64;
            if line.len() > MAX_RECORD_BYTES {
                // A flow log line is never near 1,000 KiB; counted anyway.
                self.batches
                    .stats()
                    .events_rejected
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    bytes = line.len(),
                    "a record larger than Firehose's 1,000 KiB limit is not sent"
                );
                continue;
            }
            self.pending.push(line);
        }
        self.seal_pending()
    }

    fn finish(&mut self) -> Result<RunSummary, SinkError> {
        if self.batches.bounded_drain() {
            self.batches.queue().admit_all();
        }
        self.seal_pending()?;
        self.batches.finish();
        Ok(self.summary)
    }

    fn totals(&self) -> RunSummary {
        self.summary
    }

    fn open_files(&self) -> usize {
        0
    }

    fn delivery_report(&self) -> Option<DeliveryReport> {
        self.batches.report()
    }
}
