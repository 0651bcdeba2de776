//! One PutRecordBatch call per sealed batch; records the service failed
//! inside an accepted call are sent again alone, with backoff, until every
//! one is in.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use aws_sdk_firehose::Client;

use super::batch::decode;
use crate::aws::backoff::full_jitter;
use crate::aws::classify::classify;
use crate::aws::Failure;
use crate::batches::delivery::BatchSender;
use crate::spool::entry::Entry;
use crate::spool::DeliveryStats;

/// Sends batches to a Firehose delivery stream.
pub(crate) struct FirehoseSender {
    pub(crate) client: Client,
    pub(crate) stats: Arc<DeliveryStats>,
}

impl BatchSender for FirehoseSender {
    async fn send(&mut self, entry: &Entry, body: &[u8]) -> Result<(), Failure> {
        let stream = entry.sidecar.bucket.as_str();
        let mut left: Vec<&[u8]> = decode(body);
        let total = left.len();
        let mut round = 0u32;
        let mut failures_in_a_row = 0u32;
        while !left.is_empty() {
            let records: Vec<Record> = left
                .iter()
                .map(|r| {
                    Record::builder()
                        .data(Blob::new(r.to_vec()))
                        .build()
                        .expect("data is set")
                })
                .collect();
            let result = self
                .client
                .put_record_batch()
                .delivery_stream_name(stream)
                .set_records(Some(records))
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                // Nothing of this batch is in yet: the delivery decides.
                Err(e) if round == 0 => return Err(classify(&e)),
                // Part of it is in: sending the whole batch again would
                // duplicate that part, so the rest is retried here.
                Err(e) => {
                    let failure = classify(&e);
                    let pause = full_jitter(failures_in_a_row);
                    failures_in_a_row = failures_in_a_row.saturating_add(1);
                    self.stats
                        .upload_errors_transient
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(delivery_stream = stream, left = left.len(), error = %failure, retry_in_ms = pause.as_millis() as u64, "sending the failed records of a batch again failed; retrying");
                    tokio::time::sleep(pause).await;
                    continue;
                }
            };
            round += 1;
            let failed: Vec<&[u8]> = if out.failed_put_count() == 0 {
                Vec::new()
            } else {
                let responses = out.request_responses();
                let mut codes = Vec::new();
                let failed: Vec<&[u8]> = left
                    .iter()
                    .zip(responses)
                    .filter(|(_, r)| r.error_code().is_some())
                    .map(|(record, r)| {
                        codes.push(r.error_code().unwrap_or_default().to_string());
                        *record
                    })
                    .collect();
                codes.dedup();
                tracing::debug!(delivery_stream = stream, failed = failed.len(), codes = ?codes, "records failed inside a batch; sending them again");
                failed
            };
            let accepted = left.len() - failed.len();
            self.stats
                .events_delivered
                .fetch_add(accepted as u64, Ordering::Relaxed);
            self.stats
                .events_retried
                .fetch_add(failed.len() as u64, Ordering::Relaxed);
            if !failed.is_empty() {
                let pause = full_jitter(failures_in_a_row);
                failures_in_a_row = failures_in_a_row.saturating_add(1);
                if failures_in_a_row % 10 == 1 {
                    tracing::warn!(
                        delivery_stream = stream,
                        failed = failed.len(),
                        of = total,
                        retry_in_ms = pause.as_millis() as u64,
                        "Firehose failed records of a batch (FailedPutCount); sending them again"
                    );
                }
                tokio::time::sleep(pause).await;
            } else {
                failures_in_a_row = 0;
            }
            left = failed;
        }
        Ok(())
    }
}
