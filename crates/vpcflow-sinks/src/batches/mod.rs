//! What the destinations that take records rather than files (CloudWatch
//! Logs, Firehose) share: sealed batches committed durably into a
//! [`Spool`] before anything is sent, a delivery thread
//! ([`delivery::BatchDelivery`]) that sends them oldest first and removes
//! each only once the service confirmed it, and the wait at the end of a
//! run. [`SpoolSettings`] and [`DeliveryOptions`] are what such a
//! destination is configured with besides its own settings.

pub(crate) mod delivery;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vpcflow_core::layout::{Layout, Prefix};

use crate::aws::client::{load_config, LoadedConfig};
use crate::aws::ClientSettings;
use crate::error::SinkError;
use crate::s3::DrainPolicy;
use crate::spool::{DeliveryReport, DeliveryStats, Spool, SpoolOptions, SpoolQueue};
use crate::store::ObjectStore;
use delivery::{BatchDelivery, BatchSender};

/// Default pause between attempts of a batch or object that failed with a
/// permanent error: 5 minutes.
pub const DEFAULT_PERMANENT_ERROR_RETRY: Duration = Duration::from_secs(300);

/// Where a record destination spools its batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSettings {
    /// The spool folder of this destination.
    pub dir: PathBuf,
    /// Size limit of the spool, bytes.
    pub max_bytes: u64,
    /// How long `finish` waits for deliveries.
    pub drain: DrainPolicy,
}

/// How a record destination's client connects and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Region, endpoint, profile.
    pub client: ClientSettings,
    /// Pause before retrying a batch that failed with a permanent error.
    pub permanent_error_retry: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            client: ClientSettings::default(),
            permanent_error_retry: DEFAULT_PERMANENT_ERROR_RETRY,
        }
    }
}

impl DeliveryOptions {
    /// Checks the values; errors start with the key's name.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(endpoint) = &self.client.endpoint {
            check_endpoint("endpoint_url", endpoint)?;
        }
        if self.permanent_error_retry.is_zero() {
            return Err("permanent_error_retry: must be at least 1 second".into());
        }
        Ok(())
    }
}

/// Checks that `endpoint` (the value of `key`) is an HTTP(S) URL.
pub fn check_endpoint(key: &str, endpoint: &str) -> Result<(), String> {
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        Ok(())
    } else {
        Err(format!(
            "{key}: {endpoint:?} must be a URL starting with http:// or https://"
        ))
    }
}

/// A spool of sealed batches and the delivery draining it.
pub(crate) struct SpooledBatches {
    spool: Spool,
    queue: SpoolQueue,
    delivery: Option<BatchDelivery>,
    stats: Arc<DeliveryStats>,
    drain: DrainPolicy,
    destination: String,
    report: Option<DeliveryReport>,
}

impl SpooledBatches {
    /// Opens (creating it) the spool of `destination` (its leftovers are
    /// queued first), loads the AWS configuration and starts delivering
    /// with the sender `make_sender` builds from it, on a thread called
    /// `thread`. `service` names the service in messages, `target` the
    /// name batches are spooled under. Missing credentials fail here when
    /// the run waits until everything is delivered; otherwise they are
    /// logged and the batches wait in the spool.
    pub(crate) fn start<S: BatchSender + Send + 'static>(
        service: &str,
        thread: &str,
        destination: String,
        target: &str,
        spool: &SpoolSettings,
        delivery: &DeliveryOptions,
        make_sender: impl FnOnce(&LoadedConfig, Arc<DeliveryStats>) -> S,
    ) -> Result<SpooledBatches, SinkError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SinkError::Delivery(format!("cannot start the delivery runtime: {e}")))?;
        let loaded = runtime.block_on(load_config(&delivery.client));
        let credentials = runtime.block_on(crate::aws::credentials::check(
            loaded.config.credentials_provider().as_ref(),
        ));
        if let Err(message) = credentials {
            if spool.drain == DrainPolicy::UntilDelivered {
                return Err(SinkError::Credentials(message));
            }
            tracing::error!(error = %message, "cannot deliver to {service}: no credentials; batches are spooled and delivered once credentials can be loaded");
        }
        let retry = delivery.permanent_error_retry;
        SpooledBatches::deliver_with(
            destination,
            target,
            spool,
            thread,
            runtime,
            retry,
            |stats| make_sender(&loaded, stats),
        )
    }

    /// Opens the spool as [`SpooledBatches::start`] does and delivers with
    /// the sender `make_sender` returns, on `runtime`; a batch failing with
    /// a permanent error is tried again every `permanent_error_retry`.
    pub(crate) fn deliver_with<S: BatchSender + Send + 'static>(
        destination: String,
        target: &str,
        spool: &SpoolSettings,
        thread: &str,
        runtime: tokio::runtime::Runtime,
        permanent_error_retry: Duration,
        make_sender: impl FnOnce(Arc<DeliveryStats>) -> S,
    ) -> Result<SpooledBatches, SinkError> {
        let stats = Arc::new(DeliveryStats::default());
        let (spool_files, queue) = Spool::open(
            &spool.dir,
            SpoolOptions {
                bucket: target.to_string(),
                layout: Layout::default(),
                prefix: Prefix::default(),
                max_bytes: spool.max_bytes,
                give_up_on_permanent_errors: match spool.drain {
                    DrainPolicy::UntilDelivered => Some(1),
                    DrainPolicy::For(_) => None,
                },
            },
            Arc::clone(&stats),
        )?;
        let sender = make_sender(Arc::clone(&stats));
        let delivery = BatchDelivery::start(
            thread,
            runtime,
            queue.clone(),
            sender,
            permanent_error_retry,
        )?;
        Ok(SpooledBatches {
            spool: spool_files,
            queue,
            delivery: Some(delivery),
            stats,
            drain: spool.drain,
            destination,
            report: None,
        })
    }

    /// Commits `body` as one batch for `target` / `key`: durable on disk
    /// when this returns.
    pub(crate) fn seal(&mut self, target: &str, key: &str, body: &[u8]) -> Result<(), SinkError> {
        let mut staged = self.spool.stage()?;
        let path = staged.path().to_path_buf();
        staged
            .write_all(body)
            .map_err(|e| SinkError::io("write", &path, e))?;
        self.spool.commit_batch(staged, target, key)?;
        Ok(())
    }

    /// The counters of the spool and the delivery.
    pub(crate) fn stats(&self) -> &Arc<DeliveryStats> {
        &self.stats
    }

    /// A handle on the spool usable from other threads.
    pub(crate) fn queue(&self) -> SpoolQueue {
        self.queue.clone()
    }

    /// Whether `finish` waits for a bounded time only (a one-shot run).
    pub(crate) fn bounded_drain(&self) -> bool {
        matches!(self.drain, DrainPolicy::For(_))
    }

    /// The report of [`SpooledBatches::finish`], once finished.
    pub(crate) fn report(&self) -> Option<DeliveryReport> {
        self.report.clone()
    }

    /// Waits for the spool to drain as the [`DrainPolicy`] says, stops the
    /// delivery and keeps the report.
    pub(crate) fn finish(&mut self) {
        let outcome = match self.drain {
            DrainPolicy::For(limit) => self.queue.wait_drained(Some(Instant::now() + limit), None),
            DrainPolicy::UntilDelivered => self.queue.wait_drained(None, Some(1)),
        };
        if let Some(mut delivery) = self.delivery.take() {
            delivery.stop();
        }
        let counts = self.stats.snapshot();
        let left = self.queue.status();
        if left.files > 0 {
            tracing::warn!(
                folder = %left.folder.display(),
                batches = left.files,
                bytes = left.bytes,
                outcome = ?outcome,
                "batches left in the spool; they are delivered at the next start"
            );
        }
        self.report = Some(DeliveryReport {
            destination: self.destination.clone(),
            outcome,
            delivered: counts.objects_delivered,
            already_present: 0,
            bytes_delivered: counts.bytes_delivered,
            left,
        });
    }
}

/// The current time in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
