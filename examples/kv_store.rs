//! # kv_store: a replicated key-value map over memberlist
//!
//! The classic use of memberlist's application hooks: every node holds a copy of a small
//! map, and
//!
//! - each write is **gossiped** to the cluster as a user broadcast
//!   ([`Memberlist::queue_broadcast`]; receivers get it in
//!   [`Delegate::notify_message`]): fast, but best-effort;
//! - the whole map travels in **push/pull** exchanges ([`Delegate::local_state`] and
//!   [`Delegate::merge_remote_state`]): on every join, so a late joiner gets everything at
//!   once, and periodically, which repairs any broadcast that was lost.
//!
//! Conflicts are settled by **last writer wins**: every entry carries a version from a
//! Lamport clock (a write takes a version above every version the node has seen) and the
//! writer's name; the entry with the higher `(version, writer)` pair wins everywhere, so all
//! nodes converge to the same map whatever order messages arrive in. Entries are encoded as
//! JSON (`{"key":…,"value":…,"version":…,"writer":…}` for an update, a JSON object of such
//! entries for the whole state). Deleting would need tombstones; this example has none.
//!
//! Run it from the workspace root:
//!
//! ```text
//! # Demo: 3 nodes, writes converge on all, then a 4th node joins late and gets the map.
//! cargo run --example kv_store
//!
//! # Real nodes, one per terminal; type `set KEY VALUE`, `get KEY`, `list` or `quit`.
//! cargo run --example kv_store -- --bind 127.0.0.1:7946
//! cargo run --example kv_store -- --bind 127.0.0.1:7947 --join 127.0.0.1:7946
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use memberlist::machine::broadcast::BroadcastKey;
use memberlist::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

/// Errors of this example: anything printable that can cross tasks.
pub type DynError = Box<dyn Error + Send + Sync>;

/// Longest key plus value accepted: an update must fit in one gossip datagram next to the
/// protocol's own messages (Go's default budget is 1,400 bytes a datagram).
pub const MAX_ENTRY_SIZE: usize = 1000;

/// One value with what last-writer-wins needs to order writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The value.
    pub value: String,
    /// Lamport timestamp of the write.
    pub version: u64,
    /// Name of the node that wrote it: breaks ties between writes with the same version.
    pub writer: String,
}

impl Entry {
    /// Whether this write is newer than `other` (higher version; on a tie, higher writer).
    pub fn wins_over(&self, other: &Entry) -> bool {
        (self.version, &self.writer) > (other.version, &other.writer)
    }
}

/// A single write, as gossiped.
#[derive(Debug, Serialize, Deserialize)]
struct Update {
    key: String,
    #[serde(flatten)]
    entry: Entry,
}

/// The map and the node's Lamport clock.
#[derive(Debug, Default)]
pub struct Store {
    entries: BTreeMap<String, Entry>,
    clock: u64,
    /// Remote maps merged in a join's push/pull (for the demo's report).
    join_merges: u64,
}

impl Store {
    /// A local write: takes the next version and stores the entry.
    fn write_local(&mut self, key: &str, value: &str, writer: &str) -> Entry {
        self.clock += 1;
        let entry = Entry {
            value: value.to_owned(),
            version: self.clock,
            writer: writer.to_owned(),
        };
        self.entries.insert(key.to_owned(), entry.clone());
        entry
    }

    /// A remote write: kept if it wins over what we hold. Returns whether it was kept.
    fn apply(&mut self, key: String, entry: Entry) -> bool {
        // Lamport rule: our next write must come after everything we have seen.
        self.clock = self.clock.max(entry.version);
        match self.entries.get(&key) {
            Some(current) if !entry.wins_over(current) => false,
            _ => {
                self.entries.insert(key, entry);
                true
            }
        }
    }

    /// The values, without versions.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect()
    }
}

/// The store, shared by the delegate (inside memberlist's task) and the application. The
/// lock is only held for short, synchronous work, never across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the map half-written (every change is
        // one insert), so a poisoned lock is safe to keep using.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// memberlist's hooks: apply gossiped updates, send and merge whole maps.
#[derive(Debug)]
pub struct KvDelegate {
    store: SharedStore,
}

impl Delegate for KvDelegate {
    /// A user broadcast arrived: one update.
    fn notify_message(&mut self, msg: Bytes) {
        match serde_json::from_slice::<Update>(&msg) {
            Ok(update) => {
                self.store.lock().apply(update.key, update.entry);
            }
            // Whatever the network brings must not crash us: log and drop it.
            Err(e) => tracing::warn!(error = %e, "ignoring an undecodable update"),
        }
    }

    /// A push/pull is under way (a join, or the periodic exchange): send the whole map.
    fn local_state(&mut self, _join: bool) -> Bytes {
        match serde_json::to_vec(&self.store.lock().entries) {
            Ok(json) => Bytes::from(json),
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode the map");
                Bytes::new()
            }
        }
    }

    /// A peer's whole map: merge it entry by entry.
    fn merge_remote_state(&mut self, state: Bytes, join: bool) {
        if state.is_empty() {
            return;
        }
        match serde_json::from_slice::<BTreeMap<String, Entry>>(&state) {
            Ok(remote) => {
                let mut store = self.store.lock();
                if join {
                    store.join_merges += 1;
                }
                for (key, entry) in remote {
                    store.apply(key, entry);
                }
            }
            Err(e) => tracing::warn!(error = %e, "ignoring an undecodable remote map"),
        }
    }
}

/// A node of the replicated map.
#[derive(Debug, Clone)]
pub struct KvNode {
    ml: Memberlist<NetTransport, KvDelegate>,
    store: SharedStore,
}

impl KvNode {
    /// Starts a node with `config` (its name and timers) over `transport`.
    pub async fn start(config: Config, transport: NetTransport) -> Result<Self, DynError> {
        let store = SharedStore::default();
        let ml = Memberlist::builder(config)
            .transport(transport)
            .delegate(KvDelegate {
                store: store.clone(),
            })
            .start()
            .await?;
        Ok(Self { ml, store })
    }

    /// The memberlist handle (members, address, leave...).
    pub fn memberlist(&self) -> &Memberlist<NetTransport, KvDelegate> {
        &self.ml
    }

    /// Joins the cluster through `addrs`. The join's push/pull brings the whole map.
    pub async fn join(&self, addrs: &[String]) -> Result<usize, DynError> {
        Ok(self.ml.join(addrs).await?)
    }

    /// Writes `key = value` here and gossips the write to the cluster.
    pub async fn set(&self, key: &str, value: &str) -> Result<(), DynError> {
        if key.len() + value.len() > MAX_ENTRY_SIZE {
            return Err(format!("key and value exceed {MAX_ENTRY_SIZE} bytes").into());
        }
        let entry = self.store.lock().write_local(key, value, self.ml.name());
        let update = Update {
            key: key.to_owned(),
            entry,
        };
        let msg = serde_json::to_vec(&update)?;
        // Keyed by the map key: a newer write of the same key replaces one still queued.
        self.ml
            .queue_broadcast(BroadcastKey::named(format!("kv/{key}")), msg)
            .await?;
        Ok(())
    }

    /// The value of `key` on this node.
    pub fn get(&self, key: &str) -> Option<String> {
        self.store.lock().entries.get(key).map(|e| e.value.clone())
    }

    /// The whole map on this node.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.store.lock().values()
    }

    /// How many remote maps this node merged in joins' push/pulls.
    pub fn join_merges(&self) -> u64 {
        self.store.lock().join_merges
    }

    /// Leaves the cluster and stops.
    pub async fn stop(&self) {
        if let Err(e) = self.ml.leave(Duration::from_secs(5)).await {
            tracing::warn!(error = %e, "leave did not complete");
        }
        self.ml.shutdown().await;
    }
}

/// What the demo ends with.
#[derive(Debug)]
pub struct Summary {
    /// Each node's name and map at the end, the late joiner last.
    pub maps: Vec<(String, BTreeMap<String, String>)>,
    /// The late joiner's map right after `join` returned, before any gossip.
    pub late_joiner_after_join: BTreeMap<String, String>,
    /// Remote maps the late joiner had merged by then in its join's push/pull.
    pub late_joiner_join_merges: u64,
}

/// Timers for a demo on one machine: the "local" preset, probing and gossiping faster, and a
/// push/pull every 2 s.
pub fn demo_config(name: &str) -> Config {
    let mut config = Config::local(name);
    config.protocol.probe_interval = Duration::from_millis(300);
    config.protocol.gossip_interval = Duration::from_millis(50);
    config.protocol.push_pull_interval = Duration::from_secs(2);
    config
}

/// The demo: 3 nodes, writes on two of them, an overwrite on the third, convergence, then a
/// 4th node that joins late and receives the full map in its join's push/pull.
pub async fn run_demo() -> Result<Summary, DynError> {
    let localhost: SocketAddr = ([127, 0, 0, 1], 0).into();
    // 1. Three nodes; kv-1 and kv-2 join through kv-0.
    let mut nodes = Vec::new();
    for i in 0..3 {
        let transport = NetTransport::bind(localhost).await?;
        nodes.push(KvNode::start(demo_config(&format!("kv-{i}")), transport).await?);
    }
    let seed = vec![nodes[0].memberlist().advertise_addr().to_string()];
    for node in &nodes[1..] {
        node.join(&seed).await?;
    }
    wait_until("the 3 nodes see each other", || {
        nodes.iter().all(|n| n.memberlist().num_members() == 3)
    })
    .await?;

    // 2. Writes on two different nodes.
    nodes[0].set("color", "red").await?;
    nodes[0].set("answer", "42").await?;
    nodes[1].set("greeting", "hello").await?;
    let expected_first = BTreeMap::from([
        ("answer".to_owned(), "42".to_owned()),
        ("color".to_owned(), "red".to_owned()),
        ("greeting".to_owned(), "hello".to_owned()),
    ]);
    wait_until("the writes reach every node", || {
        nodes.iter().all(|n| n.values() == expected_first)
    })
    .await?;
    print_maps("after the first writes", &nodes);

    // 3. kv-2 overwrites a key kv-0 wrote: having seen "red", its clock is past red's
    // version, so "blue" wins on every node.
    nodes[2].set("color", "blue").await?;
    wait_until("the overwrite reaches every node", || {
        nodes
            .iter()
            .all(|n| n.get("color").as_deref() == Some("blue"))
    })
    .await?;
    print_maps("after kv-2 overwrote color", &nodes);

    // 4. A late joiner: its join exchanges full state with kv-0, so the map is complete as
    // soon as `join` returns, without waiting for any gossip.
    let late = KvNode::start(demo_config("kv-late"), NetTransport::bind(localhost).await?).await?;
    late.join(&seed).await?;
    let late_joiner_after_join = late.values();
    let late_joiner_join_merges = late.join_merges();
    println!(
        "kv-late right after join ({late_joiner_join_merges} map merged): {late_joiner_after_join:?}"
    );
    nodes.push(late);
    wait_until("all 4 nodes see each other", || {
        nodes.iter().all(|n| n.memberlist().num_members() == 4)
    })
    .await?;

    // 5. Collect the maps and stop everything.
    let maps = nodes
        .iter()
        .map(|n| (n.memberlist().name().to_owned(), n.values()))
        .collect();
    for node in &nodes {
        node.stop().await;
    }
    Ok(Summary {
        maps,
        late_joiner_after_join,
        late_joiner_join_merges,
    })
}

fn print_maps(when: &str, nodes: &[KvNode]) {
    println!("{when}:");
    for node in nodes {
        println!("  {}: {:?}", node.memberlist().name(), node.values());
    }
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

/// Command-line arguments. With neither `--bind` nor `--join`, the demo runs.
#[derive(Debug, Parser)]
#[command(about = "A replicated key-value map over memberlist")]
pub struct Args {
    /// Address to listen on, UDP and TCP (e.g. 0.0.0.0:7946).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// A member to join through (repeat the flag for several).
    #[arg(long)]
    pub join: Vec<String>,
    /// This node's name, unique in the cluster (default: kv-<port>).
    #[arg(long)]
    pub name: Option<String>,
}

/// A real node driven by commands on standard input.
pub async fn run_node(args: Args) -> Result<(), DynError> {
    let bind = args.bind.unwrap_or_else(|| ([0, 0, 0, 0], 7946).into());
    // Bind first, so that the default name can use the port actually bound.
    let transport = NetTransport::bind(bind).await?;
    let name = args
        .name
        .unwrap_or_else(|| format!("kv-{}", transport.advertise_addr().port()));
    let node = KvNode::start(Config::lan(name.as_str()), transport).await?;
    println!("{name} listening on {}", node.memberlist().advertise_addr());
    if !args.join.is_empty() {
        let contacted = node.join(&args.join).await?;
        println!(
            "joined through {contacted} node(s); {} keys",
            node.values().len()
        );
    }
    println!("commands: set KEY VALUE | get KEY | list | members | quit");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("set"), Some(key)) => {
                let value = words.collect::<Vec<_>>().join(" ");
                match node.set(key, &value).await {
                    Ok(()) => println!("ok"),
                    Err(e) => println!("error: {e}"),
                }
            }
            (Some("get"), Some(key)) => match node.get(key) {
                Some(value) => println!("{key} = {value}"),
                None => println!("{key} is not set"),
            },
            (Some("list"), None) => {
                for (key, value) in node.values() {
                    println!("{key} = {value}");
                }
            }
            (Some("members"), None) => {
                for m in node.memberlist().members() {
                    println!("{} {}", m.name, m.state);
                }
            }
            (Some("quit"), None) => break,
            (None, _) => {}
            _ => println!("commands: set KEY VALUE | get KEY | list | members | quit"),
        }
    }
    node.stop().await;
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

    let args = Args::parse();
    if args.bind.is_none() && args.join.is_empty() {
        let summary = run_demo().await?;
        println!("final maps:");
        for (name, map) in summary.maps {
            println!("  {name}: {map:?}");
        }
        Ok(())
    } else {
        run_node(args).await
    }
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
