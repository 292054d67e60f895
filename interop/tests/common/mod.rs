//! What the mixed Rust + Go tests share: Rust nodes configured like the Go peers, a delegate
//! that records what arrives, and polling helpers.
//!
//! Every Rust node runs the `memberlist::runtime` driver over `memberlist-net` on
//! 127.0.0.1 with a kernel-chosen port, LZW compression and protocol version 2, with the
//! timers of [`GoPeerConfig::fast`] (probe every 200 ms, probe timeout 100 ms, suspicion
//! multiplier 2, gossip every 50 ms) and a push/pull every 2 s on top of the local preset,
//! as the Go peers use.
//!
//! [`GoPeer`]'s methods block (they wait on the Go process), so the tests call them through
//! [`blocking`] (`tokio::task::block_in_place`) and run on the multi-threaded runtime: the
//! Rust nodes' tasks keep running on the other worker meanwhile.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use memberlist::runtime::{Config, MemberInfo, Memberlist};
use memberlist_aes_gcm::{Keyring, SecretKey};
use memberlist_core::delegate::Delegate;
use memberlist_core::machine::State;
use memberlist_interop::{Event, GoPeer, GoPeerConfig, NodeInfo, NodeState};
use memberlist_net::NetTransport;

// Not every test file uses every helper.
#[allow(unused_imports)]
pub use memberlist::testing::{PATIENCE, eventually, wait_event};

/// A Rust node as these tests run it.
pub type RustNode = Memberlist<NetTransport, TestDelegate>;

/// A list shared between a delegate (inside the node's driver task) and the test.
#[derive(Debug)]
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Clone> Log<T> {
    pub fn push(&self, item: T) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(item);
    }

    pub fn items(&self) -> Vec<T> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn any(&self, pred: impl Fn(&T) -> bool) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(pred)
    }
}

/// Announces `meta` and `state`, gossips `outbox` through the `broadcasts` hook (each
/// message a given number of times), and records user messages and merged remote state.
#[derive(Default)]
pub struct TestDelegate {
    pub meta: Bytes,
    pub state: Bytes,
    /// User broadcasts still to hand out, with how many more transmissions each gets.
    pub outbox: Vec<(Bytes, u32)>,
    pub messages: Log<Bytes>,
    pub merged: Log<(Bytes, bool)>,
}

impl TestDelegate {
    pub fn with_meta(meta: impl Into<Bytes>) -> Self {
        Self {
            meta: meta.into(),
            ..Self::default()
        }
    }
}

impl Delegate for TestDelegate {
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        self.meta.clone()
    }

    fn notify_message(&mut self, msg: Bytes) {
        self.messages.push(msg);
    }

    fn broadcasts(&mut self, overhead: usize, limit: usize) -> Vec<Bytes> {
        let mut used = 0;
        let mut out = Vec::new();
        for (msg, left) in &mut self.outbox {
            let cost = overhead + msg.len();
            if *left == 0 || used + cost > limit {
                continue;
            }
            used += cost;
            *left -= 1;
            out.push(msg.clone());
        }
        self.outbox.retain(|(_, left)| *left > 0);
        out
    }

    fn has_broadcasts(&self) -> bool {
        !self.outbox.is_empty()
    }

    fn local_state(&mut self, _join: bool) -> Bytes {
        self.state.clone()
    }

    fn merge_remote_state(&mut self, state: Bytes, join: bool) {
        self.merged.push((state, join));
    }
}

/// The probe interval of [`GoPeerConfig::fast`], used on both sides.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// The probe timeout of [`GoPeerConfig::fast`].
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(100);
/// The suspicion multiplier of [`GoPeerConfig::fast`].
pub const SUSPICION_MULT: u32 = 2;
/// The gossip interval of [`GoPeerConfig::fast`].
pub const GOSSIP_INTERVAL: Duration = Duration::from_millis(50);

/// The push/pull interval of every node in these tests (the local preset's is 15 s).
///
/// With the local preset's `RetransmitMult` of 2, an alive broadcast is sent only twice in
/// a small cluster, to random targets; a node that joins at the same moment as another can
/// miss every copy and learn of the other only from a periodic push/pull. Measured on
/// 4-node clusters whose last two nodes join at once through different seeds: 6 of 30
/// all-Go clusters took 18–24 s to converge, 10 of 30 all-Rust ones 1–14 s (the others all
/// within 100 ms). A short push/pull interval keeps every test's convergence within a few
/// seconds whatever the gossip's luck.
pub const PUSH_PULL_INTERVAL: Duration = Duration::from_secs(2);

/// Go's local preset with [`GoPeerConfig::fast`]'s timers and [`PUSH_PULL_INTERVAL`]: what
/// the Go peers run.
pub fn fast_config(name: &str) -> Config {
    let mut c = Config::local(name);
    let p = &mut c.protocol;
    p.probe_interval = PROBE_INTERVAL;
    p.probe_timeout = PROBE_TIMEOUT;
    p.suspicion_mult = SUSPICION_MULT;
    p.gossip_interval = GOSSIP_INTERVAL;
    p.push_pull_interval = PUSH_PULL_INTERVAL;
    c
}

/// The Go peer's fast configuration with [`PUSH_PULL_INTERVAL`], checked against the Rust
/// side's constants so the two cannot drift apart.
pub fn go_fast(name: &str) -> GoPeerConfig {
    let mut c = GoPeerConfig::fast(name);
    assert_eq!(c.probe_interval, Some(PROBE_INTERVAL));
    assert_eq!(c.probe_timeout, Some(PROBE_TIMEOUT));
    assert_eq!(c.suspicion_mult, Some(SUSPICION_MULT));
    assert_eq!(c.gossip_interval, Some(GOSSIP_INTERVAL));
    c.pushpull_interval = Some(PUSH_PULL_INTERVAL);
    c
}

/// Starts a Rust node on 127.0.0.1 (kernel-chosen port) as the default builder makes it (Go's
/// LZW registered, compressing when `config.compression` is on) and, if `keys` is not empty, AES-GCM with those keys
/// (the first is primary).
pub async fn start_rust(config: Config, delegate: TestDelegate, keys: &[&[u8]]) -> RustNode {
    let transport = NetTransport::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind 127.0.0.1:0");
    let config = match keys.split_first() {
        None => config,
        Some((primary, others)) => {
            let key = |k: &[u8]| SecretKey::new(k).expect("valid key");
            config.with_keyring(Keyring::with_keys(
                key(primary),
                others.iter().map(|k| key(k)),
            ))
        }
    };
    Memberlist::builder(config)
        .transport(transport)
        .delegate(delegate)
        .start()
        .await
        .expect("Rust node starts")
}

/// A fast Rust node with a metadata string and nothing else.
pub async fn rust(name: &str, meta: &str) -> RustNode {
    start_rust(
        fast_config(name),
        TestDelegate::with_meta(meta.to_owned()),
        &[],
    )
    .await
}

/// Runs blocking Go-peer work without stalling the runtime's other tasks.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

/// Starts a Go peer (and its start-up join, if any).
pub fn spawn_go(config: GoPeerConfig) -> GoPeer {
    let name = config.name.clone();
    blocking(|| GoPeer::spawn(config)).unwrap_or_else(|e| panic!("Go peer {name}: {e}"))
}

/// Every node the Go peer knows, dead and left ones included.
pub fn go_members(peer: &GoPeer) -> Vec<NodeInfo> {
    blocking(|| peer.members()).unwrap_or_else(|e| panic!("members of {}: {e}", peer.name()))
}

/// What the Go peer holds about `name`.
pub fn go_member(peer: &GoPeer, name: &str) -> Option<NodeInfo> {
    go_members(peer).into_iter().find(|m| m.name == name)
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort_unstable();
    names
}

fn want(names: &[&str]) -> Vec<String> {
    sorted(names.iter().map(|s| (*s).to_owned()).collect())
}

/// Whether the Go peer knows exactly `names`, all alive.
pub fn go_sees_alive(peer: &GoPeer, names: &[&str]) -> bool {
    let members = go_members(peer);
    members.iter().all(|m| m.state == NodeState::Alive)
        && sorted(members.into_iter().map(|m| m.name).collect()) == want(names)
}

/// Whether the Rust node knows exactly `names`, all alive.
pub fn rust_sees_alive(node: &RustNode, names: &[&str]) -> bool {
    let members = node.all_members();
    members.iter().all(|m| m.state == State::Alive)
        && sorted(members.into_iter().map(|m| m.name.to_string()).collect()) == want(names)
}

/// Waits until every Go peer and every Rust node knows exactly `names`, all alive; on
/// timeout the failure shows what each node holds.
pub async fn wait_converged(go: &[&GoPeer], rust: &[&RustNode], names: &[&str]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if go.iter().all(|p| go_sees_alive(p, names))
            && rust.iter().all(|n| rust_sees_alive(n, names))
        {
            return;
        }
        if Instant::now() > deadline {
            let mut views = String::new();
            for p in go {
                let members: Vec<String> = go_members(p)
                    .iter()
                    .map(|m| format!("{}={}", m.name, m.state.as_str()))
                    .collect();
                views.push_str(&format!("\n  go {}: {members:?}", p.name()));
            }
            for n in rust {
                let members: Vec<String> = n
                    .all_members()
                    .iter()
                    .map(|m| format!("{}={}", m.name, m.state))
                    .collect();
                views.push_str(&format!("\n  rust {}: {members:?}", n.name()));
            }
            panic!("timed out waiting until every node sees {names:?} alive:{views}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The member the Rust node holds under `name`.
pub fn rust_member(node: &RustNode, name: &str) -> Option<MemberInfo> {
    node.member(name)
}

/// Waits until the Go peer has received the user message `data`.
pub fn go_received(peer: &GoPeer, data: &[u8]) -> bool {
    blocking(|| {
        peer.wait_for(
            |e| matches!(e, Event::Message(d) if d == data),
            Duration::ZERO,
        )
    })
    .is_some()
}

/// The Go peer's address as a join string.
pub fn addr_of_go(peer: &GoPeer) -> String {
    peer.addr().to_string()
}

/// The Rust node's address as a join string.
pub fn addr_of_rust(node: &RustNode) -> String {
    node.advertise_addr().to_string()
}

/// Shuts every Rust node down.
pub async fn shutdown_all(nodes: &[&RustNode]) {
    for node in nodes {
        node.shutdown().await;
    }
}

/// Fails the test if a Go peer has exited.
pub fn assert_running(peers: &[&GoPeer]) {
    for p in peers {
        assert!(
            p.exit_status().is_none(),
            "Go peer {} exited: {:?}\n{}",
            p.name(),
            p.exit_status(),
            p.logs().join("\n")
        );
    }
}

/// What Go memberlist logs when it cannot read what it received: any of these on a Go
/// peer's stderr means a Rust node sent something Go misunderstood (or, in the tests that
/// mix keys, something Go rightly refused).
pub const GO_WIRE_ERRORS: &[&str] = &[
    "Failed to decode",
    "failed to receive",
    "Failed to receive user message",
    "Failed to read remote state",
    "Failed push/pull merge",
    "invalid msgType",
    "Decrypt packet failed",
    "invalid checksum",
    "not supported",
    "truncated messages",
    "Failed to decompress",
    "UDP packet too short",
    "protocol version(s) are wrong",
    "Vsn is not present",
    "ignoring alive message",
    "Rejected node",
    "Refuting an alive message",
    "Conflicting address",
    "Got ping for unexpected node",
];

/// The lines of the Go peer's log that report a message it could not read.
pub fn go_wire_errors(peer: &GoPeer) -> Vec<String> {
    peer.logs()
        .into_iter()
        .filter(|l| GO_WIRE_ERRORS.iter().any(|p| l.contains(p)))
        .collect()
}

/// Waits until the Go peer's log has a line containing `needle` (its stderr is read by a
/// thread, so a line Go wrote just before answering may not be in yet).
pub async fn wait_go_log(peer: &GoPeer, needle: &str) {
    eventually(&format!("{} logs {needle:?}", peer.name()), || {
        peer.logs().iter().any(|l| l.contains(needle))
    })
    .await;
}

/// Fails the test if a Go peer logged a message it could not read.
pub fn assert_no_go_wire_errors(peers: &[&GoPeer]) {
    for p in peers {
        let errors = go_wire_errors(p);
        assert!(
            errors.is_empty(),
            "Go peer {} could not read what it got:\n{}",
            p.name(),
            errors.join("\n")
        );
    }
}

/// Fails the test if a Rust node dropped a datagram or an inbound stream it could not read.
pub fn assert_no_rust_wire_errors(nodes: &[&RustNode]) {
    for n in nodes {
        let stats = n.stats();
        assert_eq!(
            (stats.protocol.packets_dropped, stats.inbound_stream_errors),
            (0, 0),
            "Rust node {} dropped datagrams or streams: {stats:?}",
            n.name()
        );
    }
}

/// Payloads that compress well and badly, and that are not UTF-8.
pub fn payloads(tag: &str) -> (Vec<u8>, Vec<u8>) {
    let small: Vec<u8> = format!("{tag}:")
        .into_bytes()
        .into_iter()
        .chain([0xff, 0x00, 0x80])
        .collect();
    let big: Vec<u8> = format!("{tag}:")
        .into_bytes()
        .into_iter()
        .chain((0..20_000u32).map(|i| (i % 251) as u8))
        .collect();
    (small, big)
}

/// Rust ↔ Go user messages, best-effort (UDP) and reliable (TCP), in both directions.
pub async fn exchange_messages(r: &RustNode, g: &GoPeer) {
    let (udp_small, _) = payloads("rs->go udp");
    let udp_big = vec![b'u'; 1000];
    let (tcp_small, tcp_big) = payloads("rs->go tcp");
    r.send_best_effort(g.name(), &udp_small).await.unwrap();
    r.send_best_effort(g.name(), &udp_big).await.unwrap();
    r.send_reliable(g.name(), &tcp_small).await.unwrap();
    r.send_reliable(g.name(), &tcp_big).await.unwrap();
    for (what, data) in [
        ("small UDP", &udp_small),
        ("big UDP", &udp_big),
        ("small TCP", &tcp_small),
        ("big TCP", &tcp_big),
    ] {
        let context = format!(
            "{} receives {}'s {what} message (Go log: {:?})",
            g.name(),
            r.name(),
            go_wire_errors(g)
        );
        eventually(&context, || go_received(g, data)).await;
    }

    let (udp_small, _) = payloads("go->rs udp");
    let udp_big = vec![b'g'; 1000];
    let (tcp_small, tcp_big) = payloads("go->rs tcp");
    blocking(|| {
        g.send_best_effort(r.name(), &udp_small)?;
        g.send_best_effort(r.name(), &udp_big)?;
        g.send_reliable(r.name(), &tcp_small)?;
        g.send_reliable(r.name(), &tcp_big)
    })
    .expect("Go sends");
    let inbox = r.with_delegate(|d| d.messages.clone()).await.unwrap();
    for (what, data) in [
        ("small UDP", udp_small),
        ("big UDP", udp_big),
        ("small TCP", tcp_small),
        ("big TCP", tcp_big),
    ] {
        let context = format!(
            "{} receives {}'s {what} message ({:?})",
            r.name(),
            g.name(),
            r.stats()
        );
        eventually(&context, || inbox.any(|m| *m == data)).await;
    }
}
