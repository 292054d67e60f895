//! The discrete-event engine: machines on a virtual clock, one global queue of packet
//! deliveries and node wake-ups.
//!
//! Each node's next [`poll_timeout`](Machine::poll_timeout) lives in the queue as a wake-up
//! tagged with the node's generation counter; every input to a node re-reads its deadline
//! and, when it moved, pushes a new wake-up with a bumped generation so the old one is
//! skipped when popped (lazy invalidation). Nothing scans all nodes per step.
//!
//! Streams run synchronously at the instant they are requested: the acceptor decodes the
//! request with a [`StreamDecoder`](memberlist_core::wire::StreamDecoder), answers through
//! [`handle_stream`](Machine::handle_stream), and the dialer decodes the reply and gets
//! [`handle_stream_reply`](Machine::handle_stream_reply). Streams are not lost; partitions,
//! crashes and cut links refuse them; a slow member answers past the deadline, so its streams
//! fail. Output handling lives in [`outputs`]; faults and API calls in the private `control`
//! module; the event queue in the private `queue` module.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use memberlist_core::delegate::Delegate;
use memberlist_core::machine::{Event, Machine, ProtocolConfig, Stats, ViewInterner};
use memberlist_core::metrics::{InMemoryMetrics, Metrics};
use memberlist_core::wire::Pipeline;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use smol_str::SmolStr;

use crate::invariants::Checker;
use crate::net::{NetConfig, Network};
use crate::trace::Trace;
use queue::EventQueue;
use view_pool::ViewPool;

mod control;
pub mod outputs;
mod queue;
mod view_pool;

/// Clusters up to this size get full invariant checks unless told otherwise.
pub const FULL_CHECK_LIMIT: usize = 256;

/// How a simulation is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Seed of the network and of every machine.
    pub seed: u64,
    /// Link model.
    pub net: NetConfig,
    /// Protocol settings of every node (the name is replaced per node).
    pub protocol: ProtocolConfig,
    /// Adjusts node i's copy of `protocol`, already named [`node_name(i)`](node_name), to
    /// give some nodes other settings or another name; does nothing by default.
    pub per_node: fn(usize, &mut ProtocolConfig),
    /// Full invariant scans; `None` enables them up to [`FULL_CHECK_LIMIT`] nodes.
    pub full_checks: Option<bool>,
    /// Keep every event the machines emit, for [`Sim::events`]; off by default.
    pub record_events: bool,
    /// A bug injected into every machine (feature `mutations`, for testing the checks).
    #[cfg(feature = "mutations")]
    pub mutation: memberlist_core::machine::Mutation,
}

impl SimConfig {
    /// `nodes` LAN nodes on a default network.
    pub fn lan(nodes: usize, seed: u64) -> Self {
        Self {
            nodes,
            seed,
            net: NetConfig::default(),
            protocol: ProtocolConfig::lan("template"),
            per_node: |_, _| {},
            full_checks: None,
            record_events: false,
            #[cfg(feature = "mutations")]
            mutation: memberlist_core::machine::Mutation::None,
        }
    }
}

/// The delegate of simulated nodes: it holds metadata and the user messages received.
#[derive(Debug, Default)]
pub struct SimDelegate {
    /// Metadata announced by the node.
    pub meta: Bytes,
    /// User messages received, in order.
    pub messages: Vec<Bytes>,
    /// Whether the node says it may have broadcasts of its own (then its machine runs
    /// every gossip tick instead of skipping idle ones); `false` by default.
    pub broadcasts: bool,
}

impl Delegate for SimDelegate {
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        self.meta.clone()
    }

    fn notify_message(&mut self, msg: Bytes) {
        self.messages.push(msg);
    }

    fn has_broadcasts(&self) -> bool {
        self.broadcasts
    }
}

/// What happened to a watched node, from one observer's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// The observer started suspecting it.
    Suspected,
    /// The observer declared it dead.
    Dead,
    /// The observer saw it leave gracefully.
    Left,
    /// The observer saw it join (or come back).
    Joined,
    /// The observer saw its metadata change.
    Updated,
}

/// One observation about a watched node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Virtual time since the start of the run.
    pub at: Duration,
    /// Who observed it.
    pub observer: usize,
    /// About whom.
    pub subject: usize,
    /// What.
    pub what: Observation,
    /// The subject's metadata as the observer holds it.
    pub meta: Bytes,
}

/// A datagram as a node sent it, before the network's fate (see [`Sim::tap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Virtual time since the start of the run.
    pub at: Duration,
    /// The sending node.
    pub from: usize,
    /// The destination address.
    pub to: SocketAddr,
    /// The bytes.
    pub data: Vec<u8>,
}

/// An event a node's machine emitted (see [`Sim::events`]).
#[derive(Debug, Clone)]
pub struct NodeEvent {
    /// Virtual time since the start of the run.
    pub at: Duration,
    /// The node whose machine emitted it.
    pub node: usize,
    /// The event.
    pub event: Event,
}

/// One simulated node.
struct Node {
    machine: Machine<SimDelegate>,
    /// What the machine reported to its metrics sink (its counters), since its last start.
    counts: Arc<InMemoryMetrics>,
    addr: SocketAddr,
    up: bool,
    generation: u64,
    wake_at: Option<Instant>,
    restarts: u64,
    counters: (u64, u64, u64),
    stream_bytes: u64,
    last_suspect: HashMap<usize, Instant>,
    /// Join events since the last counter scan: a suspicion that started earlier in the
    /// same step saw a table smaller by up to this many entries.
    joins_since_scan: usize,
}

enum Work {
    Wake { node: u32, generation: u64 },
    Deliver { from: u32, to: u32, data: Vec<u8> },
}

/// A queue key: the virtual time (nanoseconds since the start, high half) and the push
/// sequence (low half), so ties keep push order.
fn queue_key(offset: Duration, seq: u64) -> u128 {
    let nanos = u64::try_from(offset.as_nanos()).unwrap_or(u64::MAX);
    (u128::from(nanos) << 64) | u128::from(seq)
}

/// The virtual time of a queue key.
fn key_offset(key: u128) -> Duration {
    Duration::from_nanos((key >> 64) as u64)
}

/// An invariant was broken; the message names the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError(pub String);

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

/// A simulated cluster.
pub struct Sim {
    seed: u64,
    template: ProtocolConfig,
    per_node: fn(usize, &mut ProtocolConfig),
    #[cfg(feature = "mutations")]
    mutation: memberlist_core::machine::Mutation,
    start: Instant,
    now: Instant,
    nodes: Vec<Node>,
    by_name: HashMap<SmolStr, usize>,
    queue: EventQueue<Work>,
    seq: u64,
    rng: SmallRng,
    net: Network,
    checker: Checker,
    trace: Trace,
    /// The last stream payload traced and its hash: push/pulls of a converged cluster are
    /// one shared buffer, hashed once.
    traced_stream: Option<(Bytes, u64)>,
    /// Where the machines share their view messages.
    views: Arc<ViewPool>,
    watched: Vec<bool>,
    log: Vec<LogEntry>,
    steps: u64,
    /// Wake-ups handled (the timer part of `steps`).
    wakeups: u64,
    /// Every datagram sent, while tapping.
    tapped: Option<Vec<Sent>>,
    /// Every event emitted, while recording.
    events: Option<Vec<NodeEvent>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("nodes", &self.nodes.len())
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

/// The address of node `i`.
pub fn node_addr(i: usize) -> SocketAddr {
    let b = (i as u32).to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, b[1], b[2], b[3])), 7946)
}

/// The node whose address is `addr` ([`node_addr`] inverted), if there is one among `n`.
pub fn node_at(addr: &SocketAddr, n: usize) -> Option<usize> {
    node_index(addr, n).filter(|_| addr.port() == 7946)
}

/// The node index encoded in `addr`'s IP, whatever the port (a node restarted at a new
/// address keeps its IP and takes another port).
fn node_index(addr: &SocketAddr, n: usize) -> Option<usize> {
    match addr {
        SocketAddr::V4(a) => {
            let [ten, b1, b2, b3] = a.ip().octets();
            let i = usize::from(b1) << 16 | usize::from(b2) << 8 | usize::from(b3);
            (ten == 10 && i < n).then_some(i)
        }
        _ => None,
    }
}

/// The name of node `i`.
pub fn node_name(i: usize) -> SmolStr {
    smol_str::format_smolstr!("node-{i}")
}

fn mix(mut z: u64) -> u64 {
    // splitmix64
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sim {
    /// Creates the nodes (not yet joined to each other).
    pub fn new(cfg: SimConfig) -> Result<Self, SimError> {
        let start = Instant::now();
        let n = cfg.nodes;
        let full = cfg.full_checks.unwrap_or(n <= FULL_CHECK_LIMIT);
        let mut sim = Self {
            seed: cfg.seed,
            checker: Checker::new(cfg.seed, start, n, &cfg.protocol, full),
            template: cfg.protocol,
            start,
            now: start,
            nodes: Vec::with_capacity(n),
            by_name: HashMap::with_capacity(n),
            queue: EventQueue::default(),
            seq: 0,
            rng: SmallRng::seed_from_u64(mix(cfg.seed)),
            net: Network::new(cfg.net, n),
            trace: Trace::default(),
            traced_stream: None,
            views: Arc::default(),
            watched: vec![false; n],
            log: Vec::new(),
            steps: 0,
            wakeups: 0,
            tapped: None,
            events: cfg.record_events.then(Vec::new),
            per_node: cfg.per_node,
            #[cfg(feature = "mutations")]
            mutation: cfg.mutation,
        };
        for i in 0..n {
            let (machine, counts) = sim.make_machine(i, 0, node_addr(i))?;
            sim.by_name.insert(sim.node_config(i).name, i);
            sim.nodes.push(Node {
                machine,
                counts,
                addr: node_addr(i),
                up: true,
                generation: 0,
                wake_at: None,
                restarts: 0,
                counters: (0, 0, 0),
                stream_bytes: 0,
                last_suspect: HashMap::new(),
                joins_since_scan: 0,
            });
        }
        for i in 0..n {
            sim.drain(i);
        }
        Ok(sim)
    }

    /// The node listening at `addr` now (a node restarted elsewhere no longer listens at
    /// its old address).
    fn node_of(&self, addr: &SocketAddr) -> Option<usize> {
        node_index(addr, self.nodes.len()).filter(|&i| self.nodes[i].addr == *addr)
    }

    /// Node `i`'s address now.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].addr
    }

    /// Node `i`'s protocol settings.
    fn node_config(&self, i: usize) -> ProtocolConfig {
        let mut cfg = self.template.clone();
        cfg.name = node_name(i);
        (self.per_node)(i, &mut cfg);
        cfg
    }

    /// Node `i`'s machine after `restarts` restarts, and the counts of its metrics.
    fn make_machine(
        &self,
        i: usize,
        restarts: u64,
        addr: SocketAddr,
    ) -> Result<(Machine<SimDelegate>, Arc<InMemoryMetrics>), SimError> {
        let cfg = self.node_config(i);
        let seed = mix(self.seed ^ mix(i as u64) ^ mix(restarts.wrapping_mul(0x1234_5677)));
        Machine::new(
            cfg,
            Pipeline::new(),
            addr,
            SimDelegate::default(),
            seed,
            self.now,
        )
        .map(|mut m| {
            m.set_view_interner(Arc::clone(&self.views) as Arc<dyn ViewInterner>);
            #[cfg(feature = "mutations")]
            m.set_mutation(self.mutation);
            let counts = Arc::new(InMemoryMetrics::new());
            m.set_metrics(Arc::clone(&counts) as Arc<dyn Metrics>);
            (m, counts)
        })
        .map_err(|e| SimError(format!("seed {}: {e}", self.seed)))
    }

    // ----------------------------------------------------------------------------------
    // Accessors
    // ----------------------------------------------------------------------------------

    /// Number of nodes (up or down).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The machine of node `i`.
    pub fn machine(&self, i: usize) -> &Machine<SimDelegate> {
        &self.nodes[i].machine
    }

    /// Node `i`'s counters since its last start (what its machine reported to its metrics
    /// sink).
    pub fn stats(&self, i: usize) -> Stats {
        Stats::from_metrics(&self.nodes[i].counts)
    }

    /// Whether node `i` is running.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].up
    }

    /// Stream bytes written by node `i` (requests it dialed and replies it wrote).
    pub fn stream_bytes(&self, i: usize) -> u64 {
        self.nodes[i].stream_bytes
    }

    /// The network, to change loss, partitions or slowness.
    pub fn net_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// Hash of everything processed so far: equal seeds give equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    /// Inputs processed so far (deliveries and wake-ups).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Wake-ups processed so far (timer expirations handled).
    pub fn wakeups(&self) -> u64 {
        self.wakeups
    }

    /// Observations about watched nodes, in order.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// Records observations about node `i` in [`log`](Self::log).
    pub fn watch(&mut self, i: usize) {
        self.watched[i] = true;
    }

    /// The node index of a member name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// `Ok` unless an invariant was broken.
    pub fn check(&self) -> Result<(), SimError> {
        match self.checker.violations() {
            [] => Ok(()),
            v => Err(SimError(v.join("\n"))),
        }
    }

    /// Invariant (d): every running node sees exactly the running nodes as members.
    pub fn converged(&self) -> bool {
        let up = self.nodes.iter().filter(|n| n.up).count();
        let running = || self.nodes.iter().filter(|n| n.up);
        running().all(|n| n.machine.num_members() == up)
            && running().all(|n| {
                n.machine
                    .members()
                    .all(|m| self.index_of(&m.name).is_some_and(|j| self.nodes[j].up))
            })
    }

    // ----------------------------------------------------------------------------------
    // Running
    // ----------------------------------------------------------------------------------

    /// Runs until `until` (virtual time since the start).
    pub fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        while let Some(key) = self.queue.peek_key() {
            if key_offset(key) > until {
                break;
            }
            let Some((key, work)) = self.queue.pop() else {
                break;
            };
            let at = self.start + key_offset(key);
            if at > self.now {
                self.now = at;
            }
            match work {
                Work::Wake { node, generation } => {
                    let node = node as usize;
                    let n = &mut self.nodes[node];
                    if !n.up || n.generation != generation {
                        continue;
                    }
                    n.wake_at = None;
                    self.steps += 1;
                    self.wakeups += 1;
                    self.trace.input(self.now - self.start, node, b'W', &[]);
                    let now = self.now;
                    self.nodes[node].machine.handle_timeout(now);
                    self.drain(node);
                }
                Work::Deliver { from, to, data } => {
                    let (from, to) = (from as usize, to as usize);
                    if !self.nodes[to].up || !self.net.connected(from, to) {
                        continue;
                    }
                    self.steps += 1;
                    self.trace.input(self.now - self.start, to, b'D', &data);
                    let now = self.now;
                    let src = self.nodes[from].addr;
                    self.nodes[to].machine.handle_datagram(now, src, &data);
                    self.drain(to);
                }
            }
        }
        if end > self.now {
            self.now = end;
        }
    }

    /// Runs for `d` more virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.elapsed() + d;
        self.run_until(until);
    }

    /// Runs in steps of `step` until `done` holds or `limit` (virtual time since the start)
    /// passes; returns the time `done` first held.
    pub fn run_until_true(
        &mut self,
        limit: Duration,
        step: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Option<Duration> {
        loop {
            if done(self) {
                return Some(self.elapsed());
            }
            if self.elapsed() >= limit {
                return None;
            }
            let next = (self.elapsed() + step).min(limit);
            self.run_until(next);
        }
    }

    fn push(&mut self, at: Instant, work: Work) {
        self.seq += 1;
        let offset = at.saturating_duration_since(self.start);
        self.queue.push(queue_key(offset, self.seq), work);
    }
}
