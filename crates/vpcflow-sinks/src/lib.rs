//! Encoders and sinks of vpcflow: records released by aggregation become AWS VPC
//! Flow Logs objects (gzip text or Parquet, one or more per 5-minute slot, AWS names and key
//! layouts) in a local folder laid out like the S3 bucket, or plain lines on
//! stdout.
//!
//! * [`encode`]: streaming encoders of one object ([`TextGzipEncoder`], its
//!   gzip compressed in blocks over several cores by a [`DeflatePool`];
//!   [`ParquetEncoder`]), chosen by [`FileFormat`].
//! * [`FileWriter`]: enriches, routes and batches records into objects by slot
//!   and size cap, and publishes them through an [`ObjectStore`].
//! * [`DirSink`]: the [`ObjectStore`] of a local folder (atomic, never
//!   overwriting).
//! * [`Spool`]: the [`ObjectStore`] of a durable local spool, and
//!   [`S3Sink`]: a writer into it with the delivery to S3 that drains it.
//! * [`StdoutSink`]: header and plain lines for piping.
//! * [`CloudWatchSink`] and [`FirehoseSink`]: log events and stream
//!   records, batched within the services' limits, spooled and delivered.
//! * [`FanOut`]: several destinations written from one run.
//! * [`RecordSink`]: what the pipeline writes to, implemented by
//!   [`FileWriter`], [`S3Sink`], [`CloudWatchSink`], [`FirehoseSink`],
//!   [`StdoutSink`] and [`FanOut`]. Every destination is one
//!   implementation of it in a folder of its own; [how to add a
//!   destination](mod@sink) (which trait, where its configuration section
//!   lives, how it reaches the pipeline, what its tests must show) is written
//!   in the [`sink`](mod@sink) module.
//!
//! ```
//! use vpcflow_core::aggregate::Released;
//! use vpcflow_core::format::LogFormat;
//! use vpcflow_core::enrich::InterfaceTable;
//! use vpcflow_core::interface::InterfaceDefaults;
//! use vpcflow_core::layout::{Layout, Prefix};
//! use vpcflow_core::name::FlowLogId;
//! use vpcflow_sinks::{DirSink, FileWriter, RecordSink, WriterOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let root = tempfile::tempdir()?;
//! let store = DirSink::open(root.path().join("flowlogs"), Layout::default(), Prefix::new("my-logs")?)?;
//! let id = FlowLogId::new("123456789012", "us-east-1", "fl-0630869f236e76872")?;
//! let mut sink = FileWriter::new(store, id, LogFormat::default(), WriterOptions::default());
//! # let interfaces = InterfaceTable::new(
//! #     InterfaceDefaults { account_id: "123456789012".into(), region: "us-east-1".into() },
//! #     Default::default(),
//! # );
//! # let released = Released::default();
//! // For each batch the aggregator releases:
//! sink.write(&released, &interfaces)?;
//! // At the end of input:
//! let summary = sink.finish()?;
//! println!("{} files, {} records", summary.files, summary.records);
//! # Ok(())
//! # }
//! ```

pub mod aws;
pub mod batches;
pub mod cloudwatch;
pub mod dir;
mod disk_full;
pub(crate) mod durable;
pub mod encode;
pub mod error;
pub mod fanout;
pub mod firehose;
pub mod s3;
pub mod sink;
pub mod spool;
pub mod stdout;
pub mod store;
pub mod writer;

#[cfg(test)]
mod test_support;

pub use cloudwatch::{CloudWatchSink, CloudWatchSinkOptions};
pub use dir::DirSink;
pub use encode::{DeflatePool, FileFormat, GzipLevel, ParquetEncoder, TextGzipEncoder};
pub use error::SinkError;
pub use fanout::FanOut;
pub use firehose::{FirehoseSink, FirehoseSinkOptions};
pub use s3::{DrainPolicy, S3Destination, S3Options, S3Sink, S3SinkOptions};
pub use sink::{RecordSink, RunSummary};
pub use spool::{DeliveryReport, DeliveryStats, Spool, SpoolOptions, SpoolQueue};
pub use stdout::StdoutSink;
pub use store::{ObjectStore, PublishedObject, StagedFile};
pub use writer::{CapMeasure, FileWriter, WriterOptions, DEFAULT_MAX_FILE_BYTES};
