//! The engine's event queue: items popped in the order of a `u128` key (virtual time in
//! the high half, push sequence in the low half), exactly as a binary heap pops them, but
//! kept in a timing wheel.
//!
//! At 10,000 nodes the queue holds tens of thousands of items, and a binary heap over all
//! of them touches a dozen cache lines per pop and push, each a miss once the nodes' own
//! state has evicted the heap from the cache. Here an item goes into the slot of its time
//! (slots of 2^20 ns ≈ 1 ms, a ring of 4,096 of them ≈ 4.3 s ahead); only the items of
//! the slot being drained sit in a small heap; items beyond the ring wait in an overflow
//! heap until the ring reaches them. A push touches one slot's tail, a pop the small heap.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// log2 of a slot's width in nanoseconds.
const SLOT_SHIFT: u32 = 20;
/// Number of slots in the ring (a power of two).
const SLOTS: u64 = 4096;

/// One queued item with its key.
struct Entry<T> {
    key: u128,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// The slot a key's time falls into.
fn slot_of(key: u128) -> u64 {
    ((key >> 64) as u64) >> SLOT_SHIFT
}

/// A min-queue on `u128` keys. Keys should be distinct (the engine's carry a sequence
/// number); equal keys come out in an unspecified order.
pub(super) struct EventQueue<T> {
    /// Items of the slots up to `cursor`.
    current: BinaryHeap<Reverse<Entry<T>>>,
    /// Items of slots `cursor + 1 ..= cursor + SLOTS - 1`, at index `slot % SLOTS`.
    ring: Vec<Vec<Reverse<Entry<T>>>>,
    /// Number of items in `ring`.
    in_ring: usize,
    /// Items of slots `cursor + SLOTS` and later.
    overflow: BinaryHeap<Reverse<Entry<T>>>,
    /// The last slot moved into `current`.
    cursor: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self {
            current: BinaryHeap::new(),
            ring: (0..SLOTS).map(|_| Vec::new()).collect(),
            in_ring: 0,
            overflow: BinaryHeap::new(),
            cursor: 0,
        }
    }
}

impl<T> EventQueue<T> {
    /// Number of queued items.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.in_ring + self.overflow.len()
    }

    /// Queues `item` under `key`.
    pub(super) fn push(&mut self, key: u128, item: T) {
        let entry = Entry { key, item };
        let slot = slot_of(key);
        if slot <= self.cursor {
            self.current.push(Reverse(entry));
        } else if slot - self.cursor < SLOTS {
            self.ring[(slot % SLOTS) as usize].push(Reverse(entry));
            self.in_ring += 1;
        } else {
            self.overflow.push(Reverse(entry));
        }
    }

    /// The smallest key queued.
    pub(super) fn peek_key(&mut self) -> Option<u128> {
        self.fill();
        self.current.peek().map(|Reverse(e)| e.key)
    }

    /// Removes the item with the smallest key.
    pub(super) fn pop(&mut self) -> Option<(u128, T)> {
        self.fill();
        self.current.pop().map(|Reverse(e)| (e.key, e.item))
    }

    /// Moves the cursor to the next slot holding items, until `current` has some (or
    /// nothing is queued).
    fn fill(&mut self) {
        while self.current.is_empty() {
            if self.in_ring == 0 {
                // Nothing within the ring: jump to the overflow's first slot.
                let Some(Reverse(first)) = self.overflow.peek() else {
                    return;
                };
                self.cursor = slot_of(first.key).saturating_sub(1).max(self.cursor);
            }
            self.cursor += 1;
            self.admit_overflow();
            let slot = &mut self.ring[(self.cursor % SLOTS) as usize];
            if slot.is_empty() {
                continue;
            }
            self.in_ring -= slot.len();
            // The slot's vector becomes the heap (heapified in place); the empty heap's
            // vector, with its capacity, becomes the slot's.
            let spare = std::mem::take(&mut self.current).into_vec();
            let items = std::mem::replace(slot, spare);
            self.current = BinaryHeap::from(items);
        }
    }

    /// Moves overflow items that the ring now reaches into their slots (or into `current`
    /// for the cursor's own slot).
    fn admit_overflow(&mut self) {
        while let Some(Reverse(first)) = self.overflow.peek() {
            let slot = slot_of(first.key);
            if slot - self.cursor.min(slot) >= SLOTS {
                return;
            }
            let Some(Reverse(entry)) = self.overflow.pop() else {
                return;
            };
            if slot <= self.cursor {
                self.current.push(Reverse(entry));
            } else {
                self.ring[(slot % SLOTS) as usize].push(Reverse(entry));
                self.in_ring += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn key(nanos: u64, seq: u64) -> u128 {
        (u128::from(nanos) << 64) | u128::from(seq)
    }

    /// Random pushes and pops, interleaved, against a binary heap: the same items come out
    /// in the same order, including pushes behind the cursor and far beyond the ring.
    #[test]
    fn pops_in_the_order_of_a_binary_heap() {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut q = EventQueue::default();
        let mut h = BinaryHeap::new();
        let mut seq = 0;
        let mut now = 0u64;
        for round in 0..20_000 {
            for _ in 0..rng.random_range(0..4) {
                seq += 1;
                let ahead = match rng.random_range(0..10) {
                    0 => 0,
                    1..=5 => rng.random_range(0..3_000_000),
                    6..=8 => rng.random_range(0..2_000_000_000),
                    _ => rng.random_range(0..60_000_000_000),
                };
                let k = key(now + ahead, seq);
                q.push(k, seq);
                h.push(Reverse((k, seq)));
            }
            if round % 3 != 0 {
                let want = h.pop().map(|Reverse(x)| x);
                assert_eq!(q.peek_key(), want.map(|x| x.0));
                assert_eq!(q.pop(), want);
                if let Some((k, _)) = want {
                    now = (k >> 64) as u64;
                }
            }
            assert_eq!(q.len(), h.len());
        }
        while let Some(Reverse(want)) = h.pop() {
            assert_eq!(q.pop(), Some(want));
        }
        assert_eq!(q.pop(), None);
        assert_eq!(q.peek_key(), None);
    }
}
