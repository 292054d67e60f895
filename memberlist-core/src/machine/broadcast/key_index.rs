//! The invalidation index: which slot holds the queued broadcast with a given key.
//!
//! A `HashMap<BroadcastKey, u32>` would store a copy of every key (32 bytes) in the
//! table and compare against it, costing a cache miss on the table *and* another on the
//! slot the caller then touches anyway. Instead the table maps the key's 64-bit
//! (randomly seeded SipHash) hash to the slot number, 16 bytes a bucket, and the key is
//! compared against the one stored in the slot. Two different keys with the same 64-bit
//! hash are astronomically rare, but handled: the later one goes to a small overflow map
//! keyed by the full key, which is consulted only when it is not empty.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use super::{BroadcastKey, Slot};

/// A [`Hasher`] for keys that already are well-mixed 64-bit hashes.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed with this hasher; fold anything else in regardless.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Maps non-unique keys to slot numbers; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct KeyIndex {
    hasher: RandomState,
    by_hash: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    /// Keys whose hash was already taken by another key when they were inserted.
    overflow: HashMap<BroadcastKey, u32>,
    /// Tests set this to make hashes collide on purpose.
    #[cfg(test)]
    pub(super) weak_hash: bool,
}

fn slot_has_key(slots: &[Option<Slot>], index: u32, key: &BroadcastKey) -> bool {
    matches!(slots.get(index as usize), Some(Some(slot)) if slot.key == *key)
}

impl KeyIndex {
    /// The hash `key` is stored under.
    pub(super) fn hash(&self, key: &BroadcastKey) -> u64 {
        #[cfg(test)]
        if self.weak_hash {
            // Only a handful of distinct hashes: most keys collide.
            let (BroadcastKey::Node(name) | BroadcastKey::Named(name)) = key else {
                return 0;
            };
            return name.len() as u64 % 3;
        }
        self.hasher.hash_one(key)
    }

    /// The slot holding `key` (whose hash is `hash`), if any.
    pub(super) fn find(
        &self,
        key: &BroadcastKey,
        hash: u64,
        slots: &[Option<Slot>],
    ) -> Option<u32> {
        if let Some(&index) = self.by_hash.get(&hash) {
            if slot_has_key(slots, index, key) {
                return Some(index);
            }
        }
        if self.overflow.is_empty() {
            None
        } else {
            self.overflow.get(key).copied()
        }
    }

    /// Records that `key` (absent so far, hash `hash`) is held by slot `index`.
    pub(super) fn insert(&mut self, key: &BroadcastKey, hash: u64, index: u32) {
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(index);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.overflow.insert(key.clone(), index);
            }
        }
    }

    /// Forgets `key`, held by slot `index`.
    pub(super) fn remove(&mut self, key: &BroadcastKey, index: u32) {
        let hash = self.hash(key);
        if self.by_hash.get(&hash) == Some(&index) {
            self.by_hash.remove(&hash);
        } else {
            self.overflow.remove(key);
        }
    }

    /// Number of keys held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_hash.len() + self.overflow.len()
    }

    /// Forgets every key and releases the memory (keeping the hash seed).
    pub(super) fn clear(&mut self) {
        self.by_hash = HashMap::default();
        self.overflow = HashMap::new();
    }
}
