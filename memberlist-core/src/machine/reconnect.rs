//! Beyond Go: reconnection to failed nodes and seeds, so that a partitioned cluster heals by
//! itself within seconds (Go memberlist issue #222, where it never does).
//!
//! On a probe tick, at most once per `reconnect_interval`, one candidate gets a ping: a node
//! we saw fail within `reconnect_timeout` that is not alive again (pinged under its name, so
//! a different node now at its address does not answer), or a seed that is not a current
//! member ([`absent_seed`](Machine::absent_seed)). Only an ack starts a push/pull with it:
//! an unreachable candidate costs one datagram, not a dial. With nothing failed and every
//! seed a member nothing is sent.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng;
use smol_str::SmolStr;

use crate::delegate::Delegate;
use crate::wire::WireMessage;

use super::Machine;
use super::ProtocolConfig;
use super::members::State;
use super::probe::AckHandler;

/// Most failed nodes remembered (the oldest are forgotten first).
const MAX_REMEMBERED: usize = 1024;

/// Failed nodes remembered for reconnection, oldest first, the seeds' addresses, and when
/// the next attempts are due.
#[derive(Debug)]
pub(crate) struct Failed {
    entries: VecDeque<(SmolStr, SocketAddr, Instant)>,
    seeds: Vec<SocketAddr>,
    /// The first probe tick at which the next attempt may go out; `None` when disabled.
    next: Option<Instant>,
    /// When the seeds that are not members are next considered.
    seeds_due: Instant,
    /// The seed to try first next time (they are tried in turn).
    seed_turn: usize,
}

impl Failed {
    pub(crate) fn new(cfg: &ProtocolConfig, now: Instant) -> Self {
        Self {
            entries: VecDeque::new(),
            seeds: Vec::new(),
            next: (!cfg.reconnect_interval.is_zero()).then_some(now),
            seeds_due: now + seed_interval(cfg),
            seed_turn: 0,
        }
    }
}

/// Seeds that are not members are tried at most this often: a seed address that is not
/// any member's own (a load balancer, a second interface) must not cost a push/pull every
/// second for the life of the node.
fn seed_interval(cfg: &ProtocolConfig) -> std::time::Duration {
    cfg.reconnect_interval.max(cfg.push_pull_interval)
}

impl<D: Delegate> Machine<D> {
    /// Beyond Go: the seeds' addresses (resolved by the driver; each call replaces the list),
    /// tried for reconnection whenever they are not current members, so that a node that
    /// lost every member finds the cluster again.
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

    /// A probe tick (scheduled for `tick`) happened: one reconnect attempt if one is due.
    /// Riding the probe ticks costs no wake-up of its own.
    pub(crate) fn reconnect_tick(&mut self, tick: Instant, now: Instant) {
        match self.failed.next {
            Some(due) if tick >= due => {
                // From the tick's schedule, not `now`, so that an interval equal to the
                // probe interval fires on every tick however late the driver calls.
                self.failed.next = Some(tick + self.cfg.reconnect_interval);
                self.reconnect(now);
            }
            _ => {}
        }
    }

    /// Pings one candidate, if there is one; its ack starts a push/pull
    /// ([`AckHandler::Reconnect`]).
    fn reconnect(&mut self, now: Instant) {
        let timeout = self.cfg.reconnect_timeout;
        let members = &self.members;
        self.failed.entries.retain(|(name, _, since)| {
            now.saturating_duration_since(*since) <= timeout
                && members.get(name).is_none_or(|m| m.state == State::Dead)
        });
        let target = self
            .absent_seed(now)
            .map(|addr| (SmolStr::default(), addr))
            .or_else(|| {
                let entries = &self.failed.entries;
                (!entries.is_empty()).then(|| {
                    let (name, addr, _) = &entries[self.rng.random_range(0..entries.len())];
                    (name.clone(), *addr)
                })
            });
        let Some((name, to)) = target else {
            return;
        };
        tracing::debug!(%to, node = %name, "pinging a reconnect candidate");
        let ping = self.our_ping(name);
        let deadline = now + self.cfg.probe_timeout;
        self.acks
            .insert(ping.seq_no, AckHandler::Reconnect { to, deadline });
        self.send_msg(to, &ping.to_bytes());
    }

    /// The next seed (in turn) that is not a current member, when the seeds are due: once
    /// per push/pull interval, or on every attempt while we know no other live member (a
    /// node alone has nothing else to try). The table is only scanned then (a full scan
    /// every tick is a real cost at 10,000 members).
    fn absent_seed(&mut self, now: Instant) -> Option<SocketAddr> {
        if self.failed.seeds.is_empty() || now < self.failed.seeds_due {
            return None;
        }
        let me = &self.cfg.name;
        let alone = self
            .members
            .iter()
            .all(|m| m.name == *me || m.state.is_gone());
        if !alone {
            self.failed.seeds_due = now + seed_interval(&self.cfg);
        }
        // Ordered, like every set the machine builds (only looked up here).
        let current: BTreeSet<SocketAddr> = self
            .members
            .iter()
            .filter(|m| !m.state.is_gone())
            .filter_map(|m| m.socket_addr())
            .collect();
        let seeds = &self.failed.seeds;
        let n = seeds.len();
        let start = self.failed.seed_turn;
        let (k, addr) = (0..n)
            .map(|k| (k, seeds[(start + k) % n]))
            .find(|(_, s)| !current.contains(s))?;
        self.failed.seed_turn = (start + k + 1) % n;
        Some(addr)
    }
}
