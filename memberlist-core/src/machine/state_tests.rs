//! The incarnation rule and the remote metadata limit, in virtual time (the machine's `now`).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{AliveSource, supersedes};
use crate::delegate::NoopDelegate;
use crate::machine::{Event, Machine, ProtocolConfig, State};
use crate::metrics::{Counter, InMemoryMetrics};
use crate::wire::{Alive, Dead, IpBytes, Limit, Pipeline, Suspect, Vsn, WireMessage};

const MAX: u32 = u32::MAX;

fn machine(name: &str, jump: u32, now: Instant) -> (Machine<NoopDelegate>, Arc<InMemoryMetrics>) {
    let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let mut cfg = ProtocolConfig::lan(name);
    cfg.max_incarnation_jump = jump;
    let mut m = Machine::new(cfg, Pipeline::new(), addr, NoopDelegate, 7, now).unwrap();
    let sink = Arc::new(InMemoryMetrics::new());
    m.set_metrics(Arc::clone(&sink) as _);
    while m.poll_event().is_some() {}
    (m, sink)
}

fn alive(node: &str, incarnation: u32, meta: &[u8]) -> Alive {
    Alive {
        incarnation,
        node: node.into(),
        addr: IpBytes::from([10, 0, 0, 2]),
        port: 7946,
        meta: Bytes::copy_from_slice(meta),
        vsn: Vsn::default_advertised(),
    }
}

fn dead(node: &str, incarnation: u32, from: &str) -> Dead {
    Dead {
        incarnation,
        node: node.into(),
        from: from.into(),
    }
}

fn limit(sink: &InMemoryMetrics, limit: Limit) -> u64 {
    sink.counter(Counter::LimitExceeded(limit))
}

/// A machine that knows `b` alive at incarnation 5.
fn with_b(jump: u32, now: Instant) -> (Machine<NoopDelegate>, Arc<InMemoryMetrics>) {
    let (mut m, sink) = machine("a", jump, now);
    assert!(m.handle_alive(&alive("b", 5, b"v1"), AliveSource::Remote, now));
    while m.poll_event().is_some() {}
    (m, sink)
}

#[test]
fn supersedes_treats_max_as_spent() {
    assert!(supersedes(6, 5));
    assert!(!supersedes(5, 5) && !supersedes(4, 5));
    assert!(supersedes(1, MAX) && supersedes(0, MAX));
    assert!(
        !supersedes(MAX, MAX),
        "equal is old news, so no gossip loop"
    );
    assert!(supersedes(MAX, MAX - 1));
}

#[test]
fn a_forged_alive_at_max_is_refused_and_the_real_node_still_updates() {
    let now = Instant::now();
    let (mut m, sink) = with_b(ProtocolConfig::lan("x").max_incarnation_jump, now);
    assert!(!m.handle_alive(&alive("b", MAX, b"forged"), AliveSource::Remote, now));
    let b = m.member("b").unwrap();
    assert_eq!((b.incarnation, &b.meta[..]), (5, &b"v1"[..]));
    assert_eq!(limit(&sink, Limit::IncarnationJump), 1);
    // The real b moves on by one, as a refutation or a metadata update does.
    assert!(m.handle_alive(&alive("b", 6, b"v2"), AliveSource::Remote, now));
    assert_eq!(m.member("b").unwrap().incarnation, 6);
    assert!(matches!(m.poll_event(), Some(Event::Update(u)) if &u.meta[..] == b"v2"));
    // A large but plausible step is still fine.
    assert!(m.handle_alive(&alive("b", 6 + 1000, b"v2"), AliveSource::Remote, now));
}

#[test]
fn with_the_jump_check_off_an_alive_at_max_still_does_not_pin() {
    let now = Instant::now();
    let (mut m, _) = with_b(0, now);
    assert!(m.handle_alive(&alive("b", MAX, b"forged"), AliveSource::Remote, now));
    assert_eq!(m.member("b").unwrap().incarnation, MAX);
    // Echoes of the forged message are old news (no rebroadcast loop) ...
    assert!(!m.handle_alive(&alive("b", MAX, b"forged"), AliveSource::Remote, now));
    // ... and the real node's next message takes its entry back.
    assert!(m.handle_alive(&alive("b", 6, b"v2"), AliveSource::Remote, now));
    let b = m.member("b").unwrap();
    assert_eq!((b.incarnation, &b.meta[..]), (6, &b"v2"[..]));
}

#[test]
fn a_forged_dead_at_max_is_refused() {
    let now = Instant::now();
    let (mut m, sink) = with_b(ProtocolConfig::lan("x").max_incarnation_jump, now);
    assert!(!m.handle_dead(&dead("b", MAX, "mallory"), now));
    let suspect = Suspect {
        incarnation: MAX,
        node: "b".into(),
        from: "mallory".into(),
    };
    assert!(!m.handle_suspect(&suspect, now));
    assert_eq!(m.member("b").unwrap().state, State::Alive);
    assert_eq!(limit(&sink, Limit::IncarnationJump), 2);
    // An honest accusation at the known incarnation still works.
    assert!(m.handle_dead(&dead("b", 5, "c"), now));
    assert_eq!(m.member("b").unwrap().state, State::Dead);
}

#[test]
fn a_node_dead_at_max_can_rejoin() {
    let now = Instant::now();
    let (mut m, _) = with_b(0, now);
    assert!(m.handle_dead(&dead("b", MAX, "mallory"), now));
    assert_eq!(m.member("b").unwrap().state, State::Dead);
    while m.poll_event().is_some() {}
    // b restarts (incarnation 1) an hour later and announces itself.
    let later = now + Duration::from_secs(3600);
    assert!(m.handle_alive(&alive("b", 1, b"v1"), AliveSource::Remote, later));
    let b = m.member("b").unwrap();
    assert_eq!((b.state, b.incarnation), (State::Alive, 1));
    assert!(matches!(m.poll_event(), Some(Event::Join(j)) if j.name == "b"));
}

#[test]
fn accused_at_max_we_refute_with_our_next_incarnation_and_peers_accept_it() {
    let now = Instant::now();
    let (mut a, sink) = machine("a", ProtocolConfig::lan("x").max_incarnation_jump, now);
    let before = a.local_member().unwrap().incarnation;
    assert!(!a.handle_dead(&dead("a", MAX, "mallory"), now));
    let me = a.local_member().unwrap();
    assert_eq!(me.state, State::Alive);
    assert_eq!(me.incarnation, before + 1, "not chasing u32::MAX");
    assert_eq!(limit(&sink, Limit::IncarnationCeiling), 1);
    assert_eq!(sink.counter(Counter::Refutations), 1);

    // A peer (jump check off) that believed the forgery takes the refutation.
    let (mut c, _) = machine("c", 0, now);
    let mut about_a = alive("a", 1, b"");
    assert!(c.handle_alive(&about_a, AliveSource::Remote, now));
    assert!(c.handle_dead(&dead("a", MAX, "mallory"), now));
    about_a.incarnation = before + 1;
    assert!(c.handle_alive(&about_a, AliveSource::Remote, now));
    assert_eq!(c.member("a").unwrap().state, State::Alive);
}

#[test]
fn refutations_follow_go_below_max_and_wrap_to_one_at_it() {
    let now = Instant::now();
    let (mut a, sink) = machine("a", 0, now);
    let suspect = |incarnation| Suspect {
        incarnation,
        node: "a".into(),
        from: "b".into(),
    };
    a.handle_suspect(&suspect(1000), now);
    assert_eq!(
        a.local_member().unwrap().incarnation,
        1001,
        "Go: accused + 1"
    );
    a.handle_suspect(&suspect(MAX - 1), now);
    assert_eq!(a.local_member().unwrap().incarnation, MAX);
    a.handle_suspect(&suspect(MAX), now);
    assert_eq!(a.local_member().unwrap().incarnation, 1, "wrapped, not 0");
    assert_eq!(limit(&sink, Limit::IncarnationCeiling), 1);
}

#[test]
fn unknown_nodes_are_not_bounded() {
    let now = Instant::now();
    let (mut m, sink) = machine("a", ProtocolConfig::lan("x").max_incarnation_jump, now);
    assert!(m.handle_alive(
        &alive("old-timer", 5_000_000, b""),
        AliveSource::Remote,
        now
    ));
    assert_eq!(limit(&sink, Limit::IncarnationJump), 0);
}

#[test]
fn oversized_remote_metadata_is_refused() {
    let now = Instant::now();
    let (mut m, sink) = machine("a", 0, now);
    assert!(!m.handle_alive(&alive("b", 1, &[7; 513]), AliveSource::Remote, now));
    assert!(m.member("b").is_none());
    assert_eq!(limit(&sink, Limit::RemoteMeta), 1);
    assert!(m.handle_alive(&alive("b", 1, &[7; 512]), AliveSource::Remote, now));
    assert_eq!(m.member("b").unwrap().meta.len(), 512);
}

/// Announces more metadata than Go's `MetaMaxSize`.
struct Chatty;

impl crate::delegate::Delegate for Chatty {
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        Bytes::from(vec![9u8; 600])
    }
}

#[test]
fn our_own_metadata_is_truncated_to_512_bytes() {
    // Go panics here; we announce the first 512 bytes and log a warning.
    let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let now = Instant::now();
    let mut m = Machine::new(
        ProtocolConfig::lan("a"),
        Pipeline::new(),
        addr,
        Chatty,
        1,
        now,
    )
    .unwrap();
    assert_eq!(m.local_member().unwrap().meta.len(), 512);
    m.update_meta(now);
    assert_eq!(m.local_member().unwrap().meta.len(), 512);
}

/// The alive messages among the datagrams `m` sent to `to` (queued gossip rides along).
fn alives_sent_to(m: &mut Machine<NoopDelegate>, to: SocketAddr) -> Vec<Alive> {
    let mut found = Vec::new();
    while let Some(t) = m.poll_transmit() {
        if t.to != to {
            continue;
        }
        let decoded = Pipeline::new().decode_packet(&t.data).unwrap();
        for msg in decoded.messages {
            if let crate::wire::Message::Alive(a) = msg {
                found.push(a);
            }
        }
    }
    found
}

#[test]
fn a_stale_suspicion_is_answered_with_the_newer_incarnation_to_its_relayer() {
    // `a` holds `b` alive at 5; a relayer still passes on a suspicion of `b` at 4 (it missed
    // the refutation). `a` sends it `b`'s alive at 5 — and nothing for a current suspicion.
    let now = Instant::now();
    let (mut m, _) = with_b(0, now);
    while m.poll_transmit().is_some() {}
    let relayer: SocketAddr = "10.0.0.9:7946".parse().unwrap();
    let stale = Suspect {
        incarnation: 4,
        node: "b".into(),
        from: "c".into(),
    };
    m.handle_datagram(now, relayer, &stale.to_bytes());
    let sent = alives_sent_to(&mut m, relayer);
    assert!(
        sent.iter().any(|a| a.node == "b" && a.incarnation == 5),
        "{sent:?}"
    );
    assert_eq!(m.member("b").unwrap().state, State::Alive);
    let current = Suspect {
        incarnation: 5,
        ..stale
    };
    m.handle_datagram(now, relayer, &current.to_bytes());
    assert!(alives_sent_to(&mut m, relayer).is_empty());
    assert_eq!(m.member("b").unwrap().state, State::Suspect);
}

#[test]
fn a_stale_accusation_about_ourselves_is_answered_with_our_incarnation_again() {
    // `a` refuted up to incarnation 3; a suspicion at 2 arrives: no new incarnation, but
    // our current alive message goes out again (directly to the relayer and by gossip).
    let now = Instant::now();
    let (mut m, _) = machine("a", 0, now);
    let s = |incarnation| Suspect {
        incarnation,
        node: "a".into(),
        from: "c".into(),
    };
    let relayer: SocketAddr = "10.0.0.9:7946".parse().unwrap();
    m.handle_datagram(now, relayer, &s(2).to_bytes());
    let refuted = m.member("a").unwrap().incarnation;
    assert_eq!(refuted, 3);
    while m.poll_transmit().is_some() {}
    m.handle_datagram(now, relayer, &s(2).to_bytes());
    assert_eq!(
        m.member("a").unwrap().incarnation,
        refuted,
        "no new incarnation"
    );
    let sent = alives_sent_to(&mut m, relayer);
    assert!(
        sent.iter().any(|a| a.node == "a" && a.incarnation == 3),
        "{sent:?}"
    );
}
