//! Runs each example's demo (the same function `cargo run --example NAME` runs) on
//! 127.0.0.1 with system-chosen ports, and checks what it reports. The examples' sources
//! are compiled into this test as modules; their `main` functions are unused here.
//!
//! The examples need the default features `net` and `lzw`; without them this file is empty.
#![cfg(all(feature = "net", feature = "lzw"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/join_and_watch.rs"]
mod join_and_watch;

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/kv_store.rs"]
mod kv_store;

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/custom_delegate.rs"]
mod custom_delegate;

#[cfg(feature = "testing")]
#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/counting_transport.rs"]
mod counting_transport;

/// Every demo finishes well within this, or the test fails rather than hangs.
const LIMIT: Duration = Duration::from_secs(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_watch_demo_sees_joins_update_and_leaves() {
    use join_and_watch::Kind;

    let summary = tokio::time::timeout(LIMIT, join_and_watch::run_demo(2))
        .await
        .expect("demo finishes")
        .expect("demo succeeds");
    let saw = |kind: Kind, name: &str| summary.events.contains(&(kind, name.to_owned()));
    for peer in ["peer-1", "peer-2"] {
        assert!(
            saw(Kind::Join, peer),
            "join of {peer}: {:?}",
            summary.events
        );
        assert!(
            saw(Kind::Left, peer),
            "leave of {peer}: {:?}",
            summary.events
        );
        // A graceful leave must not be reported as a failure.
        assert!(
            !saw(Kind::Failed, peer),
            "{peer} failed: {:?}",
            summary.events
        );
    }
    assert!(saw(Kind::Update, "peer-1"), "update: {:?}", summary.events);
    assert_eq!(summary.peak_members, 3);
    // Each peer joined before it left.
    for peer in ["peer-1", "peer-2"] {
        let position = |kind| {
            summary
                .events
                .iter()
                .position(|e| *e == (kind, peer.to_owned()))
        };
        assert!(position(Kind::Join) < position(Kind::Left));
    }
}

#[test]
fn join_and_watch_parses_its_arguments() {
    use clap::Parser;

    let args = join_and_watch::Args::try_parse_from([
        "join_and_watch",
        "--bind",
        "127.0.0.1:7946",
        "--join",
        "10.0.0.1:7946",
        "--join",
        "node-b/10.0.0.2",
    ])
    .expect("valid arguments");
    assert_eq!(args.bind, Some("127.0.0.1:7946".parse().unwrap()));
    assert_eq!(args.join, ["10.0.0.1:7946", "node-b/10.0.0.2"]);
    // A bad address is a clear error, not a panic.
    let err = join_and_watch::Args::try_parse_from(["join_and_watch", "--bind", "nowhere"])
        .expect_err("invalid address");
    assert!(err.to_string().contains("--bind"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_store_demo_converges_and_late_joiner_gets_the_map() {
    let summary = tokio::time::timeout(LIMIT, kv_store::run_demo())
        .await
        .expect("demo finishes")
        .expect("demo succeeds");
    let expected = BTreeMap::from([
        ("answer".to_owned(), "42".to_owned()),
        // kv-2's later write wins over kv-0's "red".
        ("color".to_owned(), "blue".to_owned()),
        ("greeting".to_owned(), "hello".to_owned()),
    ]);
    let names: Vec<&str> = summary.maps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["kv-0", "kv-1", "kv-2", "kv-late"]);
    for (name, map) in &summary.maps {
        assert_eq!(map, &expected, "map of {name}");
    }
    // The late joiner had everything as soon as its join's push/pull returned.
    assert_eq!(summary.late_joiner_after_join, expected);
    assert!(summary.late_joiner_join_merges >= 1, "{summary:?}");
}

#[test]
fn kv_store_last_writer_wins_orders_by_version_then_writer() {
    use kv_store::Entry;

    let entry = |version, writer: &str| Entry {
        value: format!("{writer}@{version}"),
        version,
        writer: writer.to_owned(),
    };
    assert!(entry(2, "a").wins_over(&entry(1, "z")));
    assert!(!entry(1, "z").wins_over(&entry(2, "a")));
    // A tie on the version is broken by the writer's name, the same way on every node.
    assert!(entry(3, "b").wins_over(&entry(3, "a")));
    assert!(!entry(3, "a").wins_over(&entry(3, "b")));
    assert!(!entry(3, "a").wins_over(&entry(3, "a")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_delegate_demo_shares_updates_and_refuses_metadata() {
    let summary = tokio::time::timeout(LIMIT, custom_delegate::run_demo())
        .await
        .expect("demo finishes")
        .expect("demo succeeds");
    assert_eq!(summary.databases, ["db-1"]);
    assert_eq!(summary.views.len(), 3);
    for (name, view) in &summary.views {
        let roles: BTreeMap<&str, &str> = view
            .iter()
            .map(|(n, meta)| (n.as_str(), meta.role.as_str()))
            .collect();
        // Every node reads every member's metadata, web-2's updated role included.
        let expected = BTreeMap::from([("db-1", "db"), ("web-1", "web"), ("web-2", "cache")]);
        assert_eq!(roles, expected, "view of {name}");
        assert!(view.iter().all(|(_, meta)| meta.cluster == "blue"));
    }
    let error = summary.intruder_error.expect("the intruder's join fails");
    assert!(error.contains("cluster"), "{error}");
    assert!(!summary.intruder_seen, "a blue node lists green-1");
}

#[cfg(feature = "testing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_transport_demo_counts_consistent_traffic() {
    let summary = tokio::time::timeout(
        LIMIT,
        counting_transport::run_demo(3, Duration::from_secs(1)),
    )
    .await
    .expect("demo finishes")
    .expect("demo succeeds");
    assert_eq!(summary.nodes.len(), 3);
    for (name, t, machine_received) in &summary.nodes {
        assert!(
            t.datagrams_sent > 0 && t.datagrams_received > 0,
            "{name}: {t:?}"
        );
        // Every datagram carries at least a message type byte.
        assert!(t.datagram_bytes_sent >= t.datagrams_sent, "{name}: {t:?}");
        assert!(
            t.datagram_bytes_received >= t.datagrams_received,
            "{name}: {t:?}"
        );
        // Each node joined or was joined, so it used streams both ways.
        assert!(t.streams_opened + t.streams_accepted > 0, "{name}: {t:?}");
        assert!(
            t.stream_bytes_written > 0 && t.stream_bytes_read > 0,
            "{name}: {t:?}"
        );
        // The wrapper saw exactly the datagrams the protocol machine handled.
        assert_eq!(t.datagrams_received, *machine_received, "{name}: {t:?}");
    }
    let total = summary.total;
    // Every stream accepted was dialed by a node of the cluster (one dialed in the instant
    // its target shut down may never be accepted).
    assert!(total.streams_accepted <= total.streams_opened, "{total:?}");
    // Nothing arrives that was not sent; on loopback, at most the few datagrams sent to a
    // node in the instant it shut down are lost.
    assert!(
        total.datagrams_received <= total.datagrams_sent,
        "{total:?}"
    );
    assert!(
        total.datagrams_received * 10 >= total.datagrams_sent * 9,
        "{total:?}"
    );
    assert!(
        total.datagram_bytes_received <= total.datagram_bytes_sent,
        "{total:?}"
    );
    assert!(
        total.stream_bytes_read <= total.stream_bytes_written,
        "{total:?}"
    );
}
