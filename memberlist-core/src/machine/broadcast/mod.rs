//! The gossip broadcast queue: Go memberlist's `TransmitLimitedQueue`.
//!
//! Gossip messages (alive, suspect, dead, and user broadcasts) are not sent on their own;
//! they ride along ("piggyback") in the spare room of packets the node sends anyway, and
//! each one is retransmitted a bounded number of times. [`TransmitLimitedQueue`] holds the
//! already-encoded messages and decides which of them fill that spare room, in exactly the
//! order Go memberlist picks them:
//!
//! 1. fewest transmissions so far first (fresh news travels first);
//! 2. within one transmission tier, the **largest message that still fits** first;
//! 3. among messages of equal size, the **newest** (most recently queued) first.
//!
//! A message is dropped once it has been sent [`retransmit_limit`] times (at least once),
//! when a newer message with the same [`BroadcastKey`] replaces it, or when
//! [`prune`](TransmitLimitedQueue::prune) or [`reset`](TransmitLimitedQueue::reset)
//! discards it.
//!
//! # Completion notifications
//!
//! A broadcast may carry a caller-chosen notification id (`u64`). When that broadcast is
//! *finished* — transmitted its final time, replaced, pruned or reset away — the id is
//! recorded, and the caller collects the ids with
//! [`drain_finished`](TransmitLimitedQueue::drain_finished). This is how the protocol
//! machine learns that its own `dead` (leave) or refreshed `alive` (meta update) message
//! has been gossiped enough. Broadcasts queued without an id finish silently. Ids are
//! reported in the order the broadcasts finished; the queue never interprets them, so
//! the caller may reuse or repeat ids as it likes. Ids accumulate until drained.
//!
//! # Complexity and layout
//!
//! The queue keeps a slab of entries with an index from key hashes to slots (a replacement
//! reuses the old entry's slot; every hash candidate is confirmed against the full key), and
//! a send order of slot numbers: unsent messages in one stack per length, sent ones in
//! ordered sets per `(transmits, length)`. A replaced entry stays in the order as *stale*
//! and is skipped, or dropped when a clean-up rebuilds the order once stale entries
//! outnumber the live ones and exceed 1,024.
//!
//! Queueing is amortized `O(1)` (plus `O(log d)` among the `d` distinct lengths of unsent
//! messages for one of 2,048 bytes or more); each message picked by
//! [`get_broadcasts`](TransmitLimitedQueue::get_broadcasts) costs `O(log n)`, and so does
//! each entry [`prune`](TransmitLimitedQueue::prune) drops. A growing queue holds about
//! 35–60 bytes per entry besides the [`Broadcast`] it points to (which queues of one process
//! may share); allocations are kept at their peak until
//! [`reset`](TransmitLimitedQueue::reset).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use memberlist_core::machine::broadcast::{BroadcastKey, TransmitLimitedQueue};
//!
//! let mut q = TransmitLimitedQueue::new(4);
//! q.queue(BroadcastKey::node("a"), Bytes::from_static(b"suspect a"), None);
//! // A newer message about "a" replaces the queued one, whatever its type.
//! q.queue(BroadcastKey::node("a"), Bytes::from_static(b"dead a"), Some(7));
//! q.queue(BroadcastKey::Unique, Bytes::from_static(b"user event"), None);
//! assert_eq!(q.num_queued(), 2);
//!
//! // 5 nodes and a multiplier of 4: every message is sent 4 times. The larger message
//! // of the (equal) fresh tier goes first.
//! let sent = q.get_broadcasts(2, 1400, 5);
//! assert_eq!(sent, [Bytes::from_static(b"user event"), Bytes::from_static(b"dead a")]);
//! for _ in 0..3 {
//!     assert_eq!(q.get_broadcasts(2, 1400, 5).len(), 2);
//! }
//! assert!(q.is_empty());
//! assert_eq!(q.drain_finished().collect::<Vec<_>>(), [7]);
//! ```

mod order;
mod sent;
mod shared;
mod stacks;
mod table;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_churn;
#[cfg(test)]
mod tests_table;

use std::mem;

use bytes::Bytes;
use smol_str::SmolStr;

use order::{Order, Rank};
use table::Table;

pub use shared::Broadcast;

/// How many times a broadcast is transmitted in a cluster of `num_nodes` nodes:
/// `retransmit_mult * ceil(log10(num_nodes + 1))`, computed exactly with integers.
///
/// `ceil(log10(n + 1))` is the number of decimal digits of `n` (and 0 for `n = 0`), so the
/// scale is 0 for no nodes, 1 for 1–9 nodes, 2 for 10–99, 3 for 100–999, and so on.
/// The product saturates at `u32::MAX`.
///
/// A limit of 0 or 1 still lets each message be sent once: the queue drops a message when
/// `transmits + 1 >= limit` after sending it, like Go.
///
/// ```
/// use memberlist_core::machine::broadcast::retransmit_limit;
///
/// assert_eq!(retransmit_limit(4, 0), 0);
/// assert_eq!(retransmit_limit(4, 9), 4);
/// assert_eq!(retransmit_limit(4, 10), 8);
/// assert_eq!(retransmit_limit(4, 999), 12);
/// assert_eq!(retransmit_limit(4, 1000), 16);
/// ```
#[must_use]
pub fn retransmit_limit(retransmit_mult: u32, num_nodes: usize) -> u32 {
    let scale = num_nodes.checked_ilog10().map_or(0, |d| d + 1);
    retransmit_mult.saturating_mul(scale)
}

/// What a broadcast invalidates: a newly queued broadcast replaces the queued broadcast
/// with an equal key, if any.
///
/// The two named namespaces are disjoint: `Node("x")` and `Named("x")` never replace each
/// other.
///
/// - [`Node`](Self::Node) is the namespace of memberlist's own alive/suspect/dead
///   messages (Go's `memberlistBroadcast`, a `NamedBroadcast` named by node): a new
///   message about node X replaces any queued message about X, whatever its type. Go
///   keeps a single name namespace for memberlist's queue and keys the *refutation* alive
///   by the node's IP address string (`me.Addr.String()`) instead of its name; to
///   reproduce that quirk exactly, including the collision with a node whose name is that
///   string, key the refutation as `Node(ip_string)`.
/// - [`Named`](Self::Named) is for everything else that wants Go's `NamedBroadcast`
///   behaviour (for example a user-level queue); it never collides with node names.
/// - [`Unique`](Self::Unique) is Go's `UniqueBroadcast`: it never replaces anything and is
///   never replaced.
///
/// Go's third kind of broadcast, with an arbitrary `Invalidates` predicate checked
/// against the whole queue, is not supported; memberlist itself never uses it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BroadcastKey {
    /// A message about the node (or, for Go's refutation quirk, the address) with this
    /// name.
    Node(SmolStr),
    /// A message with an application-chosen name, in a namespace separate from
    /// [`Node`](Self::Node).
    Named(SmolStr),
    /// A message that neither replaces nor is replaced by any other.
    Unique,
}

impl BroadcastKey {
    /// `BroadcastKey::Node(name.into())`.
    pub fn node(name: impl Into<SmolStr>) -> Self {
        Self::Node(name.into())
    }

    /// `BroadcastKey::Named(name.into())`.
    pub fn named(name: impl Into<SmolStr>) -> Self {
        Self::Named(name.into())
    }

    /// Whether this key is [`Unique`](Self::Unique), i.e. takes no part in invalidation.
    #[must_use]
    pub fn is_unique(&self) -> bool {
        matches!(self, Self::Unique)
    }
}

/// Once stale order entries exceed both this and the number of live entries, the order
/// is rebuilt without them.
/// (Tests use a small value to exercise the clean-up.)
const STALE_SLACK: usize = if cfg!(test) { 4 } else { 1024 };

/// A queue of encoded gossip messages, each retransmitted a limited number of times, with
/// Go memberlist's selection order and invalidation rules (see the
/// [module documentation](self)).
///
/// The queue is single-threaded and performs no I/O; it never looks at message contents.
#[derive(Clone, Debug)]
pub struct TransmitLimitedQueue {
    retransmit_mult: u32,
    /// Slot number of every queued entry, in send order, plus stale entries (whose slot
    /// now has another sequence number, or none).
    order: Order,
    /// The entries, by key; an entry's position there is its slot number.
    table: Table,
    /// Sequence number of the most recently queued entry (Go's `idGen`).
    seq: u32,
    /// Notification ids of finished broadcasts, oldest first.
    finished: Vec<u64>,
    /// Scratch space for [`Self::get_broadcasts_into`], kept to avoid reallocating.
    reinsert: Vec<(Rank, u32)>,
}

impl Default for TransmitLimitedQueue {
    /// A queue with Go's default `RetransmitMult` of 4.
    fn default() -> Self {
        Self::new(4)
    }
}

impl TransmitLimitedQueue {
    /// An empty queue whose messages are sent
    /// [`retransmit_limit(retransmit_mult, num_nodes)`](retransmit_limit) times.
    #[must_use]
    pub fn new(retransmit_mult: u32) -> Self {
        Self {
            retransmit_mult,
            order: Order::default(),
            table: Table::default(),
            seq: 0,
            finished: Vec::new(),
            reinsert: Vec::new(),
        }
    }

    /// Changes the retransmit multiplier; it applies from the next
    /// [`get_broadcasts`](Self::get_broadcasts) on, to queued messages too.
    pub fn set_retransmit_mult(&mut self, retransmit_mult: u32) {
        self.retransmit_mult = retransmit_mult;
    }

    /// Queues an encoded message (type byte included) with zero transmissions so far.
    ///
    /// If `key` is not [`BroadcastKey::Unique`] and a broadcast with an equal key is queued,
    /// that broadcast is removed and finished (its notification id, if any, becomes
    /// available from [`drain_finished`](Self::drain_finished)). `notify` is this
    /// broadcast's own notification id. Returns whether a queued broadcast was replaced.
    /// Amortized `O(1)` (see the [module documentation](self)).
    pub fn queue(&mut self, key: BroadcastKey, message: Bytes, notify: Option<u64>) -> bool {
        self.queue_shared(Broadcast::new(key, message), notify)
    }

    /// Queues a [`Broadcast`] (its key and message behind one pointer, possibly shared
    /// with other queues), exactly like [`queue`](Self::queue) with its key and message.
    pub fn queue_shared(&mut self, broadcast: Broadcast, notify: Option<u64>) -> bool {
        if self.seq >= table::SEQ_LIMIT {
            self.renumber();
        }
        self.seq += 1;
        let seq = self.seq;
        let len = broadcast.message().len();
        let key = broadcast.key();
        let hash = (!key.is_unique()).then(|| self.table.hash(key));
        if let Some(hash) = hash {
            if let Some(index) = self.table.find(key, hash) {
                // Replace in place; the old entry stays in `order`, stale.
                let old = self.table.replace(index, broadcast, notify, seq);
                self.finished.extend(old);
                self.order.push_fresh(len, seq, index);
                self.compact_if_stale();
                return true;
            }
        }
        let index = self.table.insert(broadcast, hash, notify, seq);
        self.order.push_fresh(len, seq, index);
        false
    }

    /// Takes the messages to piggyback on one packet; see
    /// [`get_broadcasts_into`](Self::get_broadcasts_into), which this allocates a `Vec`
    /// for.
    #[must_use]
    pub fn get_broadcasts(
        &mut self,
        overhead: usize,
        limit: usize,
        num_nodes: usize,
    ) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.get_broadcasts_into(overhead, limit, num_nodes, &mut out);
        out
    }

    /// Appends to `out` the messages to piggyback on one packet with `limit` bytes of room,
    /// where each message costs its length plus `overhead`, and returns the bytes used
    /// (the sum of `overhead + len` over the appended messages).
    ///
    /// Messages are picked in send order (see the [module documentation](self)) until nothing
    /// else fits: with `free = limit - used - overhead`, a message fits when `len <= free`,
    /// and like Go, picking stops as soon as `free` is not positive. No message is picked
    /// twice in one call; one too large for the room stays queued, untouched.
    ///
    /// Each picked message has been transmitted once more; when its transmit count before
    /// this send plus one reaches
    /// [`retransmit_limit(retransmit_mult, num_nodes)`](retransmit_limit), it is removed
    /// and finished, otherwise it moves to the next transmit tier.
    pub fn get_broadcasts_into(
        &mut self,
        overhead: usize,
        limit: usize,
        num_nodes: usize,
        out: &mut Vec<Bytes>,
    ) -> usize {
        // Go: `free := limit - bytesUsed - overhead; if free <= 0 { break }`.
        let free_after = |used: usize| {
            limit
                .checked_sub(used)
                .and_then(|r| r.checked_sub(overhead))
                .filter(|&free| free > 0)
        };
        if self.is_empty() {
            return 0;
        }
        let transmit_limit = u64::from(retransmit_limit(self.retransmit_mult, num_nodes));
        let mut used = 0usize;
        let mut reinsert = mem::take(&mut self.reinsert);
        // Messages picked are re-inserted after the walk, so that none is met again in a
        // later tier during this call (as in Go).
        let mut send = |q: &mut Self, index: u32, transmits: u32, seq: u32| {
            let Some(entry) = q.table.get(index) else {
                return 0; // unreachable: the entry was just found live
            };
            let message = entry.message();
            let len = message.len();
            out.push(message.clone());
            if u64::from(transmits) + 1 >= transmit_limit {
                let notify = q.table.remove(index);
                q.finished.extend(notify);
            } else {
                reinsert.push((Rank::new(transmits + 1, len, seq), index));
            }
            overhead + len
        };
        // The fresh tier first: once nothing there fits, nothing will in this call.
        while let Some(free) = free_after(used) {
            let table = &self.table;
            let live = |seq, index| table.is_live(seq, index);
            let Some(entry) = self.order.fresh.take_fitting(free, live) else {
                break;
            };
            used += send(self, entry.index, 0, entry.seq);
        }
        if let Some(first) = self.order.sent.first_tier() {
            let mut tier = first;
            while let Some(free) = free_after(used) {
                let table = &self.table;
                let live = |seq, index| table.is_live(seq, index);
                let len_of = |index| table.get(index).map_or(usize::MAX, |e| e.message().len());
                let Some((rank, index)) = self.order.sent.take(&mut tier, free, live, len_of)
                else {
                    break;
                };
                used += send(self, index, rank.transmits, rank.seq.0);
            }
        }
        for (rank, index) in reinsert.drain(..) {
            self.order.sent.insert(rank, index);
        }
        self.reinsert = reinsert;
        self.after_removals();
        used
    }

    /// Drops queued broadcasts until at most `max_retain` remain, finishing each dropped
    /// one.
    ///
    /// Like Go's `Prune`, it drops from the far end of the send order: most transmitted
    /// first, then the smallest, then the oldest. Among broadcasts with equal transmit
    /// counts and sizes it therefore keeps the newest `max_retain`.
    pub fn prune(&mut self, max_retain: usize) {
        while self.num_queued() > max_retain {
            let Some((seq, index)) = self.order.pop_last() else {
                break;
            };
            if self.table.is_live(seq, index) {
                let notify = self.table.remove(index);
                self.finished.extend(notify);
            }
        }
        self.after_removals();
    }

    /// Drops every queued broadcast, finishing each in send order, and releases the
    /// queue's memory.
    pub fn reset(&mut self) {
        let table = mem::take(&mut self.table);
        let finished = &mut self.finished;
        self.order.drain_in_order(|seq, index| {
            if table.is_live(seq, index) {
                finished.extend(table.notify(index));
            }
        });
        // A fresh table, but with the same hash function.
        self.table = table;
        self.table.clear();
        self.reinsert = Vec::new();
        self.seq = 0;
    }

    /// Removes and yields the notification ids of broadcasts that finished since the last
    /// call, in the order they finished.
    pub fn drain_finished(&mut self) -> std::vec::Drain<'_, u64> {
        self.finished.drain(..)
    }

    /// Whether any finished notification id is waiting in
    /// [`drain_finished`](Self::drain_finished).
    #[must_use]
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Number of queued broadcasts.
    #[must_use]
    pub fn num_queued(&self) -> usize {
        self.table.len()
    }

    /// Whether no broadcast is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.num_queued() == 0
    }

    /// Whether a broadcast with this key is queued (always `false` for
    /// [`BroadcastKey::Unique`]).
    #[must_use]
    pub fn contains_key(&self, key: &BroadcastKey) -> bool {
        !key.is_unique() && self.table.find(key, self.table.hash(key)).is_some()
    }

    /// Keeps the stale entries in check once entries have left the queue: if it is
    /// empty, drops them all (keeping the allocations); otherwise cleans up as after a
    /// replacement.
    fn after_removals(&mut self) {
        if self.is_empty() {
            self.order.clear();
        } else {
            self.compact_if_stale();
        }
    }

    /// Renumbers the entries 1, 2, … in sequence order (dropping the stale order
    /// entries), so that sequence numbers stay below [`table::SEQ_LIMIT`]. Only relative
    /// sequence numbers matter, so this changes nothing visible.
    fn renumber(&mut self) {
        let table = &self.table;
        self.order
            .remap(|seq, index| table.is_live(seq, index).then_some(index));
        let mut seqs = self.table.seqs();
        seqs.sort_unstable();
        // Fewer entries than slot numbers, which are below `u32::MAX`.
        let number = |i: usize| u32::try_from(i + 1).unwrap_or(u32::MAX);
        let renumber = |seq: u32| seqs.binary_search(&seq).map_or(0, number);
        self.order.renumber(renumber);
        self.table.renumber(renumber);
        self.seq = number(seqs.len()) - 1;
    }

    /// Rebuilds the order without stale entries once they outnumber both the live
    /// entries and [`STALE_SLACK`]. Each clean-up costs `O(order)`, which is at most twice
    /// the number of stale entries it removes, so stale entries cost `O(1)` amortized.
    fn compact_if_stale(&mut self) {
        let live = self.num_queued();
        let stale = self.order.len().saturating_sub(live);
        if stale > live.max(STALE_SLACK) {
            let table = &self.table;
            self.order
                .remap(|seq, index| table.is_live(seq, index).then_some(index));
        }
    }
}
