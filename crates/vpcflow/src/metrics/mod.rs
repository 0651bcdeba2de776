//! Metrics and health of `vpcflow run`: what the pipeline threads publish,
//! the Prometheus collector that reads it at scrape time, the health verdict,
//! and the HTTP endpoint serving both (`[metrics] listen`).
//!
//! ```text
//! ingest thread ─every 250 ms─▶ ┐
//! writer thread ─every batch──▶ ├ Telemetry ◀─scrape── collector ◀── GET /metrics
//! uploading sink (atomics) ◀────┘            ◀─check── health    ◀── GET /healthz
//! ```
//!
//! The threads count in their own plain totals and copy them into
//! [`Telemetry`] once per batch or loop turn, so the packet path takes no lock
//! and looks up no label.

mod collector;
mod health;
mod server;
mod telemetry;

pub use collector::PipelineCollector;
pub use health::check;
pub use server::MetricsServer;
pub use telemetry::{IngestView, InterfaceCounts, JournalStats, RecordCounts, Telemetry};

#[cfg(test)]
mod tests;
