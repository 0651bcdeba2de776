//! The counters of a sink that uploads (S3), read at scrape time.
//!
//! The sink keeps its own atomics; it is connected with
//! [`Telemetry::plug_delivery`](super::Telemetry::plug_delivery) by giving an
//! `Arc` of something implementing [`DeliveryProbe`], which copies them into a
//! [`DeliveryReading`]. The metric families of this module appear only once a
//! probe is connected (a local directory has no spool and no uploads).

/// The counters of an uploading sink at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReading {
    /// Files in the local spool, waiting to be uploaded.
    pub spool_files: u64,
    /// Their bytes.
    pub spool_bytes: u64,
    /// Objects uploaded.
    pub objects_delivered: u64,
    /// Their bytes.
    pub bytes_delivered: u64,
    /// Objects whose key already held the same bytes.
    pub already_present: u64,
    /// Upload attempts that failed and are retried.
    pub upload_errors_transient: u64,
    /// Uploads that failed for good (the file stays in the spool).
    pub upload_errors_permanent: u64,
    /// Times writing waited because the spool was full.
    pub backpressure_waits: u64,
    /// Sum of upload latencies, in microseconds.
    pub upload_latency_sum_us: u64,
    /// Uploads timed.
    pub upload_latency_count: u64,
    /// Histogram buckets of the upload latency, ascending: (upper bound in
    /// seconds, uploads that took longer than the previous bound and at most
    /// this one). Empty when the sink keeps only the sum and count: the
    /// histogram then has only its `+Inf` bucket.
    pub upload_latency_buckets: Vec<(f64, u64)>,
}

/// Something that can read an uploading sink's counters.
pub trait DeliveryProbe: std::fmt::Debug + Send + Sync {
    /// The counters now.
    fn read(&self) -> DeliveryReading;
}

impl DeliveryProbe for vpcflow_sinks::DeliveryStats {
    fn read(&self) -> DeliveryReading {
        let c = self.snapshot();
        DeliveryReading {
            spool_files: c.spool_files,
            spool_bytes: c.spool_bytes,
            objects_delivered: c.objects_delivered,
            bytes_delivered: c.bytes_delivered,
            already_present: c.already_present,
            upload_errors_transient: c.upload_errors_transient,
            upload_errors_permanent: c.upload_errors_permanent,
            backpressure_waits: c.backpressure_waits,
            upload_latency_sum_us: c.upload_latency_us_sum,
            upload_latency_count: c.upload_latency_count,
            upload_latency_buckets: vpcflow_sinks::s3::LATENCY_BOUNDS_SECS
                .iter()
                .copied()
                .zip(c.upload_latency_buckets)
                .collect(),
        }
    }
}
