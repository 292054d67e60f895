//! Clusters of real nodes (the `memberlist::runtime` driver over `NetTransport`) on
//! 127.0.0.1 with system-chosen ports and fast timers. Every wait polls with a generous
//! bound, so the tests hold on a loaded machine; none asserts a duration tighter than
//! "well within the TCP timeout".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use memberlist::runtime::{Config, Error, JoinError, MemberEvent, Memberlist};
use memberlist::testing::{
    PATIENCE, RecordingDelegate, addr_of, all_alive, eventually, fast_config, recv_within,
    state_of, wait_event,
};
use memberlist_aes_gcm::{AesGcm, SecretKey};
use memberlist_core::machine::State;
use memberlist_core::machine::broadcast::BroadcastKey;
use memberlist_core::wire::PushPull;
use memberlist_lzw::Lzw;
use memberlist_net::{NetTransport, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

type Node = Memberlist<NetTransport, RecordingDelegate>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn transport() -> NetTransport {
    NetTransport::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn start_with(config: Config, delegate: RecordingDelegate) -> Node {
    Memberlist::builder(config)
        .transport(transport().await)
        .delegate(delegate)
        .start()
        .await
        .expect("node starts")
}

/// A node with the kit's fast timers, uncompressed so that tests can read replies byte by
/// byte (the tests of compression turn the facade's default LZW on: `start_sealed`).
async fn start(name: &str) -> Node {
    start_with(fast_config(name), RecordingDelegate::default()).await
}

/// Starts `n` nodes named `{prefix}0..` and joins them all through the first.
async fn cluster(prefix: &str, n: usize) -> Vec<Node> {
    let mut nodes = vec![start(&format!("{prefix}0")).await];
    let seed = addr_of(&nodes[0]);
    for i in 1..n {
        let node = start(&format!("{prefix}{i}")).await;
        assert_eq!(node.join([&seed]).await.expect("join the seed"), 1);
        nodes.push(node);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually(&format!("all {n} nodes see {n} alive"), || {
        all_alive(&refs, n)
    })
    .await;
    nodes
}

async fn shutdown_all(nodes: &[Node]) {
    for node in nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_form_a_cluster_through_one_seed() {
    let seed = start("seed").await;
    let mut events = seed.subscribe();
    let mut nodes = Vec::new();
    for i in 1..5 {
        let node = start(&format!("n{i}")).await;
        assert_eq!(node.join([addr_of(&seed)]).await.unwrap(), 1);
        nodes.push(node);
    }
    let all: Vec<&Node> = std::iter::once(&seed).chain(&nodes).collect();
    eventually("every node sees 5 alive", || all_alive(&all, 5)).await;
    for i in 1..5 {
        let name = format!("n{i}");
        wait_event(
            &mut events,
            &format!("join of {name}"),
            |e| matches!(e, MemberEvent::Join(m) if m.name == name),
        )
        .await;
    }
    let local = seed.local_node();
    assert_eq!(local.name, "seed");
    assert_eq!(local.addr, seed.advertise_addr());
    assert_eq!(local.state, State::Alive);
    assert_eq!(seed.health_score(), seed.stats().protocol.health_score);
    assert!(seed.stats().streams_accepted >= 4);
    shutdown_all(&nodes).await;
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_node_is_suspected_then_declared_dead() {
    let nodes = cluster("crash", 4).await;
    let mut events = nodes[0].subscribe();
    // A crash: no leave message, the sockets just close.
    nodes[3].shutdown().await;
    assert!(!nodes[3].is_running());
    let observers = &nodes[..3];
    eventually("the others declare crash3 dead", || {
        observers
            .iter()
            .all(|n| state_of(n, "crash3") == Some(State::Dead))
    })
    .await;
    let event = wait_event(
        &mut events,
        "crash3's failure",
        |e| matches!(e, MemberEvent::Failed(m) if m.name == "crash3"),
    )
    .await;
    assert_eq!(event.member().state, State::Dead);
    let suspicions: u64 = observers.iter().map(|n| n.stats().protocol.suspect).sum();
    assert!(
        suspicions >= 1,
        "crash3 was suspected before being declared dead"
    );
    for n in observers {
        assert_eq!(n.num_members(), 3);
        assert_eq!(n.count_in_state(State::Dead), 1);
    }
    shutdown_all(observers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_that_leaves_is_seen_as_left() {
    let nodes = cluster("leave", 3).await;
    let mut events = nodes[0].subscribe();
    nodes[2].leave(Duration::from_secs(10)).await.unwrap();
    nodes[2].shutdown().await;
    let observers = &nodes[..2];
    eventually("the others see leave2 as left", || {
        observers
            .iter()
            .all(|n| state_of(n, "leave2") == Some(State::Left))
    })
    .await;
    let event = wait_event(
        &mut events,
        "leave2's leave",
        |e| matches!(e, MemberEvent::Left(m) if m.name == "leave2"),
    )
    .await;
    assert_eq!(event.member().state, State::Left);
    for n in observers {
        assert_eq!(n.num_members(), 2);
    }
    shutdown_all(observers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_messages_arrive_reliably_and_best_effort() {
    let a = start("msg-a").await;
    let mut delegate = RecordingDelegate::default();
    let mut inbox = delegate.messages();
    let b = start_with(fast_config("msg-b"), delegate).await;
    b.join([addr_of(&a)]).await.unwrap();
    eventually("a knows b", || a.num_members() == 2).await;

    a.send_reliable("msg-b", b"over tcp").await.unwrap();
    assert_eq!(
        recv_within(&mut inbox, "the reliable message").await,
        "over tcp"
    );

    // UDP may drop in principle; resend until one arrives.
    let mut got = None;
    for _ in 0..10 {
        a.send_best_effort("msg-b", b"over udp").await.unwrap();
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(1), inbox.recv()).await {
            got = Some(msg);
            break;
        }
    }
    assert_eq!(got.expect("a best-effort message arrives"), "over udp");

    let mut got = None;
    for _ in 0..10 {
        a.send_to_address(b.advertise_addr(), b"by address")
            .await
            .unwrap();
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(1), inbox.recv()).await {
            got = Some(msg);
            break;
        }
    }
    assert_eq!(got.expect("an addressed message arrives"), "by address");

    let big = vec![7u8; 70_000];
    assert!(matches!(
        a.send_best_effort("msg-b", &big).await,
        Err(Error::MessageTooLarge { .. })
    ));
    a.send_reliable("msg-b", &big).await.unwrap();
    assert_eq!(
        recv_within(&mut inbox, "the big reliable message")
            .await
            .len(),
        70_000
    );

    assert!(matches!(
        a.send_reliable("nobody", b"x").await,
        Err(Error::UnknownNode(_))
    ));
    assert!(matches!(
        a.send_best_effort("nobody", b"x").await,
        Err(Error::UnknownNode(_))
    ));
    b.shutdown().await;
    let err = a
        .send_reliable("msg-b", b"to a dead port")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Send { .. }), "{err}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_update_propagates() {
    let a = start_with(
        fast_config("meta-a"),
        RecordingDelegate::default().with_meta(Bytes::from_static(b"v1")),
    )
    .await;
    let b = start("meta-b").await;
    b.join([addr_of(&a)]).await.unwrap();
    eventually("b sees a's first metadata", || {
        b.member("meta-a").is_some_and(|m| m.meta == "v1")
    })
    .await;
    let mut events = b.subscribe();
    let before = a.local_node().incarnation;
    a.with_delegate(|d| d.set_meta(Bytes::from_static(b"v2")))
        .await
        .unwrap();
    a.update_meta(Duration::from_secs(10)).await.unwrap();
    assert!(a.local_node().incarnation > before);
    assert_eq!(a.local_node().meta, "v2");
    eventually("b sees the new metadata", || {
        b.member("meta-a").is_some_and(|m| m.meta == "v2")
    })
    .await;
    wait_event(
        &mut events,
        "the update event",
        |e| matches!(e, MemberEvent::Update(m) if m.name == "meta-a" && m.meta == "v2"),
    )
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_hands_off_user_state() {
    let mut delegate_a = RecordingDelegate::default().with_state(Bytes::from_static(b"state of a"));
    let mut merged_a = delegate_a.merged_states();
    let a = start_with(fast_config("state-a"), delegate_a).await;
    let mut delegate_b = RecordingDelegate::default().with_state(Bytes::from_static(b"state of b"));
    let mut merged_b = delegate_b.merged_states();
    let b = start_with(fast_config("state-b"), delegate_b).await;
    b.join([addr_of(&a)]).await.unwrap();
    assert_eq!(
        recv_within(&mut merged_a, "b's state at a").await,
        (Bytes::from_static(b"state of b"), true)
    );
    assert_eq!(
        recv_within(&mut merged_b, "a's state at b").await,
        (Bytes::from_static(b"state of a"), true)
    );
    // The periodic anti-entropy exchange carries the state too, with join = false.
    b.with_delegate(|d| d.set_state(Bytes::from_static(b"newer state of b")))
        .await
        .unwrap();
    loop {
        let (state, join) = recv_within(&mut merged_a, "a periodic push/pull").await;
        if !join && state == "newer state of b" {
            break;
        }
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_returns_the_round_trip_time() {
    let a = start("ping-a").await;
    let b = start("ping-b").await;
    b.join([addr_of(&a)]).await.unwrap();
    eventually("a knows b", || a.num_members() == 2).await;
    let mut rtt = None;
    for _ in 0..5 {
        match a.ping("ping-b").await {
            Ok(d) => {
                rtt = Some(d);
                break;
            }
            Err(Error::PingTimeout { .. }) => {} // a loaded machine; try again
            Err(e) => panic!("{e}"),
        }
    }
    let rtt = rtt.expect("an ack within the probe timeout");
    assert!(rtt < Duration::from_secs(1), "{rtt:?}");
    // Go ignores a ping that names another node: no ack.
    assert!(matches!(
        a.ping_address("someone-else", b.advertise_addr()).await,
        Err(Error::PingTimeout { .. })
    ));
    assert!(matches!(a.ping("nobody").await, Err(Error::UnknownNode(_))));
    b.shutdown().await;
    assert!(matches!(
        a.ping("ping-b").await,
        Err(Error::PingTimeout { .. })
    ));
    a.shutdown().await;
}

/// An address where nothing listens (a port just released).
async fn dead_address() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_nothing_fails_quickly_with_every_reason() {
    let a = start("lonely").await;
    let nowhere = dead_address().await;
    let started = Instant::now();
    let err = a.join([nowhere.to_string()]).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "join gave up after {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("refused"), "{err}");

    let err = a
        .join([nowhere.to_string(), "no-such-host.invalid:7946".into()])
        .await
        .unwrap_err();
    let JoinError::Failed(failures) = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 2, "{err}");
    assert!(
        failures.iter().any(|f| f.address == nowhere.to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
    assert!(matches!(
        a.join(Vec::<String>::new()).await,
        Err(JoinError::NoAddresses)
    ));
    assert_eq!(a.num_members(), 1);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_with_a_good_and_a_bad_address_counts_one() {
    let a = start("mix-a").await;
    let b = start("mix-b").await;
    let nowhere = dead_address().await;
    let contacted = b
        .join([nowhere.to_string(), format!("mix-a/{}", addr_of(&a))])
        .await
        .unwrap();
    assert_eq!(contacted, 1);
    eventually("both see each other", || all_alive(&[&a, &b], 2)).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_different_labels_cannot_join() {
    let blue = start_with(
        fast_config("blue-a").with_label("blue"),
        RecordingDelegate::default(),
    )
    .await;
    let green = start_with(
        fast_config("green-a").with_label("green"),
        RecordingDelegate::default(),
    )
    .await;
    let err = green.join([addr_of(&blue)]).await.unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert_eq!(blue.num_members(), 1);
    assert_eq!(green.num_members(), 1);
    eventually("blue counts the refused stream", || {
        blue.stats().inbound_stream_errors >= 1
    })
    .await;

    // Datagrams with the wrong label are dropped as well.
    let dropped = blue.stats().protocol.packets_dropped;
    let deadline = Instant::now() + PATIENCE;
    while blue.stats().protocol.packets_dropped == dropped {
        assert!(
            Instant::now() < deadline,
            "blue never dropped green's datagram"
        );
        green
            .send_to_address(blue.advertise_addr(), b"hello?")
            .await
            .unwrap();
        tokio::time::sleep(ms(200)).await;
    }

    // The same label works.
    let blue2 = start_with(
        fast_config("blue-b").with_label("blue"),
        RecordingDelegate::default(),
    )
    .await;
    assert_eq!(blue2.join([addr_of(&blue)]).await.unwrap(), 1);
    eventually("blue nodes see each other", || {
        all_alive(&[&blue, &blue2], 2)
    })
    .await;
    for n in [&blue, &green, &blue2] {
        n.shutdown().await;
    }
}

/// Reads until the peer closes; returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out)).await;
    match read {
        Ok(Ok(_)) | Ok(Err(_)) => out,
        Err(_) => panic!("the node did not close the stream"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_dropped_and_the_node_keeps_working() {
    let a = start("sturdy-a").await;
    let b = start("sturdy-b").await;
    b.join([addr_of(&a)]).await.unwrap();
    eventually("a cluster of two", || all_alive(&[&a, &b], 2)).await;
    let target = a.advertise_addr();

    // Datagrams: unknown type, truncated compound, truncated label, a bad msgpack body, an
    // oversized body, a compress wrapper with an unknown algorithm.
    let before = a.stats().protocol.packets_dropped;
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let garbage: Vec<Vec<u8>> = vec![
        vec![0xff; 10],
        vec![7, 5],
        vec![0xf4, 9, b'x'],
        vec![0, 0xc1, 0xc1],
        vec![0; 60_000],
        b"\x09\x82\xa4Algo\x07\xa3Buf\xa3abc".to_vec(),
    ];
    for packet in &garbage {
        udp.send_to(packet, target).await.unwrap();
    }
    eventually("a drops the garbage datagrams", || {
        a.stats().protocol.packets_dropped >= before + garbage.len() as u64 - 1
    })
    .await;

    // A stream of garbage is closed without an answer.
    let errors = a.stats().inbound_stream_errors;
    let mut tcp = TcpStream::connect(target).await.unwrap();
    tcp.write_all(&[0xff; 64]).await.unwrap();
    assert!(read_to_close(&mut tcp).await.is_empty());

    // A stream whose envelope cannot be opened gets Go's errResp (type 13).
    let mut tcp = TcpStream::connect(target).await.unwrap();
    tcp.write_all(b"\x09\x82\xa4Algo\x07\xa3Buf\xa3abc")
        .await
        .unwrap();
    let reply = read_to_close(&mut tcp).await;
    assert_eq!(reply.first(), Some(&13), "{reply:?}");

    // A user message that declares more than it sends is dropped at the TCP timeout.
    let mut tcp = TcpStream::connect(target).await.unwrap();
    tcp.write_all(b"\x08\x81\xaaUserMsgLen\xcd\x10\x00partial")
        .await
        .unwrap();
    assert!(read_to_close(&mut tcp).await.is_empty());
    eventually("a counts the bad streams", || {
        a.stats().inbound_stream_errors >= errors + 3
    })
    .await;

    // Still healthy.
    assert!(a.is_running());
    a.send_reliable("sturdy-b", b"still here").await.unwrap();
    eventually("still two alive", || all_alive(&[&a, &b], 2)).await;
    let c = start("sturdy-c").await;
    assert_eq!(c.join([addr_of(&a)]).await.unwrap(), 1);
    eventually("a third node joins", || all_alive(&[&a, &b, &c], 3)).await;
    for n in [&a, &b, &c] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_streams_beyond_the_limit_are_closed() {
    let mut config = fast_config("busy").with_tcp_timeout(Duration::from_secs(20));
    config.max_inbound_streams = 2;
    let a = start_with(config, RecordingDelegate::default()).await;
    let target = a.advertise_addr();
    // Two idle connections take both slots (they would be held until the TCP timeout).
    let idle1 = TcpStream::connect(target).await.unwrap();
    let idle2 = TcpStream::connect(target).await.unwrap();
    eventually("both idle streams accepted", || {
        a.stats().streams_accepted >= 2
    })
    .await;
    let mut third = TcpStream::connect(target).await.unwrap();
    assert!(read_to_close(&mut third).await.is_empty());
    assert!(a.stats().streams_refused >= 1);
    // Closing the idle ones frees the slots: a join goes through again.
    drop((idle1, idle2));
    let b = start("busy-b").await;
    let deadline = Instant::now() + PATIENCE;
    while b.join([addr_of(&a)]).await.is_err() {
        assert!(Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(ms(100)).await;
    }
    eventually("joined", || all_alive(&[&a, &b], 2)).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pulls_beyond_the_limit_are_refused() {
    // A's answer to a push/pull carries 8 MiB of user state, more than the sockets buffer
    // (A's send buffer is capped at a few MiB): while a client does not read it, that
    // push/pull stays in progress.
    let mut config = fast_config("pp-a").with_tcp_timeout(Duration::from_secs(20));
    config.max_concurrent_push_pulls = 1;
    let a = start_with(
        config,
        RecordingDelegate::default().with_state(Bytes::from(vec![1u8; 8 << 20])),
    )
    .await;
    let request = PushPull::default().to_bytes();
    // A fixed, small receive buffer (no autotuning) keeps the answer from fitting.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let mut slow = socket.connect(a.advertise_addr()).await.unwrap();
    slow.write_all(&request).await.unwrap();
    // Wait until A is writing its answer (the first bytes arrive).
    let mut first = [0u8; 1];
    tokio::time::timeout(PATIENCE, slow.read_exact(&mut first))
        .await
        .expect("a starts answering")
        .unwrap();
    assert_eq!(first[0], 6, "a push/pull answer");

    let mut refused = TcpStream::connect(a.advertise_addr()).await.unwrap();
    refused.write_all(&request).await.unwrap();
    assert!(read_to_close(&mut refused).await.is_empty());
    assert_eq!(a.stats().push_pulls_refused, 1);

    // Once the slow exchange is over, push/pulls are served again.
    drop(slow);
    let b = start("pp-b").await;
    let deadline = Instant::now() + PATIENCE;
    while b.join([addr_of(&a)]).await.is_err() {
        assert!(Instant::now() < deadline, "push/pulls never served again");
        tokio::time::sleep(ms(100)).await;
    }
    eventually("joined", || all_alive(&[&a, &b], 2)).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_broadcasts_reach_every_node() {
    // A user broadcast is not gossiped on by its receivers (membership messages are), so it
    // reaches everyone only with enough transmissions: the local preset's multiplier of 2
    // gives 2 in a 3-node cluster, which may both go to the same peer. Go behaves the same.
    let config = |name: String| {
        let mut c = fast_config(&name);
        c.protocol.retransmit_mult = 10;
        c
    };
    let mut inboxes = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let mut delegate = RecordingDelegate::default();
        let rx = delegate.messages();
        let node = start_with(config(format!("bc{i}")), delegate).await;
        if let Some(first) = nodes.first() {
            node.join([addr_of(first)]).await.unwrap();
        }
        nodes.push(node);
        inboxes.push(rx);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("three alive", || all_alive(&refs, 3)).await;
    nodes[0]
        .broadcast_and_wait(
            BroadcastKey::named("greeting"),
            Bytes::from_static(b"hello all"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    for inbox in &mut inboxes[1..] {
        assert_eq!(recv_within(inbox, "the broadcast").await, "hello all");
    }
    nodes[1]
        .queue_broadcast(BroadcastKey::Unique, Bytes::from_static(b"fire and forget"))
        .await
        .unwrap();
    // Every transmission that reaches a node is delivered (no deduplication, as in Go), so
    // copies of the first broadcast may come first.
    while recv_within(&mut inboxes[2], "the second broadcast").await != "fire and forget" {}
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_with_a_new_address_is_reclaimed() {
    let reclaim = Duration::from_secs(1);
    let config = |name: &str| {
        let mut c = fast_config(name);
        c.protocol.dead_node_reclaim_time = reclaim;
        c
    };
    let a = start_with(config("re-a"), RecordingDelegate::default()).await;
    let b = start_with(config("re-b"), RecordingDelegate::default()).await;
    let old = start_with(config("re-c"), RecordingDelegate::default()).await;
    b.join([addr_of(&a)]).await.unwrap();
    old.join([addr_of(&a)]).await.unwrap();
    eventually("three alive", || all_alive(&[&a, &b, &old], 3)).await;
    let old_addr = old.advertise_addr();
    old.shutdown().await;
    eventually("re-c declared dead", || {
        [&a, &b]
            .iter()
            .all(|n| state_of(n, "re-c") == Some(State::Dead))
    })
    .await;
    // Go reclaims a dead node's name only once it has been dead longer than the reclaim time.
    tokio::time::sleep(reclaim + ms(200)).await;

    let mut events = a.subscribe();
    let new = start_with(config("re-c"), RecordingDelegate::default()).await;
    assert_ne!(new.advertise_addr(), old_addr);
    assert_eq!(new.join([addr_of(&a)]).await.unwrap(), 1);
    let new_addr = new.advertise_addr();
    eventually("re-c alive at its new address everywhere", || {
        [&a, &b].iter().all(|n| {
            n.member("re-c")
                .is_some_and(|m| m.state == State::Alive && m.addr == new_addr)
        })
    })
    .await;
    wait_event(
        &mut events,
        "re-c's rejoin",
        |e| matches!(e, MemberEvent::Join(m) if m.name == "re-c"),
    )
    .await;
    eventually("the new node sees everyone", || new.num_members() == 3).await;
    for n in [&a, &b, &new] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_from_another_address_is_a_conflict_without_reclaim() {
    let a = start("dup-a").await;
    let first = start("dup-b").await;
    first.join([addr_of(&a)]).await.unwrap();
    eventually("two alive", || all_alive(&[&a, &first], 2)).await;
    let mut events = a.subscribe();
    let second = start("dup-b").await;
    // The exchange itself works; the claim is refused.
    second.join([addr_of(&a)]).await.unwrap();
    let event = wait_event(&mut events, "a conflict", |e| {
        matches!(e, MemberEvent::Conflict { .. })
    })
    .await;
    let MemberEvent::Conflict { existing, other } = event else {
        unreachable!()
    };
    assert_eq!(existing.addr, first.advertise_addr());
    assert_eq!(other.addr, second.advertise_addr());
    assert_eq!(
        a.member("dup-b").map(|m| m.addr),
        Some(first.advertise_addr())
    );
    for n in [&a, &first, &second] {
        n.shutdown().await;
    }
}

async fn start_sealed(name: &str, key: [u8; 32]) -> Node {
    Memberlist::builder(fast_config(name).with_compression(true))
        .transport(transport().await)
        .delegate(RecordingDelegate::default())
        .compression(Lzw)
        .encryption(AesGcm::from_key(SecretKey::new(&key).unwrap()))
        .start()
        .await
        .expect("node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_compressed_cluster_forms_and_other_keys_stay_out() {
    let key = [42u8; 32];
    let a = start_sealed("sealed-a", key).await;
    let b = start_sealed("sealed-b", key).await;
    let c = start_sealed("sealed-c", key).await;
    assert_eq!(b.join([addr_of(&a)]).await.unwrap(), 1);
    assert_eq!(c.join([addr_of(&a)]).await.unwrap(), 1);
    eventually("three sealed nodes see each other", || {
        all_alive(&[&a, &b, &c], 3)
    })
    .await;
    assert_eq!(a.stats().protocol.packets_dropped, 0);

    let intruder = start_sealed("intruder", [7u8; 32]).await;
    let err = intruder.join([addr_of(&a)]).await.unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert_eq!(intruder.num_members(), 1);

    // A node without keys is refused too (GossipVerifyIncoming).
    let plain = start("plain").await;
    assert!(plain.join([addr_of(&a)]).await.is_err());
    tokio::time::sleep(ms(500)).await;
    assert!(a.member("intruder").is_none() && a.member("plain").is_none());
    assert_eq!(a.num_members(), 3);
    for n in [&a, &b, &c, &intruder, &plain] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_final_and_idempotent() {
    let a = start("final").await;
    let addr = a.advertise_addr();
    a.shutdown().await;
    a.shutdown().await;
    assert!(!a.is_running());
    assert!(matches!(a.ping("final").await, Err(Error::Shutdown)));
    assert!(matches!(
        a.join([addr.to_string()]).await,
        Err(JoinError::Shutdown)
    ));
    assert!(matches!(
        a.leave(Duration::from_secs(1)).await,
        Err(Error::Shutdown)
    ));
    assert_eq!(a.local_node().name, "final");
    // The port is free again.
    NetTransport::bind(addr)
        .await
        .expect("the port was released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_stops_the_node() {
    let a = start("dropped").await;
    let addr = a.advertise_addr();
    let clone = a.clone();
    drop(a);
    assert!(clone.is_running());
    drop(clone);
    let deadline = Instant::now() + PATIENCE;
    loop {
        match NetTransport::bind(addr).await {
            Ok(t) => {
                t.shutdown().await.unwrap();
                break;
            }
            Err(_) => {
                assert!(Instant::now() < deadline, "the port was never released");
                tokio::time::sleep(ms(50)).await;
            }
        }
    }
}
