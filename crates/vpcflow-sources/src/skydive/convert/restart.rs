//! [`Converter::export`] and [`Converter::import`]: the converter's state
//! across a restart of `vpcflow run`.

use std::collections::HashMap;

use vpcflow_core::{FlowConsumer, InterfaceIndex};

use super::state::FlowState;
use super::Converter;
use crate::skydive::snapshot::{ConverterSnapshot, FlowEntry};

impl Converter {
    /// What must survive a restart: the per-UUID delta state, the event time,
    /// the interfaces by name, the captures' interfaces and the two-point
    /// REJECT conversations. Inner flows still waiting for their parent are
    /// not part of it (at a shutdown, [`finish`](Converter::finish) has
    /// already dropped them as orphans).
    pub fn export(&self) -> ConverterSnapshot {
        let mut snapshot = self.export_unsorted();
        snapshot.sort_flows();
        snapshot
    }

    /// [`Converter::export`] with the flow states in no particular order
    /// ([`ConverterSnapshot::sort_flows`] orders them): sorting is left to
    /// the thread that writes them.
    pub fn export_unsorted(&self) -> ConverterSnapshot {
        let flows: Vec<FlowEntry> = self
            .states
            .iter()
            .map(|(id, s, inner)| FlowEntry {
                id,
                delta_span: s.delta_span,
                metric: s.metric,
                metric_last: s.metric_last,
                last_seen: s.last_seen,
                bits: s.bits,
                flags_done: s.flags_done,
                inner,
            })
            .collect();
        let names: HashMap<InterfaceIndex, &str> = self
            .interfaces
            .iter()
            .map(|(name, (i, _))| (*i, name.as_str()))
            .collect();
        let mut interfaces: Vec<(String, String)> = self
            .interfaces
            .iter()
            .map(|(name, (_, capture))| (name.clone(), capture.clone()))
            .collect();
        interfaces.sort();
        let mut capture_interfaces: Vec<(String, Vec<String>)> = self
            .capture_interfaces
            .iter()
            .map(|(capture, list)| {
                let named = list
                    .iter()
                    .filter_map(|i| names.get(i).map(|n| n.to_string()))
                    .collect();
                (capture.clone(), named)
            })
            .collect();
        capture_interfaces.sort();
        let name_of = |i: InterfaceIndex| names.get(&i).map(|n| n.to_string());
        ConverterSnapshot {
            now_ms: self.now_ms,
            last_sweep_ms: self.last_sweep_ms,
            flows,
            interfaces,
            capture_interfaces,
            conversations: self
                .decider
                .as_ref()
                .map(|d| d.export(&name_of))
                .unwrap_or_default(),
        }
    }

    /// Takes over `snapshot` (exported by a previous run with the same
    /// configuration) before any flow arrives; interfaces are registered with
    /// `consumer` by name. At most `max_tracked_flows` flow states are taken,
    /// the most recently seen; they expire by event time as if the run had
    /// never stopped. Returns the number of flow states taken.
    pub fn import(
        &mut self,
        snapshot: ConverterSnapshot,
        consumer: &mut dyn FlowConsumer,
    ) -> usize {
        if snapshot.now_ms > self.now_ms {
            self.now_ms = snapshot.now_ms;
            self.last_sweep_ms = snapshot.last_sweep_ms.min(snapshot.now_ms);
        }
        for (name, capture) in snapshot.interfaces {
            if let std::collections::hash_map::Entry::Vacant(e) = self.interfaces.entry(name) {
                let i = consumer.interface(e.key());
                e.insert((i, capture));
            }
        }
        let mut index_of = |name: &str| -> InterfaceIndex {
            match self.interfaces.get(name) {
                Some((i, _)) => *i,
                None => {
                    let i = consumer.interface(name);
                    self.interfaces.insert(name.to_string(), (i, String::new()));
                    i
                }
            }
        };
        let mut capture_interfaces = Vec::new();
        for (capture, names) in &snapshot.capture_interfaces {
            let list: Vec<InterfaceIndex> = names.iter().map(|n| index_of(n)).collect();
            capture_interfaces.push((capture.clone(), list));
        }
        if let Some(d) = &mut self.decider {
            d.import(snapshot.conversations, &mut index_of);
        }
        for (capture, list) in capture_interfaces {
            let known = self.capture_interfaces.entry(capture).or_default();
            for i in list {
                if !known.contains(&i) {
                    known.push(i);
                }
            }
        }
        let mut flows = snapshot.flows;
        let room = self
            .options
            .max_tracked_flows
            .saturating_sub(self.states.len());
        if flows.len() > room {
            flows.sort_unstable_by_key(|f| std::cmp::Reverse(f.last_seen));
            flows.truncate(room);
        }
        let mut taken = 0;
        for f in flows {
            let state = FlowState {
                delta_span: f.delta_span,
                metric: f.metric,
                metric_last: f.metric_last,
                last_seen: f.last_seen,
                bits: f.bits,
                flags_done: f.flags_done,
            };
            if self.states.insert_new(f.id, state) {
                taken += 1;
                if let Some(inner) = f.inner {
                    self.states.set_inner(f.id, inner);
                }
            }
        }
        taken
    }
}
