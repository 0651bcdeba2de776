//! The state of one open window: its flows (plain and tunnelled) and the
//! interfaces seen active or losing input in it.

use std::collections::{BTreeSet, HashMap};

use super::entry::{Counters, TableKey, TunnelKey};
use super::flow_table::FlowTable;
use crate::flow::InterfaceIndex;

pub(super) type FlowMap<K> = HashMap<K, Counters, foldhash::fast::RandomState>;

/// Flows and interface state of one open window.
#[derive(Default)]
pub(super) struct WindowTable {
    pub flows: FlowTable,
    /// Tunnelled flows, when records are keyed by packet addresses.
    pub tunnelled: FlowMap<TunnelKey>,
    /// Interfaces with at least one flow in the window (changed through
    /// [`WindowTable::insert`] and [`WindowTable::set_active`]).
    active: BTreeSet<InterfaceIndex>,
    /// Interfaces that lost input in the window.
    pub lost: BTreeSet<InterfaceIndex>,
    /// The interface of the flow added last, known to be in `active`.
    last_active: Option<InterfaceIndex>,
}

impl WindowTable {
    /// An empty table sized for `flows` flows, that will hold at most
    /// `room` ([`FlowTable::with_room`]).
    pub fn with_capacity(flows: usize, room: usize) -> WindowTable {
        WindowTable {
            flows: FlowTable::with_capacity(flows).with_room(room),
            ..WindowTable::default()
        }
    }

    /// Sets the interfaces active in the window (state restored).
    pub fn set_active(&mut self, active: BTreeSet<InterfaceIndex>) {
        self.active = active;
        self.last_active = None;
    }

    /// Interfaces with at least one flow in the window.
    pub fn active(&self) -> &BTreeSet<InterfaceIndex> {
        &self.active
    }

    /// Adds a flow that is not in the table (`tunnel`: keyed by packet
    /// addresses too; `hash` is the hash of `key`) to the window starting at
    /// `window`, on `interface`.
    #[inline(always)]
    pub fn insert(
        &mut self,
        window: u64,
        hash: u64,
        key: TableKey,
        tunnel: Option<TunnelKey>,
        interface: InterfaceIndex,
        counters: Counters,
    ) {
        if self.last_active != Some(interface) {
            self.active.insert(interface);
            self.last_active = Some(interface);
        }
        match tunnel {
            None => self.flows.insert_new(hash, window, key, counters),
            Some(t) => {
                self.tunnelled.insert(t, counters);
            }
        }
    }
}
