//! The send order: which queued entry goes out next.
//!
//! Entries are ranked by `(transmits, largest first, newest first)` (Go's
//! `limitedBroadcast.Less`), and split in two by their transmit count:
//!
//! - **Fresh** entries (never sent) sit in one stack per message length, the lengths in
//!   a small `BTreeMap` (largest first); each stack holds `(seq, slot)` pairs oldest at
//!   the bottom, newest on top. Nothing ever *enters* the fresh tier except a newly
//!   queued message, whose sequence number is the largest so far, so a push onto the top
//!   of its stack keeps the stack sorted: queueing costs a lookup among the few distinct
//!   lengths and an `O(1)` push. The next fresh entry to send is the top of the first
//!   stack no longer than the free space; pruning takes from the bottom of the last.
//! - **Sent** entries keep their original sequence number as they move from tier to
//!   tier, so they arrive in a tier out of sequence order; they live in a
//!   `BTreeMap<Rank, u32>`, `O(log n)` per move.
//!
//! An entry is *stale* once its slot has moved on to another sequence number (a
//! replacement, or release); the order does not search for stale entries but skips
//! them when it meets them, and its owner rebuilds it without them (in `O(n)`) when they
//! pile up (see [`Order::retain_live`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::mem;

/// Position of a sent entry in the send order (Go's `limitedBroadcast.Less`): fewer
/// transmits first, then larger first, then newer first. `seq` is unique, so ranks are.
///
/// The length is stored clamped to `u32::MAX` to keep the rank at 16 bytes; a message
/// that long can only be picked when the free space is at least that large, and
/// [`Order::take_sent`] then checks the real length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rank {
    pub(super) transmits: u32,
    pub(super) len: Reverse<u32>,
    pub(super) seq: Reverse<u64>,
}

impl Rank {
    /// The rank of an entry sent `transmits` times.
    pub(super) fn new(transmits: u32, len: usize, seq: u64) -> Self {
        Self {
            transmits,
            len: Reverse(u32::try_from(len).unwrap_or(u32::MAX)),
            seq: Reverse(seq),
        }
    }
}

/// A fresh entry: the sequence number it was queued with, and its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fresh {
    pub(super) seq: u64,
    pub(super) index: u32,
}

/// Whether the entry with sequence number `seq` in slot `index` is live, i.e. not left
/// behind by a replacement or release. (Sequence numbers are unique, and a slot takes a
/// new one whenever its entry is replaced or the slot is reused.)
pub(super) fn is_live(seqs: &[u64], seq: u64, index: u32) -> bool {
    seqs.get(index as usize) == Some(&seq)
}

/// Emptied fresh stacks kept for reuse, at most this many.
const SPARE_STACKS: usize = 64;

/// The send order of the queued entries plus stale ones; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Order {
    /// Fresh entries by message length, largest first; no stack is empty.
    pub(super) fresh: BTreeMap<Reverse<usize>, VecDeque<Fresh>>,
    /// Number of entries in `fresh`, stale ones included.
    fresh_len: usize,
    /// Entries sent at least once, plus stale ones.
    pub(super) sent: BTreeMap<Rank, u32>,
    /// Emptied stacks, to reuse their allocations.
    spare: Vec<VecDeque<Fresh>>,
}

impl Order {
    /// Number of entries, stale ones included.
    pub(super) fn len(&self) -> usize {
        self.fresh_len + self.sent.len()
    }

    /// Adds a newly queued entry; `seq` must exceed every sequence number in the order.
    pub(super) fn push_fresh(&mut self, len: usize, seq: u64, index: u32) {
        let entry = Fresh { seq, index };
        self.fresh_len += 1;
        match self.fresh.entry(Reverse(len)) {
            std::collections::btree_map::Entry::Occupied(stack) => {
                stack.into_mut().push_back(entry)
            }
            std::collections::btree_map::Entry::Vacant(vacant) => {
                let mut stack = self.spare.pop().unwrap_or_default();
                stack.push_back(entry);
                vacant.insert(stack);
            }
        }
    }

    /// Adds an entry that has been sent.
    pub(super) fn insert_sent(&mut self, rank: Rank, index: u32) {
        self.sent.insert(rank, index);
    }

    /// Removes and returns the next fresh entry to send into `free` bytes: the newest
    /// live one of the largest length that is at most `free`. Stale entries met on the
    /// way are dropped.
    pub(super) fn take_fresh(&mut self, free: usize, seqs: &[u64]) -> Option<Fresh> {
        loop {
            let (&Reverse(len), stack) = self.fresh.range_mut(Reverse(free)..).next()?;
            let top = stack.pop_back();
            if stack.is_empty() {
                self.drop_stack(len);
            }
            // No stack is empty, so `top` is always an entry.
            let top = top?;
            self.fresh_len -= 1;
            if is_live(seqs, top.seq, top.index) {
                return Some(top);
            }
        }
    }

    /// Removes and returns the next sent entry to send into `free` bytes: the largest
    /// newest live entry no longer than `free` in tier `*tier`, or else in the next tier
    /// that has one (`*tier` then follows). `len_of` tells the real length of a slot's
    /// message, needed only for messages of `u32::MAX` bytes or more. Stale entries met
    /// on the way are dropped.
    pub(super) fn take_sent(
        &mut self,
        tier: &mut u32,
        free: usize,
        seqs: &[u64],
        len_of: impl Fn(u32) -> usize,
    ) -> Option<(Rank, u32)> {
        /// What the range scan found.
        enum Found {
            /// Nothing at or after the start of the range.
            End,
            /// No fitting entry in this tier; the next tier present.
            NextTier(u32),
            /// A stale entry, to drop before looking again.
            Stale(Rank),
            /// The entry to send.
            Pick(Rank, u32),
        }

        loop {
            // The first rank at or after `start` is the largest, newest entry of `tier`
            // no longer than `free`, or else the first entry of a later tier.
            let start = Rank {
                transmits: *tier,
                len: Reverse(u32::try_from(free).unwrap_or(u32::MAX)),
                seq: Reverse(u64::MAX),
            };
            let mut found = Found::End;
            for (rank, &index) in self.sent.range(start..) {
                if rank.transmits != *tier {
                    found = Found::NextTier(rank.transmits);
                    break;
                }
                if !is_live(seqs, rank.seq.0, index) {
                    found = Found::Stale(*rank);
                    break;
                }
                // Below `u32::MAX` the rank holds the exact length, which the range
                // bounds.
                if rank.len.0 < u32::MAX || len_of(index) <= free {
                    found = Found::Pick(*rank, index);
                    break;
                }
            }
            match found {
                Found::End => return None,
                Found::NextTier(next) => *tier = next,
                Found::Stale(rank) => {
                    self.sent.remove(&rank);
                }
                Found::Pick(rank, index) => {
                    self.sent.remove(&rank);
                    return Some((rank, index));
                }
            }
        }
    }

    /// Removes and returns the last entry in send order (most transmitted, then
    /// smallest, then oldest) as `(seq, slot)`, stale or not.
    pub(super) fn pop_last(&mut self) -> Option<(u64, u32)> {
        if let Some((rank, index)) = self.sent.pop_last() {
            return Some((rank.seq.0, index));
        }
        let mut last = self.fresh.last_entry()?;
        let bottom = last.get_mut().pop_front();
        if last.get().is_empty() {
            let stack = last.remove();
            self.keep_spare(stack);
        }
        let bottom = bottom?;
        self.fresh_len -= 1;
        Some((bottom.seq, bottom.index))
    }

    /// Removes every entry, calling `each(seq, slot)` on them in send order, stale ones
    /// included; releases the memory.
    pub(super) fn drain_in_order(&mut self, mut each: impl FnMut(u64, u32)) {
        for stack in mem::take(&mut self.fresh).into_values() {
            for entry in stack.into_iter().rev() {
                each(entry.seq, entry.index);
            }
        }
        for (rank, index) in mem::take(&mut self.sent) {
            each(rank.seq.0, index);
        }
        *self = Self::default();
    }

    /// Removes every entry, keeping the allocations of the fresh stacks.
    pub(super) fn clear(&mut self) {
        while let Some((_, stack)) = self.fresh.pop_first() {
            self.keep_spare(stack);
        }
        self.fresh_len = 0;
        self.sent.clear();
    }

    /// Drops the stale entries, in `O(n)`.
    pub(super) fn retain_live(&mut self, seqs: &[u64]) {
        let mut emptied = Vec::new();
        self.fresh_len = 0;
        for (&Reverse(len), stack) in &mut self.fresh {
            stack.retain(|entry| is_live(seqs, entry.seq, entry.index));
            self.fresh_len += stack.len();
            if stack.is_empty() {
                emptied.push(len);
            }
        }
        for len in emptied {
            self.drop_stack(len);
        }
        if !self.sent.is_empty() {
            // Rebuilt from the sorted survivors, which is cheaper than removing many
            // entries one by one.
            self.sent = mem::take(&mut self.sent)
                .into_iter()
                .filter(|(rank, index)| is_live(seqs, rank.seq.0, *index))
                .collect();
        }
    }

    /// Removes the (empty) stack of length `len`.
    fn drop_stack(&mut self, len: usize) {
        if let Some(stack) = self.fresh.remove(&Reverse(len)) {
            self.keep_spare(stack);
        }
    }

    fn keep_spare(&mut self, mut stack: VecDeque<Fresh>) {
        if self.spare.len() < SPARE_STACKS {
            stack.clear();
            self.spare.push(stack);
        }
    }

    /// Every entry in send order as `(transmits, seq, slot)`, stale ones included.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, u64, u32)> + '_ {
        let fresh = self
            .fresh
            .values()
            .flat_map(|stack| stack.iter().rev().map(|e| (0, e.seq, e.index)));
        let sent = self
            .sent
            .iter()
            .map(|(rank, &index)| (rank.transmits, rank.seq.0, index));
        fresh.chain(sent)
    }

    /// Checks the order's own invariants.
    #[cfg(test)]
    pub(super) fn check(&self) {
        let mut total = 0;
        for stack in self.fresh.values() {
            assert!(!stack.is_empty(), "empty fresh stack kept");
            assert!(
                stack
                    .iter()
                    .zip(stack.iter().skip(1))
                    .all(|(a, b)| a.seq < b.seq),
                "fresh stack out of sequence order"
            );
            total += stack.len();
        }
        assert_eq!(total, self.fresh_len);
        assert!(self.sent.keys().all(|rank| rank.transmits > 0));
    }
}
