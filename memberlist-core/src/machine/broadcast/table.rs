//! The entries, stored in a hash table by key: a queued broadcast's *position* in this
//! table is both its slot number (which the send order holds) and the place its key
//! hashes to, so finding the broadcast a new message replaces costs one cache miss.
//!
//! A separate key index (key → slot number) would cost two misses in a row on a large
//! queue — the index bucket, then the slot it names — and on a large queue a miss is
//! most of an enqueue's time. Here each bucket is one 64-byte cache line holding the
//! message, the key and a 32-bit tag of the key's hash, and lookups probe linearly from
//! the bucket the tag picks; the next bucket of a probe run is the next cache line, which
//! the processor fetches while it compares the first. A bucket's sequence number and
//! notification id live in a parallel array ([`Meta`]), so that telling live order
//! entries from stale ones reads 16 bytes, not the bucket.
//!
//! Queued entries never move while queued: a removed entry leaves a *tombstone* (or an
//! empty bucket, when that cannot break a probe run), and the table is rebuilt — every
//! entry re-placed, the caller remapping the slot numbers it holds — only when an
//! insertion would leave more than 3/4 of the buckets used or tombstoned. The rebuilt
//! table has at least twice as many buckets as entries (and never fewer buckets than
//! before), so rebuilds cost amortized `O(1)` per insertion. The home bucket comes from
//! the top bits of the tag, so a rebuild hashes no key again. Broadcasts with
//! [`BroadcastKey::Unique`] are never looked up; their tag comes from their sequence
//! number.
//!
//! # Why a fast hash is safe here
//!
//! Keys are hashed with hashbrown's default hasher (foldhash, randomly seeded per
//! queue), which costs a few nanoseconds where SipHash costs 20–30. Foldhash makes no
//! cryptographic promise, and only 32 bits of it are kept, but nothing here relies on
//! hashes (or tags) being distinct: the tag only picks where to probe and filters
//! candidates, and every candidate is confirmed by comparing the *full* key stored in
//! its bucket. Two keys with equal tags, whether by chance or crafted, are simply two
//! buckets of one probe run told apart by that comparison — never confused, never lost.
//! The worst a collision can do is lengthen probes, and the random seed keeps that from
//! being steered from outside. (The tests force heavy collisions to check this.)

use std::hash::BuildHasher;
use std::mem;

use bytes::Bytes;
use hashbrown::DefaultHashBuilder;
use smol_str::SmolStr;

use super::BroadcastKey;

/// What a bucket holds: nothing, a tombstone, or an entry with a key of some kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Never used since the last rebuild; ends every probe run.
    Empty,
    /// Used since the last rebuild; probe runs continue through it.
    Tombstone,
    /// An entry with [`BroadcastKey::Unique`].
    Unique,
    /// An entry with [`BroadcastKey::Node`].
    Node,
    /// An entry with [`BroadcastKey::Named`].
    Named,
}

impl State {
    fn is_entry(self) -> bool {
        matches!(self, Self::Unique | Self::Node | Self::Named)
    }
}

/// The kind and name of a key, as a bucket stores them.
fn split_key(key: BroadcastKey) -> (State, SmolStr) {
    match key {
        BroadcastKey::Unique => (State::Unique, SmolStr::default()),
        BroadcastKey::Node(name) => (State::Node, name),
        BroadcastKey::Named(name) => (State::Named, name),
    }
}

/// One bucket: one cache line.
#[derive(Clone, Debug)]
#[repr(align(64))]
pub(super) struct Bucket {
    /// The encoded message (empty unless the bucket holds an entry).
    pub(super) message: Bytes,
    /// The key's name (empty unless the bucket holds a named entry).
    name: SmolStr,
    /// The top half of the key's hash (of the sequence number, for a unique key).
    tag: u32,
    state: State,
    /// Whether [`Meta::notify`] holds this entry's notification id.
    notified: bool,
}

impl Bucket {
    fn empty() -> Self {
        Self {
            message: Bytes::new(),
            name: SmolStr::default(),
            tag: 0,
            state: State::Empty,
            notified: false,
        }
    }

    fn holds(&self, tag: u32, state: State, name: &str) -> bool {
        self.tag == tag && self.state == state && self.name.as_str() == name
    }
}

/// A bucket's sequence number and notification id, apart from the bucket.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Meta {
    /// The entry's sequence number; 0 for no entry.
    seq: u64,
    /// The entry's notification id, if its bucket is `notified`.
    notify: u64,
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

/// The tag of a key with this hash.
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// An insertion may not leave more than this fraction of the buckets used or
/// tombstoned.
const MAX_LOAD: (usize, usize) = (3, 4);

/// The queue's entries; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Table {
    hasher: KeyHasher,
    /// The buckets; their number is 0 or a power of two.
    buckets: Vec<Bucket>,
    /// One per bucket.
    meta: Vec<Meta>,
    /// Number of entries.
    len: usize,
    /// Number of tombstones.
    tombstones: usize,
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
        self.hasher.hash(key)
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The first bucket to probe for `tag`: its top bits.
    fn home(&self, tag: u32) -> usize {
        let bits = self.buckets.len().trailing_zeros().min(32);
        (u64::from(tag) >> (32 - bits)) as usize & self.mask()
    }

    /// The position of the entry with `key` (not unique; its hash is `hash`), if any.
    pub(super) fn find(&self, key: &BroadcastKey, hash: u64) -> Option<u32> {
        let (BroadcastKey::Node(name) | BroadcastKey::Named(name)) = key else {
            return None;
        };
        let state = if matches!(key, BroadcastKey::Node(_)) {
            State::Node
        } else {
            State::Named
        };
        if self.len == 0 {
            return None;
        }
        let tag = tag_of(hash);
        let mask = self.mask();
        let mut i = self.home(tag);
        loop {
            let bucket = self.buckets.get(i)?;
            if bucket.state == State::Empty {
                return None;
            }
            if bucket.holds(tag, state, name) {
                return u32::try_from(i).ok();
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether the entry at `index` has sequence number `seq` (an order entry naming
    /// it is live).
    pub(super) fn is_live(&self, seq: u64, index: u32) -> bool {
        matches!(self.meta.get(index as usize), Some(meta) if meta.seq == seq)
    }

    /// The entry at `index`, if any.
    pub(super) fn get(&self, index: u32) -> Option<&Bucket> {
        self.buckets
            .get(index as usize)
            .filter(|bucket| bucket.state.is_entry())
    }

    /// The notification id of the entry at `index`, if any.
    pub(super) fn notify(&self, index: u32) -> Option<u64> {
        let bucket = self.get(index)?;
        let meta = self.meta.get(index as usize)?;
        bucket.notified.then_some(meta.notify)
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
        let (Some(bucket), Some(meta)) = (
            self.buckets.get_mut(index as usize),
            self.meta.get_mut(index as usize),
        ) else {
            return None;
        };
        let old = bucket.notified.then_some(meta.notify);
        bucket.message = message;
        bucket.notified = notify.is_some();
        meta.seq = seq;
        if let Some(notify) = notify {
            meta.notify = notify;
        }
        old
    }

    /// Whether [`insert`](Self::insert) needs a [`rebuild`](Self::rebuild) first.
    pub(super) fn is_full(&self) -> bool {
        (self.len + self.tombstones + 1) * MAX_LOAD.1 > self.buckets.len() * MAX_LOAD.0
    }

    /// Adds an entry whose key is absent (`hash` is its hash, `None` for a unique key)
    /// and returns its position. The table must not be [full](Self::is_full).
    pub(super) fn insert(
        &mut self,
        key: BroadcastKey,
        hash: Option<u64>,
        message: Bytes,
        notify: Option<u64>,
        seq: u64,
    ) -> u32 {
        // A unique key's tag only spreads such entries over the table.
        let tag = tag_of(hash.unwrap_or_else(|| self.hasher.state.hash_one(seq)));
        let (state, name) = split_key(key);
        let index = self.vacancy(tag);
        if let (Some(bucket), Some(meta)) = (self.buckets.get_mut(index), self.meta.get_mut(index))
        {
            if bucket.state == State::Tombstone {
                self.tombstones -= 1;
            }
            *bucket = Bucket {
                message,
                name,
                tag,
                state,
                notified: notify.is_some(),
            };
            *meta = Meta {
                seq,
                notify: notify.unwrap_or(0),
            };
            self.len += 1;
        }
        slot_number(index)
    }

    /// The first empty bucket or tombstone of `tag`'s probe run.
    fn vacancy(&self, tag: u32) -> usize {
        let mask = self.mask();
        let mut i = self.home(tag);
        while let Some(bucket) = self.buckets.get(i) {
            if !bucket.state.is_entry() {
                break;
            }
            i = (i + 1) & mask;
        }
        i
    }

    /// Removes the entry at `index`, returning its notification id.
    pub(super) fn remove(&mut self, index: u32) -> Option<u64> {
        let index = index as usize;
        let next = (index + 1) & self.mask();
        let next_empty = matches!(self.buckets.get(next), Some(b) if b.state == State::Empty);
        let (Some(bucket), Some(meta)) = (self.buckets.get_mut(index), self.meta.get_mut(index))
        else {
            return None;
        };
        if !bucket.state.is_entry() {
            return None;
        }
        let notify = bucket.notified.then_some(meta.notify);
        *meta = Meta::default();
        self.len -= 1;
        if !next_empty {
            // Later buckets of the run may be reached through this one.
            *bucket = Bucket {
                state: State::Tombstone,
                ..Bucket::empty()
            };
            self.tombstones += 1;
            return notify;
        }
        // The run ends here now, and so do the tombstones just before.
        *bucket = Bucket::empty();
        let mask = self.mask();
        let mut i = index;
        loop {
            i = i.wrapping_sub(1) & mask;
            match self.buckets.get_mut(i) {
                Some(bucket) if bucket.state == State::Tombstone => {
                    bucket.state = State::Empty;
                    self.tombstones -= 1;
                }
                _ => break,
            }
        }
        notify
    }

    /// Re-places every entry in a table of at least twice as many buckets as entries
    /// (plus one), without tombstones. Returns, for each old position, the sequence
    /// number of the entry that was there (0 for none) and its new position.
    pub(super) fn rebuild(&mut self) -> Vec<(u64, u32)> {
        let size = (self.len + 1)
            .saturating_mul(2)
            .next_power_of_two()
            .max(16)
            .max(self.buckets.len());
        let buckets = mem::replace(
            &mut self.buckets,
            (0..size).map(|_| Bucket::empty()).collect(),
        );
        let meta = mem::replace(&mut self.meta, vec![Meta::default(); size]);
        self.tombstones = 0;
        let mut moves = vec![(0, u32::MAX); buckets.len()];
        for ((bucket, meta), moved) in buckets.into_iter().zip(meta).zip(&mut moves) {
            if bucket.state.is_entry() {
                let index = self.vacancy(bucket.tag);
                if let (Some(to), Some(to_meta)) =
                    (self.buckets.get_mut(index), self.meta.get_mut(index))
                {
                    *to = bucket;
                    *to_meta = meta;
                }
                *moved = (meta.seq, slot_number(index));
            }
        }
        moves
    }

    /// Removes every entry and releases the memory (keeping the hash seed).
    pub(super) fn clear(&mut self) {
        self.buckets = Vec::new();
        self.meta = Vec::new();
        self.len = 0;
        self.tombstones = 0;
    }

    /// Checks the table's invariants; returns the positions of the entries.
    #[cfg(test)]
    pub(super) fn check(&self) -> Vec<u32> {
        assert_eq!(self.buckets.len(), self.meta.len());
        assert!(self.buckets.is_empty() || self.buckets.len().is_power_of_two());
        let mut entries = Vec::new();
        let mut tombstones = 0;
        for (i, (bucket, meta)) in self.buckets.iter().zip(&self.meta).enumerate() {
            match bucket.state {
                State::Empty | State::Tombstone => {
                    tombstones += usize::from(bucket.state == State::Tombstone);
                    assert_eq!(meta.seq, 0);
                    assert!(bucket.message.is_empty() && bucket.name.is_empty());
                }
                state => {
                    assert_ne!(meta.seq, 0);
                    entries.push(i as u32);
                    if state != State::Unique {
                        // Reachable from its home without crossing an empty bucket, and
                        // the only entry with its key.
                        let key = if state == State::Node {
                            BroadcastKey::Node(bucket.name.clone())
                        } else {
                            BroadcastKey::Named(bucket.name.clone())
                        };
                        let hash = self.hash(&key);
                        assert_eq!(bucket.tag, tag_of(hash));
                        assert_eq!(self.find(&key, hash), Some(i as u32));
                    }
                }
            }
        }
        assert_eq!(entries.len(), self.len);
        assert_eq!(tombstones, self.tombstones);
        assert!((self.len + self.tombstones) * MAX_LOAD.1 <= self.buckets.len() * MAX_LOAD.0);
        entries
    }
}

/// Positions are 32-bit to keep the order small; 2^32 entries of ~100 bytes each cannot
/// be held in memory anyway.
#[allow(clippy::expect_used)]
fn slot_number(index: usize) -> u32 {
    u32::try_from(index).expect("fewer than 2^32 queued broadcasts")
}
