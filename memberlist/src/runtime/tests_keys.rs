//! Key rotation and the plaintext → encrypted migration on live five-node clusters, over the
//! in-memory transport in tokio's paused time.
//!
//! The core has no cipher of its own (AES-GCM lives in `memberlist-aes-gcm`, which depends on
//! this crate), so these tests use [`TestCipher`], a toy *authenticated* envelope: a keyed
//! 64-bit tag over the label and the plaintext, and the plaintext XORed with the key. It is
//! not secure, but it refuses what was sealed with another key or not sealed at all, which is
//! all the runtime's key handling depends on. The agent's tests run the same rotation with
//! AES-GCM over real sockets.
#![allow(clippy::unwrap_used)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::encryption::{
    Encryption, EncryptionError, EnvelopeVersion, Keyring, KeyringError, SecretKey,
};
use crate::machine::State;
use crate::runtime::{Config, GossipVerify, KeyError, Memberlist};
use crate::transport::Transport;
use crate::wire::{Alive, IpBytes, Pipeline, Suspect, WireMessage};

use super::tests::{MemoryTransport, Network, eventually};

/// A toy authenticated envelope: `version | tag (8) | plaintext XOR key`.
#[derive(Debug)]
pub(super) struct TestCipher {
    ring: Mutex<Keyring>,
}

impl TestCipher {
    pub(super) fn new(ring: Keyring) -> Arc<Self> {
        Arc::new(Self {
            ring: Mutex::new(ring),
        })
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Keyring> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tag(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> [u8; 8] {
        let mut h = DefaultHasher::new();
        (key.as_bytes(), aad, plaintext).hash(&mut h);
        h.finish().to_be_bytes()
    }

    fn xor(key: &SecretKey, data: &[u8], out: &mut Vec<u8>) {
        let k = key.as_bytes();
        out.extend(data.iter().zip(k.iter().cycle()).map(|(d, k)| d ^ k));
    }
}

impl Encryption for TestCipher {
    fn name(&self) -> &'static str {
        "test-cipher"
    }
    fn overhead(&self, _: EnvelopeVersion) -> usize {
        9
    }
    fn sealed_len(&self, _: EnvelopeVersion, plaintext_len: usize) -> usize {
        9 + plaintext_len
    }
    fn encrypt(
        &self,
        version: EnvelopeVersion,
        plaintext: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptionError> {
        let key = self.ring().primary().clone();
        out.push(version.byte());
        out.extend_from_slice(&Self::tag(&key, aad, plaintext));
        Self::xor(&key, plaintext, out);
        Ok(())
    }
    fn decrypt(
        &self,
        envelope: &[u8],
        aad: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptionError> {
        if envelope.is_empty() {
            return Err(EncryptionError::Empty);
        }
        if envelope.len() < 9 {
            return Err(EncryptionError::TooShort {
                len: envelope.len(),
                min: 9,
            });
        }
        let keys = self.ring().clone();
        for key in keys.keys() {
            let mut plain = Vec::with_capacity(envelope.len() - 9);
            Self::xor(key, &envelope[9..], &mut plain);
            if Self::tag(key, aad, &plain) == envelope[1..9] {
                out.extend_from_slice(&plain);
                return Ok(());
            }
        }
        Err(EncryptionError::NoKeyMatched)
    }
    fn keyring(&self) -> Keyring {
        self.ring().clone()
    }
    fn install_key(&self, key: SecretKey) {
        self.ring().add(key);
    }
    fn use_key(&self, key: &SecretKey) -> Result<(), KeyringError> {
        self.ring().use_key(key)
    }
    fn remove_key(&self, key: &SecretKey) -> Result<(), KeyringError> {
        self.ring().remove(key)
    }
}

type Node = Memberlist<MemoryTransport>;

fn key(byte: u8) -> SecretKey {
    SecretKey::new(&[byte; 16]).unwrap()
}

/// Starts `node{i}` with the test cipher holding `keys` (none: no encryption at all).
async fn start(network: &Network, i: u16, keys: &[SecretKey], verify: GossipVerify) -> Node {
    let mut config = Config::lan(format!("node{i}"));
    config.gossip_verify_incoming = verify.incoming;
    config.gossip_verify_outgoing = verify.outgoing;
    let builder = Memberlist::builder(config)
        .transport(network.endpoint(7946 + i))
        .seed(u64::from(i));
    let builder = match keys.split_first() {
        Some((primary, others)) => builder.encryption_shared(TestCipher::new(Keyring::with_keys(
            primary.clone(),
            others.iter().cloned(),
        ))),
        None => builder,
    };
    builder.start().await.expect("start")
}

/// Five nodes with the same keys and flags, joined and all alive everywhere.
async fn cluster(network: &Network, keys: &[SecretKey], verify: GossipVerify) -> Vec<Node> {
    let mut nodes = Vec::new();
    for i in 0..5 {
        nodes.push(start(network, i, keys, verify).await);
    }
    let seed = nodes[0].advertise_addr().to_string();
    for n in &nodes[1..] {
        n.join([seed.as_str()]).await.expect("join");
    }
    eventually("five alive everywhere", || {
        nodes.iter().all(|n| n.count_in_state(State::Alive) == 5)
    })
    .await;
    nodes
}

/// Suspicions and deaths accepted so far, summed over the nodes, plus refutations.
fn accusations(nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .map(|n| {
            let p = n.stats().protocol;
            p.suspect + p.dead + p.refutations
        })
        .sum()
}

/// Lets a stage run: probes, gossip and at least one push/pull round (30 s on LAN).
async fn settle() {
    tokio::time::sleep(Duration::from_secs(40)).await;
}

/// Applies `step` to one node after another, a probe interval apart (a rolling change).
async fn rolling<F, Fut>(nodes: &[Node], step: F)
where
    F: Fn(Node) -> Fut,
    Fut: std::future::Future<Output = Result<(), KeyError>>,
{
    for n in nodes {
        step(n.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    settle().await;
}

/// A datagram carrying `message`, labelled as the cluster is (no label) and sealed by
/// `pipeline`.
fn datagram(pipeline: &Pipeline, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    pipeline.encode_packet(message, false, &mut out).unwrap();
    out
}

/// Sends a crafted suspicion of `node1` and an alive for a made-up `ghost` to `node0`,
/// sealed by `pipeline`, from an endpoint of the network that is no member.
async fn inject(network: &Network, nodes: &[Node], pipeline: &Pipeline, port: u16) {
    let raw = network.endpoint(port);
    let target = nodes[0].advertise_addr();
    let incarnation = nodes[0].member("node1").unwrap().incarnation;
    let suspect = Suspect {
        incarnation,
        node: "node1".into(),
        from: "intruder".into(),
    };
    let ghost = Alive {
        incarnation: 1,
        node: "ghost".into(),
        addr: IpBytes::new(&[10, 0, 0, 1]).unwrap(),
        port,
        meta: Default::default(),
        vsn: crate::machine::ProtocolConfig::lan("x").vsn(),
    };
    for msg in [suspect.to_bytes(), ghost.to_bytes()] {
        raw.send_to(target, &datagram(pipeline, &msg))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    raw.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn plaintext_cluster_moves_to_encryption_without_false_suspicions() {
    let network = Network::default();
    let k = key(1);
    let off = GossipVerify {
        incoming: false,
        outgoing: false,
    };
    // (a) Every node has the key, both flags off: the cluster still speaks plaintext, so a
    // node without any encryption joins and is understood.
    let nodes = cluster(&network, std::slice::from_ref(&k), off).await;
    let plain = start(&network, 9, &[], GossipVerify::default()).await;
    assert_eq!(
        plain.set_gossip_verify_incoming(true).await,
        Err(KeyError::EncryptionDisabled)
    );
    assert_eq!(
        plain.keys().await.unwrap_err(),
        KeyError::EncryptionDisabled
    );
    plain
        .join([nodes[0].advertise_addr().to_string()])
        .await
        .expect("a plaintext node joins while verification is off");
    eventually("the plaintext node is alive everywhere", || {
        nodes.iter().all(|n| n.count_in_state(State::Alive) == 6)
    })
    .await;
    plain.leave(Duration::from_secs(5)).await.unwrap();
    plain.shutdown().await;
    eventually("the plaintext node left", || {
        nodes
            .iter()
            .all(|n| n.member("node9").map(|m| m.state) == Some(State::Left))
    })
    .await;
    settle().await;
    let before = accusations(&nodes);

    // (b) Outgoing encryption on, one node after the other.
    rolling(&nodes, |n| async move {
        n.set_gossip_verify_outgoing(true).await
    })
    .await;
    // (c) Incoming verification on, one node after the other.
    rolling(&nodes, |n| async move {
        n.set_gossip_verify_incoming(true).await
    })
    .await;
    for n in &nodes {
        assert_eq!(n.gossip_verify().await.unwrap(), GossipVerify::default());
        assert_eq!(n.count_in_state(State::Alive), 5, "{}", n.name());
        assert_eq!(n.health_score(), 0, "{}", n.name());
    }
    assert_eq!(
        accusations(&nodes),
        before,
        "no suspicion, death or refutation"
    );

    // A plaintext-only node can neither join nor inject gossip any more.
    let late = start(&network, 8, &[], GossipVerify::default()).await;
    assert!(
        late.join([nodes[0].advertise_addr().to_string()])
            .await
            .is_err()
    );
    let dropped = nodes[0].stats().protocol.packets_dropped;
    inject(&network, &nodes, &Pipeline::new(), 9100).await;
    assert!(nodes[0].stats().protocol.packets_dropped >= dropped + 2);
    assert!(nodes[0].member("ghost").is_none());
    assert!(nodes.iter().all(|n| n.member("node8").is_none()));
    assert_eq!(accusations(&nodes), before);

    // The same messages sealed with the cluster key are accepted: the refusal above is the
    // encryption's doing, not a malformed message.
    let sealed =
        Pipeline::new().with_encryption(TestCipher::new(Keyring::new(k)), EnvelopeVersion::V1);
    inject(&network, &nodes, &sealed, 9101).await;
    assert!(nodes[0].member("ghost").is_some());
    assert!(accusations(&nodes) > before);
    late.shutdown().await;
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn key_rotation_on_a_live_cluster_without_false_suspicions() {
    let network = Network::default();
    let (old, new) = (key(1), key(2));
    let nodes = cluster(
        &network,
        std::slice::from_ref(&old),
        GossipVerify::default(),
    )
    .await;
    settle().await;
    let before = accusations(&nodes);

    // Refusals leave the keyring alone.
    assert_eq!(
        nodes[0].use_key(&new).await,
        Err(KeyError::Keyring(KeyringError::KeyNotFound))
    );
    assert_eq!(
        nodes[0].remove_key(&old).await,
        Err(KeyError::Keyring(KeyringError::RemovePrimary))
    );

    // 1. Install the new key everywhere (installing it twice changes nothing).
    rolling(&nodes, |n| {
        let new = new.clone();
        async move {
            assert!(n.install_key(new.clone()).await?);
            assert!(!n.install_key(new).await?);
            Ok(())
        }
    })
    .await;
    // 2. Make it primary everywhere.
    rolling(&nodes, |n| {
        let new = new.clone();
        async move { n.use_key(&new).await }
    })
    .await;
    // 3. Remove the old key everywhere.
    rolling(&nodes, |n| {
        let old = old.clone();
        async move { n.remove_key(&old).await }
    })
    .await;

    for n in &nodes {
        let ring = n.keys().await.unwrap();
        assert_eq!(ring.keys(), std::slice::from_ref(&new), "{}", n.name());
        assert_eq!(n.count_in_state(State::Alive), 5, "{}", n.name());
        assert_eq!(n.health_score(), 0, "{}", n.name());
    }
    assert_eq!(
        accusations(&nodes),
        before,
        "no suspicion, death or refutation"
    );

    // A node holding only the old key cannot join, nor inject gossip.
    let stale = start(
        &network,
        7,
        std::slice::from_ref(&old),
        GossipVerify::default(),
    )
    .await;
    assert!(
        stale
            .join([nodes[0].advertise_addr().to_string()])
            .await
            .is_err()
    );
    let old_wire =
        Pipeline::new().with_encryption(TestCipher::new(Keyring::new(old)), EnvelopeVersion::V1);
    inject(&network, &nodes, &old_wire, 9200).await;
    assert!(nodes[0].member("ghost").is_none());
    assert!(nodes.iter().all(|n| n.member("node7").is_none()));
    assert_eq!(accusations(&nodes), before);
    stale.shutdown().await;
    for n in &nodes {
        n.shutdown().await;
    }
}

/// The migration's steps in the wrong order (verification on before everyone encrypts) cut
/// nodes off from each other: the accusation count the test above checks does move.
#[tokio::test(start_paused = true)]
async fn migration_steps_out_of_order_cause_suspicions() {
    let network = Network::default();
    let off = GossipVerify {
        incoming: false,
        outgoing: false,
    };
    let nodes = cluster(&network, &[key(1)], off).await;
    settle().await;
    let before = accusations(&nodes);
    rolling(&nodes[..2], |n| async move {
        n.set_gossip_verify_incoming(true).await
    })
    .await;
    assert!(accusations(&nodes) > before);
    for n in &nodes {
        n.shutdown().await;
    }
}

/// A node that makes the new key primary before the others have installed it is cut off.
#[tokio::test(start_paused = true)]
async fn using_a_key_before_everyone_installed_it_causes_suspicions() {
    let network = Network::default();
    let nodes = cluster(&network, &[key(1)], GossipVerify::default()).await;
    settle().await;
    let before = accusations(&nodes);
    nodes[0].install_key(key(2)).await.unwrap();
    nodes[0].use_key(&key(2)).await.unwrap();
    settle().await;
    assert!(accusations(&nodes) > before);
    for n in &nodes {
        n.shutdown().await;
    }
}
