//! Aggregation: sums [`FlowUpdate`]s per (interface, 5-tuple[, packet addresses],
//! action, window) and emits [`FlowRecord`]s when windows close.
//!
//! Windows close on event time: the watermark is the newest timestamp seen minus
//! the allowed lateness. A window whose end is at or before the watermark is
//! closed: its records are handed over ([`Closed`]), together with NODATA records for
//! known interfaces that had no traffic in it and SKIPDATA records for interfaces
//! that lost input in it. Offline sources call [`Aggregator::finish`] at the end.
//!
//! Memory is bounded by [`AggregatorConfig::max_open_flows`]: when the table is
//! full, the [`OverflowPolicy`] either flushes every open flow early as partial
//! records (nothing is lost, a flow may then have several records in one window)
//! or drops the new flow and marks its window SKIPDATA.

mod closed;
mod entry;
mod flow_table;
mod journal;
mod stats;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::sync::Arc;

pub use closed::{Closed, Released};
use closed::{ClosedFlow, IdleRun};
use entry::{Counters, TableKey, TunnelKey};
use flow_table::FlowTable;
pub use journal::{Reader, StateDecodeError};
pub use stats::AggregatorStats;
use table::WindowTable;

use crate::flow::{FlowUpdate, InterfaceIndex, LossEvent, NANOS_PER_SEC};
use crate::record::{FlowRecord, LogStatus};
use crate::window::Interval;

/// What the aggregator does when its table of open flows is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Emit every open flow as a partial record and start again (lossless).
    #[default]
    Flush,
    /// Drop flows that do not fit and mark their windows SKIPDATA.
    Skip,
}

/// Settings of the [`Aggregator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregatorConfig {
    /// Length of the aligned windows.
    pub interval: Interval,
    /// How far (seconds) behind the newest timestamp a packet may arrive and
    /// still join its window.
    pub allowed_lateness_secs: u64,
    /// Cap on the number of open flows (table entries) over all windows.
    pub max_open_flows: usize,
    /// Key records by the packet-level (innermost) addresses too, so tunnelled
    /// flows with different inner addresses get separate records.
    pub key_by_packet_addrs: bool,
    /// What to do when the table is full.
    pub overflow: OverflowPolicy,
    /// Emit NODATA records for known interfaces without traffic in a window.
    pub emit_nodata: bool,
    /// A run of idle windows longer than this (seconds) gets no NODATA records:
    /// it is a gap in the input (or a bogus timestamp), not a monitored interval.
    pub nodata_max_gap_secs: u64,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            interval: Interval::default(),
            allowed_lateness_secs: 60,
            max_open_flows: 2_000_000,
            key_by_packet_addrs: false,
            overflow: OverflowPolicy::default(),
            emit_nodata: true,
            nodata_max_gap_secs: 86_400,
        }
    }
}

/// The aggregation stage. See the [module documentation](self).
pub struct Aggregator {
    config: AggregatorConfig,
    interval_secs: u64,
    windows: BTreeMap<u64, WindowTable>,
    open_flows: usize,
    /// Newest event time seen (seconds).
    newest_secs: Option<u64>,
    /// Windows before this one are closed (None until the first input).
    next_unclosed: Option<u64>,
    known_interfaces: BTreeSet<InterfaceIndex>,
    /// `known_interfaces` as a shared list, for idle runs (None after a change).
    known_list: Option<Arc<[InterfaceIndex]>>,
    closed: Closed,
    complete_before: u64,
    /// Flows of the window closed last: new windows are sized for as many, so
    /// the table does not grow (and rehash) step by step.
    flows_in_last_window: usize,
    /// One hasher for the flow tables of all windows.
    hasher: foldhash::fast::RandomState,
    stats: AggregatorStats,
    /// Windows drained (closed or flushed early) since the journal last took
    /// the changes: what they held before is gone. Kept only once a journal
    /// has taken the state (`tracking`).
    drained: BTreeSet<u64>,
    tracking: bool,
}

impl Aggregator {
    /// A new aggregator.
    pub fn new(config: AggregatorConfig) -> Aggregator {
        Aggregator {
            interval_secs: config.interval.secs(),
            config,
            windows: BTreeMap::new(),
            open_flows: 0,
            newest_secs: None,
            next_unclosed: None,
            known_interfaces: BTreeSet::new(),
            known_list: None,
            closed: Closed::default(),
            complete_before: 0,
            flows_in_last_window: 0,
            hasher: foldhash::fast::RandomState::default(),
            stats: AggregatorStats::default(),
            drained: BTreeSet::new(),
            tracking: false,
        }
    }

    /// The settings.
    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    /// Counters of what the aggregator did so far.
    pub fn stats(&self) -> &AggregatorStats {
        &self.stats
    }

    /// Number of flows currently held.
    pub fn open_flows(&self) -> usize {
        self.open_flows
    }

    /// Declares a monitored interface: it gets NODATA records for the windows in
    /// which it has no traffic.
    pub fn add_interface(&mut self, interface: InterfaceIndex) {
        if self.known_interfaces.insert(interface) {
            self.known_list = None;
        }
    }

    /// Adds one observation. It joins the window of its `last` time; its `first`
    /// time is clamped to that window.
    #[inline]
    pub fn observe(&mut self, update: &FlowUpdate) {
        let keyed = self.keyed(update);
        self.observe_keyed(update, keyed);
    }

    /// Adds observations in order, loading what each needs of the table a
    /// few observations ahead so that the cache misses of a large table
    /// overlap: the index slot of the observation `2 * AHEAD` ahead, then the
    /// flow of the one `AHEAD` ahead (whose slot has arrived by then).
    pub fn observe_batch(&mut self, updates: &[FlowUpdate]) {
        const AHEAD: usize = 4;
        const RING: usize = 16;
        const _: () = assert!(2 * AHEAD < RING && RING.is_power_of_two());
        let mut ring = [(TableKey::ZERO, 0u64, 0u64); RING];
        for j in 0..2 * AHEAD {
            self.start_ahead(updates, j, &mut ring[j % RING]);
        }
        for (i, u) in updates.iter().enumerate() {
            self.start_ahead(updates, i + 2 * AHEAD, &mut ring[(i + 2 * AHEAD) % RING]);
            if i + AHEAD < updates.len() {
                self.prefetch(ring[(i + AHEAD) % RING], FlowTable::prefetch_flow);
            }
            self.observe_keyed(u, ring[i % RING]);
        }
    }

    /// Keys observation `j` of `updates` (if any) into `slot` and starts
    /// loading its index slot.
    #[inline(always)]
    fn start_ahead(&self, updates: &[FlowUpdate], j: usize, slot: &mut (TableKey, u64, u64)) {
        if let Some(u) = updates.get(j) {
            *slot = self.keyed(u);
            self.prefetch(*slot, FlowTable::prefetch);
        }
    }

    /// The table key of `u`, its hash and its window.
    #[inline(always)]
    fn keyed(&self, u: &FlowUpdate) -> (TableKey, u64, u64) {
        let key = TableKey::new(u.interface, &u.key, u.action, u.direction);
        let window = self.config.interval.window_start(u.last / NANOS_PER_SEC);
        (key, self.hasher.hash_one(key), window)
    }

    /// Runs one prefetch stage for a keyed observation, if its window is open.
    #[inline(always)]
    fn prefetch(&self, (_, hash, window): (TableKey, u64, u64), stage: impl Fn(&FlowTable, u64)) {
        if let Some(table) = self.windows.get(&window) {
            stage(&table.flows, hash);
        }
    }

    #[inline(always)]
    fn observe_keyed(&mut self, update: &FlowUpdate, (key, hash, window): (TableKey, u64, u64)) {
        let last_secs = update.last / NANOS_PER_SEC;
        self.advance(last_secs, window);
        if self.next_unclosed.is_some_and(|n| window < n) {
            self.stats.late_updates += 1;
        }
        let first = ((update.first / NANOS_PER_SEC).clamp(window, last_secs) - window) as u16;
        let last = (last_secs - window) as u16;
        let tunnel = match update.packet_addrs {
            Some(inner) if self.config.key_by_packet_addrs => Some(TunnelKey { base: key, inner }),
            _ => None,
        };
        let expected = self.flows_in_last_window;
        let room = self.config.max_open_flows;
        let full = self.open_flows >= self.config.max_open_flows;
        let table = self
            .windows
            .entry(window)
            .or_insert_with(|| WindowTable::with_capacity(expected, room));
        let existing = match &tunnel {
            None => table.flows.get_mut(hash, &key),
            Some(t) => table.tunnelled.get_mut(t),
        };
        if let Some(counters) = existing {
            counters.add(update, first, last);
            return;
        }
        let counters = Counters::new(update, first, last);
        if !full {
            table.insert(window, hash, key, tunnel, update.interface, counters);
            self.open_flows += 1;
            return;
        }
        match self.config.overflow {
            OverflowPolicy::Flush => {
                self.stats.overflow_flushes += 1;
                self.flush_open_flows();
                let table = self.windows.entry(window).or_default();
                table.insert(window, hash, key, tunnel, update.interface, counters);
                self.open_flows += 1;
            }
            OverflowPolicy::Skip => {
                self.stats.overflow_dropped_updates += 1;
                table.lost.insert(update.interface);
            }
        }
    }

    /// Records input lost by a source: the window of `loss.at` becomes SKIPDATA for
    /// that interface.
    pub fn lose(&mut self, loss: &LossEvent) {
        let secs = loss.at / NANOS_PER_SEC;
        let window = self.config.interval.window_start(secs);
        self.advance(secs, window);
        self.stats.lost_units = self.stats.lost_units.saturating_add(loss.count);
        self.windows
            .entry(window)
            .or_default()
            .lost
            .insert(loss.interface);
    }

    /// Moves event time forward to at least `now_secs` without input (a live
    /// source's wall-clock idleness), closing the windows that are due.
    pub fn advance_time(&mut self, now_secs: u64) {
        let window = self.config.interval.window_start(now_secs);
        self.advance(now_secs, window);
    }

    /// Takes the records of the windows closed (or flushed) so far, if any.
    pub fn take_released(&mut self) -> Option<Closed> {
        if self.closed.is_empty() {
            return None;
        }
        Some(self.hand_over())
    }

    /// Closes every window (end of input) and returns everything not yet
    /// handed over; its `complete_before` is `u64::MAX`.
    pub fn finish(&mut self) -> Closed {
        if let Some(newest) = self.newest_secs {
            let limit = self.config.interval.window_start(newest) + self.interval_secs;
            self.close_before(limit);
        }
        // Late windows that reopened before the last closed one.
        let late: Vec<u64> = self.windows.keys().copied().collect();
        for w in late {
            self.close_window(w, false);
        }
        self.complete_before = u64::MAX;
        self.hand_over()
    }

    fn hand_over(&mut self) -> Closed {
        let previous = self.closed.complete_before;
        let mut closed = std::mem::take(&mut self.closed);
        closed.complete_before = self.complete_before;
        closed.previous_complete_before = previous;
        self.closed.complete_before = self.complete_before;
        closed
    }

    #[inline]
    fn advance(&mut self, secs: u64, window: u64) {
        match self.newest_secs {
            Some(n) if secs <= n => return,
            None => {
                self.next_unclosed = Some(window);
            }
            _ => {}
        }
        self.newest_secs = Some(secs);
        let watermark = secs.saturating_sub(self.config.allowed_lateness_secs);
        let next = self.next_unclosed.unwrap_or(window);
        if watermark >= next + self.interval_secs {
            let limit = self.config.interval.window_start(watermark);
            self.close_before(limit);
        }
    }

    /// Closes every window that starts before `limit`.
    fn close_before(&mut self, limit: u64) {
        let Some(mut w) = self.next_unclosed else {
            return;
        };
        // Late windows reopened behind the closed frontier go first.
        let late: Vec<u64> = self.windows.range(..w).map(|(k, _)| *k).collect();
        for lw in late {
            self.close_window(lw, false);
        }
        while w < limit {
            if self.windows.contains_key(&w) {
                self.close_window(w, true);
                w += self.interval_secs;
                continue;
            }
            // A run of idle windows up to the next one with data.
            let next_data = self
                .windows
                .range(w..limit)
                .next()
                .map_or(limit, |(k, _)| *k);
            if next_data - w > self.config.nodata_max_gap_secs {
                self.stats.nodata_gaps_skipped += 1;
                w = next_data;
                continue;
            }
            // Windows are aligned: next_data - w is a whole number of them.
            if w < next_data && self.config.emit_nodata && !self.known_interfaces.is_empty() {
                let run = IdleRun {
                    from: w,
                    to: next_data,
                    step: self.interval_secs,
                    interfaces: self.known_list(),
                };
                self.stats.nodata_records = self.stats.nodata_records.saturating_add(run.records());
                self.flows_in_last_window = 0;
                self.closed.idle.push(run);
            }
            w = next_data;
        }
        self.next_unclosed = Some(w.max(limit));
        self.complete_before = self.next_unclosed.unwrap_or(0);
    }

    /// The known interfaces in ascending order, shared by the idle runs
    /// until one is added.
    fn known_list(&mut self) -> Arc<[InterfaceIndex]> {
        self.known_list
            .get_or_insert_with(|| self.known_interfaces.iter().copied().collect())
            .clone()
    }

    /// Emits the records of one window; `first_close` adds NODATA records (a
    /// reopened late window already had its NODATA decided).
    fn close_window(&mut self, window: u64, first_close: bool) {
        let mut table = self.windows.remove(&window).unwrap_or_default();
        self.flows_in_last_window = table.flows.len();
        self.drain_flows(window, &mut table);
        let last_second = self.config.interval.window_last_second(window);
        let status = |interface, status| FlowRecord {
            interface,
            window_start: window,
            start: window,
            end: last_second,
            traffic: None,
            status,
        };
        for &interface in &table.lost {
            self.stats.skipdata_records += 1;
            self.closed
                .status
                .push(status(interface, LogStatus::SkipData));
        }
        if first_close && self.config.emit_nodata {
            for &interface in &self.known_interfaces {
                if !table.active().contains(&interface) && !table.lost.contains(&interface) {
                    self.stats.nodata_records += 1;
                    self.closed
                        .status
                        .push(status(interface, LogStatus::NoData));
                }
            }
        }
    }

    /// Moves the flows of a window table into the hand-over, compact.
    fn drain_flows(&mut self, window: u64, table: &mut WindowTable) {
        if self.tracking {
            self.drained.insert(window);
        }
        let tunnelled = std::mem::take(&mut table.tunnelled);
        let flows = table.flows.len() + tunnelled.len();
        self.open_flows -= flows;
        self.stats.ok_records += flows as u64;
        let closed = &mut self.closed;
        // The table's flows are handed over as they are; when flows wait
        // already, the fewer are copied (the order does not matter: they are
        // sorted when written).
        let mut drained = table.flows.drain();
        if drained.len() > closed.flows.len() {
            std::mem::swap(&mut drained, &mut closed.flows);
        }
        closed.flows.append(&mut drained);
        for (t, counters) in tunnelled {
            closed.inner.push(t.inner);
            closed.flows.push(ClosedFlow {
                window,
                key: t.base,
                counters,
                inner: closed.inner.len() as u32,
            });
        }
    }

    /// Emits every open flow as a partial record; windows stay open.
    fn flush_open_flows(&mut self) {
        let windows: Vec<u64> = self.windows.keys().copied().collect();
        for w in windows {
            let Some(mut table) = self.windows.remove(&w) else {
                continue;
            };
            self.drain_flows(w, &mut table);
            self.windows.insert(w, table);
        }
    }
}

#[cfg(test)]
mod tests;
