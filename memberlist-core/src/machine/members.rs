//! The membership table: every known node, in the order the probe cycle visits them.

use std::fmt;
use std::hash::BuildHasher;
use std::time::Instant;

use hashbrown::{DefaultHashBuilder, HashTable};
use rand::Rng;
use rand::seq::SliceRandom;
use smol_str::SmolStr;

use super::fingerprint::ViewKey;
pub use super::member::{Member, State};
use super::push_pull::valid_vsn;
use super::row::{Epoch, MemberIdentity, Row, Stamp};
use super::view_bytes::ViewBytes;
use super::view_interner::ViewInterner;

/// The capacity a full table (or other per-member vector) of `len` entries grows to: the
/// next size of the form 2^k or 3·2^(k-1) above `len` (at least 4).
///
/// Unlike doubling, these steps (×1.5, then ×4/3) use at least two thirds of the room, which
/// matters when every machine of a simulator holds every member. The sizes are canonical
/// (whatever the history), so blocks one machine frees fit another machine's next growth.
pub(crate) fn grown_capacity(len: usize) -> usize {
    let pow = len.saturating_add(1).next_power_of_two();
    let three_quarters = pow / 4 * 3;
    let next = if three_quarters > len {
        three_quarters
    } else {
        pow
    };
    next.max(4)
}

/// The hash of the name of the member at an index position, to grow the index with.
fn rehash<'a>(nodes: &'a [Row], hasher: &'a DefaultHashBuilder) -> impl Fn(&u32) -> u64 + 'a {
    move |&i| hasher.hash_one(nodes[i as usize].name.as_str())
}

/// Whether `name` reads as an IP address (every name `ip_name` writes does).
fn reads_as_ip(name: &str) -> bool {
    name.parse::<std::net::IpAddr>().is_ok()
}

/// The table: a vector of [`Row`]s in probe order plus a name index.
///
/// The index holds positions only (4 bytes a member) and hashes the names the rows point
/// to, so a name is kept once; at 10,000 members per node and 10,000 nodes in one
/// simulator process every byte per entry counts.
pub(crate) struct Members {
    pub(super) nodes: Vec<Row>,
    /// What the rows' state-change stamps count from.
    epoch: Epoch,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Bumped by every change that can alter the set of entries or their wire fields
    /// (`get_mut`, `insert`, `reap`; not `shuffle`): what caches of the table key on.
    generation: u64,
    /// The table's fingerprint as of `digest.generation`, computed on demand.
    digest: Option<(u64, TableDigest)>,
    /// Number of members whose name reads as an IP address: only those can be found by
    /// [`get_by_ip`](Self::get_by_ip).
    ip_named: usize,
    /// Next position of the round-robin probe.
    pub(crate) probe_index: usize,
    /// The generation at which the table alone last passed `verifyProtocol`.
    pub(crate) verified_at: Option<u64>,
    /// Our entries encoded in the canonical order, as of a generation.
    pub(super) view: Option<ViewBytes>,
    /// Where view messages are shared with other machines of the process, if anywhere.
    pub(super) view_interner: Option<std::sync::Arc<dyn ViewInterner>>,
    /// Names of the entries changed since the last [`take_changes`](Self::take_changes),
    /// kept only once switched on (the runtime's snapshot reads it; the simulator does not).
    journal: Option<MemberChanges>,
}

/// Which members changed since a driver last asked
/// ([`Machine::take_member_changes`](super::Machine::take_member_changes)), to update a
/// copy of the table.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MemberChanges {
    /// Names of entries inserted, modified or removed, possibly repeated.
    pub names: Vec<SmolStr>,
    /// Too many names to be worth listing: everything may have changed.
    pub everything: bool,
}

/// An order-independent fingerprint of the table's push/pull view: wrapping sums of two
/// 64-bit hashes of every entry's encoding, keyed by the table's [`ViewKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TableDigest {
    /// Sums of the two per-entry hashes.
    pub(crate) sums: [u64; 2],
    /// Number of entries.
    pub(crate) len: usize,
    /// Every entry is alive with a non-zero port and a valid version range.
    pub(crate) plain: bool,
}

impl TableDigest {
    /// Adds one entry's hashes.
    pub(crate) fn add(&mut self, h: [u64; 2]) {
        self.sums[0] = self.sums[0].wrapping_add(h[0]);
        self.sums[1] = self.sums[1].wrapping_add(h[1]);
        self.len += 1;
    }
}

impl MemberChanges {
    /// Records a changed entry; past twice the table's size (plus slack) the list collapses
    /// into "everything", which bounds its memory if nobody reads it.
    fn note(&mut self, name: &SmolStr, table_len: usize) {
        if self.everything {
            return;
        }
        if self.names.len() >= 2 * table_len + 64 {
            self.names = Vec::new();
            self.everything = true;
        } else {
            self.names.push(name.clone());
        }
    }
}

impl fmt::Debug for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Members")
            .field("len", &self.nodes.len())
            .field("probe_index", &self.probe_index)
            .finish_non_exhaustive()
    }
}

impl Members {
    /// An empty table whose state changes count from `epoch`.
    pub(crate) fn new(epoch: Instant) -> Self {
        Self {
            nodes: Vec::new(),
            epoch: Epoch(epoch),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            generation: 0,
            digest: None,
            ip_named: 0,
            probe_index: 0,
            verified_at: None,
            view: None,
            view_interner: None,
            journal: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Changes whenever the entries or their wire fields may have changed (not with the
    /// probe order).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Marks the entries as possibly changed, dropping the cached view message now (during a
    /// join, stale views would otherwise pile up in every machine).
    fn bump_generation(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.view = None;
    }

    fn position(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&i| self.nodes[i as usize].name == name)
            .map(|&i| i as usize)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Row> {
        self.position(name).map(|i| &self.nodes[i])
    }

    /// `t` as the table stores it.
    pub(crate) fn stamp(&self, t: Instant) -> Stamp {
        self.epoch.stamp(t)
    }

    /// When `row`'s state last changed.
    pub(crate) fn changed(&self, row: &Row) -> Instant {
        self.epoch.at(row.changed)
    }

    /// `row` as the public [`Member`] type.
    pub(crate) fn member(&self, row: &Row) -> Member {
        row.to_member(self.epoch)
    }

    /// The identity of these parts: an equal one that another machine of the process
    /// already holds, when an interner is set (see [`ViewInterner::intern_member`]).
    pub(crate) fn identity(&self, identity: MemberIdentity) -> MemberIdentity {
        match &self.view_interner {
            Some(interner) => interner.intern_member(identity),
            None => identity,
        }
    }

    /// The member named by the text of `ip` (as [`ip_name`](super::ip_name::ip_name) writes
    /// it), without formatting or looking up anything when no name reads as an address.
    pub(crate) fn get_by_ip(&self, ip: std::net::IpAddr) -> Option<&Row> {
        if self.ip_named == 0 {
            return None;
        }
        self.get(super::ip_name::ip_name(ip).as_str())
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Row> {
        self.bump_generation();
        let i = self.position(name)?;
        let len = self.nodes.len();
        let m = &mut self.nodes[i];
        if let Some(journal) = &mut self.journal {
            journal.note(&m.name, len);
        }
        Some(m)
    }

    /// Starts recording which entries change, for [`take_changes`](Self::take_changes).
    pub(crate) fn track_changes(&mut self) {
        self.journal.get_or_insert_with(|| MemberChanges {
            names: Vec::new(),
            everything: true,
        });
    }

    /// What changed since the last call (everything, on the first), or `None` when changes
    /// are not tracked.
    pub(crate) fn take_changes(&mut self) -> Option<MemberChanges> {
        self.journal.as_mut().map(std::mem::take)
    }

    /// A word of the entry the next probe reads (see `warm` in `input.rs`).
    pub(crate) fn warm_entry(&self) -> usize {
        self.nodes
            .get(self.probe_index)
            .map_or(0, |m| usize::from(m.port) + m.name.len())
    }

    pub(crate) fn at(&self, i: usize) -> &Row {
        &self.nodes[i]
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Row> {
        self.nodes.iter()
    }

    /// Makes room for `additional` more members at once (exactly, when growing from small).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
        self.index
            .reserve(additional, rehash(&self.nodes, &self.hasher));
    }

    /// Inserts a new member at a random position, as Go does, so that new nodes are not all
    /// probed at the end of a round.
    pub(crate) fn insert<R: Rng>(&mut self, member: Member, rng: &mut R) {
        debug_assert!(self.position(&member.name).is_none());
        let member = Row {
            id: self.identity(MemberIdentity::of(&member)),
            changed: self.stamp(member.state_change),
            incarnation: member.incarnation,
            state: member.state,
        };
        self.bump_generation();
        let n = self.nodes.len();
        let hash = self.hasher.hash_one(member.name.as_str());
        if let Some(journal) = &mut self.journal {
            journal.note(&member.name, n + 1);
        }
        self.ip_named += usize::from(reads_as_ip(&member.name));
        if n == self.nodes.capacity() {
            self.nodes.reserve_exact(grown_capacity(n) - n);
        }
        self.nodes.push(member);
        let rehash = rehash(&self.nodes, &self.hasher);
        self.index.insert_unique(hash, n as u32, rehash);
        let offset = rng.random_range(0..=n);
        if offset != n {
            self.swap(offset, n);
        }
    }

    /// Points the index entry of the member whose hash is `hash` from position `from` to `to`.
    fn repoint(&mut self, hash: u64, from: u32, to: u32) {
        if let Some(slot) = self.index.find_mut(hash, |&i| i == from) {
            *slot = to;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        let ha = self.hasher.hash_one(self.nodes[a].name.as_str());
        let hb = self.hasher.hash_one(self.nodes[b].name.as_str());
        self.nodes.swap(a, b);
        // Positions are unique among entries; a sentinel keeps them so while both move.
        self.repoint(ha, a as u32, u32::MAX);
        self.repoint(hb, b as u32, a as u32);
        self.repoint(ha, u32::MAX, b as u32);
    }

    fn rebuild_index(&mut self) {
        self.index.clear();
        for (i, m) in self.nodes.iter().enumerate() {
            let hash = self.hasher.hash_one(m.name.as_str());
            let rehash = rehash(&self.nodes, &self.hasher);
            self.index.insert_unique(hash, i as u32, rehash);
        }
    }

    /// Shuffles the probe order (done when the probe index wraps).
    pub(crate) fn shuffle<R: Rng>(&mut self, rng: &mut R) {
        self.nodes.shuffle(rng);
        self.rebuild_index();
    }

    /// Removes every member for which `reap` is true; returns the removed members.
    pub(crate) fn reap(&mut self, mut reap: impl FnMut(&Row) -> bool) -> Vec<Row> {
        let mut removed = Vec::new();
        let mut kept = Vec::with_capacity(self.nodes.len());
        for m in self.nodes.drain(..) {
            if reap(&m) {
                removed.push(m);
            } else {
                kept.push(m);
            }
        }
        self.nodes = kept;
        if let Some(journal) = &mut self.journal {
            for m in &removed {
                journal.note(&m.name, self.nodes.len());
            }
        }
        let ip_named = removed.iter().filter(|m| reads_as_ip(&m.name)).count();
        self.ip_named -= ip_named;
        if !removed.is_empty() {
            self.bump_generation();
            self.rebuild_index();
        }
        removed
    }

    /// The key of the table's fingerprint, derived from its randomly seeded hasher.
    pub(crate) fn view_key(&self) -> ViewKey {
        ViewKey::new(|i| self.hasher.hash_one(i))
    }

    /// The table's fingerprint, recomputed (one pass) only after a change.
    pub(crate) fn digest(&mut self) -> TableDigest {
        if let Some((generation, d)) = self.digest
            && generation == self.generation
        {
            return d;
        }
        let key = self.view_key();
        let mut d = TableDigest {
            plain: true,
            ..TableDigest::default()
        };
        let mut buf = Vec::with_capacity(128);
        for m in &self.nodes {
            d.plain &= m.state == State::Alive && m.port != 0 && valid_vsn(&m.vsn);
            buf.clear();
            m.as_push_state().encode(&mut buf);
            d.add(key.entry(&buf));
        }
        self.digest = Some((self.generation, d));
        d
    }

    /// Picks up to `k` distinct members for which `accept` holds, uniformly at random.
    pub(crate) fn random<R: Rng>(
        &self,
        k: usize,
        rng: &mut R,
        mut accept: impl FnMut(&Row) -> bool,
    ) -> Vec<usize> {
        let n = self.nodes.len();
        let mut picked: Vec<usize> = Vec::with_capacity(k);
        if k == 0 || n == 0 {
            return picked;
        }
        // Small clusters (or large k): an exhaustive shuffled pass, as Go does since v0.6.
        if k * 3 >= n {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(rng);
            picked.extend(
                order
                    .into_iter()
                    .filter(|&i| accept(&self.nodes[i]))
                    .take(k),
            );
            return picked;
        }
        // Otherwise random probing with a bounded number of tries (3n, as Go).
        for _ in 0..3 * n {
            if picked.len() == k {
                break;
            }
            let i = rng.random_range(0..n);
            if !picked.contains(&i) && accept(&self.nodes[i]) {
                picked.push(i);
            }
        }
        picked
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::{IpBytes, Vsn};
    use bytes::Bytes;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn member(name: &str, now: Instant) -> Member {
        Member {
            name: name.into(),
            addr: IpBytes::from([127, 0, 0, 1]),
            port: 7946,
            meta: Bytes::new(),
            incarnation: 1,
            state: State::Alive,
            state_change: now,
            vsn: Vsn::default_advertised(),
        }
    }

    #[test]
    fn index_follows_inserts_shuffles_and_reaps() {
        let now = Instant::now();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut t = Members::new(now);
        for i in 0..50 {
            t.insert(member(&format!("n{i}"), now), &mut rng);
        }
        let check = |t: &Members| {
            for (i, m) in t.iter().enumerate() {
                assert_eq!(t.position(&m.name), Some(i));
            }
            assert_eq!(t.index.len(), t.len());
            let mut positions: Vec<u32> = t.index.iter().copied().collect();
            positions.sort_unstable();
            assert!(positions.iter().enumerate().all(|(i, &p)| p as usize == i));
        };
        check(&t);
        let (g, d) = (t.generation(), t.digest());
        assert_eq!(t.digest(), d);
        t.get_mut("n1").unwrap().incarnation += 1;
        assert_ne!(t.generation(), g);
        assert_ne!(t.digest(), d);
        t.get_mut("n1").unwrap().incarnation -= 1;
        assert_eq!(t.digest(), d, "the fingerprint does not depend on history");
        t.shuffle(&mut rng);
        assert_eq!(t.digest(), d, "nor on the order");
        check(&t);
        let removed = t.reap(|m| m.name.ends_with('3'));
        assert_eq!(removed.len(), 5);
        check(&t);
        assert!(t.get("n13").is_none());
        assert!(t.get("n12").is_some());
    }

    #[test]
    fn members_named_by_their_ip_are_found_by_it_and_only_then_looked_up() {
        let now = Instant::now();
        let mut rng = SmallRng::seed_from_u64(2);
        let mut t = Members::new(now);
        let v4: std::net::IpAddr = "10.0.0.7".parse().unwrap();
        let v6: std::net::IpAddr = "fe80::7".parse().unwrap();
        t.insert(member("n1", now), &mut rng);
        assert_eq!(t.ip_named, 0);
        assert!(t.get_by_ip(v4).is_none());
        t.insert(member("10.0.0.7", now), &mut rng);
        t.insert(member("fe80::7", now), &mut rng);
        assert_eq!(t.ip_named, 2);
        assert_eq!(t.get_by_ip(v4).unwrap().name, "10.0.0.7");
        assert_eq!(t.get_by_ip(v6).unwrap().name, "fe80::7");
        assert!(t.get_by_ip("10.0.0.8".parse().unwrap()).is_none());
        t.reap(|m| m.name == "10.0.0.7");
        assert_eq!(t.ip_named, 1);
        assert!(t.get_by_ip(v4).is_none());
        t.reap(|m| m.name == "fe80::7");
        assert_eq!(t.ip_named, 0);
    }

    #[test]
    fn capacities_step_through_powers_of_two_and_their_halfway_points() {
        let mut steps = vec![grown_capacity(0)];
        while let Some(&last) = steps.last().filter(|&&c| c < 100) {
            steps.push(grown_capacity(last));
        }
        assert_eq!(steps, [4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128]);
        assert_eq!(grown_capacity(10_000), 12_288);
        for len in 0..5_000 {
            let c = grown_capacity(len);
            assert!(
                c > len && (c <= 4 || 2 * c <= 3 * (len + 1)),
                "{len} -> {c}"
            );
        }
    }

    #[test]
    fn random_selection_is_distinct_and_filtered() {
        let now = Instant::now();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut t = Members::new(now);
        for i in 0..100 {
            t.insert(member(&format!("n{i}"), now), &mut rng);
        }
        for k in [0, 1, 3, 10, 40, 100, 200] {
            let picked = t.random(k, &mut rng, |m| !m.name.ends_with('7'));
            let mut sorted = picked.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), picked.len());
            assert!(picked.iter().all(|&i| !t.at(i).name.ends_with('7')));
            assert!(picked.len() <= k.min(90));
            if k <= 30 {
                assert_eq!(picked.len(), k);
            }
        }
    }
}
