//! Push/pull anti-entropy and joins: our full state out, the peer's state merged in.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, warn};

use crate::delegate::Delegate;
use crate::wire::{
    Alive, Dead, NodeState, PushNodeState, PushNodeStateRef, PushPull, Suspect, encode_push_pull,
};

use super::Machine;
use super::members::{Member, State};
use super::output::{StreamId, StreamKind};
use super::state::AliveSource;

impl<D: Delegate> Machine<D> {
    /// Appends our push/pull message: every node we know (ourselves, suspects, not-yet-reaped
    /// dead and left nodes) and the delegate's state. Written straight from the table.
    pub(crate) fn write_local_push_pull(&mut self, join: bool, out: &mut Vec<u8>) {
        let user_state = self.delegate.local_state(join);
        let states = self.members.iter().map(|m| PushNodeStateRef {
            name: &m.name,
            addr: m.addr,
            port: m.port,
            meta: &m.meta,
            incarnation: m.incarnation,
            state: m.state.to_wire(),
            vsn: m.vsn,
        });
        encode_push_pull(join, states, &user_state, out);
    }

    /// Our push/pull message framed for a stream (after `prefix`, e.g. the label preamble):
    /// written in place when the pipeline neither compresses nor encrypts.
    fn framed_local_push_pull(&mut self, join: bool, mut out: Vec<u8>) -> Option<Vec<u8>> {
        if self.pipeline.stream_is_plain() {
            self.write_local_push_pull(join, &mut out);
            return Some(out);
        }
        let mut msg = Vec::new();
        self.write_local_push_pull(join, &mut msg);
        match self.pipeline.encode_stream(&msg, &mut out) {
            Ok(()) => Some(out),
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
    ) -> Result<(), String> {
        self.verify_protocol(&remote.states)?;
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
                .map_err(|e| format!("merge canceled: {e}"))?;
        }
        for s in &remote.states {
            let port = if s.port == 0 || self.cfg.protocol_version < 2 {
                self.advertise_port
            } else {
                s.port
            };
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
        if !remote.user_state.is_empty() {
            self.delegate
                .merge_remote_state(remote.user_state, remote.join);
        }
        Ok(())
    }

    /// Go's `verifyProtocol`: every node, ours and theirs, must speak a protocol and delegate
    /// version inside the range every alive node understands.
    pub(crate) fn verify_protocol(&self, remote: &[PushNodeState]) -> Result<(), String> {
        let (mut maxpmin, mut minpmax, mut maxdmin, mut mindmax) = (0u8, u8::MAX, 0u8, u8::MAX);
        let mut widen = |v: &crate::wire::Vsn| {
            let b = v.as_bytes();
            if b.len() < 5 {
                return;
            }
            maxpmin = maxpmin.max(b[0]);
            minpmax = minpmax.min(b[1]);
            maxdmin = maxdmin.max(b[3]);
            mindmax = mindmax.min(b[4]);
        };
        for s in remote.iter().filter(|s| s.state == NodeState::Alive) {
            widen(&s.vsn);
        }
        for m in self.members.iter().filter(|m| m.state == State::Alive) {
            widen(&m.vsn);
        }
        let check = |name: &str, pcur: u8, dcur: u8| {
            if pcur < maxpmin || pcur > minpmax {
                return Err(format!(
                    "node {name:?} uses protocol version {pcur}, outside the cluster's range [{maxpmin}, {minpmax}]"
                ));
            }
            if dcur < maxdmin || dcur > mindmax {
                return Err(format!(
                    "node {name:?} uses delegate protocol version {dcur}, outside the cluster's range [{maxdmin}, {mindmax}]"
                ));
            }
            Ok(())
        };
        for s in remote {
            let (pcur, dcur) = if s.vsn.is_complete() {
                (
                    s.vsn.protocol_current().unwrap_or(0),
                    s.vsn.delegate_current().unwrap_or(0),
                )
            } else {
                (0, 0)
            };
            check(&s.name, pcur, dcur)?;
        }
        for m in self.members.iter() {
            check(
                &m.name,
                m.vsn.protocol_current().unwrap_or(0),
                m.vsn.delegate_current().unwrap_or(0),
            )?;
        }
        Ok(())
    }

    /// A push/pull arrived on a stream we accepted: answer with our state first, then merge.
    pub(crate) fn accept_push_pull(&mut self, remote: PushPull, now: Instant) -> Option<Vec<u8>> {
        let frame = self.framed_local_push_pull(remote.join, Vec::new());
        if let Err(e) = self.merge_remote_state(remote, now) {
            warn!(error = %e, "push/pull merge failed");
        }
        frame
    }
}
