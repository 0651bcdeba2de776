//! Aggregation: sums [`FlowUpdate`]s per (interface, 5-tuple[, packet addresses],
//! action, window) and emits [`FlowRecord`]s when windows close.
//!
//! Windows close on event time: the watermark is the newest timestamp seen minus
//! the allowed lateness. A window whose end is at or before the watermark is
//! closed: its records are emitted, sorted, together with NODATA records for
//! known interfaces that had no traffic in it and SKIPDATA records for interfaces
//! that lost input in it. Offline sources call [`Aggregator::finish`] at the end.
//!
//! Memory is bounded by [`AggregatorConfig::max_open_flows`]: when the table is
//! full, the [`OverflowPolicy`] either flushes every open flow early as partial
//! records (nothing is lost, a flow may then have several records in one window)
//! or drops the new flow and marks its window SKIPDATA.

mod stats;
mod table;

use std::collections::{BTreeMap, BTreeSet};

pub use stats::AggregatorStats;
use table::{Counters, TableKey, WindowTable};

use crate::flow::{FlowUpdate, InterfaceIndex, LossEvent, NANOS_PER_SEC};
use crate::record::{FlowRecord, LogStatus, Traffic};
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

/// Records released by the aggregator.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Released {
    /// The records, sorted by [`FlowRecord::sort_key`] within each closed window
    /// group.
    pub records: Vec<FlowRecord>,
    /// Every window that ends at or before this second is closed: records
    /// released later have an `end` at or after it, except for late input.
    pub complete_before: u64,
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
    released: Vec<FlowRecord>,
    complete_before: u64,
    stats: AggregatorStats,
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
            released: Vec::new(),
            complete_before: 0,
            stats: AggregatorStats::default(),
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
        self.known_interfaces.insert(interface);
    }

    /// Adds one observation. It joins the window of its `last` time; its `first`
    /// time is clamped to that window.
    #[inline]
    pub fn observe(&mut self, update: &FlowUpdate) {
        let last_secs = update.last / NANOS_PER_SEC;
        let window = self.config.interval.window_start(last_secs);
        self.advance(last_secs, window);
        if self.next_unclosed.is_some_and(|n| window < n) {
            self.stats.late_updates += 1;
        }
        let key = TableKey {
            interface: update.interface,
            key: update.key,
            packet_addrs: if self.config.key_by_packet_addrs {
                update.packet_addrs
            } else {
                None
            },
            action: update.action,
        };
        let first = update.first.max(window * NANOS_PER_SEC).min(update.last);
        let table = self.windows.entry(window).or_default();
        if let Some(counters) = table.flows.get_mut(&key) {
            counters.add(update, first);
            return;
        }
        if self.open_flows >= self.config.max_open_flows {
            match self.config.overflow {
                OverflowPolicy::Flush => {
                    self.stats.overflow_flushes += 1;
                    self.flush_open_flows();
                }
                OverflowPolicy::Skip => {
                    self.stats.overflow_dropped_updates += 1;
                    self.windows
                        .entry(window)
                        .or_default()
                        .lost
                        .insert(update.interface);
                    return;
                }
            }
        }
        let table = self.windows.entry(window).or_default();
        table.active.insert(update.interface);
        table.flows.insert(key, Counters::new(update, first));
        self.open_flows += 1;
    }

    /// Records input lost by a source: the window of `loss.at` becomes SKIPDATA for
    /// that interface.
    pub fn lose(&mut self, loss: &LossEvent) {
        let secs = loss.at / NANOS_PER_SEC;
        let window = self.config.interval.window_start(secs);
        self.advance(secs, window);
        self.stats.lost_units += loss.count;
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

    /// Takes the records released so far, if any.
    pub fn take_released(&mut self) -> Option<Released> {
        if self.released.is_empty() {
            return None;
        }
        Some(Released {
            records: std::mem::take(&mut self.released),
            complete_before: self.complete_before,
        })
    }

    /// Closes every window (end of input) and returns everything not yet
    /// released.
    pub fn finish(&mut self) -> Released {
        if let Some(newest) = self.newest_secs {
            let limit = self.config.interval.window_start(newest) + self.interval_secs;
            self.close_before(limit);
        }
        // Late windows that reopened before the last closed one.
        let late: Vec<u64> = self.windows.keys().copied().collect();
        for w in late {
            self.close_window(w, false);
        }
        Released {
            records: std::mem::take(&mut self.released),
            complete_before: u64::MAX,
        }
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
            while w < next_data {
                if self.config.emit_nodata && !self.known_interfaces.is_empty() {
                    self.close_window(w, true);
                }
                w += self.interval_secs;
            }
        }
        self.next_unclosed = Some(w.max(limit));
        self.complete_before = self.next_unclosed.unwrap_or(0);
    }

    /// Emits the records of one window; `first_close` adds NODATA records (a
    /// reopened late window already had its NODATA decided).
    fn close_window(&mut self, window: u64, first_close: bool) {
        let table = self.windows.remove(&window).unwrap_or_default();
        let start = self.released.len();
        self.drain_flows(window, table.flows);
        let last_second = self.config.interval.window_last_second(window);
        for &interface in &table.lost {
            self.stats.skipdata_records += 1;
            self.released.push(FlowRecord {
                interface,
                window_start: window,
                start: window,
                end: last_second,
                traffic: None,
                status: LogStatus::SkipData,
            });
        }
        if first_close && self.config.emit_nodata {
            for &interface in &self.known_interfaces {
                if !table.active.contains(&interface) && !table.lost.contains(&interface) {
                    self.stats.nodata_records += 1;
                    self.released.push(FlowRecord {
                        interface,
                        window_start: window,
                        start: window,
                        end: last_second,
                        traffic: None,
                        status: LogStatus::NoData,
                    });
                }
            }
        }
        self.released[start..].sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }

    fn drain_flows(&mut self, window: u64, flows: table::FlowMap) {
        self.open_flows -= flows.len();
        self.released.reserve(flows.len());
        for (key, c) in flows {
            self.stats.ok_records += 1;
            self.released.push(FlowRecord {
                interface: key.interface,
                window_start: window,
                start: c.first / NANOS_PER_SEC,
                end: c.last / NANOS_PER_SEC,
                traffic: Some(Traffic {
                    key: key.key,
                    packet_addrs: key.packet_addrs,
                    packets: c.packets,
                    bytes: c.bytes,
                    tcp_flags: c.tcp_flags,
                    action: key.action,
                }),
                status: LogStatus::Ok,
            });
        }
    }

    /// Emits every open flow as a partial record; windows stay open.
    fn flush_open_flows(&mut self) {
        let windows: Vec<u64> = self.windows.keys().copied().collect();
        for w in windows {
            let flows = match self.windows.get_mut(&w) {
                Some(t) => std::mem::take(&mut t.flows),
                None => continue,
            };
            let start = self.released.len();
            self.drain_flows(w, flows);
            self.released[start..].sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        }
    }
}

#[cfg(test)]
mod tests;
