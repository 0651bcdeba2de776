//! NetFlow v5, NetFlow v9 and IPFIX export messages turned into flow
//! updates.
//!
//! [`Decoder`] is the pure, stateful part: it takes one export datagram at a
//! time with the address it came from, keeps the templates
//! ([`templates`]) and sequence numbers ([`sequence`]) of every exporter,
//! and hands every flow record to a [`FlowConsumer`] as a [`FlowUpdate`].
//! The version is read from each datagram's first two bytes, so one socket
//! takes all three. [`udp::replay`](crate::udp::replay) reads export
//! datagrams out of a capture file (`vpcflow convert --netflow`),
//! [`NetflowSource`] receives them on UDP sockets (`vpcflow run` with
//! `[[netflow.listen]]`).
//!
//! # What a record becomes
//!
//! * **Interface**: `EXPORTER/ifindex-N` (or the exporter's pattern,
//!   [`names`]), the exporter's address and the
//!   ingress interface (`ingressInterface`, v5 `input`) — the egress one
//!   for records whose `flowDirection` is egress. `[[interface]]` blocks of
//!   that name give it ENI metadata.
//! * **Direction**: `flowDirection` (IPFIX 61, v9 `DIRECTION`) 0 is
//!   ingress, 1 egress (the reverse half of a biflow the other one); without
//!   it the interface's addresses decide at enrichment.
//! * **Counts**: `octetDeltaCount`/`packetDeltaCount` (their `post` variants
//!   when only those are given), the IP-layer counts; cumulative
//!   `octetTotalCount`/`packetTotalCount` are turned into deltas per flow.
//!   Sampled records are scaled by the sampling rate (v5 header, the record,
//!   or the exporter's options data) unless [`Sampling::Raw`].
//! * **Ports** only for TCP, UDP and SCTP (ICMP type and code, which v5 and
//!   v9 exporters put in the destination port, become 0).
//! * **TCP flags**: FIN, SYN and RST of `tcpControlBits`. A record's flags
//!   are an OR over its packets, so whether ACK came with SYN in the same
//!   packet cannot be told: the SYN-ACK bit (16) is never set.
//! * **Time**: absolute timestamps (`flowStart/End{Seconds,Milliseconds,
//!   Microseconds,Nanoseconds}`) as they are; sysUpTime times through the
//!   header's clock (v5, v9) or the exporter's `systemInitTimeMilliseconds`
//!   (IPFIX options data); delta times before the export time; a record
//!   without times gets the export time. A record joins the aggregation
//!   window of its **end**; one that lasts longer than the interval logs a
//!   warning once per exporter (lower the exporter's active timeout).
//! * **Action**: REJECT when `forwardingStatus` says dropped, else ACCEPT.
//! * **Biflows** (RFC 5103): the reverse elements (enterprise 29305) give a
//!   second record, addresses and ports swapped, on the same interface.
//!
//! # Losses
//!
//! A sequence-number gap (each protocol's own unit, see [`sequence`]), a
//! data set whose template did not come in time (held up to
//! [`templates::Limits::pending_bytes`] bytes and
//! [`DecoderOptions::template_wait_secs`] of export time), and datagrams
//! dropped before decoding become a [`LossEvent`] on every interface of the
//! exporter: SKIPDATA in that window.

pub mod fields;
pub mod names;
pub mod sequence;
pub mod sets;
pub mod templates;
pub mod v5;

#[cfg(test)]
mod tests;

mod emit;
mod stats;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;

use vpcflow_core::{FlowConsumer, InterfaceIndex, LossEvent, Timestamp};

pub use stats::NetflowStats;

use crate::handoff::Handoff;
use crate::source::SourceStats;
use crate::udp::{Collector, CollectorStats, DatagramDecoder};

/// The NetFlow/IPFIX collector of `vpcflow run`.
pub type NetflowSource = Collector<Decoder>;

impl DatagramDecoder for Decoder {
    const PROTOCOL: &'static str = "NetFlow/IPFIX";
    const KEY: &'static str = "netflow.listen";
    const THREAD: &'static str = "nf";
    type Error = DecodeError;

    /// The arrival time is not used: NetFlow and IPFIX messages carry
    /// their export time.
    fn decode_datagram(
        &mut self,
        from: IpAddr,
        _at: Timestamp,
        data: &[u8],
        out: &mut dyn FlowConsumer,
    ) -> Result<(), DecodeError> {
        self.datagram(from, data, out)
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
        Decoder::finish(self, out);
    }

    fn malformed(&self) -> u64 {
        self.stats.malformed
    }

    fn source_stats(&self, collector: CollectorStats) -> SourceStats {
        SourceStats::Netflow {
            collector,
            decoder: self.stats(),
        }
    }
}

use names::InterfaceNames;
use sequence::{Gap, Sequences};
use sets::{Definition, Dialect};
use templates::{Clock, Limits, Pending, Scope, TemplateCache};

/// What to do with the counts of sampled records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// Multiply packets and bytes by the sampling rate: the records are
    /// estimates of the traffic.
    #[default]
    Scale,
    /// Keep the counts as exported (the sampled packets only).
    Raw,
}

/// How export messages are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderOptions {
    /// Scaling of sampled records.
    pub sampling: Sampling,
    /// The aggregation interval, seconds (records longer than it are warned
    /// about).
    pub interval_secs: u64,
    /// Bounds of the template cache and of the data held for templates.
    pub limits: Limits,
    /// Seconds of export time a data set waits for its template.
    pub template_wait_secs: u64,
}

impl Default for DecoderOptions {
    fn default() -> DecoderOptions {
        DecoderOptions {
            sampling: Sampling::Scale,
            interval_secs: 600,
            limits: Limits::default(),
            template_wait_secs: 60,
        }
    }
}

/// Why a datagram (or the rest of it) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was being read.
    pub what: &'static str,
    /// Byte offset in the message.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl DecodeError {
    pub(crate) fn new(what: &'static str, offset: usize, reason: &'static str) -> DecodeError {
        DecodeError {
            what,
            offset,
            reason,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}: {}", self.what, self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// What the exporter's options data said about one domain.
#[derive(Debug, Clone, Copy, Default)]
struct DomainInfo {
    /// `systemInitTimeMilliseconds`.
    system_init_ms: Option<u64>,
    /// One packet in this many.
    sampling: Option<u64>,
}

/// Interfaces (exporter, ifindex) the decoder names at most: beyond, the
/// records of new ones are not counted (bounded memory under floods of
/// forged source addresses).
const MAX_INTERFACES: usize = 65_536;

/// Exporter domains whose options data and sequence numbers are kept at
/// most; beyond, that state starts over.
const MAX_DOMAINS: usize = 65_536;

/// Decodes NetFlow v5, v9 and IPFIX datagrams into flow updates (see the
/// [module documentation](self)).
pub struct Decoder {
    options: DecoderOptions,
    templates: TemplateCache,
    sequences: Sequences,
    // Looked up for every record: a fast hasher (randomly seeded per map).
    domains: foldhash::HashMap<Scope, DomainInfo>,
    interfaces: foldhash::HashMap<(IpAddr, u32), InterfaceIndex>,
    /// The last interface looked up: most records of a message share one.
    last_interface: Option<(IpAddr, u32, InterfaceIndex)>,
    /// The interfaces of each exporter, for its losses.
    exporter_interfaces: HashMap<IpAddr, Vec<InterfaceIndex>>,
    /// Last cumulative counts per flow, for `*TotalCount` records.
    totals: emit::Totals,
    warned_long: HashSet<IpAddr>,
    stats: NetflowStats,
    handoff: Handoff,
    definitions: Vec<Definition>,
    names: InterfaceNames,
}

impl Decoder {
    /// A decoder with no template or exporter known yet.
    pub fn new(options: DecoderOptions) -> Decoder {
        Decoder {
            options,
            templates: TemplateCache::new(options.limits),
            sequences: Sequences::default(),
            domains: foldhash::HashMap::default(),
            interfaces: foldhash::HashMap::default(),
            last_interface: None,
            exporter_interfaces: HashMap::new(),
            totals: emit::Totals::default(),
            warned_long: HashSet::new(),
            stats: NetflowStats::default(),
            handoff: Handoff::new(),
            definitions: Vec::new(),
            names: InterfaceNames::default(),
        }
    }

    /// The decoder naming exporters' interfaces with `names` (default:
    /// `192.0.2.1/ifindex-3`).
    pub fn with_names(mut self, names: InterfaceNames) -> Decoder {
        self.names = names;
        self
    }

    /// What was decoded so far.
    pub fn stats(&self) -> NetflowStats {
        let handed = self.handoff.handed();
        NetflowStats {
            updates: handed.updates,
            packets: handed.packets,
            bytes: handed.bytes,
            ..self.stats
        }
    }

    /// Decodes one datagram sent by `exporter`, handing its records to
    /// `out`. An error names what could not be read; the records before it
    /// were handed over, and the datagram is counted as malformed.
    pub fn datagram(
        &mut self,
        exporter: IpAddr,
        data: &[u8],
        out: &mut dyn FlowConsumer,
    ) -> Result<(), DecodeError> {
        self.stats.datagrams += 1;
        self.stats.datagram_bytes += data.len() as u64;
        let result = match data.get(..2).map(|v| u16::from_be_bytes([v[0], v[1]])) {
            Some(5) => self.v5(exporter, data, out),
            Some(9) => self.template_based(exporter, data, Dialect::V9, out),
            Some(10) => self.template_based(exporter, data, Dialect::Ipfix, out),
            Some(_) => Err(DecodeError::new(
                "export datagram",
                0,
                "not NetFlow v5, v9 or IPFIX (version field)",
            )),
            None => Err(DecodeError::new(
                "export datagram",
                0,
                "shorter than 2 bytes",
            )),
        };
        self.flush(out);
        if result.is_err() {
            self.stats.malformed += 1;
        }
        result
    }

    /// Datagrams of the exporter (or of every exporter, `None`) lost before
    /// they could be decoded (socket or queue drops), at `at`.
    pub fn lost_datagrams(
        &mut self,
        exporter: Option<IpAddr>,
        at: Timestamp,
        count: u64,
        out: &mut dyn FlowConsumer,
    ) {
        self.flush(out);
        match exporter {
            Some(e) => self.lose(e, at, count, out),
            None => {
                let all: Vec<InterfaceIndex> = self
                    .exporter_interfaces
                    .values()
                    .flatten()
                    .copied()
                    .collect();
                for interface in all {
                    out.loss(&LossEvent {
                        interface,
                        at,
                        count,
                    });
                }
            }
        }
    }

    /// The end of input: data sets still waiting for a template are lost.
    pub fn finish(&mut self, out: &mut dyn FlowConsumer) {
        let left = self.templates.drain_pending();
        self.lose_pending(left, out);
        self.flush(out);
    }

    fn flush(&mut self, out: &mut dyn FlowConsumer) {
        self.handoff.flush(out);
    }

    fn v5(
        &mut self,
        exporter: IpAddr,
        data: &[u8],
        out: &mut dyn FlowConsumer,
    ) -> Result<(), DecodeError> {
        let h = v5::header(data)?;
        self.stats.v5_messages += 1;
        let gap = self.sequences.check(
            exporter,
            5,
            h.engine,
            h.flow_sequence,
            Some(u32::from(h.count)),
            None,
        );
        self.gap(exporter, gap, h.clock.export_ns, out);
        for i in 0..usize::from(h.count) {
            let mut f = v5::record(data, i);
            if h.sampling > 1 {
                f.sampling = Some(h.sampling);
            }
            self.stats.records += 1;
            self.emit(exporter, None, DomainInfo::default(), &h.clock, &f, out);
        }
        Ok(())
    }

    fn template_based(
        &mut self,
        exporter: IpAddr,
        data: &[u8],
        dialect: Dialect,
        out: &mut dyn FlowConsumer,
    ) -> Result<(), DecodeError> {
        let h = sets::header(data, dialect)?;
        match dialect {
            Dialect::V9 => self.stats.v9_messages += 1,
            Dialect::Ipfix => self.stats.ipfix_messages += 1,
        }
        let scope = Scope::new(exporter, dialect.version(), h.domain);
        let expired = self.templates.expire(
            h.clock
                .export_ns
                .saturating_sub(self.options.template_wait_secs * 1_000_000_000),
        );
        self.lose_pending(expired, out);
        // IPFIX counts data records: known only when every data set had its
        // template.
        let mut data_records: Option<u32> = Some(0);
        let mut flow_records: Option<u32> = Some(0);
        let mut error = None;
        for set in sets::sets(data, &h) {
            let set = match set {
                Ok(s) => s,
                Err(e) => {
                    error = Some(e);
                    data_records = None;
                    break;
                }
            };
            if let Some(options) = sets::template_kind(dialect, set.id) {
                let mut defs = std::mem::take(&mut self.definitions);
                defs.clear();
                let r = sets::definitions(dialect, &set, options, &mut defs);
                for d in defs.drain(..) {
                    self.define(scope, options, d, out);
                }
                self.definitions = defs;
                if let Err(e) = r {
                    error = Some(e);
                    data_records = None;
                    break;
                }
                continue;
            }
            if set.id < 256 {
                // Reserved set ids are skipped by their length.
                continue;
            }
            match self.data_set(scope, set.id, &h.clock, set.body, set.at, out) {
                Ok(Some((n, options))) => {
                    data_records = data_records.map(|r| r.wrapping_add(n));
                    if !options {
                        flow_records = flow_records.map(|r| r.wrapping_add(n));
                    }
                }
                Ok(None) => {
                    data_records = None;
                    let evicted = self.templates.hold(Pending {
                        scope,
                        template: set.id,
                        clock: h.clock,
                        data: set.body.to_vec(),
                    });
                    self.stats.sets_held += 1;
                    self.lose_pending(evicted, out);
                }
                Err(e) => {
                    error = Some(e);
                    data_records = None;
                    break;
                }
            }
        }
        let (units, flow_units) = match dialect {
            Dialect::V9 => (Some(1), None),
            Dialect::Ipfix => (
                data_records,
                flow_records.filter(|_| data_records.is_some()),
            ),
        };
        let gap = self.sequences.check(
            exporter,
            dialect.version(),
            h.domain,
            h.sequence,
            units,
            flow_units,
        );
        self.gap(exporter, gap, h.clock.export_ns, out);
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Reads one data set: its record count and whether they were options
    /// records; `None` when its template is not known (yet).
    fn data_set(
        &mut self,
        scope: Scope,
        id: u16,
        clock: &Clock,
        body: &[u8],
        at: usize,
        out: &mut dyn FlowConsumer,
    ) -> Result<Option<(u32, bool)>, DecodeError> {
        let Some(template) = self.templates.get(scope, id).cloned() else {
            return Ok(None);
        };
        let exporter = scope.exporter;
        if self.domains.len() >= MAX_DOMAINS && !self.domains.contains_key(&scope) {
            self.domains.clear();
        }
        let n = if template.options {
            let info = self.domains.entry(scope).or_default();
            let n = sets::records(&template, body, at, |f| {
                if let Some(t) = f.system_init_ms {
                    info.system_init_ms = Some(t);
                }
                if let Some(rate) = f.sampling_rate() {
                    info.sampling = Some(rate);
                }
            })?;
            self.stats.options_records += u64::from(n);
            n
        } else {
            let info = self.domains.get(&scope).copied().unwrap_or_default();
            sets::records(&template, body, at, |f| {
                self.stats.records += 1;
                self.emit(exporter, Some(scope), info, clock, f, out);
            })?
        };
        Ok(Some((n, template.options)))
    }

    fn define(&mut self, scope: Scope, options: bool, d: Definition, out: &mut dyn FlowConsumer) {
        match d {
            Definition::Define(id, t) => {
                if self.templates.define(scope, id, t) {
                    self.stats.templates += 1;
                    for p in self.templates.take_pending(scope, id) {
                        match self.data_set(p.scope, p.template, &p.clock, &p.data, 0, out) {
                            Ok(_) => self.stats.sets_released += 1,
                            Err(e) => {
                                self.stats.sets_malformed += 1;
                                tracing::warn!(exporter = %scope.exporter, error = %e, "held data set");
                            }
                        }
                    }
                } else {
                    self.stats.templates_refused += 1;
                }
            }
            Definition::Withdraw(id) => {
                self.stats.withdrawals += 1;
                self.templates.withdraw(scope, Some(id), options);
            }
            Definition::WithdrawAll => {
                self.stats.withdrawals += 1;
                self.templates.withdraw(scope, None, options);
            }
        }
    }

    fn gap(&mut self, exporter: IpAddr, gap: Gap, at: Timestamp, out: &mut dyn FlowConsumer) {
        match gap {
            Gap::None => {}
            Gap::Reset => self.stats.sequence_resets += 1,
            Gap::Lost(n) => {
                self.stats.sequence_gaps += 1;
                self.stats.sequence_lost_units = self.stats.sequence_lost_units.saturating_add(n);
                tracing::warn!(%exporter, lost = n, "export sequence gap: messages were lost");
                self.flush(out);
                self.lose(exporter, at, n, out);
            }
        }
    }

    fn lose_pending(&mut self, lost: Vec<Pending>, out: &mut dyn FlowConsumer) {
        for p in lost {
            self.stats.sets_lost += 1;
            tracing::warn!(
                exporter = %p.scope.exporter,
                domain = p.scope.domain_id(),
                template = p.template,
                "data set lost: its template did not arrive in time"
            );
            self.flush(out);
            self.lose(p.scope.exporter, p.clock.export_ns, 1, out);
        }
    }

    fn lose(&mut self, exporter: IpAddr, at: Timestamp, count: u64, out: &mut dyn FlowConsumer) {
        if let Some(list) = self.exporter_interfaces.get(&exporter) {
            for &interface in list {
                out.loss(&LossEvent {
                    interface,
                    at,
                    count,
                });
            }
        } else {
            self.stats.losses_before_interfaces =
                self.stats.losses_before_interfaces.saturating_add(count);
        }
    }

    fn interface(
        &mut self,
        exporter: IpAddr,
        ifindex: u32,
        out: &mut dyn FlowConsumer,
    ) -> Option<InterfaceIndex> {
        if let Some((e, n, i)) = self.last_interface {
            if n == ifindex && e == exporter {
                return Some(i);
            }
        }
        if let Some(&i) = self.interfaces.get(&(exporter, ifindex)) {
            self.last_interface = Some((exporter, ifindex, i));
            return Some(i);
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            if self.stats.records_over_interface_limit == 0 {
                tracing::warn!(%exporter, limit = MAX_INTERFACES, "too many exporter interfaces: records of new ones are not counted");
            }
            self.stats.records_over_interface_limit += 1;
            return None;
        }
        let index = out.interface(&self.names.name(exporter, ifindex));
        self.interfaces.insert((exporter, ifindex), index);
        self.exporter_interfaces
            .entry(exporter)
            .or_default()
            .push(index);
        Some(index)
    }
}
