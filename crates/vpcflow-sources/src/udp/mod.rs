//! What the flow-export protocols carried over UDP (NetFlow/IPFIX in
//! [`netflow`](crate::netflow), sFlow in [`sflow`](crate::sflow)) share:
//! the sockets of `vpcflow run` ([`collector`]) and the reading of export
//! datagrams back from a capture file ([`replay`], `vpcflow convert
//! --netflow` / `--sflow`). Each protocol brings its decoder as a
//! [`DatagramDecoder`].

pub mod collector;
pub mod replay;

use std::fmt::Display;
use std::net::IpAddr;

use vpcflow_core::{FlowConsumer, Timestamp};

pub use collector::{Collector, CollectorStats, ListenSpec};

use crate::source::SourceStats;

/// A stateful decoder of one protocol's export datagrams.
pub trait DatagramDecoder: Send + 'static {
    /// The protocol, in messages ("NetFlow/IPFIX").
    const PROTOCOL: &'static str;
    /// The configuration key of its sockets ("netflow.listen").
    const KEY: &'static str;
    /// A short name for the socket threads ("nf").
    const THREAD: &'static str;
    /// What a rejected datagram was.
    type Error: Display;

    /// Decodes one datagram sent by `from`, arrived at `at` (receive time
    /// live, capture time in a replay), handing its records to `out`. An
    /// error names what could not be read; the records before it were
    /// handed over, and the datagram is counted as malformed.
    fn decode_datagram(
        &mut self,
        from: IpAddr,
        at: Timestamp,
        data: &[u8],
        out: &mut dyn FlowConsumer,
    ) -> Result<(), Self::Error>;

    /// `count` datagrams of `exporter` (or of any exporter, `None`) were
    /// lost before they could be decoded (socket or queue drops), at `at`.
    fn lost_datagrams(
        &mut self,
        exporter: Option<IpAddr>,
        at: Timestamp,
        count: u64,
        out: &mut dyn FlowConsumer,
    );

    /// The end of input.
    fn finish(&mut self, out: &mut dyn FlowConsumer);

    /// Datagrams rejected so far.
    fn malformed(&self) -> u64;

    /// The counters of a collector with this decoder.
    fn source_stats(&self, collector: CollectorStats) -> SourceStats;
}

#[cfg(test)]
mod tests;
