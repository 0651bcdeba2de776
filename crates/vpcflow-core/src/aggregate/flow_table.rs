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
            slots: vec![EMPTY; capacity_for(flows)],
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
        let slot = &self.slots[hash as usize & self.mask()];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (slot as *const Slot).cast::<i8>(),
            );
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
        let mut i = hash as usize & mask;
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

    /// Adds `key`, which must not be present. `rehash` gives the hash of a key
    /// when the table grows.
    #[inline]
    pub fn insert_new(
        &mut self,
        hash: u64,
        key: TableKey,
        counters: Counters,
        rehash: impl Fn(&TableKey) -> u64,
    ) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow(rehash);
        }
        self.place(hash, key, counters);
        self.len += 1;
    }

    #[inline(always)]
    fn place(&mut self, hash: u64, key: TableKey, counters: Counters) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while self.slots[i].tag != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            tag: Self::tag(hash) | DIRTY,
            key,
            counters,
        };
        self.dirty.push(i as u32);
    }

    #[cold]
    fn grow(&mut self, rehash: impl Fn(&TableKey) -> u64) {
        let capacity = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; capacity]);
        // Positions change: the changed slots are found again by their flag.
        self.dirty.clear();
        for slot in old.into_iter().filter(|s| s.tag != 0) {
            let dirty = slot.dirty();
            self.place(rehash(&slot.key), slot.key, slot.counters);
            if !dirty {
                let i = self.dirty.pop().expect("just placed") as usize;
                self.slots[i].tag &= !DIRTY;
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
    pub fn upsert(
        &mut self,
        hash: u64,
        key: TableKey,
        counters: Counters,
        rehash: impl Fn(&TableKey) -> u64,
    ) -> bool {
        match self.get_mut(hash, &key) {
            Some(c) => {
                *c = counters;
                false
            }
            None => {
                self.insert_new(hash, key, counters, rehash);
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
        TableKey::new(InterfaceIndex(n % 3), &k, Action::Accept)
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
                    None => table.insert_new(h, k, counters(1), hash),
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
    fn sized_tables_do_not_grow_and_stay_under_three_quarters() {
        let hash = hasher();
        let mut table = FlowTable::with_capacity(1000);
        let capacity = table.slots.len();
        for n in 0..1000 {
            let k = key(n);
            table.insert_new(hash(&k), k, counters(1), |_| unreachable!("no growth"));
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
