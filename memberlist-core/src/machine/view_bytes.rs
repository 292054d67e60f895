//! Our view as a push/pull carries it, encoded once per change of the table.
//!
//! Entries are written in a canonical order — by address, port, then name — rather than
//! in the probe order, which every node shuffles on its own. Two of our nodes holding the
//! same view therefore write the same bytes, so a received push/pull can be recognised as
//! our view by comparing its entries with these bytes (`wire::match_push_pull`), and our
//! own push/pulls copy them instead of encoding every entry. Go writes its entries in
//! probe order; the order carries no meaning, and Go reads ours like any other.
//!
//! The bytes are kept as a whole message (type byte, header, entries; not a join, no user
//! state), so a plain push/pull without user state is sent as this buffer itself, shared.
//! Machines in one process keep one buffer for equal views
//! ([`Members::share_view_message`]).

use std::cmp::Ordering;

use bytes::Bytes;

use super::broadcast::Broadcast;
use super::members::{Members, State};
use super::push_pull::valid_vsn;
use super::row::Row;
use super::view_interner::ViewInterner;
use crate::wire::{encode_push_pull_header, write_states};

/// Our view as a push/pull message, with what was true of it when it was written.
#[derive(Debug, Default)]
pub(crate) struct ViewBytes {
    /// Table generation the bytes were written at.
    generation: u64,
    /// The push/pull message of the view: not a join, no user state.
    pub(crate) message: Bytes,
    /// Where the entries start in `message`.
    entries_at: usize,
    /// Every entry is alive with a non-zero port and a valid version range.
    pub(crate) plain: bool,
}

impl ViewBytes {
    /// Every entry, encoded, end to end.
    pub(crate) fn entries(&self) -> &[u8] {
        self.message.get(self.entries_at..).unwrap_or_default()
    }
}

/// The leading part of the canonical order, as one word: an IPv4 address and the port
/// (below every other address form, which all share the largest key and are told apart by
/// [`canonical`]).
fn order_key(m: &Row) -> u64 {
    match <[u8; 4]>::try_from(m.addr.as_bytes()) {
        Ok(ip) => (u64::from(u32::from_be_bytes(ip)) << 16) | u64::from(m.port),
        Err(_) => u64::MAX,
    }
}

/// The canonical order of two entries with the same [`order_key`]: address bytes, port,
/// then name (names are unique in a table, so no two entries are equal).
fn canonical(a: &Row, b: &Row) -> Ordering {
    a.addr
        .as_bytes()
        .cmp(b.addr.as_bytes())
        .then(a.port.cmp(&b.port))
        .then_with(|| a.name.cmp(&b.name))
}

/// Writes the view message of `nodes`.
fn write_view(nodes: &[Row], generation: u64) -> ViewBytes {
    let mut order: Vec<(u64, u32)> = nodes
        .iter()
        .enumerate()
        .map(|(i, m)| (order_key(m), i as u32))
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| canonical(&nodes[a.1 as usize], &nodes[b.1 as usize]))
    });
    // Entries of one table are nearly the same size: the first one sizes the buffer.
    let per_entry = nodes
        .first()
        .map_or(0, |m| m.as_push_state().encoded_len() + 4);
    let mut message = Vec::with_capacity(64 + per_entry * nodes.len());
    let count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    encode_push_pull_header(false, count, 0, &mut message);
    let entries_at = message.len();
    write_states(
        order
            .iter()
            .map(|&(_, i)| nodes[i as usize].as_push_state()),
        &mut message,
    );
    ViewBytes {
        generation,
        message: Bytes::from(message),
        entries_at,
        plain: nodes
            .iter()
            .all(|m| m.state == State::Alive && m.port != 0 && valid_vsn(&m.vsn)),
    }
}

impl Members {
    /// Our view as a push/pull message (entries in the canonical order); rewritten only
    /// after the table changed (not after a shuffle, which leaves the bytes as they are).
    pub(crate) fn view(&mut self) -> &ViewBytes {
        let generation = self.generation();
        if self
            .view
            .as_ref()
            .is_none_or(|v| v.generation != generation)
        {
            // Not interned yet: see `share_view_message`.
            self.view = Some(write_view(&self.nodes, generation));
        }
        self.view.get_or_insert_default()
    }

    /// `broadcast`, or an equal one that another machine of the process already holds,
    /// when an interner is set (see [`ViewInterner::intern_broadcast`]).
    pub(crate) fn share_broadcast(&self, broadcast: Broadcast) -> Broadcast {
        match &self.view_interner {
            Some(interner) => interner.intern_broadcast(broadcast),
            None => broadcast,
        }
    }

    /// Hands view messages to `interner` from now on (the current one too, and views found
    /// equal to another machine's from then on, see `share_view_message`), and identities
    /// (those of the current entries too).
    pub(crate) fn set_view_interner(&mut self, interner: std::sync::Arc<dyn ViewInterner>) {
        if let Some(view) = &mut self.view {
            view.message = interner.intern(std::mem::take(&mut view.message));
        }
        for row in &mut self.nodes {
            row.id = interner.intern_member(row.id.clone());
        }
        self.view_interner = Some(interner);
    }

    /// `other` holds the same bytes as our current view message: keep one buffer for both
    /// (the interner's, when one is set and holds one; otherwise the one at the lower
    /// address, so that buffers shared this way converge on one across many exchanges).
    /// Returns whether the bytes were equal.
    ///
    /// A view enters the interner only here, once another machine is known to hold the same
    /// bytes: pooling every view as it is written would fill the pool with views no machine
    /// shares, garbage after the next change of the table (O(N²) bytes during a join).
    pub(crate) fn share_view_message(&mut self, other: &Bytes) -> bool {
        let generation = self.generation();
        let Some(view) = self.view.as_mut().filter(|v| v.generation == generation) else {
            return false;
        };
        if view.message.as_ptr() == other.as_ptr() && view.message.len() == other.len() {
            return true;
        }
        if view.message != *other {
            return false;
        }
        let lower = if other.as_ptr() < view.message.as_ptr() {
            other.clone()
        } else {
            std::mem::take(&mut view.message)
        };
        view.message = match &self.view_interner {
            Some(interner) => interner.intern(lower),
            None => lower,
        };
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::machine::Member;
    use crate::wire::{IpBytes, Limits, PushNodeState, PushPull, Vsn};

    fn member(name: &str, ip: [u8; 4], port: u16) -> Member {
        Member {
            name: name.into(),
            addr: IpBytes::from(ip),
            port,
            meta: Bytes::new(),
            incarnation: 1,
            state: State::Alive,
            state_change: Instant::now(),
            vsn: Vsn::default_advertised(),
        }
    }

    fn decode_all(entries: &[u8], nodes: usize) -> Vec<PushNodeState> {
        let mut msg = Vec::new();
        crate::wire::encode_push_pull_entries(false, nodes as u32, entries, b"", &mut msg);
        PushPull::decode(&msg, &Limits::default()).unwrap().states
    }

    #[test]
    fn equal_views_inserted_in_any_order_write_the_same_bytes() {
        let all = [
            member("c", [10, 0, 0, 2], 7946),
            member("a", [10, 0, 0, 1], 7947),
            member("b", [10, 0, 0, 1], 7946),
            member("d", [10, 0, 0, 1], 7946),
            member("e", [9, 255, 0, 1], 8000),
        ];
        let mut t1 = Members::new(Instant::now());
        let mut t2 = Members::new(Instant::now());
        let mut rng = SmallRng::seed_from_u64(3);
        for m in &all {
            t1.insert(m.clone(), &mut rng);
        }
        for m in all.iter().rev() {
            t2.insert(m.clone(), &mut rng);
        }
        let b1 = t1.view().entries().to_vec();
        assert!(t1.view().plain);
        assert_eq!(t2.view().entries(), &b1[..]);
        let names: Vec<String> = decode_all(&b1, 5)
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(names, ["e", "b", "d", "a", "c"], "address, port, then name");
        // The message is the header (no join, no user state) and the entries.
        let mut whole = Vec::new();
        crate::wire::encode_push_pull_entries(false, 5, &b1, b"", &mut whole);
        assert_eq!(t1.view().message, &whole[..]);
        // Equal messages end up in one buffer, the one at the lower address.
        let (m1, m2) = (t1.view().message.clone(), t2.view().message.clone());
        assert_ne!(m1.as_ptr(), m2.as_ptr());
        assert!(t1.share_view_message(&m2));
        let low = m1.as_ptr().min(m2.as_ptr());
        assert_eq!(t1.view().message.as_ptr(), low);
        assert!(t2.share_view_message(&t1.view().message));
        assert_eq!(t2.view().message.as_ptr(), low);
        assert!(!t1.share_view_message(&Bytes::from_static(b"other")));
        // A shuffle leaves the bytes; a change rewrites them.
        t1.shuffle(&mut rng);
        assert_eq!(t1.view().entries(), &b1[..]);
        t1.get_mut("d").unwrap().state = State::Suspect;
        assert!(
            !t1.share_view_message(&m1),
            "the old view is not ours any more"
        );
        let view = t1.view();
        assert_ne!(view.entries(), &b1[..]);
        assert!(!view.plain);
        let states = decode_all(view.entries(), 5);
        assert_eq!(states.len(), 5);
        assert_eq!(states[2].name, "d");
        assert_eq!(states[2].state, crate::wire::NodeState::Suspect);
    }
}
