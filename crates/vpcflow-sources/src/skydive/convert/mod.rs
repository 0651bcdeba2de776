//! Skydive flows to [`FlowUpdate`]s, exactly: deltas only, IP-layer bytes,
//! one update per direction.
//!
//! See the [module documentation](super) for the rules.

mod fields;
mod options;
mod restart;
mod state;
mod table;

use std::collections::HashMap;

use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::{
    Action, FlowConsumer, FlowKey, FlowUpdate, InterfaceIndex, LossEvent, PacketAddrs,
};

use super::message::{Flow, Payload, Stats};
use super::reject::{Decider, RejectStats};
use fields::{addresses, ms_to_ns, MAX_MS};
pub use fields::{link_overhead, protocol_number, tcp_flags};
pub use options::{ConverterOptions, ConverterStats};
use state::{flow_id, IdMap, NETWORK, SEEN};
pub use state::{MAX_DELTA_BYTES, MAX_DELTA_PACKETS};
use table::StateTable;

/// Turns Skydive messages into [`FlowUpdate`]s and [`LossEvent`]s. One converter
/// holds the per-UUID state of every analyzer subscribed to, so that deltas are
/// counted once across reconnects and analyzers.
pub struct Converter {
    options: ConverterOptions,
    states: StateTable,
    /// Updates of inner flows waiting for their parent, by parent id.
    pending: IdMap<Vec<(i64, bool, FlowUpdate)>>,
    /// Interfaces by NodeTID, with the capture id they were last seen under.
    interfaces: HashMap<String, (InterfaceIndex, String)>,
    /// Interfaces seen per capture id (for drop statistics).
    capture_interfaces: HashMap<String, Vec<InterfaceIndex>>,
    /// Newest event time (ms).
    now_ms: i64,
    last_sweep_ms: i64,
    out: Vec<FlowUpdate>,
    stats: ConverterStats,
    decider: Option<Decider>,
}

impl Converter {
    /// A converter with no state.
    pub fn new(options: ConverterOptions) -> Converter {
        Converter {
            options: options.clone(),
            states: StateTable::default(),
            pending: IdMap::default(),
            interfaces: HashMap::new(),
            capture_interfaces: HashMap::new(),
            now_ms: 0,
            last_sweep_ms: 0,
            out: Vec::new(),
            stats: ConverterStats::default(),
            decider: options.two_point.clone().map(Decider::new),
        }
    }

    /// What was seen and done so far.
    pub fn stats(&self) -> &ConverterStats {
        &self.stats
    }

    /// What the two-point REJECT decision did (when configured).
    pub fn reject_stats(&self) -> Option<RejectStats> {
        self.decider.as_ref().map(|d| d.stats)
    }

    /// Number of flow UUIDs currently tracked.
    pub fn tracked_flows(&self) -> usize {
        self.states.len()
    }

    /// Newest event time seen (Unix ms, 0 before any flow).
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Handles one decoded message.
    pub fn payload(&mut self, payload: &Payload, consumer: &mut dyn FlowConsumer) {
        match payload {
            Payload::Flows {
                flows, over_cap, ..
            } => {
                self.flows(flows, consumer);
                self.flows_over_cap(*over_cap, None, consumer);
            }
            Payload::Stats(s) => self.capture_stats(s, None, consumer),
            Payload::Other(_) => self.stats.other_messages += 1,
        }
    }

    /// Flows of a message beyond [`MAX_FLOWS_PER_MESSAGE`](crate::skydive::message::MAX_FLOWS_PER_MESSAGE),
    /// skipped undecoded: counted, and the window of `at_ms` (default: the
    /// newest event time) becomes SKIPDATA for every interface seen so far,
    /// since any of them may have lost traffic.
    pub fn flows_over_cap(
        &mut self,
        count: u64,
        at_ms: Option<i64>,
        consumer: &mut dyn FlowConsumer,
    ) {
        if count == 0 {
            return;
        }
        self.stats.flows_over_cap = self.stats.flows_over_cap.saturating_add(count);
        let at = at_ms.unwrap_or(self.now_ms);
        if at <= 0 || self.interfaces.is_empty() {
            return;
        }
        let mut interfaces: Vec<InterfaceIndex> = self.interfaces.values().map(|v| v.0).collect();
        interfaces.sort_unstable();
        for interface in interfaces {
            consumer.loss(&LossEvent {
                interface,
                at: ms_to_ns(at),
                count,
            });
        }
    }

    /// Handles the flows of one message (an analyzer sends at most 100 at once).
    pub fn flows(&mut self, flows: &[Flow], consumer: &mut dyn FlowConsumer) {
        self.stats.flow_messages += 1;
        self.stats.flows = self.stats.flows.saturating_add(flows.len() as u64);
        // Pass 1: what every flow of the message is (so a child knows its parent
        // even when the parent comes later in the same message) and the inner
        // addresses of tunnels.
        for f in flows {
            let id = flow_id(&f.uuid);
            let seen = [
                f.last,
                f.metric.map_or(0, |m| m.last),
                f.last_update_metric.map_or(0, |m| m.last),
            ]
            .into_iter()
            .max()
            .unwrap_or(0);
            self.now_ms = self.now_ms.max(seen);
            let st = self.states.get_or_default(id);
            st.last_seen = st.last_seen.max(seen);
            st.bits |= SEEN;
            if f.network.is_some() {
                st.bits |= NETWORK;
            }
            if f.parent_uuid.is_empty() {
                continue;
            }
            let Some(addrs) = addresses(f) else { continue };
            let inner = self.states.inner(id).unwrap_or(addrs);
            let pid = flow_id(&f.parent_uuid);
            let parent = self.states.get_or_default(pid);
            parent.last_seen = parent.last_seen.max(seen);
            self.states.set_inner(pid, inner);
        }
        // Pass 2: count.
        for f in flows {
            self.flow(f, consumer);
        }
        if !self.pending.is_empty() {
            for f in flows {
                let id = flow_id(&f.uuid);
                if let Some(children) = self.pending.remove(&id) {
                    let network = self.states.get(id).is_some_and(|s| s.bits & NETWORK != 0);
                    if network {
                        self.stats.tunnel_inner_flows +=
                            children.iter().filter(|c| c.1).count() as u64;
                    } else {
                        self.out.extend(children.into_iter().map(|(_, _, u)| u));
                    }
                }
            }
        }
        if let Some(d) = &mut self.decider {
            d.decide(self.now_ms, false, &mut self.out);
        }
        self.emit(consumer);
        self.maybe_sweep();
    }

    fn emit(&mut self, consumer: &mut dyn FlowConsumer) {
        if self.out.is_empty() {
            return;
        }
        for u in &self.out {
            self.stats.updates += 1;
            self.stats.packets = self.stats.packets.saturating_add(u.packets);
            self.stats.bytes = self.stats.bytes.saturating_add(u.bytes);
        }
        consumer.update_batch(&self.out);
        self.out.clear();
    }

    fn interface(&mut self, f: &Flow, consumer: &mut dyn FlowConsumer) -> InterfaceIndex {
        let name = if f.node_tid.is_empty() {
            "skydive-unknown-node"
        } else {
            &f.node_tid
        };
        let i = match self.interfaces.get_mut(name) {
            // The usual case: a known interface, seen under the same capture.
            Some((i, capture)) if *capture == f.capture_id => return *i,
            Some((i, capture)) => {
                capture.clear();
                capture.push_str(&f.capture_id);
                *i
            }
            None => {
                let i = consumer.interface(name);
                self.interfaces
                    .insert(name.to_string(), (i, f.capture_id.to_string()));
                i
            }
        };
        let list = self
            .capture_interfaces
            .entry(f.capture_id.to_string())
            .or_default();
        if !list.contains(&i) {
            list.push(i);
        }
        i
    }

    fn flow(&mut self, f: &Flow, consumer: &mut dyn FlowConsumer) {
        if !self.options.capture_ids.is_empty()
            && !self.options.capture_ids.iter().any(|c| *c == f.capture_id)
        {
            self.stats.filtered_flows += 1;
            return;
        }
        if f.network.is_none() {
            self.stats.non_ip_flows += 1;
            return;
        }
        let Some(addrs) = addresses(f) else {
            self.stats.bad_addresses += 1;
            return;
        };
        let id = flow_id(&f.uuid);
        let st = self.states.get_mut(id).expect("state made in pass 1");
        let Some(delta) = st.delta(f, &mut self.stats) else {
            return;
        };
        // Times a record cannot carry (before 1970, after 2554): rejected,
        // not clamped into a wrong window.
        if !(0..=MAX_MS).contains(&delta.first_ms) || !(0..=MAX_MS).contains(&delta.last_ms) {
            self.stats.bad_times += 1;
            return;
        }
        // A tunnel's inner flow counts only when its parent has no Network layer
        // (IP over MPLS: the parent is `Ethernet/MPLS`).
        let mut wait_for_parent = None;
        if !f.parent_uuid.is_empty() {
            let pid = flow_id(&f.parent_uuid);
            match self.states.get(pid).map(|s| s.bits) {
                Some(bits) if bits & SEEN != 0 && bits & NETWORK != 0 => {
                    self.stats.tunnel_inner_flows += 1;
                    return;
                }
                Some(bits) if bits & SEEN != 0 => {}
                _ => wait_for_parent = Some(pid),
            }
        }
        let protocol = protocol_number(f, addrs.src);
        if protocol.is_none() {
            self.stats.unknown_protocol += 1;
        }
        let protocol = protocol.unwrap_or(0);
        let (a_port, b_port) = match (protocol, &f.transport) {
            (6 | 17 | 132, Some(t)) => (t.a, t.b),
            _ => (0, 0),
        };
        let (overhead, ipv6_fix) = link_overhead(&f.layers_path, addrs.src.is_ipv6());
        let interface = self.interface(f, consumer);
        let inner = self.states.inner(id);
        let st = self.states.get_mut(id).expect("state made in pass 1");
        let flags = if protocol == 6 {
            f.tcp_metric.map(|t| tcp_flags(&t)).unwrap_or([0, 0])
        } else {
            [0, 0]
        };
        let first = ms_to_ns(delta.first_ms);
        let last = ms_to_ns(delta.last_ms);
        let ip_bytes = |packets: u64, bytes: u64| {
            let per_packet = ipv6_fix as i128 - overhead as i128;
            (bytes as i128 + per_packet * packets as i128).max(0) as u64
        };
        let mut updates = [None, None];
        for (dir, (packets, bytes)) in [
            (delta.ab_packets, delta.ab_bytes),
            (delta.ba_packets, delta.ba_bytes),
        ]
        .into_iter()
        .enumerate()
        {
            if packets == 0 {
                continue;
            }
            let new_flags = flags[dir] & !st.flags_done[dir];
            st.flags_done[dir] |= new_flags;
            let (src, dst, sp, dp) = if dir == 0 {
                (addrs.src, addrs.dst, a_port, b_port)
            } else {
                (addrs.dst, addrs.src, b_port, a_port)
            };
            updates[dir] = Some(FlowUpdate {
                interface,
                key: FlowKey {
                    src,
                    dst,
                    src_port: sp,
                    dst_port: dp,
                    protocol,
                },
                packet_addrs: inner.map(|i| {
                    if dir == 0 {
                        i
                    } else {
                        PacketAddrs {
                            src: i.dst,
                            dst: i.src,
                        }
                    }
                }),
                packets,
                bytes: ip_bytes(packets, bytes),
                first,
                last,
                tcp_flags: TcpFlags(new_flags),
                action: Action::Accept,
                direction: None,
            });
        }
        let point = match &self.decider {
            Some(d) if f.node_tid == d.config.outside => Some(true),
            Some(d) if f.node_tid == d.config.inside => Some(false),
            _ => None,
        };
        if point == Some(true) && f.l3_tracking_id.is_empty() {
            if let Some(d) = &mut self.decider {
                d.stats.untracked_flows += 1;
            }
        }
        for (n, u) in updates.into_iter().flatten().enumerate() {
            if let (Some(d), Some(outside)) = (&mut self.decider, point) {
                if !f.l3_tracking_id.is_empty() {
                    if outside {
                        d.outside(&f.l3_tracking_id, &u, self.now_ms);
                        continue;
                    }
                    d.inside(&f.l3_tracking_id, &u, self.now_ms);
                }
            }
            match wait_for_parent {
                None => self.out.push(u),
                Some(pid) => self
                    .pending
                    .entry(pid)
                    .or_default()
                    .push((delta.last_ms, n == 0, u)),
            }
        }
    }

    /// Handles capture statistics. Skydive's agents send, per capture and
    /// statistics period, the drops *of that period*: the flow table adds up
    /// what its probes report and resets its counters after every send. So
    /// every message's `PacketsDropped + FlowDropped + KernelFlowDropped` is
    /// new loss: a [`LossEvent`] for every interface the capture's flows were
    /// seen on, at `at_ms` (default: the newest event time). Negative values
    /// count as 0; the sum saturates.
    pub fn capture_stats(
        &mut self,
        s: &Stats,
        at_ms: Option<i64>,
        consumer: &mut dyn FlowConsumer,
    ) {
        self.stats.stats_messages += 1;
        let new = [s.packets_dropped, s.flow_dropped, s.kernel_flow_dropped]
            .into_iter()
            .fold(0u64, |sum, v| sum.saturating_add(v.max(0) as u64));
        if new == 0 {
            return;
        }
        self.stats.dropped_units = self.stats.dropped_units.saturating_add(new);
        let at = at_ms.unwrap_or(self.now_ms);
        match self.capture_interfaces.get(&s.capture_id) {
            Some(list) if at > 0 => {
                for &interface in list {
                    consumer.loss(&LossEvent {
                        interface,
                        at: ms_to_ns(at),
                        count: new,
                    });
                }
            }
            _ => self.stats.unattributed_drops = self.stats.unattributed_drops.saturating_add(new),
        }
    }

    /// The interface of a NodeTID, once flows of it have been counted.
    pub fn interface_of(&self, node_tid: &str) -> Option<InterfaceIndex> {
        let name = if node_tid.is_empty() {
            "skydive-unknown-node"
        } else {
            node_tid
        };
        self.interfaces.get(name).map(|v| v.0)
    }

    /// Interfaces seen so far with their names (NodeTIDs).
    pub fn interfaces(&self) -> impl Iterator<Item = (&str, InterfaceIndex)> {
        self.interfaces.iter().map(|(k, v)| (k.as_str(), v.0))
    }

    /// End of input: inner flows still waiting for a parent are dropped.
    pub fn finish(&mut self, consumer: &mut dyn FlowConsumer) {
        for (_, children) in self.pending.drain() {
            self.stats.orphan_flows += children.iter().filter(|c| c.1).count() as u64;
        }
        if let Some(d) = &mut self.decider {
            d.decide(self.now_ms, true, &mut self.out);
        }
        self.emit(consumer);
    }

    fn maybe_sweep(&mut self) {
        let ttl_ms = secs_to_ms(self.options.state_ttl_secs);
        let due = self.now_ms.saturating_sub(self.last_sweep_ms) >= (ttl_ms / 8).max(1000);
        if due {
            self.last_sweep_ms = self.now_ms;
            let horizon = self.now_ms.saturating_sub(ttl_ms);
            let expired = self.states.retain(|s| s.last_seen >= horizon);
            if let Some(d) = &mut self.decider {
                d.expire(horizon);
            }
            self.stats.expired_states += expired as u64;
            let oldest = self
                .now_ms
                .saturating_sub(secs_to_ms(self.options.orphan_wait_secs));
            let mut orphans = 0;
            self.pending.retain(|_, children| {
                let keep = children.iter().any(|c| c.0 >= oldest);
                if !keep {
                    orphans += children.iter().filter(|c| c.1).count() as u64;
                }
                keep
            });
            self.stats.orphan_flows += orphans;
        }
        if self.states.len() > self.options.max_tracked_flows {
            // Forget the least recently seen quarter of the cap.
            let mut seen: Vec<i64> = self.states.iter().map(|(_, s, _)| s.last_seen).collect();
            let excess = self.states.len() - self.options.max_tracked_flows * 3 / 4;
            let nth = excess.min(seen.len() - 1);
            let (_, &mut cut, _) = seen.select_nth_unstable(nth);
            let evicted = self.states.retain(|s| s.last_seen > cut);
            self.stats.evicted_states += evicted as u64;
        }
    }
}

/// Seconds as milliseconds, saturating (a setting of any size is a horizon
/// beyond every event time, never a wrapped negative one).
fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}
