//! The sink factory: the [`RecordSink`] of the configured destinations, the
//! one place that builds them for `convert`, `run` and `deliver` alike.
//!
//! A new destination adds an arm here (and a variant of
//! [`crate::config::Destination`]); nothing else in the pipeline changes.
//! Several destinations are written through a [`FanOut`], each with its own
//! spool, delivery and counters.

use std::time::Duration;

use anyhow::{Context, Result};
use vpcflow_sinks::batches::SpoolSettings;
use vpcflow_sinks::s3::{DrainPolicy, S3Sink, S3SinkOptions};
use vpcflow_sinks::DeliveryReport;
use vpcflow_sinks::{
    CloudWatchSink, CloudWatchSinkOptions, DirSink, FanOut, FileWriter, FirehoseSink,
    FirehoseSinkOptions, GzipLevel, RecordSink, SpoolQueue, StdoutSink, WriterOptions,
};

use crate::config::{Destination, RecordTarget, S3Target, Settings};

/// How long a run waits for its deliveries at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// A conversion: until everything is delivered (or only permanent
    /// errors are left).
    OneShot,
    /// `vpcflow run` stopping: each destination's `shutdown_timeout`.
    Daemon,
    /// `vpcflow deliver`: as given.
    Deliver(DrainPolicy),
}

impl RunKind {
    fn drain(self, shutdown_timeout: Duration) -> DrainPolicy {
        match self {
            RunKind::OneShot => DrainPolicy::UntilDelivered,
            RunKind::Daemon => DrainPolicy::For(shutdown_timeout),
            RunKind::Deliver(policy) => policy,
        }
    }
}

/// A destination's spool, for the metrics and the shutdown.
#[derive(Debug, Clone)]
pub struct OpenSpool {
    /// The destination, as shown in logs and metric labels.
    pub destination: String,
    /// Its spool.
    pub queue: SpoolQueue,
}

/// What the writer thread writes to, with a handle on the spool of each
/// destination delivered through one.
pub struct OpenSink {
    /// The sink (a [`FanOut`] over several destinations).
    pub sink: Box<dyn RecordSink + Send>,
    /// The spools of the S3, CloudWatch Logs and Firehose destinations.
    pub spools: Vec<OpenSpool>,
}

/// The spool of a CloudWatch Logs or Firehose destination, drained as
/// `kind` says at the end.
fn spool_settings<K, O>(target: &RecordTarget<K, O>, kind: RunKind) -> SpoolSettings {
    SpoolSettings {
        dir: target.spool_dir.clone(),
        max_bytes: target.spool_max_bytes,
        drain: kind.drain(target.shutdown_timeout),
    }
}

/// The options of the S3 sink (and of `vpcflow deliver`'s drain) for
/// `target`, delivering with `drain` at the end.
pub fn s3_options(settings: &Settings, target: &S3Target, drain: DrainPolicy) -> S3SinkOptions {
    let s3 = &target.settings;
    S3SinkOptions {
        destination: target.destination.clone(),
        layout: settings.layout,
        spool_dir: s3.spool_dir.clone(),
        spool_max_bytes: s3.spool_max_bytes,
        s3: s3.options.clone(),
        drain,
    }
}

/// Opens the sinks of every configured destination.
pub fn open(settings: &Settings, kind: RunKind) -> Result<OpenSink> {
    let mut sinks = Vec::new();
    let mut spools = Vec::new();
    for destination in &settings.destinations {
        let (sink, spool) = open_one(settings, destination, kind)?;
        if let Some(queue) = spool {
            spools.push(OpenSpool {
                destination: destination.describe(),
                queue,
            });
        }
        sinks.push(sink);
    }
    let sink = if sinks.len() == 1 {
        sinks.remove(0)
    } else {
        Box::new(FanOut::new(sinks))
    };
    Ok(OpenSink { sink, spools })
}

/// Delivers what the spool of `destination` holds without writing anything
/// new (`vpcflow deliver`); `None` for destinations without a spool.
pub fn drain(
    settings: &Settings,
    destination: &Destination,
    policy: DrainPolicy,
) -> Result<Option<DeliveryReport>> {
    match destination {
        Destination::Directory(_) | Destination::Stdout => Ok(None),
        Destination::S3(target) => {
            let report = vpcflow_sinks::s3::drain_spool(s3_options(settings, target, policy))
                .with_context(|| {
                    format!(
                        "cannot deliver the spool {}",
                        target.settings.spool_dir.display()
                    )
                })?;
            Ok(Some(report))
        }
        Destination::CloudWatch(_) | Destination::Firehose(_) => {
            let (mut sink, _) = open_one(settings, destination, RunKind::Deliver(policy))?;
            sink.finish()
                .with_context(|| format!("cannot deliver to {}", destination.describe()))?;
            Ok(sink.delivery_report())
        }
    }
}

type Opened = (Box<dyn RecordSink + Send>, Option<SpoolQueue>);

/// Opens the sink of one destination.
fn open_one(settings: &Settings, destination: &Destination, kind: RunKind) -> Result<Opened> {
    let writer_options = || -> Result<WriterOptions> {
        Ok(WriterOptions {
            file_format: settings.file_format,
            level: GzipLevel::new(settings.gzip_level)?,
            max_file_bytes: settings.max_file_bytes,
            ..WriterOptions::default()
        })
    };
    let cannot_deliver = || {
        let spool = destination.spool_dir().map(|d| d.display().to_string());
        format!(
            "cannot deliver to {} through the spool {}",
            destination.describe(),
            spool.unwrap_or_default()
        )
    };
    Ok(match destination {
        Destination::S3(target) => {
            let drain = kind.drain(target.settings.shutdown_timeout);
            let sink = S3Sink::open(
                s3_options(settings, target, drain),
                settings.flow_log.clone(),
                settings.format.clone(),
                writer_options()?,
            )
            .with_context(cannot_deliver)?;
            let queue = sink.queue();
            (Box::new(sink), Some(queue))
        }
        Destination::CloudWatch(target) => {
            let sink = CloudWatchSink::open(
                CloudWatchSinkOptions {
                    destination: target.destination.clone(),
                    traffic_type: settings.traffic_type.as_str().to_ascii_lowercase(),
                    spool: spool_settings(target, kind),
                    cloudwatch: target.options.clone(),
                },
                settings.format.clone(),
            )
            .with_context(cannot_deliver)?;
            let queue = sink.queue();
            (Box::new(sink), Some(queue))
        }
        Destination::Firehose(target) => {
            let sink = FirehoseSink::open(
                FirehoseSinkOptions {
                    destination: target.destination.clone(),
                    spool: spool_settings(target, kind),
                    delivery: target.options.clone(),
                },
                settings.format.clone(),
            )
            .with_context(cannot_deliver)?;
            let queue = sink.queue();
            (Box::new(sink), Some(queue))
        }
        Destination::Stdout => (
            Box::new(StdoutSink::new(
                std::io::BufWriter::with_capacity(1 << 20, std::io::stdout()),
                settings.format.clone(),
            )),
            None,
        ),
        Destination::Directory(dir) => {
            let store = DirSink::open(dir.clone(), settings.layout, settings.prefix.clone())
                .with_context(|| format!("cannot use output directory {}", dir.display()))?;
            (
                Box::new(FileWriter::new(
                    store,
                    settings.flow_log.clone(),
                    settings.format.clone(),
                    writer_options()?,
                )),
                None,
            )
        }
    })
}
