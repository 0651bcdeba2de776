//! The durable spool in front of an object store: every sealed object is
//! committed to a local folder before it is delivered, and removed only after
//! the store confirmed it.
//!
//! ```text
//! SPOOL/lock                 exclusive flock: one process per spool
//! SPOOL/tmp/<pid>-<n>.tmp    objects being written (removed at open)
//! SPOOL/ready/<seq>.json     sidecar: bucket, candidate keys, size, SHA-256
//!                            (a batch of log events or records: log group or
//!                            delivery stream, log stream)
//! SPOOL/ready/<seq>.obj      committed object (its rename is the commit point)
//! ```
//!
//! [`Spool`] is the [`ObjectStore`](crate::store::ObjectStore) the file
//! writer publishes into; [`SpoolQueue`] is the delivery side's view of the
//! same folder. The spool publishes its depth into the [`DeliveryStats`] a
//! delivery (S3, CloudWatch Logs, Firehose) adds its counters to, and ends a run with a
//! [`DeliveryReport`]: deliveries build on the spool, never the reverse.

pub mod entry;
pub(crate) mod lock;
mod open;
mod options;
mod publish;
mod queue;
mod report;
mod state;
mod stats;

#[cfg(test)]
mod tests;

pub use options::{SpoolOptions, DEFAULT_SPOOL_MAX_BYTES, KEY_ATTEMPTS};
pub use publish::Spool;
pub use queue::SpoolQueue;
pub use report::{DeliveryReport, DrainOutcome, SpoolStatus};
pub use stats::{DeliveryCounts, DeliveryStats, LATENCY_BOUNDS_SECS};

// The tests (tests.rs) use these through `super::*`.
#[cfg(test)]
use {
    crate::error::SinkError,
    crate::store::{ObjectStore, PublishedObject},
    std::fs,
    std::path::Path,
    std::sync::atomic::Ordering,
    std::sync::Arc,
    std::time::Instant,
    vpcflow_core::layout::{Layout, Prefix},
    vpcflow_core::name::FileName,
};
