//! The per-window flow table.

use std::collections::{BTreeSet, HashMap};

use crate::flow::{Action, FlowKey, FlowUpdate, InterfaceIndex, PacketAddrs, Timestamp};
use crate::tcp_flags::TcpFlags;

/// What one record is keyed by within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct TableKey {
    pub interface: InterfaceIndex,
    pub key: FlowKey,
    pub packet_addrs: Option<PacketAddrs>,
    pub action: Action,
}

/// Running sums of one record.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counters {
    pub packets: u64,
    pub bytes: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    pub tcp_flags: TcpFlags,
}

impl Counters {
    #[inline]
    pub fn new(u: &FlowUpdate, first: Timestamp) -> Counters {
        Counters {
            packets: u.packets,
            bytes: u.bytes,
            first,
            last: u.last,
            tcp_flags: u.tcp_flags,
        }
    }

    #[inline]
    pub fn add(&mut self, u: &FlowUpdate, first: Timestamp) {
        self.packets += u.packets;
        self.bytes += u.bytes;
        self.first = self.first.min(first);
        self.last = self.last.max(u.last);
        self.tcp_flags = self.tcp_flags.union(u.tcp_flags);
    }
}

pub(super) type FlowMap = HashMap<TableKey, Counters, foldhash::fast::RandomState>;

/// Flows and interface state of one open window.
#[derive(Default)]
pub(super) struct WindowTable {
    pub flows: FlowMap,
    /// Interfaces with at least one flow in the window.
    pub active: BTreeSet<InterfaceIndex>,
    /// Interfaces that lost input in the window.
    pub lost: BTreeSet<InterfaceIndex>,
}
