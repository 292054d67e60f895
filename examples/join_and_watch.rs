//! # join_and_watch: join a cluster and print membership events
//!
//! Shows the smallest useful memberlist program: start a node on a UDP + TCP port, join a
//! cluster through any member, print the member list, then print every membership event
//! (`Join`, `Left`, `Failed`, `Update`, `Changed`, `Conflict`) as it happens. A subscription
//! starts with a snapshot of the members, and a subscriber that falls behind is handed a
//! fresh one (`Notification::Lagged`) instead of silently missing events.
//!
//! Run it from the workspace root:
//!
//! ```text
//! # Demo: a watcher, two peers that join, one changes its metadata, both leave; then exit.
//! cargo run --example join_and_watch
//!
//! # A real node: first terminal starts a cluster, second one joins it. Ctrl-C leaves.
//! cargo run --example join_and_watch -- --bind 127.0.0.1:7946
//! cargo run --example join_and_watch -- --bind 127.0.0.1:7947 --join 127.0.0.1:7946
//! ```
//!
//! `--join` takes Go's address forms (`host:port`, `host`, `name/host:port`) and may be
//! repeated. Set `RUST_LOG=debug` to see the protocol's own logs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use memberlist::prelude::*;
use tokio::time::Instant;

/// Errors of this example: anything printable that can cross tasks.
pub type DynError = Box<dyn Error + Send + Sync>;

/// Longest the demo waits for the cluster to do something before giving up.
const DEMO_PATIENCE: Duration = Duration::from_secs(30);

/// How long a node waits for its "I am leaving" message to spread.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Command-line arguments. With neither `--bind` nor `--join`, the demo runs.
#[derive(Debug, Parser)]
#[command(about = "Join a memberlist cluster and print membership events")]
pub struct Args {
    /// Address to listen on, UDP and TCP (e.g. 0.0.0.0:7946). Port 0 picks a free port.
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// A member to join through (repeat the flag for several).
    #[arg(long)]
    pub join: Vec<String>,
    /// This node's name, unique in the cluster (default: node-<port>).
    #[arg(long)]
    pub name: Option<String>,
}

/// A delegate that announces a fixed piece of metadata, so that changing it shows an
/// `Update` event on the other nodes.
#[derive(Debug, Default)]
pub struct Tags {
    /// The metadata announced in our alive messages (at most 512 bytes).
    pub meta: Bytes,
}

impl Delegate for Tags {
    fn node_meta(&mut self, _limit: usize) -> Bytes {
        self.meta.clone()
    }
}

/// A node of this example.
pub type Node = Memberlist<NetTransport, Tags>;

/// The kinds of membership events, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A node joined.
    Join,
    /// A node left gracefully.
    Left,
    /// A node was declared dead.
    Failed,
    /// A node changed its metadata.
    Update,
    /// Something else changed: a suspicion raised or refuted, a new incarnation.
    Changed,
    /// Two nodes claim the same name.
    Conflict,
    /// A kind of event added to the library after this example was written.
    Other,
}

/// What the demo's watcher saw: each event's kind and node name, in order.
#[derive(Debug, Default)]
pub struct Summary {
    /// The events, in the order they arrived.
    pub events: Vec<(Kind, String)>,
    /// The most members the watcher counted at once (itself included).
    pub peak_members: usize,
}

/// Timers for a demo on one machine: Go's "local" preset with faster probing and gossip, so
/// that everything happens within a second or two.
pub fn demo_config(name: &str) -> Config {
    let mut config = Config::local(name);
    config.protocol.probe_interval = Duration::from_millis(300);
    config.protocol.gossip_interval = Duration::from_millis(50);
    config
}

/// Binds a transport on `bind` and starts a node on it.
pub async fn start_node(config: Config, bind: SocketAddr, meta: &str) -> Result<Node, DynError> {
    let transport = NetTransport::bind(bind).await?;
    let node = Memberlist::builder(config)
        .transport(transport)
        .delegate(Tags {
            meta: Bytes::copy_from_slice(meta.as_bytes()),
        })
        .start()
        .await?;
    Ok(node)
}

/// Prints one event and classifies it.
fn describe(event: &MemberEvent) -> (Kind, String) {
    let member = event.member();
    let meta = String::from_utf8_lossy(&member.meta);
    let kind = match event {
        MemberEvent::Join(_) => Kind::Join,
        MemberEvent::Left(_) => Kind::Left,
        MemberEvent::Failed(_) => Kind::Failed,
        MemberEvent::Update(_) => Kind::Update,
        MemberEvent::Changed(_) => Kind::Changed,
        MemberEvent::Conflict { .. } => Kind::Conflict,
        // The enum is non-exhaustive: a future kind of event lands here.
        _ => Kind::Other,
    };
    println!(
        "event: {kind:?} {} at {} is {} (meta {meta:?})",
        member.name, member.addr, member.state
    );
    (kind, member.name.to_string())
}

/// Prints the member list as `node` sees it.
fn print_members(node: &Node) {
    println!("{} sees {} members:", node.name(), node.num_members());
    for m in node.members() {
        let addr = m.addr.to_string();
        println!("  {:<10} {:<22} {}", m.name, addr, m.state);
    }
}

/// The demo: a watcher on 127.0.0.1, `peers` peers that join it, one metadata change, then
/// every peer leaves. Returns once the watcher has seen every peer leave, and the watcher
/// has left and shut down.
pub async fn run_demo(peers: usize) -> Result<Summary, DynError> {
    let localhost: SocketAddr = ([127, 0, 0, 1], 0).into();
    // 1. The watcher: the node whose events we print. Port 0 lets the system choose.
    let watcher = start_node(demo_config("watcher"), localhost, "role=watcher").await?;
    println!("watcher listening on {}", watcher.advertise_addr());
    // Subscribe before anything happens (a subscription made later would start from a
    // snapshot of the members at that time).
    let mut events = watcher.subscribe();

    // 2. The peers' script runs in its own task: join, change metadata, leave.
    let script = tokio::spawn(peers_script(watcher.clone(), peers));

    // 3. Print events until every peer has left (or failed).
    let mut summary = Summary::default();
    let mut gone = 0;
    let deadline = Instant::now() + DEMO_PATIENCE;
    while gone < peers {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Notification::Event { event, .. })) => {
                let (kind, name) = describe(&event);
                if matches!(kind, Kind::Left | Kind::Failed) {
                    gone += 1;
                }
                summary.events.push((kind, name));
                summary.peak_members = summary.peak_members.max(watcher.num_members());
            }
            // First, the members when we subscribed: the watcher alone.
            Ok(Some(Notification::Snapshot(s))) => {
                println!("{} member(s) at first", s.members.len())
            }
            // A subscriber that falls behind gets the members now instead of a gap.
            Ok(Some(Notification::Lagged { missed, snapshot })) => println!(
                "(missed {missed} events; {} members now)",
                snapshot.members.len()
            ),
            Ok(Some(_)) => {}
            Ok(None) => return Err("the watcher stopped".into()),
            Err(_) => return Err("timed out waiting for the peers to leave".into()),
        }
    }
    // The script's own errors (a failed join, say) surface here.
    script.await??;

    // 4. Leave gracefully, then stop.
    print_members(&watcher);
    watcher.leave(LEAVE_TIMEOUT).await?;
    watcher.shutdown().await;
    Ok(summary)
}

/// The peers' side of the demo, joining through `watcher`.
async fn peers_script(watcher: Node, peers: usize) -> Result<(), DynError> {
    let seed = watcher.advertise_addr().to_string();
    let localhost: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut nodes = Vec::new();
    for i in 1..=peers {
        let node = start_node(demo_config(&format!("peer-{i}")), localhost, "v1").await?;
        // `join` does a full state exchange with the seed and returns how many succeeded.
        node.join([&seed]).await?;
        nodes.push(node);
    }
    // Wait until everyone knows everyone, so the metadata update reaches all.
    wait_until("all peers see the whole cluster", || {
        nodes.iter().all(|n| n.num_members() == peers + 1)
    })
    .await?;

    // Change the first peer's metadata at runtime: update the delegate, then re-announce.
    if let Some(first) = nodes.first() {
        first
            .with_delegate(|tags| tags.meta = Bytes::from_static(b"v2"))
            .await?;
        first.update_meta(LEAVE_TIMEOUT).await?;
        // Gossip is probabilistic: the few copies of the update may all go to the other
        // peer (piggybacked on its probes). Wait until the watcher has it, so that the demo
        // shows the update before the leave (a leave with the same incarnation supersedes it).
        wait_until("the watcher sees the new metadata", || {
            watcher
                .member("peer-1")
                .is_some_and(|m| &m.meta[..] == b"v2")
        })
        .await?;
    }

    // Leave one by one: `leave` waits until the news has been gossiped.
    for node in nodes {
        node.leave(LEAVE_TIMEOUT).await?;
        node.shutdown().await;
    }
    Ok(())
}

/// Polls `check` every 50 ms until it holds, or fails after [`DEMO_PATIENCE`].
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) -> Result<(), DynError> {
    let deadline = Instant::now() + DEMO_PATIENCE;
    while !check() {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A real node: binds `--bind`, joins `--join`, prints events until Ctrl-C, then leaves.
pub async fn run_node(args: Args) -> Result<(), DynError> {
    let bind = args.bind.unwrap_or_else(|| ([0, 0, 0, 0], 7946).into());
    let transport = NetTransport::bind(bind).await?;
    let name = args
        .name
        .unwrap_or_else(|| format!("node-{}", transport.advertise_addr().port()));
    // The LAN preset: Go's DefaultLANConfig timers.
    let node = Memberlist::builder(Config::lan(name.as_str()))
        .transport(transport)
        .delegate(Tags::default())
        .start()
        .await?;
    println!("{name} listening on {}", node.advertise_addr());

    if !args.join.is_empty() {
        // Fails only if no address could be reached; the error lists each one's reason.
        let contacted = node.join(&args.join).await?;
        println!("joined through {contacted} node(s)");
    }
    print_members(&node);

    let mut events = node.subscribe();
    println!("watching; press Ctrl-C to leave");
    loop {
        tokio::select! {
            signal = tokio::signal::ctrl_c() => {
                signal?;
                break;
            }
            item = events.recv() => match item {
                Some(Notification::Event { event, .. }) => {
                    describe(&event);
                }
                Some(Notification::Lagged { missed, .. }) => println!("(missed {missed} events)"),
                Some(_) => {}
                None => break,
            },
        }
    }
    println!("leaving");
    // A leave that times out has still happened; report and stop anyway.
    if let Err(e) = node.leave(LEAVE_TIMEOUT).await {
        println!("leave: {e}");
    }
    node.shutdown().await;
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
        // Demo mode; Ctrl-C interrupts it.
        tokio::select! {
            summary = run_demo(2) => {
                let summary = summary?;
                println!("demo done: {} events, at most {} members", summary.events.len(), summary.peak_members);
            }
            signal = tokio::signal::ctrl_c() => signal?,
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
