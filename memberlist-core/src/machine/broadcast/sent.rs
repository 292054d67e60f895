//! The sent tiers of the send order: entries sent at least once, grouped by transmit
//! count and message length, each group an ordered set of `(seq, slot)` words.
//!
//! The send order ranks sent entries by `(transmits, largest first, newest first)`
//! ([`Rank`]). Entries keep their sequence number from tier to tier, so they arrive in
//! a tier out of sequence order and need an ordered structure. Few `(transmits, length)`
//! pairs are present at a time (gossip messages come in a handful of lengths), so the
//! ranks are split in two: a small map of groups, one per pair present, and in each group
//! a `BTreeSet<u64>` of words `seq << 32 | slot` (8 bytes where a `(Rank, slot)` pair
//! would take 16), newest (largest) last.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::mem;

use super::order::Rank;

/// A group of sent entries: one transmit count and one (clamped) length, ordered as
/// ranks are (fewer transmits first, then larger first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    transmits: u32,
    len: Reverse<u32>,
}

/// `(seq, slot)` as one word, ordered by `seq`.
fn word(seq: u32, index: u32) -> u64 {
    (u64::from(seq) << 32) | u64::from(index)
}

/// The `(seq, slot)` of a word.
fn split(word: u64) -> (u32, u32) {
    // Both halves are 32-bit by construction.
    ((word >> 32) as u32, word as u32)
}

/// The sent entries; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Sent {
    groups: BTreeMap<Group, BTreeSet<u64>>,
    len: usize,
}

/// What a scan for the next entry to send found.
enum Found {
    /// Nothing at or after the start of the range.
    End,
    /// No fitting entry in this tier; the next tier present.
    NextTier(u32),
    /// A stale entry, to drop before looking again.
    Stale(Group, u64),
    /// The entry to send.
    Pick(Group, u64),
}

impl Sent {
    /// Number of entries, stale ones included.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The fewest transmits of any entry.
    pub(super) fn first_tier(&self) -> Option<u32> {
        self.groups.first_key_value().map(|(g, _)| g.transmits)
    }

    /// Adds an entry with rank `rank` in slot `index`.
    pub(super) fn insert(&mut self, rank: Rank, index: u32) {
        let group = Group {
            transmits: rank.transmits,
            len: rank.len,
        };
        if self
            .groups
            .entry(group)
            .or_default()
            .insert(word(rank.seq.0, index))
        {
            self.len += 1;
        }
    }

    /// Removes one entry (which is present).
    fn remove(&mut self, group: Group, word: u64) {
        if let Some(set) = self.groups.get_mut(&group) {
            if set.remove(&word) {
                self.len -= 1;
            }
            if set.is_empty() {
                self.groups.remove(&group);
            }
        }
    }

    /// Removes and returns the next entry to send into `free` bytes: the largest newest
    /// live entry no longer than `free` in tier `*tier`, or else in the next tier that has
    /// one (`*tier` then follows). `len_of` tells the real length of a slot's message,
    /// needed only for messages of `u32::MAX` bytes or more. Stale entries met on the way
    /// are dropped.
    pub(super) fn take(
        &mut self,
        tier: &mut u32,
        free: usize,
        live: impl Fn(u32, u32) -> bool,
        len_of: impl Fn(u32) -> usize,
    ) -> Option<(Rank, u32)> {
        loop {
            // The first group at or after `start` holds the largest entries of `tier` no
            // longer than `free`, or else the first entries of a later tier.
            let start = Group {
                transmits: *tier,
                len: Reverse(u32::try_from(free).unwrap_or(u32::MAX)),
            };
            let mut found = Found::End;
            'scan: for (&group, set) in self.groups.range(start..) {
                if group.transmits != *tier {
                    found = Found::NextTier(group.transmits);
                    break;
                }
                for &w in set.iter().rev() {
                    let (seq, index) = split(w);
                    if !live(seq, index) {
                        found = Found::Stale(group, w);
                        break 'scan;
                    }
                    // Below `u32::MAX` the group holds the exact length, which the range
                    // bounds.
                    if group.len.0 < u32::MAX || len_of(index) <= free {
                        found = Found::Pick(group, w);
                        break 'scan;
                    }
                }
            }
            match found {
                Found::End => return None,
                Found::NextTier(next) => *tier = next,
                Found::Stale(group, w) => self.remove(group, w),
                Found::Pick(group, w) => {
                    self.remove(group, w);
                    let (seq, index) = split(w);
                    let rank = Rank {
                        transmits: group.transmits,
                        len: group.len,
                        seq: Reverse(seq),
                    };
                    return Some((rank, index));
                }
            }
        }
    }

    /// Removes and returns the last entry in send order (most transmitted, then
    /// smallest, then oldest) as `(seq, slot)`, stale or not.
    pub(super) fn pop_last(&mut self) -> Option<(u32, u32)> {
        let mut last = self.groups.last_entry()?;
        let w = last.get_mut().pop_first();
        if last.get().is_empty() {
            last.remove();
        }
        let w = w?;
        self.len -= 1;
        Some(split(w))
    }

    /// Removes every entry, calling `each(seq, slot)` on them in send order; releases the
    /// memory.
    pub(super) fn drain_in_order(&mut self, mut each: impl FnMut(u32, u32)) {
        for (_, set) in mem::take(&mut self.groups) {
            for w in set.into_iter().rev() {
                let (seq, index) = split(w);
                each(seq, index);
            }
        }
        self.len = 0;
    }

    /// Removes every entry.
    pub(super) fn clear(&mut self) {
        self.groups.clear();
        self.len = 0;
    }

    /// Rebuilds every group (densely) from `map(seq, slot)` of its entries: the entry's
    /// new `(seq, slot)`, or `None` to drop it. `map` must preserve the order of sequence
    /// numbers.
    fn rebuild(&mut self, map: impl Fn(u32, u32) -> Option<(u32, u32)>) {
        let mut len = 0;
        self.groups = mem::take(&mut self.groups)
            .into_iter()
            .filter_map(|(group, set)| {
                let set: BTreeSet<u64> = set
                    .into_iter()
                    .filter_map(|w| {
                        let (seq, index) = split(w);
                        map(seq, index).map(|(seq, index)| word(seq, index))
                    })
                    .collect();
                len += set.len();
                (!set.is_empty()).then_some((group, set))
            })
            .collect();
        self.len = len;
    }

    /// Drops the stale entries and renumbers the slots of the live ones: `map(seq,
    /// slot)` is the new slot number, or `None` if the entry is stale.
    pub(super) fn remap(&mut self, map: impl Fn(u32, u32) -> Option<u32>) {
        self.rebuild(|seq, index| map(seq, index).map(|index| (seq, index)));
    }

    /// Gives every entry the sequence number `renumber(seq)`, which must preserve their
    /// order.
    pub(super) fn renumber(&mut self, renumber: impl Fn(u32) -> u32) {
        self.rebuild(|seq, index| Some((renumber(seq), index)));
    }
}

#[cfg(test)]
impl Sent {
    /// Every entry in send order as `(rank, slot)`, stale ones included.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Rank, u32)> + '_ {
        self.groups.iter().flat_map(|(group, set)| {
            set.iter().rev().map(move |&w| {
                let (seq, index) = split(w);
                let rank = Rank {
                    transmits: group.transmits,
                    len: group.len,
                    seq: Reverse(seq),
                };
                (rank, index)
            })
        })
    }

    /// Checks the invariants.
    pub(super) fn check(&self) {
        assert!(self.groups.keys().all(|g| g.transmits > 0));
        assert!(self.groups.values().all(|set| !set.is_empty()));
        assert_eq!(
            self.groups.values().map(BTreeSet::len).sum::<usize>(),
            self.len
        );
    }
}
