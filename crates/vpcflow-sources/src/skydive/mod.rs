//! Skydive analyzer flows as a flow source.
//!
//! [`message`] has Skydive's message and flow types (JSON); [`Converter`]
//! turns flows into [`FlowUpdate`](vpcflow_core::FlowUpdate)s and capture
//! statistics into [`LossEvent`](vpcflow_core::LossEvent)s; [`replay`] reads
//! recorded messages from files.
//!
//! # How Skydive numbers become VPC numbers
//!
//! * **Deltas, never totals.** Skydive resends every changed flow at each
//!   update interval with its cumulative `Metric` and the delta since the
//!   previous update, `LastUpdateMetric` (with that update's own Start/Last).
//!   An update counts the `LastUpdateMetric`, unless the same (UUID, Start,
//!   Last) delta was counted before: Skydive sends some deltas twice (DNS and
//!   ARP flows at their application timeout, the last tick again when an agent
//!   stops, expiry shortly after an update). Without a `LastUpdateMetric`, the
//!   delta is `Metric` minus the previous `Metric` of the UUID (the whole
//!   `Metric` the first time; a counter that goes backwards is taken as
//!   restarted). This state is kept per UUID, across messages, reconnections
//!   and analyzers, and forgotten after `state_ttl_secs` of event time or when
//!   `max_tracked_flows` is reached (least recently seen first). `vpcflow
//!   run` keeps it across restarts ([`Converter::export`], [`state_store`]).
//! * **Two directions.** AB counters give an A→B update, BA counters a B→A
//!   update (ports swapped); a direction without packets gives none.
//! * **Times.** `first` is the delta's Start (the agent's previous update
//!   tick, or the flow's Start for its first update), never before the flow's
//!   Start; `last`
//!   is the flow's Last (its last packet, of either direction). Both are Unix
//!   milliseconds. Skydive has no per-direction times, so a record's `start` can
//!   be up to one update interval early and the `end` of a direction is the
//!   flow's last packet.
//! * **IP-layer bytes.** Skydive counts bytes from the first captured layer.
//!   Per packet, the link headers before the first IP layer of `LayersPath` are
//!   removed (Ethernet 14, Dot1Q 4 each, MPLS 4 each, LinuxSLL 16, Loopback 4,
//!   PPPoE 6, PPP 2); a flow captured without a link layer and IPv6 gets 40 per
//!   packet added (Skydive counts the IPv6 payload length). Ethernet padding of
//!   frames shorter than 60 bytes cannot be told apart and stays counted.
//! * **Protocol number**: the transport layer's protocol (TCP 6, UDP 17, SCTP
//!   132), else 1 or 58 when an ICMP layer is present, else the layer following
//!   the first IP layer of `LayersPath` (GRE 47, IPv4 4, IPv6 41, ESP 50, …;
//!   0 and counted when unknown). Ports only for TCP, UDP and SCTP.
//! * **tcp-flags** come from `TCPMetric`, which Skydive sends only when the
//!   capture enables extra TCP metrics: SYN (2) for a side that sent a SYN,
//!   SYN-ACK (18) for the side whose SYN came second, FIN (1), RST (4); each
//!   reported once, in the first update of that direction after it happened.
//!   Without `TCPMetric` tcp-flags are 0. Skydive records only the first
//!   SYN/FIN/RST of each side, so later ones are not seen.
//! * **Non-IP flows** (no Network layer, e.g. ARP) are skipped and counted.
//! * **Tunnels.** An inner flow (with a `ParentUUID`) whose parent has a Network
//!   layer is skipped: the parent is the outer flow, and the inner flow's
//!   addresses become the parent's `pkt-srcaddr`/`pkt-dstaddr` (once the inner
//!   flow has been seen: within one message the order does not matter). Inner
//!   flows of parents without a Network layer (IP over MPLS, parent
//!   `Ethernet/MPLS`) are counted. An inner flow that arrives before its parent
//!   waits for it for `orphan_wait_secs` of event time, then is dropped and
//!   counted as an orphan.
//! * **Interfaces.** The `NodeTID` of a flow is the name of its interface (the
//!   configuration maps names to ENI metadata).
//! * **Capture statistics**: the increase of a capture's cumulative
//!   `PacketsDropped + FlowDropped + KernelFlowDropped` is a loss for each
//!   interface the capture's flows were seen on, at the newest event time: the
//!   window becomes SKIPDATA. A capture's first statistics set the baseline.
//! * **UUID identity** is a 128-bit hash of the UUID string.

pub mod message;

mod convert;
pub mod live;
pub mod protobuf;
mod reject;
pub mod replay;
pub mod snapshot;
mod source;
pub mod state_file;
pub mod state_store;
mod state_writer;
pub mod subscriber;
#[cfg(test)]
mod tests;
mod tls;

pub use convert::{
    link_overhead, protocol_number, tcp_flags, Converter, ConverterOptions, ConverterStats,
    MAX_DELTA_BYTES, MAX_DELTA_PACKETS,
};
pub use message::{parse_json, Flow, FlowMetric, Payload, Stats, TcpMetric};
pub use reject::{RejectStats, TwoPoint};
pub use source::SkydiveSource;
pub use state_store::{LoadOutcome, StateStore};
