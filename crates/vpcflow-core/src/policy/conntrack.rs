//! Connection tracking for security groups: a bounded table of connections
//! the policy allowed, so that their responses (and further packets) pass.
//!
//! Idle timeouts follow AWS's documented defaults for tracked connections:
//! TCP established 432,000 s (5 days), UDP 30 s until a response is seen and
//! 180 s after that (a UDP "stream"); other protocols (ICMP, …) 30 s, like a
//! UDP flow. A TCP connection that sent a FIN or RST is kept 10 s more (late
//! retransmissions and the last ACK) and then forgotten, so packets that
//! arrive after the connection closed are evaluated as new traffic.
//!
//! The table holds at most `capacity` connections. When it is full and a new
//! connection must be tracked, the expired entries are dropped; if that frees
//! less than an eighth of the table, the eighth idle the longest is dropped
//! as well (their later packets are evaluated as new traffic). Each sweep is
//! linear in the table size but buys room for at least `capacity / 8`
//! insertions, so the cost per packet stays constant.

use std::collections::HashMap;

use crate::flow::{FlowKey, InterfaceIndex, Timestamp, NANOS_PER_SEC};
use crate::tcp_flags::TcpFlags;
use crate::values::FlowDirection;

/// Idle timeout of an established TCP connection.
pub const TCP_ESTABLISHED_TIMEOUT_SECS: u64 = 432_000;
/// Idle timeout of a TCP connection after its FIN or RST.
pub const TCP_CLOSING_TIMEOUT_SECS: u64 = 10;
/// Idle timeout of a UDP flow without a response yet, and of other protocols.
pub const UDP_TIMEOUT_SECS: u64 = 30;
/// Idle timeout of a UDP flow that has seen a response.
pub const UDP_STREAM_TIMEOUT_SECS: u64 = 180;
/// Default bound on tracked connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 262_144;

const TCP: u8 = 6;
const UDP: u8 = 17;
/// The FIN and RST bits of [`TcpFlags`].
const FIN_OR_RST: u8 = 0x01 | 0x04;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConnKey {
    interface: u32,
    /// The orientation of the packet that opened the connection.
    key: FlowKey,
}

#[derive(Debug, Clone, Copy)]
struct Conn {
    last: Timestamp,
    expires: Timestamp,
    /// Direction of the packet that opened the connection.
    opened: FlowDirection,
    replied: bool,
    closing: bool,
}

/// A tracked connection a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// Direction of the packet that opened the connection, relative to the
    /// interface.
    pub opened: FlowDirection,
}

/// The table of tracked connections.
#[derive(Debug)]
pub struct ConnTable {
    map: HashMap<ConnKey, Conn, foldhash::fast::RandomState>,
    capacity: usize,
    evicted: u64,
}

#[inline(always)]
fn reversed(k: &FlowKey) -> FlowKey {
    FlowKey {
        src: k.dst,
        dst: k.src,
        src_port: k.dst_port,
        dst_port: k.src_port,
        protocol: k.protocol,
    }
}

impl Conn {
    fn timeout_secs(&self, protocol: u8) -> u64 {
        match protocol {
            TCP if self.closing => TCP_CLOSING_TIMEOUT_SECS,
            TCP => TCP_ESTABLISHED_TIMEOUT_SECS,
            UDP if self.replied => UDP_STREAM_TIMEOUT_SECS,
            _ => UDP_TIMEOUT_SECS,
        }
    }

    fn touch(&mut self, protocol: u8, now: Timestamp, reply: bool, flags: TcpFlags) {
        self.last = self.last.max(now);
        self.replied |= reply;
        self.closing |= flags.value() & FIN_OR_RST != 0;
        self.expires = self.last + self.timeout_secs(protocol) * NANOS_PER_SEC;
    }
}

impl ConnTable {
    /// An empty table holding at most `capacity` connections (at least 8).
    pub fn new(capacity: usize) -> ConnTable {
        ConnTable {
            map: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            capacity: capacity.max(8),
            evicted: 0,
        }
    }

    /// The bound on tracked connections.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Connections tracked now (expired ones may still be counted until a
    /// sweep drops them).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Live connections dropped early because the table was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The live connection a packet with `key` on `interface` belongs to at
    /// `now`, in either orientation; `reply` tells whether the packet goes
    /// the opposite way of the one that opened it.
    #[inline]
    pub fn find(
        &self,
        interface: InterfaceIndex,
        key: &FlowKey,
        now: Timestamp,
    ) -> Option<(Tracked, bool)> {
        for (k, reply) in [(*key, false), (reversed(key), true)] {
            let ck = ConnKey {
                interface: interface.0,
                key: k,
            };
            if let Some(c) = self.map.get(&ck) {
                if c.expires >= now {
                    return Some((Tracked { opened: c.opened }, reply));
                }
            }
        }
        None
    }

    /// Records an accepted packet: refreshes its connection (found by
    /// [`find`](Self::find) with `reply`), or opens one in `direction` when
    /// `existing` is `None`.
    #[inline]
    pub fn record(
        &mut self,
        interface: InterfaceIndex,
        key: &FlowKey,
        now: Timestamp,
        flags: TcpFlags,
        existing: Option<bool>,
        direction: FlowDirection,
    ) {
        match existing {
            Some(reply) => {
                let k = if reply { reversed(key) } else { *key };
                let ck = ConnKey {
                    interface: interface.0,
                    key: k,
                };
                if let Some(c) = self.map.get_mut(&ck) {
                    c.touch(key.protocol, now, reply, flags);
                }
            }
            None => {
                let ck = ConnKey {
                    interface: interface.0,
                    key: *key,
                };
                // An expired reverse entry would shadow nothing but keeps memory.
                self.map.remove(&ConnKey {
                    interface: interface.0,
                    key: reversed(key),
                });
                if self.map.len() >= self.capacity && !self.map.contains_key(&ck) {
                    self.make_room(now);
                }
                let mut c = Conn {
                    last: now,
                    expires: now,
                    opened: direction,
                    replied: false,
                    closing: false,
                };
                c.touch(key.protocol, now, false, flags);
                self.map.insert(ck, c);
            }
        }
    }

    /// Drops expired connections, then the longest idle ones until an
    /// eighth of the table is free.
    fn make_room(&mut self, now: Timestamp) {
        self.map.retain(|_, c| c.expires >= now);
        let target = self.capacity - self.capacity / 8;
        if self.map.len() > target {
            let excess = self.map.len() - target;
            let mut lasts: Vec<Timestamp> = self.map.values().map(|c| c.last).collect();
            let (_, cut, _) = lasts.select_nth_unstable(excess - 1);
            let cut = *cut;
            let mut dropped = 0usize;
            self.map.retain(|_, c| {
                if dropped < excess && c.last <= cut {
                    dropped += 1;
                    false
                } else {
                    true
                }
            });
            self.evicted += dropped as u64;
        }
    }

    /// Changes the bound; a smaller one takes effect at the next insertion.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(8);
    }

    /// Drops every connection of interfaces `keep` says no to.
    pub fn retain_interfaces(&mut self, mut keep: impl FnMut(InterfaceIndex) -> bool) {
        self.map.retain(|k, _| keep(InterfaceIndex(k.interface)));
    }
}
