//! The entries, stored in a hash table by key: a queued broadcast's *position* in this
//! table is both its slot number (which the send order holds) and the place its key
//! hashes to, so finding the broadcast a new message replaces costs one cache miss.
//!
//! A separate key index (key → slot number) would cost two misses in a row on a large
//! queue — the index bucket, then the slot it names — and on a large queue a miss is
//! most of an enqueue's time. Here each bucket is exactly one 64-byte cache line holding
//! everything an enqueue touches: the message, the key's name, and one word with the
//! key's kind, the entry's sequence number and whether it has a notification id. Lookups
//! probe linearly from the bucket the key's hash picks; the next bucket of a probe run
//! is the next cache line, which the processor fetches while it compares the first.
//! Notification ids, rarely used, live in a parallel array read only for entries that
//! have one. (Keeping the sequence number in that array instead costs a second,
//! store-missing access per enqueue, measured at 60–180 ns on a 100,000-deep queue.)
//!
//! Sequence numbers are kept below 2^60 to fit the word: the queue renumbers its entries
//! before its counter would reach that (see [`SEQ_LIMIT`]), which never happens in
//! practice but keeps the stored numbers exact.
//!
//! Queued entries never move while queued: a removed entry leaves a *tombstone* (or an
//! empty bucket, when that cannot break a probe run), and the table is rebuilt — every
//! entry re-placed, the caller remapping the slot numbers it holds — only when an
//! insertion would leave more than 3/4 of the buckets used or tombstoned. The rebuilt
//! table has at least twice as many buckets as entries (and never fewer buckets than
//! before), so rebuilds cost amortized `O(1)` per insertion. Broadcasts with
//! [`BroadcastKey::Unique`] are never looked up; they are spread by a hash of their
//! sequence number.
//!
//! # Why a fast hash is safe here
//!
//! Keys are hashed with hashbrown's default hasher (foldhash, randomly seeded per
//! queue), which costs a few nanoseconds where SipHash costs 20–30. Foldhash makes no
//! cryptographic promise, but nothing here relies on hashes being distinct: the hash
//! only picks where to probe, and every candidate is confirmed by comparing the *full*
//! key stored in its bucket. Two keys with equal hashes, whether by chance or crafted,
//! are simply two buckets of one probe run told apart by that comparison — never
//! confused, never lost. The worst a collision can do is lengthen probes, and the random
//! seed keeps that from being steered from outside. (The tests force heavy collisions
//! to check this.)

use std::hash::BuildHasher;
use std::mem;

use bytes::Bytes;
use hashbrown::DefaultHashBuilder;
use smol_str::SmolStr;

use super::BroadcastKey;

/// What a bucket holds: nothing, a tombstone, or an entry with a key of some kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Never used since the last rebuild; ends every probe run.
    Empty = 0,
    /// Used since the last rebuild; probe runs continue through it.
    Tombstone = 1,
    /// An entry with [`BroadcastKey::Unique`].
    Unique = 2,
    /// An entry with [`BroadcastKey::Node`].
    Node = 3,
    /// An entry with [`BroadcastKey::Named`].
    Named = 4,
}

impl Kind {
    fn is_entry(self) -> bool {
        matches!(self, Self::Unique | Self::Node | Self::Named)
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

/// Bits of a bucket's word that hold the sequence number.
const SEQ_BITS: u32 = 60;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// Bit of a bucket's word telling that the entry has a notification id.
const NOTIFIED: u64 = 1 << 63;

/// The queue renumbers its entries before its sequence counter would pass this, so
/// that every sequence number fits [`SEQ_BITS`] bits. (Tests use a small value to
/// exercise the renumbering.)
pub(super) const SEQ_LIMIT: u64 = if cfg!(test) { 500 } else { SEQ_MASK };

/// One bucket: one cache line.
#[derive(Clone, Debug)]
#[repr(align(64))]
pub(super) struct Bucket {
    /// The encoded message (empty unless the bucket holds an entry).
    pub(super) message: Bytes,
    /// The key's name (empty unless the bucket holds a named entry).
    name: SmolStr,
    /// The kind (bits 60–62), the sequence number (bits 0–59, 0 unless an entry) and
    /// [`NOTIFIED`].
    word: u64,
}

impl Bucket {
    fn empty() -> Self {
        Self::vacant(Kind::Empty)
    }

    fn vacant(kind: Kind) -> Self {
        Self {
            message: Bytes::new(),
            name: SmolStr::default(),
            word: (kind as u64) << SEQ_BITS,
        }
    }

    fn kind(&self) -> Kind {
        match (self.word >> SEQ_BITS) & 7 {
            0 => Kind::Empty,
            1 => Kind::Tombstone,
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

/// An insertion may not leave more than this fraction of the buckets used or
/// tombstoned.
const MAX_LOAD: (usize, usize) = (3, 4);

/// The queue's entries; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Table {
    hasher: KeyHasher,
    /// The buckets; their number is 0 or a power of two.
    buckets: Vec<Bucket>,
    /// The notification id of each bucket whose entry has one.
    notify: Vec<u64>,
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
        let (kind, name) = key_parts(key);
        self.hasher.hash(kind, name)
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The first bucket to probe for a key with this hash: its top bits.
    fn home(&self, hash: u64) -> usize {
        let bits = self.buckets.len().trailing_zeros().clamp(1, 63);
        (hash >> (64 - bits)) as usize & self.mask()
    }

    /// The position of the entry with `key` (not unique; its hash is `hash`), if any.
    pub(super) fn find(&self, key: &BroadcastKey, hash: u64) -> Option<u32> {
        let (kind, name) = key_parts(key);
        if self.len == 0 || kind == Kind::Unique {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            let bucket = self.buckets.get(i)?;
            match bucket.kind() {
                Kind::Empty => return None,
                found if found == kind && bucket.name.as_str() == name => {
                    return u32::try_from(i).ok();
                }
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Whether the entry at `index` has sequence number `seq` (an order entry naming
    /// it is live).
    pub(super) fn is_live(&self, seq: u64, index: u32) -> bool {
        matches!(self.buckets.get(index as usize), Some(b) if b.seq() == seq && b.kind().is_entry())
    }

    /// The entry at `index`, if any.
    pub(super) fn get(&self, index: u32) -> Option<&Bucket> {
        self.buckets
            .get(index as usize)
            .filter(|bucket| bucket.kind().is_entry())
    }

    /// The notification id of the entry at `index`, if any.
    pub(super) fn notify(&self, index: u32) -> Option<u64> {
        let bucket = self.get(index)?;
        if bucket.notified() {
            self.notify.get(index as usize).copied()
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
        let bucket = self.buckets.get_mut(index as usize)?;
        bucket.message = message;
        bucket.set_seq(seq, notify.is_some());
        if let (Some(notify), Some(slot)) = (notify, self.notify.get_mut(index as usize)) {
            *slot = notify;
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
        // A unique key's hash only spreads such entries over the table.
        let hash = hash.unwrap_or_else(|| self.hasher.state.hash_one(seq));
        let (kind, name) = match key {
            BroadcastKey::Unique => (Kind::Unique, SmolStr::default()),
            BroadcastKey::Node(name) => (Kind::Node, name),
            BroadcastKey::Named(name) => (Kind::Named, name),
        };
        let index = self.vacancy(hash);
        if let Some(bucket) = self.buckets.get_mut(index) {
            if bucket.kind() == Kind::Tombstone {
                self.tombstones -= 1;
            }
            *bucket = Bucket {
                message,
                name,
                word: (kind as u64) << SEQ_BITS,
            };
            bucket.set_seq(seq, notify.is_some());
            self.len += 1;
        }
        if let (Some(notify), Some(slot)) = (notify, self.notify.get_mut(index)) {
            *slot = notify;
        }
        slot_number(index)
    }

    /// The first empty bucket or tombstone of the probe run of a key with this hash.
    fn vacancy(&self, hash: u64) -> usize {
        let mask = self.mask();
        let mut i = self.home(hash);
        while let Some(bucket) = self.buckets.get(i) {
            if !bucket.kind().is_entry() {
                break;
            }
            i = (i + 1) & mask;
        }
        i
    }

    /// Removes the entry at `index`, returning its notification id.
    pub(super) fn remove(&mut self, index: u32) -> Option<u64> {
        let notify = self.notify(index);
        let index = index as usize;
        let next = (index + 1) & self.mask();
        let next_empty = matches!(self.buckets.get(next), Some(b) if b.kind() == Kind::Empty);
        let bucket = self.buckets.get_mut(index)?;
        if !bucket.kind().is_entry() {
            return None;
        }
        self.len -= 1;
        if !next_empty {
            // Later buckets of the run may be reached through this one.
            *bucket = Bucket::vacant(Kind::Tombstone);
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
                Some(bucket) if bucket.kind() == Kind::Tombstone => {
                    *bucket = Bucket::empty();
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
        let notify = mem::replace(&mut self.notify, vec![0; size]);
        self.tombstones = 0;
        let mut moves = vec![(0, u32::MAX); buckets.len()];
        for ((bucket, notify), moved) in buckets.into_iter().zip(notify).zip(&mut moves) {
            let kind = bucket.kind();
            if kind.is_entry() {
                let hash = if kind == Kind::Unique {
                    self.hasher.state.hash_one(bucket.seq())
                } else {
                    self.hasher.hash(kind, &bucket.name)
                };
                let index = self.vacancy(hash);
                *moved = (bucket.seq(), slot_number(index));
                if let Some(to) = self.buckets.get_mut(index) {
                    *to = bucket;
                }
                if let Some(to) = self.notify.get_mut(index) {
                    *to = notify;
                }
            }
        }
        moves
    }

    /// The sequence numbers of the entries, in no particular order.
    pub(super) fn seqs(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .filter(|bucket| bucket.kind().is_entry())
            .map(Bucket::seq)
            .collect()
    }

    /// Gives every entry the sequence number `renumber(seq)`.
    pub(super) fn renumber(&mut self, renumber: impl Fn(u64) -> u64) {
        for bucket in &mut self.buckets {
            if bucket.kind().is_entry() {
                let notified = bucket.notified();
                bucket.set_seq(renumber(bucket.seq()), notified);
            }
        }
    }

    /// Removes every entry and releases the memory (keeping the hash seed).
    pub(super) fn clear(&mut self) {
        self.buckets = Vec::new();
        self.notify = Vec::new();
        self.len = 0;
        self.tombstones = 0;
    }

    /// Checks the table's invariants; returns the positions of the entries.
    #[cfg(test)]
    pub(super) fn check(&self) -> Vec<u32> {
        assert_eq!(self.buckets.len(), self.notify.len());
        assert!(self.buckets.is_empty() || self.buckets.len().is_power_of_two());
        let mut entries = Vec::new();
        let mut tombstones = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            match bucket.kind() {
                kind @ (Kind::Empty | Kind::Tombstone) => {
                    tombstones += usize::from(kind == Kind::Tombstone);
                    assert_eq!(bucket.word, (kind as u64) << SEQ_BITS);
                    assert!(bucket.message.is_empty() && bucket.name.is_empty());
                }
                kind => {
                    assert_ne!(bucket.seq(), 0);
                    entries.push(i as u32);
                    if kind != Kind::Unique {
                        // Reachable from its home without crossing an empty bucket, and
                        // the only entry with its key.
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
