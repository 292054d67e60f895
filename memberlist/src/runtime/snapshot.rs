//! The membership snapshot the handle reads without asking the driver, kept up to date
//! incrementally.
//!
//! The driver refreshes it after every input. Copying the machine's whole table on each
//! change made a join of N nodes cost O(N²) member copies per node (a 1,000-node cluster in
//! one process never converged); instead the machine records the names of the entries it
//! touches, and only those are copied here. The list sits behind an [`Arc`] so a handle
//! reads it without holding the lock; when a reader still holds the previous list while the
//! driver changes it, [`Arc::make_mut`] copies it once, which only costs readers.

use std::collections::HashMap;
use std::sync::Arc;

use smol_str::SmolStr;

use crate::delegate::Delegate;
use crate::machine::{Machine, Member, State, Stats};

/// What the handle reads without asking the driver.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// Every entry of the machine's table, in no particular order.
    pub(crate) members: Arc<Vec<Member>>,
    /// Position of each name in `members`.
    positions: HashMap<SmolStr, usize>,
    /// Entries per state, indexed by [`slot`].
    counts: [usize; 4],
    /// Ourselves.
    pub(crate) local: Member,
    /// The machine's counters as of the last refresh.
    pub(crate) stats: Stats,
    /// False once the driver has stopped.
    pub(crate) running: bool,
    /// Queue depth last published as a gauge.
    pub(crate) queued_broadcasts: usize,
}

/// Index of a state in [`Snapshot::counts`].
fn slot(state: State) -> usize {
    match state {
        State::Alive => 0,
        State::Suspect => 1,
        State::Dead => 2,
        State::Left => 3,
    }
}

impl Snapshot {
    /// The first snapshot; switches on the machine's change journal.
    pub(crate) fn new<D: Delegate>(machine: &mut Machine<D>, local: Member) -> Self {
        machine.track_member_changes();
        let mut snapshot = Self {
            members: Arc::new(Vec::new()),
            positions: HashMap::new(),
            counts: [0; 4],
            local,
            stats: machine.stats().clone(),
            running: true,
            queued_broadcasts: 0,
        };
        snapshot.update(machine);
        snapshot
    }

    /// Copies what changed in the machine's table since the last call; returns whether
    /// anything may have.
    pub(crate) fn update<D: Delegate>(&mut self, machine: &mut Machine<D>) -> bool {
        let Some(journal) = machine.take_member_changes() else {
            return false;
        };
        if journal.everything {
            self.rebuild(machine);
            return true;
        }
        if journal.names.is_empty() {
            return false;
        }
        let members = Arc::make_mut(&mut self.members);
        let mut local_changed = false;
        for name in journal.names {
            local_changed |= name == self.local.name;
            let now = machine.member(&name);
            match (now, self.positions.get(&name).copied()) {
                (Some(m), Some(i)) => {
                    let old = &mut members[i];
                    if *old != m {
                        self.counts[slot(old.state)] -= 1;
                        self.counts[slot(m.state)] += 1;
                        *old = m;
                    }
                }
                (Some(m), None) => {
                    self.counts[slot(m.state)] += 1;
                    self.positions.insert(name, members.len());
                    members.push(m);
                }
                (None, Some(i)) => {
                    let gone = members.swap_remove(i);
                    self.counts[slot(gone.state)] -= 1;
                    self.positions.remove(&name);
                    if let Some(moved) = members.get(i) {
                        self.positions.insert(moved.name.clone(), i);
                    }
                }
                (None, None) => {}
            }
        }
        if local_changed && let Some(me) = machine.local_member() {
            self.local = me;
        }
        true
    }

    /// Copies the whole table.
    fn rebuild<D: Delegate>(&mut self, machine: &Machine<D>) {
        let members: Vec<Member> = machine.all_members().collect();
        self.positions = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        self.counts = [0; 4];
        for m in &members {
            self.counts[slot(m.state)] += 1;
        }
        self.members = Arc::new(members);
        if let Some(me) = machine.local_member() {
            self.local = me;
        }
    }

    /// How many entries are in `state`.
    pub(crate) fn count(&self, state: State) -> usize {
        self.counts[slot(state)]
    }

    /// An entry by name.
    pub(crate) fn get(&self, name: &str) -> Option<&Member> {
        self.positions.get(name).map(|&i| &self.members[i])
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::machine::ProtocolConfig;
    use crate::wire::{Alive, Dead, Pipeline, WireMessage};

    struct Quiet;
    impl Delegate for Quiet {}

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, i], 7946))
    }

    fn alive(name: &str, i: u8, incarnation: u32) -> bytes::Bytes {
        (Alive {
            incarnation,
            node: name.into(),
            addr: crate::wire::IpBytes::from(addr(i).ip()),
            port: 7946,
            meta: bytes::Bytes::new(),
            vsn: crate::wire::Vsn::default_advertised(),
        })
        .to_bytes()
    }

    fn dead(name: &str, incarnation: u32) -> bytes::Bytes {
        (Dead {
            incarnation,
            node: name.into(),
            from: "node-9".into(),
        })
        .to_bytes()
    }

    /// The incremental snapshot always equals a fresh copy of the table, through inserts,
    /// state changes, our own refutation and reaping.
    #[test]
    fn incremental_updates_match_a_full_copy() {
        let start = Instant::now();
        let mut m = Machine::new(
            ProtocolConfig::lan("node-0"),
            Pipeline::new(),
            addr(0),
            Quiet,
            1,
            start,
        )
        .expect("machine");
        let local = m.local_member().expect("local");
        let mut snap = Snapshot::new(&mut m, local);
        let check = |snap: &Snapshot, m: &Machine<Quiet>| {
            let mut ours: Vec<Member> = snap.members.to_vec();
            let mut theirs: Vec<Member> = m.all_members().collect();
            ours.sort_by(|a, b| a.name.cmp(&b.name));
            theirs.sort_by(|a, b| a.name.cmp(&b.name));
            assert_eq!(ours, theirs);
            for state in [State::Alive, State::Suspect, State::Dead, State::Left] {
                let n = theirs.iter().filter(|x| x.state == state).count();
                assert_eq!(snap.count(state), n, "{state}");
            }
            for x in &theirs {
                assert_eq!(snap.get(&x.name), Some(x));
            }
            assert_eq!(Some(&snap.local), m.local_member().as_ref());
        };
        check(&snap, &m);
        let mut now = start;
        for i in 1..=5u8 {
            m.handle_datagram(now, addr(i), &alive(&format!("node-{i}"), i, 1));
        }
        // A reader holding the old list must keep seeing it unchanged.
        let held = Arc::clone(&snap.members);
        assert!(snap.update(&mut m));
        assert_eq!(held.len(), 1);
        check(&snap, &m);
        m.handle_datagram(now, addr(2), &dead("node-2", 1));
        m.handle_datagram(now, addr(3), &dead("node-3", 1));
        // Someone declares us dead: we refute with a higher incarnation.
        m.handle_datagram(now, addr(4), &dead("node-0", 0));
        assert!(snap.update(&mut m));
        check(&snap, &m);
        assert!(snap.local.incarnation > 0);
        // Nothing new: nothing to do.
        while m.poll_transmit().is_some() {}
        assert!(!snap.update(&mut m));
        // Past GossipToTheDeadTime the dead are reaped at the next probe.
        for _ in 0..200 {
            now += Duration::from_secs(1);
            m.handle_timeout(now);
            while m.poll_transmit().is_some() {}
            snap.update(&mut m);
        }
        check(&snap, &m);
        assert!(snap.get("node-2").is_none(), "node-2 not reaped");
    }
}
