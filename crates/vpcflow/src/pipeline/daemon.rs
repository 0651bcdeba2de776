//! The daemon loop (`vpcflow run`): the live sources (captures of
//! `[[capture.interface]]`, Skydive analyzers of `[[skydive.analyzer]]`) feed
//! the pipeline until a signal; reloads are applied on the way, and the
//! ingest side publishes its counters for the metrics endpoint.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use vpcflow_core::aggregate::AggregatorStats;
use vpcflow_sinks::s3::{DeliveryReport, DrainPolicy};
use vpcflow_sinks::RunSummary;
use vpcflow_sources::live::{LiveCaptureStats, LiveSource};
use vpcflow_sources::skydive::live::{Live, LiveStats};
use vpcflow_sources::skydive::subscriber::Subscription;
use vpcflow_sources::skydive::{Converter, ConverterStats};

use super::ingest::Ingest;
use super::{start, Reloadable};
use crate::config::{Destination, Settings};
use crate::metrics::{IngestView, Telemetry};

/// How often the ingest thread of `vpcflow run` publishes its counters.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// A Skydive analyzer disconnected this long makes the daemon unhealthy.
const ANALYZER_GRACE: Duration = Duration::from_secs(10);

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
    let mut pipeline = start(settings, drain, Some(telemetry.clone()))?;
    let spool = pipeline.spool.clone();
    let ingest = &mut pipeline.ingest;
    if let Some(spool) = &spool {
        telemetry.plug_delivery(spool.stats().clone());
    }
    ingest.captures = settings.captures.clone();
    ingest.other_source = "skydive";
    let mut capture = LiveSource::new(settings.captures.clone(), settings.capture.fragments);
    capture.start(ingest).map_err(|e| anyhow!("{e}"))?;
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
            let view = ingest_view(settings, ingest, &capture, &live, &mut analyzers_down_since);
            telemetry.publish_ingest(view);
        }
        capture.pump(Duration::from_millis(100), ingest);
        if subscription.is_some() {
            loop {
                match rx.try_recv() {
                    Ok(event) => live.handle(event, wall_ms(), ingest),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break,
                }
            }
        }
        if has_patterns && last_poll.elapsed() >= Duration::from_secs(1) {
            last_poll = Instant::now();
            capture.poll_interfaces(ingest);
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
    capture.stop(ingest);
    if let Some(subscription) = subscription {
        subscription.stop();
    }
    // Events already received are counted.
    while let Ok(event) = rx.try_recv() {
        live.handle(event, wall_ms(), ingest);
    }
    live.finish(wall_ms(), ingest);
    ingest.finish();
    let mut totals = RunTotals {
        capture: *capture.stats(),
        live: *live.stats(),
        skydive: *live.converter().stats(),
        aggregation: *ingest.aggregator.stats(),
        ..RunTotals::default()
    };
    (totals.output, totals.delivery) = pipeline.join()?;
    Ok(totals)
}
