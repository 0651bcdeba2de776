//! The flow table of one window: open addressing with linear probing over
//! compact slots, so that a lookup can be prefetched before it is made.
//!
//! Flows are looked up once per packet, at random places of a table far larger
//! than the CPU caches: each lookup is a cache miss. [`FlowTable::prefetch`]
//! lets the caller start the miss of a packet a few packets ahead (see
//! `Aggregator::observe_batch`); no general-purpose map exposes that.

use super::entry::{Counters, TableKey};

/// One slot: a 32-bit tag from the hash (0 = empty), the key and its sums.
/// Bit [`DIRTY`] of the tag says the sums changed since the durability
/// journal last took the changes (a bit of the tag, so the slot stays 72
/// bytes and the flag is in cache when it is set).
#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    key: TableKey,
    counters: Counters,
}

/// The tag bit of a changed slot (bit 0 marks an occupied one).
const DIRTY: u32 = 2;

impl Slot {
    #[inline(always)]
    fn dirty(&self) -> bool {
        self.tag & DIRTY != 0
    }
}

/// An empty slot: all zero bytes, which is how new tables are made
/// ([`empty_slots`]).
#[cfg(test)]
const EMPTY: Slot = Slot {
    tag: 0,
    key: TableKey::ZERO,
    counters: Counters::ZERO,
};

const _: () = assert!(std::mem::size_of::<Slot>() == 72);

/// Flows by key. Only inserts, updates and a full drain: windows are emptied as
/// a whole. Hashes are computed by the caller (one hasher for all windows, so a
/// key can be hashed before its window's table exists).
#[derive(Debug)]
pub(super) struct FlowTable {
    slots: Vec<Slot>,
    len: usize,
    /// Slots changed since [`FlowTable::take_dirty`] (each once).
    dirty: Vec<u32>,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable::with_capacity(0)
    }
}

/// `capacity` empty slots. A large table is asked to be backed by huge pages
/// where the system gives them on request (Linux transparent huge pages in
/// `madvise` mode): lookups land at random places of tens of megabytes, and
/// with 4 KiB pages nearly every one also misses the TLB.
fn empty_slots(capacity: usize) -> Vec<Slot> {
    if capacity == 0 {
        return Vec::new();
    }
    let layout = std::alloc::Layout::array::<Slot>(capacity).expect("flow table size");
    // A zeroed allocation, not a vector filled with EMPTY: a large one comes
    // zeroed from the system, and filling it would write every page once more.
    // SAFETY: the layout's size is not zero (capacity > 0, slots are 72 bytes).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Slot>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    #[cfg(target_os = "linux")]
    if layout.size() >= HUGE_PAGE_FROM {
        const PAGE: usize = 4096;
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + layout.size()) / PAGE * PAGE;
        // SAFETY: the range lies inside the allocation just made; MADV_HUGEPAGE
        // only changes how its pages will be backed. Failure (no THP support)
        // leaves ordinary pages.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
    // SAFETY: allocated by the global allocator with the layout of a vector of
    // `capacity` slots; a slot is integers only, and all-zero bytes are EMPTY
    // (tested), so all `capacity` slots are initialized.
    unsafe { Vec::from_raw_parts(ptr, capacity, capacity) }
}

/// Tables of at least this many bytes ask for huge pages.
#[cfg(target_os = "linux")]
const HUGE_PAGE_FROM: usize = 4 << 20;

/// Slots for `flows` flows at a load of at most 3/4.
fn capacity_for(flows: usize) -> usize {
    if flows == 0 {
        0
    } else {
        (flows * 4 / 3 + 1).next_power_of_two().max(16)
    }
}

impl FlowTable {
    /// A table with room for `flows` flows before it grows.
    pub fn with_capacity(flows: usize) -> FlowTable {
        FlowTable {
            slots: empty_slots(capacity_for(flows)),
            len: 0,
            dirty: Vec::new(),
        }
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn tag(hash: u64) -> u32 {
        ((hash >> 32) as u32 | 1) & !DIRTY
    }

    /// Where a key whose tag is `tag` is looked for first (before the mask):
    /// taken from the tag's hash bits, so that a growing table places its
    /// flows again without hashing their keys.
    #[inline(always)]
    fn home(tag: u32) -> usize {
        (tag >> 2) as usize
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Starts loading the slot where `hash` is looked for.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot = &self.slots[Self::home(Self::tag(hash)) & self.mask()];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
        // A 72-byte slot spans two cache lines more often than not: both are
        // loaded (the second address is the slot's last byte).
        #[allow(unused_unsafe)]
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let first = (slot as *const Slot).cast::<i8>();
            _mm_prefetch::<_MM_HINT_T0>(first);
            _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(std::mem::size_of::<Slot>() - 1));
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// The sums of `key` (whose hash is `hash`), if present.
    #[inline(always)]
    pub fn get_mut(&mut self, hash: u64, key: &TableKey) -> Option<&mut Counters> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let tag = Self::tag(hash);
        let mut i = Self::home(tag) & mask;
        loop {
            let slot = &self.slots[i];
            if slot.tag == 0 {
                return None;
            }
            if slot.tag & !DIRTY == tag && slot.key == *key {
                let slot = &mut self.slots[i];
                if !slot.dirty() {
                    slot.tag |= DIRTY;
                    self.dirty.push(i as u32);
                }
                return Some(&mut slot.counters);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `key`, which must not be present.
    #[inline]
    pub fn insert_new(&mut self, hash: u64, key: TableKey, counters: Counters) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let i = self.place(Slot {
            tag: Self::tag(hash) | DIRTY,
            key,
            counters,
        });
        self.dirty.push(i as u32);
        self.len += 1;
    }

    /// Puts `slot` in the first free place from its home; returns the place.
    #[inline(always)]
    fn place(&mut self, slot: Slot) -> usize {
        let mask = self.mask();
        let mut i = Self::home(slot.tag) & mask;
        while self.slots[i].tag != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        i
    }

    #[cold]
    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, empty_slots(capacity));
        // Positions change: the changed slots are found again by their flag.
        self.dirty.clear();
        for slot in old.into_iter().filter(|s| s.tag != 0) {
            let i = self.place(slot);
            if slot.dirty() {
                self.dirty.push(i as u32);
            }
        }
    }

    /// Hands every flow changed since the last call to `f` (each once) and
    /// marks it unchanged.
    pub fn take_dirty(&mut self, mut f: impl FnMut(TableKey, Counters)) {
        for i in self.dirty.drain(..) {
            let slot = &mut self.slots[i as usize];
            if slot.dirty() {
                slot.tag &= !DIRTY;
                f(slot.key, slot.counters);
            }
        }
    }

    /// Hands every flow to `f` and marks all unchanged.
    pub fn for_each_clean(&mut self, mut f: impl FnMut(TableKey, Counters)) {
        self.dirty.clear();
        for slot in self.slots.iter_mut().filter(|s| s.tag != 0) {
            slot.tag &= !DIRTY;
            f(slot.key, slot.counters);
        }
    }

    /// Sets the sums of `key` (whose hash is `hash`), adding it if absent;
    /// whether it was added. Used when state is restored.
    pub fn upsert(&mut self, hash: u64, key: TableKey, counters: Counters) -> bool {
        match self.get_mut(hash, &key) {
            Some(c) => {
                *c = counters;
                false
            }
            None => {
                self.insert_new(hash, key, counters);
                true
            }
        }
    }

    /// Hands every flow to `f` and leaves the table empty.
    pub fn drain(&mut self, mut f: impl FnMut(TableKey, Counters)) {
        for slot in self.slots.iter_mut().filter(|s| s.tag != 0) {
            f(slot.key, slot.counters);
            slot.tag = 0;
        }
        self.len = 0;
        self.dirty.clear();
    }
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
                match table.get_mut(h, &k) {
                    Some(c) => c.packets += 1,
                    None => table.insert_new(h, k, counters(1)),
                }
                *model.entry(n).or_default() += 1;
            }
            assert_eq!(table.len(), model.len());
            let mut drained: HashMap<TableKey, u64> = HashMap::new();
            table.drain(|k, c| {
                assert!(drained.insert(k, c.packets).is_none(), "a key twice");
            });
            assert_eq!(table.len(), 0);
            let expected: HashMap<TableKey, u64> =
                model.drain().map(|(n, p)| (key(n), p)).collect();
            assert_eq!(drained, expected);
            let k = key(1);
            assert!(table.get_mut(hash(&k), &k).is_none(), "empty after a drain");
        }
    }

    #[test]
    fn zeroed_slots_are_empty() {
        for capacity in [16, 1 << 17] {
            let slots = empty_slots(capacity);
            assert_eq!(slots.len(), capacity);
            let parts = |s: &Slot| {
                let c = s.counters;
                (
                    s.tag,
                    s.key,
                    c.packets,
                    c.bytes,
                    c.first,
                    c.last,
                    c.tcp_flags.value(),
                )
            };
            assert!(slots.iter().all(|s| parts(s) == parts(&EMPTY)));
        }
    }

    #[test]
    fn sized_tables_do_not_grow_and_stay_under_three_quarters() {
        let hash = hasher();
        let mut table = FlowTable::with_capacity(1000);
        let capacity = table.slots.len();
        for n in 0..1000 {
            let k = key(n);
            table.insert_new(hash(&k), k, counters(1));
        }
        assert_eq!(table.slots.len(), capacity);
        assert!(table.len() * 4 <= capacity * 3);
        // An empty table holds nothing and finds nothing.
        let mut empty = FlowTable::default();
        let k = key(5);
        empty.prefetch(hash(&k));
        assert!(empty.get_mut(hash(&k), &k).is_none());
    }
}
