//! Small clusters of protocol machines on a virtual clock and an in-memory network: join,
//! failure detection, leave, refutation, metadata updates and user messages, with checks on
//! the timing bounds of Go's formulas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use memberlist_core::delegate::Delegate;
use memberlist_core::machine::{
    Event, Machine, ProtocolConfig, PushPullError, State, StreamError, StreamOutcome, StreamRequest,
};
use memberlist_core::wire::{Pipeline, StreamDecoder, StreamRole, Suspect, WireMessage};

#[derive(Default)]
struct Recorder {
    meta: Bytes,
    messages: Vec<Bytes>,
    /// Tell the machine we never broadcast (so it may skip idle gossip ticks).
    quiet: bool,
}

impl Delegate for Recorder {
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        self.meta.clone()
    }
    fn notify_message(&mut self, msg: Bytes) {
        self.messages.push(msg);
    }
    fn has_broadcasts(&self) -> bool {
        !self.quiet
    }
}

struct Node {
    m: Machine<Recorder>,
    counts: std::sync::Arc<memberlist_core::metrics::InMemoryMetrics>,
    addr: SocketAddr,
    up: bool,
    events: Vec<(Duration, Event)>,
}

impl Node {
    fn stats(&self) -> memberlist_core::machine::Stats {
        memberlist_core::machine::Stats::from_metrics(&self.counts)
    }
}

/// A datagram on the wire: (delivery time, sequence, sender index, destination, bytes).
type InFlight = Reverse<(Instant, u64, usize, SocketAddr, Vec<u8>)>;

/// A datagram seen on the wire: (when, sender index, destination, bytes).
type Tapped = (Duration, usize, SocketAddr, Vec<u8>);

struct Cluster {
    start: Instant,
    now: Instant,
    nodes: Vec<Node>,
    in_flight: BinaryHeap<InFlight>,
    seq: u64,
    latency: Duration,
    /// Links that drop everything, as (from, to) node indexes.
    cut: HashSet<(usize, usize)>,
    /// Every datagram sent, when `Some`.
    tap: Option<Vec<Tapped>>,
    /// `handle_timeout` calls, i.e. timer wake-ups.
    wakeups: u64,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8)),
        7946,
    )
}

impl Cluster {
    fn new(n: usize, cfg: impl Fn(String) -> ProtocolConfig, seed: u64) -> Self {
        Self::named(n, |i| format!("node-{i}"), cfg, seed)
    }

    fn named(
        n: usize,
        name: impl Fn(usize) -> String,
        cfg: impl Fn(String) -> ProtocolConfig,
        seed: u64,
    ) -> Self {
        let start = Instant::now();
        let nodes = (0..n)
            .map(|i| {
                let mut m = Machine::new(
                    cfg(name(i)),
                    Pipeline::new(),
                    addr(i),
                    Recorder::default(),
                    seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    start,
                )
                .unwrap();
                let counts = std::sync::Arc::new(memberlist_core::metrics::InMemoryMetrics::new());
                m.set_metrics(counts.clone());
                Node {
                    m,
                    counts,
                    addr: addr(i),
                    up: true,
                    events: Vec::new(),
                }
            })
            .collect();
        let mut c = Self {
            start,
            now: start,
            nodes,
            in_flight: BinaryHeap::new(),
            seq: 0,
            latency: Duration::from_millis(1),
            cut: HashSet::new(),
            tap: None,
            wakeups: 0,
        };
        for i in 0..n {
            c.drain(i);
        }
        c
    }

    fn index_of(&self, a: SocketAddr) -> Option<usize> {
        self.nodes.iter().position(|n| n.addr == a)
    }

    fn link_ok(&self, from: usize, to: usize) -> bool {
        self.nodes[from].up && self.nodes[to].up && !self.cut.contains(&(from, to))
    }

    /// Moves a node's outputs onto the network.
    fn drain(&mut self, i: usize) {
        while let Some(t) = self.nodes[i].m.poll_transmit() {
            if let Some(tap) = &mut self.tap {
                tap.push((self.now - self.start, i, t.to, t.data.clone()));
            }
            self.seq += 1;
            self.in_flight.push(Reverse((
                self.now + self.latency,
                self.seq,
                i,
                t.to,
                t.data,
            )));
        }
        while let Some(req) = self.nodes[i].m.poll_stream_request() {
            self.run_stream(i, req);
        }
        let elapsed = self.now - self.start;
        while let Some(e) = self.nodes[i].m.poll_event() {
            self.nodes[i].events.push((elapsed, e));
        }
    }

    /// Streams complete instantly: dial, decode on the acceptor, reply, decode on the dialer.
    fn run_stream(&mut self, from: usize, req: StreamRequest) {
        let now = self.now;
        let outcome = match self.index_of(req.to) {
            Some(to) if self.link_ok(from, to) && self.link_ok(to, from) => {
                let mut dec = StreamDecoder::new(StreamRole::Acceptor);
                dec.feed(&req.data);
                let msg = dec
                    .poll_opened(self.nodes[to].m.pipeline())
                    .unwrap()
                    .unwrap();
                let src = self.nodes[from].addr;
                let reply = self.nodes[to].m.handle_stream(now, src, msg);
                self.drain(to);
                match reply {
                    Some(bytes) if req.expects_reply => {
                        let mut dec = StreamDecoder::new(StreamRole::Dialer);
                        dec.feed(&bytes);
                        let msg = dec
                            .poll_opened(self.nodes[from].m.pipeline())
                            .unwrap()
                            .unwrap();
                        StreamOutcome::Reply(msg)
                    }
                    _ if req.expects_reply => {
                        StreamOutcome::Failed(StreamError::NoReply { to: req.to })
                    }
                    _ => StreamOutcome::Sent,
                }
            }
            _ => StreamOutcome::Failed(StreamError::refused(req.to)),
        };
        self.nodes[from].m.handle_stream_reply(now, req.id, outcome);
    }

    /// Runs until `until` (virtual time since start).
    fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        loop {
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.up)
                .map(|(i, n)| (n.m.poll_timeout(), i))
                .min();
            let next_packet = self.in_flight.peek().map(|Reverse(p)| p.0);
            let next = match (next_timer, next_packet) {
                (Some((t, _)), Some(p)) => t.min(p),
                (Some((t, _)), None) => t,
                (None, Some(p)) => p,
                (None, None) => break,
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            if next_packet == Some(next) {
                let Reverse((_, _, from, to, data)) = self.in_flight.pop().unwrap();
                if let Some(to) = self.index_of(to)
                    && self.link_ok(from, to)
                {
                    let src = self.nodes[from].addr;
                    self.nodes[to].m.handle_datagram(self.now, src, &data);
                    self.drain(to);
                }
                continue;
            }
            let (_, i) = next_timer.unwrap();
            self.wakeups += 1;
            self.nodes[i].m.handle_timeout(self.now);
            self.drain(i);
        }
        self.now = end;
    }

    fn join_all_through(&mut self, seed: usize) {
        for i in 0..self.nodes.len() {
            if i != seed {
                let to = self.nodes[seed].addr;
                let now = self.now;
                self.nodes[i].m.join(now, [to]);
                self.drain(i);
            }
        }
    }

    fn state_of(&self, observer: usize, node: usize) -> Option<State> {
        self.nodes[observer]
            .m
            .member(&format!("node-{node}"))
            .map(|m| m.state)
    }

    fn all_alive(&self) -> bool {
        let n = self.nodes.len();
        self.nodes.iter().all(|o| o.m.num_members() == n)
    }

    /// When `observer` first saw `node` leave (dead or left).
    fn leave_time(&self, observer: usize, node: usize) -> Option<Duration> {
        let name = format!("node-{node}");
        self.nodes[observer]
            .events
            .iter()
            .find_map(|(t, e)| match e {
                Event::Leave(m) if m.name == name => Some(*t),
                _ => None,
            })
    }
}

#[test]
fn five_nodes_join_through_one_seed() {
    let mut c = Cluster::new(5, ProtocolConfig::lan, 1);
    c.join_all_through(0);
    c.run_until(Duration::from_secs(3));
    assert!(c.all_alive(), "not everyone sees 5 alive members");
    for n in &c.nodes {
        let joins = n
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Join(_)))
            .count();
        assert_eq!(joins, 5, "{} saw {joins} joins", n.addr);
        let results: Vec<_> = n
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::JoinResult { contacted, .. } => Some(*contacted),
                _ => None,
            })
            .collect();
        assert!(results.iter().all(|&ok| ok));
    }
    // Healthy cluster: nobody suspected, awareness at 0.
    c.run_until(Duration::from_secs(30));
    for n in &c.nodes {
        assert_eq!(n.m.health_score(), 0);
        assert_eq!(n.stats().suspect, 0);
        assert!(n.m.members().all(|m| m.state == State::Alive));
    }
}

#[test]
fn crashed_node_goes_suspect_then_dead_within_the_model() {
    let n = 10;
    let mut c = Cluster::new(n, ProtocolConfig::lan, 7);
    c.join_all_through(0);
    c.run_until(Duration::from_secs(10));
    assert!(c.all_alive());
    let crash_at = c.now - c.start;
    c.nodes[9].up = false;
    c.run_until(crash_at + Duration::from_secs(30));
    // LAN, N = 10: suspicion min 4 s, max 24 s, k = 2 confirmations.
    let min = Duration::from_secs(4);
    let max = Duration::from_secs(24);
    for observer in 0..n - 1 {
        assert_eq!(
            c.state_of(observer, 9),
            Some(State::Dead),
            "observer {observer}"
        );
        let seen = c.leave_time(observer, 9).expect("a leave event") - crash_at;
        assert!(
            seen >= min,
            "observer {observer} declared death after {seen:?} < {min:?}"
        );
        assert!(
            seen <= max + Duration::from_secs(5),
            "observer {observer}: {seen:?}"
        );
    }
    // Nobody else was harmed.
    for observer in 0..n - 1 {
        for other in 0..n - 1 {
            assert_eq!(c.state_of(observer, other), Some(State::Alive));
        }
    }
}

#[test]
fn graceful_leave_is_seen_as_left() {
    let mut c = Cluster::new(4, ProtocolConfig::lan, 3);
    c.join_all_through(0);
    c.run_until(Duration::from_secs(5));
    let now = c.now;
    let id = c.nodes[3].m.leave(now);
    c.drain(3);
    c.run_until(Duration::from_secs(8));
    assert!(
        c.nodes[3]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::BroadcastFinished(i) if *i == id)),
        "leave broadcast never finished"
    );
    c.nodes[3].up = false;
    for observer in 0..3 {
        assert_eq!(c.state_of(observer, 3), Some(State::Left));
    }
    // Left nodes are reaped after GossipToTheDeadTime (30 s) on the next probe wrap.
    c.run_until(Duration::from_secs(45));
    for observer in 0..3 {
        assert_eq!(
            c.state_of(observer, 3),
            None,
            "observer {observer} kept the left node"
        );
        assert_eq!(c.nodes[observer].m.num_members(), 3);
    }
}

#[test]
fn indirect_probes_cover_one_broken_link() {
    let mut c = Cluster::new(5, ProtocolConfig::lan, 11);
    c.join_all_through(0);
    c.run_until(Duration::from_secs(5));
    // Cut node 0 -> node 4 only: node 0's probes of 4 fail directly, but relays reach it and
    // gossip about the suspicion lets node 4 refute.
    c.cut.insert((0, 4));
    c.cut.insert((4, 0));
    c.run_until(Duration::from_secs(60));
    for observer in 0..4 {
        assert_eq!(
            c.state_of(observer, 4),
            Some(State::Alive),
            "observer {observer}"
        );
    }
    // Relays answered for node 4, so it was never suspected.
    let suspected = c.nodes.iter().map(|n| n.stats().suspect).sum::<u64>();
    assert_eq!(suspected, 0);
}

#[test]
fn falsely_suspected_node_refutes() {
    let mut c = Cluster::new(5, ProtocolConfig::lan, 13);
    c.join_all_through(0);
    c.run_until(Duration::from_secs(5));
    let before = c.nodes[4].m.local_member().unwrap().incarnation;
    // Node 1 tells node 2 that node 4 is suspect.
    let suspect = Suspect {
        incarnation: before,
        node: "node-4".into(),
        from: "node-1".into(),
    };
    let now = c.now;
    let from = c.nodes[1].addr;
    c.nodes[2].m.handle_datagram(now, from, &suspect.to_bytes());
    c.drain(2);
    assert_eq!(c.state_of(2, 4), Some(State::Suspect));
    c.run_until(Duration::from_secs(15));
    let after = c.nodes[4].m.local_member().unwrap().incarnation;
    assert!(after > before, "incarnation {before} -> {after}");
    assert_eq!(c.nodes[4].stats().refutations, 1);
    for observer in 0..5 {
        assert_eq!(
            c.state_of(observer, 4),
            Some(State::Alive),
            "observer {observer}"
        );
        assert_eq!(
            c.nodes[observer].m.member("node-4").unwrap().incarnation,
            after
        );
    }
}

#[test]
fn metadata_updates_and_user_messages_spread() {
    let mut c = Cluster::new(4, ProtocolConfig::lan, 5);
    c.join_all_through(0);
    c.run_until(Duration::from_secs(5));
    let now = c.now;
    c.nodes[2]
        .m
        .with_delegate(now, |d| d.meta = Bytes::from_static(b"role=db"));
    c.nodes[2].m.update_meta(now);
    c.drain(2);
    c.nodes[0]
        .m
        .send_best_effort(now, "node-1", b"hello")
        .unwrap();
    c.nodes[0].m.send_reliable(now, "node-3", b"world").unwrap();
    c.drain(0);
    c.run_until(Duration::from_secs(8));
    for observer in [0, 1, 3] {
        let m = c.nodes[observer].m.member("node-2").unwrap();
        assert_eq!(&m.meta[..], b"role=db");
        assert!(
            c.nodes[observer]
                .events
                .iter()
                .any(|(_, e)| matches!(e, Event::Update(m) if m.name == "node-2"))
        );
    }
    assert_eq!(
        c.nodes[1].m.delegate().messages,
        vec![Bytes::from_static(b"hello")]
    );
    assert_eq!(
        c.nodes[3].m.delegate().messages,
        vec![Bytes::from_static(b"world")]
    );
}

#[test]
fn partition_heals_without_a_manual_rejoin() {
    let n = 6;
    let mut c = Cluster::new(n, ProtocolConfig::lan, 21);
    c.join_all_through(0);
    c.run_until(Duration::from_secs(5));
    assert!(c.all_alive());
    let left = [0, 1, 2];
    let right = [3, 4, 5];
    for a in left {
        for b in right {
            c.cut.insert((a, b));
            c.cut.insert((b, a));
        }
    }
    // Past the maximum suspicion timeout and the reaping delay: each side forgets the other.
    c.run_until(Duration::from_secs(125));
    for a in left {
        assert_eq!(
            c.nodes[a].m.num_members(),
            3,
            "node {a} still sees the other side"
        );
    }
    c.cut.clear();
    let healed = c.now - c.start;
    // Reconnect attempts run every 30 s per node; allow one interval plus spreading time.
    c.run_until(healed + Duration::from_secs(35));
    assert!(c.all_alive(), "the two halves did not re-merge");
    for observer in 0..n {
        for node in 0..n {
            assert_eq!(c.state_of(observer, node), Some(State::Alive));
        }
    }
}

#[test]
fn cidr_allow_list_keeps_other_networks_out() {
    // Node 3 only accepts 10.0.0.0/30 (nodes 0..=3); node 4 is 10.0.0.4.
    let mut c = Cluster::new(
        5,
        |name| {
            let mut cfg = ProtocolConfig::lan(name.clone());
            if name == "node-3" {
                cfg.cidrs_allowed = vec!["10.0.0.0/30".parse().unwrap()];
            }
            cfg
        },
        17,
    );
    c.join_all_through(0);
    c.run_until(Duration::from_secs(20));
    assert_eq!(
        c.state_of(3, 4),
        None,
        "node 3 accepted a node outside its allow list"
    );
    assert_eq!(c.nodes[3].m.num_members(), 4);
    for observer in [0, 1, 2, 4] {
        assert_eq!(c.nodes[observer].m.num_members(), 5, "observer {observer}");
    }
}

#[test]
fn a_failed_join_says_why() {
    let now = Instant::now();
    let addr = "127.0.0.1:7946".parse().expect("addr");
    let mut m = Machine::new(
        ProtocolConfig::lan("a"),
        Pipeline::new(),
        addr,
        memberlist_core::delegate::NoopDelegate,
        1,
        now,
    )
    .expect("machine");
    let ids = m.join(now, ["127.0.0.1:7947".parse().expect("addr")]);
    let req = m.poll_stream_request().expect("a push/pull request");
    assert_eq!(ids, vec![req.id]);
    m.handle_stream_reply(
        now,
        req.id,
        StreamOutcome::Failed(StreamError::refused(req.to)),
    );
    let result = std::iter::from_fn(|| m.poll_event())
        .find(|e| matches!(e, Event::JoinResult { .. }))
        .expect("a join result");
    let Event::JoinResult {
        id,
        contacted: false,
        error: Some(PushPullError::Stream(e @ StreamError::Io { .. })),
    } = result
    else {
        panic!("not a refused join: {result:?}");
    };
    assert_eq!(id, req.id);
    assert_eq!(e.to_string(), "connecting to 127.0.0.1:7947 failed");
}

/// Go's `rawSendMsgPacket` decides the CRC of pings, acks, nacks and indirect pings by
/// looking the destination's IP up among member *names* (spec §3.1): with ordinary names
/// they go without a CRC, exactly as Go sends them; with IP names they carry one.
#[test]
fn probes_carry_a_crc_only_where_go_would_find_the_node_by_name() {
    const PING: u8 = 0;
    const ACK: u8 = 2;
    const COMPOUND: u8 = 7;
    const HAS_CRC: u8 = 12;
    let probes_by_crc = |name: fn(usize) -> String| {
        let mut c = Cluster::named(4, name, ProtocolConfig::lan, 7);
        c.join_all_through(0);
        c.run_until(Duration::from_secs(3));
        assert!(c.all_alive());
        c.tap = Some(Vec::new());
        c.run_until(Duration::from_secs(20));
        let (mut with, mut without) = (0, 0);
        for (_, _, _, d) in c.tap.take().unwrap() {
            match d[0] {
                PING | ACK => without += 1,
                HAS_CRC if matches!(d[5], PING | ACK) => with += 1,
                HAS_CRC | COMPOUND => {}
                other => panic!("unexpected message type {other}"),
            }
        }
        (with, without)
    };
    let (with, without) = probes_by_crc(|i| format!("node-{i}"));
    assert_eq!(with, 0, "pings/acks with a CRC among ordinary names");
    assert!(without > 20, "only {without} bare pings/acks");
    let (with, without) = probes_by_crc(|i| addr(i).ip().to_string());
    assert_eq!(without, 0, "pings/acks without a CRC among IP names");
    assert!(with > 20, "only {with} pings/acks with a CRC");
}

#[test]
fn idle_gossip_ticks_are_skipped_without_moving_any_datagram() {
    // The same cluster twice: delegates that may broadcast (every tick runs) and quiet ones
    // (idle ticks skipped). Join, a crash, a metadata update and a user broadcast must put
    // the same datagrams on the wire at the same instants: skipping keeps the tick phase.
    let run = |quiet: bool| {
        let mut c = Cluster::new(6, ProtocolConfig::lan, 11);
        let start = c.now;
        for n in &mut c.nodes {
            n.m.with_delegate(start, |d| d.quiet = quiet);
        }
        c.tap = Some(Vec::new());
        c.join_all_through(0);
        c.run_until(Duration::from_secs(20));
        assert!(c.all_alive());
        let idle_from = c.wakeups;
        c.run_until(Duration::from_secs(50));
        let idle_wakeups = c.wakeups - idle_from;
        c.nodes[5].up = false;
        c.run_until(Duration::from_secs(70));
        let now = c.now;
        c.nodes[2]
            .m
            .with_delegate(now, |d| d.meta = Bytes::from_static(b"v2"));
        c.nodes[2].m.update_meta(now);
        c.drain(2);
        c.run_until(Duration::from_secs(80));
        c.now += Duration::from_millis(70);
        let now = c.now;
        c.nodes[3].m.queue_broadcast(
            now,
            memberlist_core::machine::broadcast::BroadcastKey::named("k"),
            Bytes::from_static(b"\x08hello"),
            None,
        );
        c.run_until(Duration::from_secs(90));
        let end = c.now;
        // An input that does nothing else moves each schedule past its idle ticks.
        for n in c.nodes.iter_mut().filter(|n| n.up) {
            n.m.with_delegate(end, |_| ());
        }
        // The crashed node's last idle ticks were never seen by it: count the live ones.
        let live = || c.nodes.iter().filter(|n| n.up);
        let rounds: u64 = live().map(|n| n.stats().gossip_rounds).sum();
        let idle: u64 = live().map(|n| n.stats().gossip_ticks_idle).sum();
        (
            c.tap.take().unwrap(),
            idle_wakeups,
            rounds,
            idle,
            c.leave_time(0, 5),
        )
    };
    let (loud, loud_wakeups, loud_rounds, loud_idle, _) = run(false);
    let (quiet, quiet_wakeups, quiet_rounds, quiet_idle, dead) = run(true);
    assert!(dead.is_some(), "the crash was detected");
    assert!(loud.len() > 500, "only {} datagrams", loud.len());
    assert_eq!(loud.len(), quiet.len(), "as many datagrams");
    for (a, b) in loud.iter().zip(&quiet) {
        assert_eq!(a, b, "the same datagram at the same instant");
    }
    assert_eq!(loud_idle, 0);
    // Six nodes, 30 idle seconds: 900 gossip ticks plus ~180 probe steps when every tick
    // wakes; the quiet cluster wakes only for probes.
    assert!(
        quiet_wakeups * 3 < loud_wakeups,
        "{quiet_wakeups} wake-ups vs {loud_wakeups}"
    );
    assert!(
        quiet_rounds < loud_rounds / 5,
        "{quiet_rounds} vs {loud_rounds} rounds"
    );
    assert_eq!(
        quiet_rounds + quiet_idle,
        loud_rounds,
        "every tick accounted for"
    );
}
