//! [`ConverterSnapshot`]: what a [`Converter`](super::Converter) must keep
//! across a restart of `vpcflow run` so that no delta is counted twice and
//! none is lost, as plain data (the on-disk form is in
//! [`state_file`](super::state_file)).
//!
//! Run-specific numbers never appear here: interfaces are named by their
//! NodeTID (an [`InterfaceIndex`](vpcflow_core::InterfaceIndex) is only valid
//! within one run) and resolved again when the snapshot is imported.

use std::net::IpAddr;

use vpcflow_core::PacketAddrs;

/// The restart-relevant state of a converter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConverterSnapshot {
    /// Newest event time seen (Unix ms).
    pub now_ms: i64,
    /// Event time of the last expiry sweep (Unix ms).
    pub last_sweep_ms: i64,
    /// The per-UUID delta state.
    pub flows: Vec<FlowEntry>,
    /// Interfaces seen, by NodeTID, with the capture id they were last seen
    /// under.
    pub interfaces: Vec<(String, String)>,
    /// Interfaces (NodeTIDs) seen per capture id, to place capture drops.
    pub capture_interfaces: Vec<(String, Vec<String>)>,
    /// The two-point REJECT decision's conversations (empty without
    /// `[skydive.reject]`).
    pub conversations: Vec<ConversationEntry>,
}

impl ConverterSnapshot {
    /// Orders the flow states by id (the order the state file is written in).
    pub fn sort_flows(&mut self) {
        self.flows.sort_unstable_by_key(|f| f.id);
    }
}

/// What is kept of one flow UUID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowEntry {
    /// The 128-bit hash of the UUID string.
    pub id: u128,
    /// Start and Last of the last counted LastUpdateMetric.
    pub delta_span: (i64, i64),
    /// The last cumulative Metric: AB packets, AB bytes, BA packets, BA bytes.
    pub metric: [i64; 4],
    /// The Last of that Metric.
    pub metric_last: i64,
    /// Newest time of the flow seen (Unix ms), for expiry.
    pub last_seen: i64,
    /// Which of the above are set, and what the flow is (see the converter).
    pub bits: u8,
    /// AWS tcp-flags already reported, per direction (AB, BA).
    pub flags_done: [u8; 2],
    /// Innermost addresses (A side, B side) of a tunnel's inner flow.
    pub inner: Option<PacketAddrs>,
}

/// One conversation (`L3TrackingID`) of the two-point REJECT decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationEntry {
    /// The `L3TrackingID`.
    pub tracking: String,
    /// Newest event time of the conversation (Unix ms).
    pub last_seen_ms: i64,
    /// The two directions as seen at the outside point.
    pub dirs: [DirectionEntry; 2],
    /// The two directions as seen at the inside point.
    pub inside: [SideEntry; 2],
}

/// Cumulative counts of one direction at one capture point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideEntry {
    /// The direction's source address (`None`: not seen yet).
    pub src: Option<IpAddr>,
    /// Packets so far.
    pub packets: u64,
    /// Bytes so far.
    pub bytes: u64,
}

/// One direction of a conversation at the outside point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectionEntry {
    /// The record the direction is written as: interface and addresses.
    pub template: Option<TemplateEntry>,
    /// What the outside point saw.
    pub outside: SideEntry,
    /// Packets already written (ACCEPT or REJECT).
    pub decided_packets: u64,
    /// Bytes already written.
    pub decided_bytes: u64,
    /// First time (ns) of the traffic not written yet.
    pub first: u64,
    /// Last time (ns) of the traffic not written yet.
    pub last: u64,
    /// tcp-flags of the traffic not written yet.
    pub flags: u8,
}

/// The identity of the records of a direction: interface by name, 5-tuple,
/// packet-level addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateEntry {
    /// The interface's NodeTID.
    pub interface: String,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol number.
    pub protocol: u8,
    /// Packet-level addresses of a tunnel.
    pub packet_addrs: Option<PacketAddrs>,
}
