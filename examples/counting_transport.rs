//! # counting_transport: counting a cluster's traffic with a transport wrapper
//!
//! memberlist moves its bytes through the [`Transport`] trait: datagrams (UDP in
//! [`NetTransport`]) for probes and gossip, streams (TCP) for push/pull state exchanges and
//! reliable messages. A transport can wrap another: this example wraps each node's
//! `NetTransport` in the test kit's [`Intercept`] (feature `testing`), which forwards
//! everything and counts what goes through it — datagrams and their bytes, streams and their
//! bytes — runs a small cluster over it and prints the totals.
//!
//! The same wrapper takes a [`Policy`](memberlist::testing::Policy) that drops or delays
//! datagrams and dials, for fault injection in tests. To write a wrapper of your own, read
//! the [`Transport`] documentation for what each method must guarantee: a wrapper keeps
//! those guarantees by forwarding, and by counting only *after* the inner call completed (so
//! `recv_from` and `accept` stay cancel-safe).
//!
//! Run it from the workspace root:
//!
//! ```text
//! cargo run -p memberlist --features testing --example counting_transport
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use memberlist::prelude::*;
use memberlist::testing::{Intercept, Traffic};
use tokio::time::Instant;

/// Errors of this example: anything printable that can cross tasks.
pub type DynError = Box<dyn Error + Send + Sync>;

/// A node of this example: memberlist over a counted UDP + TCP transport.
pub type Node = Memberlist<Intercept<NetTransport>>;

/// What the demo measured, per node, after every node stopped.
#[derive(Debug)]
pub struct Summary {
    /// Each node's name, its transport's counts and the number of datagrams its protocol
    /// machine says it received (from [`Memberlist::stats`]).
    pub nodes: Vec<(String, Traffic, u64)>,
    /// The sum over all nodes.
    pub total: Traffic,
}

/// Timers for a demo on one machine: the "local" preset, probing and gossiping faster, and a
/// push/pull every second so that streams are used.
pub fn demo_config(name: &str) -> Config {
    let mut config = Config::local(name);
    config.protocol.probe_interval = Duration::from_millis(200);
    config.protocol.gossip_interval = Duration::from_millis(50);
    config.protocol.push_pull_interval = Duration::from_secs(1);
    config
}

/// The demo: `n` nodes on 127.0.0.1 over counting transports run together for `run_for`
/// (one reliable message included), leave, stop, and report their traffic.
pub async fn run_demo(n: usize, run_for: Duration) -> Result<Summary, DynError> {
    let localhost: SocketAddr = ([127, 0, 0, 1], 0).into();
    // 1. Start the nodes, each over its own counting wrapper around a NetTransport.
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..n {
        let transport = Intercept::new(NetTransport::bind(localhost).await?);
        let node = Memberlist::builder(demo_config(&format!("node-{i}")))
            .transport(transport)
            .start()
            .await?;
        nodes.push(node);
    }
    // 2. Join them through the first (a push/pull over a stream each).
    let seed = match nodes.first() {
        Some(first) => first.advertise_addr().to_string(),
        None => return Err("the demo needs at least one node".into()),
    };
    for node in nodes.iter().skip(1) {
        node.join([&seed]).await?;
    }
    // 3. Let them probe and gossip for a while; send one reliable message (a stream).
    if let [first, second, ..] = nodes.as_slice() {
        wait_until("the first two nodes know each other", || {
            first.member(second.name()).is_some()
        })
        .await?;
        first
            .send_reliable(second.name(), b"hello over TCP")
            .await?;
    }
    tokio::time::sleep(run_for).await;

    // 4. Stop everything, then read the counters: nothing moves any more.
    for node in &nodes {
        node.leave(Duration::from_secs(5)).await?;
    }
    for node in &nodes {
        node.shutdown().await;
    }
    let mut summary = Summary {
        nodes: Vec::new(),
        total: Traffic::default(),
    };
    for node in &nodes {
        let traffic = node.transport().traffic();
        let machine_received = node.stats().protocol.packets_received;
        summary.total = summary.total + traffic;
        summary
            .nodes
            .push((node.name().to_owned(), traffic, machine_received));
    }
    Ok(summary)
}

/// Polls `check` every 50 ms until it holds, or fails after 30 s.
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) -> Result<(), DynError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Prints one row of the table.
fn print_row(name: &str, t: &Traffic) {
    println!(
        "{name:<8} {:>6} {:>9} {:>6} {:>9} {:>5} {:>5} {:>8} {:>8}",
        t.datagrams_sent,
        t.datagram_bytes_sent,
        t.datagrams_received,
        t.datagram_bytes_received,
        t.streams_opened,
        t.streams_accepted,
        t.stream_bytes_written,
        t.stream_bytes_read,
    );
}

/// The program: logging, then the demo (or a real node).
async fn run() -> Result<(), DynError> {
    // Logs go to stderr, filtered by RUST_LOG (warnings by default).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    println!("running 3 nodes for 3 seconds...");
    let summary = run_demo(3, Duration::from_secs(3)).await?;
    println!(
        "{:<8} {:>6} {:>9} {:>6} {:>9} {:>5} {:>5} {:>8} {:>8}",
        "node", "dg out", "bytes", "dg in", "bytes", "dial", "accpt", "st wr", "st rd"
    );
    for (name, traffic, _) in &summary.nodes {
        print_row(name, traffic);
    }
    print_row("total", &summary.total);
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Errors are printed for humans (their `Display`), with a failure exit status.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
