//! The entries, in a slab of 16-byte slots: a queued broadcast's *slot number* is its
//! position in the slab, which the send order holds, and it never changes while the
//! broadcast is queued. Named keys are found through a separate index (key hash → slot
//! number, 5 bytes a slot of a `hashbrown` table).
//!
//! Each slot holds a [`Broadcast`] (one pointer to the key and the message), the entry's
//! sequence number and whether it has a notification id. Notification ids, rarely used,
//! live in a side map read only for entries that have one. A freed slot goes on a free
//! list threaded through the vacant slots' sequence numbers and is reused by the next
//! insertion.
//!
//! The slab is sized for memory first: in a many-node simulator every machine holds a
//! queue as deep as the cluster, about the same broadcasts everywhere, which machines
//! sharing a [`ViewInterner`](crate::machine::ViewInterner) hold once. The price is a
//! pointer chase when a lookup confirms a key.
//!
//! Sequence numbers are 32-bit: the queue renumbers its entries before its counter
//! would reach `u32::MAX` (see [`SEQ_LIMIT`]), after four billion broadcasts.
//!
//! # Why a fast hash is safe here
//!
//! Keys are hashed with hashbrown's default hasher (foldhash, randomly seeded per
//! queue), much cheaper than SipHash and with no cryptographic promise. Nothing relies on
//! hashes being distinct: the hash only picks where to look, and every candidate is
//! confirmed by comparing the *full* key stored in its slot, so colliding keys (by chance
//! or crafted) are never confused; the worst they can do is lengthen probes, and the random
//! seed keeps that from being steered from outside. (The tests force heavy collisions.)

use std::hash::BuildHasher;

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use super::{Broadcast, BroadcastKey};
use crate::machine::members::grown_capacity;

/// The queue renumbers its entries before its sequence counter would pass this, so
/// that every sequence number fits in 32 bits. (Tests use a small value to exercise the
/// renumbering.)
pub(super) const SEQ_LIMIT: u32 = if cfg!(test) { 500 } else { u32::MAX - 1 };

/// One slot: 16 bytes.
#[derive(Clone, Debug, Default)]
pub(super) struct Bucket {
    /// The entry's key and message (`None` when the slot is vacant).
    entry: Option<Broadcast>,
    /// The entry's sequence number, or, when vacant, the next free slot plus one (0
    /// ending the list).
    seq: u32,
    /// Whether the entry has a notification id.
    notified: bool,
}

impl Bucket {
    /// A vacant slot whose free-list link is `next_plus_one`.
    fn vacant(next_plus_one: u32) -> Self {
        Self {
            entry: None,
            seq: next_plus_one,
            notified: false,
        }
    }

    fn is_entry(&self) -> bool {
        self.entry.is_some()
    }

    /// The encoded message (empty when vacant).
    pub(super) fn message(&self) -> &Bytes {
        static EMPTY: Bytes = Bytes::new();
        self.entry.as_ref().map_or(&EMPTY, Broadcast::message)
    }

    /// The key, when the slot holds an entry.
    fn key(&self) -> Option<&BroadcastKey> {
        self.entry.as_ref().map(Broadcast::key)
    }
}

/// Seeded key hashing.
#[derive(Clone, Debug, Default)]
struct KeyHasher {
    state: DefaultHashBuilder,
    /// Tests set this to make hashes collide on purpose.
    #[cfg(test)]
    weak: bool,
}

impl KeyHasher {
    /// The hash of a key that is not [`BroadcastKey::Unique`] (0 for one that is).
    fn hash_key(&self, key: &BroadcastKey) -> u64 {
        let (named, name) = match key {
            BroadcastKey::Unique => return 0,
            BroadcastKey::Node(name) => (false, name.as_str()),
            BroadcastKey::Named(name) => (true, name.as_str()),
        };
        #[cfg(test)]
        if self.weak {
            // Only a handful of distinct hashes: most keys collide.
            return (name.len() as u64 % 3) << 62;
        }
        self.state.hash_one((named, name))
    }
}

/// The queue's entries; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Table {
    hasher: KeyHasher,
    /// The slots, by slot number.
    slots: Vec<Bucket>,
    /// One plus the first vacant slot of the free list, 0 for none.
    free: u32,
    /// Slot numbers of the entries with a named key, by the key's hash.
    index: HashTable<u32>,
    /// Notification ids of the entries that have one, by slot number.
    notify: HashMap<u32, u64>,
    /// Number of entries.
    len: usize,
}

impl Table {
    /// Number of entries.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The hash of a (non-unique) key.
    pub(super) fn hash(&self, key: &BroadcastKey) -> u64 {
        self.hasher.hash_key(key)
    }

    /// The position of the entry with `key` (not unique; its hash is `hash`), if any.
    pub(super) fn find(&self, key: &BroadcastKey, hash: u64) -> Option<u32> {
        if self.len == 0 || key.is_unique() {
            return None;
        }
        let slots = &self.slots;
        self.index
            .find(hash, |&i| {
                slots
                    .get(i as usize)
                    .and_then(Bucket::key)
                    .is_some_and(|k| k == key)
            })
            .copied()
    }

    /// Whether the entry at `index` has sequence number `seq` (an order entry naming
    /// it is live).
    pub(super) fn is_live(&self, seq: u32, index: u32) -> bool {
        matches!(self.slots.get(index as usize), Some(b) if b.seq == seq && b.is_entry())
    }

    /// The entry at `index`, if any.
    pub(super) fn get(&self, index: u32) -> Option<&Bucket> {
        self.slots.get(index as usize).filter(|b| b.is_entry())
    }

    /// The notification id of the entry at `index`, if any.
    pub(super) fn notify(&self, index: u32) -> Option<u64> {
        let bucket = self.get(index).filter(|b| b.notified);
        bucket.and_then(|_| self.notify.get(&index).copied())
    }

    /// Gives the entry at `index` a new broadcast (with the same key), notification id
    /// and sequence number; returns the old notification id.
    pub(super) fn replace(
        &mut self,
        index: u32,
        entry: Broadcast,
        notify: Option<u64>,
        seq: u32,
    ) -> Option<u64> {
        let old = self.notify(index);
        let Some(bucket) = self.slots.get_mut(index as usize) else {
            return old;
        };
        debug_assert_eq!(bucket.key(), Some(entry.key()));
        *bucket = Bucket {
            entry: Some(entry),
            seq,
            notified: notify.is_some(),
        };
        if let Some(notify) = notify {
            self.notify.insert(index, notify);
        } else if old.is_some() {
            self.notify.remove(&index);
        }
        old
    }

    /// Adds an entry whose key is absent (`hash` is its hash, `None` for a unique key)
    /// and returns its position.
    pub(super) fn insert(
        &mut self,
        entry: Broadcast,
        hash: Option<u64>,
        notify: Option<u64>,
        seq: u32,
    ) -> u32 {
        let keyed = !entry.key().is_unique();
        let bucket = Bucket {
            entry: Some(entry),
            seq,
            notified: notify.is_some(),
        };
        let vacant = self.free.checked_sub(1);
        let index = match vacant.and_then(|i| Some((i, self.slots.get_mut(i as usize)?))) {
            Some((i, slot)) => {
                self.free = slot.seq;
                *slot = bucket;
                i
            }
            None => {
                // In the member table's steps (×1.5 or ×4/3, canonical sizes): a queue can
                // be as deep as the cluster is large.
                let n = self.slots.len();
                if n == self.slots.capacity() {
                    self.slots.reserve_exact(grown_capacity(n) - n);
                }
                self.slots.push(bucket);
                slot_number(n)
            }
        };
        self.len += 1;
        if let Some(hash) = hash.filter(|_| keyed) {
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index.insert_unique(hash, index, |&i| {
                slots
                    .get(i as usize)
                    .and_then(Bucket::key)
                    .map_or(0, |k| hasher.hash_key(k))
            });
        }
        if let Some(notify) = notify {
            self.notify.insert(index, notify);
        }
        index
    }

    /// Removes the entry at `index`, returning its notification id.
    pub(super) fn remove(&mut self, index: u32) -> Option<u64> {
        let notify = self.notify(index);
        let key = self.slots.get(index as usize)?.key()?;
        if !key.is_unique() {
            let hash = self.hasher.hash_key(key);
            if let Ok(entry) = self.index.find_entry(hash, |&i| i == index) {
                entry.remove();
            }
        }
        if notify.is_some() {
            self.notify.remove(&index);
        }
        if let Some(bucket) = self.slots.get_mut(index as usize) {
            *bucket = Bucket::vacant(self.free);
            self.free = index + 1;
        }
        self.len -= 1;
        notify
    }

    /// The sequence numbers of the entries, in no particular order.
    pub(super) fn seqs(&self) -> Vec<u32> {
        self.slots
            .iter()
            .filter(|bucket| bucket.is_entry())
            .map(|bucket| bucket.seq)
            .collect()
    }

    /// Gives every entry the sequence number `renumber(seq)`.
    pub(super) fn renumber(&mut self, renumber: impl Fn(u32) -> u32) {
        for bucket in &mut self.slots {
            if bucket.is_entry() {
                bucket.seq = renumber(bucket.seq);
            }
        }
    }

    /// Removes every entry and releases the memory (keeping the hash seed).
    pub(super) fn clear(&mut self) {
        self.slots = Vec::new();
        self.free = 0;
        self.index = HashTable::new();
        self.notify = HashMap::default();
        self.len = 0;
    }
}

/// Positions are 32-bit to keep the order small (and below `u32::MAX`, so that one plus a
/// position links the free list); 2^32 entries cannot be held in memory anyway.
#[allow(clippy::expect_used)]
fn slot_number(index: usize) -> u32 {
    u32::try_from(index)
        .ok()
        .filter(|&i| i < u32::MAX)
        .expect("fewer than 2^32 - 1 queued broadcasts")
}

#[cfg(test)]
impl Table {
    /// Makes most keys' hashes collide, to test that collisions are handled.
    pub(super) fn set_weak_hash(&mut self, weak: bool) {
        self.hasher.weak = weak;
    }

    /// Checks the table's invariants; returns the positions of the entries.
    pub(super) fn check(&self) -> Vec<u32> {
        let mut entries = Vec::new();
        let mut vacant = 0;
        for (i, bucket) in self.slots.iter().enumerate() {
            match bucket.key() {
                None => {
                    vacant += 1;
                    assert!(!bucket.notified);
                }
                Some(key) => {
                    assert_ne!(bucket.seq, 0);
                    assert_eq!(bucket.notified, self.notify.contains_key(&(i as u32)));
                    entries.push(i as u32);
                    if !key.is_unique() {
                        // Found through the index, and the only entry with its key.
                        assert_eq!(self.find(key, self.hash(key)), Some(i as u32));
                    }
                }
            }
        }
        // The free list links every vacant slot once.
        let mut linked = 0;
        let mut next = self.free;
        while let Some(i) = next.checked_sub(1) {
            let bucket = &self.slots[i as usize];
            assert!(!bucket.is_entry());
            linked += 1;
            assert!(linked <= vacant, "the free list loops");
            next = bucket.seq;
        }
        assert_eq!(linked, vacant);
        assert_eq!(entries.len(), self.len);
        assert_eq!(
            self.index.len(),
            entries
                .iter()
                .filter(|&&i| self.slots[i as usize].key().is_some_and(|k| !k.is_unique()))
                .count()
        );
        entries
    }
}
