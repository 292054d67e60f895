//! Every limit on hostile input: exceeded in the in-memory network in paused time, the input
//! refused, the node still running, and `memberlist_limit_exceeded_total{limit}` moved.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use super::tests::{MemoryTransport, Network, Node, eventually, node};
use crate::codec::{Codec, CodecError, CodecRegistry};
use crate::delegate::Delegate;
use crate::machine::State;
use crate::metrics::{Counter, DropReason, InMemoryMetrics};
use crate::runtime::{Config, Memberlist};
use crate::transport::Transport;
use crate::wire::{
    Alive, Dead, IpBytes, Limit, Pipeline, PushNodeState, PushPull, Vsn, WireMessage,
};

/// The watched node, uncompressed: these tests count raw bytes.
async fn start(network: &Network, config: Config, sink: &Arc<InMemoryMetrics>) -> Node {
    Memberlist::builder(config.with_compression(false))
        .transport(network.endpoint(100))
        .metrics(Arc::clone(sink))
        .seed(100)
        .start()
        .await
        .expect("start")
}

/// The limit and the drop were counted once each, and nothing else tripped.
async fn counted(sink: &InMemoryMetrics, limit: Limit, drop: Option<Counter>) {
    eventually(limit.as_str(), || {
        sink.counter(Counter::LimitExceeded(limit)) == 1
    })
    .await;
    if let Some(drop) = drop {
        assert_eq!(sink.counter(drop), 1, "{drop:?}");
    }
    for other in Limit::ALL.iter().filter(|&&l| l != limit) {
        assert_eq!(sink.counter(Counter::LimitExceeded(*other)), 0, "{other:?}");
    }
}

/// The node still works: a newcomer joins it and both see each other alive.
async fn still_running<D: Delegate + 'static>(
    network: &Network,
    watched: &Memberlist<MemoryTransport, D>,
    i: u16,
) {
    let newcomer = node(network, i).await;
    newcomer
        .join([watched.advertise_addr().to_string()])
        .await
        .expect("the node still serves joins");
    let name = format!("node{i}");
    eventually("the newcomer is alive", || {
        watched
            .member(&name)
            .is_some_and(|m| m.state == State::Alive)
    })
    .await;
    newcomer.shutdown().await;
}

async fn raw_stream(raw: &MemoryTransport, to: SocketAddr, bytes: &[u8]) -> DuplexStream {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut s = raw.connect(to, deadline.into_std()).await.unwrap();
    s.write_all(bytes).await.unwrap();
    s
}

fn state(name: &str) -> PushNodeState {
    PushNodeState {
        name: name.into(),
        addr: IpBytes::from([10, 0, 0, 9]),
        port: 7946,
        incarnation: 1,
        vsn: Vsn::default_advertised(),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn an_oversized_datagram_is_dropped_before_decoding() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let mut config = Config::lan("watched");
    config.limits.max_datagram_size = 2048;
    let watched = start(&network, config, &sink).await;
    let raw = network.endpoint(9000);
    raw.send_to(watched.advertise_addr(), &[0xEE; 2049])
        .await
        .unwrap();
    let drop = Counter::PacketsDropped(DropReason::Limit);
    counted(&sink, Limit::DatagramSize, Some(drop)).await;
    assert_eq!(sink.counter(Counter::PacketsDropped(DropReason::Decode)), 0);
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_push_pull_with_too_many_nodes_is_refused() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let mut config = Config::lan("watched");
    config.limits.max_push_nodes = 2;
    let watched = start(&network, config, &sink).await;
    let raw = network.endpoint(9000);
    let pp = PushPull {
        join: true,
        states: vec![state("x"), state("y"), state("z")],
        user_state: Bytes::new(),
    };
    let mut s = raw_stream(&raw, watched.advertise_addr(), &pp.to_bytes()).await;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(answer.is_empty(), "no state for a refused push/pull");
    let drop = Counter::StreamsDropped(DropReason::Limit);
    counted(&sink, Limit::PushPullNodes, Some(drop)).await;
    assert!(watched.member("x").is_none());
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn oversized_user_state_and_user_messages_are_refused() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let mut config = Config::lan("watched");
    config.limits.max_user_state = 1024;
    config.limits.max_user_message = 1024;
    let watched = start(&network, config, &sink).await;
    let to = watched.advertise_addr();
    let raw = network.endpoint(9000);
    let pp = PushPull {
        join: false,
        states: vec![state("x")],
        user_state: Bytes::from(vec![1u8; 1025]),
    };
    let _s = raw_stream(&raw, to, &pp.to_bytes()).await;
    let drop = Counter::StreamsDropped(DropReason::Limit);
    counted(&sink, Limit::UserState, Some(drop)).await;

    let mut framed = Vec::new();
    Pipeline::new()
        .encode_stream_user(&[2u8; 1025], &mut framed)
        .unwrap();
    let _s = raw_stream(&raw, to, &framed).await;
    eventually("user message", || {
        sink.counter(Counter::LimitExceeded(Limit::UserMessage)) == 1
    })
    .await;
    assert_eq!(sink.counter(drop), 2);
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_sending_more_than_the_read_limit_is_cut() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let mut config = Config::lan("watched");
    config.stream_read_limit = 1024;
    let watched = start(&network, config, &sink).await;
    let raw = network.endpoint(9000);
    // A push/pull whose declared user state is within the decoder's limits but whose
    // bytes go past the stream read limit.
    let pp = PushPull {
        join: false,
        states: vec![state("x")],
        user_state: Bytes::from(vec![1u8; 4096]),
    };
    let _s = raw_stream(&raw, watched.advertise_addr(), &pp.to_bytes()).await;
    let drop = Counter::StreamsDropped(DropReason::Limit);
    counted(&sink, Limit::StreamRead, Some(drop)).await;
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

/// Run-length coding ((count, byte) pairs): enough to test the decompression budget.
#[derive(Debug)]
struct Rle;

impl Codec for Rle {
    fn algorithm(&self) -> u8 {
        0
    }
    fn name(&self) -> &'static str {
        "rle"
    }
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        for run in input.chunk_by(|a, b| a == b) {
            for part in run.chunks(255) {
                out.extend_from_slice(&[part.len() as u8, part[0]]);
            }
        }
        Ok(())
    }
    fn decompress(&self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let mut produced = 0usize;
        for pair in input.chunks(2) {
            let &[count, byte] = pair else {
                return Err(CodecError::Empty);
            };
            produced += usize::from(count);
            if produced > limit {
                return Err(CodecError::TooLarge { limit });
            }
            out.extend(std::iter::repeat_n(byte, usize::from(count)));
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_payload_decompressing_past_the_budget_is_dropped() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let mut config = Config::lan("watched");
    config.limits.max_decompressed_size = 512;
    // Decompress what arrives, send uncompressed (the newcomer below has no codec).
    config.compression = false;
    let watched = Memberlist::builder(config)
        .transport(network.endpoint(100))
        .metrics(Arc::clone(&sink))
        .compression(Rle)
        .seed(100)
        .start()
        .await
        .expect("start");
    let raw = network.endpoint(9000);
    let alive = Alive {
        incarnation: 1,
        node: "big".into(),
        addr: IpBytes::from([10, 0, 0, 9]),
        port: 7946,
        meta: Bytes::from(vec![3u8; 500]),
        vsn: Vsn::default_advertised(),
    };
    let mut packet = Vec::new();
    let codecs = CodecRegistry::new().with_compressor(Arc::new(Rle));
    let pipeline = Pipeline::new().with_codecs(codecs);
    pipeline
        .encode_packet(&alive.to_bytes(), false, &mut packet)
        .unwrap();
    assert_eq!(packet[0], 9, "a compress message");
    raw.send_to(watched.advertise_addr(), &packet)
        .await
        .unwrap();
    let drop = Counter::PacketsDropped(DropReason::Limit);
    counted(&sink, Limit::DecompressedSize, Some(drop)).await;
    assert!(watched.member("big").is_none());
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_trickling_peer_is_cut_off_at_the_deadline() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let watched = start(&network, Config::lan("watched"), &sink).await;
    let raw = network.endpoint(9000);
    let pp = PushPull {
        join: false,
        states: vec![state("x")],
        user_state: Bytes::new(),
    }
    .to_bytes();
    let started = Instant::now();
    let mut s = raw_stream(&raw, watched.advertise_addr(), &pp[..1]).await;
    // One byte a second: each read is quick, but the whole message is not done in time.
    let mut sent = 1;
    let cut = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if s.write_all(&pp[sent..=sent]).await.is_err() {
            break started.elapsed();
        }
        sent += 1;
        assert!(sent < pp.len(), "the whole message went through");
    };
    // LAN TCP timeout: 10 s from the accept, not 10 s of silence.
    assert!(cut >= Duration::from_secs(10), "{cut:?}");
    assert!(cut <= Duration::from_secs(12), "{cut:?}");
    let drop = Counter::StreamsDropped(DropReason::Timeout);
    counted(&sink, Limit::StreamDeadline, Some(drop)).await;
    assert!(watched.member("x").is_none());
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

/// Answers push/pulls with more state than the in-memory stream buffers (64 KiB).
struct BigState;

impl Delegate for BigState {
    fn local_state(&mut self, _join: bool) -> Bytes {
        Bytes::from(vec![5u8; 256 * 1024])
    }
}

#[tokio::test(start_paused = true)]
async fn push_pulls_beyond_the_limit_are_refused_and_a_reader_that_stalls_is_cut() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    // Uncompressed, so that the answer is large enough to fill the pipe and wait.
    let mut config = Config::lan("watched").with_compression(false);
    config.max_concurrent_push_pulls = 1;
    let watched = Memberlist::builder(config)
        .transport(network.endpoint(100))
        .metrics(Arc::clone(&sink))
        .delegate(BigState)
        .seed(100)
        .start()
        .await
        .expect("start");
    let to = watched.advertise_addr();
    let raw = network.endpoint(9000);
    let pp = PushPull::default().to_bytes();
    // This one is answered but never read: the answer fills the buffer and waits.
    let stalled = raw_stream(&raw, to, &pp).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut refused = raw_stream(&raw, to, &pp).await;
    let mut answer = Vec::new();
    refused.read_to_end(&mut answer).await.unwrap();
    assert!(answer.is_empty());
    let drop = Counter::StreamsDropped(DropReason::Limit);
    counted(&sink, Limit::PushPulls, Some(drop)).await;
    // The stalled reader is cut at the write deadline.
    eventually("write deadline", || {
        sink.counter(Counter::LimitExceeded(Limit::StreamDeadline)) == 1
    })
    .await;
    assert_eq!(
        sink.counter(Counter::StreamsDropped(DropReason::Timeout)),
        1
    );
    std::mem::drop(stalled);
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn too_many_inbound_streams_are_refused() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let mut config = Config::lan("watched");
    config.max_inbound_streams = 2;
    let watched = start(&network, config, &sink).await;
    let raw = network.endpoint(9000);
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(raw_stream(&raw, watched.advertise_addr(), &[]).await);
    }
    let drop = Counter::StreamsDropped(DropReason::Limit);
    counted(&sink, Limit::InboundStreams, Some(drop)).await;
    open.clear();
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn oversized_remote_metadata_and_absurd_incarnations_are_refused() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let watched = start(&network, Config::lan("watched"), &sink).await;
    let to = watched.advertise_addr();
    let peer = node(&network, 1).await;
    peer.join([to.to_string()]).await.expect("join");
    let raw = network.endpoint(9000);
    let send = |msg: Bytes| {
        let raw = &raw;
        async move {
            let mut packet = Vec::new();
            Pipeline::new()
                .encode_packet(&msg, false, &mut packet)
                .unwrap();
            raw.send_to(to, &packet).await.unwrap();
        }
    };
    let alive = Alive {
        incarnation: 1,
        node: "fat".into(),
        addr: IpBytes::from([10, 0, 0, 9]),
        port: 7946,
        meta: Bytes::from(vec![3u8; 513]),
        vsn: Vsn::default_advertised(),
    };
    send(alive.to_bytes()).await;
    counted(&sink, Limit::RemoteMeta, None).await;
    assert!(watched.member("fat").is_none());

    let dead = Dead {
        incarnation: u32::MAX,
        node: "node1".into(),
        from: "mallory".into(),
    };
    send(dead.to_bytes()).await;
    eventually("incarnation jump", || {
        sink.counter(Counter::LimitExceeded(Limit::IncarnationJump)) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(watched.member("node1").unwrap().state, State::Alive);
    still_running(&network, &watched, 2).await;
    peer.shutdown().await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_message_past_the_size_limit_is_refused() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let mut config = Config::lan("watched");
    config.limits.max_stream_message = 2048;
    let watched = start(&network, config, &sink).await;
    let raw = network.endpoint(9000);
    let pp = PushPull {
        join: false,
        states: vec![state("x")],
        user_state: Bytes::from(vec![1u8; 4096]),
    };
    let _s = raw_stream(&raw, watched.advertise_addr(), &pp.to_bytes()).await;
    let drop = Counter::StreamsDropped(DropReason::Limit);
    counted(&sink, Limit::StreamMessage, Some(drop)).await;
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn compounds_nested_too_deep_are_dropped() {
    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let watched = start(&network, Config::lan("watched"), &sink).await;
    let raw = network.endpoint(9000);
    let alive = Alive {
        incarnation: 1,
        node: "deep".into(),
        addr: IpBytes::from([10, 0, 0, 9]),
        port: 7946,
        meta: Bytes::new(),
        vsn: Vsn::default_advertised(),
    };
    let mut packet = alive.to_bytes().to_vec();
    for _ in 0..6 {
        let mut outer = Vec::new();
        crate::wire::encode_compound(&[&packet], &mut outer).unwrap();
        packet = outer;
    }
    raw.send_to(watched.advertise_addr(), &packet)
        .await
        .unwrap();
    let drop = Counter::PacketsDropped(DropReason::Limit);
    counted(&sink, Limit::Nesting, Some(drop)).await;
    assert!(watched.member("deep").is_none());
    still_running(&network, &watched, 1).await;
    watched.shutdown().await;
}

#[test]
fn an_oversized_encrypted_stream_frame_counts_as_its_limit() {
    // Enforced by the stream decoder before any decryption (wire tests); here: the error it
    // returns is counted under its own limit.
    let sink = InMemoryMetrics::new();
    let error = crate::wire::WireError::from(crate::wire::DecodeError::LimitExceeded {
        what: Limit::EncryptedStream,
        value: 1 << 30,
        limit: 20 << 20,
    });
    let reason = crate::metrics::count_wire_drop(&sink, &error, true);
    assert_eq!(reason, DropReason::Limit);
    assert_eq!(sink.counter(Counter::StreamsDropped(DropReason::Limit)), 1);
    assert_eq!(
        sink.counter(Counter::LimitExceeded(Limit::EncryptedStream)),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_node_declared_dead_at_u32_max_comes_back() {
    // With the jump check off on both nodes, a forged dead at u32::MAX gets through. Nothing
    // beats u32::MAX, but it is spent: the next alive about `b` with a lower incarnation (its
    // own announcement still in gossip, or its refutation, counted as `incarnation_ceiling`)
    // brings it back. In Go, `b` would stay dead in `a`'s view for good.
    let network = Network::default();
    let (sink_a, sink_b) = (
        Arc::new(InMemoryMetrics::new()),
        Arc::new(InMemoryMetrics::new()),
    );
    let open = |name: &str| {
        let mut c = Config::lan(name);
        c.protocol.max_incarnation_jump = 0;
        c
    };
    let a = start(&network, open("a"), &sink_a).await;
    let b = Memberlist::builder(open("b"))
        .transport(network.endpoint(101))
        .metrics(Arc::clone(&sink_b))
        .seed(101)
        .start()
        .await
        .expect("start");
    b.join([a.advertise_addr().to_string()])
        .await
        .expect("join");
    eventually("a sees b", || {
        a.member("b").is_some_and(|m| m.state == State::Alive)
    })
    .await;
    let dead = Dead {
        incarnation: u32::MAX,
        node: "b".into(),
        from: "mallory".into(),
    };
    let mut packet = Vec::new();
    Pipeline::new()
        .encode_packet(&dead.to_bytes(), false, &mut packet)
        .unwrap();
    let raw = network.endpoint(9000);
    let mut events = a.subscribe();
    raw.send_to(a.advertise_addr(), &packet).await.unwrap();
    let death = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await {
                Some(crate::runtime::Notification::Event {
                    event: crate::runtime::MemberEvent::Failed(m),
                    ..
                }) if m.name == "b" => break m,
                Some(_) => {}
                None => panic!("the subscription ended"),
            }
        }
    })
    .await
    .expect("the forgery takes b down first");
    assert_eq!((death.state, death.incarnation), (State::Dead, u32::MAX));
    // Back within a few gossip rounds, long before a's dead entries are forgotten
    // (gossip_to_the_dead_time, 30 s), which would also let it back.
    let back = |a: &Node| {
        a.member("b")
            .is_some_and(|m| m.state == State::Alive && m.incarnation < u32::MAX)
    };
    let died = Instant::now();
    while !back(&a) {
        assert!(died.elapsed() < Duration::from_secs(10), "b stayed dead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b.member("b").unwrap().state, State::Alive);
    assert_eq!(
        sink_a.counter(Counter::LimitExceeded(Limit::IncarnationJump)),
        0
    );
    a.shutdown().await;
    b.shutdown().await;
}
