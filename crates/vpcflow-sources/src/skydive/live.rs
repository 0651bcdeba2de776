//! Applies a subscription's [`Event`]s to a [`Converter`], and turns
//! disconnections into losses.
//!
//! Messages an analyzer sent while vpcflow was not connected are lost. When a
//! connection drops, every window from [`REACH_BACK_MS`] before the drop to
//! the reconnection becomes SKIPDATA for the interfaces whose flows came
//! through that analyzer so far (an agent spreads its batches over the
//! analyzers of a cluster, so these are the interfaces that can have lost
//! data); a drop before any flow came through is counted but cannot be
//! attributed. Messages dropped on a full queue ([`Event::Overflow`]) are
//! marked the same way.

use std::collections::BTreeSet;

use vpcflow_core::{FlowConsumer, InterfaceIndex, LossEvent};

use super::message::Payload;
use super::subscriber::Event;
use super::Converter;

/// How far before a loss its SKIPDATA reaches: one Skydive flow update
/// period (`flow.update`, 60 s by default). A message lost at time T carries
/// the deltas of the period before it, whose windows can end up to this long
/// before T; marking from T on would leave such a window showing only OK.
pub const REACH_BACK_MS: i64 = 60_000;

/// What the live source saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Connections established.
    pub connects: u64,
    /// Established connections that ended (gaps).
    pub disconnects: u64,
    /// Failed connection attempts.
    pub failed_attempts: u64,
    /// Messages accepted.
    pub messages: u64,
    /// Messages that could not be decoded.
    pub malformed: u64,
    /// Messages of namespaces not subscribed to.
    pub ignored: u64,
    /// Gaps that could not be attributed to any interface.
    pub unattributed_gaps: u64,
    /// Messages dropped because the queue between the connections and the
    /// conversion was full (their windows are SKIPDATA).
    pub queue_overflows: u64,
}

/// The live side of the Skydive source.
pub struct Live {
    converter: Converter,
    /// Interfaces seen through each analyzer.
    seen: Vec<BTreeSet<InterfaceIndex>>,
    /// When each analyzer's connection dropped (ms), while it is down.
    down_since: Vec<Option<i64>>,
    connected: Vec<bool>,
    step_ms: i64,
    stats: LiveStats,
}

impl Live {
    /// A live source over `analyzers` connections; `interval_secs` is the
    /// aggregation interval (a gap marks every window it touches).
    pub fn new(converter: Converter, analyzers: usize, interval_secs: u64) -> Live {
        Live {
            converter,
            seen: vec![BTreeSet::new(); analyzers],
            down_since: vec![None; analyzers],
            connected: vec![false; analyzers],
            step_ms: (interval_secs.max(1) * 1000) as i64,
            stats: LiveStats::default(),
        }
    }

    /// The converter (its statistics).
    pub fn converter(&self) -> &Converter {
        &self.converter
    }

    /// The converter, to import or export its state.
    pub fn converter_mut(&mut self) -> &mut Converter {
        &mut self.converter
    }

    /// What was seen so far.
    pub fn stats(&self) -> &LiveStats {
        &self.stats
    }

    /// Handles one event at wall-clock time `now_ms` (Unix ms).
    pub fn handle(&mut self, event: Event, now_ms: i64, consumer: &mut dyn FlowConsumer) {
        match event {
            Event::Connected { analyzer } => {
                self.stats.connects += 1;
                self.connected[analyzer] = true;
                if let Some(since) = self.down_since[analyzer].take() {
                    self.mark_gap(analyzer, since, now_ms, consumer);
                }
            }
            Event::Disconnected { analyzer, .. } => {
                if self.connected[analyzer] {
                    self.connected[analyzer] = false;
                    self.stats.disconnects += 1;
                    self.down_since[analyzer] = Some(now_ms);
                } else {
                    self.stats.failed_attempts += 1;
                }
            }
            Event::Message { analyzer, payload } => {
                self.stats.messages += 1;
                match &payload {
                    Payload::Flows {
                        flows, over_cap, ..
                    } => {
                        self.converter.flows(flows, consumer);
                        self.converter
                            .flows_over_cap(*over_cap, Some(now_ms), consumer);
                        for f in flows {
                            if let Some(i) = self.converter.interface_of(&f.node_tid) {
                                self.seen[analyzer].insert(i);
                            }
                        }
                    }
                    Payload::Stats(s) => self.converter.capture_stats(s, Some(now_ms), consumer),
                    Payload::Other(_) => {}
                }
            }
            Event::Overflow {
                analyzer,
                from_ms,
                to_ms,
                messages,
            } => {
                self.stats.queue_overflows = self.stats.queue_overflows.saturating_add(messages);
                self.mark_gap(analyzer, from_ms, to_ms.max(from_ms), consumer);
            }
            Event::Malformed { .. } => self.stats.malformed += 1,
            Event::Ignored { .. } => self.stats.ignored += 1,
        }
    }

    /// Marks every window from [`REACH_BACK_MS`] before `from_ms` to `to_ms`
    /// lost for the analyzer's interfaces.
    fn mark_gap(
        &mut self,
        analyzer: usize,
        from_ms: i64,
        to_ms: i64,
        consumer: &mut dyn FlowConsumer,
    ) {
        if self.seen[analyzer].is_empty() {
            self.stats.unattributed_gaps += 1;
            return;
        }
        let mut t = from_ms.saturating_sub(REACH_BACK_MS);
        loop {
            for &interface in &self.seen[analyzer] {
                consumer.loss(&LossEvent {
                    interface,
                    at: (t.max(0) as u64) * 1_000_000,
                    count: 1,
                });
            }
            if t >= to_ms {
                break;
            }
            t = t.saturating_add(self.step_ms).min(to_ms);
        }
    }

    /// End of the run: an analyzer still down has its gap marked up to `now_ms`.
    pub fn finish(&mut self, now_ms: i64, consumer: &mut dyn FlowConsumer) {
        for a in 0..self.down_since.len() {
            if let Some(since) = self.down_since[a].take() {
                self.mark_gap(a, since, now_ms, consumer);
            }
        }
        self.converter.finish(consumer);
    }
}
