//! The health verdict of `GET /healthz`.

use super::Telemetry;

/// The ingest thread turns its loop at least every few hundred milliseconds;
/// this long without a sign of life means it is stuck.
pub const INGEST_STALL_MS: u64 = 10_000;

/// Ingest waiting this long for room in the writer's channel means the writer
/// is not keeping up.
pub const WRITER_BEHIND_MS: u64 = 30_000;

/// A permanent upload error keeps the daemon unhealthy for this long.
pub const PERMANENT_ERROR_MS: u64 = 600_000;

/// Healthy, or the reasons it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Why the daemon is unhealthy, one sentence each; empty when healthy.
    pub problems: Vec<String>,
}

impl Health {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Judges the pipeline's health at `now_ms` (ms since the telemetry started).
pub fn check(t: &Telemetry, now_ms: u64) -> Health {
    let mut problems = Vec::new();
    if let Some(reason) = t.writer_stop_reason() {
        problems.push(format!("the writer thread stopped: {reason}"));
    }
    let quiet = now_ms.saturating_sub(t.ingest_beat_ms());
    // Waiting for the writer is reported as such below.
    if quiet > INGEST_STALL_MS && t.waiting_since_ms().is_none() {
        problems.push(format!(
            "the ingest thread has given no sign of life for {} s",
            quiet / 1000
        ));
    }
    if let Some(since) = t.waiting_since_ms() {
        let waited = now_ms.saturating_sub(since);
        if waited > WRITER_BEHIND_MS {
            problems.push(format!(
                "the writer is not keeping up: ingest has waited {} s for it",
                waited / 1000
            ));
        }
    }
    problems.extend(t.ingest().failing);
    if let Some(counts) = t.delivery() {
        let total = counts.upload_errors_permanent;
        if let Some(at) = t.permanent_errors_seen(total, now_ms) {
            if now_ms.saturating_sub(at) < PERMANENT_ERROR_MS {
                problems.push(format!(
                    "permanent upload errors ({total} so far, the last {} s ago)",
                    now_ms.saturating_sub(at) / 1000
                ));
            }
        }
    }
    Health { problems }
}
