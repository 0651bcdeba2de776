//! Live capture on network interfaces through libpcap (AF_PACKET on Linux).
//!
//! ```text
//! capture thread per interface ─Event─▶ [bounded channel] ─▶ LiveSource::apply ─▶ FlowConsumer
//! ```
//!
//! Each [`CaptureSpec`] names one interface, or a pattern (`*` and `?`) that
//! interfaces appearing later are matched against ([`LiveSource::poll_interfaces`]).
//! Every opened interface gets its own capture thread, which decodes frames
//! with the shared decoder ([`PacketDecoder`](crate::PacketDecoder)) and hands
//! batches of [`FlowUpdate`](vpcflow_core::FlowUpdate)s over a bounded
//! channel. Capture never waits for export: a batch that does not fit in the
//! channel is dropped and counted as lost.
//!
//! Losses become [`LossEvent`](vpcflow_core::LossEvent)s (SKIPDATA) for the
//! interface and the window they happened in: kernel and ring drops (libpcap's
//! `ps_drop` and `ps_ifdrop`, read every [`STATS_PERIOD`]), batches dropped
//! because the channel was full, and undecodable frames.
//!
//! Timestamps are the kernel's, in nanoseconds.

mod addresses;
mod capture;
mod pattern;
mod source;
mod spec;
#[cfg(test)]
mod tests;

pub use addresses::interface_addresses;
pub use pattern::matches;
pub use source::{present_interfaces, LiveCaptureStats, LiveSource};
pub use spec::{check_filter, CaptureSpec, DEFAULT_BUFFER_BYTES, DEFAULT_SNAPLEN, STATS_PERIOD};
