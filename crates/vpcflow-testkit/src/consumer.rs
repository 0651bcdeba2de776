//! A flow consumer that keeps everything a source hands over.

use std::collections::BTreeMap;

use vpcflow_core::{FlowConsumer, FlowKey, FlowUpdate, InterfaceIndex, LossEvent};

/// Keeps the interface names a source registers (index `i` is `names[i]`),
/// and every update and loss in the order they came.
///
/// An update whose interface was not registered first is a source bug: it
/// fails the test at once.
#[derive(Debug, Default)]
pub struct RecordingConsumer {
    /// Registered interface names, by index.
    pub names: Vec<String>,
    /// Every update, in order.
    pub updates: Vec<FlowUpdate>,
    /// Every loss, in order.
    pub losses: Vec<LossEvent>,
}

/// What the updates of one 5-tuple add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTotals {
    /// Packets, summed.
    pub packets: u64,
    /// IP-layer bytes, summed.
    pub bytes: u64,
    /// The earliest first-packet time.
    pub first_ns: u64,
    /// The latest last-packet time.
    pub last_ns: u64,
    /// The OR of the AWS TCP flags.
    pub tcp_flags: u8,
}

impl RecordingConsumer {
    /// The name of the interface `update` was seen on.
    pub fn name_of(&self, update: &FlowUpdate) -> &str {
        &self.names[update.interface.0 as usize]
    }

    /// The units lost, summed over every loss.
    pub fn lost(&self) -> u64 {
        self.losses.iter().map(|l| l.count).sum()
    }

    /// The updates summed per 5-tuple, across interfaces.
    pub fn totals(&self) -> BTreeMap<FlowKey, FlowTotals> {
        let mut out = BTreeMap::new();
        for u in &self.updates {
            let t = out.entry(u.key).or_insert(FlowTotals {
                packets: 0,
                bytes: 0,
                first_ns: u64::MAX,
                last_ns: 0,
                tcp_flags: 0,
            });
            t.packets += u.packets;
            t.bytes += u.bytes;
            t.first_ns = t.first_ns.min(u.first);
            t.last_ns = t.last_ns.max(u.last);
            t.tcp_flags |= u.tcp_flags.value();
        }
        out
    }
}

impl FlowConsumer for RecordingConsumer {
    fn interface(&mut self, name: &str) -> InterfaceIndex {
        let i = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        };
        InterfaceIndex(i as u32)
    }

    fn update(&mut self, update: &FlowUpdate) {
        assert!(
            (update.interface.0 as usize) < self.names.len(),
            "update on interface {} before it was registered",
            update.interface.0
        );
        self.updates.push(*update);
    }

    fn loss(&mut self, loss: &LossEvent) {
        self.losses.push(*loss);
    }
}
