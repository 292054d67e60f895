//! The runtime over an in-memory transport, in tokio's paused time: Go's LAN timers run in
//! virtual time, so a failure detection that takes seconds takes milliseconds here, and the
//! test checks that the machine follows tokio's clock.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::machine::State;
use crate::runtime::{Config, Error, MemberEvent, Memberlist};
use crate::transport::{Transport, TransportError};

type Datagram = (Bytes, SocketAddr);
type Inbound = (DuplexStream, SocketAddr);
type Mailboxes = (
    mpsc::UnboundedSender<Datagram>,
    mpsc::UnboundedSender<Inbound>,
);

#[derive(Clone, Default)]
struct Network {
    endpoints: Arc<Mutex<HashMap<SocketAddr, Mailboxes>>>,
}

struct MemoryTransport {
    addr: SocketAddr,
    network: Network,
    datagrams: tokio::sync::Mutex<mpsc::UnboundedReceiver<Datagram>>,
    streams: tokio::sync::Mutex<mpsc::UnboundedReceiver<Inbound>>,
    closed: watch::Sender<bool>,
}

impl Network {
    fn endpoint(&self, port: u16) -> MemoryTransport {
        let addr = SocketAddr::from(([10, 0, 0, 1], port));
        let (dgram_tx, dgram_rx) = mpsc::unbounded_channel();
        let (stream_tx, stream_rx) = mpsc::unbounded_channel();
        self.endpoints
            .lock()
            .expect("lock")
            .insert(addr, (dgram_tx, stream_tx));
        MemoryTransport {
            addr,
            network: self.clone(),
            datagrams: tokio::sync::Mutex::new(dgram_rx),
            streams: tokio::sync::Mutex::new(stream_rx),
            closed: watch::Sender::new(false),
        }
    }
}

#[async_trait::async_trait]
impl Transport for MemoryTransport {
    type Stream = DuplexStream;

    fn advertise_addr(&self) -> SocketAddr {
        self.addr
    }
    fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    fn max_datagram_size(&self) -> usize {
        65_507
    }
    async fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<(), TransportError> {
        if *self.closed.borrow() {
            return Err(TransportError::Shutdown);
        }
        let peer = self
            .network
            .endpoints
            .lock()
            .expect("lock")
            .get(&to)
            .map(|e| e.0.clone());
        if let Some(peer) = peer {
            let _ = peer.send((Bytes::copy_from_slice(data), self.addr));
        }
        Ok(())
    }
    async fn recv_from(&self) -> Result<(Bytes, SocketAddr), TransportError> {
        let mut closed = self.closed.subscribe();
        let mut datagrams = self.datagrams.lock().await;
        tokio::select! {
            _ = closed.wait_for(|c| *c) => Err(TransportError::Shutdown),
            d = datagrams.recv() => d.ok_or(TransportError::Shutdown),
        }
    }
    async fn connect(
        &self,
        to: SocketAddr,
        deadline: Instant,
    ) -> Result<DuplexStream, TransportError> {
        if *self.closed.borrow() {
            return Err(TransportError::Shutdown);
        }
        if deadline <= Instant::now() {
            return Err(TransportError::Timeout);
        }
        let refused = || {
            TransportError::io(
                format!("connecting to {to}"),
                io::Error::from(io::ErrorKind::ConnectionRefused),
            )
        };
        let peer = self
            .network
            .endpoints
            .lock()
            .expect("lock")
            .get(&to)
            .map(|e| e.1.clone());
        let peer = peer.ok_or_else(refused)?;
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        peer.send((theirs, self.addr)).map_err(|_| refused())?;
        Ok(ours)
    }
    async fn accept(&self) -> Result<(DuplexStream, SocketAddr), TransportError> {
        let mut closed = self.closed.subscribe();
        let mut streams = self.streams.lock().await;
        tokio::select! {
            _ = closed.wait_for(|c| *c) => Err(TransportError::Shutdown),
            s = streams.recv() => s.ok_or(TransportError::Shutdown),
        }
    }
    async fn shutdown(&self) -> Result<(), TransportError> {
        self.closed.send_replace(true);
        self.network
            .endpoints
            .lock()
            .expect("lock")
            .remove(&self.addr);
        Ok(())
    }
}

type Node = Memberlist<MemoryTransport>;

async fn node(network: &Network, i: u16) -> Node {
    Memberlist::builder(Config::lan(format!("node{i}")))
        .transport(network.endpoint(7946 + i))
        .seed(u64::from(i))
        .start()
        .await
        .expect("start")
}

/// Waits in virtual time (up to a virtual minute) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn lan_cluster_in_virtual_time() {
    let network = Network::default();
    let nodes = [
        node(&network, 0).await,
        node(&network, 1).await,
        node(&network, 2).await,
    ];
    let seed = nodes[0].advertise_addr().to_string();
    for n in &nodes[1..] {
        assert_eq!(n.join([seed.as_str()]).await.expect("join"), 1);
    }
    eventually("three alive everywhere", || {
        nodes.iter().all(|n| n.count_in_state(State::Alive) == 3)
    })
    .await;
    let rtt = nodes[0].ping("node1").await.expect("ping");
    assert!(rtt < Duration::from_millis(500));

    // A graceful leave, then a crash, detected with Go's LAN timers in virtual time.
    let mut events = nodes[0].subscribe();
    nodes[2].leave(Duration::from_secs(5)).await.expect("leave");
    nodes[2].shutdown().await;
    eventually("node2 left", || {
        nodes[0].member("node2").map(|m| m.state) == Some(State::Left)
    })
    .await;
    let crash_at = Instant::now();
    nodes[1].shutdown().await;
    eventually("node1 declared dead", || {
        nodes[0].member("node1").map(|m| m.state) == Some(State::Dead)
    })
    .await;
    // Probe (1 s) + suspicion (4 × 1 s at least): virtual seconds, not real ones.
    assert!(
        crash_at.elapsed() >= Duration::from_secs(4),
        "{:?}",
        crash_at.elapsed()
    );
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let MemberEvent::Leave(m) = e {
            seen.push((m.name.to_string(), m.state));
        }
    }
    assert_eq!(
        seen,
        vec![("node2".into(), State::Left), ("node1".into(), State::Dead)]
    );
    assert!(matches!(
        nodes[1].send_reliable("node0", b"x").await,
        Err(Error::Shutdown)
    ));
    let err = nodes[0].send_reliable("node1", b"x").await.unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
    nodes[0].shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn keys_without_an_encryption_plugin_are_refused() {
    let network = Network::default();
    let key = crate::encryption::SecretKey::new(&[1; 16]).expect("key");
    let config = Config::lan("a").with_keyring(crate::encryption::Keyring::new(key));
    let err = Memberlist::builder(config)
        .transport(network.endpoint(1))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("keyring"), "{err}");
    let mut config = Config::lan("a");
    config.protocol.udp_buffer_size = 70_000;
    let err = Memberlist::builder(config)
        .transport(network.endpoint(2))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("udp_buffer_size"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn runtime_reports_to_the_metrics_sink() {
    use crate::metrics::{Counter, DropReason, Gauge, Histogram, InMemoryMetrics};
    use tokio::io::AsyncWriteExt;

    let network = Network::default();
    let sink = Arc::new(InMemoryMetrics::new());
    let seed = Memberlist::builder(Config::lan("node0"))
        .transport(network.endpoint(7946))
        .metrics(Arc::clone(&sink))
        .seed(0)
        .start()
        .await
        .expect("start");
    let others = [node(&network, 1).await, node(&network, 2).await];
    let addr = seed.advertise_addr().to_string();
    for n in &others {
        n.join([addr.as_str()]).await.expect("join");
    }
    eventually("three alive in the gauge", || {
        sink.gauge(Gauge::Members(State::Alive)) == 3.0
    })
    .await;
    assert!(sink.counter(Counter::TcpAccept) >= 2, "two joins came in");
    assert!(sink.counter(Counter::MsgAlive) >= 2);
    assert!(sink.counter(Counter::TcpSentBytes) > 0, "push/pull answers");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(sink.counter(Counter::UdpSentPackets) > 0);
    assert!(sink.counter(Counter::UdpReceivedPackets) > 0);
    assert!(sink.counter(Counter::UdpSentBytes) >= sink.counter(Counter::UdpSentPackets));
    assert!(sink.counter(Counter::UdpReceivedBytes) > 0);
    assert_eq!(sink.gauge(Gauge::PushPullInFlight), 0.0);
    // The seed answered two joins: it saw their states and sent its own.
    let remote = sink.histogram(Histogram::PushPullSizeRemote);
    let local = sink.histogram(Histogram::PushPullSizeLocal);
    assert!(remote.count >= 2 && remote.min > 0.0, "{remote:?}");
    assert!(local.count >= 2 && local.max > remote.min, "{local:?}");

    // A stream of garbage is dropped and counted as undecodable.
    let intruder = network.endpoint(9999);
    let mut stream = intruder
        .connect(
            seed.advertise_addr(),
            Instant::now() + Duration::from_secs(1),
        )
        .await
        .expect("connect");
    stream.write_all(&[0xEE; 32]).await.expect("write");
    stream.shutdown().await.expect("close");
    eventually("the garbage stream is counted", || {
        sink.counter(Counter::StreamsDropped(DropReason::Decode)) == 1
    })
    .await;

    // A crash moves the suspect and dead counters and the per-state gauges.
    others[0].shutdown().await;
    eventually("node1 dead in the gauge", || {
        sink.gauge(Gauge::Members(State::Dead)) == 1.0
    })
    .await;
    assert_eq!(sink.gauge(Gauge::Members(State::Alive)), 2.0);
    assert!(sink.counter(Counter::MsgSuspect) >= 1);
    assert!(sink.counter(Counter::MsgDead) >= 1);
    assert_eq!(sink.counter(Counter::Refutations), 0);
    seed.shutdown().await;
    others[1].shutdown().await;
}
