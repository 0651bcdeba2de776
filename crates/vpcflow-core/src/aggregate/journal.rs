//! The journal form of the aggregation state and of closed windows: what the
//! durability journal of `vpcflow run` writes at every sync and reads back
//! at start-up (framing, checksums and files are the journal's business).
//!
//! [`Aggregator::encode_state`] writes either the whole state or only what
//! changed since its previous call: the sums of flows added or updated
//! (tracked by a flag in each table slot, set on the per-packet path only
//! when it is not set yet), the windows drained since (closed or flushed
//! early), and the small parts in full (clocks, interfaces, every open
//! window's interface sets, tunnelled flows). [`Aggregator::apply_state`]
//! applies a sequence of them in order.
//!
//! Integers are little-endian, flow sums, closed windows' starts and
//! address indices LEB128 varints, keys compact (IPv4 addresses in 4
//! bytes: [`TableKey::encode`]); every list is a `u32` count then its items;
//! every count is checked against what is left, so damaged bytes are an
//! error, never a panic or a huge allocation.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::closed::{ClosedFlow, IdleRun};
use super::entry::{put_varint, take_varint, Counters, TableKey, TunnelKey};
use super::table::WindowTable;
use super::{Aggregator, AggregatorStats, Closed};
use crate::flow::{InterfaceIndex, PacketAddrs};
use crate::record::{FlowRecord, LogStatus};
use crate::tcp_flags::TcpFlags;

/// Journal bytes that cannot be applied (names what is wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDecodeError(pub &'static str);

impl fmt::Display for StateDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed aggregation state ({})", self.0)
    }
}

impl std::error::Error for StateDecodeError {}

type Result<T> = std::result::Result<T, StateDecodeError>;

/// Reads journal bytes, every read checked against what is left.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(StateDecodeError(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    /// A `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }

    /// A `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }

    /// A `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }

    /// A list count whose items take at least `item_len` bytes each.
    pub fn count(&mut self, item_len: usize, what: &'static str) -> Result<usize> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(item_len.max(1)) > self.bytes.len() {
            return Err(StateDecodeError(what));
        }
        Ok(n)
    }

    fn option_u64(&mut self, what: &'static str) -> Result<Option<u64>> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => Ok(Some(self.u64(what)?)),
            _ => Err(StateDecodeError(what)),
        }
    }

    /// A LEB128 varint.
    pub fn varint(&mut self, what: &'static str) -> Result<u64> {
        take_varint(&mut self.bytes).ok_or(StateDecodeError(what))
    }

    fn key(&mut self) -> Result<TableKey> {
        TableKey::decode(&mut self.bytes).ok_or(StateDecodeError("flow key"))
    }

    fn counters(&mut self) -> Result<Counters> {
        let packets = self.varint("flow sums")?;
        let bytes = self.varint("flow sums")?;
        let first = self.u16("flow sums")?;
        let last = self.u16("flow sums")?;
        let tcp_flags = TcpFlags(self.u8("flow sums")?);
        if first > last {
            return Err(StateDecodeError("flow times"));
        }
        Ok(Counters {
            packets,
            bytes,
            first,
            last,
            tcp_flags,
        })
    }

    fn addr(&mut self) -> Result<IpAddr> {
        match self.u8("address")? {
            4 => {
                let b: [u8; 4] = self.take(4, "address")?.try_into().unwrap();
                Ok(IpAddr::V4(Ipv4Addr::from(b)))
            }
            6 => {
                let b: [u8; 16] = self.take(16, "address")?.try_into().unwrap();
                Ok(IpAddr::V6(Ipv6Addr::from(b)))
            }
            _ => Err(StateDecodeError("address")),
        }
    }

    fn interfaces(&mut self) -> Result<Vec<InterfaceIndex>> {
        let n = self.count(4, "interfaces")?;
        (0..n)
            .map(|_| Ok(InterfaceIndex(self.u32("interfaces")?)))
            .collect()
    }
}

/// Fewest bytes of one encoded flow entry: key and sums (varint packets
/// and bytes, times, flags).
const ENTRY_LEN: usize = TableKey::MIN_ENCODED_LEN + 7;

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_option(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_u64(out, v);
        }
    }
}

fn put_counters(out: &mut Vec<u8>, c: &Counters) {
    put_varint(out, c.packets);
    put_varint(out, c.bytes);
    out.extend_from_slice(&c.first.to_le_bytes());
    out.extend_from_slice(&c.last.to_le_bytes());
    out.push(c.tcp_flags.value());
}

fn put_addr(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
}

fn put_interfaces<'a>(out: &mut Vec<u8>, list: impl ExactSizeIterator<Item = &'a InterfaceIndex>) {
    put_u32(out, list.len() as u32);
    for i in list {
        put_u32(out, i.0);
    }
}

/// Placeholder of a list count, filled in by [`end_count`].
fn start_count(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&[0; 4]);
    out.len() - 4
}

fn end_count(out: &mut [u8], at: usize, n: usize) {
    out[at..at + 4].copy_from_slice(&(n as u32).to_le_bytes());
}

const STATS_FIELDS: usize = 8;

fn stats_fields(s: &mut AggregatorStats) -> [&mut u64; STATS_FIELDS] {
    [
        &mut s.ok_records,
        &mut s.nodata_records,
        &mut s.skipdata_records,
        &mut s.late_updates,
        &mut s.overflow_flushes,
        &mut s.overflow_dropped_updates,
        &mut s.nodata_gaps_skipped,
        &mut s.lost_units,
    ]
}

impl Aggregator {
    /// Appends the aggregation state to `out`: all of it when `full`, else
    /// what changed since the previous call. Either way the changes are
    /// taken: the next call without `full` writes what changes after this one.
    pub fn encode_state(&mut self, full: bool, out: &mut Vec<u8>) {
        self.tracking = true;
        out.push(u8::from(full));
        put_option(out, self.newest_secs);
        put_option(out, self.next_unclosed);
        put_u64(out, self.complete_before);
        put_u64(out, self.closed.complete_before);
        put_u64(out, self.flows_in_last_window as u64);
        let mut stats = self.stats;
        for v in stats_fields(&mut stats) {
            put_u64(out, *v);
        }
        put_interfaces(out, self.known_interfaces.iter());
        let drained = std::mem::take(&mut self.drained);
        if full {
            put_u32(out, 0);
        } else {
            put_u32(out, drained.len() as u32);
            for w in &drained {
                put_u64(out, *w);
            }
        }
        put_u32(out, self.windows.len() as u32);
        for (&start, table) in &mut self.windows {
            put_u64(out, start);
            put_interfaces(out, table.active().iter());
            put_interfaces(out, table.lost.iter());
            put_u32(out, table.tunnelled.len() as u32);
            for (t, c) in &table.tunnelled {
                t.base.encode(out);
                put_addr(out, t.inner.src);
                put_addr(out, t.inner.dst);
                put_counters(out, c);
            }
            let at = start_count(out);
            let mut n = 0;
            let mut put = |key: TableKey, c: Counters| {
                key.encode(out);
                put_counters(out, &c);
                n += 1;
            };
            if full {
                table.flows.for_each_clean(&mut put);
            } else {
                table.flows.take_dirty(&mut put);
            }
            end_count(out, at, n);
        }
    }

    /// Applies one [`encode_state`](Self::encode_state) result: a full
    /// state replaces everything, changes are applied over what is there.
    pub fn apply_state(&mut self, bytes: &[u8]) -> Result<()> {
        let mut r = Reader::new(bytes);
        let full = match r.u8("kind")? {
            0 => false,
            1 => true,
            _ => return Err(StateDecodeError("kind")),
        };
        let newest_secs = r.option_u64("clocks")?;
        let next_unclosed = r.option_u64("clocks")?;
        let complete_before = r.u64("clocks")?;
        let handed_over = r.u64("clocks")?;
        let flows_in_last_window = r.u64("clocks")?;
        let mut stats = AggregatorStats::default();
        for v in stats_fields(&mut stats) {
            *v = r.u64("counters")?;
        }
        let known = r.interfaces()?;
        let n = r.count(8, "drained windows")?;
        let drained: Vec<u64> = (0..n)
            .map(|_| r.u64("drained windows"))
            .collect::<Result<_>>()?;
        if full {
            self.windows.clear();
        }
        for w in drained {
            if let Some(table) = self.windows.get_mut(&w) {
                *table = WindowTable::default();
            }
        }
        let n = r.count(8, "windows")?;
        let mut open = BTreeSet::new();
        let interval = self.interval_secs;
        for _ in 0..n {
            let start = r.u64("window start")?;
            if start % interval != 0 {
                return Err(StateDecodeError("window start"));
            }
            open.insert(start);
            let active: BTreeSet<InterfaceIndex> = r.interfaces()?.into_iter().collect();
            let lost: BTreeSet<InterfaceIndex> = r.interfaces()?.into_iter().collect();
            let table = self.windows.entry(start).or_default();
            table.set_active(active);
            table.lost = lost;
            table.tunnelled.clear();
            let tunnelled = r.count(ENTRY_LEN + 10, "tunnelled flows")?;
            for _ in 0..tunnelled {
                let base = r.key()?;
                let inner = PacketAddrs {
                    src: r.addr()?,
                    dst: r.addr()?,
                };
                let c = r.counters()?;
                table.tunnelled.insert(TunnelKey { base, inner }, c);
            }
            let flows = r.count(ENTRY_LEN, "flows")?;
            let hasher = &self.hasher;
            for _ in 0..flows {
                let key = r.key()?;
                let c = r.counters()?;
                table.flows.upsert(hasher.hash_one(key), start, key, c);
            }
        }
        if !r.is_empty() {
            return Err(StateDecodeError("trailing bytes"));
        }
        self.windows.retain(|w, _| open.contains(w));
        self.open_flows = self
            .windows
            .values()
            .map(|t| t.flows.len() + t.tunnelled.len())
            .sum();
        self.newest_secs = newest_secs;
        self.next_unclosed = next_unclosed;
        self.complete_before = complete_before;
        self.closed = Closed {
            complete_before: handed_over,
            ..Closed::default()
        };
        self.flows_in_last_window = flows_in_last_window as usize;
        self.stats = stats;
        self.known_interfaces = known.into_iter().collect();
        self.known_list = None;
        self.drained.clear();
        Ok(())
    }
}

impl Closed {
    /// `complete_before` of the previous hand-over.
    pub fn previous_complete_before(&self) -> u64 {
        self.previous_complete_before
    }

    /// Appends the records to `out` (journal form).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.complete_before);
        put_u64(out, self.previous_complete_before);
        put_u32(out, self.flows.len() as u32);
        // Windows as the difference from the previous flow's (zigzag): a
        // hand-over holds few windows, so this is mostly one byte.
        let mut previous = 0u64;
        for f in &self.flows {
            let delta = f.window.wrapping_sub(previous) as i64;
            put_varint(out, ((delta << 1) ^ (delta >> 63)) as u64);
            previous = f.window;
            f.key.encode(out);
            put_counters(out, &f.counters);
            put_varint(out, u64::from(f.inner));
        }
        put_u32(out, self.inner.len() as u32);
        for a in &self.inner {
            put_addr(out, a.src);
            put_addr(out, a.dst);
        }
        put_u32(out, self.status.len() as u32);
        for s in &self.status {
            put_u32(out, s.interface.0);
            put_u64(out, s.window_start);
            put_u64(out, s.start);
            put_u64(out, s.end);
            out.push(match s.status {
                LogStatus::Ok => 0,
                LogStatus::NoData => 1,
                LogStatus::SkipData => 2,
            });
        }
        put_u32(out, self.idle.len() as u32);
        for run in &self.idle {
            put_u64(out, run.from);
            put_u64(out, run.to);
            put_u64(out, run.step);
            put_interfaces(out, run.interfaces.iter());
        }
    }

    /// Records written by [`Closed::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Closed> {
        let mut r = Reader::new(bytes);
        let complete_before = r.u64("hand-over")?;
        let previous_complete_before = r.u64("hand-over")?;
        let n = r.count(1 + ENTRY_LEN + 1, "closed flows")?;
        let mut flows = Vec::with_capacity(n);
        let mut previous = 0u64;
        for _ in 0..n {
            let zigzag = r.varint("closed flow")?;
            let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
            let window = previous.wrapping_add(delta as u64);
            previous = window;
            let key = r.key()?;
            let counters = r.counters()?;
            let inner = u32::try_from(r.varint("closed flow")?)
                .map_err(|_| StateDecodeError("closed flow"))?;
            flows.push(ClosedFlow {
                window,
                key,
                counters,
                inner,
            });
        }
        let n = r.count(10, "packet addresses")?;
        let mut inner = Vec::with_capacity(n);
        for _ in 0..n {
            inner.push(PacketAddrs {
                src: r.addr()?,
                dst: r.addr()?,
            });
        }
        if flows.iter().any(|f| f.inner as usize > inner.len()) {
            return Err(StateDecodeError("packet address index"));
        }
        let n = r.count(29, "status records")?;
        let mut status = Vec::with_capacity(n);
        for _ in 0..n {
            let interface = InterfaceIndex(r.u32("status record")?);
            let window_start = r.u64("status record")?;
            let start = r.u64("status record")?;
            let end = r.u64("status record")?;
            let s = match r.u8("status record")? {
                1 => LogStatus::NoData,
                2 => LogStatus::SkipData,
                _ => return Err(StateDecodeError("status record")),
            };
            status.push(FlowRecord {
                interface,
                window_start,
                start,
                end,
                traffic: None,
                status: s,
            });
        }
        let n = r.count(28, "idle runs")?;
        let mut idle = Vec::with_capacity(n);
        for _ in 0..n {
            let from = r.u64("idle run")?;
            let to = r.u64("idle run")?;
            let step = r.u64("idle run")?;
            let interfaces: Arc<[InterfaceIndex]> = r.interfaces()?.into();
            if step == 0 || to < from || (to - from) % step != 0 {
                return Err(StateDecodeError("idle run"));
            }
            idle.push(IdleRun {
                from,
                to,
                step,
                interfaces,
            });
        }
        if !r.is_empty() {
            return Err(StateDecodeError("trailing bytes"));
        }
        Ok(Closed {
            flows,
            inner,
            status,
            idle,
            complete_before,
            previous_complete_before,
        })
    }

    /// Keeps only the records whose `end` satisfies `keep`, which must hold
    /// for every `end` after one where it holds (the records of slots not
    /// sealed yet); `complete_before` and the order of the rest are kept.
    pub fn retain_ends(&mut self, keep: impl Fn(u64) -> bool) {
        self.flows
            .retain(|f| keep(f.window + u64::from(f.counters.last)));
        self.status.retain(|s| keep(s.end));
        for run in &mut self.idle {
            while run.from < run.to && !keep(run.from + run.step - 1) {
                run.from += run.step;
            }
        }
        self.idle.retain(|run| run.from < run.to);
    }
}

#[cfg(test)]
mod tests;
