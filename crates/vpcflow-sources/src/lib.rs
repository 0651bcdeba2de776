#![warn(missing_docs)]
//! Flow sources of vpcflow: capture files (classic pcap and pcapng), the
//! packet decoder that turns frames into flow observations, Skydive
//! analyzer flows ([`skydive`]), live capture on interfaces ([`live`]), and
//! NetFlow v5/v9 and IPFIX export ([`netflow`]), sFlow v5 ([`sflow`]); the
//! UDP collector and capture replay both share ([`udp`]).
//!
//! * [`read_capture`] reads one capture file and hands every IP packet to a
//!   [`FlowConsumer`](vpcflow_core::FlowConsumer) as one
//!   [`FlowUpdate`](vpcflow_core::FlowUpdate), returning [`CaptureStats`].
//! * [`decode::decode`] decodes one frame; [`PacketDecoder`] adds the optional
//!   fragment tracking. Both are usable by other (live) sources.
//!
//! The counting rules are those of the `policy` object of the shared truth files
//! (see the [`decode`](mod@decode) module).
//!
//! Every live source implements one trait, [`Source`]; [how to add a
//! source](mod@source) (which trait, where its configuration section lives,
//! how it reaches the pipeline, what its tests must show) is written in the
//! [`source`](mod@source) module.

pub mod decode;
pub mod fragments;
pub mod handoff;
pub mod live;
pub mod netflow;
pub mod pcap;
pub mod sflow;
pub mod skydive;
pub mod source;
pub mod stats;
pub mod udp;

pub use decode::{decode, Decoded, IpPacket, Outcome};
pub use fragments::{FragmentPolicy, FragmentTable, PacketDecoder};
pub use pcap::{
    read_capture, read_capture_bytes, read_capture_stream, sniff_format, CaptureError,
    CaptureFormat, PacketSelection, PcapOptions,
};
pub use source::{CheckpointWrite, Source, SourceStats};
pub use stats::{CaptureStats, CaptureWarning, TunnelCounts, WarningKind};
