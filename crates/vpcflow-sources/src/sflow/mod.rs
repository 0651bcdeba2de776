//! sFlow v5 datagrams turned into flow updates.
//!
//! The decoder is written here: no maintained Rust crate decodes sFlow v5
//! down to the sampled packets' raw headers and hands them to a packet
//! decoder of one's own, and the sampled headers must go through the very
//! decoder capture files use ([`crate::decode`]) so that both count alike.
//! [`datagram`] reads the wire format, [`Decoder`] keeps the sequence
//! numbers of every agent and turns samples into [`FlowUpdate`]s;
//! [`SflowSource`] receives datagrams on UDP sockets (`vpcflow run` with
//! `[[sflow.listen]]`), [`udp::replay`](crate::udp::replay) reads them out
//! of a capture file (`vpcflow convert --sflow`).
//!
//! # What a sample becomes
//!
//! * Only **raw packet header** records (header protocol Ethernet, IPv4 or
//!   IPv6) are counted: the header goes through [`decode::decode`] with the
//!   packet's wire length (`frame_length - stripped`), so VLAN tags, MPLS,
//!   tunnels and IPv6 extension headers are read as in a capture, and the
//!   bytes are the IP-layer length of the original packet (the IP length
//!   field, which the sampled header keeps even when the packet was cut).
//!   Other flow records and counters samples are skipped by their length.
//! * **Counts**: one packet and its IP bytes, multiplied by the sampling
//!   rate ([`Sampling::Scale`], the default: an estimate) or kept as
//!   sampled ([`Sampling::Raw`]).
//! * **Time**: sFlow carries no flow times: a sample's time is the
//!   arrival time of its datagram (the receive time live, the capture time
//!   of the frame in a replay).
//! * **Interface**: `AGENT/ifindex-N` (the default [`NamePattern`], as for
//!   NetFlow), the agent address of the datagram and the input ifIndex;
//!   the output ifIndex when the sample was taken at egress (its data
//!   source is the output interface); the data source's index when the
//!   input interface is unknown (0) or internal (0x3FFFFFFF).
//! * **Action**: REJECT when the output says the packet was discarded
//!   (output format 1), else ACCEPT.
//!
//! # Losses
//!
//! Each is a [`LossEvent`] on every interface of the agent (SKIPDATA in
//! that window), counted in [`SflowStats`]:
//!
//! * a gap in the datagram sequence numbers of an agent and sub-agent
//!   (lost datagrams, counted in datagrams);
//! * a gap in the sample sequence numbers of a data source that lost
//!   datagrams do not explain (counted in samples);
//! * an increase of a data source's `drops` (packets the agent could not
//!   sample for lack of resources; the first value seen is the baseline);
//! * a sample that cannot be counted: a sampling rate of 0, a header that
//!   claims IP but cannot be decoded, an unknown header protocol.
//!
//! Malformed datagrams are counted and rejected with a [`DecodeError`]
//! naming what and where; the samples before the error are kept.

pub mod datagram;

#[cfg(test)]
mod tests;

mod stats;

use std::collections::HashMap;
use std::net::IpAddr;

use vpcflow_core::{Action, FlowConsumer, InterfaceIndex, LossEvent, Timestamp};

pub use crate::netflow::names::NamePattern;
pub use crate::netflow::{DecodeError, Sampling};
pub use stats::SflowStats;

use crate::decode::{self, linktype, Outcome};
use crate::handoff::Handoff;
use crate::netflow::sequence::{Gap, Sequences};
use crate::source::SourceStats;
use crate::udp::{Collector, CollectorStats, DatagramDecoder};
use datagram::{FlowSample, Record, Sample};

/// The sFlow collector of `vpcflow run`.
pub type SflowSource = Collector<Decoder>;

/// How samples are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderOptions {
    /// Scaling by the sampling rate.
    pub sampling: Sampling,
}

/// Interfaces (agent, ifindex) named at most: beyond, the samples of new
/// ones are not counted (bounded memory under forged datagrams).
const MAX_INTERFACES: usize = 65_536;

/// Data sources whose sample sequence numbers are followed at most;
/// beyond, every one starts over.
const MAX_SOURCES: usize = 65_536;

/// Sequence-number jumps of this many or more are a restart, not a loss.
const MAX_GAP: u32 = 1 << 30;

/// The "sequence version" of sFlow datagrams in [`Sequences`].
const SFLOW: u16 = 5;

/// What was last seen of one data source (agent, sub-agent, source type
/// and index).
#[derive(Debug, Clone, Copy)]
struct SourceState {
    sequence: u32,
    drops: u32,
}

type SourceKey = (IpAddr, u32, u32, u32);

/// Decodes sFlow v5 datagrams into flow updates (see the [module
/// documentation](self)).
pub struct Decoder {
    options: DecoderOptions,
    sequences: Sequences,
    sources: HashMap<SourceKey, SourceState>,
    interfaces: HashMap<(IpAddr, u32), InterfaceIndex>,
    /// The interfaces of each agent, for its losses.
    agent_interfaces: HashMap<IpAddr, Vec<InterfaceIndex>>,
    stats: SflowStats,
    handoff: Handoff,
}

impl Decoder {
    /// A decoder with no agent known yet.
    pub fn new(options: DecoderOptions) -> Decoder {
        Decoder {
            options,
            sequences: Sequences::default(),
            sources: HashMap::new(),
            interfaces: HashMap::new(),
            agent_interfaces: HashMap::new(),
            stats: SflowStats::default(),
            handoff: Handoff::new(),
        }
    }

    /// What was decoded so far.
    pub fn stats(&self) -> SflowStats {
        let handed = self.handoff.handed();
        SflowStats {
            updates: handed.updates,
            packets: handed.packets,
            bytes: handed.bytes,
            ..self.stats
        }
    }

    /// Decodes one datagram that arrived at `at`, handing its samples to
    /// `out`. An error names what could not be read; the samples before it
    /// were handed over, and the datagram is counted as malformed. (The
    /// sender's address is not used: the datagram names its agent.)
    pub fn datagram(
        &mut self,
        at: Timestamp,
        data: &[u8],
        out: &mut dyn FlowConsumer,
    ) -> Result<(), DecodeError> {
        self.stats.datagrams += 1;
        self.stats.datagram_bytes += data.len() as u64;
        let result = self.samples(at, data, out);
        self.flush(out);
        if result.is_err() {
            self.stats.malformed += 1;
        }
        result
    }

    fn samples(
        &mut self,
        at: Timestamp,
        data: &[u8],
        out: &mut dyn FlowConsumer,
    ) -> Result<(), DecodeError> {
        let (h, samples) = datagram::header(data)?;
        match self
            .sequences
            .check(h.agent, SFLOW, h.sub_agent, h.sequence, Some(1), None)
        {
            Gap::None => {}
            Gap::Reset => {
                self.stats.sequence_resets += 1;
                self.forget_sources(h.agent, h.sub_agent);
            }
            Gap::Lost(n) => {
                self.stats.sequence_gaps += 1;
                self.stats.lost_datagrams = self.stats.lost_datagrams.saturating_add(n);
                tracing::warn!(agent = %h.agent, sub_agent = h.sub_agent, lost = n, "sFlow sequence gap: datagrams were lost");
                // The samples of the lost datagrams are accounted for: the
                // data sources' sample numbers start over.
                self.forget_sources(h.agent, h.sub_agent);
                self.lose(h.agent, at, n, out);
            }
        }
        // A sample that cannot be counted is skipped; the datagram is
        // still rejected (after its other samples).
        let mut invalid = None;
        for sample in samples {
            match sample? {
                Sample::Flow(s) => {
                    if !self.flow_sample(h.agent, h.sub_agent, at, &s, out)? {
                        invalid.get_or_insert(DecodeError::new(
                            "sFlow flow sample",
                            s.offset(),
                            "sampling rate 0",
                        ));
                    }
                }
                Sample::Counters => self.stats.counter_samples += 1,
                Sample::Other(_) => self.stats.other_samples += 1,
            }
        }
        match invalid {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn forget_sources(&mut self, agent: IpAddr, sub_agent: u32) {
        self.sources.retain(|k, _| (k.0, k.1) != (agent, sub_agent));
    }

    /// Counts one flow sample; false when it cannot be (sampling rate 0).
    fn flow_sample(
        &mut self,
        agent: IpAddr,
        sub_agent: u32,
        at: Timestamp,
        s: &FlowSample<'_>,
        out: &mut dyn FlowConsumer,
    ) -> Result<bool, DecodeError> {
        self.stats.flow_samples += 1;
        if s.expanded {
            self.stats.expanded_flow_samples += 1;
        }
        let key = (agent, sub_agent, s.source_type, s.source_index);
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&key) {
            self.sources.clear();
        }
        let now = SourceState {
            sequence: s.sequence,
            drops: s.drops,
        };
        if let Some(prev) = self.sources.insert(key, now) {
            let missing = s.sequence.wrapping_sub(prev.sequence).wrapping_sub(1);
            if missing > 0 && missing < MAX_GAP {
                self.stats.sample_gaps += 1;
                self.stats.lost_samples =
                    self.stats.lost_samples.saturating_add(u64::from(missing));
                tracing::warn!(%agent, source = s.source_index, lost = missing, "sFlow sample sequence gap: samples were lost");
                self.lose(agent, at, u64::from(missing), out);
            }
            let dropped = s.drops.wrapping_sub(prev.drops);
            if dropped > 0 && dropped < MAX_GAP {
                self.stats.agent_drops = self.stats.agent_drops.saturating_add(u64::from(dropped));
                tracing::warn!(%agent, source = s.source_index, dropped, "the sFlow agent dropped packets it should have sampled");
                self.lose(agent, at, u64::from(dropped), out);
            }
        }
        if s.sampling_rate == 0 {
            self.stats.invalid_samples += 1;
            self.lose(agent, at, 1, out);
            return Ok(false);
        }
        let rate = match self.options.sampling {
            Sampling::Scale => u64::from(s.sampling_rate),
            Sampling::Raw => 1,
        };
        let egress = s.source_type == 0
            && s.output.ifindex() == Some(s.source_index)
            && s.input.ifindex() != Some(s.source_index);
        let ifindex = if egress {
            s.source_index
        } else {
            s.input.ifindex().unwrap_or(s.source_index)
        };
        let action = if s.output.format == 1 {
            Action::Reject
        } else {
            Action::Accept
        };
        for record in s.records() {
            match record? {
                Record::RawHeader {
                    protocol,
                    frame_length,
                    stripped,
                    header,
                } => {
                    self.stats.raw_headers += 1;
                    let lt = match protocol {
                        1 => linktype::ETHERNET,
                        11 => linktype::IPV4,
                        12 => linktype::IPV6,
                        _ => {
                            self.stats.unsupported_headers += 1;
                            self.lose(agent, at, rate, out);
                            continue;
                        }
                    };
                    let wire = frame_length.saturating_sub(stripped);
                    let packet = match decode::decode(lt, header, wire).outcome {
                        Outcome::Ip(p) => p,
                        Outcome::NonIp => {
                            self.stats.non_ip += 1;
                            continue;
                        }
                        Outcome::Undecodable(_) => {
                            self.stats.undecodable += 1;
                            self.lose(agent, at, rate, out);
                            continue;
                        }
                    };
                    let Some(interface) = self.interface(agent, ifindex, out) else {
                        continue;
                    };
                    let mut update = packet.flow_update(interface, at);
                    update.packets = rate;
                    update.bytes = update.bytes.saturating_mul(rate);
                    update.action = action;
                    if rate > 1 {
                        self.stats.sampled_updates += 1;
                    }
                    self.handoff.push(update, out);
                }
                Record::Other(_) => self.stats.other_records += 1,
            }
        }
        Ok(true)
    }

    /// Datagrams of the agent (or of every agent, `None`) lost before they
    /// could be decoded (socket or queue drops), at `at`.
    pub fn lost_datagrams(
        &mut self,
        agent: Option<IpAddr>,
        at: Timestamp,
        count: u64,
        out: &mut dyn FlowConsumer,
    ) {
        self.flush(out);
        match agent {
            Some(a) => self.lose(a, at, count, out),
            None => {
                for &interface in self.agent_interfaces.values().flatten() {
                    out.loss(&LossEvent {
                        interface,
                        at,
                        count,
                    });
                }
            }
        }
    }

    fn flush(&mut self, out: &mut dyn FlowConsumer) {
        self.handoff.flush(out);
    }

    fn lose(&mut self, agent: IpAddr, at: Timestamp, count: u64, out: &mut dyn FlowConsumer) {
        self.flush(out);
        match self.agent_interfaces.get(&agent) {
            Some(list) => {
                for &interface in list {
                    out.loss(&LossEvent {
                        interface,
                        at,
                        count,
                    });
                }
            }
            None => {
                self.stats.losses_before_interfaces =
                    self.stats.losses_before_interfaces.saturating_add(count)
            }
        }
    }

    fn interface(
        &mut self,
        agent: IpAddr,
        ifindex: u32,
        out: &mut dyn FlowConsumer,
    ) -> Option<InterfaceIndex> {
        if let Some(&i) = self.interfaces.get(&(agent, ifindex)) {
            return Some(i);
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            if self.stats.samples_over_interface_limit == 0 {
                tracing::warn!(%agent, limit = MAX_INTERFACES, "too many sFlow agent interfaces: samples of new ones are not counted");
            }
            self.stats.samples_over_interface_limit += 1;
            return None;
        }
        let index = out.interface(&NamePattern::default().render(agent, ifindex));
        self.interfaces.insert((agent, ifindex), index);
        self.agent_interfaces.entry(agent).or_default().push(index);
        Some(index)
    }
}

impl DatagramDecoder for Decoder {
    const PROTOCOL: &'static str = "sFlow";
    const KEY: &'static str = "sflow.listen";
    const THREAD: &'static str = "sf";
    type Error = DecodeError;

    fn decode_datagram(
        &mut self,
        _from: IpAddr,
        at: Timestamp,
        data: &[u8],
        out: &mut dyn FlowConsumer,
    ) -> Result<(), DecodeError> {
        self.datagram(at, data, out)
    }

    fn lost_datagrams(
        &mut self,
        exporter: Option<IpAddr>,
        at: Timestamp,
        count: u64,
        out: &mut dyn FlowConsumer,
    ) {
        Decoder::lost_datagrams(self, exporter, at, count, out);
    }

    fn finish(&mut self, out: &mut dyn FlowConsumer) {
        self.flush(out);
    }

    fn malformed(&self) -> u64 {
        self.stats.malformed
    }

    fn source_stats(&self, collector: CollectorStats) -> SourceStats {
        SourceStats::Sflow {
            collector,
            decoder: self.stats(),
        }
    }
}
