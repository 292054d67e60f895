//! Encryption across Rust and Go nodes: the same AES key (16, 24 and 32 bytes) makes one
//! cluster; another key, or no key against a key, makes the join fail on the joining side
//! with a clear error while both nodes keep running; and Go's rolling-upgrade switches
//! (`GossipVerifyIncoming`, `GossipVerifyOutgoing`, both true by default on both sides)
//! behave the same in both implementations.
//!
//! Run with `cargo test -p memberlist-interop -- --include-ignored` (needs Go).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::*;
use memberlist::runtime::{Config, JoinError};
use memberlist_interop::{GoPeer, GoPeerConfig};

const KEY_16: &[u8] = b"0123456789abcdef";
const KEY_24: &[u8] = b"0123456789abcdef01234567";
const KEY_32: &[u8] = b"0123456789abcdef0123456789abcdef";
const OTHER_KEY: &[u8] = b"fedcba9876543210fedcba9876543210";

fn go_keyed(name: &str, key: &[u8]) -> GoPeerConfig {
    go_fast(name).with_keys([key.to_vec()])
}

async fn rust_keyed(name: &str, key: &[u8]) -> RustNode {
    start_rust(fast_config(name), TestDelegate::default(), &[key]).await
}

/// Go seed, a Rust node joining it, a Go node joining the Rust node, all with `key`.
async fn same_key_forms_one_cluster(key: &[u8]) {
    let g1 = spawn_go(go_keyed("go-1", key));
    let r = rust_keyed("rs", key).await;
    assert_eq!(r.join([addr_of_go(&g1)]).await.expect("join go-1"), 1);
    let g2 = spawn_go(go_keyed("go-2", key).with_join([r.advertise_addr()]));
    assert_eq!(g2.startup_join(), Some((1, None)));
    wait_converged(&[&g1, &g2], &[&r], &["go-1", "go-2", "rs"]).await;
    exchange_messages(&r, &g1).await;
    exchange_messages(&r, &g2).await;
    assert_no_go_wire_errors(&[&g1, &g2]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn the_same_16_byte_key_forms_a_mixed_cluster() {
    same_key_forms_one_cluster(KEY_16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn the_same_24_byte_key_forms_a_mixed_cluster() {
    same_key_forms_one_cluster(KEY_24).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn the_same_32_byte_key_forms_a_mixed_cluster() {
    same_key_forms_one_cluster(KEY_32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_second_key_in_the_keyring_decrypts() {
    // Go encrypts with its primary key, which the Rust node holds as a secondary one, and the
    // reverse: keyrings with the same keys in another order make one cluster (key rotation).
    let g = spawn_go(go_fast("go").with_keys([KEY_16.to_vec(), KEY_32.to_vec()]));
    let r = start_rust(
        fast_config("rs"),
        TestDelegate::default(),
        &[KEY_32, KEY_16],
    )
    .await;
    r.join([addr_of_go(&g)]).await.expect("join");
    wait_converged(&[&g], &[&r], &["go", "rs"]).await;
    exchange_messages(&r, &g).await;
    assert_no_go_wire_errors(&[&g]);
    assert_no_rust_wire_errors(&[&r]);
    r.shutdown().await;
}

/// The reason the single address of a failed join gives.
fn join_failure(result: Result<usize, JoinError>) -> String {
    let err = result.expect_err("the join must fail");
    let failures = err.failures();
    assert_eq!(failures.len(), 1, "{err}");
    // The address, the reason and its sources.
    failures[0].to_string()
}

/// The start-up join of a Go peer failed: its error text.
fn go_join_failure(peer: &GoPeer) -> String {
    let (contacted, error) = peer.startup_join().expect("joined event");
    assert_eq!(contacted, 0, "{error:?}");
    error.expect("an error")
}

/// After a refused join: nobody crashed, the stranger is alone, the cluster did not take it
/// in, and the cluster still works (a node with the right settings joins it).
async fn both_sides_still_healthy(
    go: &GoPeer,
    rust: &RustNode,
    stranger_name: &str,
    cluster_names: &[&str],
) {
    assert_running(&[go]);
    assert!(rust.is_running());
    // Give stray datagrams time to arrive, then check nobody took the stranger in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(go_member(go, stranger_name).is_none());
    assert!(rust.member(stranger_name).is_none());
    wait_converged(&[go], &[rust], cluster_names).await;
    assert_running(&[go]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn a_different_key_fails_the_join_on_the_joining_side() {
    // A Go node and a Rust node with key A form a cluster.
    let g = spawn_go(go_keyed("go", KEY_32));
    let r = rust_keyed("rs", KEY_32).await;
    r.join([addr_of_go(&g)]).await.expect("join");
    wait_converged(&[&g], &[&r], &["go", "rs"]).await;

    // A Rust node with key B cannot join through the Go node.
    let stranger = rust_keyed("rs-stranger", OTHER_KEY).await;
    let reason = join_failure(stranger.join([addr_of_go(&g)]).await);
    eprintln!("Rust (other key) joining Go: {reason}");
    assert!(reason.contains("decrypt"), "{reason}");
    assert_eq!(stranger.num_members(), 1);
    assert!(stranger.is_running());
    // Go logged why it refused the stream.
    wait_go_log(&g, "No installed keys could decrypt").await;

    // A Go node with key B cannot join through the Rust node.
    let go_stranger = spawn_go(go_keyed("go-stranger", OTHER_KEY).with_join([r.advertise_addr()]));
    let error = go_join_failure(&go_stranger);
    eprintln!("Go (other key) joining Rust: {error}");
    assert!(error.contains("decrypt"), "{error}");
    assert_eq!(blocking(|| go_stranger.members()).unwrap().len(), 1);
    assert_running(&[&go_stranger]);

    both_sides_still_healthy(&g, &r, "rs-stranger", &["go", "rs"]).await;
    both_sides_still_healthy(&g, &r, "go-stranger", &["go", "rs"]).await;
    // The Rust node refused the stream it could not read, and counted it.
    assert!(r.stats().inbound_stream_errors >= 1);
    // The strangers are still alone and still running.
    assert_eq!(stranger.num_members(), 1);
    assert_eq!(blocking(|| go_stranger.members()).unwrap().len(), 1);
    shutdown_all(&[&r, &stranger]).await;
}

/// Go's texts (memberlist 0.2.2 `readStream`) for the two ways plaintext and encryption
/// meet; the Rust runtime's wording is checked by meaning.
const GO_NOT_ENCRYPTED: &str = "Encryption is configured but remote state is not encrypted";
const GO_NOT_CONFIGURED: &str = "Remote state is encrypted and encryption is not configured";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn plaintext_and_encrypted_nodes_refuse_each_other_in_every_direction() {
    // An encrypted pair and a plaintext pair, each a working cluster.
    let g_key = spawn_go(go_keyed("go-key", KEY_16));
    let r_key = rust_keyed("rs-key", KEY_16).await;
    r_key.join([addr_of_go(&g_key)]).await.expect("join");
    let g_plain = spawn_go(go_fast("go-plain"));
    let r_plain = rust("rs-plain", "").await;
    r_plain.join([addr_of_go(&g_plain)]).await.expect("join");
    wait_converged(&[&g_key], &[&r_key], &["go-key", "rs-key"]).await;
    wait_converged(&[&g_plain], &[&r_plain], &["go-plain", "rs-plain"]).await;

    // Plaintext Rust → encrypted Go: Go refuses the unencrypted stream
    // (GossipVerifyIncoming) and answers with an encrypted error the Rust node cannot read.
    let reason = join_failure(r_plain.join([addr_of_go(&g_key)]).await);
    eprintln!("plaintext Rust joining encrypted Go: {reason}");
    assert!(reason.contains("encrypt"), "{reason}");
    wait_go_log(&g_key, GO_NOT_ENCRYPTED).await;

    // Encrypted Rust → plaintext Go: Go cannot read it and answers in plaintext, which the
    // Rust node refuses (GossipVerifyIncoming).
    let reason = join_failure(r_key.join([addr_of_go(&g_plain)]).await);
    eprintln!("encrypted Rust joining plaintext Go: {reason}");
    assert!(reason.contains("encrypt"), "{reason}");
    wait_go_log(&g_plain, GO_NOT_CONFIGURED).await;

    // Plaintext Go → encrypted Rust: Go sees an encrypted answer it cannot read.
    let go = spawn_go(go_fast("go-plain-2").with_join([r_key.advertise_addr()]));
    let error = go_join_failure(&go);
    eprintln!("plaintext Go joining encrypted Rust: {error}");
    assert!(error.contains(GO_NOT_CONFIGURED), "{error}");
    drop(go);

    // Encrypted Go → plaintext Rust: Go refuses the plaintext answer.
    let go = spawn_go(go_keyed("go-key-2", KEY_16).with_join([r_plain.advertise_addr()]));
    let error = go_join_failure(&go);
    eprintln!("encrypted Go joining plaintext Rust: {error}");
    assert!(error.contains(GO_NOT_ENCRYPTED), "{error}");
    drop(go);

    // Nothing crashed, nobody let a stranger in, both clusters still work.
    for (go, rust, names) in [
        (&g_key, &r_key, ["go-key", "rs-key"]),
        (&g_plain, &r_plain, ["go-plain", "rs-plain"]),
    ] {
        assert_running(&[go]);
        assert!(rust.is_running());
        wait_converged(&[go], &[rust], &names).await;
        exchange_messages(rust, go).await;
    }
    assert!(r_key.member("go-plain-2").is_none() && r_plain.member("go-key-2").is_none());
    shutdown_all(&[&r_key, &r_plain]).await;
}

/// A Rust config with keys' verification switches set.
fn verifying(name: &str, incoming: bool, outgoing: bool) -> Config {
    let mut c = fast_config(name);
    c.gossip_verify_incoming = incoming;
    c.gossip_verify_outgoing = outgoing;
    c
}

fn go_verifying(name: &str, key: &[u8], incoming: bool, outgoing: bool) -> GoPeerConfig {
    let mut c = go_keyed(name, key);
    c.gossip_verify_incoming = incoming;
    c.gossip_verify_outgoing = outgoing;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn verification_off_lets_plaintext_in_as_in_go() {
    // Rolling out encryption, step 1: keys installed, GossipVerifyIncoming and
    // GossipVerifyOutgoing off. Such nodes send plaintext and accept it, so they form a
    // cluster with nodes that have no key at all, in both directions.
    let g_plain = spawn_go(go_fast("go-plain"));
    let r_key = start_rust(
        verifying("rs-key", false, false),
        TestDelegate::default(),
        &[KEY_16],
    )
    .await;
    r_key.join([addr_of_go(&g_plain)]).await.expect("join");
    let r_plain = rust("rs-plain", "").await;
    let g_key = spawn_go(
        go_verifying("go-key", KEY_16, false, false).with_join([r_plain.advertise_addr()]),
    );
    assert_eq!(g_key.startup_join(), Some((1, None)));
    r_plain.join([addr_of_go(&g_plain)]).await.expect("join");
    let names = ["go-key", "go-plain", "rs-key", "rs-plain"];
    wait_converged(&[&g_plain, &g_key], &[&r_key, &r_plain], &names).await;
    exchange_messages(&r_key, &g_plain).await;
    exchange_messages(&r_plain, &g_key).await;
    exchange_messages(&r_key, &g_key).await;
    assert_no_go_wire_errors(&[&g_plain, &g_key]);
    assert_no_rust_wire_errors(&[&r_key, &r_plain]);
    shutdown_all(&[&r_key, &r_plain]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --include-ignored"]
async fn encrypting_and_plaintext_senders_mix_while_incoming_is_not_verified() {
    // Rolling out encryption, step 2: every node has the key and accepts both forms
    // (GossipVerifyIncoming off); some already encrypt (GossipVerifyOutgoing on), some not
    // yet. Each side must decrypt the other's sealed traffic and accept its plaintext.
    let g_out = spawn_go(go_verifying("go-enc", KEY_32, false, true));
    let r_plain_out = start_rust(
        verifying("rs-plain", false, false),
        TestDelegate::default(),
        &[KEY_32],
    )
    .await;
    r_plain_out.join([addr_of_go(&g_out)]).await.expect("join");
    let r_out = start_rust(
        verifying("rs-enc", false, true),
        TestDelegate::default(),
        &[KEY_32],
    )
    .await;
    let g_plain_out = spawn_go(
        go_verifying("go-plain", KEY_32, false, false).with_join([r_out.advertise_addr()]),
    );
    assert_eq!(g_plain_out.startup_join(), Some((1, None)));
    r_out.join([addr_of_go(&g_out)]).await.expect("join");
    let names = ["go-enc", "go-plain", "rs-enc", "rs-plain"];
    wait_converged(&[&g_out, &g_plain_out], &[&r_out, &r_plain_out], &names).await;
    exchange_messages(&r_out, &g_plain_out).await;
    exchange_messages(&r_plain_out, &g_out).await;
    exchange_messages(&r_out, &g_out).await;
    assert_no_go_wire_errors(&[&g_out, &g_plain_out]);
    assert_no_rust_wire_errors(&[&r_out, &r_plain_out]);
    shutdown_all(&[&r_out, &r_plain_out]).await;
}
