//! Subscriptions in the in-memory network, in paused time: a slow consumer under churn is
//! resynchronised rather than left with a silent gap, a subscription follows a cluster and
//! ends at shutdown, and members serialise with serde.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use smol_str::SmolStr;

use super::tests::{MemoryTransport, Network, eventually, node};
use crate::machine::State;
use crate::runtime::{Config, MemberEvent, MemberInfo, Memberlist, Notification};
use crate::transport::Transport;
use crate::wire::{Alive, Dead, IpBytes, Suspect, Vsn, WireMessage};

/// What a subscriber rebuilds from its notifications, checking on the way that the sequence
/// has no gap and that each event fits the view it is applied to.
#[derive(Default)]
struct Follower {
    view: BTreeMap<SmolStr, MemberInfo>,
    /// The number the next event must carry.
    next: u64,
    snapshots: u64,
    events: u64,
    lags: u64,
    missed: u64,
    first_seq: u64,
    kinds: BTreeMap<&'static str, u64>,
}

impl Follower {
    fn apply(&mut self, n: Notification) {
        match n {
            Notification::Snapshot(s) => {
                assert_eq!(self.snapshots, 0, "a second initial snapshot");
                self.snapshots += 1;
                self.first_seq = s.seq;
                self.reset(s.seq, s.members);
            }
            Notification::Lagged { missed, snapshot } => {
                assert!(self.snapshots == 1, "lagged before the initial snapshot");
                assert!(missed > 0, "a resync that skipped nothing");
                assert_eq!(
                    snapshot.seq + 1,
                    self.next + missed,
                    "missed must count exactly the events skipped"
                );
                self.lags += 1;
                self.missed += missed;
                self.reset(snapshot.seq, snapshot.members);
            }
            Notification::Event { seq, event } => {
                assert_eq!(
                    seq, self.next,
                    "a silent gap: expected event #{}",
                    self.next
                );
                self.next += 1;
                self.events += 1;
                self.on_event(event);
            }
        }
    }

    fn reset(&mut self, seq: u64, members: Vec<MemberInfo>) {
        let names: Vec<_> = members.iter().map(|m| m.name.clone()).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "snapshot not sorted");
        assert!(members.iter().all(MemberInfo::is_member));
        self.view = members.into_iter().map(|m| (m.name.clone(), m)).collect();
        self.next = seq + 1;
    }

    fn on_event(&mut self, event: MemberEvent) {
        let name = event.member().name.clone();
        let known = self.view.contains_key(&name);
        *self.kinds.entry(event.kind()).or_default() += 1;
        match event {
            MemberEvent::Join(m) => {
                assert!(!known, "{name} joined while a member");
                assert!(m.is_member());
                self.view.insert(name, m);
            }
            MemberEvent::Update(m) | MemberEvent::Changed(m) => {
                assert!(known, "{name} changed while not a member");
                assert!(m.is_member());
                self.view.insert(name, m);
            }
            MemberEvent::Left(m) => {
                assert_eq!(m.state, State::Left);
                self.view.remove(&name);
            }
            MemberEvent::Failed(m) => {
                assert_eq!(m.state, State::Dead);
                self.view.remove(&name);
            }
            _ => {}
        }
    }

    /// The view as `members()` lists it, sorted.
    fn members(&self) -> Vec<MemberInfo> {
        self.view.values().cloned().collect()
    }
}

fn sorted(mut members: Vec<MemberInfo>) -> Vec<MemberInfo> {
    members.sort_by(|a, b| a.name.cmp(&b.name));
    members
}

/// Sends the watched node gossip about nodes that do not exist: each goes through joins,
/// metadata updates, suspicions, refutations, leaves and failures.
struct Churn {
    transport: MemoryTransport,
    to: SocketAddr,
    incarnations: Vec<u32>,
}

impl Churn {
    const NODES: usize = 48;

    fn new(network: &Network, to: SocketAddr) -> Self {
        Self {
            transport: network.endpoint_at(SocketAddr::from(([10, 0, 9, 9], 7946))),
            to,
            incarnations: vec![0; Self::NODES],
        }
    }

    /// The `k`-th message: node `k % NODES`, at the step of its cycle `k / NODES` gives.
    fn message(&mut self, k: usize) -> Bytes {
        let i = k % Self::NODES;
        let name = SmolStr::from(format!("ghost-{i:02}"));
        let inc = &mut self.incarnations[i];
        let alive = |inc: &mut u32, meta: &'static [u8]| {
            *inc += 1;
            Alive {
                incarnation: *inc,
                node: name.clone(),
                addr: IpBytes::from(std::net::IpAddr::from([10, 0, 1, i as u8])),
                port: 7946,
                meta: Bytes::from_static(meta),
                vsn: Vsn::default_advertised(),
            }
            .to_bytes()
        };
        match (k / Self::NODES) % 8 {
            0 | 5 => alive(inc, b"a"),
            1 | 3 => alive(inc, b"b"),
            2 | 6 => Suspect {
                incarnation: *inc,
                node: name.clone(),
                from: "node9".into(),
            }
            .to_bytes(),
            4 => Dead {
                incarnation: *inc,
                node: name.clone(),
                from: name.clone(),
            }
            .to_bytes(),
            _ => Dead {
                incarnation: *inc,
                node: name.clone(),
                from: "node9".into(),
            }
            .to_bytes(),
        }
    }

    async fn send(&mut self, k: usize) {
        let message = self.message(k);
        self.transport.send_to(self.to, &message).await.unwrap();
    }
}

/// A consumer that is deliberately slow (it yields twice after every item and sleeps after
/// every 500th) under churn from gossip in storms of up to 100 messages, with an event buffer of
/// 16: it must be resynchronised at least once, see every event either one by one or
/// inside a resync snapshot (checked by sequence number on every item), and end with
/// exactly the node's `members()`.
#[tokio::test(start_paused = true)]
async fn a_slow_consumer_is_resynchronised_never_left_with_a_gap() {
    let network = Network::default();
    let mut config = Config::lan("node0").with_compression(false);
    config.event_buffer = 16;
    let watched = Memberlist::builder(config)
        .transport(network.endpoint(7946))
        .seed(7)
        .start()
        .await
        .unwrap();
    let peer = node(&network, 1).await;
    peer.join([watched.advertise_addr().to_string()])
        .await
        .unwrap();

    let mut subscription = watched.subscribe();
    let consumer = tokio::spawn(async move {
        let mut follower = Follower::default();
        let mut items = 0u64;
        while let Some(n) = subscription.next().await {
            follower.apply(n);
            items += 1;
            for _ in 0..2 {
                tokio::task::yield_now().await;
            }
            if items % 500 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        follower
    });

    const MESSAGES: usize = 14_000;
    let mut churn = Churn::new(&network, watched.advertise_addr());
    let (mut k, mut b) = (0, 0);
    while k < MESSAGES {
        // Mostly lulls of one to three messages; every 30th burst a storm of 30 or 100.
        let burst = match b % 60 {
            29 => 30,
            59 => 100,
            n => 1 + n % 3,
        };
        for _ in 0..burst {
            churn.send(k).await;
            k += 1;
        }
        b += 1;
        if burst <= 8 {
            // A lull: everything else runs until idle (the consumer catches up), and the
            // protocol's own timers run — probes of the ghosts, suspicions, gossip.
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            // A storm: the consumer gets a turn now and then but cannot keep up.
            for _ in 0..24 {
                tokio::task::yield_now().await;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    peer.shutdown().await;
    watched.shutdown().await;
    let follower = tokio::time::timeout(Duration::from_secs(60), consumer)
        .await
        .expect("the subscription ends once the node has stopped")
        .unwrap();

    let last = follower.next - 1;
    assert!(last >= 10_000, "only {last} events");
    assert!(
        follower.lags >= 1,
        "the slow consumer was never resynchronised"
    );
    let stats = format!(
        "{} events one by one, {} resyncs skipping {} events, last #{last}, {:?}",
        follower.events, follower.lags, follower.missed, follower.kinds
    );
    assert!(follower.events >= 2_000, "{stats}");
    eprintln!("{stats}");
    assert_eq!(
        follower.first_seq + follower.events + follower.missed,
        last,
        "every event was delivered or covered by a resync"
    );
    for kind in ["join", "update", "changed", "left", "failed"] {
        assert!(
            follower.kinds.contains_key(kind),
            "no {kind} event: {:?}",
            follower.kinds
        );
    }
    assert_eq!(follower.members(), sorted(watched.members()));
}

/// A subscription as a `Stream`: the snapshot, joins, a leave, a failure (with its
/// suspicion), each numbered; it ends when the node shuts down.
#[tokio::test(start_paused = true)]
async fn a_subscription_follows_the_cluster_and_ends_at_shutdown() {
    let network = Network::default();
    let nodes = [
        node(&network, 0).await,
        node(&network, 1).await,
        node(&network, 2).await,
    ];
    let mut events = nodes[0].subscribe();
    let Some(Notification::Snapshot(first)) = events.next().await else {
        panic!("the first item is not a snapshot");
    };
    assert_eq!(first.members, vec![nodes[0].local_node()]);
    let mut follower = Follower::default();
    follower.apply(Notification::Snapshot(first));

    let seed = nodes[0].advertise_addr().to_string();
    for n in &nodes[1..] {
        n.join([seed.as_str()]).await.unwrap();
    }
    eventually("three alive", || nodes[0].num_members() == 3).await;
    nodes[2].leave(Duration::from_secs(5)).await.unwrap();
    nodes[2].shutdown().await;
    nodes[1].shutdown().await;
    eventually("node1 dead", || {
        nodes[0].member("node1").map(|m| m.state) == Some(State::Dead)
    })
    .await;
    nodes[0].shutdown().await;

    let mut told = Vec::new();
    while let Some(n) = events.next().await {
        if let Notification::Event { event, .. } = &n {
            let m = event.member();
            told.push((event.kind(), m.name.to_string(), m.state));
        }
        follower.apply(n);
    }
    assert!(futures_core::FusedStream::is_terminated(&events));
    assert_eq!(events.recv().await, None);
    let wanted = [
        ("join", "node1", State::Alive),
        ("join", "node2", State::Alive),
        ("left", "node2", State::Left),
        ("changed", "node1", State::Suspect),
        ("failed", "node1", State::Dead),
    ];
    // In this order, with anything else (incarnation changes) in between.
    let mut rest = told.iter();
    for (k, name, state) in wanted {
        assert!(
            rest.any(|t| t.0 == k && t.1 == name && t.2 == state),
            "{k} {name} {state} missing or out of order in {told:?}"
        );
    }
    assert_eq!(follower.lags, 0);
    assert_eq!(follower.members(), sorted(nodes[0].members()));
    // A subscription made after the node stopped gets the last members, then ends.
    let mut late = nodes[0].subscribe();
    assert!(matches!(late.next().await, Some(Notification::Snapshot(s)) if s.members.len() == 1));
    assert!(late.next().await.is_none());
}

/// `members()` as JSON: one object per member with its address as `ip:port`, its state by
/// name, and a time; and back to the same values.
#[cfg(feature = "serde")]
#[tokio::test(start_paused = true)]
async fn members_serialise_with_serde_json() {
    let network = Network::default();
    let a = node(&network, 0).await;
    let b = node(&network, 1).await;
    b.join([a.advertise_addr().to_string()]).await.unwrap();
    eventually("both see two", || {
        a.num_members() == 2 && b.num_members() == 2
    })
    .await;

    let members = sorted(a.members());
    let json = serde_json::to_value(&members).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for (m, node) in list.iter().zip([&a, &b]) {
        assert_eq!(m["name"], node.name());
        assert_eq!(m["addr"], node.advertise_addr().to_string());
        assert_eq!(m["state"], "alive");
        assert_eq!(m["meta"], "");
        assert!(m["incarnation"].is_u64());
        assert!(m["state_changed_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(m["protocol"]["current"], 2);
    }
    let back: Vec<MemberInfo> = serde_json::from_value(json).unwrap();
    assert_eq!(back, members);

    // An event, tagged by kind.
    let event = MemberEvent::Failed(members[1].clone());
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["event"], "failed");
    assert_eq!(json["name"], "node1");
    assert_eq!(serde_json::from_value::<MemberEvent>(json).unwrap(), event);
    a.shutdown().await;
    b.shutdown().await;
}
