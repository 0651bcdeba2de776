//! The flow model shared by every source: one unidirectional observation.

use std::net::IpAddr;

use crate::tcp_flags::TcpFlags;

/// Nanoseconds since the Unix epoch (UTC).
pub type Timestamp = u64;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Index of an interface (a capture point, the ENI of a record) in the
/// [`InterfaceTable`](crate::enrich::InterfaceTable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceIndex(pub u32);

/// The unidirectional 5-tuple of a VPC flow log record.
///
/// Ports are 0 for protocols without ports (everything but TCP, UDP and SCTP),
/// and for packets whose transport header was not captured. Source and
/// destination are of one family (sources drop records that mix them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Source address of the (outermost) IP header.
    pub src: IpAddr,
    /// Destination address of the (outermost) IP header.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IANA protocol number.
    pub protocol: u8,
}

/// Addresses of the innermost IP header when the flow is a tunnel; they become
/// `pkt-srcaddr` / `pkt-dstaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketAddrs {
    /// Source address of the innermost IP header.
    pub src: IpAddr,
    /// Destination address of the innermost IP header.
    pub dst: IpAddr,
}

/// The `action` of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Action {
    /// The traffic was accepted.
    #[default]
    Accept,
    /// The traffic was rejected (security group, network ACL, or a source's
    /// own decision); `reject-reason` is `-`.
    Reject,
    /// The traffic was rejected by VPC Block Public Access: `action` is
    /// `REJECT` and `reject-reason` is `BPA`. A record's action includes its
    /// reason, so records differing only in the reason are separate records.
    RejectBpa,
}

impl Action {
    /// The text written in a record's `action` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "ACCEPT",
            Action::Reject | Action::RejectBpa => "REJECT",
        }
    }

    /// Whether the traffic was rejected, whatever the reason.
    #[inline]
    pub fn is_reject(self) -> bool {
        self != Action::Accept
    }

    /// The `reject-reason` field: `BPA`, or `None` (`-`) for any other reason
    /// and for accepted traffic (spec §1.6: BPA is the only defined value).
    pub fn reject_reason(self) -> Option<&'static str> {
        match self {
            Action::RejectBpa => Some("BPA"),
            Action::Accept | Action::Reject => None,
        }
    }
}

/// The `flow-direction` field (of a record; of an update when its source
/// knows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowDirection {
    /// Into the interface.
    Ingress,
    /// Out of the interface.
    Egress,
}

impl FlowDirection {
    /// The text written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowDirection::Ingress => "ingress",
            FlowDirection::Egress => "egress",
        }
    }
}

/// One unidirectional observation of a flow, the only thing sources emit.
///
/// `packets` and `bytes` are counted since the source's previous update for the
/// same flow (a delta, never a cumulative total); `bytes` are IP-layer bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowUpdate {
    /// The capture point the packets were seen on.
    pub interface: InterfaceIndex,
    /// The 5-tuple.
    pub key: FlowKey,
    /// Innermost addresses when tunnelled, `None` otherwise.
    pub packet_addrs: Option<PacketAddrs>,
    /// Packets in this update.
    pub packets: u64,
    /// IP-layer bytes in this update.
    pub bytes: u64,
    /// Time of the first packet.
    pub first: Timestamp,
    /// Time of the last packet.
    pub last: Timestamp,
    /// OR of the AWS-reported TCP flags of the packets.
    pub tcp_flags: TcpFlags,
    /// The action decided by the source, if it knows it.
    pub action: Action,
    /// The direction the source reports (a NetFlow/IPFIX `flowDirection`);
    /// `None`: the interface's addresses decide, as for captured packets.
    pub direction: Option<FlowDirection>,
}

/// Input lost by a source (a truncated or undecodable packet, a capture drop): it
/// turns the window it falls in into a SKIPDATA window for that interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossEvent {
    /// The interface the lost input belonged to.
    pub interface: InterfaceIndex,
    /// When it was lost.
    pub at: Timestamp,
    /// How many packets (or units) were lost.
    pub count: u64,
}

/// Where a source delivers what it observes.
pub trait FlowConsumer {
    /// The index of the capture point called `name`, registering it (and making
    /// it a monitored interface) on first use.
    fn interface(&mut self, name: &str) -> InterfaceIndex;
    /// One observation.
    fn update(&mut self, update: &FlowUpdate);
    /// Several observations, in order. Sources hand packets over in small
    /// batches so that the consumer can overlap its table lookups.
    fn update_batch(&mut self, updates: &[FlowUpdate]) {
        for u in updates {
            self.update(u);
        }
    }
    /// Input that was lost.
    fn loss(&mut self, loss: &LossEvent);
}
