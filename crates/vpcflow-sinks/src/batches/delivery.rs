//! The delivery thread of a record destination: takes the sealed batches
//! of the spool oldest first, one at a time, and hands each to a
//! [`BatchSender`] until the service confirmed it, then removes it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::aws::backoff::full_jitter;
use crate::aws::Failure;
use crate::error::SinkError;
use crate::spool::entry::Entry;
use crate::spool::SpoolQueue;

/// Sends one sealed batch to the service.
pub(crate) trait BatchSender {
    /// Delivers the batch `body` of `entry` (read from the spool). `Ok` once
    /// the service confirmed every event of it (events it refused for good
    /// are counted by the sender and confirmed too); `Err` leaves the batch
    /// in the spool, to be sent again.
    async fn send(&mut self, entry: &Entry, body: &[u8]) -> Result<(), Failure>;
}

/// A running delivery thread; [`BatchDelivery::stop`] (or dropping it)
/// stops it, leaving what is not confirmed in the spool.
#[derive(Debug)]
pub(crate) struct BatchDelivery {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl BatchDelivery {
    /// Starts delivering what `queue` holds and receives with `sender`, on
    /// `runtime` in a thread called `name`. A batch failing with a
    /// permanent error is tried again every `permanent_error_retry`.
    pub(crate) fn start<S: BatchSender + Send + 'static>(
        name: &str,
        runtime: Runtime,
        queue: SpoolQueue,
        sender: S,
        permanent_error_retry: Duration,
    ) -> Result<BatchDelivery, SinkError> {
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                runtime.block_on(run(queue, sender, permanent_error_retry, stopped));
            })
            .map_err(|e| SinkError::Delivery(format!("cannot start the delivery thread: {e}")))?;
        Ok(BatchDelivery {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread; a send in flight is abandoned (its batch stays in
    /// the spool and is sent again next time).
    pub(crate) fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the delivery thread panicked");
            }
        }
    }
}

impl Drop for BatchDelivery {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn run<S: BatchSender>(
    queue: SpoolQueue,
    mut sender: S,
    permanent_error_retry: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let Some(entry) = queue.take_next() else {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = queue.committed() => continue,
            }
        };
        tokio::select! {
            _ = stopped.changed() => break,
            _ = deliver_until_done(&queue, &mut sender, &entry, permanent_error_retry) => {}
        }
    }
    queue.release_all();
}

/// Sends one batch until the service confirms it: transient failures again
/// after a backoff, permanent ones at a slow pace; then removes it.
async fn deliver_until_done<S: BatchSender>(
    queue: &SpoolQueue,
    sender: &mut S,
    entry: &Entry,
    permanent_error_retry: Duration,
) {
    let stats = Arc::clone(queue.stats());
    let mut transient_in_a_row = 0u32;
    let mut last_permanent: Option<String> = None;
    loop {
        let body = match std::fs::read(&entry.data) {
            Ok(body) => body,
            Err(e) => {
                // The spooled file vanished or cannot be read: an operator
                // must look; it is not dropped.
                let failure = Failure::new(
                    crate::aws::Class::Permanent,
                    "spool",
                    format!("cannot read {}: {e}", entry.data.display()),
                );
                stats
                    .upload_errors_permanent
                    .fetch_add(1, Ordering::Relaxed);
                log_permanent(entry, &failure, &mut last_permanent, permanent_error_retry);
                queue.set_failing(entry.seq, true);
                tokio::time::sleep(permanent_error_retry).await;
                continue;
            }
        };
        let started = Instant::now();
        match sender.send(entry, &body).await {
            Ok(()) => {
                if let Err(e) = queue.remove(entry) {
                    // Confirmed but still in the spool: sent again at the
                    // next start (the at-least-once window of the docs).
                    tracing::error!(error = %e, "delivered, but cannot remove it from the spool");
                }
                stats.delivered(entry.sidecar.bytes, false, started.elapsed());
                if last_permanent.is_some() || transient_in_a_row > 0 {
                    tracing::info!(
                        target_name = %entry.sidecar.bucket,
                        "delivery succeeded after earlier failures"
                    );
                }
                return;
            }
            Err(failure) if failure.is_transient() => {
                stats
                    .upload_errors_transient
                    .fetch_add(1, Ordering::Relaxed);
                queue.set_failing(entry.seq, false);
                last_permanent = None;
                let pause = full_jitter(transient_in_a_row);
                if transient_in_a_row % 10 == 0 {
                    tracing::warn!(
                        target_name = %entry.sidecar.bucket,
                        key = %entry.sidecar.keys[0],
                        code = %failure.code,
                        error = %failure,
                        failures_in_a_row = transient_in_a_row + 1,
                        retry_in_ms = pause.as_millis() as u64,
                        "delivery failed; retrying"
                    );
                }
                transient_in_a_row = transient_in_a_row.saturating_add(1);
                tokio::time::sleep(pause).await;
            }
            Err(failure) => {
                stats
                    .upload_errors_permanent
                    .fetch_add(1, Ordering::Relaxed);
                transient_in_a_row = 0;
                log_permanent(entry, &failure, &mut last_permanent, permanent_error_retry);
                queue.set_failing(entry.seq, true);
                tokio::time::sleep(permanent_error_retry).await;
            }
        }
    }
}

fn log_permanent(entry: &Entry, failure: &Failure, last: &mut Option<String>, retry: Duration) {
    let text = failure.to_string();
    if last.as_deref() != Some(&text) {
        tracing::error!(
            target_name = %entry.sidecar.bucket,
            key = %entry.sidecar.keys[0],
            code = %failure.code,
            error = %text,
            spooled = %entry.data.display(),
            retry_in_s = retry.as_secs(),
            "cannot deliver: this needs an operator (credentials, permissions, missing log group or stream); the batch stays in the spool and is retried"
        );
        *last = Some(text);
    }
}
