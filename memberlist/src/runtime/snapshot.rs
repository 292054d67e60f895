//! The membership snapshot the handle reads without asking the driver, refreshed after every
//! input from the entries the machine's change journal names, and the subscribers'
//! [`EventLog`], sent under the same lock (ARCHITECTURE.md, "The runtime").

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use smol_str::SmolStr;

use crate::delegate::Delegate;
use crate::machine::{Event, Machine, Member, State};

use super::events::{EventLog, step_events};
use super::member_info::{MemberInfo, WallClock};
use super::subscription::MembersSnapshot;

/// What the handle reads without asking the driver.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Every entry of the machine's table, in no particular order.
    pub(crate) members: Arc<Vec<Member>>,
    /// Position of each name in `members`.
    positions: HashMap<SmolStr, usize>,
    /// Entries per state, indexed by [`slot`].
    counts: [usize; 4],
    /// Ourselves.
    pub(crate) local: Member,
    /// False once the driver has stopped.
    pub(crate) running: bool,
    /// Queue depth last published as a gauge.
    pub(crate) queued_broadcasts: usize,
    /// Places the table's instants on the wall clock.
    pub(crate) clock: WallClock,
    /// The subscribers' channel and the last event number.
    pub(crate) events: EventLog,
}

/// The rows a step changed, as they were before it (`None`: not in the table), in the order
/// the journal names them; names may repeat (the first row is the one before the step).
pub(crate) type Previous = Vec<(SmolStr, Option<Member>)>;

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
    /// The first snapshot; switches on the machine's change journal. `clock` places
    /// instants on the wall clock; subscribers may fall `event_buffer` events behind.
    pub(crate) fn new<D: Delegate>(
        machine: &mut Machine<D>,
        local: Member,
        clock: WallClock,
        event_buffer: usize,
    ) -> Self {
        machine.track_member_changes();
        let mut snapshot = Self {
            members: Arc::new(Vec::new()),
            positions: HashMap::new(),
            counts: [0; 4],
            local,
            running: true,
            queued_broadcasts: 0,
            clock,
            events: EventLog::new(event_buffer),
        };
        snapshot.update(machine, None);
        snapshot
    }

    /// Copies what changed in the machine's table since the last call; returns whether
    /// anything may have. With `previous`, the changed rows as they were are added to it.
    pub(crate) fn update<D: Delegate>(
        &mut self,
        machine: &mut Machine<D>,
        mut previous: Option<&mut Previous>,
    ) -> bool {
        let Some(journal) = machine.take_member_changes() else {
            return false;
        };
        if journal.everything {
            let old = self.rebuild(machine);
            if let Some(previous) = previous {
                let old_names: HashSet<&SmolStr> = old.iter().map(|m| &m.name).collect();
                let added = self.members.iter().filter(|m| !old_names.contains(&m.name));
                let added: Vec<_> = added.map(|m| (m.name.clone(), None)).collect();
                previous.extend(old.iter().map(|m| (m.name.clone(), Some(m.clone()))));
                previous.extend(added);
            }
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
            let at = self.positions.get(&name).copied();
            if let Some(previous) = previous.as_deref_mut() {
                previous.push((name.clone(), at.map(|i| members[i].clone())));
            }
            match (now, at) {
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

    /// Copies the whole table; returns the previous one.
    fn rebuild<D: Delegate>(&mut self, machine: &Machine<D>) -> Arc<Vec<Member>> {
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
        let old = std::mem::replace(&mut self.members, Arc::new(members));
        if let Some(me) = machine.local_member() {
            self.local = me;
        }
        old
    }

    /// Numbers and sends the membership events of one step: the machine's `events`, and
    /// what they leave out about the rows in `previous` (see [`step_events`]).
    pub(crate) fn publish(&mut self, events: &[Event], previous: Previous) {
        let out = step_events(events, previous, |name| self.get(name), &self.clock);
        self.events.send(out);
    }

    /// A row as applications see it.
    pub(crate) fn info(&self, m: &Member) -> MemberInfo {
        MemberInfo::from_member(m, &self.clock)
    }

    /// The alive and suspect members as of the last event sent.
    pub(crate) fn members_snapshot(&self) -> MembersSnapshot {
        let members = self.members.iter().filter(|m| !m.state.is_gone());
        MembersSnapshot::new(self.events.seq(), members.map(|m| self.info(m)).collect())
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
        let mut snap = Snapshot::new(&mut m, local, WallClock::new(start), 16);
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
        assert!(snap.update(&mut m, None));
        assert_eq!(held.len(), 1);
        check(&snap, &m);
        m.handle_datagram(now, addr(2), &dead("node-2", 1));
        m.handle_datagram(now, addr(3), &dead("node-3", 1));
        // Someone declares us dead: we refute with a higher incarnation.
        m.handle_datagram(now, addr(4), &dead("node-0", 0));
        assert!(snap.update(&mut m, None));
        check(&snap, &m);
        assert!(snap.local.incarnation > 0);
        // Nothing new: nothing to do.
        while m.poll_transmit().is_some() {}
        assert!(!snap.update(&mut m, None));
        // Past GossipToTheDeadTime the dead are reaped at the next probe.
        for _ in 0..200 {
            now += Duration::from_secs(1);
            m.handle_timeout(now);
            while m.poll_transmit().is_some() {}
            snap.update(&mut m, None);
        }
        check(&snap, &m);
        assert!(snap.get("node-2").is_none(), "node-2 not reaped");
    }
}
