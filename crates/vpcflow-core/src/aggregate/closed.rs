//! What aggregation hands over when windows close: compact flows and status
//! records, turned into sorted [`Released`] batches off the ingest thread.

use crate::flow::PacketAddrs;
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
    /// Every window ending at or before this second is closed.
    pub complete_before: u64,
    /// `complete_before` of the previous hand-over: what all but the last batch
    /// carry, so no slot is sealed before the whole hand-over is written.
    pub(super) previous_complete_before: u64,
}

impl Closed {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.flows.len() + self.status.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.status.is_empty()
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
            f.key.action(),
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

    /// Sorts the records into file order ([`FlowRecord::sort_key`]) and cuts
    /// them into batches of at most `batch` records. Only the last batch carries
    /// the new `complete_before`.
    pub fn into_released(mut self, batch: usize) -> impl Iterator<Item = Released> {
        // The head (end, interface, start) decides most comparisons; the full
        // key, computed from the compact form, only breaks its ties.
        let head = |f: &ClosedFlow| {
            sort_head(
                f.window + u64::from(f.counters.last),
                f.key.interface(),
                f.window + u64::from(f.counters.first),
                f.window,
            )
        };
        let mut flows = std::mem::take(&mut self.flows);
        flows.sort_unstable_by(|a, b| {
            head(a)
                .cmp(&head(b))
                .then_with(|| self.sort_key(a).cmp(&self.sort_key(b)))
        });
        crate::record::sort_records(&mut self.status);
        let status = std::mem::take(&mut self.status);
        Batches {
            closed: self,
            flows: flows.into_iter().peekable(),
            status: status.into_iter().peekable(),
            batch: batch.max(1),
            done: false,
        }
    }
}

/// The iterator of [`Closed::into_released`]: merges the sorted flows and
/// status records.
struct Batches {
    closed: Closed,
    flows: std::iter::Peekable<std::vec::IntoIter<ClosedFlow>>,
    status: std::iter::Peekable<std::vec::IntoIter<FlowRecord>>,
    batch: usize,
    done: bool,
}

impl Iterator for Batches {
    type Item = Released;

    fn next(&mut self) -> Option<Released> {
        if self.done {
            return None;
        }
        let remaining = self.flows.len() + self.status.len();
        let mut records = Vec::with_capacity(remaining.min(self.batch));
        while records.len() < self.batch {
            let next = match (self.flows.peek(), self.status.peek()) {
                (None, None) => break,
                (Some(_), None) => self.closed.record(&self.flows.next().expect("peeked")),
                (None, Some(_)) => self.status.next().expect("peeked"),
                (Some(f), Some(s)) => {
                    if self.closed.sort_key(f) <= s.sort_key() {
                        let f = self.flows.next().expect("peeked");
                        self.closed.record(&f)
                    } else {
                        self.status.next().expect("peeked")
                    }
                }
            };
            records.push(next);
        }
        let last = self.flows.len() + self.status.len() == 0;
        self.done = last;
        Some(Released {
            records,
            complete_before: if last {
                self.closed.complete_before
            } else {
                self.closed.previous_complete_before
            },
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
                        key: TableKey::new(InterfaceIndex(3), &key, action),
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
}
