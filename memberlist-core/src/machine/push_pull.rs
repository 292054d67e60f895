//! Push/pull anti-entropy and joins: our full state out, the peer's state merged in.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use smol_str::SmolStr;
use tracing::{debug, warn};

use crate::delegate::Delegate;
use crate::wire::{
    Alive, Dead, NodeState, PushNodeState, PushPull, Suspect, encode_push_pull_entries,
};

use super::Machine;
use super::error::{MergeError, VersionKind};
use super::members::{Member, State, TableDigest};
use super::mutation::Mutation;
use super::output::{StreamId, StreamKind};
use super::row::Row;
use super::state::AliveSource;

impl<D: Delegate> Machine<D> {
    /// Appends our push/pull message: every node we know (ourselves, suspects, not-yet-reaped
    /// dead and left nodes) in the canonical order, and `user_state`. The entries are encoded
    /// once per change of the table (`Members::view`).
    fn write_push_pull_with(&mut self, join: bool, user_state: &[u8], out: &mut Vec<u8>) {
        let nodes = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        let entries = self.members.view().entries();
        encode_push_pull_entries(join, nodes, entries, user_state, out);
    }

    /// Our push/pull message framed for a stream (after `prefix`, e.g. the label preamble).
    /// On a pipeline that neither compresses nor encrypts, it is written in place, and when
    /// there is neither a prefix nor user state and it is not a join, it is the table's
    /// view message itself, shared.
    pub(super) fn framed_local_push_pull(&mut self, join: bool, mut out: Vec<u8>) -> Option<Bytes> {
        let user_state = self.delegate.local_state(join);
        if self.pipeline.stream_is_plain() {
            if out.is_empty() && !join && user_state.is_empty() {
                return Some(self.members.view().message.clone());
            }
            self.write_push_pull_with(join, &user_state, &mut out);
            return Some(Bytes::from(out));
        }
        let mut msg = Vec::new();
        self.write_push_pull_with(join, &user_state, &mut msg);
        match self.pipeline.encode_stream(&msg, &mut out) {
            Ok(()) => Some(Bytes::from(out)),
            Err(e) => {
                warn!(error = %e, "cannot frame our push/pull");
                None
            }
        }
    }

    /// Starts a push/pull exchange with `to`.
    pub(crate) fn start_push_pull(
        &mut self,
        to: SocketAddr,
        join: bool,
        now: Instant,
    ) -> Option<StreamId> {
        let mut data = Vec::new();
        self.pipeline.write_stream_preamble(&mut data);
        let data = self.framed_local_push_pull(join, data)?;
        let deadline = now + self.cfg.tcp_timeout;
        Some(self.queue_stream(to, data, StreamKind::PushPull { join }, deadline, true))
    }

    /// One periodic push/pull with a random live peer.
    pub(crate) fn periodic_push_pull(&mut self, now: Instant) {
        let me = self.cfg.name.clone();
        let picked = self.members.random(1, &mut self.rng, |m| {
            m.name != me && m.state == State::Alive
        });
        let Some(&i) = picked.first() else {
            return;
        };
        if let Some(to) = self.members.at(i).socket_addr() {
            self.start_push_pull(to, false, now);
        }
    }

    /// Go's `mergeRemoteState`: protocol check, merge veto on joins, then each state, then
    /// the user state.
    pub(crate) fn merge_remote_state(
        &mut self,
        remote: PushPull,
        now: Instant,
    ) -> Result<(), MergeError> {
        let unchanged = self.unchanged_view(&remote.states);
        // A view equal to ours has the same versions as ours: if our table alone passes the
        // check (remembered until it changes), so does the pair.
        let generation = self.members.generation();
        if unchanged.is_none() || self.members.verified_at != Some(generation) {
            if unchanged.is_some() && self.verify_protocol(&[]).is_ok() {
                self.members.verified_at = Some(generation);
            } else {
                self.verify_protocol(&remote.states)?;
            }
        }
        if remote.join {
            let peers: Vec<Member> = remote
                .states
                .iter()
                .map(|s| Member {
                    name: s.name.clone(),
                    addr: s.addr,
                    port: s.port,
                    meta: s.meta.clone(),
                    incarnation: s.incarnation,
                    state: match s.state {
                        NodeState::Suspect => State::Suspect,
                        NodeState::Dead => State::Dead,
                        NodeState::Left => State::Left,
                        _ => State::Alive,
                    },
                    state_change: now,
                    vsn: s.vsn,
                })
                .collect();
            self.delegate
                .notify_merge(&peers)
                .map_err(MergeError::Vetoed)?;
        }
        let states: &[PushNodeState] = match unchanged {
            // The same view as ours: every entry but our own is news we already hold, which
            // `handle_alive` drops without a side effect; only our own entry is processed
            // (it may still call the delegate or make us refute).
            Some(me) => me.map(std::slice::from_ref).unwrap_or_default(),
            None if self.mutated(Mutation::IgnorePushPullStates) => &[],
            None => &remote.states,
        };
        for s in states {
            self.merge_one_state(s, now);
        }
        if !remote.user_state.is_empty() {
            self.delegate
                .merge_remote_state(remote.user_state, remote.join);
        }
        Ok(())
    }

    /// Merges one remote entry as Go's `mergeState` does: alive through `handle_alive`,
    /// left as dead, dead or suspect as a suspicion.
    pub(super) fn merge_one_state(&mut self, s: &PushNodeState, now: Instant) {
        let port = self.remote_port(s.port);
        match s.state {
            NodeState::Alive => {
                let a = Alive {
                    incarnation: s.incarnation,
                    node: s.name.clone(),
                    addr: s.addr,
                    port,
                    meta: s.meta.clone(),
                    vsn: s.vsn,
                };
                self.handle_alive(&a, AliveSource::Remote, now);
            }
            NodeState::Left => {
                let d = Dead {
                    incarnation: s.incarnation,
                    node: s.name.clone(),
                    from: s.name.clone(),
                };
                self.handle_dead(&d, now);
            }
            NodeState::Dead | NodeState::Suspect => {
                // A remote "dead" is only suspected here: we let our own probes decide.
                let sus = Suspect {
                    incarnation: s.incarnation,
                    node: s.name.clone(),
                    from: self.cfg.name.clone(),
                };
                self.handle_suspect(&sus, now);
            }
            NodeState::Unknown(v) => {
                debug!(node = %s.name, state = v, "ignoring a push/pull state of unknown kind");
            }
        }
    }

    /// Whether a remote push/pull holds exactly our view (by the tables' fingerprints, when
    /// every entry on both sides is alive with a non-zero port and valid versions, from
    /// protocol 2 on): then merging it changes nothing but for our own entry, returned.
    pub(super) fn unchanged_view<'a>(
        &mut self,
        remote: &'a [PushNodeState],
    ) -> Option<Option<&'a PushNodeState>> {
        if self.cfg.protocol_version < 2 || remote.len() != self.members.len() {
            return None;
        }
        let ours = self.members.digest();
        if !ours.plain {
            return None;
        }
        let key = self.members.view_key();
        let mut theirs = TableDigest::default();
        let mut me = None;
        let mut buf = Vec::with_capacity(128);
        for s in remote {
            if s.state != NodeState::Alive || s.port == 0 || !valid_vsn(&s.vsn) {
                return None;
            }
            if s.name == self.cfg.name {
                me = Some(s);
            }
            buf.clear();
            s.as_ref().encode(&mut buf);
            theirs.add(key.entry(&buf));
        }
        (theirs.sums == ours.sums).then_some(me)
    }

    /// Go's `verifyProtocol`: every node, ours and theirs, must speak a protocol and delegate
    /// version inside the range every alive node understands.
    ///
    /// One pass gathers the range and the extremes of the current versions; only when one
    /// falls outside does a second pass name the first node at fault, as Go's does.
    pub(crate) fn verify_protocol(&self, remote: &[PushNodeState]) -> Result<(), MergeError> {
        let mut seen = VersionSpan::default();
        for s in remote {
            if s.state == NodeState::Alive {
                seen.widen(&s.vsn);
            }
            seen.current(remote_current(s));
        }
        for m in self.members.iter() {
            if m.state == State::Alive {
                seen.widen(&m.vsn);
            }
            seen.current(local_current(m));
        }
        if seen.all_inside() {
            return Ok(());
        }
        for s in remote {
            seen.check(&s.name, remote_current(s))?;
        }
        for m in self.members.iter() {
            seen.check(&m.name, local_current(m))?;
        }
        Ok(())
    }

    /// A push/pull arrived on a stream we accepted: answer with our state first, then merge.
    pub(crate) fn accept_push_pull(&mut self, remote: PushPull, now: Instant) -> Option<Bytes> {
        let frame = self.framed_local_push_pull(remote.join, Vec::new());
        if let Err(e) = self.merge_remote_state(remote, now) {
            warn!(error = %e, "push/pull merge failed");
        }
        frame
    }
}

/// `handle_alive`'s sanity check of a version range: when present, pmin and pmax are
/// non-zero and ordered.
pub(crate) fn valid_vsn(v: &crate::wire::Vsn) -> bool {
    if v.len() < 3 {
        return true;
    }
    let (pmin, pmax) = (v.protocol_min(), v.protocol_max());
    !(pmin == Some(0) || pmax == Some(0) || pmin > pmax)
}

/// A remote state's current (protocol, delegate) versions: zero unless its `Vsn` is complete.
fn remote_current(s: &PushNodeState) -> (u8, u8) {
    if s.vsn.is_complete() {
        (
            s.vsn.protocol_current().unwrap_or(0),
            s.vsn.delegate_current().unwrap_or(0),
        )
    } else {
        (0, 0)
    }
}

/// One of our members' current (protocol, delegate) versions.
fn local_current(m: &Row) -> (u8, u8) {
    (
        m.vsn.protocol_current().unwrap_or(0),
        m.vsn.delegate_current().unwrap_or(0),
    )
}

/// What `verifyProtocol` gathers: the range every alive node understands, and the lowest and
/// highest current versions spoken.
#[derive(Debug, Clone, Copy)]
struct VersionSpan {
    max_pmin: u8,
    min_pmax: u8,
    max_dmin: u8,
    min_dmax: u8,
    p_lo: u8,
    p_hi: u8,
    d_lo: u8,
    d_hi: u8,
}

impl Default for VersionSpan {
    fn default() -> Self {
        Self {
            max_pmin: 0,
            min_pmax: u8::MAX,
            max_dmin: 0,
            min_dmax: u8::MAX,
            p_lo: u8::MAX,
            p_hi: 0,
            d_lo: u8::MAX,
            d_hi: 0,
        }
    }
}

impl VersionSpan {
    fn widen(&mut self, v: &crate::wire::Vsn) {
        let b = v.as_bytes();
        if b.len() < 5 {
            return;
        }
        self.max_pmin = self.max_pmin.max(b[0]);
        self.min_pmax = self.min_pmax.min(b[1]);
        self.max_dmin = self.max_dmin.max(b[3]);
        self.min_dmax = self.min_dmax.min(b[4]);
    }

    fn current(&mut self, (p, d): (u8, u8)) {
        self.p_lo = self.p_lo.min(p);
        self.p_hi = self.p_hi.max(p);
        self.d_lo = self.d_lo.min(d);
        self.d_hi = self.d_hi.max(d);
    }

    /// Whether every current version seen lies inside the range (true when none was seen).
    fn all_inside(&self) -> bool {
        let none = self.p_lo > self.p_hi;
        none || (self.p_lo >= self.max_pmin
            && self.p_hi <= self.min_pmax
            && self.d_lo >= self.max_dmin
            && self.d_hi <= self.min_dmax)
    }

    fn check(&self, name: &SmolStr, (pcur, dcur): (u8, u8)) -> Result<(), MergeError> {
        let (p, d) = (VersionKind::Protocol, VersionKind::Delegate);
        for (kind, version, min, max) in [
            (p, pcur, self.max_pmin, self.min_pmax),
            (d, dcur, self.max_dmin, self.min_dmax),
        ] {
            if version < min || version > max {
                let node = name.clone();
                return Err(MergeError::Version {
                    node,
                    kind,
                    version,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
impl<D: Delegate> Machine<D> {
    /// Appends our push/pull message with the delegate's state.
    pub(crate) fn write_local_push_pull(&mut self, join: bool, out: &mut Vec<u8>) {
        let user_state = self.delegate.local_state(join);
        self.write_push_pull_with(join, &user_state, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::delegate::NoopDelegate;
    use crate::machine::ProtocolConfig;
    use crate::wire::{IpBytes, Pipeline, Vsn};

    fn machine() -> Machine<NoopDelegate> {
        let addr: SocketAddr = "127.0.0.1:7946".parse().unwrap();
        let cfg = ProtocolConfig::lan("a");
        Machine::new(cfg, Pipeline::new(), addr, NoopDelegate, 1, Instant::now()).unwrap()
    }

    fn state(name: &str, vsn: Vsn, state: NodeState) -> PushNodeState {
        PushNodeState {
            name: name.into(),
            addr: IpBytes::from([127, 0, 0, 2]),
            port: 7946,
            meta: Default::default(),
            incarnation: 1,
            state,
            vsn,
        }
    }

    /// Our view as a peer would send it, from our own table.
    fn our_view(m: &Machine<NoopDelegate>) -> Vec<PushNodeState> {
        m.members
            .iter()
            .map(|x| x.as_push_state().to_owned_state())
            .collect()
    }

    #[test]
    fn an_equal_view_is_recognized_and_any_difference_is_not() {
        let mut m = machine();
        let now = Instant::now();
        for (i, name) in ["b", "c", "d"].into_iter().enumerate() {
            let a = Alive {
                incarnation: 1,
                node: name.into(),
                addr: IpBytes::from([127, 0, 0, 2 + i as u8]),
                port: 7946,
                meta: Default::default(),
                vsn: Vsn::default_advertised(),
            };
            assert!(m.handle_alive(&a, AliveSource::Remote, now));
        }
        let mut view = our_view(&m);
        view.reverse();
        let me = m.unchanged_view(&view).expect("same view");
        assert_eq!(me.map(|s| s.name.as_str()), Some("a"));
        let mut newer = view.clone();
        newer[1].incarnation += 1;
        assert!(m.unchanged_view(&newer).is_none());
        let mut moved = view.clone();
        moved[1].port += 1;
        assert!(m.unchanged_view(&moved).is_none());
        let mut meta = view.clone();
        meta[1].meta = "x".into();
        assert!(m.unchanged_view(&meta).is_none());
        let mut suspect = view.clone();
        suspect[1].state = NodeState::Suspect;
        assert!(m.unchanged_view(&suspect).is_none());
        assert!(m.unchanged_view(&view[1..]).is_none());
        // A change to the table is seen: the fingerprint is recomputed.
        let s = Suspect {
            incarnation: 1,
            node: "c".into(),
            from: "b".into(),
        };
        assert!(m.handle_suspect(&s, now));
        assert!(m.unchanged_view(&view).is_none());
        // Merging an equal view changes nothing and keeps the table as it was.
        let mut m = machine();
        let view = our_view(&m);
        let before = m.members.generation();
        let pp = PushPull {
            join: false,
            states: view,
            user_state: Default::default(),
        };
        assert!(m.merge_remote_state(pp, now).is_ok());
        assert_eq!(m.members.generation(), before);
    }

    #[test]
    fn version_check_names_the_first_node_outside_the_range() {
        let m = machine();
        let ok = state("b", Vsn::default_advertised(), NodeState::Alive);
        assert!(m.verify_protocol(std::slice::from_ref(&ok)).is_ok());
        // A live node that needs protocol >= 3 excludes our version 2 (and b's).
        let picky = state("c", Vsn::new(3, 5, 4, 0, 0, 0), NodeState::Alive);
        let err = m
            .verify_protocol(&[ok.clone(), picky.clone()])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("node \"b\" uses protocol version 2"),
            "{err}"
        );
        // A dead node's range does not count, but its current version still must fit.
        let dead = state("d", Vsn::new(1, 1, 1, 0, 0, 0), NodeState::Dead);
        assert!(m.verify_protocol(&[ok.clone(), dead.clone()]).is_ok());
        let old = state("e", Vsn::new(1, 2, 1, 0, 0, 0), NodeState::Alive);
        let newer = state("f", Vsn::new(2, 5, 2, 0, 2, 1), NodeState::Alive);
        let err = m.verify_protocol(&[old, newer]).unwrap_err().to_string();
        assert!(
            err.starts_with("node \"e\" uses protocol version 1"),
            "{err}"
        );
        let delegate = state("g", Vsn::new(1, 5, 2, 1, 1, 1), NodeState::Alive);
        let err = m.verify_protocol(&[delegate]).unwrap_err();
        assert!(matches!(
            &err,
            MergeError::Version { node, kind: VersionKind::Delegate, version: 1, .. } if node == "g"
        ));
        let err = err.to_string();
        assert!(
            err.starts_with("node \"g\" uses delegate protocol version 1"),
            "{err}"
        );
    }
}
