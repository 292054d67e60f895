//! The sans-I/O protocol machine: SWIM with the Lifeguard extensions, timed and ordered as Go
//! memberlist does.
//!
//! A [`Machine`] is fed inputs that carry the current time — datagrams
//! ([`handle_datagram`](Machine::handle_datagram)), accepted streams
//! ([`handle_stream`](Machine::handle_stream)), outcomes of the streams it asked for
//! ([`handle_stream_reply`](Machine::handle_stream_reply)), timer expiry
//! ([`handle_timeout`](Machine::handle_timeout)) and API calls — and the driver drains its
//! outputs: datagrams ([`poll_transmit`](Machine::poll_transmit)), stream work
//! ([`poll_stream_request`](Machine::poll_stream_request)), events
//! ([`poll_event`](Machine::poll_event)) and the next deadline
//! ([`poll_timeout`](Machine::poll_timeout)). Randomness comes from a seeded generator, so a
//! run replays exactly from its seed.

mod api;
pub mod awareness;
pub mod broadcast;
mod config;
mod error;
mod fingerprint;
mod gossip;
mod input;
mod interned;
mod ip_name;
mod join_sync;
mod leave;
mod member;
mod members;
mod mutation;
mod output;
mod probe;
mod push_pull;
mod reconnect;
mod restore;
mod row;
mod same_view;
#[cfg(feature = "serde")]
mod serde_state;
mod state;
mod stats;
mod streams;
pub mod suspicion;
pub mod timing;
mod view_bytes;
mod view_interner;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use smol_str::SmolStr;
use tracing::{debug, warn};

use crate::delegate::Delegate;
use crate::metrics::{Counter, DropReason, Metrics, NoopMetrics};
use crate::wire::{Alive, IpBytes, Message, MessageType, Pipeline};

pub use config::{ConfigError, DEFAULT_MAX_INCARNATION_JUMP, ProtocolConfig};
pub use error::{MergeError, PushPullError, StreamError, StreamPhase, VersionKind, Veto};
pub use members::{Member, MemberChanges, State};
pub use mutation::Mutation;
pub use output::{Event, StreamId, StreamKind, StreamOutcome, StreamRequest, Transmit};
pub use row::MemberIdentity;
pub use stats::Stats;
pub use view_interner::ViewInterner;

use awareness::Awareness;
use broadcast::{BroadcastKey, TransmitLimitedQueue};
use probe::{AckHandler, ProbeRound};
use state::AliveSource;
use suspicion::Suspicion;
use timing::push_pull_scale;

/// Largest metadata a node may announce (Go's `MetaMaxSize`).
pub const META_MAX_SIZE: usize = 512;

/// Errors of API calls on the machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MachineError {
    /// No member has this name.
    #[error("unknown node {0:?}")]
    UnknownNode(SmolStr),
    /// The member's address cannot be used.
    #[error("node {0:?} has no usable address")]
    NoAddress(SmolStr),
}

/// The protocol machine of one node.
pub struct Machine<D: Delegate> {
    cfg: ProtocolConfig,
    pipeline: Pipeline,
    delegate: D,
    rng: SmallRng,
    advertise_addr: IpBytes,
    advertise_port: u16,
    incarnation: u32,
    leaving: bool,
    leave_notify: Option<u64>,
    members: members::Members,
    awareness: Awareness,
    /// Ordered maps: when several timers expire at one instant they are handled in
    /// (deadline, key) order, the same in every process, so a run replays from its seed.
    suspicions: BTreeMap<SmolStr, Suspicion>,
    broadcasts: TransmitLimitedQueue,
    seq_no: u32,
    probe: Option<ProbeRound>,
    acks: BTreeMap<u32, AckHandler>,
    next_probe: Instant,
    probe_tick_pending: bool,
    next_gossip: Option<Instant>,
    next_push_pull: Option<Instant>,
    join_follow_ups: Option<join_sync::FollowUps>,
    failed: reconnect::Failed,
    next_stream_id: u64,
    next_notify_id: u64,
    streams: BTreeMap<StreamId, StreamKind>,
    transmits: VecDeque<Transmit>,
    stream_requests: VecDeque<StreamRequest>,
    events: VecDeque<Event>,
    metrics: Arc<dyn Metrics>,
    #[cfg(feature = "mutations")]
    mutation: Mutation,
}

impl<D: Delegate> std::fmt::Debug for Machine<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("name", &self.cfg.name)
            .field("incarnation", &self.incarnation)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

impl<D: Delegate> Machine<D> {
    /// Creates the machine for a node advertising `advertise`, announces it (incarnation 1)
    /// and schedules the probe, gossip and push/pull loops with a random stagger.
    pub fn new(
        cfg: ProtocolConfig,
        pipeline: Pipeline,
        advertise: SocketAddr,
        delegate: D,
        seed: u64,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        Self::with_advertise_bytes(
            cfg,
            pipeline,
            IpBytes::from(advertise.ip()),
            advertise.port(),
            delegate,
            seed,
            now,
        )
    }

    /// Like [`new`](Self::new), with the advertised IP in an explicit byte form (Go nodes
    /// bound to 0.0.0.0 advertise IPv4 as 16 bytes).
    pub fn with_advertise_bytes(
        cfg: ProtocolConfig,
        pipeline: Pipeline,
        addr: IpBytes,
        port: u16,
        delegate: D,
        seed: u64,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let mut rng = SmallRng::seed_from_u64(seed);
        let stagger = |rng: &mut SmallRng, d: Duration| {
            if d.is_zero() {
                Duration::ZERO
            } else {
                d.mul_f64(rng.random::<f64>())
            }
        };
        let next_probe = now + stagger(&mut rng, cfg.probe_interval);
        let next_gossip = (!cfg.gossip_interval.is_zero() && cfg.gossip_nodes > 0)
            .then(|| now + stagger(&mut rng, cfg.gossip_interval));
        let next_push_pull = (!cfg.push_pull_interval.is_zero())
            .then(|| now + stagger(&mut rng, cfg.push_pull_interval));
        let failed = reconnect::Failed::new(&cfg, now);
        let mut machine = Self {
            awareness: Awareness::new(cfg.awareness_max_multiplier),
            broadcasts: TransmitLimitedQueue::new(cfg.retransmit_mult),
            cfg,
            pipeline,
            delegate,
            rng,
            advertise_addr: addr,
            advertise_port: port,
            incarnation: 0,
            leaving: false,
            leave_notify: None,
            members: members::Members::new(now),
            suspicions: BTreeMap::new(),
            seq_no: 0,
            probe: None,
            acks: BTreeMap::new(),
            next_probe,
            probe_tick_pending: false,
            next_gossip,
            next_push_pull,
            join_follow_ups: None,
            failed,
            next_stream_id: 0,
            next_notify_id: 0,
            streams: BTreeMap::new(),
            transmits: VecDeque::new(),
            stream_requests: VecDeque::new(),
            events: VecDeque::new(),
            metrics: Arc::new(NoopMetrics),
            #[cfg(feature = "mutations")]
            mutation: Mutation::None,
        };
        let alive = machine.self_alive();
        machine.handle_alive(&alive, AliveSource::Bootstrap, now);
        Ok(machine)
    }

    /// A fresh alive message about ourselves with the next incarnation and current metadata.
    fn self_alive(&mut self) -> Alive {
        let mut meta = self.delegate.node_meta(META_MAX_SIZE);
        if meta.len() > META_MAX_SIZE {
            warn!(
                len = meta.len(),
                "node metadata exceeds 512 bytes; truncating"
            );
            meta.truncate(META_MAX_SIZE);
        }
        Alive {
            incarnation: self.next_incarnation(),
            node: self.cfg.name.clone(),
            addr: self.advertise_addr,
            port: self.advertise_port,
            meta,
            vsn: self.cfg.vsn(),
        }
    }

    // ---- Inputs ----

    /// Reports every counter, gauge and timing of the machine to `metrics` (the machine keeps
    /// none of its own; see [`Stats::from_metrics`]).
    pub fn set_metrics(&mut self, metrics: Arc<dyn Metrics>) {
        self.metrics = metrics;
    }

    /// A datagram arrived from `from`. One larger than
    /// [`Limits::max_datagram_size`](crate::wire::Limits::max_datagram_size) is dropped
    /// unread (and counted).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.begin_input(now);
        self.datagram(now, from, data);
        self.end_input();
    }

    fn datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.metrics.increment(Counter::UdpReceivedPackets, 1);
        self.metrics
            .increment(Counter::UdpReceivedBytes, data.len() as u64);
        let max = self.pipeline.limits().max_datagram_size;
        if data.len() > max {
            let limit = Some(crate::wire::Limit::DatagramSize);
            crate::metrics::count_drop(&*self.metrics, DropReason::Limit, limit, false);
            debug!(%from, len = data.len(), max, "dropping an oversized datagram");
            return;
        }
        // Fresh vectors for each packet rather than ones kept per machine: the allocator
        // hands back memory just freed, still in the cache, where a driver of many machines
        // would find a kept buffer cold.
        let mut decoded = match self.pipeline.decode_packet(data) {
            Ok(decoded) => decoded,
            Err(e) => {
                crate::metrics::count_wire_drop(&*self.metrics, &e, false);
                debug!(%from, error = %e, "dropping packet");
                return;
            }
        };
        for e in decoded.errors.drain(..) {
            crate::metrics::count_wire_drop(&*self.metrics, &e, false);
            debug!(%from, error = %e, "dropping message");
        }
        for msg in decoded.messages.drain(..) {
            self.handle_message(msg, from, now);
        }
    }

    fn handle_message(&mut self, msg: Message, from: SocketAddr, now: Instant) {
        match msg {
            Message::Ping(p) => self.handle_ping(&p, from),
            Message::IndirectPing(p) => self.handle_indirect_ping(&p, from, now),
            Message::Ack(a) => self.handle_ack(a, now),
            Message::Nack(n) => self.handle_nack(n),
            Message::Suspect(s) => {
                self.correct_stale(&s.node, s.incarnation, from);
                self.handle_suspect(&s, now);
            }
            Message::Alive(mut a) => {
                if !self.cfg.ip_allowed(from.ip()) {
                    let cidr = Counter::PacketsDropped(DropReason::Cidr);
                    self.metrics.increment(cidr, 1);
                    debug!(%from, "dropping an alive message from outside the CIDR allow list");
                    return;
                }
                a.port = self.remote_port(a.port);
                self.handle_alive(&a, AliveSource::Remote, now);
            }
            Message::Dead(d) => {
                self.correct_stale(&d.node, d.incarnation, from);
                self.handle_dead(&d, now);
            }
            Message::User(payload) => self.delegate.notify_message(payload),
        }
    }

    /// Timers: call when [`poll_timeout`](Self::poll_timeout)'s instant has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Before anything this step queues: a tick that passed idle stays skipped.
        self.begin_input(now);
        self.timers(now);
        self.end_input();
    }

    fn timers(&mut self, now: Instant) {
        self.expire_ack_handlers(now);
        for name in expired(&self.suspicions, now, Suspicion::deadline) {
            self.suspicion_expired(&name, now);
        }
        self.drive_probe(now);
        if now >= self.next_probe {
            let tick = self.next_probe;
            while self.next_probe <= now {
                self.next_probe += self.cfg.probe_interval;
            }
            self.reconnect_tick(tick, now);
            self.probe_tick_pending = true;
        }
        self.start_pending_probe(now);
        self.gossip_tick(now);
        if let Some(at) = self.next_push_pull
            && now >= at
        {
            self.next_push_pull =
                Some(now + push_pull_scale(self.cfg.push_pull_interval, self.members.len()));
            self.periodic_push_pull(now);
        }
        self.run_join_follow_up(now);
    }

    // ---- Outputs ----

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        pop_shrinking(&mut self.transmits)
    }

    /// The next stream to open.
    pub fn poll_stream_request(&mut self) -> Option<StreamRequest> {
        pop_shrinking(&mut self.stream_requests)
    }

    /// The next membership event.
    pub fn poll_event(&mut self) -> Option<Event> {
        pop_shrinking(&mut self.events)
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Instant {
        [
            self.probe_deadline(),
            self.gossip_deadline(),
            self.next_push_pull,
            self.join_follow_up_deadline(),
            self.suspicions.values().map(Suspicion::deadline).min(),
            self.acks.values().map(AckHandler::deadline).min(),
        ]
        .into_iter()
        .flatten()
        .fold(self.next_probe, Instant::min)
    }

    // ---- Helpers ----

    fn member_address(&self, node: &str) -> Result<(SocketAddr, u8), MachineError> {
        let m = self
            .members
            .get(node)
            .ok_or_else(|| MachineError::UnknownNode(SmolStr::new(node)))?;
        let to = m
            .socket_addr()
            .ok_or_else(|| MachineError::NoAddress(m.name.clone()))?;
        Ok((to, m.protocol_max()))
    }

    /// A port a peer sent, as Go takes it: ours when it is 0 or we speak protocol 1.
    fn remote_port(&self, port: u16) -> u16 {
        if port == 0 || self.cfg.protocol_version < 2 {
            self.advertise_port
        } else {
            port
        }
    }

    fn any_other_alive(&self) -> bool {
        self.members
            .iter()
            .any(|m| m.name != self.cfg.name && m.state == State::Alive)
    }

    fn notify_id(&mut self) -> u64 {
        self.next_notify_id += 1;
        self.next_notify_id
    }

    pub(crate) fn queue_node_broadcast(&mut self, node: &SmolStr, msg: Bytes, notify: Option<u64>) {
        self.broadcasts
            .queue(BroadcastKey::node(node.clone()), msg, notify);
    }

    pub(crate) fn collect_finished_broadcasts(&mut self) {
        if self.broadcasts.has_finished() {
            let finished: Vec<u64> = self.broadcasts.drain_finished().collect();
            self.events
                .extend(finished.into_iter().map(Event::BroadcastFinished));
        }
    }

    /// `msg` framed for a stream, after the label preamble a dialer sends if `preamble`.
    fn frame_stream(&self, preamble: bool, msg: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(msg.len() + 64);
        if preamble {
            self.pipeline.write_stream_preamble(&mut out);
        }
        match self.pipeline.encode_stream(msg, &mut out) {
            Ok(()) => Some(out),
            Err(e) => {
                warn!(error = %e, "cannot frame a stream message");
                None
            }
        }
    }

    /// Queues stream work: label preamble plus the framed message.
    pub(crate) fn open_stream(
        &mut self,
        to: SocketAddr,
        msg: &[u8],
        kind: StreamKind,
        deadline: Instant,
        expects_reply: bool,
    ) -> Option<StreamId> {
        let data = self.frame_stream(true, msg)?;
        Some(self.queue_stream(to, data.into(), kind, deadline, expects_reply))
    }

    /// Queues stream work whose bytes (preamble and frame) are ready.
    pub(crate) fn queue_stream(
        &mut self,
        to: SocketAddr,
        data: Bytes,
        kind: StreamKind,
        deadline: Instant,
        expects_reply: bool,
    ) -> StreamId {
        self.next_stream_id += 1;
        let id = StreamId(self.next_stream_id);
        self.streams.insert(id, kind);
        self.stream_requests.push_back(StreamRequest {
            id,
            to,
            data,
            kind,
            deadline,
            expects_reply,
        });
        id
    }
}

/// The keys of the timers in `map` due at `now`, earliest deadline first, as Go's timers
/// fire; ties in key order (the map's).
fn expired<K: Clone, V>(
    map: &BTreeMap<K, V>,
    now: Instant,
    deadline: impl Fn(&V) -> Instant,
) -> Vec<K> {
    let mut due: Vec<(Instant, K)> = map
        .iter()
        .filter(|(_, v)| deadline(v) <= now)
        .map(|(k, v)| (deadline(v), k.clone()))
        .collect();
    due.sort_by_key(|(at, _)| *at);
    due.into_iter().map(|(_, k)| k).collect()
}

/// Pops the front of an output queue and, once it is drained, gives its memory back:
/// thousands of idle machines must not each keep a burst's capacity.
fn pop_shrinking<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let item = queue.pop_front();
    if item.is_none() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
    item
}

/// A packet user message: the `08` type byte followed by the raw payload.
pub(crate) fn user_message(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + msg.len());
    out.push(MessageType::User.byte());
    out.extend_from_slice(msg);
    out
}
