//! The runtime over the test kit's in-memory transport, in tokio's paused time: Go's LAN timers run in
//! virtual time, so a failure detection that takes seconds takes milliseconds here, and the
//! test checks that the machine follows tokio's clock.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::machine::State;
use crate::runtime::{Config, Error, Memberlist, Notification};
use crate::testing::MemoryNetwork;

pub(super) use crate::testing::MemoryTransport;

/// The test kit's memory network, with the addresses these tests use (`10.0.0.1:port`).
#[derive(Clone, Default)]
pub(super) struct Network(MemoryNetwork);

impl Network {
    pub(super) fn endpoint(&self, port: u16) -> MemoryTransport {
        self.endpoint_at(SocketAddr::from(([10, 0, 0, 1], port)))
    }

    pub(super) fn endpoint_at(&self, addr: SocketAddr) -> MemoryTransport {
        self.0.endpoint(addr).expect("a free address")
    }
}

pub(super) type Node = Memberlist<MemoryTransport>;

pub(super) async fn node(network: &Network, i: u16) -> Node {
    // Uncompressed: the limit tests count raw bytes (the builder registers LZW by default).
    Memberlist::builder(Config::lan(format!("node{i}")).with_compression(false))
        .transport(network.endpoint(7946 + i))
        .seed(u64::from(i))
        .start()
        .await
        .expect("start")
}

/// Waits in virtual time (up to a virtual minute) until `check` holds.
pub(super) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
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
    while let Some(Some(n)) = futures_util::FutureExt::now_or_never(events.recv()) {
        if let Notification::Event { event, .. } = n
            && event.is_departure()
        {
            let m = event.member();
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
async fn start_refuses_settings_it_cannot_honour() {
    let network = Network::default();
    // Keys and no plugin to use them: only possible without the `aes-gcm` feature.
    #[cfg(not(feature = "aes-gcm"))]
    {
        let key = crate::encryption::SecretKey::new(&[1; 16]).expect("key");
        let config = Config::lan("a").with_keyring(crate::encryption::Keyring::new(key));
        let err = Memberlist::builder(config)
            .transport(network.endpoint(1))
            .start()
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("enable the `aes-gcm` feature"),
            "{err}"
        );
    }
    let mut config = Config::lan("a");
    config.protocol.udp_buffer_size = 70_000;
    let err = Memberlist::builder(config)
        .transport(network.endpoint(2))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("udp_buffer_size"), "{err}");
}
