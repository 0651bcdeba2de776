//! One decoded record becomes one or two flow updates (see the module
//! documentation of [`netflow`](super) for the rules).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vpcflow_core::flow::FlowDirection;
use vpcflow_core::flow::NANOS_PER_SEC;
use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::{Action, FlowConsumer, FlowKey, FlowUpdate, InterfaceIndex};

use super::fields::{Counts, FlowFields, Time};
use super::templates::{Clock, Scope};
use super::{Decoder, DomainInfo, Sampling};

/// Cumulative counters per flow, for records that give totals only.
#[derive(Debug, Default)]
pub(super) struct Totals {
    last: HashMap<(Option<Scope>, u32, FlowKey), (u64, u64)>,
}

impl Totals {
    /// Flows whose totals are remembered at most; beyond, the memory is
    /// cleared (the next total of each flow then counts whole).
    const MAX: usize = 1 << 20;

    /// The (packets, bytes) since the previous totals of the same flow.
    fn delta(
        &mut self,
        key: (Option<Scope>, u32, FlowKey),
        packets: u64,
        bytes: u64,
    ) -> (u64, u64) {
        if self.last.len() >= Self::MAX && !self.last.contains_key(&key) {
            self.last.clear();
        }
        match self.last.insert(key, (packets, bytes)) {
            // A smaller total: the exporter started the flow again.
            Some((p, b)) if p <= packets && b <= bytes => (packets - p, bytes - b),
            _ => (packets, bytes),
        }
    }
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;

impl Decoder {
    /// Turns the fields of one flow record into updates (queued in the batch);
    /// `info` is what the options data of its domain said.
    pub(super) fn emit(
        &mut self,
        exporter: IpAddr,
        scope: Option<Scope>,
        info: DomainInfo,
        clock: &Clock,
        f: &FlowFields,
        out: &mut dyn FlowConsumer,
    ) {
        let (Some(src), Some(dst)) = (f.src, f.dst) else {
            self.stats.records_without_addresses += 1;
            return;
        };
        // Addresses of two families belong to no packet, unless one is the
        // other family's zero filling of a dual-family template (e.g. a
        // DHCP request from 0.0.0.0 in a template whose IPv6 fields come
        // first).
        let unspecified = |like: IpAddr| match like {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let (src, dst) = match (src, dst) {
            (s, d) if s.is_ipv4() == d.is_ipv4() => (s, d),
            (s, d) if s.is_unspecified() => (unspecified(d), d),
            (s, d) if d.is_unspecified() => (s, unspecified(s)),
            _ => {
                self.stats.records_without_addresses += 1;
                return;
            }
        };
        // flowDirection 0 is ingress, 1 egress; other values (and records
        // without the field) leave the direction to the interface's
        // addresses, on the ingress interface.
        let direction = match f.direction {
            Some(0) => Some(FlowDirection::Ingress),
            Some(1) => Some(FlowDirection::Egress),
            _ => None,
        };
        let ifindex = if direction == Some(FlowDirection::Egress) {
            f.egress.or(f.ingress)
        } else {
            f.ingress.or(f.egress)
        }
        .unwrap_or(0);
        let Some(interface) = self.interface(exporter, ifindex, out) else {
            return;
        };
        let rate = match self.options.sampling {
            Sampling::Raw => 1,
            Sampling::Scale => f.sampling_rate().or(info.sampling).unwrap_or(1).max(1),
        };
        let ported = matches!(f.protocol, TCP | UDP | SCTP);
        let (src_port, dst_port) = if ported {
            (f.src_port, f.dst_port)
        } else {
            (0, 0)
        };
        let key = FlowKey {
            src,
            dst,
            src_port,
            dst_port,
            protocol: f.protocol,
        };
        let action = if f.dropped {
            Action::Reject
        } else {
            Action::Accept
        };
        let record = Record {
            exporter,
            scope,
            ifindex,
            interface,
            action,
            rate,
            clock,
            info,
            fallback: &f.forward,
        };
        self.emit_direction(&record, key, &f.forward, direction, out);
        if f.reverse.present() {
            let reverse = FlowKey {
                src: dst,
                dst: src,
                src_port: dst_port,
                dst_port: src_port,
                protocol: f.protocol,
            };
            // The reverse packets cross the same interface the other way.
            let direction = direction.map(|d| match d {
                FlowDirection::Ingress => FlowDirection::Egress,
                FlowDirection::Egress => FlowDirection::Ingress,
            });
            self.emit_direction(&record, reverse, &f.reverse, direction, out);
        }
    }

    /// Queues the update of one direction of a record (both of a biflow are
    /// made one after the other, without building them first).
    #[inline(always)]
    fn emit_direction(
        &mut self,
        r: &Record<'_>,
        key: FlowKey,
        counts: &Counts,
        direction: Option<FlowDirection>,
        out: &mut dyn FlowConsumer,
    ) {
        let (packets, bytes) = match (counts.packets, counts.bytes) {
            (None, None) => {
                let (Some(p), Some(b)) = (counts.total_packets, counts.total_bytes) else {
                    self.stats.records_without_counts += 1;
                    return;
                };
                self.totals.delta((r.scope, r.ifindex, key), p, b)
            }
            (p, b) => (p.unwrap_or(0), b.unwrap_or(0)),
        };
        if packets == 0 && bytes == 0 {
            self.stats.records_without_counts += 1;
            return;
        }
        let start = r
            .resolve(counts.start)
            .or_else(|| r.resolve(r.fallback.start));
        let end = r.resolve(counts.end).or_else(|| r.resolve(r.fallback.end));
        let (first, last) = match (start, end) {
            (Some(s), Some(e)) => (s.min(e), e.max(s)),
            (Some(t), None) | (None, Some(t)) => (t, t),
            (None, None) => {
                self.stats.records_without_time += 1;
                (r.clock.export_ns, r.clock.export_ns)
            }
        };
        if last - first > self.options.interval_secs * NANOS_PER_SEC
            && self.warned_long.insert(r.exporter)
        {
            tracing::warn!(
                exporter = %r.exporter,
                seconds = (last - first) / NANOS_PER_SEC,
                interval = self.options.interval_secs,
                "the exporter's flow records last longer than the aggregation interval: each is counted in the window of its end; set its active timeout below the interval"
            );
        }
        if r.rate > 1 {
            self.stats.sampled_records += 1;
        }
        let tcp_flags = if key.protocol == TCP {
            TcpFlags(counts.tcp_flags & 0x07)
        } else {
            TcpFlags::NONE
        };
        let update = FlowUpdate {
            interface: r.interface,
            key,
            packet_addrs: None,
            packets: packets.saturating_mul(r.rate),
            bytes: bytes.saturating_mul(r.rate),
            first,
            last,
            tcp_flags,
            action: r.action,
            direction,
        };
        self.handoff.push(update, out);
    }
}

/// What the directions of one record share.
struct Record<'a> {
    exporter: IpAddr,
    scope: Option<Scope>,
    ifindex: u32,
    interface: InterfaceIndex,
    action: Action,
    rate: u64,
    clock: &'a Clock,
    info: DomainInfo,
    /// The forward counts, whose times stand in for missing reverse ones.
    fallback: &'a Counts,
}

impl Record<'_> {
    /// A time of the record in Unix nanoseconds, by the header's clock (or
    /// the domain's `systemInitTimeMilliseconds`).
    #[inline(always)]
    fn resolve(&self, t: Time) -> Option<u64> {
        let clock = self.clock;
        match t {
            Time::None => None,
            Time::Absolute(ns) => Some(ns),
            Time::Uptime(ms) => match clock.uptime_ms {
                Some(now) => Some(
                    clock
                        .export_ns
                        .saturating_sub(u64::from(now.wrapping_sub(ms)) * 1_000_000),
                ),
                None => self
                    .info
                    .system_init_ms
                    .map(|init| (init + u64::from(ms)) * 1_000_000),
            },
            Time::BeforeExport(us) => Some(clock.export_ns.saturating_sub(u64::from(us) * 1_000)),
        }
    }
}
