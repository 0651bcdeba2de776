//! What a spool reports about its draining: how a wait for it to empty
//! ended, what it still holds, and what a delivery achieved.

use std::path::PathBuf;

/// How a wait for an empty spool ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every object was delivered.
    Drained,
    /// The deadline passed first.
    TimedOut,
    /// Every object left failed with a permanent error.
    OnlyPermanentErrors,
}

/// What a spool holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolStatus {
    /// The spool folder.
    pub folder: PathBuf,
    /// Committed objects not yet delivered.
    pub files: u64,
    /// Their size.
    pub bytes: u64,
    /// How many of them failed with a permanent error last time.
    pub failing: u64,
}

/// What the delivery achieved when a spooling sink finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The destination (`s3://bucket/prefix/`, the log group, the delivery
    /// stream).
    pub destination: String,
    /// How the wait for the spool to drain ended.
    pub outcome: DrainOutcome,
    /// Objects (or batches of log events and records) delivered during the run (including those left by an earlier
    /// run, and those found already present).
    pub delivered: u64,
    /// Of those, objects the store already held.
    pub already_present: u64,
    /// Bytes delivered.
    pub bytes_delivered: u64,
    /// What stays in the spool for the next run.
    pub left: SpoolStatus,
}
