//! The delivery thread: takes committed objects from the spool, oldest
//! first, and delivers them with bounded concurrency, retrying until the
//! store confirms.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::backoff::full_jitter;
use super::classify::Failure;
use super::client::{build_client, S3Client};
use super::identity::{check_bucket, check_credentials};
use super::options::S3Options;
use super::upload::deliver;
use crate::error::SinkError;
use crate::spool::entry::Entry;
use crate::spool::SpoolQueue;

/// A running delivery thread; [`Delivery::stop`] (or dropping it) stops it,
/// leaving what is not delivered in the spool.
#[derive(Debug)]
pub struct Delivery {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

struct Context {
    s3: S3Client,
    /// Why the credentials could not be loaded at the start: they are
    /// checked again at the pace of permanent errors before any upload.
    credentials_missing: Option<String>,
    options: S3Options,
    queue: SpoolQueue,
}

impl Delivery {
    /// Builds the client and starts delivering what `queue` holds and
    /// receives, as a daemon does: when there are no credentials, the error
    /// is logged, counted as a permanent upload error (so `/healthz` reports
    /// it), and the credentials are tried again at the pace of permanent
    /// errors before any upload.
    pub fn start(queue: SpoolQueue, options: S3Options) -> Result<Delivery, SinkError> {
        Delivery::launch(queue, options, None)
    }

    /// [`Delivery::start`] for a one-shot run (a conversion, `vpcflow
    /// deliver`): missing credentials, and a `bucket` that does not exist,
    /// are errors here, before anything is uploaded.
    pub fn start_one_shot(
        queue: SpoolQueue,
        options: S3Options,
        bucket: &str,
    ) -> Result<Delivery, SinkError> {
        Delivery::launch(queue, options, Some(bucket))
    }

    /// Starts the delivery; `one_shot_bucket` is the bucket of a one-shot
    /// run.
    fn launch(
        queue: SpoolQueue,
        options: S3Options,
        one_shot_bucket: Option<&str>,
    ) -> Result<Delivery, SinkError> {
        options
            .validate()
            .map_err(|e| SinkError::Delivery(format!("S3 settings: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SinkError::Delivery(format!("cannot start the delivery runtime: {e}")))?;
        let s3 = runtime.block_on(build_client(&options));
        let mut credentials_missing = None;
        match runtime.block_on(check_credentials(&s3)) {
            Ok(()) => {
                if let Some(bucket) = one_shot_bucket {
                    runtime
                        .block_on(check_bucket(&s3, bucket))
                        .map_err(SinkError::Delivery)?;
                }
            }
            Err(message) if one_shot_bucket.is_some() => {
                return Err(SinkError::Credentials(message))
            }
            Err(message) => {
                tracing::error!(error = %message, retry_in_s = options.permanent_error_retry.as_secs(), "cannot deliver to S3: no credentials; files are spooled and delivered once credentials can be loaded");
                queue
                    .stats()
                    .upload_errors_permanent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                credentials_missing = Some(message);
            }
        }
        let (stop, stopped) = watch::channel(false);
        let context = Arc::new(Context {
            s3,
            credentials_missing,
            options,
            queue,
        });
        let thread = std::thread::Builder::new()
            .name("s3-delivery".into())
            .spawn(move || runtime.block_on(run(context, stopped)))
            .map_err(|e| SinkError::Delivery(format!("cannot start the delivery thread: {e}")))?;
        Ok(Delivery {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread; uploads in flight are abandoned (their objects stay
    /// in the spool and are delivered, idempotently, next time).
    pub fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the delivery thread panicked");
            }
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn run(context: Arc<Context>, mut stopped: watch::Receiver<bool>) {
    if context.credentials_missing.is_some() && !wait_for_credentials(&context, &mut stopped).await
    {
        context.queue.release_all();
        return;
    }
    let mut tasks = JoinSet::new();
    let max = context.options.max_concurrent_uploads;
    loop {
        while tasks.len() < max {
            let Some(entry) = context.queue.take_next() else {
                break;
            };
            tasks.spawn(deliver_until_done(Arc::clone(&context), entry));
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = context.queue.committed() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.shutdown().await;
    context.queue.release_all();
}

/// Tries the credentials again every `permanent_error_retry` until they load
/// (true) or the delivery is stopped (false). Each failure counts as a
/// permanent upload error; a changed message is logged again.
async fn wait_for_credentials(context: &Context, stopped: &mut watch::Receiver<bool>) -> bool {
    let mut last = context.credentials_missing.clone();
    loop {
        tokio::select! {
            _ = stopped.changed() => return false,
            _ = tokio::time::sleep(context.options.permanent_error_retry) => {}
        }
        match check_credentials(&context.s3).await {
            Ok(()) => {
                tracing::info!("AWS credentials loaded; delivering the spool");
                return true;
            }
            Err(message) => {
                context
                    .queue
                    .stats()
                    .upload_errors_permanent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if last.as_deref() != Some(&message) {
                    tracing::error!(error = %message, "cannot deliver to S3: still no credentials");
                    last = Some(message);
                }
            }
        }
    }
}

/// Delivers one entry, retrying transient failures with backoff and
/// permanent ones at a slow pace, then removes it from the spool.
async fn deliver_until_done(context: Arc<Context>, entry: Entry) {
    let queue = &context.queue;
    let stats = Arc::clone(queue.stats());
    let first_key = entry.sidecar.keys.first().cloned().unwrap_or_default();
    let mut transient_in_a_row = 0u32;
    let mut last_permanent: Option<String> = None;
    loop {
        let started = Instant::now();
        match deliver(&context.s3.client, &context.options, &entry).await {
            Ok(done) => {
                if let Err(e) = queue.remove(&entry) {
                    // Delivered but still in the spool: the next run finds it
                    // already present and removes it then.
                    tracing::error!(error = %e, "delivered, but cannot remove it from the spool");
                }
                stats.delivered(entry.sidecar.bytes, done.already_present, started.elapsed());
                if last_permanent.is_some() || transient_in_a_row > 0 {
                    tracing::info!(key = %done.key, "delivery succeeded after earlier failures");
                }
                tracing::info!(
                    bucket = %entry.sidecar.bucket,
                    key = %done.key,
                    bytes = entry.sidecar.bytes,
                    already_present = done.already_present,
                    candidate = done.attempt,
                    "delivered"
                );
                return;
            }
            Err(failure) if failure.is_transient() => {
                stats
                    .upload_errors_transient
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                queue.set_failing(entry.seq, false);
                last_permanent = None;
                let pause = full_jitter(transient_in_a_row);
                log_transient(&first_key, &failure, transient_in_a_row, pause);
                transient_in_a_row = transient_in_a_row.saturating_add(1);
                tokio::time::sleep(pause).await;
            }
            Err(failure) => {
                stats
                    .upload_errors_permanent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                transient_in_a_row = 0;
                let text = failure.to_string();
                if last_permanent.as_deref() != Some(&text) {
                    tracing::error!(
                        bucket = %entry.sidecar.bucket,
                        key = %first_key,
                        code = %failure.code,
                        error = %text,
                        spooled = %entry.data.display(),
                        retry_in_s = context.options.permanent_error_retry.as_secs(),
                        "cannot deliver: this needs an operator (credentials, permissions, bucket); the object stays in the spool and is retried"
                    );
                    last_permanent = Some(text);
                }
                queue.set_failing(entry.seq, true);
                tokio::time::sleep(context.options.permanent_error_retry).await;
            }
        }
    }
}

fn log_transient(key: &str, failure: &Failure, in_a_row: u32, pause: Duration) {
    // The first failure of a streak, then every tenth, at warn level.
    if in_a_row % 10 == 0 {
        tracing::warn!(
            key,
            code = %failure.code,
            error = %failure,
            failures_in_a_row = in_a_row + 1,
            retry_in_ms = pause.as_millis() as u64,
            "delivery failed; retrying"
        );
    } else {
        tracing::debug!(key, error = %failure, retry_in_ms = pause.as_millis() as u64, "delivery failed; retrying");
    }
}
