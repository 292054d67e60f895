//! Processing of alive, suspect and dead messages (Go's `aliveNode`, `suspectNode`,
//! `deadNode`), refutation, and the suspicion timers they start.
//!
//! # The incarnation rule (hostile or absurd incarnations, Go issue #358)
//!
//! Go compares incarnations as plain `uint32`s, so one forged message at `u32::MAX` pins or
//! evicts a node for good. We keep Go's comparison and wire format and add three rules,
//! explained in SECURITY.md ("Incarnation abuse"):
//!
//! 1. **Bounded jumps for other nodes**: a message about another, already known node more
//!    than [`max_incarnation_jump`](super::ProtocolConfig::max_incarnation_jump) ahead of
//!    the incarnation we hold is refused (not for unknown nodes, ourselves or name reclaims).
//! 2. **`u32::MAX` is spent**: a member held at `u32::MAX` accepts an alive message with any
//!    lower incarnation ([`supersedes`]).
//! 3. **Refuting the unbeatable**: accused at `u32::MAX`, we refute with our next
//!    incarnation, wrapping to 1, not Go's 0 ([`Machine::refute`]).

use std::net::SocketAddr;
use std::time::Instant;

use smol_str::SmolStr;
use tracing::{debug, warn};

use crate::delegate::Delegate;
use crate::metrics::Counter;
use crate::wire::{Alive, Dead, Limit, Suspect, WireMessage};

use super::Machine;
use super::broadcast::{Broadcast, BroadcastKey};
use super::members::{Member, State};
use super::mutation::Mutation;
use super::output::Event;
use super::push_pull::valid_vsn;
use super::row::MemberIdentity;
use super::suspicion::{Suspicion, confirmations_needed};
use super::timing::suspicion_timeout;

/// Whether an alive message at `incoming` is news about a member we hold at `known`: a
/// higher incarnation, or any lower one once `known` is spent at `u32::MAX` (rule 2 of the
/// incarnation rule).
pub(crate) fn supersedes(incoming: u32, known: u32) -> bool {
    incoming > known || (known == u32::MAX && incoming < u32::MAX)
}

/// Where an alive message came from, for the checks that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AliveSource {
    /// Our own announcement at start-up or after a metadata update.
    Bootstrap,
    /// Gossip, a push/pull merge, or any other peer.
    Remote,
}

impl<D: Delegate> Machine<D> {
    /// Go's `aliveNode`. Returns true when the message changed our view.
    pub(crate) fn handle_alive(&mut self, a: &Alive, source: AliveSource, now: Instant) -> bool {
        let is_self = a.node == self.cfg.name;
        if self.leaving && is_self {
            return false;
        }
        if !valid_vsn(&a.vsn) {
            warn!(node = %a.node, vsn = ?a.vsn, "ignoring an alive message with an invalid protocol version range");
            return false;
        }
        // The common case in gossip and push/pull: news we already hold (an older or equal
        // incarnation about another node at the same address). Go ends up ignoring it after
        // asking the AliveDelegate, whose verdict cannot change anything here; skipping the
        // delegate call and the copies keeps a 10,000-entry merge cheap.
        if !is_self
            && let Some(m) = self.members.get(&a.node)
            && !supersedes(a.incarnation, m.incarnation)
            && m.addr == a.addr
            && m.port == a.port
            && !self.mutated(Mutation::StaleRejoin)
        {
            return false;
        }
        let max_meta = self.pipeline.limits().max_remote_meta;
        if source == AliveSource::Remote && !is_self && a.meta.len() > max_meta {
            let len = a.meta.len();
            warn!(node = %a.node, len, max = max_meta, "ignoring an alive message with oversized metadata");
            self.metrics
                .increment(Counter::LimitExceeded(Limit::RemoteMeta), 1);
            return false;
        }
        let candidate = Member {
            name: a.node.clone(),
            addr: a.addr,
            port: a.port,
            meta: a.meta.clone(),
            incarnation: a.incarnation,
            state: State::Alive,
            state_change: now,
            vsn: a.vsn,
        };
        if let Err(veto) = self.delegate.notify_alive(&candidate) {
            let reason = std::error::Error::source(&veto).map(ToString::to_string);
            debug!(node = %a.node, ?reason, "alive message vetoed by the delegate");
            return false;
        }

        let addr_allowed = a.addr.to_ip().is_some_and(|ip| self.cfg.ip_allowed(ip));
        let known = self.members.get(&a.node).cloned();
        let old_changed = known.as_ref().map(|m| self.members.changed(m));
        let Some(old) = known else {
            if !addr_allowed {
                warn!(node = %a.node, addr = %a.addr, "rejecting a node whose address is not in the CIDR allow list");
                return false;
            }
            // A node we have never seen: it enters as dead with incarnation 0, so the usual
            // rules below accept any real incarnation and announce the join.
            let mut fresh = candidate.clone();
            fresh.state = State::Dead;
            fresh.incarnation = 0;
            fresh.state_change = now;
            if !a.vsn.is_complete() {
                fresh.vsn = Default::default();
            }
            self.members.insert(fresh, &mut self.rng);
            if !is_self && a.incarnation == 0 {
                // Go keeps the entry (dead, incarnation 0) but takes nothing else from it.
                return false;
            }
            return self.apply_alive(a, candidate, State::Dead, is_self, source, now);
        };

        let mut reclaim = false;
        if old.addr != a.addr || old.port != a.port {
            if !addr_allowed {
                warn!(node = %a.node, addr = %a.addr, "rejecting an address change outside the CIDR allow list");
                return false;
            }
            let can_reclaim = !self.cfg.dead_node_reclaim_time.is_zero()
                && old.state == State::Dead
                && old_changed.is_some_and(|changed| {
                    now.saturating_duration_since(changed) > self.cfg.dead_node_reclaim_time
                });
            if old.state == State::Left || can_reclaim {
                debug!(node = %a.node, old = %old.addr, new = %a.addr, "node reclaimed with a new address");
                reclaim = true;
            } else {
                warn!(node = %a.node, existing = %old.addr, other = %a.addr, "conflicting address for a known node name");
                self.events.push_back(Event::Conflict {
                    existing: Box::new(self.members.member(&old)),
                    other: Box::new(candidate),
                });
                return false;
            }
        }

        if !reclaim {
            if !is_self
                && !supersedes(a.incarnation, old.incarnation)
                && !self.mutated(Mutation::StaleRejoin)
            {
                return false;
            }
            if !is_self && self.jump_too_far(&a.node, old.incarnation, a.incarnation, "alive") {
                return false;
            }
            if is_self && a.incarnation < old.incarnation {
                return false;
            }
        }
        self.apply_alive(a, candidate, old.state, is_self, source, now)
    }

    fn apply_alive(
        &mut self,
        a: &Alive,
        candidate: Member,
        old_state: State,
        is_self: bool,
        source: AliveSource,
        now: Instant,
    ) -> bool {
        self.suspicions.remove(&a.node);
        if is_self && source == AliveSource::Remote {
            let Some(me) = self.members.get(&a.node) else {
                return false;
            };
            if a.incarnation == me.incarnation && a.meta == me.meta && a.vsn == me.vsn {
                return false;
            }
            self.refute(a.incarnation);
            warn!(
                incarnation = a.incarnation,
                "refuting an alive message about ourselves"
            );
            return false;
        }
        let alive = Broadcast::new(BroadcastKey::node(a.node.clone()), a.to_bytes());
        let alive = self.members.share_broadcast(alive);
        self.broadcasts.queue_shared(alive, None);
        let Some(m) = self.members.get(&a.node) else {
            return false;
        };
        let old_meta = m.meta.clone();
        let vsn = if a.vsn.is_complete() { a.vsn } else { m.vsn };
        // The identity changes only with the address, port, metadata or versions; a new
        // one is shared with the other machines of the process, if any.
        let same = m.addr == a.addr && m.port == a.port && m.meta == candidate.meta && m.vsn == vsn;
        let id = if same {
            m.id.clone()
        } else {
            let id = MemberIdentity::new(a.node.clone(), a.addr, a.port, candidate.meta, vsn);
            self.members.identity(id)
        };
        let stamp = self.members.stamp(now);
        let Some(m) = self.members.get_mut(&a.node) else {
            return false;
        };
        m.id = id;
        m.incarnation = a.incarnation;
        if m.state != State::Alive {
            m.state = State::Alive;
            m.changed = stamp;
        }
        let snapshot = m.clone();
        let snapshot = self.members.member(&snapshot);
        self.metrics.increment(Counter::MsgAlive, 1);
        if old_state.is_gone() {
            self.events.push_back(Event::Join(snapshot));
        } else if old_meta != snapshot.meta {
            self.events.push_back(Event::Update(snapshot));
        }
        true
    }

    /// Go's `suspectNode`. Returns true when the node became suspect.
    pub(crate) fn handle_suspect(&mut self, s: &Suspect, now: Instant) -> bool {
        if !self.accusation_applies(&s.node, s.incarnation, "suspect") {
            return false;
        }
        let Some(m) = self.members.get(&s.node) else {
            return false;
        };
        if let Some(timer) = self.suspicions.get_mut(&s.node) {
            if timer.confirm(&s.from, now) {
                self.queue_node_broadcast(&s.node, s.to_bytes(), None);
            }
            return false;
        }
        if m.state != State::Alive {
            return false;
        }
        if s.node == self.cfg.name {
            self.refute(s.incarnation);
            warn!(from = %s.from, "refuting a suspicion about ourselves");
            return false;
        }
        self.queue_node_broadcast(&s.node, s.to_bytes(), None);
        let n = self.members.len();
        let stamp = self.members.stamp(now);
        if let Some(m) = self.members.get_mut(&s.node) {
            m.incarnation = s.incarnation;
            m.state = State::Suspect;
            m.changed = stamp;
        }
        self.metrics.increment(Counter::MsgSuspect, 1);
        // Without Lifeguard the timeout is fixed: no confirmations can shorten it.
        let k = if self.cfg.lifeguard {
            confirmations_needed(self.cfg.suspicion_mult, n)
        } else {
            0
        };
        let min = suspicion_timeout(self.cfg.suspicion_mult, n, self.cfg.probe_interval);
        let max = min * self.cfg.suspicion_max_timeout_mult;
        let timer = Suspicion::new(s.from.clone(), k, min, max, now);
        self.suspicions.insert(s.node.clone(), timer);
        true
    }

    /// A suspicion timer expired: declare the node dead if it is still suspect.
    pub(crate) fn suspicion_expired(&mut self, name: &SmolStr, now: Instant) {
        let Some(timer) = self.suspicions.remove(name) else {
            return;
        };
        let Some(m) = self.members.get(name) else {
            return;
        };
        if m.state != State::Suspect || self.members.changed(m) != timer.start() {
            return;
        }
        if timer.is_degraded() {
            self.metrics.increment(Counter::DegradedTimeout, 1);
        }
        let dead = Dead {
            incarnation: m.incarnation,
            node: name.clone(),
            from: self.cfg.name.clone(),
        };
        debug!(node = %name, "suspicion timed out; marking dead");
        self.handle_dead(&dead, now);
    }

    /// Go's `deadNode`. Returns true when the node became dead or left.
    pub(crate) fn handle_dead(&mut self, d: &Dead, now: Instant) -> bool {
        if !self.accusation_applies(&d.node, d.incarnation, "dead") {
            return false;
        }
        let Some(m) = self.members.get(&d.node) else {
            return false;
        };
        self.suspicions.remove(&d.node);
        if m.state.is_gone() {
            return false;
        }
        let is_self = d.node == self.cfg.name;
        if is_self && !self.leaving {
            self.refute(d.incarnation);
            warn!(from = %d.from, "refuting a dead message about ourselves");
            return false;
        }
        let notify = if is_self { self.leave_notify } else { None };
        self.queue_node_broadcast(&d.node, d.to_bytes(), notify);
        let stamp = self.members.stamp(now);
        let Some(m) = self.members.get_mut(&d.node) else {
            return false;
        };
        m.incarnation = d.incarnation;
        m.state = if d.is_leave() {
            State::Left
        } else {
            State::Dead
        };
        m.changed = stamp;
        let snapshot = m.clone();
        let snapshot = self.members.member(&snapshot);
        if snapshot.state == State::Dead
            && let Some(addr) = snapshot.socket_addr()
        {
            self.remember_failed(snapshot.name.clone(), addr, now);
        }
        self.metrics.increment(Counter::MsgDead, 1);
        self.events.push_back(Event::Leave(snapshot));
        true
    }

    /// Whether a suspect or dead message at `incarnation` about the known member `node` is
    /// neither stale nor, about another node, too far ahead (rule 1).
    fn accusation_applies(&mut self, node: &str, incarnation: u32, kind: &'static str) -> bool {
        let Some(m) = self.members.get(node) else {
            return false;
        };
        let known = m.incarnation;
        if incarnation < known {
            if node == self.cfg.name && !self.leaving {
                self.reannounce(incarnation);
            }
            return false;
        }
        node == self.cfg.name || !self.jump_too_far(node, known, incarnation, kind)
    }

    /// Rule 1 of the incarnation rule: whether a message about another node, known at
    /// `known`, claims an incarnation too far ahead (then it is logged and counted).
    fn jump_too_far(&self, node: &str, known: u32, incarnation: u32, kind: &'static str) -> bool {
        let max = self.cfg.max_incarnation_jump;
        if max == 0 || incarnation <= known.saturating_add(max) {
            return false;
        }
        warn!(%node, known, incarnation, max, kind, "refusing a message with an absurd incarnation jump");
        self.metrics
            .increment(Counter::LimitExceeded(Limit::IncarnationJump), 1);
        true
    }

    /// Announces a new incarnation of ourselves that beats `accused_incarnation`, or, when
    /// nothing can beat it (`u32::MAX`), our next incarnation (rule 3 of the incarnation
    /// rule).
    pub(crate) fn refute(&mut self, accused_incarnation: u32) {
        if self.mutated(Mutation::NoRefute) {
            return;
        }
        let mut inc = self.next_incarnation();
        if accused_incarnation == u32::MAX {
            warn!(
                incarnation = inc,
                "accused at incarnation u32::MAX, which nothing beats; refuting with our next one"
            );
            self.metrics
                .increment(Counter::LimitExceeded(Limit::IncarnationCeiling), 1);
        } else if accused_incarnation >= inc {
            inc = accused_incarnation + 1;
            self.incarnation = inc;
        }
        if self.mutated(Mutation::IncarnationBackwards) {
            inc = accused_incarnation.saturating_sub(1);
            self.incarnation = inc;
        }
        if let Some(me) = self.members.get_mut(&self.cfg.name) {
            me.incarnation = inc;
        }
        self.apply_awareness(1);
        self.metrics.increment(Counter::Refutations, 1);
        self.announce_self(inc);
    }

    /// Beyond Go: `from` relayed an accusation about `node` at an incarnation superseded by
    /// a live one. It missed the refutation and would declare `node` dead when its suspicion
    /// expires, so we send it the alive message we hold.
    pub(crate) fn correct_stale(&mut self, node: &str, incarnation: u32, from: SocketAddr) {
        let Some(m) = self.members.get(node) else {
            return;
        };
        if incarnation >= m.incarnation || m.state != State::Alive || self.leaving {
            return;
        }
        let m = self.members.member(m);
        let alive = alive_of(m.incarnation, m);
        debug!(%node, stale = incarnation, current = alive.incarnation, %from, "correcting a stale accusation");
        self.send_msg(from, &alive.to_bytes());
    }

    /// Beyond Go: an accusation about an incarnation of ours already refuted. Whoever spread
    /// it missed the refutation and would declare us dead, so we gossip our current alive
    /// message again (no new incarnation: peers that have it ignore it).
    fn reannounce(&mut self, stale_incarnation: u32) {
        debug!(
            stale_incarnation,
            incarnation = self.incarnation,
            "a stale accusation about us; announcing our current incarnation again"
        );
        if let Some(inc) = self.members.get(&self.cfg.name).map(|me| me.incarnation) {
            self.announce_self(inc);
        }
    }

    /// Gossips an alive message about ourselves at `inc`.
    fn announce_self(&mut self, inc: u32) {
        let Some(me) = self
            .members
            .get(&self.cfg.name)
            .map(|me| self.members.member(me))
        else {
            return;
        };
        // Go keys the refutation by our address string, not our name (a quirk kept so
        // that it does not displace other queued messages about us in the same way).
        let key = SmolStr::new(me.addr.to_string());
        let alive = alive_of(inc, me);
        self.broadcasts
            .queue(BroadcastKey::named(key), alive.to_bytes(), None);
    }

    /// The next incarnation number for ourselves.
    pub(crate) fn next_incarnation(&mut self) -> u32 {
        self.incarnation = self.incarnation.wrapping_add(1).max(1);
        self.incarnation
    }
}

/// The alive message that announces `m` at `incarnation`.
fn alive_of(incarnation: u32, m: Member) -> Alive {
    Alive {
        incarnation,
        node: m.name,
        addr: m.addr,
        port: m.port,
        meta: m.meta,
        vsn: m.vsn,
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
