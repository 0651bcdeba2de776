//! Batching: which open file a record goes into, and when files are sealed.
//!
//! A record goes into the file of the 5-minute slot of its `end` time. A slot's
//! file is sealed once every window that can still produce records ending in the
//! slot is closed (plus a grace period), or earlier by the sink when it reaches
//! the size cap. The router is generic over the open-file type so that any
//! encoder can be batched the same way.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use crate::name::{slot_of, SLOT_SECS};

/// Open files by slot.
#[derive(Debug)]
pub struct SlotRouter<F> {
    open: BTreeMap<u64, F>,
    grace_secs: u64,
}

impl<F> SlotRouter<F> {
    /// A router that keeps a slot open `grace_secs` after it could be sealed.
    pub fn new(grace_secs: u64) -> SlotRouter<F> {
        SlotRouter {
            open: BTreeMap::new(),
            grace_secs,
        }
    }

    /// The open file for records ending at `end`, opened with `open(slot)` when
    /// there is none.
    pub fn file_for<E>(
        &mut self,
        end: u64,
        open: impl FnOnce(u64) -> Result<F, E>,
    ) -> Result<&mut F, E> {
        let slot = slot_of(end);
        Ok(match self.open.entry(slot) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(open(slot)?),
        })
    }

    /// Removes the file of `slot` (to seal it at the size cap).
    pub fn take(&mut self, slot: u64) -> Option<F> {
        self.open.remove(&slot)
    }

    /// Removes the files that can be sealed once no more records end before
    /// `complete_before`, oldest first.
    pub fn take_sealable(&mut self, complete_before: u64) -> Vec<(u64, F)> {
        let sealable: Vec<u64> = self
            .open
            .keys()
            .copied()
            .take_while(|slot| slot.saturating_add(SLOT_SECS + self.grace_secs) <= complete_before)
            .collect();
        sealable
            .into_iter()
            .filter_map(|s| self.open.remove(&s).map(|f| (s, f)))
            .collect()
    }

    /// Removes every open file, oldest first.
    pub fn take_all(&mut self) -> Vec<(u64, F)> {
        std::mem::take(&mut self.open).into_iter().collect()
    }

    /// Number of open files.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether no file is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(slot: u64) -> Result<Vec<u64>, ()> {
        Ok(vec![slot])
    }

    #[test]
    fn records_go_to_the_slot_of_their_end() {
        let mut r = SlotRouter::new(0);
        r.file_for(1616729349, open).unwrap().push(1);
        r.file_for(1616729100, open).unwrap().push(2);
        r.file_for(1616729099, open).unwrap().push(3);
        let all = r.take_all();
        assert_eq!(
            all,
            vec![
                (1616728800, vec![1616728800, 3]),
                (1616729100, vec![1616729100, 1, 2])
            ]
        );
    }

    #[test]
    fn seals_only_complete_slots() {
        let mut r = SlotRouter::new(0);
        r.file_for(10, open).unwrap();
        r.file_for(310, open).unwrap();
        assert!(r.take_sealable(299).is_empty());
        assert_eq!(r.take_sealable(300).len(), 1);
        assert_eq!(r.len(), 1);
        let mut g = SlotRouter::new(60);
        g.file_for(10, open).unwrap();
        assert!(g.take_sealable(300).is_empty());
        assert_eq!(g.take_sealable(360).len(), 1);
    }
}
