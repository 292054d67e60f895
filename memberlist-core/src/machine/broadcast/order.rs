//! The send order: which queued entry goes out next, by `(transmits, largest first,
//! newest first)` (Go's `limitedBroadcast.Less`). Never-sent entries live in [`Stacks`],
//! sent ones in [`Sent`].
//!
//! An entry is *stale* once its slot has moved on to another sequence number (a
//! replacement, or release): the order skips stale entries when it meets them, and its
//! owner rebuilds it without them when they pile up (see [`Order::remap`]). Methods that
//! meet entries take `live(seq, slot)`, which tells whether slot `slot` still holds
//! sequence number `seq` (sequence numbers are unique).

use std::cmp::Reverse;

use super::sent::Sent;
use super::stacks::{Fresh, Stacks};

/// Position of a sent entry in the send order (Go's `limitedBroadcast.Less`): fewer
/// transmits first, then larger first, then newer first. `seq` is unique, so ranks are.
///
/// The length is stored clamped to `u32::MAX` to keep the rank at 12 bytes; a message
/// that long can only be picked when the free space is at least that large, and
/// [`Sent::take`] then checks the real length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rank {
    pub(super) transmits: u32,
    pub(super) len: Reverse<u32>,
    pub(super) seq: Reverse<u32>,
}

impl Rank {
    /// The rank of an entry sent `transmits` times.
    pub(super) fn new(transmits: u32, len: usize, seq: u32) -> Self {
        Self {
            transmits,
            len: Reverse(u32::try_from(len).unwrap_or(u32::MAX)),
            seq: Reverse(seq),
        }
    }
}

/// The send order of the queued entries plus stale ones; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Order {
    /// Entries never sent, plus stale ones, by message length.
    pub(super) fresh: Stacks,
    /// Entries sent at least once, plus stale ones.
    pub(super) sent: Sent,
}

impl Order {
    /// Number of entries, stale ones included.
    pub(super) fn len(&self) -> usize {
        self.fresh.len() + self.sent.len()
    }

    /// Adds a newly queued entry; `seq` must exceed every sequence number in the order.
    pub(super) fn push_fresh(&mut self, len: usize, seq: u32, index: u32) {
        self.fresh.push(len, Fresh { seq, index });
    }

    /// Removes and returns the last entry in send order (most transmitted, then
    /// smallest, then oldest) as `(seq, slot)`, stale or not.
    pub(super) fn pop_last(&mut self) -> Option<(u32, u32)> {
        if let Some(last) = self.sent.pop_last() {
            return Some(last);
        }
        let bottom = self.fresh.pop_bottom()?;
        Some((bottom.seq, bottom.index))
    }

    /// Removes every entry, calling `each(seq, slot)` on them in send order, stale ones
    /// included; releases the memory.
    pub(super) fn drain_in_order(&mut self, mut each: impl FnMut(u32, u32)) {
        self.fresh.drain_in_order(&mut each);
        self.sent.drain_in_order(&mut each);
        *self = Self::default();
    }

    /// Removes every entry, keeping the allocations of the fresh stacks.
    pub(super) fn clear(&mut self) {
        self.fresh.clear();
        self.sent.clear();
    }

    /// Drops the stale entries and renumbers the live ones, in `O(n)`: `map(seq, slot)`
    /// is the entry's new slot number, or `None` if it is stale.
    pub(super) fn remap(&mut self, map: impl Fn(u32, u32) -> Option<u32>) {
        self.fresh.remap(&map);
        // Rebuilt from the sorted survivors, which is cheaper than removing many entries
        // one by one.
        self.sent.remap(&map);
    }

    /// Gives every entry the sequence number `renumber(seq)`, which must preserve their
    /// order.
    pub(super) fn renumber(&mut self, renumber: impl Fn(u32) -> u32) {
        self.fresh.renumber(&renumber);
        self.sent.renumber(&renumber);
    }
}

#[cfg(test)]
impl Order {
    /// Every entry in send order as `(transmits, seq, slot)`, stale ones included.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        let fresh = self
            .fresh
            .iter()
            .flat_map(|(_, stack)| stack.iter().rev().map(|e| (0, e.seq, e.index)));
        let sent = self
            .sent
            .iter()
            .map(|(rank, index)| (rank.transmits, rank.seq.0, index));
        fresh.chain(sent)
    }

    /// Checks the order's own invariants.
    pub(super) fn check(&self) {
        self.fresh.check();
        self.sent.check();
    }
}
