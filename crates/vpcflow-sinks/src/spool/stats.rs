//! Counters of the spool and the delivery, shared with whoever exports them
//! (the `/metrics` endpoint).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters and gauges of a spool and its delivery. Every field is updated
/// with relaxed atomics; read them with [`DeliveryStats::snapshot`] or
/// directly.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Gauge: objects in the spool waiting for delivery (or being delivered).
    pub spool_files: AtomicU64,
    /// Gauge: bytes of those objects.
    pub spool_bytes: AtomicU64,
    /// Objects the store confirmed (including those already present).
    pub objects_delivered: AtomicU64,
    /// Bytes of those objects.
    pub bytes_delivered: AtomicU64,
    /// Objects found already stored with the same bytes (a retry after an
    /// unknown outcome, or a spool delivered twice).
    pub already_present: AtomicU64,
    /// Failed attempts that will be retried soon (timeouts, connection
    /// errors, 5xx, throttling).
    pub upload_errors_transient: AtomicU64,
    /// Failed attempts that need an operator (access denied, no such bucket,
    /// bad credentials, …); retried at a slow pace.
    pub upload_errors_permanent: AtomicU64,
    /// Times the writer had to wait because the spool was full.
    pub backpressure_waits: AtomicU64,
    /// Log events (CloudWatch Logs) or records (Firehose) the service
    /// accepted.
    pub events_delivered: AtomicU64,
    /// Log events the service (or vpcflow, before sending, for a limit the
    /// service would enforce) refused for good: too old, too new, expired by
    /// the retention. Counted and logged, never retried.
    pub events_rejected: AtomicU64,
    /// Records sent again alone after the service failed them inside an
    /// accepted batch (Firehose `FailedPutCount`).
    pub events_retried: AtomicU64,
    /// Sum of the durations of successful deliveries, microseconds.
    pub upload_latency_us_sum: AtomicU64,
    /// Number of durations in `upload_latency_us_sum`.
    pub upload_latency_count: AtomicU64,
    /// Successful deliveries by duration: entry `i` counts those that took
    /// more than bound `i - 1` and at most [`LATENCY_BOUNDS_SECS`]`[i]`
    /// (longer ones are only in the count).
    pub upload_latency_buckets: [AtomicU64; LATENCY_BOUNDS_SECS.len()],
}

/// Upper bounds (seconds) of the delivery latency histogram buckets.
pub const LATENCY_BOUNDS_SECS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A copy of [`DeliveryStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// See [`DeliveryStats::spool_files`].
    pub spool_files: u64,
    /// See [`DeliveryStats::spool_bytes`].
    pub spool_bytes: u64,
    /// See [`DeliveryStats::objects_delivered`].
    pub objects_delivered: u64,
    /// See [`DeliveryStats::bytes_delivered`].
    pub bytes_delivered: u64,
    /// See [`DeliveryStats::already_present`].
    pub already_present: u64,
    /// See [`DeliveryStats::upload_errors_transient`].
    pub upload_errors_transient: u64,
    /// See [`DeliveryStats::upload_errors_permanent`].
    pub upload_errors_permanent: u64,
    /// See [`DeliveryStats::backpressure_waits`].
    pub backpressure_waits: u64,
    /// See [`DeliveryStats::events_delivered`].
    pub events_delivered: u64,
    /// See [`DeliveryStats::events_rejected`].
    pub events_rejected: u64,
    /// See [`DeliveryStats::events_retried`].
    pub events_retried: u64,
    /// See [`DeliveryStats::upload_latency_us_sum`].
    pub upload_latency_us_sum: u64,
    /// See [`DeliveryStats::upload_latency_count`].
    pub upload_latency_count: u64,
    /// See [`DeliveryStats::upload_latency_buckets`].
    pub upload_latency_buckets: [u64; LATENCY_BOUNDS_SECS.len()],
}

impl DeliveryStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> DeliveryCounts {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DeliveryCounts {
            spool_files: r(&self.spool_files),
            spool_bytes: r(&self.spool_bytes),
            objects_delivered: r(&self.objects_delivered),
            bytes_delivered: r(&self.bytes_delivered),
            already_present: r(&self.already_present),
            upload_errors_transient: r(&self.upload_errors_transient),
            upload_errors_permanent: r(&self.upload_errors_permanent),
            backpressure_waits: r(&self.backpressure_waits),
            events_delivered: r(&self.events_delivered),
            events_rejected: r(&self.events_rejected),
            events_retried: r(&self.events_retried),
            upload_latency_us_sum: r(&self.upload_latency_us_sum),
            upload_latency_count: r(&self.upload_latency_count),
            upload_latency_buckets: std::array::from_fn(|i| r(&self.upload_latency_buckets[i])),
        }
    }

    /// Records one confirmed delivery.
    pub(crate) fn delivered(&self, bytes: u64, already_present: bool, took: Duration) {
        self.objects_delivered.fetch_add(1, Ordering::Relaxed);
        self.bytes_delivered.fetch_add(bytes, Ordering::Relaxed);
        if already_present {
            self.already_present.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.upload_latency_us_sum.fetch_add(us, Ordering::Relaxed);
        self.upload_latency_count.fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = LATENCY_BOUNDS_SECS.iter().position(|b| secs <= *b) {
            self.upload_latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}
