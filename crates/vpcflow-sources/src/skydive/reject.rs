//! REJECT from two capture points around a firewall.
//!
//! Two NodeTIDs are configured: `outside` (before the firewall) and `inside`
//! (after it). A conversation is the same at both points when its flows have
//! the same `L3TrackingID`. Per conversation and direction (by source address),
//! the cumulative packets and bytes seen at each point are kept:
//!
//! * what was seen on both sides is **ACCEPT**, with the smaller of the two
//!   measurements (packets and bytes separately), written on the outside
//!   interface as soon as both sides have reported it;
//! * what was seen only outside for longer than `timeout_secs` of event time
//!   (the newest flow time seen) is **REJECT**. A flow blocked mid-stream thus
//!   gets ACCEPT records for what passed and REJECT records for the rest.
//!
//! The inside interface's records are written as usual (ACCEPT: the traffic
//! passed). Decisions use event time only, never the arrival of messages.
//!
//! Caveats: NAT between the two points changes the addresses and so the
//! `L3TrackingID`: such conversations never match and are written as REJECT
//! after the timeout; do not use this across NAT. Packets the inside capture
//! missed (capture loss) look blocked: the difference is written as REJECT
//! (capture statistics still mark the window SKIPDATA when they report the
//! loss). At the end of input, an outside excess younger than the timeout is
//! undecided; it is written as ACCEPT and counted.

use std::collections::HashMap;
use std::net::IpAddr;

use vpcflow_core::tcp_flags::TcpFlags;
use vpcflow_core::{Action, FlowKey, FlowUpdate, InterfaceIndex};

use super::snapshot::{ConversationEntry, DirectionEntry, SideEntry, TemplateEntry};

/// The two capture points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoPoint {
    /// NodeTID before the firewall.
    pub outside: String,
    /// NodeTID after the firewall.
    pub inside: String,
    /// Seconds of event time after which traffic seen only outside is REJECT.
    pub timeout_secs: u64,
}

/// What the two-point decision did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectStats {
    /// Packets written as ACCEPT on the outside interface.
    pub accepted_packets: u64,
    /// Packets written as REJECT.
    pub rejected_packets: u64,
    /// Packets undecided at the end of input (written as ACCEPT).
    pub undecided_packets: u64,
    /// Outside flows without an L3TrackingID (written as ACCEPT).
    pub untracked_flows: u64,
}

#[derive(Default)]
struct Side {
    src: Option<IpAddr>,
    packets: u64,
    bytes: u64,
}

#[derive(Default)]
struct Direction {
    /// The outside update this direction is written as (key, interface).
    template: Option<FlowUpdate>,
    outside: Side,
    /// Packets and bytes already written (ACCEPT or REJECT).
    decided_packets: u64,
    decided_bytes: u64,
    /// Times (ns) and flags of the outside traffic not written yet.
    first: u64,
    last: u64,
    flags: u8,
}

#[derive(Default)]
struct Conversation {
    dirs: [Direction; 2],
    inside: [Side; 2],
    last_seen_ms: i64,
}

/// The state of the two-point decision.
pub(super) struct Decider {
    pub(super) config: TwoPoint,
    conversations: HashMap<String, Conversation>,
    pub(super) stats: RejectStats,
}

fn slot_for(sides: &mut [Side; 2], src: IpAddr) -> &mut Side {
    let i = match sides.iter().position(|s| s.src == Some(src)) {
        Some(i) => i,
        None => sides.iter().position(|s| s.src.is_none()).unwrap_or(0),
    };
    sides[i].src = Some(src);
    &mut sides[i]
}

impl Decider {
    pub(super) fn new(config: TwoPoint) -> Decider {
        Decider {
            config,
            conversations: HashMap::new(),
            stats: RejectStats::default(),
        }
    }

    /// An update of the outside capture point.
    pub(super) fn outside(&mut self, tracking: &str, u: &FlowUpdate, now_ms: i64) {
        let c = self.conversations.entry(tracking.to_string()).or_default();
        c.last_seen_ms = c.last_seen_ms.max(now_ms);
        let i = match c.dirs.iter().position(|d| d.outside.src == Some(u.key.src)) {
            Some(i) => i,
            None => c
                .dirs
                .iter()
                .position(|d| d.outside.src.is_none())
                .unwrap_or(0),
        };
        let d = &mut c.dirs[i];
        d.outside.src = Some(u.key.src);
        if d.outside.packets == d.decided_packets {
            d.first = u.first;
            d.flags = 0;
        }
        d.outside.packets += u.packets;
        d.outside.bytes += u.bytes;
        d.first = d.first.min(u.first);
        d.last = d.last.max(u.last);
        d.flags |= u.tcp_flags.value();
        d.template = Some(*u);
    }

    /// An update of the inside capture point.
    pub(super) fn inside(&mut self, tracking: &str, u: &FlowUpdate, now_ms: i64) {
        let c = self.conversations.entry(tracking.to_string()).or_default();
        c.last_seen_ms = c.last_seen_ms.max(now_ms);
        let s = slot_for(&mut c.inside, u.key.src);
        s.packets += u.packets;
        s.bytes += u.bytes;
    }

    /// Writes what can be decided at event time `now_ms` into `out`; with
    /// `end`, everything (end of input).
    pub(super) fn decide(&mut self, now_ms: i64, end: bool, out: &mut Vec<FlowUpdate>) {
        let timeout_ns = self.config.timeout_secs * 1_000_000_000;
        let now_ns = (now_ms.max(0) as u64) * 1_000_000;
        for c in self.conversations.values_mut() {
            for d in c.dirs.iter_mut() {
                let Some(template) = d.template else { continue };
                let src = template.key.src;
                let inside = c
                    .inside
                    .iter()
                    .find(|s| s.src == Some(src))
                    .map_or((0, 0), |s| (s.packets, s.bytes));
                let both_p = d.outside.packets.min(inside.0);
                let both_b = d.outside.bytes.min(inside.1);
                let mut emit = |d: &mut Direction, p: u64, b: u64, action: Action| {
                    out.push(FlowUpdate {
                        packets: p,
                        bytes: b,
                        first: d.first,
                        last: d.last,
                        tcp_flags: TcpFlags(d.flags),
                        action,
                        ..template
                    });
                    d.decided_packets += p;
                    d.decided_bytes += b;
                    d.flags = 0;
                    d.first = d.last;
                };
                if both_p > d.decided_packets {
                    let p = both_p - d.decided_packets;
                    let b = both_b.saturating_sub(d.decided_bytes);
                    self.stats.accepted_packets += p;
                    emit(d, p, b, Action::Accept);
                }
                let excess = d.outside.packets - d.decided_packets;
                if excess == 0 {
                    continue;
                }
                let bytes = d.outside.bytes.saturating_sub(d.decided_bytes);
                if now_ns.saturating_sub(d.first) > timeout_ns {
                    self.stats.rejected_packets += excess;
                    emit(d, excess, bytes, Action::Reject);
                } else if end {
                    self.stats.undecided_packets += excess;
                    emit(d, excess, bytes, Action::Accept);
                }
            }
        }
    }

    /// Forgets conversations silent since before `horizon_ms` with nothing
    /// left to decide.
    pub(super) fn expire(&mut self, horizon_ms: i64) {
        self.conversations.retain(|_, c| {
            c.last_seen_ms >= horizon_ms
                || c.dirs.iter().any(|d| d.outside.packets > d.decided_packets)
        });
    }
}

impl Side {
    fn entry(&self) -> SideEntry {
        SideEntry {
            src: self.src,
            packets: self.packets,
            bytes: self.bytes,
        }
    }

    fn of(e: &SideEntry) -> Side {
        Side {
            src: e.src,
            packets: e.packets,
            bytes: e.bytes,
        }
    }
}

impl Decider {
    /// The conversations, with interfaces named by `name_of`. A direction
    /// whose interface has no name cannot be written after a restart: what
    /// it has not decided yet is left out.
    pub(super) fn export(
        &self,
        name_of: &dyn Fn(InterfaceIndex) -> Option<String>,
    ) -> Vec<ConversationEntry> {
        let direction = |d: &Direction| {
            let template = d.template.and_then(|t| {
                Some(TemplateEntry {
                    interface: name_of(t.interface)?,
                    src: t.key.src,
                    dst: t.key.dst,
                    src_port: t.key.src_port,
                    dst_port: t.key.dst_port,
                    protocol: t.key.protocol,
                    packet_addrs: t.packet_addrs,
                })
            });
            let (decided_packets, decided_bytes) = match template {
                Some(_) => (d.decided_packets, d.decided_bytes),
                None => (d.outside.packets, d.outside.bytes),
            };
            DirectionEntry {
                template,
                outside: d.outside.entry(),
                decided_packets,
                decided_bytes,
                first: d.first,
                last: d.last,
                flags: d.flags,
            }
        };
        let mut out: Vec<ConversationEntry> = self
            .conversations
            .iter()
            .map(|(tracking, c)| ConversationEntry {
                tracking: tracking.clone(),
                last_seen_ms: c.last_seen_ms,
                dirs: [direction(&c.dirs[0]), direction(&c.dirs[1])],
                inside: [c.inside[0].entry(), c.inside[1].entry()],
            })
            .collect();
        out.sort_by(|a, b| a.tracking.cmp(&b.tracking));
        out
    }

    /// Takes over exported conversations, resolving interface names with
    /// `index_of`; a conversation already known is kept as it is.
    pub(super) fn import(
        &mut self,
        entries: Vec<ConversationEntry>,
        index_of: &mut dyn FnMut(&str) -> InterfaceIndex,
    ) {
        for e in entries {
            let mut direction = |d: &DirectionEntry| Direction {
                template: d.template.as_ref().map(|t| FlowUpdate {
                    interface: index_of(&t.interface),
                    key: FlowKey {
                        src: t.src,
                        dst: t.dst,
                        src_port: t.src_port,
                        dst_port: t.dst_port,
                        protocol: t.protocol,
                    },
                    packet_addrs: t.packet_addrs,
                    packets: 0,
                    bytes: 0,
                    first: d.first,
                    last: d.last,
                    tcp_flags: TcpFlags(0),
                    action: Action::Accept,
                    direction: None,
                }),
                outside: Side::of(&d.outside),
                decided_packets: d.decided_packets.min(d.outside.packets),
                decided_bytes: d.decided_bytes.min(d.outside.bytes),
                first: d.first,
                last: d.last,
                flags: d.flags,
            };
            let conversation = Conversation {
                dirs: [direction(&e.dirs[0]), direction(&e.dirs[1])],
                inside: [Side::of(&e.inside[0]), Side::of(&e.inside[1])],
                last_seen_ms: e.last_seen_ms,
            };
            self.conversations.entry(e.tracking).or_insert(conversation);
        }
    }
}
