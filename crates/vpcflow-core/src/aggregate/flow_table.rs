//! The flow table of one window: flows kept in insertion order in a dense
//! array, found through an open-addressing index of small slots (linear
//! probing), so that both loads of a lookup can be started ahead of it.
//!
//! Flows are looked up once per packet (or per exported record), at random
//! places of a table far larger than the CPU caches: each lookup misses the
//! cache. [`FlowTable::prefetch`] and [`FlowTable::prefetch_flow`] let the
//! caller start those misses a few lookups ahead (see
//! `Aggregator::observe_batch`); no general-purpose map exposes that.
//!
//! The index holds 8 bytes per slot and the flows are kept in the form a
//! closed window hands them over ([`ClosedFlow`], 80 bytes), so a table that
//! grows re-places small slots only, new flows are written at the end of the
//! array instead of at a random place, memory holds no empty 80-byte slots,
//! and a closing window hands its flows over without copying them.

use super::closed::ClosedFlow;
use super::entry::{Counters, TableKey};

/// One index slot: a 32-bit tag from the hash (0 = empty) and the position of
/// the flow in [`FlowTable::flows`].
#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    position: u32,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 8);

/// Flows by key. Only inserts, updates and a full drain: windows are emptied as
/// a whole. Hashes are computed by the caller (one hasher for all windows, so a
/// key can be hashed before its window's table exists).
#[derive(Debug)]
pub(super) struct FlowTable {
    index: Vec<Slot>,
    flows: Vec<ClosedFlow>,
    /// Flows before this position were handed to the durability journal
    /// ([`FlowTable::take_dirty`]); the ones after are new since.
    taken: usize,
    /// Positions of flows before `taken` changed since, each once.
    changed: Vec<u32>,
    /// The most flows the table will be asked to hold (0: unknown), see
    /// [`FlowTable::with_room`].
    room: usize,
    /// One bit per flow before `taken`: whether it is in `changed`.
    changed_bits: Vec<u64>,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable::with_capacity(0)
    }
}

/// `capacity` empty index slots (in huge pages if many, see
/// [`advise_huge_pages`]).
fn empty_slots(capacity: usize) -> Vec<Slot> {
    if capacity == 0 {
        return Vec::new();
    }
    let layout = std::alloc::Layout::array::<Slot>(capacity).expect("flow table size");
    // A zeroed allocation, not a vector filled with empty slots: a large one
    // comes zeroed from the system, and filling it would write every page
    // once more.
    // SAFETY: the layout's size is not zero (capacity > 0, slots are 8 bytes).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Slot>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    advise_huge_pages(ptr.cast(), layout.size());
    // SAFETY: allocated by the global allocator with the layout of a vector of
    // `capacity` slots; a slot is two integers, and all-zero bytes are an
    // empty slot (tag 0), so all `capacity` slots are initialized.
    unsafe { Vec::from_raw_parts(ptr, capacity, capacity) }
}

/// Asks for the `bytes` at `at` to be backed by huge pages where the system
/// gives them on request (Linux transparent huge pages in `madvise` mode), if
/// they are many: lookups land at random places of megabytes, and with 4 KiB
/// pages nearly every one also misses the TLB.
fn advise_huge_pages(at: *const u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= HUGE_PAGE_FROM {
        const PAGE: usize = 4096;
        let start = (at as usize).next_multiple_of(PAGE);
        let end = (at as usize + bytes) / PAGE * PAGE;
        // SAFETY: the range lies inside one allocation of the caller;
        // MADV_HUGEPAGE only changes how its pages will be backed. Failure (no
        // THP support) leaves ordinary pages.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (at, bytes);
}

/// Allocations of at least this many bytes ask for huge pages.
const HUGE_PAGE_FROM: usize = 4 << 20;

/// Flows from which a table with a known room reserves all of it (as many
/// as ask for huge pages): smaller tables grow by doubling and hold little
/// address space.
const ROOM_FROM: usize = HUGE_PAGE_FROM / std::mem::size_of::<ClosedFlow>();

/// Index slots for `flows` flows at a load of at most 3/4.
fn capacity_for(flows: usize) -> usize {
    if flows == 0 {
        0
    } else {
        (flows * 4 / 3 + 1).next_power_of_two().max(16)
    }
}

/// How many slots from its home [`FlowTable::prefetch_flow`] looks for a key:
/// one cache line of the index.
const PREFETCH_PROBES: usize = 8;

impl FlowTable {
    /// A table with room for `flows` flows before it grows.
    pub fn with_capacity(flows: usize) -> FlowTable {
        let mut table = FlowTable {
            index: empty_slots(capacity_for(flows)),
            flows: Vec::new(),
            taken: 0,
            changed: Vec::new(),
            changed_bits: Vec::new(),
            room: 0,
        };
        table.reserve_flows(flows);
        table
    }

    /// The table, told that it holds at most `room` flows (the aggregator's
    /// bound on open flows). Once it outgrows [`ROOM_FROM`] flows, room for
    /// all of them is reserved at once instead of doubling again and again:
    /// that is address space only (pages are backed as flows are appended,
    /// in order), and the flows are not copied by each growth. A
    /// reservation the system refuses falls back to doubling.
    pub fn with_room(mut self, room: usize) -> FlowTable {
        self.room = room;
        self
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    #[inline(always)]
    fn tag(hash: u64) -> u32 {
        (hash >> 32) as u32 | 1
    }

    /// Where a key whose tag is `tag` is looked for first (before the mask):
    /// taken from the tag's hash bits, so that a growing index places its
    /// slots again without hashing the keys.
    #[inline(always)]
    fn home(tag: u32) -> usize {
        (tag >> 1) as usize
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.index.len().wrapping_sub(1)
    }

    /// Starts loading the index slot where `hash` is looked for. Call it
    /// before [`FlowTable::prefetch_flow`] of the same hash, early enough
    /// for the slot to arrive.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        if let Some(slot) = self.index.get(Self::home(Self::tag(hash)) & self.mask()) {
            prefetch_bytes(slot, 1);
        }
    }

    /// Starts loading the flow that `hash` probably belongs to (the first
    /// slot with its tag near its home), if any: reads the index, which
    /// [`FlowTable::prefetch`] should have loaded.
    #[inline(always)]
    pub fn prefetch_flow(&self, hash: u64) {
        if self.index.is_empty() {
            return;
        }
        let mask = self.mask();
        let tag = Self::tag(hash);
        let mut i = Self::home(tag) & mask;
        for _ in 0..PREFETCH_PROBES {
            let slot = self.index[i];
            if slot.tag == 0 {
                return;
            }
            if slot.tag == tag {
                if let Some(entry) = self.flows.get(slot.position as usize) {
                    // An 80-byte flow spans two cache lines.
                    prefetch_bytes(entry, std::mem::size_of::<ClosedFlow>());
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// The position of `key` (whose hash is `hash`) in the flows, if present.
    #[inline(always)]
    fn find(&self, hash: u64, key: &TableKey) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.mask();
        let tag = Self::tag(hash);
        let mut i = Self::home(tag) & mask;
        loop {
            let slot = self.index[i];
            if slot.tag == 0 {
                return None;
            }
            if slot.tag == tag && self.flows[slot.position as usize].key == *key {
                return Some(slot.position as usize);
            }
            i = (i + 1) & mask;
        }
    }

    /// The sums of `key` (whose hash is `hash`), if present.
    #[inline(always)]
    pub fn get_mut(&mut self, hash: u64, key: &TableKey) -> Option<&mut Counters> {
        let position = self.find(hash, key)?;
        if position < self.taken {
            let (word, bit) = (position / 64, 1u64 << (position % 64));
            if self.changed_bits[word] & bit == 0 {
                self.changed_bits[word] |= bit;
                self.changed.push(position as u32);
            }
        }
        Some(&mut self.flows[position].counters)
    }

    /// Adds `key` of the window starting at `window`; it must not be present.
    #[inline]
    pub fn insert_new(&mut self, hash: u64, window: u64, key: TableKey, counters: Counters) {
        if (self.flows.len() + 1) * 4 > self.index.len() * 3 {
            self.grow();
        }
        if self.flows.len() == self.flows.capacity() {
            self.grow_flows();
        }
        let position = u32::try_from(self.flows.len()).expect("a flow table holds < 2^32 flows");
        self.place(Slot {
            tag: Self::tag(hash),
            position,
        });
        self.flows.push(ClosedFlow {
            window,
            key,
            counters,
            inner: 0,
        });
    }

    /// Puts `slot` in the first free place from its home.
    #[inline(always)]
    fn place(&mut self, slot: Slot) {
        let mask = self.mask();
        let mut i = Self::home(slot.tag) & mask;
        while self.index[i].tag != 0 {
            i = (i + 1) & mask;
        }
        self.index[i] = slot;
    }

    /// Makes room for `more` flows (in huge pages if many).
    #[cold]
    fn reserve_flows(&mut self, more: usize) {
        self.flows.reserve_exact(more);
        self.advise_flows();
    }

    /// Makes room for more flows when the array is full: for the rest of
    /// its room at once past [`ROOM_FROM`] flows, else as many again.
    #[cold]
    fn grow_flows(&mut self) {
        let len = self.flows.len();
        if len >= ROOM_FROM
            && self.room > len
            && self.flows.try_reserve_exact(self.room - len).is_ok()
        {
            self.advise_flows();
            return;
        }
        self.reserve_flows(len.max(16));
    }

    fn advise_flows(&self) {
        let bytes = self.flows.capacity() * std::mem::size_of::<ClosedFlow>();
        advise_huge_pages(self.flows.as_ptr().cast(), bytes);
    }

    #[cold]
    fn grow(&mut self) {
        let capacity = (self.index.len() * 2).max(16);
        let old = std::mem::replace(&mut self.index, empty_slots(capacity));
        for slot in old.into_iter().filter(|s| s.tag != 0) {
            self.place(slot);
        }
    }

    /// Hands every flow changed or added since the last call to `f` (each
    /// once).
    pub fn take_dirty(&mut self, mut f: impl FnMut(TableKey, Counters)) {
        for &position in &self.changed {
            let flow = &self.flows[position as usize];
            f(flow.key, flow.counters);
        }
        for flow in &self.flows[self.taken..] {
            f(flow.key, flow.counters);
        }
        self.all_taken();
    }

    /// Hands every flow to `f`; later changes are counted from here.
    pub fn for_each_clean(&mut self, mut f: impl FnMut(TableKey, Counters)) {
        for flow in &self.flows {
            f(flow.key, flow.counters);
        }
        self.all_taken();
    }

    fn all_taken(&mut self) {
        self.taken = self.flows.len();
        self.changed.clear();
        self.changed_bits.clear();
        self.changed_bits.resize(self.taken.div_ceil(64), 0);
    }

    /// Sets the sums of `key` (whose hash is `hash`) of the window starting
    /// at `window`, adding it if absent; whether it was added. Used when state
    /// is restored.
    pub fn upsert(&mut self, hash: u64, window: u64, key: TableKey, counters: Counters) -> bool {
        match self.get_mut(hash, &key) {
            Some(c) => {
                *c = counters;
                false
            }
            None => {
                self.insert_new(hash, window, key, counters);
                true
            }
        }
    }

    /// Takes every flow, in the order they were added, and leaves the table
    /// empty, without memory (a closed window's table is dropped next; one
    /// flushed early grows again).
    pub fn drain(&mut self) -> Vec<ClosedFlow> {
        self.index = Vec::new();
        let flows = std::mem::take(&mut self.flows);
        self.all_taken();
        flows
    }
}

/// Starts loading the cache lines of the `len` bytes at `at` (first and last
/// byte: at most two lines).
#[inline(always)]
fn prefetch_bytes<T>(at: &T, len: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
    #[allow(unused_unsafe)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let first = (at as *const T).cast::<i8>();
        _mm_prefetch::<_MM_HINT_T0>(first);
        if len > 1 {
            _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(len - 1));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, len);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    use super::*;
    use crate::flow::{Action, FlowKey, InterfaceIndex};
    use crate::tcp_flags::TcpFlags;

    fn key(n: u32) -> TableKey {
        let k = FlowKey {
            src: std::net::Ipv4Addr::from(n).into(),
            dst: "10.0.0.1".parse().unwrap(),
            src_port: (n % 7) as u16,
            dst_port: 80,
            protocol: 6,
        };
        TableKey::new(InterfaceIndex(n % 3), &k, Action::Accept, None)
    }

    fn counters(packets: u64) -> Counters {
        Counters {
            packets,
            bytes: packets * 100,
            first: 0,
            last: 0,
            tcp_flags: TcpFlags::NONE,
        }
    }

    fn hasher() -> impl Fn(&TableKey) -> u64 + Copy {
        |k: &TableKey| foldhash::fast::FixedState::with_seed(42).hash_one(k)
    }

    #[test]
    fn behaves_like_a_map_through_growth_and_drain() {
        let hash = hasher();
        let mut table = FlowTable::with_capacity(0);
        let mut model: HashMap<u32, u64> = HashMap::new();
        for round in 0..3 {
            for i in 0..5000u32 {
                let n = (i * 7919) % 3000 + round;
                let k = key(n);
                let h = hash(&k);
                table.prefetch(h);
                table.prefetch_flow(h);
                match table.get_mut(h, &k) {
                    Some(c) => c.packets += 1,
                    None => table.insert_new(h, 600, k, counters(1)),
                }
                *model.entry(n).or_default() += 1;
            }
            assert_eq!(table.len(), model.len());
            let mut drained: HashMap<TableKey, u64> = HashMap::new();
            for f in table.drain() {
                assert_eq!((f.window, f.inner), (600, 0));
                assert!(
                    drained.insert(f.key, f.counters.packets).is_none(),
                    "a key twice"
                );
            }
            assert_eq!(table.len(), 0);
            let expected: HashMap<TableKey, u64> =
                model.drain().map(|(n, p)| (key(n), p)).collect();
            assert_eq!(drained, expected);
            let k = key(1);
            assert!(table.get_mut(hash(&k), &k).is_none(), "empty after a drain");
        }
    }

    #[test]
    fn finds_keys_whose_tags_collide() {
        // Hashes equal in their top 32 bits share tag and home: the keys
        // themselves tell the flows apart.
        let mut table = FlowTable::default();
        for n in 0..40 {
            table.insert_new(7 << 32, 0, key(n), counters(u64::from(n) + 1));
        }
        for n in 0..40 {
            let c = table.get_mut(7 << 32, &key(n)).expect("present");
            assert_eq!(c.packets, u64::from(n) + 1);
        }
        assert!(table.get_mut(7 << 32, &key(40)).is_none());
    }

    #[test]
    fn take_dirty_hands_each_changed_flow_once() {
        let hash = hasher();
        let mut table = FlowTable::default();
        let taken = |table: &mut FlowTable| {
            let mut v = Vec::new();
            table.take_dirty(|k, c| v.push((k, c.packets)));
            v
        };
        for n in 0..100 {
            table.insert_new(hash(&key(n)), 0, key(n), counters(1));
        }
        assert_eq!(taken(&mut table).len(), 100, "new flows are changes");
        assert!(taken(&mut table).is_empty(), "nothing changed since");
        for n in [3, 50, 3] {
            table.get_mut(hash(&key(n)), &key(n)).unwrap().packets += 1;
        }
        table.insert_new(hash(&key(100)), 0, key(100), counters(9));
        let mut changed = taken(&mut table);
        changed.sort_by_key(|(_, p)| *p);
        assert_eq!(changed, vec![(key(50), 2), (key(3), 3), (key(100), 9)]);
        let mut all = 0;
        table.for_each_clean(|_, _| all += 1);
        assert_eq!(all, 101);
        assert!(taken(&mut table).is_empty(), "all clean after a full pass");
        table.get_mut(hash(&key(7)), &key(7)).unwrap().packets += 1;
        assert_eq!(taken(&mut table), vec![(key(7), 2)]);
        assert_eq!(table.drain().len(), 101);
        assert!(taken(&mut table).is_empty(), "nothing left after a drain");
        table.insert_new(hash(&key(7)), 0, key(7), counters(4));
        assert_eq!(taken(&mut table), vec![(key(7), 4)]);
    }

    #[test]
    fn zeroed_slots_are_empty() {
        for capacity in [16, 1 << 20] {
            let slots = empty_slots(capacity);
            assert_eq!(slots.len(), capacity);
            assert!(slots.iter().all(|s| s.tag == 0 && s.position == 0));
        }
    }

    #[test]
    fn a_table_with_room_reserves_it_once_past_room_from_and_keeps_its_flows() {
        let hash = hasher();
        let room = ROOM_FROM * 4;
        let flows = ROOM_FROM as u32 * 2;
        let mut table = FlowTable::default().with_room(room);
        let mut capacities = Vec::new();
        for n in 0..flows {
            let k = key(n);
            table.insert_new(hash(&k), 0, k, counters(n as u64 + 1));
            if capacities.last() != Some(&table.flows.capacity()) {
                capacities.push(table.flows.capacity());
            }
        }
        assert_eq!(table.flows.capacity(), room, "{capacities:?}");
        assert!(
            capacities[..capacities.len() - 1]
                .windows(2)
                .all(|w| w[1] == 2 * w[0] && w[0] < ROOM_FROM),
            "doubling below ROOM_FROM: {capacities:?}"
        );
        for n in (0..flows).step_by(997) {
            let k = key(n);
            let c = table.get_mut(hash(&k), &k).expect("kept");
            assert_eq!((c.packets, c.bytes), (n as u64 + 1, (n as u64 + 1) * 100));
        }
        // Without room, the array doubles.
        let mut plain = FlowTable::default();
        for n in 0..flows {
            let k = key(n);
            plain.insert_new(hash(&k), 0, k, counters(1));
        }
        assert!(plain.flows.capacity() < room);
    }

    #[test]
    fn sized_tables_do_not_grow_and_stay_under_three_quarters() {
        let hash = hasher();
        let mut table = FlowTable::with_capacity(1000);
        let capacity = table.index.len();
        for n in 0..1000 {
            let k = key(n);
            table.insert_new(hash(&k), 0, k, counters(1));
        }
        assert_eq!(table.index.len(), capacity);
        assert!(table.len() * 4 <= capacity * 3);
        // An empty table holds nothing and finds nothing.
        let mut empty = FlowTable::default();
        let k = key(5);
        empty.prefetch(hash(&k));
        empty.prefetch_flow(hash(&k));
        assert!(empty.get_mut(hash(&k), &k).is_none());
    }
}
