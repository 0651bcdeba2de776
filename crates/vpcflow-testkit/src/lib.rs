//! Test support shared by vpcflow's test suites (a dev-dependency only, never
//! published).
//!
//! What the tests of several crates used to write for themselves:
//!
//! - [`RecordingConsumer`]: a [`FlowConsumer`](vpcflow_core::FlowConsumer)
//!   that keeps the interface names, updates and losses a source hands over;
//! - [`shared_dir`]: where the shared test data (`../shared`) is, or a
//!   `SKIPPED:` line (a failure under `VPCFLOW_REQUIRE_SHARED=1`);
//! - [`ConfigToml`]: configuration files for the binary's tests, built
//!   section by section;
//! - [`hostile`]: small inputs that once exhausted memory, descriptors or
//!   time, written byte by byte;
//! - `garage` (feature `s3`): a real S3-compatible server started by the
//!   shared scripts, and a client that reads back what it holds;
//! - `moto` (feature `s3`): the stand-in server for CloudWatch Logs and
//!   Firehose, with Python (boto3, flowlogs-reader) to read back.
//!
//! A crate's own unit tests cannot use this crate when it depends on that
//! crate (the types would come from two builds of it): `vpcflow-core`'s unit
//! tests keep their own helpers; everything else may use these.

mod config_toml;
mod consumer;
#[cfg(feature = "s3")]
pub mod garage;
pub mod hostile;
#[cfg(feature = "s3")]
pub mod moto;
mod shared;

pub use config_toml::{ConfigToml, RawToml, ToToml};
pub use consumer::{FlowTotals, RecordingConsumer};
pub use shared::{shared_dir, shared_location};
