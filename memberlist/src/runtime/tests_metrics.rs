//! Every entry of the metrics catalog is moved by the event it describes: runtime tests over
//! the in-memory transport in paused time, and unit tests of the machine-counter bridge.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::tests::{Network, Node, eventually, node};
use crate::machine::{State, Stats};
use crate::metrics::{
    Counter, DropReason, Gauge, Histogram, InMemoryMetrics, Metrics, catalog::Kind,
};
use crate::runtime::{Config, Memberlist};
use crate::transport::Transport;
use crate::wire::{Alive, IpBytes, Label, Pipeline, WireMessage};

/// An in-memory sink that also remembers the largest value each gauge was set to.
#[derive(Default)]
struct Sink {
    values: InMemoryMetrics,
    peaks: [AtomicU64; Gauge::COUNT],
}

impl Sink {
    fn peak(&self, gauge: Gauge) -> f64 {
        f64::from_bits(self.peaks[gauge.index()].load(Ordering::Relaxed))
    }
}

impl Metrics for Sink {
    fn increment(&self, counter: Counter, by: u64) {
        self.values.increment(counter, by);
    }
    fn set(&self, gauge: Gauge, value: f64) {
        self.values.set(gauge, value);
        let peak = &self.peaks[gauge.index()];
        if value > f64::from_bits(peak.load(Ordering::Relaxed)) {
            peak.store(value.to_bits(), Ordering::Relaxed);
        }
    }
    fn record(&self, histogram: Histogram, value: f64) {
        self.values.record(histogram, value);
    }
}

async fn watched(network: &Network, port: u16, config: Config, sink: &Arc<Sink>) -> Node {
    Memberlist::builder(config)
        .transport(network.endpoint(port))
        .metrics(Arc::clone(sink))
        .seed(u64::from(port))
        .start()
        .await
        .expect("start")
}

#[tokio::test(start_paused = true)]
async fn traffic_membership_and_timings_reach_the_sink() {
    let network = Network::default();
    let sink = Arc::new(Sink::default());
    let m = &sink.values;
    let seed = node(&network, 1).await;
    let watched = watched(&network, 100, Config::lan("watched"), &sink).await;
    let third = node(&network, 2).await;
    // `watched` dials (join), `third` is dialled by nobody but joins the seed.
    watched
        .join([seed.advertise_addr().to_string()])
        .await
        .expect("join");
    third
        .join([watched.advertise_addr().to_string()])
        .await
        .expect("join");
    eventually("three alive in the gauge", || {
        m.gauge(Gauge::Members(State::Alive)) == 3.0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    assert!(m.counter(Counter::TcpConnect) >= 1, "the join dialled");
    assert!(m.counter(Counter::TcpAccept) >= 1, "third's join came in");
    assert!(m.counter(Counter::TcpSentBytes) > 0);
    assert!(m.counter(Counter::MsgAlive) >= 2);
    for c in [
        Counter::UdpSentPackets,
        Counter::UdpReceivedPackets,
        Counter::UdpSentBytes,
        Counter::UdpReceivedBytes,
    ] {
        assert!(m.counter(c) > 0, "{c:?}");
    }
    assert!(m.counter(Counter::UdpSentBytes) > m.counter(Counter::UdpSentPackets));
    for h in [
        Histogram::ProbeNode,
        Histogram::ProbeRtt,
        Histogram::Gossip,
        Histogram::PushPullNode,
        Histogram::PushPullSizeLocal,
        Histogram::PushPullSizeRemote,
    ] {
        assert!(m.histogram(h).count > 0, "{h:?} never recorded");
    }
    assert!(m.histogram(Histogram::PushPullSizeRemote).min > 0.0);
    assert!(
        sink.peak(Gauge::PushPullInFlight) >= 1.0,
        "a push/pull was counted"
    );
    assert_eq!(m.gauge(Gauge::PushPullInFlight), 0.0, "and released");

    // A queued broadcast shows in the queue gauge.
    watched
        .queue_broadcast(
            crate::machine::broadcast::BroadcastKey::Named("k".into()),
            &b"v"[..],
        )
        .await
        .expect("queue");
    eventually("the queue gauge moved", || {
        sink.peak(Gauge::BroadcastQueue) >= 1.0
    })
    .await;

    // A crash: suspect, dead, and the per-state gauges.
    seed.shutdown().await;
    eventually("seed dead in the gauge", || {
        m.gauge(Gauge::Members(State::Dead)) == 1.0
    })
    .await;
    assert_eq!(m.gauge(Gauge::Members(State::Alive)), 2.0);
    assert!(m.counter(Counter::MsgSuspect) >= 1);
    assert!(m.counter(Counter::MsgDead) >= 1);
    // The probes of the crashed seed fell back to streams, which failed.
    assert!(m.counter(Counter::StreamFailures) >= 1);

    // Two periodic push/pulls between the survivors, whose views are equal by then.
    tokio::time::sleep(Duration::from_secs(65)).await;
    assert!(m.counter(Counter::PushPulls) >= 2);
    assert!(m.counter(Counter::PushPullsSameView) >= 1);
    assert!(m.counter(Counter::JoinFollowUps) >= 1);
    assert!(m.counter(Counter::GossipRounds) >= 1);
    assert!(m.counter(Counter::GossipTicksIdle) >= 1);

    // One channel: the node's `Stats` are the counts its sink received.
    let stats = watched.stats();
    assert_eq!(stats.protocol, Stats::from_metrics(m));
    assert_eq!(
        stats.protocol.packets_sent,
        m.counter(Counter::UdpSentPackets)
    );
    assert_eq!(stats.streams_accepted, m.counter(Counter::TcpAccept));
    assert_eq!(stats.streams_opened, m.counter(Counter::TcpConnect));
    assert_eq!(stats.stream_failures, m.counter(Counter::StreamFailures));
    assert_eq!(watched.health_score(), m.gauge(Gauge::HealthScore) as u32);
    watched.shutdown().await;
    third.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn dropped_packets_and_streams_are_counted_by_reason() {
    let network = Network::default();
    let sink = Arc::new(Sink::default());
    let m = &sink.values;
    let mut config = Config::lan("watched").with_label("blue");
    config.max_inbound_streams = 2;
    // Only 10.0.0.0/24 may announce members; `outsider` sends from 192.0.2.1.
    config.protocol.cidrs_allowed = vec!["10.0.0.0/24".parse().unwrap()];
    let watched = watched(&network, 100, config, &sink).await;
    let to = watched.advertise_addr();
    let raw = network.endpoint(9000);
    let labelled = Pipeline::new().with_label(Label::new(b"blue".to_vec()).unwrap());
    let packet = |message: &[u8]| {
        let mut out = Vec::new();
        labelled.encode_packet(message, false, &mut out).unwrap();
        out
    };

    // Datagrams: without our label; with it but undecodable; an alive from outside the
    // CIDR allow list.
    raw.send_to(to, &[0xEE; 16]).await.unwrap();
    raw.send_to(to, &packet(&[0xEE; 16])).await.unwrap();
    let alive = Alive {
        incarnation: 1,
        node: "intruder".into(),
        addr: IpBytes::new(&[10, 0, 0, 1]).unwrap(),
        port: 9000,
        meta: Default::default(),
        vsn: crate::machine::ProtocolConfig::lan("x").vsn(),
    };
    let outsider = network.endpoint_at(([192, 0, 2, 1], 9000).into());
    outsider
        .send_to(to, &packet(&alive.to_bytes()))
        .await
        .unwrap();
    for reason in [DropReason::Label, DropReason::Decode, DropReason::Cidr] {
        eventually("a datagram drop", || {
            m.counter(Counter::PacketsDropped(reason)) == 1
        })
        .await;
    }
    assert!(watched.member("intruder").is_none());

    // Streams: an unlabelled peer's join (label), garbage (decode), more than the limit at
    // once (limit), silence until the TCP timeout (timeout).
    let plain = Memberlist::builder(Config::lan("unlabelled"))
        .transport(network.endpoint(9001))
        .start()
        .await
        .expect("start");
    assert!(plain.join([to.to_string()]).await.is_err());
    eventually("a label drop", || {
        m.counter(Counter::StreamsDropped(DropReason::Label)) == 1
    })
    .await;
    plain.shutdown().await;
    let mut garbage = raw
        .connect(to, (Instant::now() + Duration::from_secs(1)).into_std())
        .await
        .unwrap();
    let mut bytes = Vec::new();
    labelled.label().write_header(&mut bytes);
    bytes.extend_from_slice(&[0xEE; 32]);
    garbage.write_all(&bytes).await.unwrap();
    garbage.shutdown().await.unwrap();
    eventually("a decode stream drop", || {
        m.counter(Counter::StreamsDropped(DropReason::Decode)) == 1
    })
    .await;
    let silent = open_streams(&raw, to, 3).await;
    eventually("the limit refused one", || {
        m.counter(Counter::StreamsDropped(DropReason::Limit)) == 1
    })
    .await;
    eventually("the silent ones timed out", || {
        m.counter(Counter::StreamsDropped(DropReason::Timeout)) == 2
    })
    .await;
    drop(silent);
    watched.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_send_queue_and_a_name_conflict_are_counted() {
    let network = Network::default();
    let sink = Arc::new(Sink::default());
    let m = &sink.values;
    let mut config = Config::lan("watched");
    // One datagram at a time: a gossip round to two peers overflows it.
    config.transmit_queue = 1;
    let watched = watched(&network, 100, config, &sink).await;
    let to = watched.advertise_addr().to_string();
    let a = node(&network, 1).await;
    let b = node(&network, 2).await;
    a.join([to.as_str()]).await.expect("join");
    b.join([to.as_str()]).await.expect("join");
    eventually("a datagram dropped on the full queue", || {
        m.counter(Counter::PacketsDropped(DropReason::QueueFull)) >= 1
    })
    .await;

    // Another node calling itself node1, at another address.
    let impostor = Memberlist::builder(Config::lan("node1"))
        .transport(network.endpoint(9002))
        .start()
        .await
        .expect("start");
    let _ = impostor.join([to.as_str()]).await;
    eventually("a conflict", || m.counter(Counter::Conflicts) >= 1).await;
    for n in [&watched, &a, &b, &impostor] {
        n.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn datagrams_the_transport_refuses_are_counted() {
    use crate::testing::{Intercept, Verdict};
    let network = Network::default();
    let sink = Arc::new(Sink::default());
    let m = &sink.values;
    // Every datagram to node1 is refused by the transport (a local firewall's reject).
    let peer = node(&network, 1).await;
    let refused = peer.advertise_addr();
    let policy = move |to: std::net::SocketAddr, _: &[u8]| {
        if to == refused {
            Verdict::Fail
        } else {
            Verdict::Deliver
        }
    };
    let transport = Intercept::with_policy(network.endpoint(100), policy);
    let watched = Memberlist::builder(Config::lan("watched"))
        .transport(transport)
        .metrics(Arc::clone(&sink))
        .seed(100)
        .start()
        .await
        .expect("start");
    watched
        .join([refused.to_string()])
        .await
        .expect("join over a stream");
    eventually("a refused send counted", || {
        m.counter(Counter::SendErrors) >= 1
    })
    .await;
    assert_eq!(
        watched.stats().transmit_errors,
        m.counter(Counter::SendErrors)
    );
    watched.shutdown().await;
    peer.shutdown().await;
}

async fn open_streams(
    raw: &super::tests::MemoryTransport,
    to: std::net::SocketAddr,
    n: usize,
) -> Vec<tokio::io::DuplexStream> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            raw.connect(to, (Instant::now() + Duration::from_secs(1)).into_std())
                .await
                .unwrap(),
        );
    }
    out
}

#[test]
fn every_catalog_entry_has_a_test_above() {
    // The tests in this file cover these, except `LimitExceeded` (one series per `Limit`),
    // tested in runtime/tests_limits.rs (each limit exceeded over the in-memory network)
    // and machine/state_tests.rs (`IncarnationCeiling`). A new catalog entry must be added
    // here and tested.
    let covered = Counter::COUNT + Gauge::COUNT + Histogram::COUNT;
    assert_eq!(
        covered,
        35 + crate::wire::Limit::ALL.len() + 7 + 6,
        "the catalog changed: test the new entries"
    );
    assert_eq!(
        crate::wire::Limit::ALL.len(),
        15,
        "a new limit: exceed it in runtime/tests_limits.rs"
    );
    assert!(Counter::all().all(|c| c.descriptor().kind == Kind::Counter));
}
