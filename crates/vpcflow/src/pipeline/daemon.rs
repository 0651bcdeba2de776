//! The daemon loop (`vpcflow run`): the live sources (captures of
//! `[[capture.interface]]`, Skydive analyzers of `[[skydive.analyzer]]`, each
//! a [`Source`]) feed the pipeline until a signal; reloads are applied on the
//! way, and the ingest side publishes its counters for the metrics endpoint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use vpcflow_core::aggregate::AggregatorStats;
use vpcflow_sinks::s3::DeliveryReport;
use vpcflow_sinks::RunSummary;
use vpcflow_sources::live::LiveCaptureStats;
use vpcflow_sources::netflow::NetflowStats;
use vpcflow_sources::sflow::SflowStats;
use vpcflow_sources::skydive::live::LiveStats;
use vpcflow_sources::skydive::ConverterStats;
use vpcflow_sources::udp::CollectorStats;
use vpcflow_sources::{Source, SourceStats};

use super::ingest::{Durable, Ingest};
use super::journal::{self, Journal};
use super::{sources, start, Reloadable};
use crate::config::{state_dir, Settings};
use crate::metrics::{IngestView, Telemetry};

/// How often the ingest thread of `vpcflow run` publishes its counters.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// How long one pass of the loop waits for the sources when they are quiet.
const PUMP_WAIT: Duration = Duration::from_millis(100);

/// The totals of a `vpcflow run`.
#[derive(Debug, Default)]
pub struct RunTotals {
    /// What the live captures saw.
    pub capture: LiveCaptureStats,
    /// What the live source saw.
    pub live: LiveStats,
    /// What the Skydive converter did.
    pub skydive: ConverterStats,
    /// What the NetFlow/IPFIX sockets received.
    pub netflow_collector: CollectorStats,
    /// What the NetFlow/IPFIX decoder did.
    pub netflow: NetflowStats,
    /// What the sFlow sockets received.
    pub sflow_collector: CollectorStats,
    /// What the sFlow decoder did.
    pub sflow: SflowStats,
    /// What aggregation did.
    pub aggregation: AggregatorStats,
    /// What the sink wrote.
    pub output: RunSummary,
    /// What the delivery of each spooled destination (S3, CloudWatch Logs,
    /// Firehose) did.
    pub delivery: Vec<DeliveryReport>,
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

/// Which collectors have sockets configured (they may change on a reload).
#[derive(Debug, Clone, Copy)]
struct Collecting {
    netflow: bool,
    sflow: bool,
}

impl Collecting {
    fn of(settings: &Settings) -> Collecting {
        Collecting {
            netflow: !settings.netflow.listen.is_empty(),
            sflow: !settings.sflow.listen.is_empty(),
        }
    }

    /// How far event time trails the wall clock when traffic is quiet: the
    /// slowest of the configured sources. Exporters send a flow when it
    /// ends or times out (NetFlow), samples as they come (sFlow).
    fn idle_delay(self, settings: &Settings) -> u64 {
        let own = if settings.captures.is_empty() {
            settings.idle_delay_secs
        } else {
            settings.capture_idle_delay_secs
        };
        let exporters = [
            self.netflow.then_some(settings.netflow.idle_delay_secs),
            self.sflow.then_some(settings.sflow.idle_delay_secs),
        ];
        match exporters.into_iter().flatten().max() {
            Some(delay) if settings.captures.is_empty() && settings.analyzers.is_empty() => delay,
            Some(delay) => own.max(delay),
            None => own,
        }
    }

    /// The source named for interfaces that are not captured.
    fn other_source(self, settings: &Settings) -> &'static str {
        if !settings.analyzers.is_empty() {
            "skydive"
        } else if self.netflow {
            "netflow"
        } else if self.sflow {
            "sflow"
        } else {
            "skydive"
        }
    }
}

/// Applies a reload's collector sockets: the running collectors open and
/// close theirs; a collector configured for the first time is created (with
/// the rest of its section as the run started). Sockets that cannot be
/// opened are logged and reported by the health endpoint.
fn relisten(
    settings: &Settings,
    new: &Reloadable,
    sources: &mut Vec<Box<dyn Source>>,
    ingest: &mut Ingest,
) -> Collecting {
    for (key, specs) in &new.listeners {
        let running = sources.iter_mut().find_map(|s| s.set_listeners(key, specs));
        if running.is_none() && !specs.is_empty() {
            let mut source = sources::collector(settings, key, Vec::new());
            if let Err(e) = source.start(ingest) {
                tracing::error!(error = %e, "configuration reload: {key} not started");
                continue;
            }
            source.set_listeners(key, specs);
            sources.push(source);
        }
    }
    let [(_, netflow), (_, sflow)] = &new.listeners;
    Collecting {
        netflow: !netflow.is_empty(),
        sflow: !sflow.is_empty(),
    }
}

/// The counters of the ingest side of `vpcflow run`, for the telemetry.
fn ingest_view(ingest: &Ingest, sources: &mut [Box<dyn Source>]) -> IngestView {
    let mut view = IngestView {
        interfaces: ingest.counts.clone(),
        aggregation: *ingest.aggregator.stats(),
        open_flows: ingest.aggregator.open_flows() as u64,
        ..IngestView::default()
    };
    for source in sources.iter_mut() {
        match source.stats() {
            SourceStats::Capture {
                per_interface,
                open,
                ..
            } => {
                view.captures = per_interface;
                view.captures_open = open;
            }
            SourceStats::Skydive {
                live,
                converter,
                analyzers,
            } => {
                view.skydive_live = live;
                view.skydive = converter;
                view.analyzers = analyzers;
            }
            SourceStats::Netflow { collector, decoder } => {
                view.netflow_collector = collector;
                view.netflow = decoder;
            }
            SourceStats::Sflow { collector, decoder } => {
                view.sflow_collector = collector;
                view.sflow = decoder;
            }
        }
        view.failing.extend(source.failing());
    }
    view
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
    sources::preflight(settings)?;
    let mut sources = sources::open(settings)?;
    let Control {
        stop,
        reload,
        reloader,
        telemetry,
    } = control;
    let mut pipeline = start(
        settings,
        super::sinks::RunKind::Daemon,
        Some(telemetry.clone()),
    )?;
    let spools = pipeline.spools.clone();
    let ingest = &mut pipeline.ingest;
    for spool in &spools {
        telemetry.plug_delivery(&spool.destination, spool.queue.stats().clone());
    }
    ingest.captures = settings.captures.clone();
    let mut collecting = Collecting::of(settings);
    ingest.other_source = collecting.other_source(settings);
    let journal_thread = open_journal(settings, ingest, &telemetry)?;
    let sync_interval = journal_thread.as_ref().map(|j| j.every);
    for source in &mut sources {
        source.start(ingest).map_err(|e| anyhow!("{e}"))?;
    }
    let mut idle_delay = collecting.idle_delay(settings);
    let mut last_advance = Instant::now();
    let mut last_tick = Instant::now();
    let mut last_publish: Option<Instant> = None;
    let mut last_sync = Instant::now();
    while !stop.load(Ordering::SeqCst) && !ingest.writer_gone {
        if reload.swap(false, Ordering::SeqCst) {
            if let Some(new) = reloader() {
                collecting = relisten(settings, &new, &mut sources, ingest);
                idle_delay = collecting.idle_delay(settings);
                ingest.other_source = collecting.other_source(settings);
                ingest.apply(new);
            }
        }
        if last_publish.is_none_or(|t| t.elapsed() >= PUBLISH_EVERY) {
            last_publish = Some(Instant::now());
            telemetry.publish_ingest(ingest_view(ingest, &mut sources));
        }
        // The first source waits for input; the others hand over what they
        // already have.
        for (i, source) in sources.iter_mut().enumerate() {
            let wait = if i == 0 { PUMP_WAIT } else { Duration::ZERO };
            source.pump(wait, wall_ms(), ingest);
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            for source in &mut sources {
                source.tick(ingest);
            }
        }
        if last_advance.elapsed() >= Duration::from_millis(500) {
            last_advance = Instant::now();
            let now = (wall_ms() / 1000) as u64;
            ingest
                .aggregator
                .advance_time(now.saturating_sub(idle_delay));
            ingest.forward_released();
        }
        if sync_interval.is_some_and(|every| last_sync.elapsed() >= every) {
            last_sync = Instant::now();
            let before = sources
                .iter_mut()
                .filter_map(|s| s.checkpoint(wall_ms()))
                .collect();
            ingest.sync(before);
        }
    }
    // Shutting down: the open files are sealed into the spool whatever its
    // size limit, and a writer waiting for space goes on.
    for spool in &spools {
        spool.queue.admit_all();
    }
    for source in &mut sources {
        source.stop(wall_ms(), ingest);
    }
    ingest.finish();
    ingest.sync_full();
    let mut totals = RunTotals {
        aggregation: *ingest.aggregator.stats(),
        ..RunTotals::default()
    };
    for source in &sources {
        match source.stats() {
            SourceStats::Capture { totals: t, .. } => totals.capture = t,
            SourceStats::Skydive {
                live, converter, ..
            } => {
                totals.live = live;
                totals.skydive = converter;
            }
            SourceStats::Netflow { collector, decoder } => {
                totals.netflow_collector = collector;
                totals.netflow = decoder;
            }
            SourceStats::Sflow { collector, decoder } => {
                totals.sflow_collector = collector;
                totals.sflow = decoder;
            }
        }
    }
    (totals.output, totals.delivery) = pipeline.join()?;
    // Everything was published: nothing is left to replay.
    if let Some(j) = journal_thread {
        let mut journal = j
            .handle
            .join()
            .map_err(|_| anyhow!("the journal thread panicked"))?;
        if let Err(e) = journal.clear() {
            tracing::warn!(journal = %journal.dir().display(), "cannot empty the journal: {e}");
        }
    }
    Ok(totals)
}

/// The journal thread of a run, and how often it syncs.
struct JournalThread {
    every: Duration,
    handle: std::thread::JoinHandle<Journal>,
}

/// Opens the durability journal of `settings` (file destinations with
/// `[durability]` on), restores what a previous run left into `ingest`,
/// starts the journal thread between `ingest` and the writer, and asks for
/// the first snapshot (`None`: no journal).
fn open_journal(
    settings: &Settings,
    ingest: &mut Ingest,
    telemetry: &Telemetry,
) -> Result<Option<JournalThread>> {
    let Some(every) = settings.sync_interval else {
        return Ok(None);
    };
    // A replay re-publishes files under content-derived names (the same
    // bytes, nothing twice); printed lines, log events and stream records
    // cannot be taken back, so those destinations run without a journal.
    if let Some(d) = settings.unjournaled_destination() {
        tracing::warn!(
            destination = %d.describe(),
            "no durability journal: records sent there cannot be taken back, so a replay could send them twice; a crash loses the open windows"
        );
        return Ok(None);
    }
    let dir = state_dir(settings.state_dir.as_deref())?;
    let stats = telemetry.journal_stats();
    let (journal, recovered) = Journal::open(&dir, &journal::identity(settings), stats)
        .map_err(|e| anyhow!("state.dir: {e}"))?;
    let snapshot_due = Arc::new(AtomicBool::new(true));
    ingest.durable = Some(Durable::new(snapshot_due.clone()));
    let (mut replayed, mut last_seq) = (Vec::new(), 0);
    if let Some(recovered) = recovered {
        match ingest.recover(&recovered) {
            Ok(()) => {
                tracing::info!(
                    batches = recovered.batches.len(),
                    interfaces = recovered.interfaces.len(),
                    open_flows = ingest.aggregator.open_flows(),
                    "journal replayed: open windows restored, journalled records handed to the writer again"
                );
                replayed = recovered.batches;
                last_seq = recovered.last_seq;
            }
            Err(e) => tracing::warn!("the journal cannot be replayed ({e}); starting without it"),
        }
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(super::CHANNEL_DEPTH);
    let writer = ingest.interpose(tx);
    let acked = ingest.acked.clone();
    let handle = std::thread::Builder::new()
        .name("vpcflow-journal".into())
        .spawn(move || {
            journal::journal_loop(journal, rx, writer, acked, snapshot_due, replayed, last_seq)
        })
        .map_err(|e| anyhow!("cannot start the journal thread: {e}"))?;
    // The first sync writes a snapshot (a new segment) and hands the
    // replayed batches to the writer.
    ingest.sync(Vec::new());
    Ok(Some(JournalThread { every, handle }))
}
