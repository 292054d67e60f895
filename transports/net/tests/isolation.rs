//! What labels and keys keep out, over real UDP and TCP on 127.0.0.1.
//!
//! - Two clusters with different labels never merge, even told to join each other, even when
//!   they share an encryption key (the label is authenticated with the encryption).
//! - Someone who knows the label but not the key cannot inject alive, suspect or dead
//!   messages (crafted with the wire API, sent by UDP): membership is unaffected and no member
//!   looks dead. The same messages sealed with the key are accepted, so the refusal is the
//!   encryption's doing.
//! - A label alone is no authentication: without encryption, a crafted message carrying the
//!   right label is accepted.
//!
//! (`cluster.rs` covers one-to-one label refusals and joins with another key or none.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use memberlist::runtime::{Config, Memberlist};
use memberlist_aes_gcm::{AesGcm, EnvelopeVersion, Keyring, SecretKey};
use memberlist_core::machine::{ProtocolConfig, State};
use memberlist_core::wire::{Alive, Dead, IpBytes, Label, Pipeline, Suspect, WireMessage};
use memberlist_net::NetTransport;
use tokio::net::UdpSocket;
use tokio::time::Instant;

type Node = Memberlist<NetTransport>;

const PATIENCE: Duration = Duration::from_secs(30);
const KEY: [u8; 32] = [42; 32];

/// Go's LAN timers: generous probe timeouts, so a loaded machine does not cause suspicions.
async fn start(name: &str, label: &str, key: Option<[u8; 32]>) -> Node {
    let transport = NetTransport::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut config = Config::lan(name).with_label(label);
    if let Some(k) = key {
        config = config.with_keyring(Keyring::new(SecretKey::new(&k).unwrap()));
    }
    Memberlist::builder(config)
        .transport(transport)
        .start()
        .await
        .expect("node starts")
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two nodes with `label`, joined.
async fn pair(prefix: &str, label: &str, key: Option<[u8; 32]>) -> [Node; 2] {
    let a = start(&format!("{prefix}-a"), label, key).await;
    let b = start(&format!("{prefix}-b"), label, key).await;
    b.join([a.advertise_addr().to_string()]).await.unwrap();
    eventually("a pair", || {
        [&a, &b].iter().all(|n| n.count_in_state(State::Alive) == 2)
    })
    .await;
    [a, b]
}

fn names(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = node
        .all_members()
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_with_different_labels_never_merge() {
    for key in [None, Some(KEY)] {
        let blue = pair("blue", "blue", key).await;
        let green = pair("green", "green", key).await;
        // Told to join each other, in both directions.
        assert!(
            blue[0]
                .join([green[1].advertise_addr().to_string()])
                .await
                .is_err()
        );
        assert!(
            green[0]
                .join([blue[1].advertise_addr().to_string()])
                .await
                .is_err()
        );
        // Gossip and probes keep running; nothing crosses.
        tokio::time::sleep(Duration::from_secs(3)).await;
        for n in &blue {
            assert_eq!(names(n), ["blue-a", "blue-b"], "key {:?}", key.is_some());
        }
        for n in &green {
            assert_eq!(names(n), ["green-a", "green-b"], "key {:?}", key.is_some());
        }
        assert!(blue[1].stats().inbound_stream_errors >= 1);
        for n in blue.iter().chain(&green) {
            n.shutdown().await;
        }
    }
}

/// Crafted gossip about `victim` and a made-up `ghost`, as `pipeline` frames it.
fn crafted(pipeline: &Pipeline, victim: &Node, attacker: SocketAddr) -> Vec<Vec<u8>> {
    let me = victim.local_node();
    let vsn = ProtocolConfig::lan("x").vsn();
    let ip = IpBytes::new(&[127, 0, 0, 1]).unwrap();
    let messages = [
        Suspect {
            incarnation: me.incarnation,
            node: me.name.clone(),
            from: "intruder".into(),
        }
        .to_bytes(),
        Dead {
            incarnation: me.incarnation,
            node: me.name.clone(),
            from: "intruder".into(),
        }
        .to_bytes(),
        // Takes the victim's name over to the attacker's address.
        Alive {
            incarnation: me.incarnation + 100,
            node: me.name.clone(),
            addr: ip,
            port: attacker.port(),
            meta: Default::default(),
            vsn,
        }
        .to_bytes(),
        Alive {
            incarnation: 1,
            node: "ghost".into(),
            addr: ip,
            port: attacker.port(),
            meta: Default::default(),
            vsn,
        }
        .to_bytes(),
    ];
    messages
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            pipeline.encode_packet(m, false, &mut out).unwrap();
            out
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_key_gossip_cannot_be_injected() {
    let [a, b] = pair("sealed", "prod", Some(KEY)).await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let attacker = udp.local_addr().unwrap();
    let label = Label::new("prod").unwrap();
    let other_key = Keyring::new(SecretKey::new(&[7; 32]).unwrap());
    let forgers = [
        // Knows the label, has no key.
        Pipeline::new().with_label(label.clone()),
        // Knows the label, has another key.
        Pipeline::new().with_label(label.clone()).with_encryption(
            std::sync::Arc::new(AesGcm::new(other_key)),
            EnvelopeVersion::V1,
        ),
        // Knows nothing.
        Pipeline::new(),
    ];
    let before = a.stats().protocol;
    let b_addr = b.advertise_addr();
    let mut sent = 0;
    for forger in &forgers {
        for packet in crafted(forger, &b, attacker) {
            udp.send_to(&packet, a.advertise_addr()).await.unwrap();
            sent += 1;
        }
    }
    eventually("a drops every forged datagram", || {
        a.stats().protocol.packets_dropped >= before.packets_dropped + sent
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = a.member("sealed-b").unwrap();
    assert_eq!(seen.state, State::Alive);
    assert_eq!(seen.addr, b_addr);
    assert!(a.member("ghost").is_none());
    let after = a.stats().protocol;
    assert_eq!((after.suspect, after.dead), (before.suspect, before.dead));
    assert_eq!(b.stats().protocol.refutations, 0);

    // The same forgery sealed with the cluster's key is accepted: the refusal above is the
    // encryption's doing.
    let insider = Pipeline::new().with_label(label).with_encryption(
        std::sync::Arc::new(AesGcm::from_key(SecretKey::new(&KEY).unwrap())),
        EnvelopeVersion::V1,
    );
    let ghost = crafted(&insider, &b, attacker).pop().unwrap();
    udp.send_to(&ghost, a.advertise_addr()).await.unwrap();
    eventually("the sealed ghost is accepted", || {
        a.member("ghost").is_some()
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_alone_does_not_authenticate() {
    let [a, b] = pair("open", "prod", None).await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let labelled = Pipeline::new().with_label(Label::new("prod").unwrap());
    let ghost = crafted(&labelled, &b, udp.local_addr().unwrap())
        .pop()
        .unwrap();
    udp.send_to(&ghost, a.advertise_addr()).await.unwrap();
    eventually("the labelled ghost is accepted", || {
        a.member("ghost").is_some()
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
}
