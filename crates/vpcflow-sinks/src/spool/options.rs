//! How a spool is set up: where its objects go and how much it may hold.

use vpcflow_core::layout::{Layout, Prefix};

/// Candidate keys per object: name attempts 0 to 16.
pub const KEY_ATTEMPTS: u32 = 17;

/// Default size limit of the committed objects in a spool: 1 GiB.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 1 << 30;

/// Where spooled objects go and how much the spool may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// The bucket written into each sidecar.
    pub bucket: String,
    /// Key layout of the candidate keys.
    pub layout: Layout,
    /// Key prefix of the candidate keys.
    pub prefix: Prefix,
    /// When committing an object would take the ready objects above this many
    /// bytes, [`ObjectStore::publish`](crate::store::ObjectStore::publish) waits for deliveries to free space
    /// (an object larger than the limit is admitted into an empty spool).
    pub max_bytes: u64,
    /// When set (to the delivery's concurrency), a writer waiting for space
    /// gives up with an error once every upload in progress fails with a
    /// permanent error, instead of waiting for an operator (a one-shot
    /// conversion). Unset, it waits (a daemon: back-pressure).
    pub give_up_on_permanent_errors: Option<usize>,
}
