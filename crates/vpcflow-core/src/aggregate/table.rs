//! The state of one open window: its flows (plain and tunnelled) and the
//! interfaces seen active or losing input in it.

use std::collections::{BTreeSet, HashMap};

use super::entry::{Counters, TunnelKey};
use super::flow_table::FlowTable;
use crate::flow::InterfaceIndex;

pub(super) type FlowMap<K> = HashMap<K, Counters, foldhash::fast::RandomState>;

/// Flows and interface state of one open window.
#[derive(Default)]
pub(super) struct WindowTable {
    pub flows: FlowTable,
    /// Tunnelled flows, when records are keyed by packet addresses.
    pub tunnelled: FlowMap<TunnelKey>,
    /// Interfaces with at least one flow in the window.
    pub active: BTreeSet<InterfaceIndex>,
    /// Interfaces that lost input in the window.
    pub lost: BTreeSet<InterfaceIndex>,
}

impl WindowTable {
    /// An empty table with room for `flows` flows.
    pub fn with_capacity(flows: usize) -> WindowTable {
        WindowTable {
            flows: FlowTable::with_capacity(flows),
            ..WindowTable::default()
        }
    }
}
