//! What the converter keeps per flow UUID between updates, and how a flow's
//! new delta is found from it (each delta counted once).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use super::fields::counters;
use super::options::ConverterStats;
use crate::skydive::message::Flow;

/// Identity of a flow: 128 bits of hash of its UUID string.
pub(super) type FlowId = u128;

/// Hashes a [`FlowId`] by taking its low 64 bits: it is a hash already.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// A map keyed by [`FlowId`].
pub(super) type IdMap<V> = HashMap<FlowId, V, BuildHasherDefault<IdHasher>>;

/// The [`FlowId`] of a UUID string.
pub(super) fn flow_id(uuid: &str) -> FlowId {
    let a = foldhash::fast::FixedState::with_seed(0x5c1d_17e0).hash_one(uuid);
    let b = foldhash::fast::FixedState::with_seed(0x00dd_ba11).hash_one(uuid);
    (u128::from(a) << 64) | u128::from(b)
}

/// [`FlowState::bits`]: a LastUpdateMetric was counted.
pub(super) const HAVE_DELTA: u8 = 1;
/// [`FlowState::bits`]: a cumulative Metric was seen.
pub(super) const HAVE_METRIC: u8 = 2;
/// [`FlowState::bits`]: the flow itself arrived (not only as a parent).
pub(super) const SEEN: u8 = 4;
/// [`FlowState::bits`]: the flow has a Network layer.
pub(super) const NETWORK: u8 = 8;

/// What is kept per flow UUID between its updates.
#[derive(Default, Clone, Copy)]
pub(super) struct FlowState {
    /// Start and Last of the last counted LastUpdateMetric.
    pub(super) delta_span: (i64, i64),
    /// The last cumulative Metric: AB packets, AB bytes, BA packets, BA bytes.
    pub(super) metric: [i64; 4],
    /// The Last of that Metric.
    pub(super) metric_last: i64,
    /// Newest time of the flow seen (ms), for expiry.
    pub(super) last_seen: i64,
    /// HAVE_DELTA, HAVE_METRIC, SEEN (the flow itself arrived), NETWORK (it has
    /// a Network layer).
    pub(super) bits: u8,
    /// AWS tcp-flags already reported, per direction (AB, BA).
    pub(super) flags_done: [u8; 2],
}

/// The most packets one update of one flow may add: 2^48, a year of
/// 8.9 million packets a second. A larger delta is a corrupt or hostile
/// counter; it is rejected and counted, never summed into a record.
pub const MAX_DELTA_PACKETS: i64 = 1 << 48;
/// The most bytes one update of one flow may add: 2^62 (under 2^16 bytes a
/// packet for [`MAX_DELTA_PACKETS`] packets).
pub const MAX_DELTA_BYTES: i64 = 1 << 62;

/// Whether counters (packets, bytes, packets, bytes) can be a delta: none
/// negative, none above its maximum.
fn plausible(c: &[i64; 4]) -> bool {
    c.iter().all(|&v| v >= 0)
        && c[0] <= MAX_DELTA_PACKETS
        && c[2] <= MAX_DELTA_PACKETS
        && c[1] <= MAX_DELTA_BYTES
        && c[3] <= MAX_DELTA_BYTES
}

/// A counted delta of one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Delta {
    pub(super) ab_packets: u64,
    pub(super) ab_bytes: u64,
    pub(super) ba_packets: u64,
    pub(super) ba_bytes: u64,
    pub(super) first_ms: i64,
    pub(super) last_ms: i64,
}

impl FlowState {
    /// The packets and bytes of `f` not counted before, if any.
    pub(super) fn delta(&mut self, f: &Flow, stats: &mut ConverterStats) -> Option<Delta> {
        let st = self;
        let flow_start = if f.start > 0 {
            f.start
        } else {
            f.metric.map_or(0, |m| m.start)
        };
        let flow_last = if f.last > 0 {
            f.last
        } else {
            f.metric.map_or(0, |m| m.last)
        };
        // A counter going backwards is a restart (the new value is the
        // delta); a negative counter or an absurd delta is rejected and
        // counted, leaving the state as it was.
        let delta = if let Some(l) = f.last_update_metric {
            if st.bits & HAVE_DELTA != 0 && st.delta_span == (l.start, l.last) {
                stats.duplicate_deltas += 1;
                return None;
            }
            let c = counters(&l);
            let metric = f.metric.map(|m| (counters(&m), m.last));
            if !plausible(&c) || metric.is_some_and(|(m, _)| m.iter().any(|&v| v < 0)) {
                stats.rejected_counters += 1;
                return None;
            }
            st.bits |= HAVE_DELTA;
            st.delta_span = (l.start, l.last);
            if let Some((m, last)) = metric {
                st.bits |= HAVE_METRIC;
                st.metric = m;
                st.metric_last = last;
            }
            let first = l.start.max(flow_start);
            let last = if flow_last > 0 { flow_last } else { l.last };
            (c, first.min(last), last)
        } else if let Some(m) = f.metric {
            let now = counters(&m);
            if now.iter().any(|&v| v < 0) {
                stats.rejected_counters += 1;
                return None;
            }
            let mut c = now;
            let mut first = m.start.max(flow_start);
            if st.bits & HAVE_METRIC != 0 {
                let prev = st.metric;
                // Both are non-negative: the difference cannot overflow.
                c = [0, 1, 2, 3].map(|i| now[i] - prev[i]);
                if c.iter().any(|&v| v < 0) {
                    stats.counter_resets += 1;
                    c = now;
                } else {
                    first = first.max(st.metric_last);
                }
            }
            st.bits |= HAVE_METRIC;
            st.metric = now;
            st.metric_last = m.last;
            if !plausible(&c) {
                stats.rejected_counters += 1;
                return None;
            }
            let last = if m.last > 0 { m.last } else { flow_last };
            (c, first.min(last), last)
        } else {
            return None;
        };
        let (c, first_ms, last_ms) = delta;
        if c[0] <= 0 && c[2] <= 0 {
            return None;
        }
        Some(Delta {
            ab_packets: c[0].max(0) as u64,
            ab_bytes: c[1].max(0) as u64,
            ba_packets: c[2].max(0) as u64,
            ba_bytes: c[3].max(0) as u64,
            first_ms,
            last_ms,
        })
    }
}
