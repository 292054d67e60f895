//! Beyond Go: reconnection to failed nodes and seeds, so that a partitioned cluster heals by
//! itself (Go memberlist issue #222). Each reconnect interval one candidate — a node we saw
//! fail within `reconnect_timeout` that is not alive again, or a seed that is not a current
//! member — gets a push/pull. If it answers, both sides merge each other's view; nodes they had
//! reaped come back as new members, and nodes still listed as dead refute and rejoin.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng;
use smol_str::SmolStr;

use crate::delegate::Delegate;

use super::Machine;
use super::members::State;

/// Most failed nodes remembered (the oldest are forgotten first).
const MAX_REMEMBERED: usize = 1024;

/// Failed nodes remembered for reconnection, oldest first, and the seeds' addresses.
#[derive(Debug, Default)]
pub(crate) struct Failed {
    entries: VecDeque<(SmolStr, SocketAddr, Instant)>,
    seeds: Vec<SocketAddr>,
}

impl<D: Delegate> Machine<D> {
    /// Beyond Go: the addresses of the seeds the node joins through, tried for reconnection
    /// whenever they are not current members (so that a node that lost every member finds
    /// the cluster again). A driver sets them from its seed list, resolving names itself;
    /// each call replaces the previous list.
    ///
    /// ```
    /// # use memberlist_core::delegate::NoopDelegate;
    /// # use memberlist_core::machine::{Machine, ProtocolConfig};
    /// # use memberlist_core::wire::Pipeline;
    /// # let now = std::time::Instant::now();
    /// # let addr = "10.0.0.1:7946".parse().unwrap();
    /// let mut machine = Machine::new(ProtocolConfig::lan("a"), Pipeline::new(), addr, NoopDelegate, 1, now)?;
    /// machine.set_seeds(["10.0.0.2:7946".parse().unwrap()]);
    /// # Ok::<(), memberlist_core::machine::ConfigError>(())
    /// ```
    pub fn set_seeds(&mut self, seeds: impl IntoIterator<Item = SocketAddr>) {
        self.failed.seeds = seeds.into_iter().collect();
        self.failed.seeds.sort_unstable();
        self.failed.seeds.dedup();
    }

    pub(crate) fn remember_failed(&mut self, name: SmolStr, addr: SocketAddr, now: Instant) {
        let list = &mut self.failed.entries;
        list.retain(|(n, _, _)| *n != name);
        if list.len() == MAX_REMEMBERED {
            list.pop_front();
        }
        list.push_back((name, addr, now));
    }

    /// One reconnect attempt, if there is a candidate.
    pub(crate) fn reconnect(&mut self, now: Instant) {
        let timeout = self.cfg.reconnect_timeout;
        let members = &self.members;
        self.failed.entries.retain(|(name, _, since)| {
            now.saturating_duration_since(*since) <= timeout
                && members.get(name).is_none_or(|m| m.state == State::Dead)
        });
        let mut candidates: Vec<SocketAddr> = self
            .failed
            .entries
            .iter()
            .map(|(_, addr, _)| *addr)
            .collect();
        // Seeds that are not current members; the table is only scanned when seeds exist
        // (a full scan every interval is a real cost at 10,000 members).
        if !self.failed.seeds.is_empty() {
            // Ordered, like every set the machine builds (only looked up here).
            let current: BTreeSet<SocketAddr> = self
                .members
                .iter()
                .filter(|m| !m.state.is_gone())
                .filter_map(|m| m.socket_addr())
                .collect();
            candidates.extend(self.failed.seeds.iter().filter(|s| !current.contains(s)));
        }
        if candidates.is_empty() {
            return;
        }
        let to = candidates[self.rng.random_range(0..candidates.len())];
        tracing::debug!(%to, "trying to reconnect");
        self.start_push_pull(to, false, now);
    }
}
