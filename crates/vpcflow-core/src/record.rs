//! Aggregated records, before interface metadata is attached.

use crate::flow::{Action, FlowKey, InterfaceIndex, PacketAddrs};
use crate::tcp_flags::TcpFlags;

/// The `log-status` of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogStatus {
    /// Data is logging normally.
    Ok,
    /// No traffic to or from the interface during the window.
    NoData,
    /// Some records were skipped during the window.
    SkipData,
}

impl LogStatus {
    /// The text written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Ok => "OK",
            LogStatus::NoData => "NODATA",
            LogStatus::SkipData => "SKIPDATA",
        }
    }
}

/// The traffic part of an `OK` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Traffic {
    /// The 5-tuple.
    pub key: FlowKey,
    /// Innermost addresses of a tunnelled flow.
    pub packet_addrs: Option<PacketAddrs>,
    /// Packets in the window.
    pub packets: u64,
    /// IP-layer bytes in the window.
    pub bytes: u64,
    /// OR of the AWS TCP flags (0 for protocols other than TCP).
    pub tcp_flags: TcpFlags,
    /// ACCEPT or REJECT.
    pub action: Action,
}

/// One aggregated record of one interface and one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowRecord {
    /// The interface (ENI) the record belongs to.
    pub interface: InterfaceIndex,
    /// Start of the aggregation window (Unix seconds).
    pub window_start: u64,
    /// Unix second of the first packet in the window (the window start for
    /// NODATA and SKIPDATA).
    pub start: u64,
    /// Unix second of the last packet in the window (the window's last second
    /// for NODATA and SKIPDATA).
    pub end: u64,
    /// The traffic of an `OK` record; `None` for NODATA and SKIPDATA.
    pub traffic: Option<Traffic>,
    /// OK, NODATA or SKIPDATA.
    pub status: LogStatus,
}

impl FlowRecord {
    /// The order records are written in within a file: by `end`, interface,
    /// `start`, then the traffic itself, so output is deterministic.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.end,
            self.interface,
            self.start,
            self.status,
            self.traffic,
        )
    }
}
