//! Delivery to Amazon CloudWatch Logs with the AWS SDK for Rust, from the
//! durable [spool](crate::spool), as AWS delivers flow logs there.
//!
//! * [`LogGroupDestination`], the log group:
//!   `arn:aws:logs:REGION:ACCOUNT:log-group:NAME` or `cloudwatch://NAME`.
//! * [`CloudWatchOptions`]: client, log group creation, retention, KMS key.
//! * [`batch`]: PutLogEvents' limits (events, bytes, time span, event age),
//!   enforced here, whatever the server checks.
//! * [`CloudWatchSink`]: the [`RecordSink`](crate::RecordSink): one log
//!   stream per interface (`<interface-id>-<traffic type>`), the event
//!   message is the record line without a header, the event time the
//!   record's `start`.
//!
//! A batch is committed to the spool before it is sent and removed once
//! PutLogEvents returned: what was sealed survives a crash or an outage.
//! PutLogEvents has no idempotency key, so a batch confirmed just before the
//! process died (between the response and the removal) is sent again at the
//! next start: delivery is at least once.

pub mod batch;
pub mod dest;
pub mod options;
mod send;
pub mod sink;

pub use dest::LogGroupDestination;
pub use options::CloudWatchOptions;
pub use send::rejected_count;
pub use sink::{CloudWatchSink, CloudWatchSinkOptions};
