//! The pure core of vpcflow: the flow model, aggregation into VPC Flow Logs records,
//! the record fields and formats, batching into 5-minute files and their names.
//!
//! Nothing in this crate performs I/O; sources feed [`FlowUpdate`]s in, sinks take
//! formatted bytes out.

pub mod aggregate;
pub mod aws_service;
pub mod batch;
pub mod enrich;
pub mod fields;
pub mod flow;
pub mod format;
pub mod interface;
pub mod layout;
pub mod name;
pub mod policy;
pub mod record;
pub mod tcp_flags;
pub(crate) mod time;
pub mod values;
pub mod window;

pub use flow::{
    Action, FlowConsumer, FlowKey, FlowUpdate, InterfaceIndex, LossEvent, PacketAddrs, Timestamp,
};
pub use record::{FlowRecord, LogStatus};
