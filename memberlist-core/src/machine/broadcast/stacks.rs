//! The fresh tier of the send order: one stack of never-sent entries per message length.
//!
//! Each stack holds `(seq, slot)` pairs, oldest at the bottom and newest on top; a new
//! entry always has the largest sequence number so far, so pushing it keeps the stack
//! sorted. Stacks are numbered, and found by length through a `BTreeMap` (which also
//! orders them, largest length first) or, for the common lengths below [`DIRECT`],
//! through a plain array, so that queueing a message costs an array read and a push.
//! A stack emptied keeps its allocation for the next length that needs one.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::mem;

/// Lengths below this are looked up in an array (4 bytes each) rather than the map.
const DIRECT: usize = 2048;

/// A fresh entry: the sequence number it was queued with, and its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fresh {
    pub(super) seq: u32,
    pub(super) index: u32,
}

/// The stacks; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Stacks {
    /// The number of the stack of each length present, largest length first.
    by_len: BTreeMap<Reverse<usize>, u32>,
    /// One plus the number of the stack of each length below [`DIRECT`], 0 for none
    /// (empty until first needed).
    direct: Vec<u32>,
    /// The stacks; the ones no length names are empty.
    stacks: Vec<VecDeque<Fresh>>,
    /// Numbers of the stacks no length names.
    unused: Vec<u32>,
    /// Number of entries in all stacks.
    len: usize,
}

impl Stacks {
    /// Number of entries, stale ones included.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The number of the stack of length `len`, if there is one.
    fn find(&self, len: usize) -> Option<u32> {
        if len < DIRECT {
            match self.direct.get(len) {
                Some(&plus_one) if plus_one > 0 => Some(plus_one - 1),
                _ => None,
            }
        } else {
            self.by_len.get(&Reverse(len)).copied()
        }
    }

    /// Pushes `entry`, whose sequence number exceeds every other, on the stack of `len`.
    pub(super) fn push(&mut self, len: usize, entry: Fresh) {
        let number = match self.find(len) {
            Some(number) => number,
            None => self.open(len),
        };
        if let Some(stack) = self.stacks.get_mut(number as usize) {
            stack.push_back(entry);
            self.len += 1;
        }
    }

    /// Gives length `len` an (empty) stack and returns its number.
    fn open(&mut self, len: usize) -> u32 {
        let number = self.unused.pop().unwrap_or_else(|| {
            self.stacks.push(VecDeque::new());
            // Fewer stacks than entries, which are fewer than 2^32.
            u32::try_from(self.stacks.len() - 1).unwrap_or(u32::MAX)
        });
        self.by_len.insert(Reverse(len), number);
        if len < DIRECT {
            if self.direct.is_empty() {
                self.direct = vec![0; DIRECT];
            }
            if let Some(plus_one) = self.direct.get_mut(len) {
                *plus_one = number + 1;
            }
        }
        number
    }

    /// Forgets the (empty) stack of length `len`, number `number`.
    fn close(&mut self, len: usize, number: u32) {
        self.by_len.remove(&Reverse(len));
        if let Some(plus_one) = self.direct.get_mut(len) {
            *plus_one = 0;
        }
        self.unused.push(number);
    }

    /// Removes and returns the newest live entry of the largest length that is at most
    /// `free`; stale entries met on the way are dropped.
    pub(super) fn take_fitting(
        &mut self,
        free: usize,
        live: impl Fn(u32, u32) -> bool,
    ) -> Option<Fresh> {
        loop {
            let (&Reverse(len), &number) = self.by_len.range(Reverse(free)..).next()?;
            let top = self.pop(len, number, VecDeque::pop_back)?;
            if live(top.seq, top.index) {
                return Some(top);
            }
        }
    }

    /// Removes and returns the oldest entry of the smallest length, stale or not.
    pub(super) fn pop_bottom(&mut self) -> Option<Fresh> {
        let (&Reverse(len), &number) = self.by_len.last_key_value()?;
        self.pop(len, number, VecDeque::pop_front)
    }

    /// Takes an entry off stack `number` (of length `len`, never empty while open) with
    /// `end`, closing the stack if that empties it.
    fn pop(
        &mut self,
        len: usize,
        number: u32,
        end: fn(&mut VecDeque<Fresh>) -> Option<Fresh>,
    ) -> Option<Fresh> {
        let stack = self.stacks.get_mut(number as usize)?;
        let entry = end(stack);
        if stack.is_empty() {
            self.close(len, number);
        }
        self.len -= usize::from(entry.is_some());
        entry
    }

    /// Drops the stale entries and renumbers the slots of the live ones: `map(seq,
    /// slot)` is the new slot number, or `None` if the entry is stale.
    pub(super) fn remap(&mut self, map: impl Fn(u32, u32) -> Option<u32>) {
        let mut emptied = Vec::new();
        self.len = 0;
        for (&Reverse(len), &number) in &self.by_len {
            let Some(stack) = self.stacks.get_mut(number as usize) else {
                continue;
            };
            stack.retain_mut(|entry| match map(entry.seq, entry.index) {
                Some(index) => {
                    entry.index = index;
                    true
                }
                None => false,
            });
            self.len += stack.len();
            if stack.is_empty() {
                emptied.push((len, number));
            }
        }
        for (len, number) in emptied {
            self.close(len, number);
        }
    }

    /// Gives every entry the sequence number `renumber(seq)`, which must preserve their
    /// order.
    pub(super) fn renumber(&mut self, renumber: impl Fn(u32) -> u32) {
        for stack in &mut self.stacks {
            for entry in stack.iter_mut() {
                entry.seq = renumber(entry.seq);
            }
        }
    }

    /// Removes every entry, calling `each(seq, slot)` on them in send order (largest
    /// length first, newest first), stale ones included.
    pub(super) fn drain_in_order(&mut self, mut each: impl FnMut(u32, u32)) {
        for (_, number) in mem::take(&mut self.by_len) {
            if let Some(stack) = self.stacks.get_mut(number as usize) {
                for entry in stack.drain(..).rev() {
                    each(entry.seq, entry.index);
                }
            }
        }
        *self = Self::default();
    }

    /// Removes every entry, keeping the allocations.
    pub(super) fn clear(&mut self) {
        while let Some((Reverse(len), number)) = self.by_len.pop_first() {
            if let Some(stack) = self.stacks.get_mut(number as usize) {
                stack.clear();
            }
            self.close(len, number);
        }
        self.len = 0;
    }
}

#[cfg(test)]
impl Stacks {
    /// The stacks in send order: `(length, entries from bottom to top)`.
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &VecDeque<Fresh>)> + '_ {
        self.by_len
            .iter()
            .map(|(&Reverse(len), &number)| (len, &self.stacks[number as usize]))
    }

    /// Checks the invariants.
    pub(super) fn check(&self) {
        let mut total = 0;
        let mut named = Vec::new();
        for (&Reverse(len), &number) in &self.by_len {
            assert_eq!(self.find(len), Some(number));
            named.push(number);
            let stack = &self.stacks[number as usize];
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
        assert_eq!(total, self.len);
        assert_eq!(
            self.direct.iter().filter(|&&plus_one| plus_one > 0).count(),
            self.by_len.keys().filter(|len| len.0 < DIRECT).count()
        );
        for &number in &self.unused {
            assert!(self.stacks[number as usize].is_empty());
            named.push(number);
        }
        named.sort_unstable();
        named.dedup();
        assert_eq!(named.len(), self.stacks.len(), "a stack lost or shared");
    }
}
