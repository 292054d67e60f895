//! The test kit (`memberlist::testing`, feature `testing`): the memory network's loss,
//! latency, partitions, one-way cuts and heal, the intercepting wrapper's policies and
//! counters, and a cluster of real nodes on the network split and healed. In tokio's paused
//! time, so latencies and timeouts are exact.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use memberlist::prelude::*;
use memberlist::testing::{
    DropRate, Intercept, Link, MemoryNetwork, MemoryTransport, Policy, Verdict, addr_of,
    eventually, fast_config, state_of, wait_until_converged,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every datagram waiting at `t` (none arrives later than `wait`).
async fn drain(t: &MemoryTransport, wait: Duration) -> Vec<(Vec<u8>, SocketAddr)> {
    let mut got = Vec::new();
    while let Ok(Ok((data, from))) = tokio::time::timeout(wait, t.recv_from()).await {
        got.push((data.to_vec(), from));
    }
    got
}

fn deadline_in(d: Duration) -> std::time::Instant {
    (Instant::now() + d).into_std()
}

#[tokio::test(start_paused = true)]
async fn loss_is_per_directed_link_and_seeded() {
    let lost_with = |seed| async move {
        let network = MemoryNetwork::with_seed(seed);
        let (a, b) = (network.bind(), network.bind());
        network.set_loss(a.advertise_addr(), b.advertise_addr(), 0.3);
        for i in 0..1000u32 {
            a.send_to(b.advertise_addr(), &i.to_be_bytes())
                .await
                .unwrap();
            b.send_to(a.advertise_addr(), &i.to_be_bytes())
                .await
                .unwrap();
        }
        let at_b = drain(&b, ms(10)).await;
        let at_a = drain(&a, ms(10)).await;
        assert_eq!(at_a.len(), 1000, "the other direction loses nothing");
        assert_eq!(network.stats().lost, 1000 - at_b.len() as u64);
        assert_eq!(network.stats().delivered, 1000 + at_b.len() as u64);
        at_b.into_iter().map(|(d, _)| d).collect::<Vec<_>>()
    };
    let first = lost_with(7).await;
    assert!(
        (620..=780).contains(&first.len()),
        "{} of 1000 arrived",
        first.len()
    );
    assert_eq!(first, lost_with(7).await, "a seed loses the same datagrams");
    assert_ne!(first, lost_with(8).await);
}

#[tokio::test(start_paused = true)]
async fn latency_delays_datagrams_and_dials_on_tokio_time() {
    let network = MemoryNetwork::new();
    let (a, b) = (network.bind(), network.bind());
    let (pa, pb) = (a.advertise_addr(), b.advertise_addr());
    network.set_link(pa, pb, Link::default().with_latency(ms(100)));
    network.set_latency(pb, pa, ms(30));
    assert_eq!(network.link(pa, pb).latency, ms(100));

    let start = Instant::now();
    a.send_to(pb, b"slow").await.unwrap();
    assert!(start.elapsed() < ms(1), "sending never waits");
    let (data, from) = b.recv_from().await.unwrap();
    assert_eq!((&data[..], from), (&b"slow"[..], pa));
    assert_eq!(start.elapsed(), ms(100));

    // A dial takes a round trip; a deadline shorter than that times out.
    let start = Instant::now();
    let mut dialed = a.connect(pb, deadline_in(ms(500))).await.unwrap();
    assert_eq!(start.elapsed(), ms(130));
    let (mut accepted, from) = b.accept().await.unwrap();
    assert_eq!(from, pa);
    dialed.write_all(b"push").await.unwrap();
    let mut buf = [0; 4];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"push");
    let err = a.connect(pb, deadline_in(ms(100))).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_one_way_cut_drops_one_direction_and_fails_dials_both_ways() {
    let network = MemoryNetwork::new();
    let (a, b) = (network.bind(), network.bind());
    let (pa, pb) = (a.advertise_addr(), b.advertise_addr());
    network.cut(pa, pb);
    assert!(!network.is_connected(pa, pb) && network.is_connected(pb, pa));

    a.send_to(pb, b"into the void").await.unwrap();
    b.send_to(pa, b"back").await.unwrap();
    assert!(drain(&b, ms(10)).await.is_empty());
    assert_eq!(drain(&a, ms(10)).await, vec![(b"back".to_vec(), pb)]);
    assert_eq!(network.stats().cut, 1);

    // No handshake across a cut, whichever side dials: both time out at their deadline.
    for (from, to) in [(&a, pb), (&b, pa)] {
        let start = Instant::now();
        let err = from.connect(to, deadline_in(ms(250))).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(start.elapsed(), ms(250));
    }
    assert_eq!(network.stats().dials_cut, 2);

    network.heal();
    a.send_to(pb, b"healed").await.unwrap();
    assert_eq!(drain(&b, ms(10)).await, vec![(b"healed".to_vec(), pa)]);
    a.connect(pb, deadline_in(ms(250))).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn addresses_are_distinct_taken_and_freed() {
    let network = MemoryNetwork::new();
    let a = network.bind();
    let b = network.bind();
    assert_ne!(a.advertise_addr(), b.advertise_addr());
    assert!(a.advertise_addr().ip().is_loopback());
    let addr: SocketAddr = "10.0.0.1:7946".parse().unwrap();
    let c = network.endpoint(addr).expect("a free address");
    assert!(network.endpoint(addr).is_none(), "taken");

    // Nobody at an address: datagrams are lost, dials refused.
    c.shutdown().await.unwrap();
    assert!(c.recv_from().await.unwrap_err().is_shutdown());
    a.send_to(addr, b"x").await.unwrap();
    assert_eq!(network.stats().unreachable, 1);
    let err = a.connect(addr, deadline_in(ms(100))).await.unwrap_err();
    assert!(!err.is_timeout(), "refused at once: {err}");
    let again = network.endpoint(addr).expect("shutdown frees the address");
    drop(again);
    assert!(network.endpoint(addr).is_some(), "dropping frees it too");
    let err = a
        .send_to(b.advertise_addr(), &vec![0; 70_000])
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::DatagramTooLarge { .. }),
        "{err}"
    );
}

/// Delays datagrams to one address, refuses dials to another.
struct Picky {
    slow: SocketAddr,
    refused: SocketAddr,
}

impl Policy for Picky {
    fn outgoing(&self, to: SocketAddr, _data: &[u8]) -> Verdict {
        if to == self.slow {
            Verdict::Delay(ms(40))
        } else {
            Verdict::Deliver
        }
    }
    fn connect(&self, to: SocketAddr) -> Verdict {
        if to == self.refused {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_wrapper_counts_delays_and_drops() {
    let network = MemoryNetwork::new();
    let (b, c) = (network.bind(), network.bind());
    let picky = Picky {
        slow: b.advertise_addr(),
        refused: c.advertise_addr(),
    };
    let a = Intercept::with_policy(network.bind(), picky);

    let start = Instant::now();
    a.send_to(b.advertise_addr(), b"late").await.unwrap();
    a.send_to(c.advertise_addr(), b"now").await.unwrap();
    assert!(start.elapsed() < ms(1), "a delay never holds the sender");
    assert_eq!(&c.recv_from().await.unwrap().0[..], b"now");
    assert_eq!(start.elapsed(), ms(0));
    assert_eq!(&b.recv_from().await.unwrap().0[..], b"late");
    assert_eq!(start.elapsed(), ms(40));

    let err = a
        .connect(c.advertise_addr(), deadline_in(ms(100)))
        .await
        .unwrap_err();
    assert_eq!(
        err.io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    let mut stream = a
        .connect(b.advertise_addr(), deadline_in(ms(100)))
        .await
        .unwrap();
    let (mut theirs, _) = b.accept().await.unwrap();
    stream.write_all(b"12345").await.unwrap();
    theirs.write_all(b"abc").await.unwrap();
    let mut buf = [0; 3];
    stream.read_exact(&mut buf).await.unwrap();
    b.send_to(a.advertise_addr(), b"in").await.unwrap();
    a.recv_from().await.unwrap();

    let t = a.traffic();
    assert_eq!(
        (t.datagrams_sent, t.datagram_bytes_sent, t.datagrams_delayed),
        (2, 7, 1)
    );
    assert_eq!((t.streams_opened, t.streams_refused), (1, 1));
    assert_eq!((t.stream_bytes_written, t.stream_bytes_read), (5, 3));
    assert_eq!((t.datagrams_received, t.datagram_bytes_received), (1, 2));
    assert_eq!(t.bytes_sent(), 12);

    // A seeded drop policy: everything lost, counted, reported sent.
    let lossy = Intercept::with_policy(network.bind(), DropRate::new(1.0, 3));
    lossy.send_to(b.advertise_addr(), b"gone").await.unwrap();
    assert!(drain(&b, ms(10)).await.is_empty());
    assert_eq!(
        (
            lossy.traffic().datagrams_dropped,
            lossy.traffic().datagrams_sent
        ),
        (1, 0)
    );
}

type Node = Memberlist<MemoryTransport>;

async fn cluster(network: &MemoryNetwork, n: usize) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..n {
        let node = Memberlist::builder(fast_config(&format!("n{i}")))
            .transport(network.bind())
            .seed(i as u64)
            .start()
            .await
            .unwrap();
        if let Some(first) = nodes.first() {
            node.join([addr_of(first)]).await.unwrap();
        }
        nodes.push(node);
    }
    wait_until_converged(&nodes.iter().collect::<Vec<_>>()).await;
    nodes
}

fn addrs(nodes: &[Node]) -> Vec<SocketAddr> {
    nodes.iter().map(|n| n.advertise_addr()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_partitioned_cluster_fails_each_side_and_heals() {
    let network = MemoryNetwork::with_seed(5);
    let nodes = cluster(&network, 5).await;
    let (left, right) = nodes.split_at(2);
    network.partition(&addrs(left), &addrs(right));
    eventually("each side declares the other dead", || {
        left.iter().all(|l| {
            right
                .iter()
                .all(|r| state_of(l, r.name()) == Some(State::Dead))
        }) && right.iter().all(|r| {
            left.iter()
                .all(|l| state_of(r, l.name()) == Some(State::Dead))
        })
    })
    .await;
    for n in left {
        assert_eq!(n.count_in_state(State::Alive), 2, "{}", n.name());
    }
    for n in right {
        assert_eq!(n.count_in_state(State::Alive), 3, "{}", n.name());
    }
    assert!(network.stats().cut > 0);
    network.heal();
    wait_until_converged(&nodes.iter().collect::<Vec<_>>()).await;
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_one_way_cut_gets_a_node_suspected_and_lossy_links_do_not() {
    let network = MemoryNetwork::with_seed(9);
    // 10 % loss everywhere: Lifeguard's indirect probes keep everyone alive.
    network.set_default_link(Link::default().with_loss(0.1).with_latency(ms(2)));
    let nodes = cluster(&network, 4).await;
    let mut events = nodes[0].subscribe();
    tokio::time::sleep(Duration::from_secs(30)).await;
    for n in &nodes {
        assert_eq!(n.count_in_state(State::Alive), 4, "{} under loss", n.name());
    }
    assert!(network.stats().lost > 0);

    // n3 hears everyone, but nothing it sends gets out.
    for n in &nodes[..3] {
        network.cut(nodes[3].advertise_addr(), n.advertise_addr());
    }
    memberlist::testing::wait_event(
        &mut events,
        "n3 fails",
        |e| matches!(e, MemberEvent::Failed(m) if m.name == "n3"),
    )
    .await;
    network.heal();
    wait_until_converged(&nodes.iter().collect::<Vec<_>>()).await;
    for n in &nodes {
        n.shutdown().await;
    }
}

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/testing_partition.rs"]
mod testing_partition;

#[tokio::test(start_paused = true)]
async fn the_testing_partition_example_sees_the_split_and_the_heal() {
    let report = testing_partition::run_scenario().await.unwrap();
    assert_eq!(report.failed_during_partition, [2, 2, 2, 2]);
    assert_eq!(report.met, [3, 3, 3, 3]);
}
