//! The state the pipeline threads publish and the endpoint reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use vpcflow_core::aggregate::AggregatorStats;
use vpcflow_sinks::RunSummary;
use vpcflow_sources::live::LiveCaptureStats;
use vpcflow_sources::netflow::{CollectorStats, NetflowStats};
use vpcflow_sources::skydive::live::LiveStats;
use vpcflow_sources::skydive::ConverterStats;

use vpcflow_sinks::spool::DeliveryCounts;
use vpcflow_sinks::DeliveryStats;

/// Traffic counted into flows for one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceCounts {
    /// The interface's name (capture interface or Skydive NodeTID).
    pub name: String,
    /// `capture` or `skydive`.
    pub source: &'static str,
    /// IP packets.
    pub packets: u64,
    /// IP bytes.
    pub bytes: u64,
    /// Flow updates handed to aggregation.
    pub updates: u64,
}

/// What the ingest thread publishes.
#[derive(Debug, Clone, Default)]
pub struct IngestView {
    /// Traffic per interface, by interface index.
    pub interfaces: Vec<InterfaceCounts>,
    /// Live capture counters per interface name, sorted by name.
    pub captures: Vec<(String, LiveCaptureStats)>,
    /// Interfaces being captured now.
    pub captures_open: u64,
    /// Skydive analyzers configured.
    pub analyzers: u64,
    /// What the Skydive connections saw.
    pub skydive_live: LiveStats,
    /// What the Skydive converter did.
    pub skydive: ConverterStats,
    /// What the NetFlow/IPFIX sockets received.
    pub netflow_collector: CollectorStats,
    /// What the NetFlow/IPFIX decoder did.
    pub netflow: NetflowStats,
    /// What aggregation did.
    pub aggregation: AggregatorStats,
    /// Flows in open windows.
    pub open_flows: u64,
    /// Why sources are failing, one sentence each (empty: none is).
    pub failing: Vec<String>,
}

/// Records written for one interface, by log-status and action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// OK records with action ACCEPT.
    pub ok_accept: u64,
    /// OK records with action REJECT.
    pub ok_reject: u64,
    /// NODATA records.
    pub nodata: u64,
    /// SKIPDATA records.
    pub skipdata: u64,
}

/// What the writer thread publishes.
#[derive(Debug, Clone, Default)]
pub struct WriterView {
    /// Records written per interface name, by interface index.
    pub records: Vec<(String, RecordCounts)>,
    /// What the sink published so far.
    pub output: RunSummary,
    /// Files being written.
    pub open_files: u64,
}

/// Permanent upload errors as last seen by a health check.
#[derive(Debug, Default)]
struct PermanentErrors {
    seen: u64,
    /// When `seen` last went up (ms since start).
    last_increase_ms: Option<u64>,
}

/// Shared between the pipeline threads (writers) and the HTTP endpoint
/// (reader). Times are milliseconds since [`Telemetry::new`].
#[derive(Debug)]
pub struct Telemetry {
    started: Instant,
    ingest: Mutex<IngestView>,
    writer: Mutex<WriterView>,
    ingest_beat_ms: AtomicU64,
    /// 1 + when ingest started waiting for room in the writer's channel; 0
    /// while it is not waiting.
    waiting_since: AtomicU64,
    writer_stopped: Mutex<Option<String>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// The counters of each destination delivered through a spool, by name.
    delivery: Mutex<Vec<(String, Arc<DeliveryStats>)>>,
    journal: Arc<JournalStats>,
    permanent: Mutex<PermanentErrors>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked while publishing left a view that is still
    // worth reading.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Telemetry {
    /// Empty telemetry; the clock starts now.
    pub fn new() -> Arc<Telemetry> {
        Arc::new(Telemetry {
            started: Instant::now(),
            ingest: Mutex::default(),
            writer: Mutex::default(),
            ingest_beat_ms: AtomicU64::new(0),
            waiting_since: AtomicU64::new(0),
            writer_stopped: Mutex::new(None),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            delivery: Mutex::default(),
            journal: Arc::default(),
            permanent: Mutex::default(),
        })
    }

    /// Milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Replaces the ingest view (and counts as a sign of life of the ingest
    /// thread).
    pub fn publish_ingest(&self, view: IngestView) {
        *lock(&self.ingest) = view;
        self.ingest_alive();
    }

    /// A sign of life of the ingest thread.
    pub fn ingest_alive(&self) {
        self.ingest_beat_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// When the ingest thread last gave a sign of life (ms since start).
    pub fn ingest_beat_ms(&self) -> u64 {
        self.ingest_beat_ms.load(Ordering::Relaxed)
    }

    /// The ingest thread starts (`true`) or stops waiting for room in the
    /// writer's channel.
    pub fn ingest_waiting(&self, waiting: bool) {
        let value = if waiting { self.now_ms() + 1 } else { 0 };
        self.waiting_since.store(value, Ordering::Relaxed);
    }

    /// Since when the ingest thread has been waiting for the writer (ms since
    /// start), if it is.
    pub fn waiting_since_ms(&self) -> Option<u64> {
        match self.waiting_since.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n - 1),
        }
    }

    /// Updates the writer view in place.
    pub fn publish_writer(&self, update: impl FnOnce(&mut WriterView)) {
        update(&mut lock(&self.writer));
    }

    /// The writer thread ended, for `reason`.
    pub fn writer_stopped(&self, reason: String) {
        *lock(&self.writer_stopped) = Some(reason);
    }

    /// Why the writer thread ended, if it did.
    pub fn writer_stop_reason(&self) -> Option<String> {
        lock(&self.writer_stopped).clone()
    }

    /// A configuration reload was applied (`true`) or rejected.
    pub fn reloaded(&self, ok: bool) {
        let counter = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reloads applied and rejected so far.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed),
        )
    }

    /// Adds the spool and delivery counters of the destination `name`
    /// (read at each scrape).
    pub fn plug_delivery(&self, name: &str, stats: Arc<DeliveryStats>) {
        lock(&self.delivery).push((name.to_string(), stats));
    }

    /// The counters of each destination delivered through a spool.
    pub fn deliveries(&self) -> Vec<(String, Arc<DeliveryStats>)> {
        lock(&self.delivery).clone()
    }

    /// The counters added up over every destination (`None`: none is
    /// delivered through a spool).
    pub fn delivery(&self) -> Option<DeliveryCounts> {
        let all = lock(&self.delivery);
        if all.is_empty() {
            return None;
        }
        let mut t = DeliveryCounts::default();
        for (_, stats) in all.iter() {
            let d = stats.snapshot();
            t.spool_files += d.spool_files;
            t.spool_bytes += d.spool_bytes;
            t.objects_delivered += d.objects_delivered;
            t.bytes_delivered += d.bytes_delivered;
            t.already_present += d.already_present;
            t.upload_errors_transient += d.upload_errors_transient;
            t.upload_errors_permanent += d.upload_errors_permanent;
            t.backpressure_waits += d.backpressure_waits;
            t.events_delivered += d.events_delivered;
            t.events_rejected += d.events_rejected;
            t.events_retried += d.events_retried;
            t.upload_latency_us_sum += d.upload_latency_us_sum;
            t.upload_latency_count += d.upload_latency_count;
            for (sum, one) in t
                .upload_latency_buckets
                .iter_mut()
                .zip(d.upload_latency_buckets)
            {
                *sum += one;
            }
        }
        Some(t)
    }

    /// The counters of the durability journal (all zero without one).
    pub fn journal_stats(&self) -> Arc<JournalStats> {
        self.journal.clone()
    }

    /// A copy of the ingest view.
    pub fn ingest(&self) -> IngestView {
        lock(&self.ingest).clone()
    }

    /// A copy of the writer view.
    pub fn writer(&self) -> WriterView {
        lock(&self.writer).clone()
    }

    /// Notes the permanent upload error count `total` seen at `now_ms`, and
    /// returns when it last went up.
    pub(super) fn permanent_errors_seen(&self, total: u64, now_ms: u64) -> Option<u64> {
        let mut p = lock(&self.permanent);
        if total > p.seen {
            p.seen = total;
            p.last_increase_ms = Some(now_ms);
        }
        p.last_increase_ms
    }
}

/// What the journal has done, for the metrics (shared with the telemetry).
#[derive(Debug, Default)]
pub struct JournalStats {
    /// Bytes of the current segment.
    pub bytes: AtomicU64,
    /// Wall clock of the last successful sync (Unix ms; 0: none yet).
    pub last_sync_ms: AtomicU64,
    /// Syncs done.
    pub syncs: AtomicU64,
    /// Syncs that failed (the next one starts a new segment).
    pub failures: AtomicU64,
    /// Snapshots written (segments started).
    pub snapshots: AtomicU64,
}
