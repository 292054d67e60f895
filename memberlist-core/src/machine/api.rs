//! The machine's API calls (each an input that takes `now`) and its queries.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use smol_str::SmolStr;

use crate::delegate::Delegate;
use crate::wire::{Pipeline, encode_stream_user_message};

use super::broadcast::BroadcastKey;
use super::state::AliveSource;
use super::{
    Event, Machine, MachineError, Member, MemberChanges, ProtocolConfig, StreamId, StreamKind,
    user_message,
};

impl<D: Delegate> Machine<D> {
    /// Starts a join: a push/pull (join=true) with each address. Each produces an
    /// [`Event::JoinResult`] with the returned id.
    pub fn join(
        &mut self,
        now: Instant,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Vec<StreamId> {
        self.begin_input(now);
        let ids = addrs
            .into_iter()
            .filter_map(|to| self.start_push_pull(to, true, now))
            .collect();
        self.end_input();
        ids
    }

    /// Re-announces ourselves with a new incarnation and the delegate's current metadata.
    /// Returns the id of the [`Event::BroadcastFinished`] to wait for.
    pub fn update_meta(&mut self, now: Instant) -> u64 {
        self.begin_input(now);
        let id = self.notify_id();
        let alive = self.self_alive();
        self.handle_alive(&alive, AliveSource::Bootstrap, now);
        let msg = crate::wire::WireMessage::to_bytes(&alive);
        self.broadcasts
            .queue(BroadcastKey::node(self.cfg.name.clone()), msg, Some(id));
        if !self.any_other_alive() {
            self.events.push_back(Event::BroadcastFinished(id));
        }
        self.end_input();
        id
    }

    /// Sends a user message to a member over UDP (no piggyback), as Go's `SendBestEffort`.
    pub fn send_best_effort(
        &mut self,
        now: Instant,
        node: &str,
        msg: &[u8],
    ) -> Result<(), MachineError> {
        self.begin_input(now);
        let sent = self
            .member_address(node)
            .map(|(to, pmax)| self.send_packet(to, pmax, &user_message(msg)));
        self.end_input();
        sent
    }

    /// Sends a user message to an address over UDP, as Go's `SendToAddress` (whose CRC
    /// depends on a member being named after the address's IP).
    pub fn send_to_address(&mut self, now: Instant, to: SocketAddr, msg: &[u8]) {
        self.begin_input(now);
        let pmax = self.pmax_by_address_name(to);
        self.send_packet(to, pmax, &user_message(msg));
        self.end_input();
    }

    /// Sends a user message to a member over a stream, as Go's `SendReliable`.
    pub fn send_reliable(
        &mut self,
        now: Instant,
        node: &str,
        msg: &[u8],
    ) -> Result<StreamId, MachineError> {
        self.begin_input(now);
        let id = self.member_address(node).and_then(|(to, _)| {
            let mut body = Vec::with_capacity(msg.len() + 16);
            encode_stream_user_message(msg, &mut body);
            let deadline = now + self.cfg.tcp_timeout;
            self.open_stream(to, &body, StreamKind::User, deadline, false)
                .ok_or(MachineError::NoAddress(SmolStr::new(node)))
        });
        self.end_input();
        id
    }

    /// Pings `node` at `to` once; the result arrives as [`Event::PingResult`] with the
    /// returned sequence number.
    pub fn ping(&mut self, now: Instant, node: &str, to: SocketAddr) -> u32 {
        self.begin_input(now);
        let seq = self.user_ping(SmolStr::new(node), to, now);
        self.end_input();
        seq
    }

    /// Queues a user broadcast, gossiped like memberlist's own messages from the next tick
    /// on; it replaces a queued one with the same key. With `notify`, an
    /// [`Event::BroadcastFinished`] reports when it was sent enough times or replaced.
    pub fn queue_broadcast(
        &mut self,
        now: Instant,
        key: BroadcastKey,
        msg: Bytes,
        notify: Option<u64>,
    ) {
        self.begin_input(now);
        self.broadcasts
            .queue(key, Bytes::from(user_message(&msg)), notify);
        self.end_input();
    }

    /// Every known node that is not dead or left (suspects included), like Go's `Members`.
    /// Each is built from the table's compact entry as it is yielded.
    pub fn members(&self) -> impl Iterator<Item = Member> + '_ {
        self.members
            .iter()
            .filter(|m| !m.state.is_gone())
            .map(|m| self.members.member(m))
    }

    /// Every entry of the table, dead and left nodes included.
    pub fn all_members(&self) -> impl Iterator<Item = Member> + '_ {
        self.members.iter().map(|m| self.members.member(m))
    }

    /// A member by name.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.members.get(name).map(|m| self.members.member(m))
    }

    /// Number of members that are not dead or left.
    pub fn num_members(&self) -> usize {
        self.members.iter().filter(|m| !m.state.is_gone()).count()
    }

    /// Starts recording which members change, for [`take_member_changes`](Self::take_member_changes).
    /// Off by default: a driver that reads the whole table when it needs it has no use for it.
    pub fn track_member_changes(&mut self) {
        self.members.track_changes();
    }

    /// The members inserted, changed or removed since the last call (everything on the
    /// first), or `None` when not tracked.
    pub fn take_member_changes(&mut self) -> Option<MemberChanges> {
        self.members.take_changes()
    }

    /// Ourselves.
    pub fn local_member(&self) -> Option<Member> {
        self.member(&self.cfg.name)
    }

    /// The Lifeguard awareness score (0 is healthy).
    pub fn health_score(&self) -> u32 {
        self.awareness.score()
    }

    /// The settings.
    pub fn config(&self) -> &ProtocolConfig {
        &self.cfg
    }

    /// The wire pipeline (label, codecs, encryption).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The delegate.
    pub fn delegate(&self) -> &D {
        &self.delegate
    }

    /// Runs `f` on the delegate at `now`, as an input like any other (what `f` queues leaves
    /// on the next gossip tick).
    pub fn with_delegate<R>(&mut self, now: Instant, f: impl FnOnce(&mut D) -> R) -> R {
        self.begin_input(now);
        let r = f(&mut self.delegate);
        self.end_input();
        r
    }

    /// Broadcasts waiting to be gossiped.
    pub fn queued_broadcasts(&self) -> usize {
        self.broadcasts.num_queued()
    }
}
