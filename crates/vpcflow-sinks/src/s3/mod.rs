//! Delivery to S3 (or an S3-compatible store) with the AWS SDK for Rust,
//! from the durable [spool](crate::spool).
//!
//! * [`S3Destination`]: `s3://bucket/prefix/` or `arn:aws:s3:::bucket/prefix/`.
//! * [`S3Options`]: client (region, endpoint, profile, path style) and upload
//!   settings (ACL, encryption, storage class, multipart, concurrency).
//! * `upload`: one object to its first free candidate key, never
//!   overwriting another object, idempotent on retry.
//! * [`identity`]: credentials (and the bucket) checked before the first
//!   upload.
//! * [`Delivery`]: the thread that drains the spool, retrying forever.
//! * [`S3Sink`]: the [`RecordSink`](crate::RecordSink) that spools and
//!   delivers.
//! * [`DeliveryStats`]: counters for `/metrics`.

pub mod client;
pub mod delivery;
pub mod dest;
pub mod identity;
pub mod options;
pub mod sink;
pub(crate) mod upload;

// Shared with the other AWS destinations; reachable here as before.
pub use crate::aws::{backoff, classify, credentials};
pub use classify::{Class, Failure};
pub use delivery::Delivery;
pub use dest::S3Destination;
pub use options::{Acl, S3Options, Sse};
pub use sink::{drain_spool, DrainPolicy, S3Sink, S3SinkOptions};
// The report and the counters belong to the spool the delivery drains; they
// stay reachable here, where users of the S3 sink look for them.
pub use crate::spool::{DeliveryCounts, DeliveryReport, DeliveryStats, LATENCY_BOUNDS_SECS};
