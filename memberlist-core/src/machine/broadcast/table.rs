//! The entries, in a slab of 64-byte slots: a queued broadcast's *slot number* is its
//! position in the slab, which the send order holds, and it never changes while the
//! broadcast is queued. Named keys are found through a separate index (key hash → slot
//! number, 5 bytes a slot of a `hashbrown` table).
//!
//! Each slot holds everything an enqueue touches: the message, the key's name, and one
//! word with the key's kind, the entry's sequence number and whether it has a
//! notification id. Notification ids, rarely used, live in a side map read only for
//! entries that have one. A freed slot goes on a free list threaded through the vacant
//! slots' words and is reused by the next insertion.
//!
//! The slab is sized for memory first: in a many-node simulator every machine holds a
//! queue as deep as the cluster, and an open-addressed table of 72-byte buckets, 3/8 to
//! 3/4 full, cost 96–192 bytes an entry against about 70–100 here (64 per slot, the
//! slab at least two thirds full, plus the index). The price is a second cache miss per
//! lookup on a large queue (index, then slot).
//!
//! Sequence numbers are kept below 2^60 to fit the word: the queue renumbers its entries
//! before its counter would reach that (see [`SEQ_LIMIT`]), which never happens in
//! practice but keeps the stored numbers exact.
//!
//! # Why a fast hash is safe here
//!
//! Keys are hashed with hashbrown's default hasher (foldhash, randomly seeded per
//! queue), which costs a few nanoseconds where SipHash costs 20–30. Foldhash makes no
//! cryptographic promise, but nothing here relies on hashes being distinct: the hash
//! only picks where to look, and every candidate is confirmed by comparing the *full*
//! key stored in its slot. Two keys with equal hashes, whether by chance or crafted,
//! are simply two entries of one probe sequence told apart by that comparison — never
//! confused, never lost. The worst a collision can do is lengthen probes, and the random
//! seed keeps that from being steered from outside. (The tests force heavy collisions
//! to check this.)

use std::hash::BuildHasher;

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use smol_str::SmolStr;

use super::BroadcastKey;
use crate::machine::members::grown_capacity;

/// What a slot holds: nothing, or an entry with a key of some kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Vacant; the low bits of its word link the free list.
    Vacant = 0,
    /// An entry with [`BroadcastKey::Unique`].
    Unique = 2,
    /// An entry with [`BroadcastKey::Node`].
    Node = 3,
    /// An entry with [`BroadcastKey::Named`].
    Named = 4,
}

impl Kind {
    fn is_entry(self) -> bool {
        self != Self::Vacant
    }
}

/// The kind and name of a key.
fn key_parts(key: &BroadcastKey) -> (Kind, &str) {
    match key {
        BroadcastKey::Unique => (Kind::Unique, ""),
        BroadcastKey::Node(name) => (Kind::Node, name.as_str()),
        BroadcastKey::Named(name) => (Kind::Named, name.as_str()),
    }
}

/// Bits of a slot's word that hold the sequence number (or, when vacant, the next free
/// slot plus one, 0 ending the list).
const SEQ_BITS: u32 = 60;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// Bit of a slot's word telling that the entry has a notification id.
const NOTIFIED: u64 = 1 << 63;

/// The queue renumbers its entries before its sequence counter would pass this, so
/// that every sequence number fits [`SEQ_BITS`] bits. (Tests use a small value to
/// exercise the renumbering.)
pub(super) const SEQ_LIMIT: u64 = if cfg!(test) { 500 } else { SEQ_MASK };

/// One slot: one cache line.
#[derive(Clone, Debug)]
#[repr(align(64))]
pub(super) struct Bucket {
    /// The encoded message (empty unless the slot holds an entry).
    pub(super) message: Bytes,
    /// The key's name (empty unless the slot holds a named entry).
    name: SmolStr,
    /// The kind (bits 60–62), the sequence number (bits 0–59) and [`NOTIFIED`].
    word: u64,
}

impl Bucket {
    /// A vacant slot whose free-list link is `next_plus_one`.
    fn vacant(next_plus_one: u64) -> Self {
        Self {
            message: Bytes::new(),
            name: SmolStr::default(),
            word: ((Kind::Vacant as u64) << SEQ_BITS) | (next_plus_one & SEQ_MASK),
        }
    }

    fn kind(&self) -> Kind {
        match (self.word >> SEQ_BITS) & 7 {
            0 | 1 => Kind::Vacant,
            2 => Kind::Unique,
            3 => Kind::Node,
            _ => Kind::Named,
        }
    }

    fn seq(&self) -> u64 {
        self.word & SEQ_MASK
    }

    fn notified(&self) -> bool {
        self.word & NOTIFIED != 0
    }

    fn set_seq(&mut self, seq: u64, notified: bool) {
        debug_assert!(
            seq <= SEQ_MASK,
            "sequence numbers are renumbered before this"
        );
        let kind = self.word & !(SEQ_MASK | NOTIFIED);
        self.word = kind | (seq & SEQ_MASK) | if notified { NOTIFIED } else { 0 };
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
    /// The hash of a named key.
    fn hash(&self, kind: Kind, name: &str) -> u64 {
        #[cfg(test)]
        if self.weak {
            // Only a handful of distinct hashes: most keys collide.
            return (name.len() as u64 % 3) << 62;
        }
        self.state.hash_one((kind as u8, name))
    }
}

/// The queue's entries; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Table {
    hasher: KeyHasher,
    /// The slots, by slot number.
    slots: Vec<Bucket>,
    /// One plus the first vacant slot of the free list, 0 for none.
    free: u64,
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

    /// Makes most keys' hashes collide, to test that collisions are handled.
    #[cfg(test)]
    pub(super) fn set_weak_hash(&mut self, weak: bool) {
        self.hasher.weak = weak;
    }

    /// The hash of a (non-unique) key.
    pub(super) fn hash(&self, key: &BroadcastKey) -> u64 {
        let (kind, name) = key_parts(key);
        self.hasher.hash(kind, name)
    }

    /// The position of the entry with `key` (not unique; its hash is `hash`), if any.
    pub(super) fn find(&self, key: &BroadcastKey, hash: u64) -> Option<u32> {
        let (kind, name) = key_parts(key);
        if self.len == 0 || kind == Kind::Unique {
            return None;
        }
        let slots = &self.slots;
        self.index
            .find(hash, |&i| {
                slots
                    .get(i as usize)
                    .is_some_and(|b| b.kind() == kind && b.name.as_str() == name)
            })
            .copied()
    }

    /// Whether the entry at `index` has sequence number `seq` (an order entry naming
    /// it is live).
    pub(super) fn is_live(&self, seq: u64, index: u32) -> bool {
        matches!(self.slots.get(index as usize), Some(b) if b.seq() == seq && b.kind().is_entry())
    }

    /// The entry at `index`, if any.
    pub(super) fn get(&self, index: u32) -> Option<&Bucket> {
        self.slots
            .get(index as usize)
            .filter(|bucket| bucket.kind().is_entry())
    }

    /// The notification id of the entry at `index`, if any.
    pub(super) fn notify(&self, index: u32) -> Option<u64> {
        let bucket = self.get(index)?;
        if bucket.notified() {
            self.notify.get(&index).copied()
        } else {
            None
        }
    }

    /// Gives the entry at `index` a new message, notification id and sequence number;
    /// returns the old notification id.
    pub(super) fn replace(
        &mut self,
        index: u32,
        message: Bytes,
        notify: Option<u64>,
        seq: u64,
    ) -> Option<u64> {
        let old = self.notify(index);
        let Some(bucket) = self.slots.get_mut(index as usize) else {
            return old;
        };
        bucket.message = message;
        bucket.set_seq(seq, notify.is_some());
        match notify {
            Some(notify) => {
                self.notify.insert(index, notify);
            }
            None if old.is_some() => {
                self.notify.remove(&index);
            }
            None => {}
        }
        old
    }

    /// Adds an entry whose key is absent (`hash` is its hash, `None` for a unique key)
    /// and returns its position.
    pub(super) fn insert(
        &mut self,
        key: BroadcastKey,
        hash: Option<u64>,
        message: Bytes,
        notify: Option<u64>,
        seq: u64,
    ) -> u32 {
        let (kind, name) = match key {
            BroadcastKey::Unique => (Kind::Unique, SmolStr::default()),
            BroadcastKey::Node(name) => (Kind::Node, name),
            BroadcastKey::Named(name) => (Kind::Named, name),
        };
        let mut bucket = Bucket {
            message,
            name,
            word: (kind as u64) << SEQ_BITS,
        };
        bucket.set_seq(seq, notify.is_some());
        let vacant = self.free.checked_sub(1);
        let index = match vacant.and_then(|i| Some((i, self.slots.get_mut(i as usize)?))) {
            Some((i, slot)) => {
                self.free = slot.seq();
                *slot = bucket;
                slot_number(i as usize)
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
        if let Some(hash) = hash.filter(|_| kind != Kind::Unique) {
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index.insert_unique(hash, index, |&i| {
                slots
                    .get(i as usize)
                    .map_or(0, |b| hasher.hash(b.kind(), &b.name))
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
        let bucket = self.slots.get(index as usize)?;
        let kind = bucket.kind();
        if !kind.is_entry() {
            return None;
        }
        if kind != Kind::Unique {
            let hash = self.hasher.hash(kind, &bucket.name);
            if let Ok(entry) = self.index.find_entry(hash, |&i| i == index) {
                entry.remove();
            }
        }
        if notify.is_some() {
            self.notify.remove(&index);
        }
        if let Some(bucket) = self.slots.get_mut(index as usize) {
            *bucket = Bucket::vacant(self.free);
            self.free = u64::from(index) + 1;
        }
        self.len -= 1;
        notify
    }

    /// The sequence numbers of the entries, in no particular order.
    pub(super) fn seqs(&self) -> Vec<u64> {
        self.slots
            .iter()
            .filter(|bucket| bucket.kind().is_entry())
            .map(Bucket::seq)
            .collect()
    }

    /// Gives every entry the sequence number `renumber(seq)`.
    pub(super) fn renumber(&mut self, renumber: impl Fn(u64) -> u64) {
        for bucket in &mut self.slots {
            if bucket.kind().is_entry() {
                let notified = bucket.notified();
                bucket.set_seq(renumber(bucket.seq()), notified);
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

    /// Checks the table's invariants; returns the positions of the entries.
    #[cfg(test)]
    pub(super) fn check(&self) -> Vec<u32> {
        let mut entries = Vec::new();
        let mut vacant = 0;
        for (i, bucket) in self.slots.iter().enumerate() {
            match bucket.kind() {
                Kind::Vacant => {
                    vacant += 1;
                    assert!(bucket.message.is_empty() && bucket.name.is_empty());
                }
                kind => {
                    assert_ne!(bucket.seq(), 0);
                    assert_eq!(bucket.notified(), self.notify.contains_key(&(i as u32)));
                    entries.push(i as u32);
                    if kind != Kind::Unique {
                        // Found through the index, and the only entry with its key.
                        let key = if kind == Kind::Node {
                            BroadcastKey::Node(bucket.name.clone())
                        } else {
                            BroadcastKey::Named(bucket.name.clone())
                        };
                        assert_eq!(self.find(&key, self.hash(&key)), Some(i as u32));
                    } else {
                        assert!(bucket.name.is_empty());
                    }
                }
            }
        }
        // The free list links every vacant slot once.
        let mut linked = 0;
        let mut next = self.free;
        while let Some(i) = next.checked_sub(1) {
            let bucket = &self.slots[i as usize];
            assert_eq!(bucket.kind(), Kind::Vacant);
            linked += 1;
            assert!(linked <= vacant, "the free list loops");
            next = bucket.seq();
        }
        assert_eq!(linked, vacant);
        assert_eq!(entries.len(), self.len);
        assert_eq!(
            self.index.len(),
            entries
                .iter()
                .filter(|&&i| self.slots[i as usize].kind() != Kind::Unique)
                .count()
        );
        entries
    }
}

/// Positions are 32-bit to keep the order small; 2^32 entries of ~100 bytes each cannot
/// be held in memory anyway.
#[allow(clippy::expect_used)]
fn slot_number(index: usize) -> u32 {
    u32::try_from(index).expect("fewer than 2^32 queued broadcasts")
}
