//! The flow states by UUID, laid out for memory: a million tracked UUIDs is
//! a normal live load, and this table is most of the converter's memory.
//!
//! Three choices keep it small:
//! * The table is split into [`SHARDS`] maps chosen by the id's top bits. A
//!   hash map grows by allocating a table twice its size and moving every
//!   entry; one map of a million states held both copies at once (about
//!   100 MB more at the peak). A shard grows alone, so growing holds a
//!   sixteenth of that. The shards take unequal shares of the ids (shard `i`
//!   about `2^(i/16)` times shard 0's), so they double at different moments:
//!   memory follows the number of UUIDs in steps of a few percent, at 1.6–1.7
//!   buckets a UUID, where one map (or equal shards) holds anywhere between
//!   1.14 and 2.3 (2.1 at exactly a million: just past a doubling).
//! * The maps hold a 4-byte index into a slab of states in fixed chunks,
//!   not the 72-byte states: a map keeps 40–60 % of its buckets empty, and an
//!   empty bucket then costs 25 bytes instead of 89. The slab grows by a chunk
//!   at a time, and states forgotten leave their place to the next new one.
//! * The key is two `u64`s (8-byte aligned, where a `u128` key would pad every
//!   entry to 16 bytes), and a tunnel's inner addresses, which few flows
//!   have, live in a map of their own rather than in every state.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use vpcflow_core::PacketAddrs;

use super::state::{FlowId, FlowState, IdHasher, IdMap};

/// Number of maps the table is split into.
const SHARDS: usize = 16;

/// Bits of an id that choose its shard.
const TOP_BITS: u32 = 12;
const TOP_VALUES: usize = 1 << TOP_BITS;

/// A [`FlowId`] as two 8-byte words, hashed by its low word (a hash already).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    high: u64,
    low: u64,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.low);
    }
}

impl Key {
    fn of(id: FlowId) -> Key {
        Key {
            high: (id >> 64) as u64,
            low: id as u64,
        }
    }

    fn top_bits(self) -> usize {
        (self.high >> (64 - TOP_BITS)) as usize
    }

    fn id(self) -> FlowId {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }
}

/// The shard of each value of an id's top 12 bits (see the module
/// documentation): shard `i` gets about `2^(i/16)` times shard 0's share of
/// the 4,096 values (177 to 344 of them), so each shard's map doubles at its
/// own number of UUIDs. A table, so that choosing a shard is one load.
fn shard_by_top_bits() -> [u8; TOP_VALUES] {
    let weights: Vec<f64> = (0..SHARDS)
        .map(|i| (i as f64 / SHARDS as f64).exp2())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut table = [0u8; TOP_VALUES];
    let mut sum = 0.0;
    let mut start = 0;
    for (shard, w) in weights.iter().enumerate() {
        sum += w;
        let end = if shard + 1 == SHARDS {
            TOP_VALUES
        } else {
            (sum / total * TOP_VALUES as f64).round() as usize
        };
        table[start..end].fill(shard as u8);
        start = end;
    }
    table
}

/// A shard: the slab index of each id's state.
type Shard = HashMap<Key, u32, BuildHasherDefault<IdHasher>>;

/// States per slab chunk (1.2 MB).
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;

/// The states, by index, in chunks that never move.
#[derive(Default)]
struct Slab {
    chunks: Vec<Box<[FlowState]>>,
    /// Indexes of forgotten states, to be used again first.
    free: Vec<u32>,
    /// Indexes below this were handed out once.
    used: usize,
}

impl Slab {
    fn get(&self, i: u32) -> &FlowState {
        &self.chunks[(i >> CHUNK_BITS) as usize][i as usize % CHUNK]
    }

    fn get_mut(&mut self, i: u32) -> &mut FlowState {
        &mut self.chunks[(i >> CHUNK_BITS) as usize][i as usize % CHUNK]
    }

    /// The index of a new place holding `state`.
    fn add(&mut self, state: FlowState) -> u32 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                if self.used == self.chunks.len() * CHUNK {
                    self.chunks
                        .push(vec![FlowState::default(); CHUNK].into_boxed_slice());
                }
                self.used += 1;
                // At most `max_tracked_flows` (10^8) and one message more live at once.
                u32::try_from(self.used - 1).expect("fewer than 2^32 flow states")
            }
        };
        *self.get_mut(i) = state;
        i
    }
}

/// The converter's per-UUID states, with the inner addresses of tunnels.
pub(super) struct StateTable {
    shards: Vec<Shard>,
    slab: Slab,
    /// The shard of each value of an id's top bits.
    shard_of: Box<[u8; TOP_VALUES]>,
    /// Innermost addresses (A side, B side) of a tunnel's inner flow, by the
    /// id of the tunnel flow whose state holds them.
    inner: IdMap<PacketAddrs>,
}

impl Default for StateTable {
    fn default() -> StateTable {
        StateTable {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            slab: Slab::default(),
            shard_of: Box::new(shard_by_top_bits()),
            inner: IdMap::default(),
        }
    }
}

impl StateTable {
    fn shard(&self, k: Key) -> usize {
        usize::from(self.shard_of[k.top_bits()])
    }

    /// Number of UUIDs tracked.
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }

    /// The state of `id`, if tracked.
    pub(super) fn get(&self, id: FlowId) -> Option<&FlowState> {
        let k = Key::of(id);
        let i = *self.shards[self.shard(k)].get(&k)?;
        Some(self.slab.get(i))
    }

    /// The state of `id`, if tracked, to change.
    pub(super) fn get_mut(&mut self, id: FlowId) -> Option<&mut FlowState> {
        let k = Key::of(id);
        let i = *self.shards[self.shard(k)].get(&k)?;
        Some(self.slab.get_mut(i))
    }

    /// The state of `id`, made empty if it was not tracked.
    pub(super) fn get_or_default(&mut self, id: FlowId) -> &mut FlowState {
        let k = Key::of(id);
        let shard = self.shard(k);
        let slab = &mut self.slab;
        let i = *self.shards[shard]
            .entry(k)
            .or_insert_with(|| slab.add(FlowState::default()));
        self.slab.get_mut(i)
    }

    /// Tracks `id` with `state` unless it is tracked already; whether it was
    /// added.
    pub(super) fn insert_new(&mut self, id: FlowId, state: FlowState) -> bool {
        let k = Key::of(id);
        let shard = self.shard(k);
        match self.shards[shard].entry(k) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(self.slab.add(state));
                true
            }
        }
    }

    /// The inner addresses kept for the tunnel flow `id`.
    pub(super) fn inner(&self, id: FlowId) -> Option<PacketAddrs> {
        if self.inner.is_empty() {
            return None;
        }
        self.inner.get(&id).copied()
    }

    /// Keeps `addrs` as the inner addresses of the tracked flow `id`.
    pub(super) fn set_inner(&mut self, id: FlowId, addrs: PacketAddrs) {
        debug_assert!(
            self.get(id).is_some(),
            "inner addresses of an untracked flow"
        );
        self.inner.insert(id, addrs);
    }

    /// Forgets every state `keep` says no to (and its inner addresses);
    /// returns how many were forgotten.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&FlowState) -> bool) -> usize {
        let before = self.len();
        let slab = &mut self.slab;
        for shard in &mut self.shards {
            shard.retain(|_, &mut i| {
                let kept = keep(slab.get(i));
                if !kept {
                    slab.free.push(i);
                }
                kept
            });
        }
        if !self.inner.is_empty() {
            let (shards, shard_of) = (&self.shards, &self.shard_of);
            self.inner.retain(|&id, _| {
                let k = Key::of(id);
                shards[usize::from(shard_of[k.top_bits()])].contains_key(&k)
            });
        }
        before - self.len()
    }

    /// Every state, in no particular order, with its id and inner addresses.
    pub(super) fn iter(
        &self,
    ) -> impl Iterator<Item = (FlowId, &FlowState, Option<PacketAddrs>)> + '_ {
        self.shards.iter().flat_map(move |shard| {
            shard.iter().map(move |(k, &i)| {
                let id = k.id();
                (id, self.slab.get(i), self.inner(id))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_24_bytes_and_a_state_72() {
        assert_eq!(std::mem::size_of::<(Key, u32)>(), 24);
        assert_eq!(std::mem::size_of::<FlowState>(), 72);
    }

    #[test]
    fn forgotten_states_leave_their_place_to_new_ones() {
        let mut t = StateTable::default();
        for id in 0..(CHUNK as u128 + 10) {
            t.get_or_default(id << 64 | id).last_seen = id as i64;
        }
        assert_eq!(t.slab.chunks.len(), 2);
        assert_eq!(t.retain(|s| s.last_seen % 2 == 0), CHUNK / 2 + 5);
        for id in 0..(CHUNK as u128 / 2 + 5) {
            let id = (id + 1_000_000) << 64 | id;
            assert_eq!(
                t.get_or_default(id).last_seen,
                0,
                "a new state starts empty"
            );
            t.get_or_default(id).last_seen = -1;
        }
        assert_eq!(t.slab.chunks.len(), 2);
        assert!(t.slab.free.is_empty());
        assert_eq!(t.len(), CHUNK + 10);
        let kept = t.iter().filter(|(_, s, _)| s.last_seen >= 0).count();
        assert_eq!(kept, CHUNK / 2 + 5);
        assert!(t
            .iter()
            .all(|(id, s, _)| s.last_seen < 0 || s.last_seen == (id as u64) as i64));
    }

    #[test]
    fn ids_keep_their_128_bits() {
        let mut t = StateTable::default();
        let ids: Vec<FlowId> = (0..64u128).map(|i| (i << 122) | (i * 7 + 1)).collect();
        for &id in &ids {
            assert!(t.insert_new(id, FlowState::default()));
            assert!(!t.insert_new(id, FlowState::default()));
        }
        assert_eq!(t.len(), 64);
        let mut back: Vec<FlowId> = t.iter().map(|(id, _, _)| id).collect();
        back.sort_unstable();
        assert_eq!(back, ids);
        // Same low word, different high word: two flows.
        let a = 5u128;
        let b = (1u128 << 64) | 5;
        t.get_or_default(a).last_seen = 1;
        t.get_or_default(b).last_seen = 2;
        assert_eq!(t.get(a).map(|s| s.last_seen), Some(1));
        assert_eq!(t.get(b).map(|s| s.last_seen), Some(2));
        // The extremes of the high word have a shard.
        t.get_or_default(u128::MAX).last_seen = 3;
        t.get_or_default(0).last_seen = 4;
        assert_eq!(t.get(u128::MAX).map(|s| s.last_seen), Some(3));
    }

    #[test]
    fn shards_take_growing_shares_so_they_double_at_different_sizes() {
        let mut t = StateTable::default();
        let n = 160_000;
        for i in 0..n {
            t.get_or_default(super::super::state::flow_id(&format!("{i:016x}")));
        }
        assert_eq!(t.len(), n);
        let lens: Vec<usize> = t.shards.iter().map(HashMap::len).collect();
        assert!(lens.windows(2).all(|w| w[0] < w[1]), "{lens:?}");
        let table = shard_by_top_bits();
        for (i, &len) in lens.iter().enumerate() {
            let bytes = table.iter().filter(|&&s| usize::from(s) == i).count();
            let expected = n as f64 * bytes as f64 / TOP_VALUES as f64;
            assert!(
                (len as f64 - expected).abs() < expected * 0.05,
                "shard {i}: {len} ids, {expected:.0} expected ({lens:?})"
            );
        }
        let buckets: usize = t.shards.iter().map(HashMap::capacity).sum();
        // Capacity (7/8 of the buckets) between 1.2 and 2 slots a UUID; one
        // map would have 229,376 here (1.43) and 458,752 just past it.
        assert!(
            buckets >= n * 6 / 5 && buckets <= 2 * n,
            "{buckets} for {n}"
        );
    }

    #[test]
    fn forgetting_a_state_forgets_its_inner_addresses() {
        let mut t = StateTable::default();
        let addrs = PacketAddrs {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
        };
        t.get_or_default(1).last_seen = 10;
        t.get_or_default(2).last_seen = 20;
        t.set_inner(1, addrs);
        t.set_inner(2, addrs);
        assert_eq!(t.retain(|s| s.last_seen > 15), 1);
        assert_eq!(t.inner(1), None);
        assert_eq!(t.inner(2), Some(addrs));
        assert_eq!(t.len(), 1);
    }
}
