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

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use vpcflow_core::aggregate::{Aggregator, AggregatorStats, Closed, Released};
use vpcflow_core::aws_service::AwsServices;
use vpcflow_core::interface::InterfaceTable;
use vpcflow_core::policy::{Policy, PolicyEngine};
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
use crate::metrics::{IngestView, InterfaceCounts, RecordCounts, Telemetry};
use crate::reload::Reloadable;

/// Hand-overs in flight between the threads.
const CHANNEL_DEPTH: usize = 8;

/// Records per batch given to the sink: closed windows are expanded from their
/// compact form this many at a time.
const BATCH_RECORDS: usize = 16_384;

/// How often the ingest thread of `vpcflow run` publishes its counters.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// A Skydive analyzer disconnected this long makes the daemon unhealthy.
const ANALYZER_GRACE: Duration = Duration::from_secs(10);

/// What crosses from the ingest thread to the writer thread.
enum Message {
    /// A new interface, in registration order (so both threads agree on
    /// indices), with the addresses the operating system gives it when it is
    /// a live capture.
    Interface(String, Vec<IpAddr>),
    /// Records of closed windows.
    Records(Closed),
    /// A configuration reload: records that follow are written with it.
    Reload(Arc<Reloadable>),
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

/// The ingest side: interface registry, REJECT policy and aggregator,
/// feeding the channel.
struct Ingest {
    interfaces: InterfaceTable,
    aggregator: Aggregator,
    tx: SyncSender<Message>,
    writer_gone: bool,
    /// Live captures: interfaces they name get their addresses from the OS.
    captures: Vec<CaptureSpec>,
    /// The REJECT policy; `None` leaves every source's action as it is.
    policy: Option<PolicyEngine>,
    /// Observations of a batch with the policy's actions (reused, so that a
    /// policy costs no allocation per batch).
    decided: Vec<FlowUpdate>,
    /// Traffic per interface, by index.
    counts: Vec<InterfaceCounts>,
    /// The source of interfaces no live capture names.
    other_source: &'static str,
    /// Where waits for the writer are reported (`vpcflow run`).
    telemetry: Option<Arc<Telemetry>>,
}

impl Ingest {
    /// Puts `policy` in force from the next observation on (`None`: no
    /// policy). Interfaces already registered are attached to it by name;
    /// connections tracked under the previous policy are kept for the
    /// interfaces that still have security groups.
    fn set_policy(&mut self, policy: Option<Policy>) {
        match (policy, &mut self.policy) {
            (None, _) => self.policy = None,
            (Some(p), Some(engine)) => engine.replace(p),
            (Some(p), None) => {
                let mut engine = PolicyEngine::new(p, matches);
                for (index, meta) in self.interfaces.iter() {
                    engine.attach(index, &meta.name, &meta.addresses);
                }
                self.policy = Some(engine);
            }
        }
    }

    fn send(&mut self, message: Message) {
        if self.writer_gone {
            return;
        }
        let message = match self.tx.try_send(message) {
            Ok(()) => return,
            Err(TrySendError::Full(m)) => m,
            Err(TrySendError::Disconnected(_)) => {
                // The writer thread stopped on an error; it is reported when joined.
                self.writer_gone = true;
                return;
            }
        };
        if let Some(t) = &self.telemetry {
            t.ingest_waiting(true);
        }
        if self.tx.send(message).is_err() {
            self.writer_gone = true;
        }
        if let Some(t) = &self.telemetry {
            t.ingest_waiting(false);
        }
    }

    /// Applies a configuration reload here and hands it to the writer.
    fn apply(&mut self, reload: Reloadable) {
        self.interfaces.reconfigure(reload.interfaces.clone());
        self.set_policy(reload.policy.clone());
        // Reconfigured interfaces may have other own addresses.
        if let Some(engine) = &mut self.policy {
            for (index, meta) in self.interfaces.iter() {
                engine.attach(index, &meta.name, &meta.addresses);
            }
        }
        self.send(Message::Reload(Arc::new(reload)));
    }

    #[inline]
    fn count(&mut self, update: &FlowUpdate) {
        if let Some(c) = self.counts.get_mut(update.interface.0 as usize) {
            c.packets += update.packets;
            c.bytes += update.bytes;
            c.updates += 1;
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
            let captured = self.captures.iter().any(|c| matches(&c.name, name));
            let own = if captured {
                interface_addresses(name)
            } else {
                Vec::new()
            };
            // The policy needs the direction of packets: configured and OS
            // addresses, as the writer will have them.
            self.interfaces.add_addresses(index, &own);
            if let Some(policy) = &mut self.policy {
                policy.attach(index, name, &self.interfaces.get(index).addresses);
            }
            self.counts.push(InterfaceCounts {
                name: name.to_string(),
                source: if captured {
                    "capture"
                } else {
                    self.other_source
                },
                ..InterfaceCounts::default()
            });
            self.send(Message::Interface(name.to_string(), own));
        }
        index
    }

    #[inline]
    fn update(&mut self, update: &FlowUpdate) {
        if self.telemetry.is_some() {
            self.count(update);
        }
        match &mut self.policy {
            None => self.aggregator.observe(update),
            Some(policy) => {
                let mut u = *update;
                u.action = policy.decide(&u);
                self.aggregator.observe(&u);
            }
        }
        self.forward_released();
    }

    #[inline]
    fn update_batch(&mut self, updates: &[FlowUpdate]) {
        // Per-interface traffic is only for the metrics of `vpcflow run`.
        if self.telemetry.is_some() {
            for u in updates {
                self.count(u);
            }
        }
        match &mut self.policy {
            None => self.aggregator.observe_batch(updates),
            Some(policy) => {
                self.decided.clear();
                self.decided.extend_from_slice(updates);
                policy.apply(&mut self.decided);
                self.aggregator.observe_batch(&self.decided);
            }
        }
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
    let want_reject = match traffic_type {
        TrafficType::All => return,
        TrafficType::Accept => false,
        TrafficType::Reject => true,
    };
    released.records.retain(|r| {
        r.traffic
            .is_none_or(|t| t.action.is_reject() == want_reject)
    });
}

/// Adds the records of `released` to the counts of their interfaces.
fn count_records(counts: &mut Vec<RecordCounts>, released: &Released) {
    use vpcflow_core::{Action, LogStatus};
    for r in &released.records {
        let i = r.interface.0 as usize;
        if i >= counts.len() {
            counts.resize(i + 1, RecordCounts::default());
        }
        let c = &mut counts[i];
        match (r.status, r.traffic.map(|t| t.action)) {
            (LogStatus::Ok, Some(Action::Reject)) => c.ok_reject += 1,
            (LogStatus::Ok, _) => c.ok_accept += 1,
            (LogStatus::NoData, _) => c.nodata += 1,
            (LogStatus::SkipData, _) => c.skipdata += 1,
        }
    }
}

/// The writer thread: enrich, batch, encode and publish.
fn write_loop(
    settings: Settings,
    mut sink: Box<dyn RecordSink + Send>,
    rx: Receiver<Message>,
    telemetry: Option<&Telemetry>,
) -> Result<(RunSummary, Option<DeliveryReport>)> {
    let mut interfaces = InterfaceTable::new(
        settings.interface_defaults.clone(),
        settings.interfaces.clone(),
    );
    interfaces.set_aws_services(aws_services(&settings));
    let mut records = Vec::new();
    for message in rx {
        match message {
            Message::Interface(name, own) => {
                let index = interfaces.register(&name);
                interfaces.add_addresses(index, &own);
            }
            Message::Reload(reload) => {
                interfaces.reconfigure(reload.interfaces.clone());
                interfaces.set_aws_services(reload.aws_services.clone());
            }
            Message::Records(closed) => {
                for mut released in closed.into_released(BATCH_RECORDS) {
                    keep(settings.traffic_type, &mut released);
                    sink.write(&released, &interfaces)?;
                    if let Some(t) = telemetry {
                        count_records(&mut records, &released);
                        t.publish_writer(|w| {
                            w.records = records
                                .iter()
                                .enumerate()
                                .map(|(i, c)| {
                                    let name = &interfaces.get(InterfaceIndex(i as u32)).name;
                                    (name.clone(), *c)
                                })
                                .collect();
                            w.output = sink.totals();
                            w.open_files = sink.open_files() as u64;
                        });
                    }
                }
            }
        }
    }
    let summary = sink.finish()?;
    if let Some(t) = telemetry {
        t.publish_writer(|w| {
            w.output = summary;
            w.open_files = 0;
        });
    }
    Ok((summary, sink.delivery_report()))
}

/// Tells the telemetry that the writer thread ended, however it ends (a
/// panic included).
struct WriterExit<'a> {
    telemetry: Option<&'a Telemetry>,
    reason: String,
}

impl Drop for WriterExit<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.telemetry {
            t.writer_stopped(std::mem::take(&mut self.reason));
        }
    }
}

/// The AWS service ranges records are enriched with: those of
/// `flow_log.aws_ip_ranges` when the format has a field that shows them (so
/// other formats never pay for the lookups).
pub fn aws_services(settings: &Settings) -> Option<std::sync::Arc<AwsServices>> {
    use vpcflow_core::fields::Field;
    let shown = settings.format.contains(Field::PktSrcAwsService)
        || settings.format.contains(Field::PktDstAwsService);
    let ranges = settings.aws_ip_ranges.as_ref()?;
    shown.then(|| ranges.services.clone())
}

type Writer = thread::JoinHandle<Result<(RunSummary, Option<DeliveryReport>)>>;

/// Opens the sink, starts the writer thread, and returns the ingest side
/// (and the spool, for S3 destinations).
fn start(
    settings: &Settings,
    drain: DrainPolicy,
    telemetry: Option<Arc<Telemetry>>,
) -> Result<(Ingest, Writer, Option<SpoolQueue>)> {
    let (sink, spool) = open_sink(settings, drain)?;
    let (tx, rx) = sync_channel(CHANNEL_DEPTH);
    let writer_settings = settings.clone();
    let writer_telemetry = telemetry.clone();
    let writer = thread::Builder::new()
        .name("vpcflow-writer".into())
        .spawn(move || {
            let telemetry = writer_telemetry.as_deref();
            let mut exit = WriterExit {
                telemetry,
                reason: "it panicked".into(),
            };
            let result = write_loop(writer_settings, sink, rx, telemetry);
            exit.reason = match &result {
                Ok(_) => "end of the run".into(),
                Err(e) => format!("{e:#}"),
            };
            result
        })
        .context("cannot start the writer thread")?;
    let mut ingest = Ingest {
        interfaces: InterfaceTable::new(
            settings.interface_defaults.clone(),
            settings.interfaces.clone(),
        ),
        aggregator: Aggregator::new(settings.aggregation),
        tx,
        writer_gone: false,
        captures: Vec::new(),
        policy: None,
        decided: Vec::new(),
        counts: Vec::new(),
        other_source: "file",
        telemetry,
    };
    ingest.set_policy(settings.policy.clone());
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

/// How `vpcflow run` is steered from outside.
pub struct Control<'a> {
    /// Set (by SIGINT or SIGTERM) to flush and stop.
    pub stop: &'a AtomicBool,
    /// Set (by SIGHUP) to re-read the configuration; cleared when done.
    pub reload: &'a AtomicBool,
    /// Re-reads the configuration: what to apply, or `None` when the new one
    /// is rejected (it has said why).
    pub reloader: &'a mut dyn FnMut() -> Option<Reloadable>,
    /// Where the threads publish their counters and signs of life.
    pub telemetry: Arc<Telemetry>,
}

/// Why the live sources are failing, for the health check; `down_since`
/// remembers since when an analyzer has been missing.
fn failing_sources(
    settings: &Settings,
    capture: &LiveSource,
    live: &Live,
    down_since: &mut Option<Instant>,
) -> Vec<String> {
    let mut failing = Vec::new();
    let open: HashSet<&str> = capture.open_interfaces().collect();
    for (i, spec) in settings.captures.iter().enumerate() {
        if !spec.is_pattern() && !open.contains(spec.name.as_str()) {
            failing.push(format!(
                "capture.interface[{i}]: the capture of {} has ended",
                spec.name
            ));
        }
    }
    let configured = settings.analyzers.len() as u64;
    let stats = live.stats();
    let connected = stats.connects.saturating_sub(stats.disconnects);
    if connected < configured {
        let since = *down_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= ANALYZER_GRACE {
            failing.push(format!(
                "skydive.analyzer: {} of {configured} analyzers not connected for {} s",
                configured - connected,
                since.elapsed().as_secs()
            ));
        }
    } else {
        *down_since = None;
    }
    failing
}

/// The counters of the ingest side of `vpcflow run`, for the telemetry.
fn ingest_view(
    settings: &Settings,
    ingest: &Ingest,
    capture: &LiveSource,
    live: &Live,
    analyzers_down_since: &mut Option<Instant>,
) -> IngestView {
    let mut captures: Vec<_> = capture
        .per_interface()
        .iter()
        .map(|(name, s)| (name.clone(), *s))
        .collect();
    captures.sort_by(|a, b| a.0.cmp(&b.0));
    IngestView {
        interfaces: ingest.counts.clone(),
        captures,
        captures_open: capture.open_interfaces().count() as u64,
        analyzers: settings.analyzers.len() as u64,
        skydive_live: *live.stats(),
        skydive: *live.converter().stats(),
        aggregation: *ingest.aggregator.stats(),
        open_flows: ingest.aggregator.open_flows() as u64,
        failing: failing_sources(settings, capture, live, analyzers_down_since),
    }
}

/// Runs the live sources (the captures of `[[capture.interface]]`, the
/// Skydive analyzers of `[[skydive.analyzer]]`) until `control.stop` is set
/// (by a signal), then flushes every open window and file. A reload request
/// applies the new interface metadata to both threads; open windows and
/// files stay open.
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
pub fn run_live(settings: &Settings, control: Control) -> Result<RunTotals> {
    if settings.analyzers.is_empty() && settings.captures.is_empty() {
        anyhow::bail!(
            "nothing to run: configure [[capture.interface]] or [[skydive.analyzer]] blocks"
        );
    }
    let Control {
        stop,
        reload,
        reloader,
        telemetry,
    } = control;
    let drain = match &settings.destination {
        Destination::S3(target) => DrainPolicy::For(target.settings.shutdown_timeout),
        _ => DrainPolicy::UntilDelivered,
    };
    let (mut ingest, writer, spool) = start(settings, drain, Some(telemetry.clone()))?;
    if let Some(spool) = &spool {
        telemetry.plug_delivery(spool.stats().clone());
    }
    ingest.captures = settings.captures.clone();
    ingest.other_source = "skydive";
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
    let mut last_publish: Option<Instant> = None;
    let mut analyzers_down_since = None;
    let has_patterns = settings.captures.iter().any(|c| c.is_pattern());
    while !stop.load(Ordering::SeqCst) && !ingest.writer_gone {
        if reload.swap(false, Ordering::SeqCst) {
            if let Some(new) = reloader() {
                ingest.apply(new);
            }
        }
        if last_publish.is_none_or(|t| t.elapsed() >= PUBLISH_EVERY) {
            last_publish = Some(Instant::now());
            let view = ingest_view(
                settings,
                &ingest,
                &capture,
                &live,
                &mut analyzers_down_since,
            );
            telemetry.publish_ingest(view);
        }
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
    let (mut ingest, writer, _spool) = start(settings, DrainPolicy::UntilDelivered, None)?;
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

#[cfg(test)]
mod tests {
    use vpcflow_core::record::Traffic;
    use vpcflow_core::tcp_flags::TcpFlags;
    use vpcflow_core::{Action, FlowKey, FlowRecord, LogStatus};

    use super::*;

    fn record(action: Option<Action>) -> FlowRecord {
        FlowRecord {
            interface: InterfaceIndex(0),
            window_start: 60,
            start: 61,
            end: 62,
            status: if action.is_some() {
                LogStatus::Ok
            } else {
                LogStatus::NoData
            },
            traffic: action.map(|action| Traffic {
                key: FlowKey {
                    src: "10.0.0.1".parse().unwrap(),
                    dst: "10.0.0.2".parse().unwrap(),
                    src_port: 1,
                    dst_port: 2,
                    protocol: 6,
                },
                packet_addrs: None,
                packets: 1,
                bytes: 40,
                tcp_flags: TcpFlags::NONE,
                action,
            }),
        }
    }

    #[test]
    fn traffic_type_filter_counts_bpa_as_reject() {
        let all = [
            None,
            Some(Action::Accept),
            Some(Action::Reject),
            Some(Action::RejectBpa),
        ];
        for (traffic_type, want) in [
            (TrafficType::All, vec![0, 1, 2, 3]),
            (TrafficType::Accept, vec![0, 1]),
            (TrafficType::Reject, vec![0, 2, 3]),
        ] {
            let mut released = Released {
                records: all.iter().map(|a| record(*a)).collect(),
                complete_before: 0,
            };
            keep(traffic_type, &mut released);
            let expected: Vec<FlowRecord> = want.iter().map(|&i| record(all[i])).collect();
            assert_eq!(released.records, expected, "{traffic_type:?}");
        }
    }
}
