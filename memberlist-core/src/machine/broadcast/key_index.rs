//! The invalidation index: which slot holds the queued broadcast with a given key.
//!
//! A `HashMap<BroadcastKey, u32>` would store a copy of every key (32 bytes) in the
//! table and compare against it; even a table of bare slot numbers (`HashTable<u32>`)
//! reads a control byte and then, dependent on it, a bucket. Each of those is a cache
//! miss once the queue is large, and the caller then misses on the slot too. This index
//! is a single array of 8-byte buckets, `(32-bit tag, slot number)`, with linear
//! probing: a lookup reads one bucket (usually one cache line holds the whole probe
//! sequence), checks the tag, and confirms the match by comparing the key stored in the
//! slot, which the caller touches anyway. The tag is the top half of the key's 64-bit
//! hash and also picks the home bucket (its top bits), so growing the table never
//! rehashes a key. Deletion shifts later buckets of the probe run back (no tombstones).
//!
//! # Why a fast hash is safe here
//!
//! Keys are hashed with hashbrown's default hasher (foldhash, randomly seeded per
//! queue), which costs a few nanoseconds where SipHash costs 20–30. Foldhash makes no
//! cryptographic promise, and only 32 bits of it are kept, but nothing here relies on
//! hashes (or tags) being distinct: the tag only picks where to probe and filters
//! candidates, and every candidate is confirmed by comparing the *full* key stored in
//! its slot. Two keys with equal tags, whether by chance or crafted, are simply two
//! buckets of one probe run told apart by that comparison — never confused, never lost.
//! The worst a collision can do is lengthen probes, and the random seed keeps that from
//! being steered from outside. (The tests force heavy collisions to check this.)

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

use super::{BroadcastKey, Slot};

/// The seeded hash function of a [`KeyIndex`].
#[derive(Clone, Debug, Default)]
struct KeyHasher {
    state: DefaultHashBuilder,
    /// Tests set this to make hashes collide on purpose.
    #[cfg(test)]
    weak: bool,
}

impl KeyHasher {
    fn hash(&self, key: &BroadcastKey) -> u64 {
        #[cfg(test)]
        if self.weak {
            // Only a handful of distinct hashes: most keys collide.
            let (BroadcastKey::Node(name) | BroadcastKey::Named(name)) = key else {
                return 0;
            };
            return name.len() as u64 % 3;
        }
        self.state.hash_one(key)
    }
}

/// An unused bucket. (Slot `u32::MAX` is never used, so no real bucket equals it.)
const EMPTY: u64 = u64::MAX;

/// The table grows (doubles) before more than this fraction of its buckets is used.
const MAX_LOAD: (usize, usize) = (3, 4);

/// Maps non-unique keys to slot numbers; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct KeyIndex {
    hasher: KeyHasher,
    /// `tag << 32 | slot`, or [`EMPTY`]; the length is 0 or a power of two.
    buckets: Vec<u64>,
    /// Number of buckets in use.
    len: usize,
}

fn slot_has_key(slots: &[Option<Slot>], index: u32, key: &BroadcastKey) -> bool {
    matches!(slots.get(index as usize), Some(Some(slot)) if slot.key == *key)
}

/// The tag of a key with this hash.
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The tag of a used bucket.
fn bucket_tag(bucket: u64) -> u32 {
    (bucket >> 32) as u32
}

/// The slot number of a used bucket.
fn bucket_slot(bucket: u64) -> u32 {
    bucket as u32
}

impl KeyIndex {
    /// The hash `key` is stored under.
    pub(super) fn hash(&self, key: &BroadcastKey) -> u64 {
        self.hasher.hash(key)
    }

    /// Makes most keys' hashes collide, to test that collisions are handled.
    #[cfg(test)]
    pub(super) fn set_weak_hash(&mut self, weak: bool) {
        self.hasher.weak = weak;
    }

    /// `buckets.len() - 1`, for wrapping around.
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The first bucket to probe for `tag`: its top bits (the table has `2^k` buckets).
    fn home(&self, tag: u32) -> usize {
        let bits = self.buckets.len().trailing_zeros();
        // `bits` is at most 32: a bucket per possible tag is as many as can help.
        (u64::from(tag) >> (32 - bits.min(32))) as usize & self.mask()
    }

    /// The slot holding `key` (whose hash is `hash`), if any.
    pub(super) fn find(
        &self,
        key: &BroadcastKey,
        hash: u64,
        slots: &[Option<Slot>],
    ) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let tag = tag_of(hash);
        let mask = self.mask();
        let mut i = self.home(tag);
        loop {
            let bucket = *self.buckets.get(i)?;
            if bucket == EMPTY {
                return None;
            }
            if bucket_tag(bucket) == tag && slot_has_key(slots, bucket_slot(bucket), key) {
                return Some(bucket_slot(bucket));
            }
            i = (i + 1) & mask;
        }
    }

    /// Records that slot `index` holds a key absent so far, whose hash is `hash`.
    pub(super) fn insert(&mut self, hash: u64, index: u32) {
        if (self.len + 1) * MAX_LOAD.1 > self.buckets.len() * MAX_LOAD.0 {
            self.grow();
        }
        self.place((u64::from(tag_of(hash)) << 32) | u64::from(index));
        self.len += 1;
    }

    /// Puts a bucket's content in the first unused bucket of its probe run.
    fn place(&mut self, content: u64) {
        let mask = self.mask();
        let mut i = self.home(bucket_tag(content));
        while let Some(bucket) = self.buckets.get_mut(i) {
            if *bucket == EMPTY {
                *bucket = content;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the number of buckets (at least 16) and re-places every used one; tags
    /// hold the home bucket's bits, so no key is rehashed.
    fn grow(&mut self) {
        let size = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        for content in old.into_iter().filter(|&bucket| bucket != EMPTY) {
            self.place(content);
        }
    }

    /// Forgets `key`, held by slot `index`.
    pub(super) fn remove(&mut self, key: &BroadcastKey, index: u32) {
        if self.len == 0 {
            return;
        }
        let tag = tag_of(self.hash(key));
        let content = (u64::from(tag) << 32) | u64::from(index);
        let mask = self.mask();
        let mut hole = self.home(tag);
        loop {
            match self.buckets.get(hole) {
                Some(&bucket) if bucket == content => break,
                Some(&bucket) if bucket != EMPTY => hole = (hole + 1) & mask,
                _ => return, // unreachable: the key is indexed
            }
        }
        // Backward-shift deletion: move each later bucket of the run whose home is not
        // after the hole into it, so that every probe run stays unbroken.
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let Some(&bucket) = self.buckets.get(i) else {
                break;
            };
            if bucket == EMPTY {
                break;
            }
            let home = self.home(bucket_tag(bucket));
            if (i.wrapping_sub(home) & mask) >= (i.wrapping_sub(hole) & mask) {
                if let Some(slot) = self.buckets.get_mut(hole) {
                    *slot = bucket;
                }
                hole = i;
            }
        }
        if let Some(slot) = self.buckets.get_mut(hole) {
            *slot = EMPTY;
        }
        self.len -= 1;
    }

    /// Number of keys held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Forgets every key and releases the memory (keeping the hash seed).
    pub(super) fn clear(&mut self) {
        self.buckets = Vec::new();
        self.len = 0;
    }
}
