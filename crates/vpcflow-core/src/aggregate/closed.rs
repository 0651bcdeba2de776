//! What aggregation hands over when windows close: compact flows and status
//! records, turned into sorted [`Released`] batches off the ingest thread.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::flow::{InterfaceIndex, PacketAddrs};
use crate::record::{sort_head, sort_key_of_traffic, FlowRecord, LogStatus, SortKey, Traffic};

use super::entry::{Counters, TableKey};

/// A batch of records in file order, as sinks take them (see
/// [`Closed::into_released`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Released {
    /// The records, sorted by [`FlowRecord::sort_key`].
    pub records: Vec<FlowRecord>,
    /// Every window that ends at or before this second is closed: records
    /// released later have an `end` at or after it, except for late input.
    pub complete_before: u64,
}

/// One flow of a closed window, still compact.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClosedFlow {
    pub window: u64,
    pub key: TableKey,
    pub counters: Counters,
    /// 1 + index into [`Closed::inner`], 0 when not keyed by packet addresses.
    pub inner: u32,
}

/// A run of idle windows whose NODATA records (one per window and interface)
/// are made while they are written, not held: their number grows with
/// interfaces × windows.
#[derive(Debug, Clone)]
pub(super) struct IdleRun {
    /// Start of the first window.
    pub from: u64,
    /// Start of the window after the last.
    pub to: u64,
    /// Window length (seconds).
    pub step: u64,
    /// The interfaces, in ascending order.
    pub interfaces: Arc<[InterfaceIndex]>,
}

impl IdleRun {
    /// Number of NODATA records of the run.
    pub fn records(&self) -> u64 {
        (self.to - self.from) / self.step * self.interfaces.len() as u64
    }
}

/// The NODATA records of idle runs in file order, made one at a time.
#[derive(Debug, Default)]
struct IdleRecords {
    runs: VecDeque<IdleRun>,
    /// Window of the next record (in the first run).
    window: u64,
    /// Interface position of the next record (in the first run).
    next: usize,
    remaining: u64,
}

impl IdleRecords {
    fn new(runs: Vec<IdleRun>) -> IdleRecords {
        let runs: VecDeque<IdleRun> = runs
            .into_iter()
            .filter(|r| r.from < r.to && !r.interfaces.is_empty())
            .collect();
        IdleRecords {
            window: runs.front().map_or(0, |r| r.from),
            remaining: runs.iter().map(IdleRun::records).sum(),
            runs,
            next: 0,
        }
    }

    fn peek(&self) -> Option<FlowRecord> {
        let run = self.runs.front()?;
        Some(FlowRecord {
            interface: run.interfaces[self.next],
            window_start: self.window,
            start: self.window,
            end: self.window + run.step - 1,
            traffic: None,
            status: LogStatus::NoData,
        })
    }

    fn advance(&mut self) {
        let Some(run) = self.runs.front() else {
            return;
        };
        self.remaining -= 1;
        self.next += 1;
        if self.next < run.interfaces.len() {
            return;
        }
        self.next = 0;
        self.window += run.step;
        if self.window >= run.to {
            self.runs.pop_front();
            self.window = self.runs.front().map_or(0, |r| r.from);
        }
    }
}

/// Records of closed windows (and of flows flushed early), unsorted.
///
/// Kept compact (80 bytes a flow) until [`Closed::into_released`] sorts them and
/// expands them into [`FlowRecord`]s batch by batch, so closing a window of a
/// million flows does not double the memory.
#[derive(Debug, Default)]
pub struct Closed {
    pub(super) flows: Vec<ClosedFlow>,
    pub(super) inner: Vec<PacketAddrs>,
    pub(super) status: Vec<FlowRecord>,
    /// NODATA records of runs of idle windows, made when written.
    pub(super) idle: Vec<IdleRun>,
    /// Every window ending at or before this second is closed.
    pub complete_before: u64,
    /// `complete_before` of the previous hand-over: what all but the last batch
    /// carry, so no slot is sealed before the whole hand-over is written.
    pub(super) previous_complete_before: u64,
}

impl Closed {
    /// Number of records.
    pub fn len(&self) -> usize {
        let idle: u64 = self.idle.iter().map(IdleRun::records).sum();
        self.flows.len() + self.status.len() + idle as usize
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.status.is_empty() && self.idle.is_empty()
    }

    fn packet_addrs(&self, f: &ClosedFlow) -> Option<PacketAddrs> {
        (f.inner > 0).then(|| self.inner[f.inner as usize - 1])
    }

    /// [`FlowRecord::sort_key`] of the record `f` becomes, without building it.
    #[inline]
    fn sort_key(&self, f: &ClosedFlow) -> SortKey {
        let head = sort_head(
            f.window + u64::from(f.counters.last),
            f.key.interface(),
            f.window + u64::from(f.counters.first),
            f.window,
        );
        sort_key_of_traffic(
            head,
            f.key.addr_bits(),
            f.key.sort_parts(),
            (f.key.action(), f.key.direction()),
            LogStatus::Ok,
            (
                f.counters.packets,
                f.counters.bytes,
                f.counters.tcp_flags.value(),
            ),
            self.packet_addrs(f),
        )
    }

    fn record(&self, f: &ClosedFlow) -> FlowRecord {
        FlowRecord {
            interface: f.key.interface(),
            window_start: f.window,
            start: f.window + u64::from(f.counters.first),
            end: f.window + u64::from(f.counters.last),
            traffic: Some(Traffic {
                key: f.key.flow_key(),
                packet_addrs: self.packet_addrs(f),
                packets: f.counters.packets,
                bytes: f.counters.bytes,
                tcp_flags: f.counters.tcp_flags,
                action: f.key.action(),
                direction: f.key.direction(),
            }),
            status: LogStatus::Ok,
        }
    }

    /// All records in file order, at once.
    pub fn into_sorted_records(self) -> Vec<FlowRecord> {
        self.into_released(usize::MAX)
            .flat_map(|r| r.records)
            .collect()
    }

    /// The positions of `flows` in file order ([`FlowRecord::sort_key`]),
    /// each with the leading part of its key it was sorted by.
    ///
    /// The head (end, interface, start) and then the source address decide
    /// nearly every order; the full key, computed from the flow, only breaks
    /// their ties. Sorting 24-byte (head, source, position) triples instead of
    /// the 80-byte flows moves a third of the bytes and compares without
    /// reaching into the flows, which sit at random places by then; heads and
    /// sources are radix-sorted together (`radsort`: a comparison sort of a
    /// window's flows took about 10 % of a conversion's CPU time, and one of
    /// each run of equal heads 4–8 % when many flows share their first and
    /// last second, as flows open for a whole window do).
    ///
    /// The head packs into 64 bits (end as seconds after the earliest end,
    /// interface, start offset) unless a hand-over spans 2^24 seconds or
    /// interfaces or more; then every head and source is 0 and the full key is
    /// compared instead. The source is its top 64 bits (all of an IPv4
    /// address).
    fn file_order(&self, flows: &[ClosedFlow]) -> Vec<Ordered> {
        let end = |f: &ClosedFlow| f.window + u64::from(f.counters.last);
        let earliest = flows.iter().map(end).min().unwrap_or(0);
        let latest = flows.iter().map(end).max().unwrap_or(0);
        let most_interface = flows.iter().map(|f| f.key.interface().0).max().unwrap_or(0);
        let packs = latest - earliest < 1 << 24 && most_interface < 1 << 24;
        debug_assert!(flows.len() <= u32::MAX as usize);
        let mut order: Vec<Ordered> = flows
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if packs {
                    Ordered {
                        head: ((end(f) - earliest) << 40)
                            | (u64::from(f.key.interface().0) << 16)
                            | u64::from(f.counters.first),
                        source: (f.key.addr_bits().0 >> 64) as u64,
                        position: i as u32,
                    }
                } else {
                    Ordered {
                        head: 0,
                        source: 0,
                        position: i as u32,
                    }
                }
            })
            .collect();
        // The full key starts with the head and the source: comparing it
        // after them keeps the order of the full key alone.
        let by_key = |a: &Ordered, b: &Ordered| {
            (a.head, a.source).cmp(&(b.head, b.source)).then_with(|| {
                let (fa, fb) = (&flows[a.position as usize], &flows[b.position as usize]);
                self.sort_key(fa).cmp(&self.sort_key(fb))
            })
        };
        if packs {
            // A radix sort on the packed head and the source (no comparisons;
            // bytes equal in every key, such as the low half of an IPv4
            // source, are skipped), then each run of equal heads and sources
            // (long when many flows share their first and last second) by the
            // rest of the key.
            radsort::sort_by_key(&mut order, |o| {
                (u128::from(o.head) << 64) | u128::from(o.source)
            });
            // The packed head is exact, so within a run the full keys agree
            // up to the addresses, which come next and nearly always differ:
            // they decide before the whole key is computed.
            let by_addresses_then_key = |a: &Ordered, b: &Ordered| {
                let (fa, fb) = (&flows[a.position as usize], &flows[b.position as usize]);
                (fa.key.addr_bits())
                    .cmp(&fb.key.addr_bits())
                    .then_with(|| self.sort_key(fa).cmp(&self.sort_key(fb)))
            };
            for run in order.chunk_by_mut(|a, b| (a.head, a.source) == (b.head, b.source)) {
                if run.len() > 1 {
                    run.sort_unstable_by(by_addresses_then_key);
                }
            }
        } else {
            order.sort_unstable_by(by_key);
        }
        order
    }

    /// Sorts the records into file order ([`FlowRecord::sort_key`]) and cuts
    /// them into batches of at most `batch` records. The last batch carries
    /// the new `complete_before`; each batch before it the `end` of its last
    /// record (the later batches' records end no earlier), so that a writer
    /// can complete the files of the slots behind it while a long hand-over
    /// is still being written. NODATA records of idle runs are made as the
    /// batches are taken: memory does not grow with interfaces × windows.
    pub fn into_released(mut self, batch: usize) -> impl Iterator<Item = Released> {
        let flows = std::mem::take(&mut self.flows);
        let order = self.file_order(&flows);
        crate::record::sort_records(&mut self.status);
        let status = std::mem::take(&mut self.status);
        let mut idle = std::mem::take(&mut self.idle);
        idle.sort_unstable_by_key(|r| r.from);
        Batches {
            closed: self,
            flows,
            order: order.into_iter(),
            status: status.into_iter().peekable(),
            idle: IdleRecords::new(idle),
            batch: batch.max(1),
            done: false,
        }
    }
}

/// A flow's place in the sort of [`Closed::file_order`].
#[derive(Debug, Clone, Copy)]
struct Ordered {
    head: u64,
    source: u64,
    position: u32,
}

/// While a flow is expanded into its record, the flow this many places
/// further in file order is loaded into the cache: flows are read in file
/// order, which is a random order of their places in the hand-over.
const LOAD_AHEAD: usize = 8;

/// The iterator of [`Closed::into_released`]: merges the sorted flows and
/// status records.
struct Batches {
    closed: Closed,
    flows: Vec<ClosedFlow>,
    /// Positions in `flows` still to be taken, in file order.
    order: std::vec::IntoIter<Ordered>,
    status: std::iter::Peekable<std::vec::IntoIter<FlowRecord>>,
    idle: IdleRecords,
    batch: usize,
    done: bool,
}

impl Batches {
    /// Records left.
    fn remaining(&self) -> u64 {
        (self.order.len() + self.status.len()) as u64 + self.idle.remaining
    }

    /// The next flow in file order.
    fn peek_flow(&self) -> Option<&ClosedFlow> {
        let o = self.order.as_slice().first()?;
        Some(&self.flows[o.position as usize])
    }

    /// Takes the flow [`peek_flow`](Self::peek_flow) returned, and starts
    /// loading one further on.
    fn take_flow(&mut self) {
        self.order.next();
        if let Some(o) = self.order.as_slice().get(LOAD_AHEAD) {
            let f = &self.flows[o.position as usize];
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
            #[allow(unused_unsafe)]
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                let first = (f as *const ClosedFlow).cast::<i8>();
                _mm_prefetch::<_MM_HINT_T0>(first);
                _mm_prefetch::<_MM_HINT_T0>(
                    first.wrapping_add(std::mem::size_of::<ClosedFlow>() - 1),
                );
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = f;
        }
    }

    /// The next status record (listed or of an idle run), in file order.
    fn peek_status(&mut self) -> Option<FlowRecord> {
        match (self.status.peek(), self.idle.peek()) {
            (None, None) => None,
            (Some(s), None) => Some(*s),
            (None, Some(i)) => Some(i),
            (Some(s), Some(i)) => Some(if s.sort_key() <= i.sort_key() { *s } else { i }),
        }
    }

    /// Takes the record [`peek_status`](Self::peek_status) returned.
    fn take_status(&mut self, taken: &FlowRecord) {
        match self.status.peek() {
            Some(s) if s == taken => {
                self.status.next();
            }
            _ => self.idle.advance(),
        }
    }
}

impl Iterator for Batches {
    type Item = Released;

    fn next(&mut self) -> Option<Released> {
        if self.done {
            return None;
        }
        let remaining = self.remaining();
        let mut records = Vec::with_capacity(remaining.min(self.batch as u64) as usize);
        while records.len() < self.batch {
            let status = self.peek_status();
            let next = match (self.peek_flow(), status) {
                (None, None) => break,
                (Some(f), None) => {
                    let r = self.closed.record(f);
                    self.take_flow();
                    r
                }
                (None, Some(s)) => {
                    self.take_status(&s);
                    s
                }
                (Some(f), Some(s)) => {
                    if self.closed.sort_key(f) <= s.sort_key() {
                        let r = self.closed.record(f);
                        self.take_flow();
                        r
                    } else {
                        self.take_status(&s);
                        s
                    }
                }
            };
            records.push(next);
        }
        let last = self.remaining() == 0;
        self.done = last;
        let complete_before = if last {
            self.closed.complete_before
        } else {
            // Later records of this hand-over end at or after the last one
            // taken; never beyond what the whole hand-over completes.
            let end = records.last().map_or(0, |r| r.end);
            end.min(self.closed.complete_before)
                .max(self.closed.previous_complete_before)
        };
        Some(Released {
            records,
            complete_before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, FlowKey, InterfaceIndex};
    use crate::tcp_flags::TcpFlags;

    #[test]
    fn compact_sort_key_is_the_records_sort_key() {
        let mut closed = Closed::default();
        closed.inner.push(PacketAddrs {
            src: "10.9.9.9".parse().unwrap(),
            dst: "2001:db8::9".parse().unwrap(),
        });
        let addrs = [
            "0.0.0.0",
            "10.0.0.1",
            "255.255.255.255",
            "::",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ];
        for (i, src) in addrs.iter().enumerate() {
            for dst in addrs {
                if src.contains(':') != dst.contains(':') {
                    continue;
                }
                let key = FlowKey {
                    src: src.parse().unwrap(),
                    dst: dst.parse().unwrap(),
                    src_port: 40000 + i as u16,
                    dst_port: 443,
                    protocol: 6,
                };
                for action in [Action::Accept, Action::Reject, Action::RejectBpa] {
                    let f = ClosedFlow {
                        window: 1_700_000_400,
                        key: TableKey::new(InterfaceIndex(3), &key, action, None),
                        counters: Counters {
                            packets: 12,
                            bytes: 3400,
                            first: 7,
                            last: 590,
                            tcp_flags: TcpFlags(19),
                        },
                        inner: (i % 2) as u32,
                    };
                    assert_eq!(
                        closed.sort_key(&f),
                        closed.record(&f).sort_key(),
                        "{src} {dst}"
                    );
                }
            }
        }
    }

    /// Flows of many windows, interfaces, starts and ends, with ties on the
    /// head; `spread` moves the windows apart.
    fn varied_flows(spread: u64, interface_step: u32) -> Closed {
        let mut closed = Closed::default();
        let mut n = 0u64;
        for w in 0..5u64 {
            for i in 0..4u32 {
                for k in 0..40u16 {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // Sources repeat (ties on the head and source); every
                    // fifth flow is IPv6, with sources equal in their top 64
                    // bits and one head per window and interface;
                    // destinations vary.
                    let v6 = k % 5 == 0;
                    let first = if v6 { 0 } else { (n >> 33) as u16 % 60 };
                    let (src, dst): (std::net::IpAddr, std::net::IpAddr) = if v6 {
                        (
                            std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(k % 3))
                                .into(),
                            std::net::Ipv6Addr::from(
                                0x2001_0db8_0001_u128 << 80 | u128::from((n >> 20) % 3),
                            )
                            .into(),
                        )
                    } else {
                        (
                            std::net::Ipv4Addr::from(0x0A00_0000 + u32::from(k % 7)).into(),
                            std::net::Ipv4Addr::from(0x0A01_0000 + ((n >> 20) % 3) as u32).into(),
                        )
                    };
                    let key = FlowKey {
                        src,
                        dst,
                        src_port: 1000 + k,
                        dst_port: (n >> 50) as u16 % 3,
                        protocol: 17,
                    };
                    closed.flows.push(ClosedFlow {
                        window: 1_700_000_000 + w * spread,
                        key: TableKey::new(
                            InterfaceIndex(i * interface_step),
                            &key,
                            Action::Accept,
                            None,
                        ),
                        counters: Counters {
                            packets: 1 + (n >> 40) % 5,
                            bytes: 100,
                            first,
                            last: first + if v6 { 0 } else { (n >> 45) as u16 % 3 },
                            tcp_flags: TcpFlags::NONE,
                        },
                        inner: 0,
                    });
                }
            }
        }
        closed
    }

    #[test]
    fn released_in_file_order_with_packed_and_full_heads() {
        // Packed heads; ends too far apart to pack; interfaces too large to pack.
        for (spread, interface_step) in [(60, 1), (1 << 23, 1), (60, 1 << 23)] {
            let closed = varied_flows(spread, interface_step);
            let mut expected: Vec<FlowRecord> =
                closed.flows.iter().map(|f| closed.record(f)).collect();
            expected.sort_unstable_by_key(FlowRecord::sort_key);
            let records: Vec<FlowRecord> =
                closed.into_released(7).flat_map(|r| r.records).collect();
            assert_eq!(
                records, expected,
                "spread {spread}, interfaces x{interface_step}"
            );
        }
    }
}
