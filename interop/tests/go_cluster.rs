//! Clusters of real Go memberlist nodes (Debian's memberlist 0.2.2), driven through the
//! harness. They prove the harness and give the Go baseline the Rust nodes are held to.
//! Run with `cargo test -p memberlist-interop -- --include-ignored` (needs Go; see
//! `interop/build.sh`).

use std::time::Duration;

use memberlist_interop::{Event, GoPeer, GoPeerConfig, NodeState};

const WAIT: Duration = Duration::from_secs(20);

fn spawn(config: GoPeerConfig) -> GoPeer {
    GoPeer::spawn(config).expect("Go peer starts")
}

/// Waits until `peer` lists exactly `names` as live members.
fn wait_for_live_members(peer: &GoPeer, names: &[&str]) {
    let deadline = std::time::Instant::now() + WAIT;
    let mut want: Vec<&str> = names.to_vec();
    want.sort_unstable();
    loop {
        let members = peer.live_members().expect("members");
        let mut got: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        got.sort_unstable();
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} lists {got:?}, want {want:?}",
            peer.name()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn message(data: &[u8]) -> impl Fn(&Event) -> bool + '_ {
    move |e| matches!(e, Event::Message(d) if d == data)
}

#[test]
#[ignore = "needs Go; run with --include-ignored"]
fn three_go_peers_form_a_cluster_through_one_seed() {
    let a = spawn(GoPeerConfig::fast("a"));
    let b = spawn(GoPeerConfig::fast("b").with_join([a.addr()]));
    let c = spawn(GoPeerConfig::fast("c").with_join([a.addr()]));
    assert_eq!(b.startup_join(), Some((1, None)));
    assert_eq!(c.startup_join(), Some((1, None)));
    for peer in [&a, &b, &c] {
        wait_for_live_members(peer, &["a", "b", "c"]);
        let members = peer.members().expect("members");
        assert_eq!(members.len(), 3, "{members:?}");
        for m in &members {
            assert_eq!(m.state, NodeState::Alive);
            assert_eq!(m.incarnation, Some(1), "{m:?}");
            assert!(m.addr.is_loopback());
            assert_ne!(m.port, 0);
        }
        let own = members
            .iter()
            .find(|m| m.name == peer.name())
            .expect("self");
        assert_eq!(own.socket_addr(), peer.addr());
    }
    // c learned of b through a's gossip, not from its own join.
    assert!(
        c.wait_for(|e| matches!(e, Event::Join(n) if n.name == "b"), WAIT)
            .is_some()
    );
}

#[test]
#[ignore = "needs Go; run with --include-ignored"]
fn user_messages_broadcasts_and_state_reach_the_other_peer() {
    let mut config = GoPeerConfig::fast("a");
    config.local_state = "state-of-a".into();
    let a = spawn(config);
    let mut config = GoPeerConfig::fast("b").with_join([a.addr()]);
    config.local_state = "state-of-b".into();
    config.meta = "meta-b".into();
    let b = spawn(config);
    wait_for_live_members(&a, &["a", "b"]);

    b.send_reliable("a", b"over tcp").expect("send_reliable");
    b.send_best_effort("a", b"over udp")
        .expect("send_best_effort");
    a.send_reliable("b", &[0xff, 0x00, 0x80])
        .expect("binary send_reliable");
    assert!(a.wait_for(message(b"over tcp"), WAIT).is_some());
    assert!(a.wait_for(message(b"over udp"), WAIT).is_some());
    assert!(b.wait_for(message(&[0xff, 0x00, 0x80]), WAIT).is_some());

    b.broadcast(b"gossiped").expect("broadcast");
    assert!(a.wait_for(message(b"gossiped"), WAIT).is_some());

    // Push/pull of the join carried each side's LocalState.
    let remote = |data: &'static [u8]| move |e: &Event| matches!(e, Event::RemoteState { join: true, data: d } if d == data);
    assert!(a.wait_for(remote(b"state-of-b"), WAIT).is_some());
    assert!(b.wait_for(remote(b"state-of-a"), WAIT).is_some());

    // Metadata arrives with the join, updates with UpdateNode.
    let seen = a
        .wait_for(|e| matches!(e, Event::Join(n) if n.name == "b"), WAIT)
        .expect("join of b");
    assert_eq!(seen.node().expect("node").meta, b"meta-b");
    b.update_meta(b"meta-b2", Duration::from_secs(5))
        .expect("update_meta");
    let updated = a
        .wait_for(
            |e| matches!(e, Event::Update(n) if n.name == "b" && n.meta == b"meta-b2"),
            WAIT,
        )
        .expect("update of b");
    assert_eq!(updated.node().expect("node").incarnation, Some(2));

    // Unknown targets are errors, not crashes.
    assert!(a.send_reliable("nobody", b"x").is_err());
    assert_eq!(a.live_members().expect("members").len(), 2);
}

#[test]
#[ignore = "needs Go; run with --include-ignored"]
fn a_killed_peer_is_declared_dead_with_the_local_preset() {
    // Go's DefaultLocalConfig as it is: probe every second, suspicion multiplier 3.
    let a = spawn(GoPeerConfig::new("a"));
    let b = spawn(GoPeerConfig::new("b").with_join([a.addr()]));
    let c = spawn(GoPeerConfig::new("c").with_join([a.addr()]));
    for peer in [&a, &b, &c] {
        wait_for_live_members(peer, &["a", "b", "c"]);
    }
    c.kill();
    for peer in [&a, &b] {
        let leave = peer
            .wait_for(
                |e| matches!(e, Event::Leave(n) if n.name == "c"),
                Duration::from_secs(60),
            )
            .unwrap_or_else(|| panic!("{} never saw c leave", peer.name()));
        assert_eq!(leave.node().expect("node").state, NodeState::Dead);
        let members = peer.members().expect("members");
        let dead = members
            .iter()
            .find(|m| m.name == "c")
            .expect("c still known");
        assert_eq!(dead.state, NodeState::Dead);
        assert_eq!(peer.live_members().expect("members").len(), 2);
    }
}

#[test]
#[ignore = "needs Go; run with --include-ignored"]
fn a_graceful_leave_is_reported_as_left() {
    let a = spawn(GoPeerConfig::fast("a"));
    let b = spawn(GoPeerConfig::fast("b").with_join([a.addr()]));
    wait_for_live_members(&a, &["a", "b"]);
    b.leave(Duration::from_secs(5)).expect("leave");
    let leave = a
        .wait_for(|e| matches!(e, Event::Leave(n) if n.name == "b"), WAIT)
        .expect("a sees b leave");
    assert_eq!(leave.node().expect("node").state, NodeState::Left);
    let status = b.shutdown(Duration::from_secs(10)).expect("shutdown");
    assert!(status.success());
}

#[test]
#[ignore = "needs Go; run with --include-ignored"]
fn a_peer_with_another_key_cannot_join() {
    let key1 = b"0123456789abcdef0123456789abcdef".to_vec();
    let key2 = b"fedcba9876543210".to_vec();
    let seed = spawn(GoPeerConfig::fast("seed").with_keys([key1.clone()]));

    let stranger = spawn(
        GoPeerConfig::fast("stranger")
            .with_join([seed.addr()])
            .with_keys([key2]),
    );
    let (contacted, error) = stranger.startup_join().expect("joined event");
    assert_eq!(contacted, 0);
    assert!(error.is_some());

    let friend = spawn(
        GoPeerConfig::fast("friend")
            .with_join([seed.addr()])
            .with_keys([key1]),
    );
    assert_eq!(friend.startup_join(), Some((1, None)));
    wait_for_live_members(&seed, &["seed", "friend"]);
    wait_for_live_members(&friend, &["seed", "friend"]);

    // Nobody crashed, and the stranger is still alone.
    assert_eq!(stranger.members().expect("members").len(), 1);
    assert!(stranger.join([seed.addr()]).is_err());
    for peer in [&seed, &stranger, &friend] {
        assert!(peer.exit_status().is_none(), "{} exited", peer.name());
    }
    assert!(
        !seed
            .members()
            .expect("members")
            .iter()
            .any(|m| m.name == "stranger")
    );
}

#[test]
#[ignore = "needs Go; run with --include-ignored"]
fn bad_flags_fail_with_a_clear_error() {
    let mut config = GoPeerConfig::fast("labelled");
    config.label = Some("blue".into());
    let err = GoPeer::spawn(config).expect_err("0.2.2 has no labels");
    let text = err.to_string();
    assert!(text.contains("no label support"), "{text}");

    let mut config = GoPeerConfig::fast("badkey");
    config.keys = vec![b"short".to_vec()];
    let err = GoPeer::spawn(config).expect_err("bad key");
    assert!(err.to_string().contains("-key"), "{err}");
}
