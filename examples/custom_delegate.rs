//! # custom_delegate: node metadata, runtime updates and vetoes
//!
//! A [`Delegate`] is how an application plugs into the protocol. This one
//!
//! - announces **metadata** about its node ([`Delegate::node_meta`]): the cluster it
//!   belongs to, a role and a zone, encoded as JSON (at most 512 bytes, Go's limit);
//! - lets the application read every member's metadata from [`Memberlist::members`] (here:
//!   "which nodes are databases?");
//! - **changes** its metadata while running: the application edits the delegate with
//!   [`Memberlist::with_delegate`] and re-announces with [`Memberlist::update_meta`]; other
//!   nodes get an `Update` event and the new metadata;
//! - **vetoes** nodes of another cluster: [`Delegate::notify_merge`] refuses a join whose
//!   member list holds a stranger, and [`Delegate::notify_alive`] ignores a stranger's
//!   alive messages should one arrive by gossip. (A [label](Config::label) does the same job
//!   at the wire level; a veto can use any rule the application likes.)
//!
//! Run it from the workspace root:
//!
//! ```text
//! cargo run --example custom_delegate
//! ```
//!
//! It starts three nodes of cluster "blue" on 127.0.0.1, prints what each knows of the
//! others, turns one web server into a cache, shows a node of cluster "green" being refused,
//! and exits.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use memberlist::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Errors of this example: anything printable that can cross tasks.
pub type DynError = Box<dyn Error + Send + Sync>;

/// What each node tells the others about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMeta {
    /// The cluster the node belongs to; nodes of other clusters are refused.
    pub cluster: String,
    /// What the node does ("db", "web", "cache"...).
    pub role: String,
    /// Where it runs.
    pub zone: String,
}

impl NodeMeta {
    /// A node of `cluster` with `role` in `zone`.
    pub fn new(cluster: &str, role: &str, zone: &str) -> Self {
        Self {
            cluster: cluster.to_owned(),
            role: role.to_owned(),
            zone: zone.to_owned(),
        }
    }

    /// Reads a member's metadata (which came from the network: it may be anything).
    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The delegate: announces our [`NodeMeta`] and refuses members of other clusters.
#[derive(Debug)]
pub struct ClusterDelegate {
    meta: NodeMeta,
}

impl ClusterDelegate {
    /// A delegate announcing `meta`.
    pub fn new(meta: NodeMeta) -> Self {
        Self { meta }
    }

    /// Checks that `peer` announces our cluster.
    fn check(&self, peer: &Member) -> Result<(), Veto> {
        match NodeMeta::decode(&peer.meta) {
            Ok(meta) if meta.cluster == self.meta.cluster => Ok(()),
            Ok(meta) => Err(Veto::because(format!(
                "{} belongs to cluster {:?}, not {:?}",
                peer.name, meta.cluster, self.meta.cluster
            ))),
            Err(e) => Err(Veto::because(format!(
                "{} has unreadable metadata: {e}",
                peer.name
            ))),
        }
    }
}

impl Delegate for ClusterDelegate {
    fn node_meta(&mut self, limit: usize) -> Bytes {
        match serde_json::to_vec(&self.meta) {
            Ok(json) if json.len() <= limit => Bytes::from(json),
            Ok(json) => {
                // Longer metadata would be cut by the protocol; better send none and say so.
                tracing::warn!(len = json.len(), limit, "metadata too long; sending none");
                Bytes::new()
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode metadata");
                Bytes::new()
            }
        }
    }

    /// Called on both sides of a join with the other side's member list: one stranger and
    /// the whole merge is refused (the joiner's `join` fails).
    fn notify_merge(&mut self, peers: &[Member]) -> Result<(), Veto> {
        peers.iter().try_for_each(|peer| self.check(peer))
    }

    /// Called for every alive message that may change our view, our own included.
    fn notify_alive(&mut self, peer: &Member) -> Result<(), Veto> {
        self.check(peer)
    }
}

/// A node of this example.
pub type Node = Memberlist<NetTransport, ClusterDelegate>;

/// What the demo ends with.
#[derive(Debug)]
pub struct Summary {
    /// Each node's name and the metadata it sees for every member (after the update).
    pub views: Vec<(String, Vec<(String, NodeMeta)>)>,
    /// The names of the database nodes, as found from metadata.
    pub databases: Vec<String>,
    /// The error the intruder's join failed with (`None` if it was let in).
    pub intruder_error: Option<String>,
    /// Whether any node of the cluster lists the intruder at the end.
    pub intruder_seen: bool,
}

/// Timers for a demo on one machine: the "local" preset, probing and gossiping faster.
pub fn demo_config(name: &str) -> Config {
    let mut config = Config::local(name);
    config.protocol.probe_interval = Duration::from_millis(300);
    config.protocol.gossip_interval = Duration::from_millis(50);
    config
}

/// Starts a node called `name` on 127.0.0.1 (a free port) announcing `meta`.
pub async fn start_node(name: &str, meta: NodeMeta) -> Result<Node, DynError> {
    let localhost: SocketAddr = ([127, 0, 0, 1], 0).into();
    let node = Memberlist::builder(demo_config(name))
        .transport(NetTransport::bind(localhost).await?)
        .delegate(ClusterDelegate::new(meta))
        .start()
        .await?;
    Ok(node)
}

/// Every member `node` sees, with its decoded metadata (members whose metadata cannot be
/// read are skipped).
pub fn view(node: &Node) -> Vec<(String, NodeMeta)> {
    node.members()
        .into_iter()
        .filter_map(|m| Some((m.name.to_string(), NodeMeta::decode(&m.meta).ok()?)))
        .collect()
}

/// The demo; see the module documentation.
pub async fn run_demo() -> Result<Summary, DynError> {
    // 1. Three nodes of cluster "blue"; the web servers join through the database.
    let db = start_node("db-1", NodeMeta::new("blue", "db", "zone-a")).await?;
    let web1 = start_node("web-1", NodeMeta::new("blue", "web", "zone-b")).await?;
    let web2 = start_node("web-2", NodeMeta::new("blue", "web", "zone-a")).await?;
    let seed = db.advertise_addr().to_string();
    web1.join([&seed]).await?;
    web2.join([&seed]).await?;
    let nodes = [&db, &web1, &web2];
    wait_until("the 3 nodes see each other", || {
        nodes.iter().all(|n| n.num_members() == 3)
    })
    .await?;

    // 2. Read other nodes' metadata: web-1 looks for the databases.
    println!("web-1 sees:");
    for (name, meta) in view(&web1) {
        println!("  {name:<6} role={:<6} zone={}", meta.role, meta.zone);
    }
    let databases: Vec<String> = view(&web1)
        .into_iter()
        .filter(|(_, meta)| meta.role == "db")
        .map(|(name, _)| name)
        .collect();
    println!("databases according to web-1: {databases:?}");

    // 3. Change metadata at runtime: web-2 becomes a cache. Edit the delegate (inside the
    // node's task), then re-announce; the others get an Update event.
    let mut db_events = db.subscribe();
    web2.with_delegate(|d| d.meta.role = "cache".to_owned())
        .await?;
    web2.update_meta(Duration::from_secs(5)).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, db_events.recv()).await {
            Ok(Some(Notification::Event {
                event: MemberEvent::Update(m),
                ..
            })) if m.name == "web-2" => {
                let meta = NodeMeta::decode(&m.meta)?;
                println!("db-1 got an update: web-2 is now role={}", meta.role);
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("db-1 stopped".into()),
            Err(_) => return Err("timed out waiting for web-2's update".into()),
        }
    }
    wait_until("every node sees web-2 as a cache", || {
        nodes.iter().all(|n| {
            view(n)
                .iter()
                .any(|(name, meta)| name == "web-2" && meta.role == "cache")
        })
    })
    .await?;

    // 4. A node of cluster "green" tries to join: db-1's notify_merge refuses (and so does
    // the intruder's own, seeing "blue" members), so the join fails.
    let intruder = start_node("green-1", NodeMeta::new("green", "web", "zone-a")).await?;
    let intruder_error = match intruder.join([&seed]).await {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    match &intruder_error {
        Some(e) => println!("green-1 was refused: {e}"),
        None => println!("green-1 was let in (unexpected)"),
    }
    // Give gossip a few rounds to spread it, had it been let in.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let intruder_seen = nodes.iter().any(|n| n.member("green-1").is_some());
    println!("any blue node knows green-1: {intruder_seen}");

    // 5. Collect the views and stop everything.
    let views = nodes
        .iter()
        .map(|n| (n.name().to_owned(), view(n)))
        .collect();
    intruder.shutdown().await;
    for node in nodes {
        node.leave(Duration::from_secs(5)).await?;
        node.shutdown().await;
    }
    Ok(Summary {
        views,
        databases,
        intruder_error,
        intruder_seen,
    })
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

    let summary = run_demo().await?;
    println!("final views:");
    for (name, members) in summary.views {
        let roles: Vec<String> = members
            .iter()
            .map(|(n, meta)| format!("{n}={}", meta.role))
            .collect();
        println!("  {name}: {}", roles.join(", "));
    }
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
