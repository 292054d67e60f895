//! # cluster_cost: what a cluster costs over QUIC and over UDP/TCP
//!
//! Starts N nodes (50 by default) in this process on 127.0.0.1 with the LAN preset
//! (`Config::lan`, the same for both transports, no memberlist encryption, no compression),
//! joins them all at once through the first node, and measures:
//!
//! - **join**: from the first join call until every node sees N alive;
//! - **steady state**: after a settling pause, over a window (60 s by default), the process's
//!   CPU time (user + system, from `/proc/self/stat`) and the bytes every node sent, per node
//!   per second. "payload" is what the runtime handed to the transport (datagram bytes plus
//!   stream bytes written, counted by the test kit's `Intercept` wrapper); "wire" is UDP payload bytes on
//!   the wire: for `net` the same as payload (UDP payload + TCP payload, headers excluded), for
//!   `quic` the QUIC packets from quinn's connection statistics (headers, acknowledgements,
//!   TLS and handshakes included; [`QuicTransport::wire_stats`]).
//!
//! `--quic-idle SECS` changes the QUIC idle timeout (30 s by default); the steady line also
//! reports how many QUIC connections each node dialled per minute (re-dials after idle
//! closes cost a full TLS handshake each).
//!
//! ```text
//! cargo run --release -p memberlist-quic --example cluster_cost -- --transport quic
//! cargo run --release -p memberlist-quic --example cluster_cost -- --transport net --nodes 50 --window 60
//! ```
//!
//! The `join` line also sums, for QUIC, the packets the transport dropped or quinn declared
//! lost and the failed handshakes, and for both transports the suspicions accepted, the
//! refutations and the packets the runtime could not send.
//!
//! One `result` line at the end is meant for scripts (key=value pairs). Linux only (reads
//! `/proc/self/stat`; assumes the usual 100 clock ticks per second).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use memberlist::runtime::{Config, Memberlist};
use memberlist::testing::Intercept;
use memberlist_core::machine::State;
use memberlist_net::NetTransport;
use memberlist_quic::{DevCa, QuicConfig, QuicTransport, Transport};
use tokio::time::Instant;

type DynError = Box<dyn Error + Send + Sync>;

/// Clock ticks per second of `/proc/self/stat` (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// What the benchmark needs from a node, whatever its transport.
trait Probe: Send + Sync {
    fn addr(&self) -> SocketAddr;
    fn alive(&self) -> usize;
    /// (payload bytes sent, wire bytes sent)
    fn sent(&self) -> (u64, u64);
    /// QUIC connections this node dialled so far (0 for UDP/TCP).
    fn dials(&self) -> u64;
    /// (packets dropped by the transport or lost on the way, failed handshakes) so far (0 for
    /// UDP/TCP).
    fn losses(&self) -> (u64, u64);
    /// The runtime's (suspicions accepted, refutations, transmits dropped or refused) so far.
    fn protocol(&self) -> (u64, u64, u64);
    fn join(&self, seed: String) -> JoinFuture;
}

type JoinFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Joins `node` to `seed`.
fn join_future<T: Transport>(node: &Memberlist<T>, seed: String) -> JoinFuture {
    let node = node.clone();
    Box::pin(async move {
        node.join([seed.as_str()])
            .await
            .map(|_| ())
            .map_err(|e| format!("{} cannot join {seed}: {e}", node.name()))
    })
}

/// Nodes over the test kit's `Intercept`, which counts the bytes each hands to its transport:
/// datagrams and stream writes.
struct NetNode(Memberlist<Intercept<NetTransport>>);
struct QuicNode(Memberlist<Intercept<QuicTransport>>);

impl Probe for NetNode {
    fn addr(&self) -> SocketAddr {
        self.0.advertise_addr()
    }
    fn alive(&self) -> usize {
        self.0.count_in_state(State::Alive)
    }
    fn sent(&self) -> (u64, u64) {
        let p = self.0.transport().traffic().bytes_sent();
        (p, p)
    }
    fn dials(&self) -> u64 {
        0
    }
    fn losses(&self) -> (u64, u64) {
        (0, 0)
    }
    fn protocol(&self) -> (u64, u64, u64) {
        let s = self.0.stats();
        (
            s.protocol.suspect,
            s.protocol.refutations,
            s.transmits_dropped + s.transmit_errors,
        )
    }
    fn join(&self, seed: String) -> JoinFuture {
        join_future(&self.0, seed)
    }
}

impl Probe for QuicNode {
    fn addr(&self) -> SocketAddr {
        self.0.advertise_addr()
    }
    fn alive(&self) -> usize {
        self.0.count_in_state(State::Alive)
    }
    fn sent(&self) -> (u64, u64) {
        let p = self.0.transport().traffic().bytes_sent();
        (p, self.0.transport().inner().wire_stats().udp_bytes_sent)
    }
    fn dials(&self) -> u64 {
        self.0.transport().inner().stats().connections_dialed
    }
    fn losses(&self) -> (u64, u64) {
        let s = self.0.transport().inner().stats();
        (
            s.datagrams_dropped + self.0.transport().inner().wire_stats().lost_packets,
            s.handshake_failures.total(),
        )
    }
    fn protocol(&self) -> (u64, u64, u64) {
        let s = self.0.stats();
        (
            s.protocol.suspect,
            s.protocol.refutations,
            s.transmits_dropped + s.transmit_errors,
        )
    }
    fn join(&self, seed: String) -> JoinFuture {
        join_future(&self.0, seed)
    }
}

struct Args {
    transport: String,
    nodes: usize,
    window: Duration,
    settle: Duration,
    idle: Option<Duration>,
}

fn parse_args() -> Result<Args, DynError> {
    let mut args = Args {
        transport: "quic".into(),
        nodes: 50,
        window: Duration::from_secs(60),
        settle: Duration::from_secs(5),
        idle: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--transport" if value == "net" || value == "quic" => args.transport = value,
            "--nodes" => args.nodes = value.parse()?,
            "--window" => args.window = Duration::from_secs(value.parse()?),
            "--settle" => args.settle = Duration::from_secs(value.parse()?),
            "--quic-idle" => args.idle = Some(Duration::from_secs(value.parse()?)),
            _ => return Err(format!("unknown option {flag} {value} (--transport net|quic, --nodes N, --window SECS, --settle SECS, --quic-idle SECS)").into()),
        }
    }
    if args.nodes < 2 {
        return Err("--nodes must be at least 2".into());
    }
    Ok(args)
}

/// The process's CPU time so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Result<Duration, DynError> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat
        .rsplit_once(") ")
        .ok_or("unexpected /proc/self/stat")?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11).ok_or("no utime")?.parse::<u64>()?
        + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
    Ok(Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND))
}

async fn start(args: &Args) -> Result<Vec<Arc<dyn Probe>>, DynError> {
    let ca = DevCa::new("cluster_cost")?;
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut nodes: Vec<Arc<dyn Probe>> = Vec::with_capacity(args.nodes);
    for i in 0..args.nodes {
        let name = format!("node-{i:02}");
        let config = Config::lan(name.as_str());
        if args.transport == "quic" {
            let mut quic = QuicConfig::new(bind, ca.node_tls(&name)?);
            if let Some(idle) = args.idle {
                quic = quic.with_idle_timeout(idle);
            }
            let inner = QuicTransport::bind(quic).await?;
            let node = Memberlist::builder(config)
                .transport(Intercept::new(inner))
                .start()
                .await?;
            nodes.push(Arc::new(QuicNode(node)));
        } else {
            let inner = NetTransport::bind(bind).await?;
            let node = Memberlist::builder(config)
                .transport(Intercept::new(inner))
                .start()
                .await?;
            nodes.push(Arc::new(NetNode(node)));
        }
    }
    Ok(nodes)
}

/// The sum of every node's (payload, wire) bytes sent.
fn total_dials(nodes: &[Arc<dyn Probe>]) -> u64 {
    nodes.iter().map(|n| n.dials()).sum()
}

fn total_sent(nodes: &[Arc<dyn Probe>]) -> (u64, u64) {
    nodes
        .iter()
        .map(|n| n.sent())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

async fn run(
    args: Args,
    joiners: Vec<tokio::task::JoinHandle<Result<(), String>>>,
    nodes: Vec<Arc<dyn Probe>>,
    began: Instant,
) -> Result<(), DynError> {
    let n = nodes.len();
    let deadline = began + Duration::from_secs(120);
    let converged = loop {
        if nodes.iter().all(|node| node.alive() == n) {
            break began.elapsed();
        }
        if Instant::now() > deadline {
            let worst = nodes.iter().map(|node| node.alive()).min().unwrap_or(0);
            return Err(format!(
                "not converged after 120 s: the worst node sees {worst}/{n} alive"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for joiner in joiners {
        joiner.await??;
    }
    let (dropped, failed) = nodes
        .iter()
        .map(|node| node.losses())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let (suspicions, refutations, unsent) = nodes
        .iter()
        .map(|node| node.protocol())
        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    println!(
        "join: all {n} nodes see {n} alive {:.3} s after the joins began (QUIC packets \
         dropped or lost so far: {dropped}, failed handshakes: {failed}; suspicions accepted: \
         {suspicions}, refutations: {refutations}, packets the runtime could not send: \
         {unsent})",
        converged.as_secs_f64()
    );

    tokio::time::sleep(args.settle).await;
    let (cpu0, sent0, dials0, t0) = (
        cpu_time()?,
        total_sent(&nodes),
        total_dials(&nodes),
        Instant::now(),
    );
    tokio::time::sleep(args.window).await;
    let (cpu1, sent1, dials1, elapsed) = (
        cpu_time()?,
        total_sent(&nodes),
        total_dials(&nodes),
        t0.elapsed(),
    );
    let secs = elapsed.as_secs_f64();
    let per_node = |x: f64| x / n as f64 / secs;
    let cpu = (cpu1 - cpu0).as_secs_f64();
    let cpu_ms = per_node(cpu * 1000.0);
    let payload = per_node((sent1.0 - sent0.0) as f64);
    let wire = per_node((sent1.1 - sent0.1) as f64);
    let dials_per_min = per_node((dials1 - dials0) as f64) * 60.0;
    let worst = nodes.iter().map(|node| node.alive()).min().unwrap_or(0);
    println!(
        "steady {secs:.1} s: process CPU {:.1}% of one core; per node per second: {cpu_ms:.3} ms CPU, {payload:.0} B payload sent, {wire:.0} B on the wire sent; {dials_per_min:.1} QUIC dials per node per minute; worst node sees {worst}/{n} alive",
        cpu / secs * 100.0
    );
    println!(
        "result transport={} nodes={n} join_s={:.3} window_s={secs:.1} cpu_pct={:.1} cpu_ms_per_node_s={cpu_ms:.3} payload_bps_per_node={payload:.0} wire_bps_per_node={wire:.0} dials_per_node_min={dials_per_min:.1} worst_alive={worst}",
        args.transport,
        converged.as_secs_f64(),
        cpu / secs * 100.0
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), DynError> {
    let args = parse_args()?;
    eprintln!(
        "starting {} {} nodes (LAN preset) on 127.0.0.1",
        args.nodes, args.transport
    );
    let nodes = start(&args).await?;
    let seed = nodes.first().ok_or("no nodes")?.addr().to_string();
    let began = Instant::now();
    // Every node but the seed joins at once, through the seed.
    let joiners = nodes[1..]
        .iter()
        .map(|node| {
            let (node, seed) = (node.clone(), seed.clone());
            tokio::spawn(async move { join(node, seed).await })
        })
        .collect();
    run(args, joiners, nodes, began).await
}

async fn join(node: Arc<dyn Probe>, seed: String) -> Result<(), String> {
    node.join(seed).await
}
