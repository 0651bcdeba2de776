//! What the destinations that take records rather than files (CloudWatch
//! Logs, Firehose) share: sealed batches committed durably into a
//! [`Spool`] before anything is sent, a delivery thread
//! ([`delivery::BatchDelivery`]) that sends them oldest first and removes
//! each only once the service confirmed it, and the wait at the end of a
//! run.

pub(crate) mod delivery;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use vpcflow_core::layout::{Layout, Prefix};

use crate::error::SinkError;
use crate::s3::DrainPolicy;
use crate::spool::{DeliveryReport, DeliveryStats, Spool, SpoolOptions, SpoolQueue};
use crate::store::ObjectStore;
use delivery::BatchDelivery;

/// A spool of sealed batches and the delivery draining it.
pub(crate) struct SpooledBatches {
    spool: Spool,
    queue: SpoolQueue,
    delivery: Option<BatchDelivery>,
    stats: Arc<DeliveryStats>,
    drain: DrainPolicy,
}

impl SpooledBatches {
    /// Opens (creating it) the spool folder `dir` for `target`; its
    /// leftovers are queued first.
    pub(crate) fn open_spool(
        dir: &PathBuf,
        target: &str,
        max_bytes: u64,
        drain: DrainPolicy,
    ) -> Result<(Spool, SpoolQueue, Arc<DeliveryStats>), SinkError> {
        let stats = Arc::new(DeliveryStats::default());
        let (spool, queue) = Spool::open(
            dir,
            SpoolOptions {
                bucket: target.to_string(),
                layout: Layout::default(),
                prefix: Prefix::default(),
                max_bytes,
                give_up_on_permanent_errors: match drain {
                    DrainPolicy::UntilDelivered => Some(1),
                    DrainPolicy::For(_) => None,
                },
            },
            Arc::clone(&stats),
        )?;
        Ok((spool, queue, stats))
    }

    /// The batches of an opened spool, delivered by `delivery`.
    pub(crate) fn new(
        (spool, queue, stats): (Spool, SpoolQueue, Arc<DeliveryStats>),
        delivery: BatchDelivery,
        drain: DrainPolicy,
    ) -> SpooledBatches {
        SpooledBatches {
            spool,
            queue,
            delivery: Some(delivery),
            stats,
            drain,
        }
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

    /// Waits for the spool to drain as the [`DrainPolicy`] says, stops the
    /// delivery and reports.
    pub(crate) fn finish(&mut self, destination: String) -> DeliveryReport {
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
        DeliveryReport {
            destination,
            outcome,
            delivered: counts.objects_delivered,
            already_present: 0,
            bytes_delivered: counts.bytes_delivered,
            left,
        }
    }
}

/// The current time in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
