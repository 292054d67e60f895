//! Rust and Go nodes in one cluster: joins in both directions, metadata at start and by
//! update, user messages over UDP and TCP (and to an address), user broadcasts riding gossip,
//! push/pull user state, mixed compression settings, every protocol version, probes and
//! pings, name conflicts, and an eight-node cluster. Go is Debian's memberlist 0.2.2
//! (`interop/go/peer`); every node runs
//! [`GoPeerConfig::fast`](memberlist_interop::GoPeerConfig::fast)'s timers with a 2 s
//! push/pull (see `common`), LZW compression and protocol version 2 unless a test says
//! otherwise. Tests that expect no refusal end by checking that no Go node logged a message
//! it could not read and no Rust node dropped a datagram or stream it could not read.
//!
//! Run with `cargo test -p memberlist-interop -- --include-ignored` (needs Go).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use memberlist::runtime::{MemberEvent, VersionRange};
use memberlist_core::machine::State;
use memberlist_core::machine::broadcast::BroadcastKey;
use memberlist_interop::{Event, GoPeer, NodeState};

const UPDATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits for a Go node event matching `pred`.
fn go_event(peer: &GoPeer, what: &str, pred: impl FnMut(&Event) -> bool) -> Event {
    blocking(|| peer.wait_for(pred, PATIENCE))
        .unwrap_or_else(|| panic!("{} never saw {what}", peer.name()))
}

fn meta_of_rust_member(node: &RustNode, name: &str) -> Option<Bytes> {
    node.member(name).map(|m| m.meta)
}

/// The `Vsn` a Rust node advertises by default: protocol 1..5, speaking 2, no delegate
/// versions.
const RUST_VSN: [u8; 6] = [1, 5, 2, 0, 0, 0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_rust_node_joins_a_go_cluster_and_metadata_flows_both_ways() {
    let mut config = go_fast("go-a");
    config.meta = "meta-go-a".into();
    let ga = spawn_go(config);
    let mut config = go_fast("go-b").with_join([ga.addr()]);
    config.meta = "meta-go-b".into();
    let gb = spawn_go(config);
    assert_eq!(gb.startup_join(), Some((1, None)));

    let r = rust("rs", "meta-rs").await;
    let mut events = r.subscribe();
    assert_eq!(r.join([addr_of_go(&ga)]).await.expect("join go-a"), 1);
    wait_converged(&[&ga, &gb], &[&r], &["go-a", "go-b", "rs"]).await;

    // What each side learnt about the other at join time.
    assert_eq!(meta_of_rust_member(&r, "go-a").unwrap(), "meta-go-a");
    // go-b came to the Rust node through go-a's push/pull state, not from go-b itself.
    assert_eq!(meta_of_rust_member(&r, "go-b").unwrap(), "meta-go-b");
    let go_b = r.member("go-b").unwrap();
    assert_eq!(go_b.addr, gb.addr());
    assert_eq!(
        (go_b.protocol, go_b.delegate),
        (
            VersionRange {
                min: 1,
                max: 5,
                current: 2
            },
            VersionRange::default()
        )
    );
    for peer in [&ga, &gb] {
        let seen = go_member(peer, "rs").expect("rs known");
        assert_eq!(seen.meta, b"meta-rs");
        assert_eq!(seen.socket_addr(), r.advertise_addr());
        assert_eq!(seen.vsn, Some(RUST_VSN));
        assert_eq!(seen.incarnation, Some(r.local_node().incarnation));
    }

    // A metadata update on the Rust side reaches both Go nodes (go-b only by gossip).
    r.with_delegate(|d| d.meta = Bytes::from_static(b"meta-rs-2"))
        .await
        .unwrap();
    r.update_meta(UPDATE_TIMEOUT).await.expect("update_meta");
    let incarnation = r.local_node().incarnation;
    for peer in [&ga, &gb] {
        let event = go_event(
            peer,
            "rs's update",
            |e| matches!(e, Event::Update(n) if n.name == "rs" && n.meta == b"meta-rs-2"),
        );
        assert_eq!(event.node().unwrap().incarnation, Some(incarnation));
    }

    // And one on the Go side reaches the Rust node.
    blocking(|| gb.update_meta(b"meta-go-b-2", UPDATE_TIMEOUT)).expect("Go update_meta");
    let event = wait_event(
        &mut events,
        "go-b's update",
        |e| matches!(e, MemberEvent::Update(m) if m.name == "go-b" && m.meta == "meta-go-b-2"),
    )
    .await;
    let own = go_member(&gb, "go-b").unwrap();
    assert_eq!(Some(event.member().incarnation), own.incarnation);
    assert_eq!(r.member("go-b").unwrap().state, State::Alive);

    assert_no_go_wire_errors(&[&ga, &gb]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_go_node_joins_a_rust_cluster_and_metadata_flows_both_ways() {
    let r1 = rust("rs-1", "meta-rs-1").await;
    let r2 = rust("rs-2", "meta-rs-2").await;
    assert_eq!(r2.join([addr_of_rust(&r1)]).await.expect("join rs-1"), 1);
    wait_converged(&[], &[&r1, &r2], &["rs-1", "rs-2"]).await;
    let mut events = r2.subscribe();

    let mut config = go_fast("go").with_join([r1.advertise_addr()]);
    config.meta = "meta-go".into();
    let g = spawn_go(config);
    assert_eq!(g.startup_join(), Some((1, None)));
    wait_converged(&[&g], &[&r1, &r2], &["go", "rs-1", "rs-2"]).await;

    // rs-2 learnt of the Go node from rs-1 (by gossip or push/pull), not from the Go node.
    let joined = wait_event(
        &mut events,
        "go's join",
        |e| matches!(e, MemberEvent::Join(m) if m.name == "go"),
    )
    .await;
    assert_eq!(joined.member().meta, "meta-go");
    assert_eq!(joined.member().addr, g.addr());
    assert_eq!(meta_of_rust_member(&r1, "go").unwrap(), "meta-go");
    // The Go node learnt of rs-2 from rs-1's push/pull state.
    for (name, meta, node) in [("rs-1", "meta-rs-1", &r1), ("rs-2", "meta-rs-2", &r2)] {
        let seen = go_member(&g, name).unwrap();
        assert_eq!(seen.meta, meta.as_bytes());
        assert_eq!(seen.socket_addr(), node.advertise_addr());
        assert_eq!(seen.vsn, Some(RUST_VSN));
    }

    // Go updates its metadata: both Rust nodes see it.
    blocking(|| g.update_meta(b"meta-go-2", UPDATE_TIMEOUT)).expect("Go update_meta");
    wait_event(
        &mut events,
        "go's update",
        |e| matches!(e, MemberEvent::Update(m) if m.name == "go" && m.meta == "meta-go-2"),
    )
    .await;
    eventually("rs-1 sees go's new metadata", || {
        meta_of_rust_member(&r1, "go").is_some_and(|m| m == "meta-go-2")
    })
    .await;

    // rs-2 updates its metadata: the Go node sees it.
    r2.with_delegate(|d| d.meta = Bytes::from_static(b"meta-rs-2b"))
        .await
        .unwrap();
    r2.update_meta(UPDATE_TIMEOUT).await.expect("update_meta");
    go_event(
        &g,
        "rs-2's update",
        |e| matches!(e, Event::Update(n) if n.name == "rs-2" && n.meta == b"meta-rs-2b"),
    );
    assert!(go_sees_alive(&g, &["go", "rs-1", "rs-2"]));
    assert_no_go_wire_errors(&[&g]);
    assert_no_rust_wire_errors(&[&r1, &r2]);
    shutdown_all(&[&r1, &r2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn user_messages_cross_both_ways_over_udp_and_tcp() {
    let g = spawn_go(go_fast("go"));
    let r = rust("rs", "").await;
    r.join([addr_of_go(&g)]).await.expect("join");
    wait_converged(&[&g], &[&r], &["go", "rs"]).await;
    exchange_messages(&r, &g).await;

    // SendToAddress both ways: a datagram to an address, with or without a name.
    r.send_to_address(g.addr(), b"rs->go by address")
        .await
        .unwrap();
    eventually("go receives the message sent to its address", || {
        go_received(&g, b"rs->go by address")
    })
    .await;
    blocking(|| g.send_to_address(r.advertise_addr(), "rs", b"go->rs by address"))
        .expect("Go send_to_address");
    let inbox = r.with_delegate(|d| d.messages.clone()).await.unwrap();
    eventually("rs receives the message sent to its address", || {
        inbox.any(|m| m == "go->rs by address")
    })
    .await;

    // Too big for one datagram: refused locally, nothing sent.
    assert!(r.send_best_effort("go", vec![0u8; 70_000]).await.is_err());
    // Unknown names are errors on both sides, not crashes.
    assert!(r.send_reliable("nobody", b"x").await.is_err());
    assert!(blocking(|| g.send_reliable("nobody", b"x")).is_err());
    assert_running(&[&g]);
    assert!(go_sees_alive(&g, &["go", "rs"]));
    assert_no_go_wire_errors(&[&g]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn user_broadcasts_ride_gossip_both_ways() {
    let g = spawn_go(go_fast("go"));
    let r = rust("rs", "").await;
    r.join([addr_of_go(&g)]).await.expect("join");
    wait_converged(&[&g], &[&r], &["go", "rs"]).await;
    let inbox = r.with_delegate(|d| d.messages.clone()).await.unwrap();

    // Go's TransmitLimitedQueue → the Rust node's notify_message.
    blocking(|| g.broadcast(b"from go's queue")).expect("Go broadcast");
    eventually("the Go broadcast reaches the Rust node", || {
        inbox.any(|m| m == "from go's queue")
    })
    .await;

    // The Rust delegate's `broadcasts` hook → Go's NotifyMsg.
    r.with_delegate(|d| {
        d.outbox
            .push((Bytes::from_static(b"from the rust delegate"), 3));
    })
    .await
    .unwrap();
    eventually("the delegate's broadcast reaches the Go node", || {
        go_received(&g, b"from the rust delegate")
    })
    .await;

    // The Rust node's own broadcast queue → Go's NotifyMsg.
    r.broadcast_and_wait(
        BroadcastKey::named("greeting"),
        Bytes::from_static(b"from rust's queue"),
        Duration::from_secs(10),
    )
    .await
    .expect("broadcast sent");
    eventually("the queued broadcast reaches the Go node", || {
        go_received(&g, b"from rust's queue")
    })
    .await;
    assert_no_go_wire_errors(&[&g]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn push_pull_carries_user_state_both_ways() {
    let push_pull = Duration::from_millis(500);
    let mut config = go_fast("go-a");
    config.local_state = "state-go-a-1".into();
    config.pushpull_interval = Some(push_pull);
    let ga = spawn_go(config);

    let mut config = fast_config("rs");
    config.protocol.push_pull_interval = push_pull;
    let delegate = TestDelegate {
        state: Bytes::from_static(b"state-rs-1"),
        ..TestDelegate::default()
    };
    let r = start_rust(config, delegate, &[]).await;
    let merged = r.with_delegate(|d| d.merged.clone()).await.unwrap();

    // The Rust node joins (Go accepts the push/pull): each side merges the other's state,
    // flagged as a join.
    r.join([addr_of_go(&ga)]).await.expect("join");
    assert!(merged.any(|(s, join)| s == "state-go-a-1" && *join));
    go_event(
        &ga,
        "rs's join state",
        |e| matches!(e, Event::RemoteState { join: true, data } if data == b"state-rs-1"),
    );

    // A Go node joins the Rust node (Rust accepts the push/pull).
    let mut config = go_fast("go-b").with_join([r.advertise_addr()]);
    config.local_state = "state-go-b-1".into();
    let gb = spawn_go(config);
    assert_eq!(gb.startup_join(), Some((1, None)));
    eventually("rs merges go-b's join state", || {
        merged.any(|(s, join)| s == "state-go-b-1" && *join)
    })
    .await;
    go_event(
        &gb,
        "rs's state in go-b's join",
        |e| matches!(e, Event::RemoteState { join: true, data } if data == b"state-rs-1"),
    );
    wait_converged(&[&ga, &gb], &[&r], &["go-a", "go-b", "rs"]).await;

    // Periodic push/pulls (not joins) carry the new states both ways.
    blocking(|| ga.set_local_state(b"state-go-a-2")).expect("set_local_state");
    r.with_delegate(|d| d.state = Bytes::from_static(b"state-rs-2"))
        .await
        .unwrap();
    eventually("rs merges go-a's periodic state", || {
        merged.any(|(s, join)| s == "state-go-a-2" && !*join)
    })
    .await;
    for peer in [&ga, &gb] {
        go_event(
            peer,
            "rs's periodic state",
            |e| matches!(e, Event::RemoteState { join: false, data } if data == b"state-rs-2"),
        );
    }
    assert_no_go_wire_errors(&[&ga, &gb]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

/// One Go node and one Rust node with the given compression settings form a cluster; a
/// second Go node joins through the Rust node; messages cross both ways.
async fn mixed_compression(go_compresses: bool, rust_compresses: bool) {
    let mut config = go_fast("go-a");
    config.compression = go_compresses;
    let ga = spawn_go(config);
    let config = fast_config("rs").with_compression(rust_compresses);
    let r = start_rust(config, TestDelegate::with_meta("m".repeat(300)), &[]).await;
    r.join([addr_of_go(&ga)]).await.expect("join");
    let mut config = go_fast("go-b").with_join([r.advertise_addr()]);
    config.compression = go_compresses;
    config.meta = "n".repeat(300);
    let gb = spawn_go(config);
    assert_eq!(gb.startup_join(), Some((1, None)));
    wait_converged(&[&ga, &gb], &[&r], &["go-a", "go-b", "rs"]).await;
    assert_eq!(
        go_member(&ga, "rs").unwrap().meta,
        "m".repeat(300).as_bytes()
    );
    assert_eq!(r.member("go-b").unwrap().meta, Bytes::from("n".repeat(300)));
    exchange_messages(&r, &ga).await;
    exchange_messages(&r, &gb).await;
    assert_no_go_wire_errors(&[&ga, &gb]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn rust_uncompressed_and_go_compressed_form_one_cluster() {
    mixed_compression(true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn rust_compressed_and_go_uncompressed_form_one_cluster() {
    mixed_compression(false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn go_members_report_node_states_the_rust_node_holds() {
    // Sanity of the state mapping both sides use: everyone alive at incarnation 1.
    let g = spawn_go(go_fast("go"));
    let r = rust("rs", "").await;
    r.join([addr_of_go(&g)]).await.expect("join");
    wait_converged(&[&g], &[&r], &["go", "rs"]).await;
    for m in go_members(&g) {
        assert_eq!(m.state, NodeState::Alive);
        assert_eq!(m.incarnation, Some(1), "{m:?}");
    }
    for m in r.all_members() {
        assert_eq!(m.incarnation, 1, "{m:?}");
    }
    assert_no_go_wire_errors(&[&g]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn rust_protocol_versions_2_to_5_join_a_go_cluster_encrypted_or_not() {
    // Go speaks its default protocol version 2 and understands 1..=5. Rust nodes speaking
    // 2, 3, 4 and 5 (CRC on packets to nodes that understand 5) join it, with and without
    // encryption. (Version 1 has no ports on the wire; see the next test.)
    let key = b"0123456789abcdef".as_slice();
    for encrypted in [false, true] {
        let keys: Vec<Vec<u8>> = if encrypted {
            vec![key.to_vec()]
        } else {
            vec![]
        };
        let g = spawn_go(go_fast("go").with_keys(keys));
        let mut nodes = Vec::new();
        let mut names = vec!["go".to_owned()];
        for version in 2..=5u8 {
            let name = format!("rs-v{version}");
            let mut config = fast_config(&name);
            config.protocol.protocol_version = version;
            let keys: &[&[u8]] = if encrypted { &[key] } else { &[] };
            let r = start_rust(config, TestDelegate::with_meta(name.clone()), keys).await;
            r.join([addr_of_go(&g)])
                .await
                .unwrap_or_else(|e| panic!("{name} (encrypted: {encrypted}): {e}"));
            names.push(name);
            nodes.push(r);
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let rust: Vec<&RustNode> = nodes.iter().collect();
        wait_converged(&[&g], &rust, &names).await;
        for r in &rust {
            let seen = go_member(&g, r.name()).unwrap();
            assert_eq!(seen.vsn.unwrap()[2], r.config().protocol.protocol_version);
            exchange_messages(r, &g).await;
        }
        assert_no_go_wire_errors(&[&g]);
        assert_no_rust_wire_errors(&rust);
        shutdown_all(&rust).await;
    }
}

/// A port free for UDP and TCP on each of `ips`.
fn port_free_on(ips: &[std::net::Ipv4Addr]) -> u16 {
    loop {
        let first = std::net::UdpSocket::bind((ips[0], 0)).expect("bind");
        let port = first.local_addr().unwrap().port();
        let free = ips.iter().all(|ip| {
            std::net::TcpListener::bind((*ip, port)).is_ok()
                && (*ip == ips[0] || std::net::UdpSocket::bind((*ip, port)).is_ok())
        });
        if free {
            return port;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_protocol_version_1_rust_node_joins_go_on_a_shared_port_with_envelope_v0() {
    // Protocol version 1 carries no ports: a node speaking it uses its own port for every
    // node it hears of (Go's handleAlive and mergeState do the same for their own
    // ProtocolVersion < 2), so such a cluster needs one port for all. Here every node has
    // its own loopback address and the same port. Encrypted, the version-1 node seals with
    // envelope version 0 and Go (speaking 2) with version 1; each opens the other's.
    use std::net::{Ipv4Addr, SocketAddr};
    let key = b"0123456789abcdef0123456789abcdef".as_slice();
    let (go_ip, rs1_ip, rs2_ip) = (
        Ipv4Addr::new(127, 0, 0, 2),
        Ipv4Addr::new(127, 0, 0, 3),
        Ipv4Addr::new(127, 0, 0, 4),
    );
    let port = port_free_on(&[go_ip, rs1_ip, rs2_ip]);
    let mut config = go_fast("go").with_keys([key.to_vec()]);
    config.bind = go_ip.into();
    config.port = port;
    let g = spawn_go(config);
    assert_eq!(g.addr(), SocketAddr::from((go_ip, port)));

    let mut nodes = Vec::new();
    for (name, ip, version) in [("rs-v1", rs1_ip, 1), ("rs-v2", rs2_ip, 2)] {
        let key = memberlist_aes_gcm::SecretKey::new(key).expect("valid key");
        let mut config = fast_config(name).with_keyring(memberlist_aes_gcm::Keyring::new(key));
        config.protocol.protocol_version = version;
        let transport = memberlist_net::NetTransport::bind(SocketAddr::from((ip, port)))
            .await
            .expect("bind the shared port");
        let r = memberlist::runtime::Memberlist::builder(config)
            .transport(transport)
            .delegate(TestDelegate::default())
            .start()
            .await
            .expect("starts");
        r.join([addr_of_go(&g)]).await.expect("join");
        nodes.push(r);
    }
    let rust: Vec<&RustNode> = nodes.iter().collect();
    wait_converged(&[&g], &rust, &["go", "rs-v1", "rs-v2"]).await;
    for r in &rust {
        exchange_messages(r, &g).await;
    }
    assert_eq!(go_member(&g, "rs-v1").unwrap().vsn.unwrap()[2], 1);
    assert_no_go_wire_errors(&[&g]);
    assert_no_rust_wire_errors(&rust);
    shutdown_all(&rust).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn eight_nodes_alternating_go_and_rust_converge_through_one_seed() {
    // Larger membership state: push/pull answers with 8 entries, alive broadcasts that fill
    // compound packets, metadata on every node.
    let meta = |name: &str| format!("{name}:{}", "m".repeat(100));
    let mut config = go_fast("go-0");
    config.meta = meta("go-0");
    let seed = spawn_go(config);
    let mut go = vec![seed];
    let mut rust_nodes = Vec::new();
    let mut names = vec!["go-0".to_owned()];
    for i in 1..8 {
        if i % 2 == 1 {
            let name = format!("rs-{i}");
            let r = start_rust(
                fast_config(&name),
                TestDelegate::with_meta(meta(&name)),
                &[],
            )
            .await;
            r.join([addr_of_go(&go[0])]).await.expect("join");
            names.push(name);
            rust_nodes.push(r);
        } else {
            let name = format!("go-{i}");
            let mut config = go_fast(&name).with_join([go[0].addr()]);
            config.meta = meta(&name);
            let g = spawn_go(config);
            assert_eq!(g.startup_join(), Some((1, None)));
            names.push(name);
            go.push(g);
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let go_refs: Vec<&GoPeer> = go.iter().collect();
    let rust_refs: Vec<&RustNode> = rust_nodes.iter().collect();
    wait_converged(&go_refs, &rust_refs, &names).await;
    for g in &go_refs {
        for m in go_members(g) {
            assert_eq!(m.meta, meta(&m.name).as_bytes());
        }
    }
    for r in &rust_refs {
        for m in r.all_members() {
            assert_eq!(m.meta, meta(&m.name));
        }
    }
    assert_no_go_wire_errors(&go_refs);
    assert_no_rust_wire_errors(&rust_refs);
    shutdown_all(&rust_refs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn probes_and_pings_are_answered_both_ways() {
    let mut config = go_fast("go");
    config.ping_events = true;
    let g = spawn_go(config);
    let r = rust("rs", "").await;
    r.join([addr_of_go(&g)]).await.expect("join");
    wait_converged(&[&g], &[&r], &["go", "rs"]).await;
    // Go's probes of the Rust node complete (its PingDelegate sees the acks).
    let ping = blocking(|| {
        g.wait_for(
            |e| matches!(e, memberlist_interop::Event::Ping { node, .. } if node == "rs"),
            PATIENCE,
        )
    });
    assert!(ping.is_some(), "Go never completed a probe of rs");
    // An explicit ping from the Rust node, and its own probes of the Go node.
    let rtt = r.ping("go").await.expect("ping go");
    assert!(rtt < PATIENCE);
    eventually("rs completes a probe", || {
        r.stats().protocol.last_rtt.is_some()
    })
    .await;
    assert_eq!(r.health_score(), 0);
    assert_no_go_wire_errors(&[&g]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_name_taken_from_another_address_is_a_conflict_on_both_sides() {
    let ga = spawn_go(go_fast("go-a"));
    let gb = spawn_go(go_fast("go-b").with_join([ga.addr()]));
    let r = rust("rs", "").await;
    r.join([addr_of_go(&ga), addr_of_go(&gb)])
        .await
        .expect("join");
    wait_converged(&[&ga, &gb], &[&r], &["go-a", "go-b", "rs"]).await;
    let mut events = r.subscribe();

    // A Rust node calling itself go-b joins through rs: rs reports the conflict and keeps
    // the real go-b.
    let impostor = rust("go-b", "").await;
    impostor.join([addr_of_rust(&r)]).await.expect("exchange");
    let event = wait_event(&mut events, "a conflict over go-b", |e| {
        matches!(e, MemberEvent::Conflict { .. })
    })
    .await;
    let MemberEvent::Conflict { existing, other } = event else {
        unreachable!()
    };
    assert_eq!(existing.addr, gb.addr());
    assert_eq!(other.addr, impostor.advertise_addr());
    impostor.shutdown().await;

    // A Go node calling itself rs joins through go-a: Go reports the conflict and keeps the
    // real rs.
    let go_impostor = spawn_go(go_fast("rs").with_join([ga.addr()]));
    let conflict = blocking(|| {
        ga.wait_for(
            |e| matches!(e, Event::Conflict { existing, .. } if existing.name == "rs"),
            PATIENCE,
        )
    })
    .expect("Go reports the conflict");
    let Event::Conflict { existing, other } = conflict else {
        unreachable!()
    };
    assert_eq!(existing.socket_addr(), r.advertise_addr());
    assert_eq!(other.socket_addr(), go_impostor.addr());
    drop(go_impostor);

    // Everyone still holds the real nodes at their addresses.
    assert_eq!(r.member("go-b").unwrap().addr, gb.addr());
    assert_eq!(
        go_member(&ga, "rs").unwrap().socket_addr(),
        r.advertise_addr()
    );
    wait_converged(&[&ga, &gb], &[&r], &["go-a", "go-b", "rs"]).await;
    r.shutdown().await;
}
