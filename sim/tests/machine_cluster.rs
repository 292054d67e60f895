//! Small clusters of protocol machines on the simulator's engine: join, failure detection,
//! leave, refutation, metadata updates and user messages, with checks on the timing bounds
//! of Go's formulas and on the datagrams put on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use memberlist_core::machine::broadcast::BroadcastKey;
use memberlist_core::machine::{Event, PushPullError, State, StreamError};
use memberlist_core::wire::{Suspect, WireMessage};
use memberlist_sim::{Sent, Sim, SimConfig, node_addr, node_name};

/// `n` LAN nodes on links of exactly 1 ms, every event recorded.
fn lan(n: usize, seed: u64) -> SimConfig {
    let mut cfg = SimConfig::lan(n, seed);
    cfg.net.jitter = Duration::ZERO;
    cfg.record_events = true;
    cfg
}

/// The nodes of `cfg`, every one but node 0 joining through node 0.
fn joined(cfg: SimConfig) -> Sim {
    let mut sim = Sim::new(cfg).unwrap();
    sim.join_all_through(0);
    sim
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The events node `i` emitted.
fn events_of(sim: &Sim, i: usize) -> impl Iterator<Item = &Event> {
    sim.events()
        .iter()
        .filter(move |e| e.node == i)
        .map(|e| &e.event)
}

fn state_of(sim: &Sim, observer: usize, node: usize) -> Option<State> {
    sim.machine(observer)
        .member(&node_name(node))
        .map(|m| m.state)
}

/// When `observer` first saw `node` leave (dead or left).
fn leave_time(sim: &Sim, observer: usize, node: usize) -> Option<Duration> {
    let name = node_name(node);
    sim.events().iter().find_map(|e| match &e.event {
        Event::Leave(m) if e.node == observer && m.name == name => Some(e.at),
        _ => None,
    })
}

#[test]
fn five_nodes_join_through_one_seed() {
    let mut sim = joined(lan(5, 1));
    sim.run_until(secs(3));
    assert!(sim.converged(), "not everyone sees 5 alive members");
    for i in 0..5 {
        let joins = events_of(&sim, i)
            .filter(|e| matches!(e, Event::Join(_)))
            .count();
        assert_eq!(joins, 5, "node {i} saw {joins} joins");
        assert!(events_of(&sim, i).all(|e| !matches!(
            e,
            Event::JoinResult {
                contacted: false,
                ..
            }
        )));
    }
    // Healthy cluster: nobody suspected, awareness at 0.
    sim.run_until(secs(30));
    for i in 0..5 {
        let m = sim.machine(i);
        assert_eq!(m.health_score(), 0);
        assert_eq!(sim.stats(i).suspect, 0);
        assert!(m.members().all(|m| m.state == State::Alive));
    }
    sim.check().unwrap();
}

#[test]
fn crashed_node_goes_suspect_then_dead_within_the_model() {
    let n = 10;
    let mut sim = joined(lan(n, 7));
    sim.run_until(secs(10));
    assert!(sim.converged());
    let crash_at = sim.elapsed();
    sim.crash(9);
    sim.run_until(crash_at + secs(30));
    // LAN, N = 10: suspicion min 4 s, max 24 s, k = 2 confirmations.
    let (min, max) = (secs(4), secs(24));
    for observer in 0..n - 1 {
        assert_eq!(
            state_of(&sim, observer, 9),
            Some(State::Dead),
            "observer {observer}"
        );
        let seen = leave_time(&sim, observer, 9).expect("a leave event") - crash_at;
        assert!(
            seen >= min,
            "observer {observer} declared death after {seen:?} < {min:?}"
        );
        assert!(seen <= max + secs(5), "observer {observer}: {seen:?}");
    }
    // Nobody else was harmed.
    for observer in 0..n - 1 {
        for other in 0..n - 1 {
            assert_eq!(state_of(&sim, observer, other), Some(State::Alive));
        }
    }
    sim.check().unwrap();
}

#[test]
fn graceful_leave_is_seen_as_left() {
    let mut sim = joined(lan(4, 3));
    sim.run_until(secs(5));
    let id = sim.leave(3);
    sim.run_until(secs(8));
    assert!(
        events_of(&sim, 3).any(|e| matches!(e, Event::BroadcastFinished(i) if *i == id)),
        "leave broadcast never finished"
    );
    sim.crash(3);
    for observer in 0..3 {
        assert_eq!(state_of(&sim, observer, 3), Some(State::Left));
    }
    // Left nodes are reaped after GossipToTheDeadTime (30 s) on the next probe wrap.
    sim.run_until(secs(45));
    for observer in 0..3 {
        assert_eq!(
            state_of(&sim, observer, 3),
            None,
            "observer {observer} kept the left node"
        );
        assert_eq!(sim.machine(observer).num_members(), 3);
    }
    sim.check().unwrap();
}

#[test]
fn indirect_probes_cover_one_broken_link() {
    let mut sim = joined(lan(5, 11));
    sim.run_until(secs(5));
    // Cut node 0 <-> node 4 only: node 0's probes of 4 fail directly, but relays reach it and
    // gossip about the suspicion lets node 4 refute.
    sim.net_mut().cut(0, 4);
    sim.run_until(secs(60));
    for observer in 0..4 {
        assert_eq!(
            state_of(&sim, observer, 4),
            Some(State::Alive),
            "observer {observer}"
        );
    }
    // Relays answered for node 4, so it was never suspected.
    let suspected: u64 = (0..5).map(|i| sim.stats(i).suspect).sum();
    assert_eq!(suspected, 0);
    sim.check().unwrap();
}

#[test]
fn falsely_suspected_node_refutes() {
    let mut sim = joined(lan(5, 13));
    sim.run_until(secs(5));
    let before = sim.machine(4).local_member().unwrap().incarnation;
    // Node 1 tells node 2 that node 4 is suspect.
    let suspect = Suspect {
        incarnation: before,
        node: "node-4".into(),
        from: "node-1".into(),
    };
    sim.input(2, |m, now| {
        m.handle_datagram(now, node_addr(1), &suspect.to_bytes());
    });
    assert_eq!(state_of(&sim, 2, 4), Some(State::Suspect));
    sim.run_until(secs(15));
    let after = sim.machine(4).local_member().unwrap().incarnation;
    assert!(after > before, "incarnation {before} -> {after}");
    assert_eq!(sim.stats(4).refutations, 1);
    for observer in 0..5 {
        assert_eq!(
            state_of(&sim, observer, 4),
            Some(State::Alive),
            "observer {observer}"
        );
        assert_eq!(
            sim.machine(observer).member("node-4").unwrap().incarnation,
            after
        );
    }
    sim.check().unwrap();
}

#[test]
fn metadata_updates_and_user_messages_spread() {
    let mut sim = joined(lan(4, 5));
    sim.run_until(secs(5));
    sim.update_meta(2, Bytes::from_static(b"role=db"));
    sim.input(0, |m, now| {
        m.send_best_effort(now, "node-1", b"hello").unwrap();
        m.send_reliable(now, "node-3", b"world").unwrap();
    });
    sim.run_until(secs(8));
    for observer in [0, 1, 3] {
        let m = sim.machine(observer).member("node-2").unwrap();
        assert_eq!(&m.meta[..], b"role=db");
        assert!(
            events_of(&sim, observer).any(|e| matches!(e, Event::Update(m) if m.name == "node-2"))
        );
    }
    let messages = |i| &sim.machine(i).delegate().messages;
    assert_eq!(messages(1), &[Bytes::from_static(b"hello")]);
    assert_eq!(messages(3), &[Bytes::from_static(b"world")]);
    assert!(messages(0).is_empty() && messages(2).is_empty());
    sim.check().unwrap();
}

/// Every running node lists every running node alive.
fn all_alive(sim: &Sim) -> bool {
    (0..sim.len()).filter(|&i| sim.is_up(i)).all(|observer| {
        (0..sim.len())
            .filter(|&i| sim.is_up(i))
            .all(|node| state_of(sim, observer, node) == Some(State::Alive))
    })
}

/// Splits `cfg`'s nodes 3|3 for `hold`, heals, and returns how long after the heal every
/// node listed every node alive again (`None`: not within 60 s).
fn heal_time(cfg: SimConfig, hold: Duration) -> Option<Duration> {
    let n = cfg.nodes;
    let mut sim = joined(cfg);
    sim.run_until(secs(5));
    assert!(sim.converged());
    // Nodes 0..=2 on one side, 3..=5 on the other.
    sim.net_mut().partition(|i| u32::from(i >= n / 2));
    let split = sim.elapsed();
    sim.run_until(split + hold);
    assert!(!all_alive(&sim), "the sides never saw each other fail");
    sim.net_mut().heal();
    let healed = sim.elapsed();
    let mut t = healed;
    while t < healed + secs(60) {
        t += Duration::from_millis(100);
        sim.run_until(t);
        if all_alive(&sim) {
            sim.check().unwrap();
            return Some(t - healed);
        }
    }
    None
}

#[test]
fn partition_heals_within_seconds_without_a_manual_rejoin() {
    // 40 s: each side lists the other as dead; 125 s: past the reaping delay, each side
    // has forgotten the other (they come back as new members).
    for hold in [secs(40), secs(125)] {
        for seed in 21..24 {
            let mut cfg = lan(6, seed);
            if seed == 23 {
                cfg.protocol = memberlist_core::machine::ProtocolConfig::local("");
            }
            let took = heal_time(cfg, hold);
            assert!(
                took.is_some_and(|t| t <= secs(5)),
                "hold {hold:?}, seed {seed}: healed after {took:?}, bound 5 s"
            );
        }
    }
}

#[test]
fn without_reconnection_a_partition_does_not_heal() {
    // The check above can fail: Go's behaviour (no reconnection) never heals.
    let mut cfg = lan(6, 21);
    cfg.protocol.reconnect_interval = Duration::ZERO;
    assert_eq!(heal_time(cfg, secs(125)), None);
}

/// The datagrams a steady 6-node cluster sends from 10 s to 70 s, as (when, from, to,
/// bytes), with reconnection as `cfg` sets it and every node given `seeds`.
fn steady_traffic(
    cfg: SimConfig,
    seeds: &[std::net::SocketAddr],
) -> Vec<(Duration, usize, std::net::SocketAddr, Vec<u8>)> {
    let mut sim = joined(cfg);
    for i in 0..sim.len() {
        sim.input(i, |m, _| m.set_seeds(seeds.iter().copied()));
    }
    sim.run_until(secs(10));
    assert!(sim.converged());
    sim.tap(true);
    sim.run_until(secs(70));
    sim.take_tapped()
        .into_iter()
        .map(|s| (s.at, s.from, s.to, s.data))
        .collect()
}

#[test]
fn reconnection_sends_nothing_while_nothing_has_failed() {
    let seeds = [node_addr(0), node_addr(1)];
    let mut off = lan(6, 31);
    off.protocol.reconnect_interval = Duration::ZERO;
    let with = steady_traffic(lan(6, 31), &seeds);
    assert!(with.len() > 500, "only {} datagrams", with.len());
    assert!(
        with == steady_traffic(off, &seeds),
        "reconnection changed the traffic of a cluster with nothing failed"
    );
    // A seed that is no member (a load balancer's address, say) costs one ping per
    // push/pull interval (30 s on LAN): two per node in the 60 s window.
    let absent = node_addr(99);
    let traffic = steady_traffic(lan(6, 31), &[node_addr(0), absent]);
    for node in 0..6 {
        let pings = traffic
            .iter()
            .filter(|(_, from, to, _)| *from == node && *to == absent)
            .count();
        assert!(
            (1..=2).contains(&pings),
            "node {node} sent {pings} datagrams to the absent seed in 60 s"
        );
    }
}

#[test]
fn reconnection_costs_one_ping_per_probe_interval_with_nodes_dead() {
    // Two of eight nodes crash; once the others stop gossiping to the dead (30 s after the
    // deaths), reconnection is the only traffic to them: one ping per probe interval (1 s)
    // per live node, whatever the number of dead nodes.
    let mut sim = joined(lan(8, 41));
    sim.run_until(secs(5));
    sim.crash(6);
    sim.crash(7);
    sim.run_until(secs(60));
    assert!(sim.converged());
    sim.tap(true);
    sim.run_until(secs(80));
    let dead = [node_addr(6), node_addr(7)];
    let tapped = sim.take_tapped();
    for node in 0..6 {
        let sent = tapped
            .iter()
            .filter(|s| s.from == node && dead.contains(&s.to))
            .count();
        assert!(
            (18..=21).contains(&sent),
            "node {node} sent {sent} datagrams to the dead in 20 s (1 per second expected)"
        );
    }
}

#[test]
fn a_node_restarted_alone_finds_the_cluster_through_its_seeds_right_after_a_heal() {
    // Node 5 restarts at a new address while cut off from everyone: its join fails, it
    // knows nobody, and nobody knows where it is. A node alone tries its seeds on every
    // reconnect attempt (not once per push/pull interval), so it is back within seconds of
    // the heal.
    let mut sim = joined(lan(6, 51));
    let seeds: Vec<_> = (0..6).map(node_addr).collect();
    sim.run_until(secs(5));
    sim.crash(5);
    sim.run_until(secs(10));
    sim.net_mut().partition(|i| u32::from(i == 5));
    sim.restart_elsewhere(5, 0).unwrap();
    sim.input(5, |m, _| m.set_seeds(seeds.iter().copied()));
    sim.run_until(secs(60));
    assert_eq!(sim.machine(5).num_members(), 1, "node 5 is not alone");
    sim.net_mut().heal();
    sim.run_until(secs(63));
    assert!(
        sim.machine(5).num_members() > 1,
        "node 5 did not find the cluster"
    );
    sim.check().unwrap();
}

#[test]
fn cidr_allow_list_keeps_other_networks_out() {
    // Node 3 only accepts 10.0.0.0/30 (nodes 0..=3); node 4 is 10.0.0.4.
    let mut cfg = lan(5, 17);
    cfg.per_node = |i, cfg| {
        if i == 3 {
            cfg.cidrs_allowed = vec!["10.0.0.0/30".parse().unwrap()];
        }
    };
    let mut sim = joined(cfg);
    sim.run_until(secs(20));
    assert_eq!(
        state_of(&sim, 3, 4),
        None,
        "node 3 accepted a node outside its allow list"
    );
    assert_eq!(sim.machine(3).num_members(), 4);
    for observer in [0, 1, 2, 4] {
        assert_eq!(
            sim.machine(observer).num_members(),
            5,
            "observer {observer}"
        );
    }
    sim.check().unwrap();
}

#[test]
fn a_failed_join_says_why() {
    let mut sim = Sim::new(lan(2, 1)).unwrap();
    sim.crash(1);
    // The push/pull stream to the crashed node is refused at once.
    let ids = sim.input(0, |m, now| m.join(now, [node_addr(1)]));
    let result = events_of(&sim, 0)
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
    assert_eq!(ids, vec![*id]);
    assert_eq!(e.to_string(), "connecting to 10.0.0.1:7946 failed");
    sim.check().unwrap();
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
    let probes_by_crc = |ip_names: bool| {
        let mut cfg = lan(4, 7);
        if ip_names {
            cfg.per_node = |i, cfg| cfg.name = node_addr(i).ip().to_string().into();
        }
        let mut sim = joined(cfg);
        sim.run_until(secs(3));
        assert!(sim.converged());
        sim.tap(true);
        sim.run_until(secs(20));
        let (mut with, mut without) = (0, 0);
        for sent in sim.take_tapped() {
            let d = sent.data;
            match d[0] {
                PING | ACK => without += 1,
                HAS_CRC if matches!(d[5], PING | ACK) => with += 1,
                HAS_CRC | COMPOUND => {}
                other => panic!("unexpected message type {other}"),
            }
        }
        sim.check().unwrap();
        (with, without)
    };
    let (with, without) = probes_by_crc(false);
    assert_eq!(with, 0, "pings/acks with a CRC among ordinary names");
    assert!(without > 20, "only {without} bare pings/acks");
    let (with, without) = probes_by_crc(true);
    assert_eq!(without, 0, "pings/acks without a CRC among IP names");
    assert!(with > 20, "only {with} pings/acks with a CRC");
}

#[test]
fn idle_gossip_ticks_are_skipped_without_moving_any_datagram() {
    // The same cluster twice: delegates that may broadcast (every tick runs) and quiet ones
    // (idle ticks skipped). Join, a crash, a metadata update and a user broadcast must put
    // the same datagrams on the wire at the same instants: skipping keeps the tick phase.
    let run = |loud: bool| {
        let n = 6;
        let mut sim = Sim::new(lan(n, 11)).unwrap();
        for i in 0..n {
            sim.input(i, |m, now| m.with_delegate(now, |d| d.broadcasts = loud));
        }
        sim.tap(true);
        sim.join_all_through(0);
        sim.run_until(secs(20));
        assert!(sim.converged());
        let idle_from = sim.wakeups();
        sim.run_until(secs(50));
        let idle_wakeups = sim.wakeups() - idle_from;
        sim.crash(5);
        sim.run_until(secs(70));
        sim.update_meta(2, Bytes::from_static(b"v2"));
        // Off the tick phase.
        sim.run_until(secs(80) + Duration::from_millis(70));
        sim.input(3, |m, now| {
            let key = BroadcastKey::named("k");
            m.queue_broadcast(now, key, Bytes::from_static(b"\x08hello"), None);
        });
        sim.run_until(secs(90));
        // An input that does nothing else moves each schedule past its idle ticks.
        let live: Vec<usize> = (0..n).filter(|&i| sim.is_up(i)).collect();
        for &i in &live {
            sim.input(i, |m, now| m.with_delegate(now, |_| ()));
        }
        // The crashed node's last idle ticks were never seen by it: count the live ones.
        let rounds: u64 = live.iter().map(|&i| sim.stats(i).gossip_rounds).sum();
        let idle: u64 = live.iter().map(|&i| sim.stats(i).gossip_ticks_idle).sum();
        sim.check().unwrap();
        let dead = leave_time(&sim, 0, 5);
        (sim.take_tapped(), idle_wakeups, rounds, idle, dead)
    };
    // The engine runs simultaneous wake-ups in the order they were scheduled, which differs
    // between the two clusters (quiet nodes reschedule less often): compare each instant's
    // datagrams as a set.
    let sorted = |mut sent: Vec<Sent>| {
        sent.sort_by(|a, b| (a.at, a.from, a.to, &a.data).cmp(&(b.at, b.from, b.to, &b.data)));
        sent
    };
    let (loud, loud_wakeups, loud_rounds, loud_idle, _) = run(true);
    let (quiet, quiet_wakeups, quiet_rounds, quiet_idle, dead) = run(false);
    let (loud, quiet) = (sorted(loud), sorted(quiet));
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
