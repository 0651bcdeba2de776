//! One PutLogEvents call per sealed batch, creating the log group and the
//! stream when they are missing (if allowed), counting the events the
//! service refuses.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use aws_sdk_cloudwatchlogs::types::{InputLogEvent, RejectedLogEventsInfo};
use aws_sdk_cloudwatchlogs::Client;

use super::batch::decode;
use super::options::CloudWatchOptions;
use crate::aws::classify::classify;
use crate::aws::{Class, Failure};
use crate::batches::delivery::BatchSender;
use crate::spool::entry::Entry;
use crate::spool::DeliveryStats;

/// Sends batches to CloudWatch Logs.
pub(crate) struct CloudWatchSender {
    pub(crate) client: Client,
    pub(crate) options: CloudWatchOptions,
    pub(crate) stats: Arc<DeliveryStats>,
    /// Log groups whose retention was set in this run.
    pub(crate) retention_set: HashSet<String>,
}

/// How many of `n` events sent the service refused, by its report.
pub fn rejected_count(n: usize, info: &RejectedLogEventsInfo) -> usize {
    let old_end = [
        info.too_old_log_event_end_index(),
        info.expired_log_event_end_index(),
    ]
    .into_iter()
    .flatten()
    .max();
    let old = old_end.map_or(0, |i| (i.max(-1) + 1) as usize).min(n);
    let new = info
        .too_new_log_event_start_index()
        .map_or(0, |i| n.saturating_sub(i.max(0) as usize));
    (old + new).min(n)
}

impl CloudWatchSender {
    /// Creates the log group (with its KMS key) unless it exists.
    async fn create_group(&self, group: &str) -> Result<(), Failure> {
        let mut call = self.client.create_log_group().log_group_name(group);
        if let Some(key) = &self.options.kms_key_id {
            call = call.kms_key_id(key);
        }
        match call.send().await {
            Ok(_) => {
                tracing::info!(log_group = group, "created the log group");
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify(&e)),
        }
    }

    /// Creates the log stream unless it exists; `Ok(false)` when the group
    /// is missing.
    async fn create_stream(&self, group: &str, stream: &str) -> Result<bool, Failure> {
        match self
            .client
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(&e)),
        }
    }

    /// Sets the configured retention on `group`, once per run; a refusal is
    /// logged and does not hold deliveries back.
    async fn set_retention(&mut self, group: &str) {
        let Some(days) = self.options.retention_days else {
            return;
        };
        if self.retention_set.contains(group) {
            return;
        }
        match self
            .client
            .put_retention_policy()
            .log_group_name(group)
            .retention_in_days(days)
            .send()
            .await
        {
            Ok(_) => {
                self.retention_set.insert(group.to_string());
            }
            Err(e) => {
                let failure = classify(&e);
                if failure.class != Class::Transient {
                    self.retention_set.insert(group.to_string());
                }
                tracing::warn!(log_group = group, retention_days = days, error = %failure, "cannot set the log group's retention");
            }
        }
    }

    /// What to do when PutLogEvents says the group or stream is missing.
    async fn create_missing(&self, group: &str, stream: &str) -> Result<(), Failure> {
        if !self.options.create_log_stream {
            return Err(Failure::new(
                Class::Permanent,
                "ResourceNotFoundException",
                format!("the log stream {stream} (or the log group {group}) does not exist and output.cloudwatch.create_log_stream is false"),
            ));
        }
        if self.create_stream(group, stream).await? {
            return Ok(());
        }
        if !self.options.create_log_group {
            return Err(Failure::new(
                Class::Permanent,
                "ResourceNotFoundException",
                format!("the log group {group} does not exist and output.cloudwatch.create_log_group is false"),
            ));
        }
        self.create_group(group).await?;
        if self.create_stream(group, stream).await? {
            Ok(())
        } else {
            Err(Failure::new(
                Class::Transient,
                "ResourceNotFoundException",
                format!("the log group {group} was created but is not visible yet"),
            ))
        }
    }
}

impl BatchSender for CloudWatchSender {
    async fn send(&mut self, entry: &Entry, body: &[u8]) -> Result<(), Failure> {
        let group = entry.sidecar.bucket.as_str();
        let stream = entry.sidecar.keys[0].as_str();
        let events = decode(body).map_err(|e| {
            Failure::new(
                Class::Permanent,
                "damaged batch",
                format!("{}: {e}", entry.data.display()),
            )
        })?;
        let n = events.len();
        let input: Vec<InputLogEvent> = events
            .into_iter()
            .map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.timestamp_ms)
                    .message(e.message)
                    .build()
                    .expect("timestamp and message are set")
            })
            .collect();
        let mut created = false;
        loop {
            let result = self
                .client
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(input.clone()))
                .send()
                .await;
            match result {
                Ok(out) => {
                    let rejected = out
                        .rejected_log_events_info()
                        .map_or(0, |i| rejected_count(n, i));
                    if rejected > 0 {
                        tracing::warn!(
                            log_group = group,
                            log_stream = stream,
                            rejected,
                            sent = n,
                            info = ?out.rejected_log_events_info(),
                            "CloudWatch Logs refused events of a batch (too old, too new or past the retention); they are not sent again"
                        );
                    }
                    self.stats
                        .events_rejected
                        .fetch_add(rejected as u64, Ordering::Relaxed);
                    self.stats
                        .events_delivered
                        .fetch_add((n - rejected) as u64, Ordering::Relaxed);
                    self.set_retention(group).await;
                    return Ok(());
                }
                Err(e)
                    if !created
                        && e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    self.create_missing(group, stream).await?;
                    self.set_retention(group).await;
                    created = true;
                }
                Err(e) => return Err(classify(&e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_events_are_counted_from_the_indexes() {
        let info = |new: Option<i32>, old: Option<i32>, expired: Option<i32>| {
            RejectedLogEventsInfo::builder()
                .set_too_new_log_event_start_index(new)
                .set_too_old_log_event_end_index(old)
                .set_expired_log_event_end_index(expired)
                .build()
        };
        assert_eq!(rejected_count(10, &info(None, None, None)), 0);
        // Events 0..=2 too old, 8 and 9 too new.
        assert_eq!(rejected_count(10, &info(Some(8), Some(2), None)), 5);
        assert_eq!(rejected_count(10, &info(None, Some(2), Some(4))), 5);
        assert_eq!(rejected_count(10, &info(Some(0), None, None)), 10);
        assert_eq!(rejected_count(10, &info(None, Some(9), None)), 10);
        assert_eq!(rejected_count(3, &info(Some(0), Some(2), None)), 3);
    }
}
