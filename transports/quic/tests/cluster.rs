//! Clusters of real nodes (the `memberlist::runtime` driver over `QuicTransport`) on
//! 127.0.0.1 with system-chosen ports and fast timers. Every wait polls with a generous bound,
//! so the tests hold on a loaded machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::Duration;

use bytes::Bytes;
use memberlist::runtime::{Config, MemberEvent, Memberlist};
use memberlist::testing::{
    PATIENCE, RecordingDelegate, addr_of, all_alive, eventually, fast_config, recv_within,
    wait_event,
};
use memberlist_core::machine::State;
use memberlist_quic::{DEFAULT_SERVER_NAME, DevCa, QuicConfig, QuicTransport};
use tokio::time::Instant;

type Node = Memberlist<QuicTransport, RecordingDelegate>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn start_full(
    ca: &DevCa,
    config: Config,
    delegate: RecordingDelegate,
    tweak: impl FnOnce(QuicConfig) -> QuicConfig,
) -> Node {
    let tls = ca
        .node_tls(&config.protocol.name)
        .expect("a node certificate");
    let quic = tweak(QuicConfig::new("127.0.0.1:0".parse().unwrap(), tls));
    let transport = QuicTransport::bind(quic).await.expect("bind on loopback");
    Memberlist::builder(config)
        .transport(transport)
        .delegate(delegate)
        .start()
        .await
        .expect("node starts")
}

async fn start(ca: &DevCa, name: &str) -> Node {
    start_full(ca, fast_config(name), RecordingDelegate::default(), |c| c).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_quic_nodes_form_a_cluster_and_declare_a_crashed_one_dead() {
    let ca = DevCa::new("five").unwrap();
    let seed = start(&ca, "q0").await;
    let mut nodes = vec![];
    for i in 1..5 {
        let node = start(&ca, &format!("q{i}")).await;
        assert_eq!(node.join([addr_of(&seed)]).await.expect("join the seed"), 1);
        nodes.push(node);
    }
    let all: Vec<&Node> = std::iter::once(&seed).chain(&nodes).collect();
    eventually("every node sees 5 alive", || all_alive(&all, 5)).await;
    for node in &all {
        let member = seed.member(node.name()).expect("known to the seed");
        assert_eq!(member.addr, node.advertise_addr());
    }
    // Gossip and probes rode QUIC datagrams.
    let t = seed.transport().stats();
    assert!(t.datagrams_sent > 0 && t.datagrams_received > 0, "{t:?}");
    assert!(t.connections_open >= 4, "{t:?}");

    // A crash: no leave message, the endpoint just closes.
    let mut events = seed.subscribe();
    let crashed = nodes.pop().expect("five nodes");
    crashed.shutdown().await;
    let observers: Vec<&Node> = std::iter::once(&seed).chain(&nodes).collect();
    eventually("the others declare q4 dead", || {
        observers
            .iter()
            .all(|n| n.member("q4").map(|m| m.state) == Some(State::Dead))
    })
    .await;
    let event = wait_event(
        &mut events,
        "q4's failure",
        |e| matches!(e, MemberEvent::Failed(m) if m.name == "q4"),
    )
    .await;
    assert_eq!(event.member().state, State::Dead);
    let suspicions: u64 = observers.iter().map(|n| n.stats().protocol.suspect).sum();
    assert!(
        suspicions >= 1,
        "q4 was suspected before being declared dead"
    );
    for n in &observers {
        assert_eq!(n.count_in_state(State::Alive), 4);
    }
    for n in observers {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_messages_and_push_pull_state_cross_quic() {
    let ca = DevCa::new("messages").unwrap();
    let a = start_full(
        &ca,
        fast_config("msg-a"),
        RecordingDelegate::default().with_state(Bytes::from_static(b"state of a")),
        |c| c,
    )
    .await;
    let mut delegate = RecordingDelegate::default();
    let (mut inbox, mut merged) = (delegate.messages(), delegate.merged_states());
    let b = start_full(&ca, fast_config("msg-b"), delegate, |c| c).await;
    b.join([addr_of(&a)]).await.unwrap();
    // Push/pull on join carries the delegate's state.
    assert_eq!(
        recv_within(&mut merged, "a's state at b").await,
        (Bytes::from_static(b"state of a"), true)
    );
    eventually("a knows b", || a.num_members() == 2).await;

    a.send_reliable("msg-b", b"over a stream").await.unwrap();
    assert_eq!(
        recv_within(&mut inbox, "the reliable message").await,
        "over a stream"
    );
    let big = vec![7u8; 200_000];
    a.send_reliable("msg-b", &big).await.unwrap();
    assert_eq!(recv_within(&mut inbox, "the big one").await.len(), 200_000);

    // Datagrams may be lost in principle; resend until one arrives.
    for (payload, len) in [(&b"over a datagram"[..], 15), (&[9u8; 5000][..], 5000)] {
        let mut got = None;
        for _ in 0..10 {
            a.send_best_effort("msg-b", payload).await.unwrap();
            if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(1), inbox.recv()).await
            {
                got = Some(msg);
                break;
            }
        }
        assert_eq!(got.expect("a best-effort message arrives").len(), len);
    }
    // The 5,000-byte one did not fit a datagram and took a unidirectional stream.
    assert!(a.transport().stats().datagrams_via_stream >= 1);

    // The periodic anti-entropy exchange carries state too (join = false).
    loop {
        let (state, join) = recv_within(&mut merged, "a periodic push/pull").await;
        if !join {
            assert_eq!(state, "state of a");
            break;
        }
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_ca_cannot_join() {
    let ca = DevCa::new("members").unwrap();
    let sink = std::sync::Arc::new(memberlist_core::metrics::InMemoryMetrics::new());
    let metrics: std::sync::Arc<dyn memberlist_core::metrics::Metrics> = sink.clone();
    let a = start_full(
        &ca,
        fast_config("ca-a"),
        RecordingDelegate::default(),
        |c| c.with_metrics(metrics),
    )
    .await;
    let b = start(&ca, "ca-b").await;
    b.join([addr_of(&a)]).await.unwrap();
    eventually("two alive", || all_alive(&[&a, &b], 2)).await;

    let other = DevCa::new("outsiders").unwrap();
    let intruder = start(&other, "intruder").await;
    let err = intruder.join([addr_of(&a)]).await.unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert_eq!(intruder.num_members(), 1);
    eventually("a counts the refused handshake", || {
        a.transport().stats().handshake_failures.unknown_ca >= 1
    })
    .await;
    // …and reports it as a metric.
    let unknown_ca = memberlist_quic::HandshakeFailure::UnknownCa
        .refusal()
        .unwrap();
    let refused = &memberlist_quic::HANDSHAKES_REFUSED;
    assert!(sink.declared_counter(refused, unknown_ca) >= 1);
    // Its datagrams are never delivered either.
    for _ in 0..3 {
        intruder
            .send_to_address(a.advertise_addr(), b"hello?")
            .await
            .unwrap();
    }
    tokio::time::sleep(ms(500)).await;
    assert!(a.member("intruder").is_none() && b.member("intruder").is_none());
    assert!(all_alive(&[&a, &b], 2));
    for n in [&a, &b, &intruder] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_is_timed_out_and_the_node_keeps_working() {
    let ca = DevCa::new("stall").unwrap();
    let a = start(&ca, "stall-a").await;
    let b = start(&ca, "stall-b").await;
    b.join([addr_of(&a)]).await.unwrap();
    eventually("two alive", || all_alive(&[&a, &b], 2)).await;
    let errors = a.stats().inbound_stream_errors;

    // A member's certificate, but a peer that stops half-way through a user message that
    // declares 4,096 bytes.
    let client_config = ca
        .node_tls("staller")
        .unwrap()
        .quinn_client_config()
        .unwrap();
    let mut client = memberlist_quic::quinn::Endpoint::client("127.0.0.1:0".parse().unwrap())
        .expect("a client endpoint");
    client.set_default_client_config(client_config);
    let conn = client
        .connect(a.advertise_addr(), DEFAULT_SERVER_NAME)
        .unwrap()
        .await
        .expect("a member's certificate is accepted");
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(b"\x08\x81\xaaUserMsgLen\xcd\x10\x00partial")
        .await
        .unwrap();
    let started = Instant::now();
    let reply = tokio::time::timeout(PATIENCE, recv.read_to_end(1 << 16))
        .await
        .expect("the node closes the stalled stream");
    assert!(reply.map(|r| r.is_empty()).unwrap_or(true), "no answer");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed at the TCP timeout, not before: {:?}",
        started.elapsed()
    );
    eventually("a counts the timed-out stream", || {
        a.stats().inbound_stream_errors > errors
    })
    .await;

    // Still healthy: reliable messages, pings and joins work.
    a.send_reliable("stall-b", b"still here").await.unwrap();
    a.ping("stall-b").await.expect("b answers pings");
    let c = start(&ca, "stall-c").await;
    assert_eq!(c.join([addr_of(&a)]).await.unwrap(), 1);
    eventually("a third node joins", || all_alive(&[&a, &b, &c], 3)).await;
    for n in [&a, &b, &c] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_leaves_a_healthy_peer_served() {
    let ca = DevCa::new("flood").unwrap();
    let a = start_full(
        &ca,
        fast_config("flood-a"),
        RecordingDelegate::default(),
        |c| c.with_max_connections(4),
    )
    .await;
    let b = start(&ca, "flood-b").await;
    b.join([addr_of(&a)]).await.unwrap();
    eventually("two alive", || all_alive(&[&a, &b], 2)).await;

    // Thirty raw clients, certificates and all, each holding a connection if it gets one.
    let client_config = ca
        .node_tls("flooder")
        .unwrap()
        .quinn_client_config()
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..30 {
        let mut client =
            memberlist_quic::quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        client.set_default_client_config(client_config.clone());
        let connecting = client
            .connect(a.advertise_addr(), DEFAULT_SERVER_NAME)
            .unwrap();
        if let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(5), connecting).await {
            held.push((client, conn));
        }
    }
    let stats = a.transport().stats();
    assert!(
        held.len() <= 3,
        "b holds one of four slots: {} got in",
        held.len()
    );
    assert!(stats.connections_refused >= 27, "{stats:?}");
    assert!(stats.connections_open <= 4, "{stats:?}");

    // The member still gets through on its pooled connection.
    for _ in 0..3 {
        b.ping("flood-a").await.expect("a answers b's pings");
    }
    a.send_reliable("flood-b", b"busy but alive").await.unwrap();
    assert!(all_alive(&[&a, &b], 2));
    drop(held);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_leaves_is_seen_as_left() {
    let ca = DevCa::new("leave").unwrap();
    let a = start(&ca, "leave-a").await;
    let b = start(&ca, "leave-b").await;
    let c = start(&ca, "leave-c").await;
    b.join([addr_of(&a)]).await.unwrap();
    c.join([addr_of(&a)]).await.unwrap();
    eventually("three alive", || all_alive(&[&a, &b, &c], 3)).await;
    // The leave message goes out before the endpoint closes.
    c.leave(Duration::from_secs(10)).await.unwrap();
    c.shutdown().await;
    eventually("the others see leave-c as left, not dead", || {
        [&a, &b]
            .iter()
            .all(|n| n.member("leave-c").map(|m| m.state) == Some(State::Left))
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}
