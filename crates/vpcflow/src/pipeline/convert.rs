//! One-shot conversion (`vpcflow convert`): capture files, Skydive
//! recordings or captures of NetFlow/IPFIX export traffic, read to the end,
//! through the pipeline into the destination.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use vpcflow_core::aggregate::AggregatorStats;
use vpcflow_sinks::s3::DeliveryReport;
use vpcflow_sinks::{FileFormat, RunSummary};
use vpcflow_sources::netflow::{Decoder, NetflowStats};
use vpcflow_sources::pcap::{read_capture, read_capture_stream, CaptureStats};
use vpcflow_sources::sflow::{self, SflowStats};
use vpcflow_sources::skydive::replay::{self, BadLine};
use vpcflow_sources::skydive::{Converter, ConverterStats};
use vpcflow_sources::udp::replay::{self as udp_replay, ReplayOptions, ReplayStats};
use vpcflow_sources::udp::DatagramDecoder;

use super::start;
use crate::config::Settings;
use crate::inputs::Input;

/// What the input files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    /// Capture files (pcap, pcapng).
    #[default]
    Captures,
    /// Recorded Skydive messages, one JSON message or flow array per line.
    Skydive,
    /// Captures of NetFlow/IPFIX export traffic (UDP datagrams to `port`,
    /// or to any port).
    Netflow {
        /// Only datagrams to or from this port.
        port: Option<u16>,
    },
    /// Captures of sFlow export traffic (UDP datagrams to `port`, or to
    /// any port).
    Sflow {
        /// Only datagrams to or from this port.
        port: Option<u16>,
    },
}

impl InputKind {
    /// What one input file is called in messages.
    pub fn file_noun(self) -> &'static str {
        match self {
            InputKind::Captures => "capture file",
            InputKind::Skydive => "Skydive recording",
            InputKind::Netflow { .. } | InputKind::Sflow { .. } => "capture of export traffic",
        }
    }
}

/// The totals of one conversion.
#[derive(Debug, Default)]
pub struct ConvertSummary {
    /// What the input files were.
    pub input: InputKind,
    /// What the Skydive converter did (Skydive recordings).
    pub skydive: ConverterStats,
    /// Skydive messages read (Skydive recordings).
    pub skydive_messages: u64,
    /// Malformed lines of Skydive recordings.
    pub bad_lines: u64,
    /// The first malformed lines, with their file, line number and reason.
    pub bad: Vec<BadLine>,
    /// Capture files read completely or up to a truncation.
    pub files_read: usize,
    /// Capture files that could not be read, with the reason.
    pub files_failed: Vec<(PathBuf, String)>,
    /// What the NetFlow/IPFIX decoder did (`--netflow`).
    pub netflow: NetflowStats,
    /// What the sFlow decoder did (`--sflow`).
    pub sflow: SflowStats,
    /// What reading the captures of export traffic found (`--netflow`,
    /// `--sflow`).
    pub netflow_replay: ReplayStats,
    /// What the capture reader saw.
    pub capture: CaptureStats,
    /// What aggregation did.
    pub aggregation: AggregatorStats,
    /// What the sink wrote.
    pub output: RunSummary,
    /// What the delivery of each spooled destination (S3, CloudWatch Logs,
    /// Firehose) did.
    pub delivery: Vec<DeliveryReport>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Text or Parquet files.
    pub file_format: FileFormat,
}

/// Converts `inputs` into flow log files as `settings` say. `progress` is told
/// how many input bytes (of files as stored) have been consumed so far.
pub fn convert(
    settings: &Settings,
    input: InputKind,
    inputs: &[Input],
    progress: &mut dyn FnMut(u64),
) -> Result<ConvertSummary> {
    let started = Instant::now();
    let mut pipeline = start(settings, super::sinks::RunKind::OneShot, None)?;
    let ingest = &mut pipeline.ingest;
    let mut summary = ConvertSummary {
        input,
        file_format: settings.file_format,
        ..ConvertSummary::default()
    };
    let mut converter = Converter::new(settings.skydive.clone());
    let mut done_before = 0u64;
    let mut netflow =
        Decoder::new(settings.netflow.decoder).with_names(settings.netflow.names.clone());
    let mut sflow = sflow::Decoder::new(settings.sflow.decoder);
    for item in inputs {
        let path = item.name().to_path_buf();
        let noun = input.file_noun();
        let opened = match item.open_stream() {
            Ok(opened) => opened,
            Err(e) => {
                tracing::error!(file = %path.display(), error = %format!("{e:#}"), "cannot read {noun}");
                summary.files_failed.push((path, format!("{e:#}")));
                continue;
            }
        };
        let raw_bytes = opened.as_ref().map(|o| o.raw_bytes.clone());
        let mut file_progress = |bytes: u64| {
            let raw = raw_bytes
                .as_ref()
                .map_or(bytes, |r| r.load(Ordering::Relaxed));
            progress(done_before + raw)
        };
        if let InputKind::Netflow { port } | InputKind::Sflow { port } = input {
            let options = ReplayOptions { port };
            let read = match input {
                InputKind::Sflow { .. } => replay(&path, opened, &options, &mut sflow, ingest),
                _ => replay(&path, opened, &options, &mut netflow, ingest),
            };
            match read {
                Ok(stats) => {
                    summary.files_read += 1;
                    summary.netflow_replay.add(stats);
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot read capture file");
                    summary.files_failed.push((path.clone(), e));
                }
            }
        } else if input == InputKind::Skydive {
            let read = match opened {
                Some(o) => replay::read(
                    &path,
                    std::io::BufReader::with_capacity(1 << 20, o.reader),
                    &mut converter,
                    ingest,
                ),
                None => replay::read_file(&path, &mut converter, ingest),
            };
            match read {
                Ok(stats) => {
                    summary.files_read += 1;
                    summary.skydive_messages += stats.messages;
                    summary.bad_lines += stats.bad_lines;
                    let room = replay::ReplayStats::MAX_BAD_LINES.saturating_sub(summary.bad.len());
                    summary.bad.extend(stats.bad.into_iter().take(room));
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot read Skydive recording");
                    summary.files_failed.push((path.clone(), e.to_string()));
                }
            }
        } else {
            let read = match opened {
                Some(mut o) => read_capture_stream(
                    &path,
                    &mut o.reader,
                    &settings.capture,
                    ingest,
                    &mut file_progress,
                ),
                None => read_capture(&path, &settings.capture, ingest, &mut file_progress),
            };
            match read {
                Ok(stats) => {
                    if stats.truncated_file {
                        tracing::warn!(file = %path.display(), "capture file is truncated: read up to the last complete packet");
                    }
                    summary.files_read += 1;
                    summary.capture += stats;
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot read capture file");
                    summary.files_failed.push((path.clone(), e.to_string()));
                }
            }
        }
        done_before += item
            .size()
            .or_else(|| raw_bytes.as_ref().map(|r| r.load(Ordering::Relaxed)))
            .unwrap_or(0);
        progress(done_before);
        if ingest.writer_gone {
            break;
        }
    }
    netflow.finish(ingest);
    summary.netflow = netflow.stats();
    DatagramDecoder::finish(&mut sflow, ingest);
    summary.sflow = sflow.stats();
    converter.finish(ingest);
    summary.skydive = *converter.stats();
    ingest.finish();
    summary.aggregation = *ingest.aggregator.stats();
    (summary.output, summary.delivery) = pipeline.join()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Reads one capture of export traffic (opened as a stream, or by its
/// path) into `decoder`.
fn replay<D: DatagramDecoder>(
    path: &std::path::Path,
    opened: Option<crate::inputs::Opened>,
    options: &ReplayOptions,
    decoder: &mut D,
    out: &mut dyn vpcflow_core::FlowConsumer,
) -> Result<ReplayStats, String> {
    match opened {
        Some(o) => udp_replay::read(path, o.reader, options, decoder, out),
        None => udp_replay::read_file(path, options, decoder, out),
    }
}
