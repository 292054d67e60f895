//! The equal-view path on real sockets with the facade's defaults: LZW compression on (as
//! in Go), and the same again with a label and AES-GCM. Between converged nodes nearly every
//! push/pull carries exactly the receiver's view; the machine recognises it on the opened
//! (decrypted, decompressed) bytes and merges it without decoding it — the path the
//! simulator runs. `Stats::push_pulls_same_view` counts it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::net::SocketAddr;
use std::time::Duration;

use memberlist::runtime::{Config, Memberlist};
use memberlist_aes_gcm::{Keyring, SecretKey};
use memberlist_net::NetTransport;

/// Nodes in the cluster.
const NODES: usize = 5;
/// How long the converged cluster runs: about eight push/pulls per node.
const WINDOW: Duration = Duration::from_secs(4);

type Node = Memberlist<NetTransport>;

fn config(name: &str, label: &str) -> Config {
    let mut c = Config::local(name).with_label(label);
    c.protocol.push_pull_interval = Duration::from_millis(500);
    c
}

async fn cluster(label: &str, key: Option<[u8; 32]>) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..NODES {
        let transport = NetTransport::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let mut config = config(&format!("fp-{i}"), label);
        if let Some(key) = key {
            config = config.with_keyring(Keyring::new(SecretKey::new(&key).unwrap()));
        }
        let node = Memberlist::builder(config)
            .transport(transport)
            .start()
            .await
            .expect("node starts");
        if let Some(first) = nodes.first() {
            node.join([first.advertise_addr().to_string()])
                .await
                .expect("join");
        }
        nodes.push(node);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while nodes.iter().any(|n| n.num_members() != NODES) {
        assert!(tokio::time::Instant::now() < deadline, "no convergence");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nodes
}

/// Push/pulls received and those taken by the equal-view path, over `WINDOW` of a
/// converged cluster.
async fn share(nodes: &[Node]) -> (u64, u64) {
    let count = |nodes: &[Node]| {
        nodes.iter().fold((0, 0), |(all, same), n| {
            let s = n.stats().protocol;
            (all + s.push_pulls, same + s.push_pulls_same_view)
        })
    };
    // Let the join's own gossip settle first, then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = count(nodes);
    tokio::time::sleep(WINDOW).await;
    let after = count(nodes);
    for n in nodes {
        n.shutdown().await;
    }
    (after.0 - before.0, after.1 - before.1)
}

fn check(what: &str, (all, same): (u64, u64)) {
    eprintln!("{what}: {same} of {all} push/pulls took the equal-view path");
    assert!(all >= 20, "{what}: only {all} push/pulls in the window");
    assert!(
        same * 10 >= all * 9,
        "{what}: {same} of {all} push/pulls took the equal-view path (< 90 %)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converged_push_pulls_take_the_equal_view_path_with_lzw() {
    let nodes = cluster("", None).await;
    assert!(
        nodes[0].config().compression,
        "compression is on by default"
    );
    check("LZW", share(&nodes).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converged_push_pulls_take_the_equal_view_path_with_a_label_and_encryption() {
    let nodes = cluster("fast-path", Some([7; 32])).await;
    check("LZW + label + AES-GCM", share(&nodes).await);
}
