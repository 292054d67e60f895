//! Our view as a push/pull carries it, encoded once per change of the table.
//!
//! Entries are written in a canonical order — by address, port, then name — rather than
//! in the probe order, which every node shuffles on its own. Two of our nodes holding the
//! same view therefore write the same bytes, so a received push/pull can be recognised as
//! our view by comparing its entries with these bytes (`wire::match_push_pull`), and our
//! own push/pulls copy them instead of encoding every entry. Go writes its entries in
//! probe order; the order carries no meaning, and Go reads ours like any other.

use std::cmp::Ordering;

use super::members::{Member, Members, State};
use super::push_pull::valid_vsn;
use crate::wire::write_states;

/// The encoded entries of the table, with what was true of them when they were written.
#[derive(Debug, Default)]
pub(crate) struct ViewBytes {
    /// Table generation the bytes were written at.
    generation: u64,
    /// Every entry, encoded, end to end, in the canonical order.
    entries: Vec<u8>,
    /// Every entry is alive with a non-zero port and a valid version range.
    plain: bool,
}

/// The leading part of the canonical order, as one word: an IPv4 address and the port
/// (below every other address form, which all share the largest key and are told apart by
/// [`canonical`]).
fn order_key(m: &Member) -> u64 {
    match <[u8; 4]>::try_from(m.addr.as_bytes()) {
        Ok(ip) => (u64::from(u32::from_be_bytes(ip)) << 16) | u64::from(m.port),
        Err(_) => u64::MAX,
    }
}

/// The canonical order of two entries with the same [`order_key`]: address bytes, port,
/// then name (names are unique in a table, so no two entries are equal).
fn canonical(a: &Member, b: &Member) -> Ordering {
    a.addr
        .as_bytes()
        .cmp(b.addr.as_bytes())
        .then(a.port.cmp(&b.port))
        .then_with(|| a.name.cmp(&b.name))
}

impl Members {
    /// Our entries as a push/pull carries them (in the canonical order), and whether every
    /// one is alive with a non-zero port and a valid version range; rewritten only after
    /// the table changed (not after a shuffle, which leaves the bytes as they are).
    pub(crate) fn view_bytes(&mut self) -> (&[u8], bool) {
        let generation = self.generation();
        let stale = self
            .view
            .as_ref()
            .is_none_or(|v| v.generation != generation);
        if stale {
            let nodes = &self.nodes;
            let mut view = self.view.take().unwrap_or_default();
            let mut order: Vec<(u64, u32)> = nodes
                .iter()
                .enumerate()
                .map(|(i, m)| (order_key(m), i as u32))
                .collect();
            order.sort_unstable_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| canonical(&nodes[a.1 as usize], &nodes[b.1 as usize]))
            });
            view.entries.clear();
            // Entries of one table are nearly the same size: the first one sizes the buffer.
            let per_entry = nodes
                .first()
                .map_or(0, |m| m.as_push_state().encoded_len() + 4);
            view.entries.reserve(per_entry * nodes.len());
            write_states(
                order
                    .iter()
                    .map(|&(_, i)| nodes[i as usize].as_push_state()),
                &mut view.entries,
            );
            view.plain = nodes
                .iter()
                .all(|m| m.state == State::Alive && m.port != 0 && valid_vsn(&m.vsn));
            view.generation = generation;
            self.view = Some(view);
        }
        self.view
            .as_ref()
            .map_or((&[][..], false), |v| (&v.entries[..], v.plain))
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
        let mut t1 = Members::default();
        let mut t2 = Members::default();
        let mut rng = SmallRng::seed_from_u64(3);
        for m in &all {
            t1.insert(m.clone(), &mut rng);
        }
        for m in all.iter().rev() {
            t2.insert(m.clone(), &mut rng);
        }
        let (b1, plain) = t1.view_bytes();
        let b1 = b1.to_vec();
        assert!(plain);
        assert_eq!(t2.view_bytes().0, &b1[..]);
        let names: Vec<String> = decode_all(&b1, 5)
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(names, ["e", "b", "d", "a", "c"], "address, port, then name");
        // A shuffle leaves the bytes; a change rewrites them.
        t1.shuffle(&mut rng);
        assert_eq!(t1.view_bytes().0, &b1[..]);
        t1.get_mut("d").unwrap().state = State::Suspect;
        let (b, plain) = t1.view_bytes();
        assert_ne!(b, &b1[..]);
        assert!(!plain);
        let states = decode_all(b, 5);
        assert_eq!(states.len(), 5);
        assert_eq!(states[2].name, "d");
        assert_eq!(states[2].state, crate::wire::NodeState::Suspect);
    }
}
