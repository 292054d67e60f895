//! Safety invariants checked while a simulation runs.
//!
//! * **(a) no premature death** — a node is declared dead (a `Leave` event with state
//!   `Dead`) by anyone only after some observer's suspicion of it has matured: the suspicion
//!   started at `s` (the member's `state_change` when it turned `Suspect`) and
//!   `s + suspicion_timeout(mult, n, probe_interval) <= now`, with `n` that observer's table
//!   size. The check is global rather than per observer because an observer may learn of the
//!   death by gossip before its own timer expires.
//! * **(b) incarnations never decrease** as seen by any observer (full mode only).
//! * **(c) no resurrection without a higher incarnation**: a member that was dead (or left)
//!   comes back only with a strictly higher incarnation — or, by Go's reclaim rule, under
//!   its name at another address after it left (or died, once `dead_node_reclaim_time` has
//!   passed), or once it may have been reaped.
//!
//! Convergence (d) is checked by the engine ([`Sim::converged`](crate::Sim::converged)).
//!
//! Light mode (large clusters) checks (a) and (c) from events and suspicion scans only; full
//! mode additionally rescans an observer's whole table whenever its alive/suspect/dead
//! counters move, which costs O(n) per change.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use memberlist_core::machine::timing::suspicion_timeout;
use memberlist_core::machine::{Member, ProtocolConfig, State};

/// Invariant bookkeeping for one run.
#[derive(Debug)]
pub struct Checker {
    seed: u64,
    start: Instant,
    suspicion_mult: u32,
    probe_interval: Duration,
    /// Gone members may be reaped (forgotten) this long after they went; a later join with
    /// any incarnation is then a fresh node, not a resurrection.
    reap_after: Duration,
    /// `dead_node_reclaim_time` (zero: a dead member's name is never reclaimed).
    reclaim_after: Duration,
    /// Earliest instant at which any observer's suspicion of each node matured.
    matured: Vec<Option<Instant>>,
    /// For a restarted node: when a suspicion of its previous life matured, and until when
    /// deaths may still be declared on it (observers that had not yet heard of that death).
    prior: Vec<Option<(Instant, Instant)>>,
    /// How long after a restart the previous life's suspicion still counts: gossip to the
    /// dead plus the longest suspicion timeout.
    grace: Duration,
    /// (observer, subject) → incarnation and instant at which the observer saw it gone.
    gone_at: HashMap<(u32, u32), Seen>,
    /// Full mode: the last (state, incarnation) each observer had for each subject.
    table: Option<Vec<Vec<Option<Seen>>>>,
    violations: Vec<String>,
}

/// What an observer last held about a subject: state, incarnation, when the state began.
type Seen = (State, u32, Instant, Option<SocketAddr>);

/// Violations cap: after this many, further ones are counted but not stored.
const MAX_STORED: usize = 20;

impl Checker {
    /// A checker for `n` nodes with the protocol settings `cfg`; `full` enables the O(n)
    /// table rescans.
    pub fn new(seed: u64, start: Instant, n: usize, cfg: &ProtocolConfig, full: bool) -> Self {
        Self {
            seed,
            start,
            suspicion_mult: cfg.suspicion_mult,
            probe_interval: cfg.probe_interval,
            reap_after: cfg.gossip_to_the_dead_time,
            reclaim_after: cfg.dead_node_reclaim_time,
            matured: vec![None; n],
            prior: vec![None; n],
            grace: cfg.gossip_to_the_dead_time
                + suspicion_timeout(cfg.suspicion_mult, n, cfg.probe_interval)
                    * cfg.suspicion_max_timeout_mult,
            gone_at: HashMap::new(),
            table: full.then(|| vec![vec![None; n]; n]),
            violations: Vec::new(),
        }
    }

    /// Whether full table scans are on.
    pub fn is_full(&self) -> bool {
        self.table.is_some()
    }

    /// Every violation found so far (at most a few are kept).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    fn violate(&mut self, now: Instant, msg: String) {
        if self.violations.len() < MAX_STORED {
            let at = (now - self.start).as_secs_f64();
            self.violations
                .push(format!("seed {}: t={at:.3}s: {msg}", self.seed));
        }
    }

    /// `observer` holds `subject` as suspect since `since`, with `table_size` entries.
    pub fn on_suspect(&mut self, subject: usize, since: Instant, table_size: usize) {
        let min = suspicion_timeout(self.suspicion_mult, table_size, self.probe_interval);
        let ripe = since + min;
        let slot = &mut self.matured[subject];
        if slot.is_none_or(|t| ripe < t) {
            *slot = Some(ripe);
        }
    }

    /// A `Leave` event (dead or left) at `observer` about `subject`.
    pub fn on_gone(&mut self, now: Instant, observer: usize, subject: usize, m: &Member) {
        let prior_ok = self.prior[subject].is_some_and(|(t, until)| t <= now && now <= until);
        if m.state == State::Dead && observer != subject && !prior_ok {
            let why = match self.matured[subject] {
                Some(t) if t <= now => None,
                Some(t) => Some(format!(
                    "{:.3}s before any suspicion matured",
                    (t - now).as_secs_f64()
                )),
                None => Some("without anyone suspecting it".to_owned()),
            };
            if let Some(why) = why {
                let msg = format!("node {observer} declared {} dead {why}", m.name);
                self.violate(now, msg);
            }
        }
        let seen = (m.state, m.incarnation, now, m.socket_addr());
        self.gone_at.insert((observer as u32, subject as u32), seen);
    }

    /// Go's reclaim rule: a member that left (or died, once `dead_node_reclaim_time` has
    /// passed) may come back under its name at another address with any incarnation.
    fn reclaims(&self, was: &Seen, now: Instant, m: &Member) -> bool {
        let (state, _, since, addr) = *was;
        let reclaimable = state == State::Left
            || (state == State::Dead
                && !self.reclaim_after.is_zero()
                && now - since >= self.reclaim_after);
        reclaimable && m.socket_addr() != addr
    }

    /// A `Join` event at `observer` about `subject` (new, or back from dead/left).
    pub fn on_join(&mut self, now: Instant, observer: usize, subject: usize, m: &Member) {
        if let Some(was) = self.gone_at.remove(&(observer as u32, subject as u32))
            && m.incarnation <= was.1
            && now - was.2 < self.reap_after
            && !self.reclaims(&was, now, m)
        {
            let inc = was.1;
            self.violate(
                now,
                format!(
                    "node {observer} saw {} come back at incarnation {} after it was gone at {inc}",
                    m.name, m.incarnation
                ),
            );
        }
    }

    /// The node was restarted: earlier suspicions of it, and everything it observed, belong
    /// to its previous life.
    pub fn on_restart(&mut self, now: Instant, subject: usize) {
        // A life without a matured suspicion keeps its predecessor's: a late claim about
        // that life may still arrive (and, by name, hit this one).
        // Restarted again within the grace: a suspicion of the life before still counts.
        if let Some(t) = self.matured[subject].take() {
            let earlier = self.prior[subject].filter(|&(_, until)| now <= until);
            let t = earlier.map_or(t, |(p, _)| p.min(t));
            self.prior[subject] = Some((t, now + self.grace));
        }
        let observer = subject as u32;
        self.gone_at.retain(|&(o, _), _| o != observer);
        if let Some(table) = self.table.as_mut() {
            table[subject].iter_mut().for_each(|seen| *seen = None);
        }
    }

    /// Full mode: compares `observer`'s table with what it held before. `index` maps a
    /// member name to its node index.
    pub fn scan_table(
        &mut self,
        now: Instant,
        observer: usize,
        members: impl Iterator<Item = Member>,
        index: impl Fn(&str) -> Option<usize>,
    ) {
        let Some(table) = self.table.as_mut() else {
            return;
        };
        let old = std::mem::replace(&mut table[observer], vec![None; self.matured.len()]);
        let mut found = Vec::new();
        for m in members {
            let Some(subject) = index(&m.name) else {
                continue;
            };
            if let Some(was @ (state, inc, since, _)) = old[subject] {
                let reapable = now - since >= self.reap_after
                    || (state.is_gone() && self.reclaims(&was, now, &m));
                if m.incarnation < inc && !(state.is_gone() && reapable) {
                    found.push(format!(
                        "node {observer} saw {}'s incarnation go from {inc} down to {}",
                        m.name, m.incarnation
                    ));
                }
                if state.is_gone() && !m.state.is_gone() && m.incarnation <= inc && !reapable {
                    found.push(format!(
                        "node {observer} saw {} go {state} -> {} without a higher incarnation ({inc} -> {})",
                        m.name, m.state, m.incarnation
                    ));
                }
            }
            if let Some(table) = self.table.as_mut() {
                table[observer][subject] =
                    Some((m.state, m.incarnation, m.state_change, m.socket_addr()));
            }
        }
        for msg in found {
            self.violate(now, msg);
        }
    }
}
