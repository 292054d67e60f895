//! A node built the way the README's first snippet builds one — default features, nothing
//! said about compression — joins a Go memberlist node with Go's default settings
//! (compression on), both sides list each other alive, and `members()` serialises to JSON
//! with serde.
//!
//! Run with `cargo test -p memberlist-interop -- --ignored` (needs Go).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use common::*;
use memberlist::prelude::*;
use memberlist_interop::{GoPeerConfig, NodeState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Go; run with --ignored"]
async fn a_default_built_node_joins_a_go_node_that_compresses() {
    let go = spawn_go(GoPeerConfig::new("dflt-go"));
    let transport = NetTransport::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let ml = Memberlist::builder(Config::local("dflt-rs"))
        .transport(transport)
        .start()
        .await
        .expect("start");
    let joined = ml.join([addr_of_go(&go)]).await.expect("join the Go node");
    assert_eq!(joined, 1);
    eventually("both sides list both nodes alive", || {
        ml.members().len() == 2
            && go_member(&go, "dflt-rs").is_some_and(|m| m.state == NodeState::Alive)
    })
    .await;
    // The join's push/pull reply from Go was LZW-compressed (Go's default): reading it is
    // what failed before the builder registered LZW by default.
    assert_no_go_wire_errors(&[&go]);

    // What a new user does next: hand the member list to something that speaks JSON.
    let json = serde_json::to_value(ml.members()).expect("members() serialises");
    let rows = json.as_array().expect("an array of members");
    assert_eq!(rows.len(), 2, "{json}");
    let go_row = rows
        .iter()
        .find(|r| r["name"] == "dflt-go")
        .unwrap_or_else(|| panic!("the Go node is listed: {json}"));
    assert_eq!(go_row["state"], "alive", "{json}");
    assert_eq!(go_row["addr"], addr_of_go(&go).as_str(), "{json}");
    assert!(go_row["state_changed_at"].is_string(), "{json}");
    ml.shutdown().await;
}
