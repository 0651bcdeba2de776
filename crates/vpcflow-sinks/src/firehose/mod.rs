//! Delivery to Amazon Data Firehose (Kinesis Data Firehose) with the AWS
//! SDK for Rust, from the durable [spool](crate::spool).
//!
//! * [`DeliveryStreamDestination`], the delivery stream:
//!   `arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME` or
//!   `firehose://NAME`.
//! * [`batch`]: PutRecordBatch's limits (records, bytes per call and per
//!   record), enforced here.
//! * [`FirehoseSink`]: the [`RecordSink`](crate::RecordSink): one Firehose
//!   record per flow log record, the line with its LF, no header.
//!
//! Records the service fails inside an accepted call (`FailedPutCount`) are
//! sent again alone until every one is in; the batch leaves the spool only
//! then. A process killed in between sends the whole batch again at the
//! next start: delivery is at least once.

pub mod batch;
pub mod dest;
mod send;
pub mod sink;

pub use dest::DeliveryStreamDestination;
pub use sink::{FirehoseSink, FirehoseSinkOptions};
