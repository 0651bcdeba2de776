//! The conversion pipeline, wired in one place:
//!
//! ```text
//! capture files ─▶ decode ─FlowUpdate─▶ aggregate ─Released─▶ [channel] ─▶ enrich, batch, encode ─▶ sink
//! └──────────────── ingest thread ─────────────────┘                  └──────── writer thread ────────┘
//! ```
//!
//! Formatting and compression run on their own thread so that ingest keeps one
//! core to itself; the bounded channel holds ingest back when the writer falls
//! behind, so memory stays bounded.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use vpcflow_core::aggregate::{Aggregator, AggregatorStats, Closed, Released};
use vpcflow_core::interface::InterfaceTable;
use vpcflow_core::{FlowConsumer, FlowUpdate, InterfaceIndex, LossEvent};
use vpcflow_sinks::s3::{DeliveryReport, DrainPolicy, S3Sink, S3SinkOptions};
use vpcflow_sinks::{
    DirSink, FileFormat, FileWriter, GzipLevel, RecordSink, RunSummary, SpoolQueue, StdoutSink,
    WriterOptions,
};
use vpcflow_sources::live::{
    interface_addresses, matches, CaptureSpec, LiveCaptureStats, LiveSource,
};
use vpcflow_sources::pcap::{read_capture, CaptureStats};
use vpcflow_sources::skydive::live::{Live, LiveStats};
use vpcflow_sources::skydive::replay::{self, BadLine};
use vpcflow_sources::skydive::subscriber::Subscription;
use vpcflow_sources::skydive::{Converter, ConverterStats};

use crate::config::{Destination, Settings, TrafficType};

/// Hand-overs in flight between the threads.
const CHANNEL_DEPTH: usize = 8;

/// Records per batch given to the sink: closed windows are expanded from their
/// compact form this many at a time.
const BATCH_RECORDS: usize = 16_384;

/// What crosses from the ingest thread to the writer thread.
enum Message {
    /// A new interface, in registration order (so both threads agree on
    /// indices), with the addresses the operating system gives it when it is
    /// a live capture.
    Interface(String, Vec<IpAddr>),
    /// Records of closed windows.
    Records(Closed),
}

/// What the input files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    /// Capture files (pcap, pcapng).
    #[default]
    Captures,
    /// Recorded Skydive messages, one JSON message or flow array per line.
    Skydive,
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
    /// What the capture reader saw.
    pub capture: CaptureStats,
    /// What aggregation did.
    pub aggregation: AggregatorStats,
    /// What the sink wrote.
    pub output: RunSummary,
    /// What the delivery to S3 did (S3 destinations).
    pub delivery: Option<DeliveryReport>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Text or Parquet files.
    pub file_format: FileFormat,
}

/// The ingest side: interface registry and aggregator, feeding the channel.
struct Ingest {
    interfaces: InterfaceTable,
    aggregator: Aggregator,
    tx: SyncSender<Message>,
    writer_gone: bool,
    /// Live captures: interfaces they name get their addresses from the OS.
    captures: Vec<CaptureSpec>,
}

impl Ingest {
    fn send(&mut self, message: Message) {
        if !self.writer_gone && self.tx.send(message).is_err() {
            // The writer thread stopped on an error; it is reported when joined.
            self.writer_gone = true;
        }
    }

    #[inline]
    fn forward_released(&mut self) {
        if let Some(released) = self.aggregator.take_released() {
            self.send(Message::Records(released));
        }
    }
}

impl FlowConsumer for Ingest {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        let before = self.interfaces.len();
        let index = self.interfaces.register(name);
        if self.interfaces.len() > before {
            self.aggregator.add_interface(index);
            let own = if self.captures.iter().any(|c| matches(&c.name, name)) {
                interface_addresses(name)
            } else {
                Vec::new()
            };
            self.send(Message::Interface(name.to_string(), own));
        }
        index
    }

    #[inline]
    fn update(&mut self, update: &FlowUpdate) {
        self.aggregator.observe(update);
        self.forward_released();
    }

    #[inline]
    fn update_batch(&mut self, updates: &[FlowUpdate]) {
        self.aggregator.observe_batch(updates);
        self.forward_released();
    }

    fn loss(&mut self, loss: &LossEvent) {
        self.aggregator.lose(loss);
        self.forward_released();
    }
}

/// Builds the sink of the configured destination, with a handle on its spool
/// when it delivers to S3.
fn open_sink(
    settings: &Settings,
    drain: DrainPolicy,
) -> Result<(Box<dyn RecordSink + Send>, Option<SpoolQueue>)> {
    let writer_options = || -> Result<WriterOptions> {
        Ok(WriterOptions {
            file_format: settings.file_format,
            level: GzipLevel::new(settings.gzip_level)?,
            max_file_bytes: settings.max_file_bytes,
            ..WriterOptions::default()
        })
    };
    if let Destination::S3(target) = &settings.destination {
        let s3 = &target.settings;
        let options = S3SinkOptions {
            destination: target.destination.clone(),
            layout: settings.layout,
            spool_dir: s3.spool_dir.clone(),
            spool_max_bytes: s3.spool_max_bytes,
            s3: s3.options.clone(),
            drain,
        };
        let sink = S3Sink::open(
            options,
            settings.flow_log.clone(),
            settings.format.clone(),
            writer_options()?,
        )
        .with_context(|| {
            format!(
                "cannot deliver to {} through the spool {}",
                target.destination,
                s3.spool_dir.display()
            )
        })?;
        let queue = sink.queue();
        return Ok((Box::new(sink), Some(queue)));
    }
    let sink: Box<dyn RecordSink + Send> = match &settings.destination {
        Destination::Stdout => Box::new(StdoutSink::new(
            std::io::BufWriter::with_capacity(1 << 20, std::io::stdout()),
            settings.format.clone(),
        )),
        Destination::Directory(dir) => {
            let store = DirSink::open(dir.clone(), settings.layout, settings.prefix.clone())
                .with_context(|| format!("cannot use output directory {}", dir.display()))?;
            Box::new(FileWriter::new(
                store,
                settings.flow_log.clone(),
                settings.format.clone(),
                writer_options()?,
            ))
        }
        Destination::S3(_) => unreachable!("handled above"),
    };
    Ok((sink, None))
}

fn keep(traffic_type: TrafficType, released: &mut Released) {
    use vpcflow_core::Action;
    let wanted = match traffic_type {
        TrafficType::All => return,
        TrafficType::Accept => Action::Accept,
        TrafficType::Reject => Action::Reject,
    };
    released
        .records
        .retain(|r| r.traffic.is_none_or(|t| t.action == wanted));
}

/// The writer thread: enrich, batch, encode and publish.
fn write_loop(
    settings: Settings,
    mut sink: Box<dyn RecordSink + Send>,
    rx: Receiver<Message>,
) -> Result<(RunSummary, Option<DeliveryReport>)> {
    let mut interfaces = InterfaceTable::new(
        settings.interface_defaults.clone(),
        settings.interfaces.clone(),
    );
    for message in rx {
        match message {
            Message::Interface(name, own) => {
                let index = interfaces.register(&name);
                interfaces.add_addresses(index, &own);
            }
            Message::Records(closed) => {
                for mut released in closed.into_released(BATCH_RECORDS) {
                    keep(settings.traffic_type, &mut released);
                    sink.write(&released, &interfaces)?;
                }
            }
        }
    }
    let summary = sink.finish()?;
    Ok((summary, sink.delivery_report()))
}

type Writer = thread::JoinHandle<Result<(RunSummary, Option<DeliveryReport>)>>;

/// Opens the sink, starts the writer thread, and returns the ingest side
/// (and the spool, for S3 destinations).
fn start(settings: &Settings, drain: DrainPolicy) -> Result<(Ingest, Writer, Option<SpoolQueue>)> {
    let (sink, spool) = open_sink(settings, drain)?;
    let (tx, rx) = sync_channel(CHANNEL_DEPTH);
    let writer_settings = settings.clone();
    let writer = thread::Builder::new()
        .name("vpcflow-writer".into())
        .spawn(move || write_loop(writer_settings, sink, rx))
        .context("cannot start the writer thread")?;
    let ingest = Ingest {
        interfaces: InterfaceTable::new(
            settings.interface_defaults.clone(),
            settings.interfaces.clone(),
        ),
        aggregator: Aggregator::new(settings.aggregation),
        tx,
        writer_gone: false,
        captures: Vec::new(),
    };
    Ok((ingest, writer, spool))
}

/// The totals of a `vpcflow run`.
#[derive(Debug, Default)]
pub struct RunTotals {
    /// What the live captures saw.
    pub capture: LiveCaptureStats,
    /// What the live source saw.
    pub live: LiveStats,
    /// What the Skydive converter did.
    pub skydive: ConverterStats,
    /// What aggregation did.
    pub aggregation: AggregatorStats,
    /// What the sink wrote.
    pub output: RunSummary,
    /// What the delivery to S3 did (S3 destinations).
    pub delivery: Option<DeliveryReport>,
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs the live sources (the captures of `[[capture.interface]]`, the
/// Skydive analyzers of `[[skydive.analyzer]]`) until `stop` is set (by a
/// signal), then flushes every open window and file.
///
/// ```text
/// capture threads ─batches─▶ [bounded channel] ─┐
/// analyzer threads ─Event─▶ [unbounded channel] ─┴▶ convert, aggregate ─▶ [channel] ─▶ writer thread
/// ```
///
/// While traffic is quiet, event time follows the wall clock minus the idle
/// delay (`capture.idle_delay` when captures are configured, else
/// `skydive.idle_delay`), so windows close (NODATA for idle interfaces) and
/// files are published.
pub fn run_live(settings: &Settings, stop: &AtomicBool) -> Result<RunTotals> {
    if settings.analyzers.is_empty() && settings.captures.is_empty() {
        anyhow::bail!(
            "nothing to run: configure [[capture.interface]] or [[skydive.analyzer]] blocks"
        );
    }
    let drain = match &settings.destination {
        Destination::S3(target) => DrainPolicy::For(target.settings.shutdown_timeout),
        _ => DrainPolicy::UntilDelivered,
    };
    let (mut ingest, writer, spool) = start(settings, drain)?;
    ingest.captures = settings.captures.clone();
    let mut capture = LiveSource::new(settings.captures.clone(), settings.capture.fragments);
    capture.start(&mut ingest).map_err(|e| anyhow!("{e}"))?;
    let (tx, rx) = channel();
    let subscription = if settings.analyzers.is_empty() {
        None
    } else {
        Some(
            Subscription::start(&settings.analyzers, tx)
                .map_err(|e| anyhow!("skydive.analyzer: {e}"))?,
        )
    };
    let mut live = Live::new(
        Converter::new(settings.skydive.clone()),
        settings.analyzers.len(),
        settings.aggregation.interval.secs(),
    );
    let idle_delay = if settings.captures.is_empty() {
        settings.idle_delay_secs
    } else {
        settings.capture_idle_delay_secs
    };
    let mut last_advance = Instant::now();
    let mut last_poll = Instant::now();
    let has_patterns = settings.captures.iter().any(|c| c.is_pattern());
    while !stop.load(Ordering::SeqCst) && !ingest.writer_gone {
        capture.pump(Duration::from_millis(100), &mut ingest);
        if subscription.is_some() {
            loop {
                match rx.try_recv() {
                    Ok(event) => live.handle(event, wall_ms(), &mut ingest),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break,
                }
            }
        }
        if has_patterns && last_poll.elapsed() >= Duration::from_secs(1) {
            last_poll = Instant::now();
            capture.poll_interfaces(&mut ingest);
        }
        if last_advance.elapsed() >= Duration::from_millis(500) {
            last_advance = Instant::now();
            let now = (wall_ms() / 1000) as u64;
            ingest
                .aggregator
                .advance_time(now.saturating_sub(idle_delay));
            ingest.forward_released();
        }
    }
    // Shutting down: the open files are sealed into the spool whatever its
    // size limit, and a writer waiting for space goes on.
    if let Some(spool) = &spool {
        spool.admit_all();
    }
    capture.stop(&mut ingest);
    if let Some(subscription) = subscription {
        subscription.stop();
    }
    // Events already received are counted.
    while let Ok(event) = rx.try_recv() {
        live.handle(event, wall_ms(), &mut ingest);
    }
    live.finish(wall_ms(), &mut ingest);
    let rest = ingest.aggregator.finish();
    ingest.send(Message::Records(rest));
    let mut totals = RunTotals {
        capture: *capture.stats(),
        live: *live.stats(),
        skydive: *live.converter().stats(),
        aggregation: *ingest.aggregator.stats(),
        ..RunTotals::default()
    };
    drop(ingest);
    (totals.output, totals.delivery) = writer
        .join()
        .map_err(|_| anyhow!("the writer thread panicked"))?
        .context("writing flow log files failed")?;
    Ok(totals)
}

/// Converts `files` into flow log files as `settings` say. `progress` is told
/// how many capture bytes have been consumed so far.
pub fn convert(
    settings: &Settings,
    input: InputKind,
    files: &[PathBuf],
    progress: &mut dyn FnMut(u64),
) -> Result<ConvertSummary> {
    let started = Instant::now();
    let (mut ingest, writer, _spool) = start(settings, DrainPolicy::UntilDelivered)?;
    let mut summary = ConvertSummary {
        input,
        file_format: settings.file_format,
        ..ConvertSummary::default()
    };
    let mut converter = Converter::new(settings.skydive.clone());
    let mut done_before = 0u64;
    for path in files {
        if input == InputKind::Skydive {
            match replay::read_file(path, &mut converter, &mut ingest) {
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
            done_before += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            progress(done_before);
            if ingest.writer_gone {
                break;
            }
            continue;
        }
        let mut file_progress = |bytes: u64| progress(done_before + bytes);
        match read_capture(path, &settings.capture, &mut ingest, &mut file_progress) {
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
        done_before += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if ingest.writer_gone {
            break;
        }
    }
    converter.finish(&mut ingest);
    summary.skydive = *converter.stats();
    let rest = ingest.aggregator.finish();
    ingest.send(Message::Records(rest));
    summary.aggregation = *ingest.aggregator.stats();
    drop(ingest);
    (summary.output, summary.delivery) = writer
        .join()
        .map_err(|_| anyhow!("the writer thread panicked"))?
        .context("writing flow log files failed")?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}
