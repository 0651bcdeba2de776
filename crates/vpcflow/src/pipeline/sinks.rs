//! The sink factory: the [`RecordSink`] of the configured destination, the
//! one place that builds it for `convert`, `run` and `deliver` alike.
//!
//! A new destination adds an arm here (and a variant of
//! [`crate::config::Destination`]); nothing else in the
//! pipeline changes.

use anyhow::{Context, Result};
use vpcflow_sinks::s3::{DrainPolicy, S3Sink, S3SinkOptions};
use vpcflow_sinks::{
    DirSink, FileWriter, GzipLevel, RecordSink, SpoolQueue, StdoutSink, WriterOptions,
};

use crate::config::{Destination, S3Target, Settings};

/// What the writer thread writes to, with a handle on its spool when it
/// delivers to S3.
pub struct OpenSink {
    /// The sink.
    pub sink: Box<dyn RecordSink + Send>,
    /// The spool of an S3 destination.
    pub spool: Option<SpoolQueue>,
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

/// Opens the sink of the configured destination.
pub fn open(settings: &Settings, drain: DrainPolicy) -> Result<OpenSink> {
    let writer_options = || -> Result<WriterOptions> {
        Ok(WriterOptions {
            file_format: settings.file_format,
            level: GzipLevel::new(settings.gzip_level)?,
            max_file_bytes: settings.max_file_bytes,
            ..WriterOptions::default()
        })
    };
    Ok(match &settings.destination {
        Destination::S3(target) => {
            let sink = S3Sink::open(
                s3_options(settings, target, drain),
                settings.flow_log.clone(),
                settings.format.clone(),
                writer_options()?,
            )
            .with_context(|| {
                format!(
                    "cannot deliver to {} through the spool {}",
                    target.destination,
                    target.settings.spool_dir.display()
                )
            })?;
            let spool = Some(sink.queue());
            OpenSink {
                sink: Box::new(sink),
                spool,
            }
        }
        Destination::Stdout => OpenSink {
            sink: Box::new(StdoutSink::new(
                std::io::BufWriter::with_capacity(1 << 20, std::io::stdout()),
                settings.format.clone(),
            )),
            spool: None,
        },
        Destination::Directory(dir) => {
            let store = DirSink::open(dir.clone(), settings.layout, settings.prefix.clone())
                .with_context(|| format!("cannot use output directory {}", dir.display()))?;
            OpenSink {
                sink: Box::new(FileWriter::new(
                    store,
                    settings.flow_log.clone(),
                    settings.format.clone(),
                    writer_options()?,
                )),
                spool: None,
            }
        }
    })
}
