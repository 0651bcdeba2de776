//! The CloudWatch Logs sink: records become log events (one stream per
//! interface, as AWS writes flow logs), sealed into the spool in batches
//! PutLogEvents accepts, and delivered from there.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use vpcflow_core::aggregate::Released;
use vpcflow_core::enrich::InterfaceTable;
use vpcflow_core::format::LogFormat;

use super::batch::{check, encode, split, LogEvent, Refusal};
use super::dest::LogGroupDestination;
use super::options::CloudWatchOptions;
use super::send::CloudWatchSender;
use crate::batches::{now_ms, SpoolSettings, SpooledBatches};
use crate::error::SinkError;
use crate::sink::{RecordSink, RunSummary};
use crate::spool::{DeliveryReport, DeliveryStats, SpoolQueue};

/// Where the CloudWatch Logs sink spools and delivers.
#[derive(Debug, Clone)]
pub struct CloudWatchSinkOptions {
    /// The log group.
    pub destination: LogGroupDestination,
    /// The flow log's traffic type in lower case (`all`, `accept`,
    /// `reject`): the suffix of the stream names.
    pub traffic_type: String,
    /// Its spool.
    pub spool: SpoolSettings,
    /// Client and log group settings.
    pub cloudwatch: CloudWatchOptions,
}

/// Spools and delivers log events: see the [module documentation](self).
pub struct CloudWatchSink {
    batches: SpooledBatches,
    group: String,
    suffix: String,
    format: LogFormat,
    version: u8,
    /// Events of the current `write`, by log stream.
    pending: BTreeMap<String, Vec<LogEvent>>,
    line: Vec<u8>,
    body: Vec<u8>,
    summary: RunSummary,
    refusals_logged: HashSet<&'static str>,
}

impl CloudWatchSink {
    /// Opens the spool (its leftovers are delivered first), starts the
    /// delivery and returns a sink writing records in `format`.
    pub fn open(
        options: CloudWatchSinkOptions,
        format: LogFormat,
    ) -> Result<CloudWatchSink, SinkError> {
        options
            .cloudwatch
            .validate()
            .map_err(|e| SinkError::Delivery(format!("CloudWatch Logs settings: {e}")))?;
        let group = options.destination.name.clone();
        let batches = SpooledBatches::start(
            "CloudWatch Logs",
            "cloudwatch-delivery",
            options.destination.to_string(),
            &group,
            &options.spool,
            &options.cloudwatch.delivery,
            |loaded, stats| {
                let mut config = aws_sdk_cloudwatchlogs::config::Builder::from(&loaded.config);
                if let Some(region) = &loaded.fallback_region {
                    config = config.region(aws_config::Region::new(region.clone()));
                }
                CloudWatchSender {
                    client: aws_sdk_cloudwatchlogs::Client::from_conf(config.build()),
                    options: options.cloudwatch.clone(),
                    stats,
                    retention_set: HashSet::new(),
                }
            },
        )?;
        Ok(CloudWatchSink {
            batches,
            group,
            suffix: options.traffic_type,
            version: format.version(),
            format,
            pending: BTreeMap::new(),
            line: Vec::new(),
            body: Vec::new(),
            summary: RunSummary::default(),
            refusals_logged: HashSet::new(),
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

    fn refuse(&mut self, refusal: Refusal, stream: &str, event: &LogEvent) {
        self.batches
            .stats()
            .events_rejected
            .fetch_add(1, Ordering::Relaxed);
        if self.refusals_logged.insert(refusal.as_str()) {
            tracing::warn!(
                log_stream = stream,
                timestamp_ms = event.timestamp_ms,
                reason = refusal.as_str(),
                "a record CloudWatch Logs would refuse is not sent (counted in events_rejected; logged once per reason)"
            );
        }
    }

    /// Seals what `write` collected into the spool, in batches within
    /// PutLogEvents' limits.
    fn seal_pending(&mut self) -> Result<(), SinkError> {
        let pending = std::mem::take(&mut self.pending);
        for (stream, mut events) in pending {
            for range in split(&mut events) {
                self.body.clear();
                encode(&events[range], &mut self.body);
                self.batches.seal(&self.group, &stream, &self.body)?;
            }
        }
        Ok(())
    }
}

impl RecordSink for CloudWatchSink {
    fn write(&mut self, released: &Released, interfaces: &InterfaceTable) -> Result<(), SinkError> {
        let now = now_ms();
        for record in &released.records {
            let meta = interfaces.get(record.interface);
            let stream = format!("{}-{}", meta.interface_id, self.suffix);
            let values = interfaces.values(record, self.version);
            self.line.clear();
            self.format.write_line(&values, &mut self.line);
            self.line.pop();
            let event = LogEvent {
                timestamp_ms: (record.start as i64).saturating_mul(1000),
                message: String::from_utf8_lossy(&self.line).into_owned(),
            };
            self.summary.records += 1;
            self.summary.uncompressed_bytes += self.line.len() as u64 + 1;
            match check(&event, now) {
                Ok(()) => self.pending.entry(stream).or_default().push(event),
                Err(refusal) => self.refuse(refusal, &stream, &event),
            }
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
